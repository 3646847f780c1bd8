"""What the selection, teams and audit pages show (templates/selection.html, teams.html,
audit.html), as plain values read from the workflow's own records.

Nothing here decides or changes anything: rankings, overrides, confirm, apply, rollback, teams and
moves are hub/selection.py's, called by the JSON API the pages' script sends to. Before a step
that moves people the pages show what it will do by running that same workflow function in a
transaction that is rolled back (`dry_run`): the trainees it would move, the audit entry it would
write, the labs their next server start would bring, the team rules a move would break. So the
preview can never disagree with what the step then does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from . import selection as workflow
from .core import charts
from .core.audit_view import AuditFilter, paging
from .core.curriculum import Curriculum
from .core.policy import Placement, spawn_plan
from .nbview import text as cut_text
from .store import audit as audit_store
from .store import repo
from .store import selection as db
from .store.models import AuditEntry, Member, Selection

STEPS = ("confirm", "apply", "rollback")
PARTS = ("raw", "penalty", "percent", "normalised", "weight", "contribution")
DETAILS_CHARS = 4000  # of an audit entry's details on a page (the log keeps everything)
PLAN_REASON = "(preview of the step, not carried out)"
T = TypeVar("T")


def _named(stage: Any) -> dict[str, Any]:
    return {"id": stage.id, "name": {"ko": stage.name.ko, "en": stage.name.en}}


def transitions(curriculum: Curriculum) -> list[dict[str, Any]]:
    """The stage transitions that have a selection policy: {stage, source} as {id, name}."""
    out = []
    for st in curriculum.stages:
        if st.selection is not None:
            source = curriculum.stage(st.selection.source)
            out.append({"stage": _named(st), "source": _named(source)})
    return out


def cohorts(curriculum: Curriculum) -> list[dict[str, Any]]:
    """The curriculum's cohorts as {id, name}."""
    return [_named(c) for c in curriculum.cohorts]


def dry_run(sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """`work(session)` in a transaction that is always rolled back: what a workflow step would do,
    without doing it. `work` returns plain values (ORM rows expire with the rollback)."""
    with sessions() as s:
        try:
            return work(s)
        finally:
            s.rollback()


def _last_entry(s: Session) -> AuditEntry | None:
    return s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()


def entry_view(e: AuditEntry) -> dict[str, Any]:
    """An audit entry as the pages show it (details as indented JSON, cut to DETAILS_CHARS)."""
    details, cut = cut_text(
        json.dumps(e.details, ensure_ascii=False, indent=1, default=str), DETAILS_CHARS
    )
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "reason": e.reason,
        "details": details,
        "details_cut": cut,
        "hash": e.hash,
    }


# --- selection ----------------------------------------------------------------------------------


def _names(s: Session, usernames: Iterable[str]) -> dict[str, str | None]:
    wanted = sorted(set(usernames))
    out: dict[str, str | None] = {}
    for k in range(0, len(wanted), 5000):
        q = select(Member.username, Member.name).where(Member.username.in_(wanted[k : k + 5000]))
        out.update({u: n for u, n in s.execute(q)})
    return out


def _parts(policy: Mapping[str, Any], row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The score breakdown of a stored row: one part per component that applies to the trainee."""
    return [
        {"component": c["id"], "kind": c["kind"]} | {f: row.get(f"{c['id']}:{f}") for f in PARTS}
        for c in policy["components"]
        if row.get(f"{c['id']}:weight") is not None
    ]


def _rows(s: Session, sel: Selection) -> list[dict[str, Any]]:
    rows = workflow.outcome_rows(sel)
    names = _names(s, (r["trainee"] for r in rows))
    return [
        {
            **{k: r[k] for k in ("pool", "rank", "trainee", "track", "total", "eligible")},
            **{k: r[k] for k in ("selected", "basis", "cutoff", "gap", "why", "advances")},
            **{k: r[k] for k in ("override", "override_reason", "override_by")},
            "name": names.get(r["trainee"]),
            "groups": [g for g in str(r["groups"] or "").split("; ") if g],
            "reasons": [x for x in str(r["reasons"] or "").split("; ") if x],
            "parts": _parts(sel.policy, r),
        }
        for r in rows
    ]


def pools(s: Session, sel: Selection) -> list[dict[str, Any]]:
    """Per pool of a selection: its summary, its rows in rank order, where the cutoff line goes
    (after the last trainee selected on merit) and the histogram of its totals."""
    summary = {p["name"]: p for p in workflow.summary(sel)["pools"]}
    by_pool: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(s, sel):
        by_pool.setdefault(row["pool"], []).append(row)
    out = []
    for p in sel.pools:
        rows = sorted(by_pool.get(p["name"], []), key=lambda r: r["rank"])
        merit = [i for i, r in enumerate(rows) if r["basis"] == "merit"]
        out.append(
            {
                **summary[p["name"]],
                "reserved": [
                    {"group": g, "seats": n, "met": met} for g, n, met in p.get("reserved", [])
                ],
                "rows": rows,
                "cut_after": merit[-1] if merit and p["cutoff"] is not None else None,
                "histogram": charts.histogram(
                    [float(r["total"]) for r in rows],
                    [bool(r["advances"]) for r in rows],
                    p["cutoff"],
                ),
            }
        )
    return out


def policy_view(policy: Mapping[str, Any]) -> dict[str, Any]:
    """A stored or current policy (`SelectionPolicy.as_dict()`) for the page."""
    cap = policy["capacity"]
    return {
        **policy,
        "reserved": [{"attribute": a, "value": v, "seats": n} for a, v, n in policy["reserved"]],
        "capacity": {**cap, "overrides": sorted(cap.get("overrides", {}).items())},
    }


def selection_page(
    s: Session,
    curriculum: Curriculum,
    cohort: str,
    stage: str,
    selection_id: int | None = None,
) -> dict[str, Any]:
    """The page of one transition into `stage` for `cohort`: the policy, the selections made
    (newest first), and the one shown (`selection_id`, else the newest) with its pools, its
    ineligible trainees, overrides and audit trail."""
    co = db.cohort_row(s, cohort)
    policy = workflow.policy_for(curriculum, stage)
    history = db.selections(s, cohort, stage, limit=50)
    sel = None
    if selection_id is not None:
        sel = db.selection(s, selection_id)
        if sel.cohort_id != co.id or sel.stage != stage:
            raise repo.NotFound(
                f"selection {selection_id} is not one of {cohort} into {stage} "
                f"/ {cohort}의 {stage} 선발이 아닙니다"
            )
    elif history:
        sel = db.selection(s, history[0].id)
    view: dict[str, Any] = {
        "cohort": {"id": co.slug, "name": {"ko": co.name_ko, "en": co.name_en}},
        "zone": co.timezone,
        "stage": _named(curriculum.stage(stage)),
        "source": _named(curriculum.stage(policy.source)),
        "policy": policy_view(sel.policy if sel else policy.as_dict()),
        "policy_changed": sel is not None and sel.policy != policy.as_dict(),
        "history": [
            {"id": h.id, "status": h.status, "by": h.created_by, "at": h.created_at}
            for h in history
        ],
        "selection": None,
    }
    if sel is None:
        return view
    rows_by_pool = pools(s, sel)
    view["selection"] = workflow.summary(sel)
    view["pools"] = rows_by_pool
    view["ineligible"] = [r for p in rows_by_pool for r in p["rows"] if not r["eligible"]]
    view["trail"] = [entry_view(e) for e in audit_store.decision_trail(s, sel)]
    return view


def index_page(s: Session, curriculum: Curriculum) -> list[dict[str, Any]]:
    """Per cohort and transition: the newest selection (id, status, who, when) or None."""
    out = []
    for c in curriculum.cohorts:
        for t in transitions(curriculum):
            latest = db.selections(s, c.id, t["stage"]["id"], limit=1)
            out.append(
                {
                    "cohort": _named(c),
                    **t,
                    "latest": (
                        {
                            "id": latest[0].id,
                            "status": latest[0].status,
                            "by": latest[0].created_by,
                            "at": latest[0].created_at,
                        }
                        if latest
                        else None
                    ),
                }
            )
    return out


def _labs(curriculum: Curriculum, cohort: str, track: str, stage: str) -> list[str]:
    return [lab.dest for lab in spawn_plan(curriculum, Placement(cohort, track, stage)).labs]


def plan(
    sessions: sessionmaker[Session],
    curriculum: Curriculum,
    selection_id: int,
    step: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """What `step` (confirm, apply, rollback) would do to a selection, from a dry run of the
    workflow's own function: {ok, problem} and, when ok, the trainees it moves (with their track
    and the labs of the stage they land in), those it leaves, and the audit entry it would
    write. Nothing is changed."""
    if step not in STEPS:
        raise repo.Invalid(f"step must be one of {', '.join(STEPS)}")

    def work(s: Session) -> dict[str, Any]:
        kw: dict[str, Any] = {"actor": actor, "now": now}
        before = _last_entry(s)
        sel = db.selection(s, selection_id)
        tracks = {r["trainee"]: r["track"] for r in sel.rows}
        final = workflow.final_advance(sel)
        cohort = sel.cohort.slug
        try:
            if step == "confirm":
                sel, changed = workflow.confirm(s, curriculum, selection_id, **kw)
            elif step == "apply":
                sel, changed = workflow.apply(s, curriculum, selection_id, **kw)
            else:
                sel, changed, _ = workflow.rollback(s, selection_id, reason=PLAN_REASON, **kw)
        except (repo.Invalid, repo.NotFound) as e:
            return {"ok": False, "problem": str(e), "step": step}
        entry = _last_entry(s)
        wrote = entry is not None and (before is None or entry.id != before.id)
        details = dict(entry.details) if wrote and entry is not None else {}
        moves: list[dict[str, Any]] = []
        if step == "apply":
            moves = [{**m, "track": tracks[m["username"]]} for m in details.get("moved", [])]
        elif step == "rollback":
            moves = [
                {"username": u, "from": sel.stage, "to": sel.source, "track": tracks[u]}
                for u in details.get("restored", [])
            ]
        labs: dict[tuple[str, str], list[str]] = {}
        for m in moves:
            key = (m["track"], m["to"])
            labs.setdefault(key, _labs(curriculum, cohort, *key))
        return {
            "ok": True,
            "step": step,
            "changed": changed,
            "advancing": sorted(u for u, yes in final.items() if yes),
            "held": sorted(u for u, yes in final.items() if not yes),
            "moves": moves,
            "already_there": details.get("already_there", []),
            "not_restored": details.get("not_restored", []),
            "labs": [
                {"track": t, "stage": st, "labs": files} for (t, st), files in sorted(labs.items())
            ],
            "entry": (
                {"action": entry.action, "target": entry.target}
                if wrote and entry is not None
                else None
            ),
        }

    return dry_run(sessions, work)


# --- teams --------------------------------------------------------------------------------------


def teams_page(
    s: Session, curriculum: Curriculum, cohort: str, stage: str | None = None
) -> dict[str, Any]:
    """The teams of a cohort's team stage: the policy, each team with its members (skill, track,
    major, name), the trainees of the stage in no team, where the skills come from."""
    stage_id, policy = workflow.team_stage(curriculum, stage)
    co = db.cohort_row(s, cohort)
    rows = db.teams(s, co.id, stage_id)
    enrolled = repo.trainees(s, cohort=cohort, stage=stage_id)
    names = {e.member.username: e.member.name for e in enrolled}
    names |= _names(
        s, (m["username"] for t in rows for m in t.members if m["username"] not in names)
    )
    placed = {m["username"] for t in rows for m in t.members}
    applied = db.latest_for(s, co.id, ["applied"], stage_id)
    teams = []
    for t in rows:
        members = [{**m, "name": names.get(m["username"])} for m in t.members]
        mean = sum(float(m["skill"]) for m in members) / len(members) if members else 0.0
        teams.append(
            {
                "name": t.name,
                "number": t.number,
                "members": members,
                "mean": round(mean, 6),
                "explanation": t.explanation,
                "seed": t.seed,
                "by": t.created_by,
                "at": t.created_at,
            }
        )
    return {
        "cohort": {"id": co.slug, "name": {"ko": co.name_ko, "en": co.name_en}},
        "zone": co.timezone,
        "stage": _named(curriculum.stage(stage_id)),
        "stages": [_named(st) for st in curriculum.stages if st.teams is not None],
        "policy": {
            "size": policy.size,
            "skill": policy.skill,
            "max_same": list(policy.max_same),
            "seed": policy.seed,
        },
        "teams": teams,
        "in_stage": len(enrolled),
        "unplaced": sorted(
            (
                {"username": e.member.username, "name": e.member.name, "track": e.track.slug}
                for e in enrolled
                if e.member.username not in placed
            ),
            key=lambda m: m["username"],
        ),
        "skills_from": {"id": applied.id} if applied else None,
    }


def _team_warning(text: str, teams: tuple[str, ...]) -> dict[str, str | None]:
    """A rule warning (`TEAM: 한국어 / English`) as {team, text}: the team named once, so each
    language's half of the text can be shown with it."""
    for name in teams:
        if text.startswith(f"{name}: "):
            return {"team": name, "text": text.removeprefix(f"{name}: ")}
    return {"team": None, "text": text}


def move_plan(
    sessions: sessionmaker[Session],
    curriculum: Curriculum,
    cohort: str,
    username: str,
    team: str,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """What moving `username` into `team` would do, from a dry run of workflow.move_to_team:
    {ok, problem} or the teams it leaves and joins with their members after the move and the
    team rules the move would break (warnings, Korean / English). Nothing is changed."""

    def work(s: Session) -> dict[str, Any]:
        e = repo.active_enrollment(repo.member(s, username))
        if e is None or e.cohort.slug != cohort:
            return {"ok": False, "problem": f"{username} is not a trainee of {cohort!r}"}
        try:
            old, new, warnings = workflow.move_to_team(
                s, curriculum, username, team, reason=PLAN_REASON, actor=actor, now=now
            )
        except (repo.Invalid, repo.NotFound) as err:
            return {"ok": False, "problem": str(err)}
        return {
            "ok": True,
            "username": username,
            "from": {"name": old.name, "number": old.number, "size": len(old.members)},
            "to": {"name": new.name, "number": new.number, "size": len(new.members)},
            "to_members": [dict(m) for m in new.members],
            "warnings": [_team_warning(w, (old.name, new.name)) for w in warnings],
        }

    try:
        return dry_run(sessions, work)
    except repo.NotFound as err:
        return {"ok": False, "problem": str(err)}


# --- audit --------------------------------------------------------------------------------------


def audit_page(
    s: Session, f: AuditFilter, page: str | None, size: str | None, now: datetime
) -> dict[str, Any]:
    """One page of the audit log under a filter, with the chain's state (verified from the
    checkpoint: only entries appended since the last check are re-hashed)."""
    chain = audit_store.verify(s, now)
    total = audit_store.count(s, f)
    pg = paging(total, page, size)
    entries = audit_store.search(s, f, pg.offset, pg.size)
    actions = audit_store.actions(s)
    return {
        "chain": chain,
        "paging": pg,
        "entries": [entry_view(e) for e in entries],
        "actions": actions,
        "action_groups": sorted({a.split(".")[0] + ".*" for a in actions if "." in a}),
        "actors": audit_store.actors(s),
    }
