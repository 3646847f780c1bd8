"""The stage selection workflow: preview -> overrides -> confirm -> apply (-> rollback), the
participation inputs selection weighs, the project stage's teams, and what trainees see.

Thin on purpose: it gathers inputs from the database (store/selection.py), calls the pure core
(core/selection.py, core/teams.py), stores the outcome and audits every step.
1. `preview` ranks the trainees of a cohort at the stage before `stage` under the stage's
   `selection:` policy (labs/curriculum.yaml) and stores the decision (rows, pools, inputs hash).
2. `override`: an instructor or admin advances a trainee the ranking did not select, or holds one
   it did, always with a reason; the latest override per trainee counts.
3. `confirm` (admins) freezes it; `apply` (admins) moves the advancing trainees into `stage`
   through repo.move_stage and writes one audit entry with the policy, the inputs hash and every
   decision. Both first check that the inputs are still those of the preview. Applying again
   changes nothing.
4. `rollback` moves exactly the trainees the selection moved back, if they are still in `stage`.
Every function takes a Session; the caller commits (so a failure leaves nothing half-written).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .core import selection as core
from .core import teams as core_teams
from .core.audit import naive_utc
from .core.curriculum import Curriculum
from .core.membership import team_group
from .core.roster import decode
from .core.yamlsrc import InputError, Problem
from .store import repo
from .store import selection as db
from .store.models import Selection, SelectionOverride, Team

ACTIONS = ("advance", "hold")
# what trainees may see: decisions an admin confirmed (a preview may still change; a rolled-back
# decision no longer stands)
VISIBLE = ("confirmed", "applied")
INPUT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
USERNAME_HEADERS = ("username", "id", "user", "아이디", "사용자명", "계정")
VALUE_HEADERS = ("value", "값")


def policy_for(curriculum: Curriculum, stage: str) -> core.SelectionPolicy:
    """The selection policy into `stage` (NotFound / Invalid when there is none)."""
    try:
        policy = curriculum.stage(stage).selection
    except KeyError:
        known = ", ".join(s.id for s in curriculum.stages)
        raise repo.NotFound(f"no stage {stage!r} (stages: {known})") from None
    if policy is None:
        with_one = ", ".join(s.id for s in curriculum.stages if s.selection) or "none"
        raise repo.Invalid(
            f"stage {stage!r} has no selection: block in the curriculum (stages with one: "
            f"{with_one}) / 선발 규칙이 없는 단계입니다"
        )
    return policy


def _decide(
    s: Session, curriculum: Curriculum, cohort: str, stage: str
) -> tuple[core.SelectionPolicy, db.Gathered, core.Decision]:
    policy = policy_for(curriculum, stage)
    gathered = db.candidates(s, cohort, policy)
    if not len(gathered.sheet):
        raise repo.Invalid(
            f"no trainee of cohort {cohort!r} is in stage {policy.source!r}: nobody to select "
            f"/ {policy.source} 단계의 교육생이 없습니다"
        )
    try:
        decision = core.select(policy, gathered.sheet)
    except core.SelectionError as e:
        raise repo.Invalid("selection impossible / 선발 불가:\n" + "\n".join(e.problems)) from None
    return policy, gathered, decision


def preview(
    s: Session, curriculum: Curriculum, cohort: str, stage: str, *, actor: str, now: datetime
) -> Selection:
    """Rank and store a new selection (status preview); audited. Nobody moves yet."""
    policy, gathered, decision = _decide(s, curriculum, cohort, stage)
    sel = Selection(
        cohort_id=db.cohort_row(s, cohort).id,
        stage=stage,
        source=policy.source,
        status="preview",
        policy=policy.as_dict(),
        inputs_hash=decision.inputs_hash,
        rows=core.decision_rows(decision),
        pools=[asdict(p) for p in decision.pools],
        warnings=gathered.warnings,
        created_by=actor,
        created_at=naive_utc(now),
        moved=[],
    )
    s.add(sel)
    s.flush()
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="selection.preview",
        target=f"selection:{sel.id}",
        details={
            "cohort": cohort,
            "stage": stage,
            "source": policy.source,
            "inputs_hash": decision.inputs_hash,
            "candidates": len(decision.outcomes),
            "selected": len(decision.selected),
            "warnings": gathered.warnings,
        },
    )
    return sel


def final_advance(sel: Selection) -> dict[str, bool]:
    """Per trainee: do they advance, the ranking's choice with the overrides in force."""
    overrides = db.effective_overrides(sel)
    out = {}
    for row in sel.rows:
        o = overrides.get(row["trainee"])
        out[row["trainee"]] = bool(row["selected"]) if o is None else o.action == "advance"
    return out


def outcome_rows(sel: Selection) -> list[dict[str, Any]]:
    """decision_rows plus the override in force (action, reason, by) and `advances`, the final
    outcome: what exports show and what `apply` carries out."""
    overrides = db.effective_overrides(sel)
    final = final_advance(sel)
    out = []
    for row in sel.rows:
        o = overrides.get(row["trainee"])
        out.append(
            {
                **row,
                "override": o.action if o else None,
                "override_reason": o.reason if o else None,
                "override_by": o.by if o else None,
                "advances": final[row["trainee"]],
            }
        )
    return out


def summary(sel: Selection) -> dict[str, Any]:
    """A JSON-ready summary: status with who and when, pools (with the final count advancing),
    warnings, overrides and, once applied, who moved."""
    final = final_advance(sel)
    advancing: dict[str, int] = {}
    for row in sel.rows:
        advancing[row["pool"]] = advancing.get(row["pool"], 0) + final[row["trainee"]]
    return {
        "id": sel.id,
        "cohort": sel.cohort.slug,
        "stage": sel.stage,
        "source": sel.source,
        "status": sel.status,
        "inputs_hash": sel.inputs_hash,
        "created": {"by": sel.created_by, "at": sel.created_at},
        "confirmed": {"by": sel.confirmed_by, "at": sel.confirmed_at} if sel.confirmed_by else None,
        "applied": {"by": sel.applied_by, "at": sel.applied_at} if sel.applied_by else None,
        "rolled_back": (
            {"by": sel.rolled_back_by, "at": sel.rolled_back_at, "reason": sel.rollback_reason}
            if sel.rolled_back_by
            else None
        ),
        "candidates": len(sel.rows),
        "advancing": sum(final.values()),
        "pools": [{**p, "advancing": advancing.get(p["name"], 0)} for p in sel.pools],
        "warnings": sel.warnings,
        "overrides": [
            {"username": o.username, "action": o.action, "reason": o.reason, "by": o.by, "at": o.at}
            for o in sel.overrides
        ],
        "moved": sel.moved,
    }


def override(
    s: Session,
    selection_id: int,
    username: str,
    action: str,
    reason: str,
    *,
    actor: str,
    now: datetime,
) -> SelectionOverride:
    """Advance or hold one trainee of a preview, with a reason (required); audited."""
    if action not in ACTIONS:
        raise repo.Invalid(f"action must be advance or hold, not {action!r}")
    if not reason.strip():
        raise repo.Invalid("a reason is required / 사유를 입력하세요")
    sel = db.selection(s, selection_id, lock=True)
    if sel.status != "preview":
        raise repo.Invalid(
            f"selection {sel.id} is {sel.status}: overrides are only possible on a preview "
            "(make a new preview) / 미리보기 단계에서만 조정할 수 있습니다"
        )
    row = next((r for r in sel.rows if r["trainee"] == username), None)
    if row is None:
        raise repo.NotFound(f"{username} is not a candidate of selection {sel.id}")
    if final_advance(sel)[username] == (action == "advance"):
        state = "advances" if action == "advance" else "is held"
        raise repo.Invalid(f"{username} already {state} in selection {sel.id}: nothing to change")
    o = SelectionOverride(
        selection_id=sel.id,
        username=username,
        action=action,
        reason=reason.strip(),
        by=actor,
        at=naive_utc(now),
    )
    s.add(o)
    sel.overrides.append(o)
    s.flush()
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="selection.override",
        target=f"user:{username}",
        details={
            "selection": sel.id,
            "action": action,
            "rank": row["rank"],
            "pool": row["pool"],
            "selected_by_ranking": row["selected"],
        },
        reason=reason.strip(),
    )
    return o


def _recheck(s: Session, curriculum: Curriculum, sel: Selection) -> None:
    """Invalid unless the policy and inputs are still those the preview ranked."""
    policy, _, decision = _decide(s, curriculum, sel.cohort.slug, sel.stage)
    if policy.as_dict() != sel.policy:
        raise repo.Invalid(
            f"the selection policy of {sel.stage!r} changed since selection {sel.id} was made: "
            "make a new preview / 선발 규칙이 바뀌었습니다. 다시 미리보기를 만드세요"
        )
    if decision.inputs_hash != sel.inputs_hash:
        raise repo.Invalid(
            f"grades, inputs or enrollments changed since selection {sel.id} was made (inputs "
            f"hash {sel.inputs_hash[:12]} -> {decision.inputs_hash[:12]}): make a new preview "
            "/ 입력 자료가 바뀌었습니다. 다시 미리보기를 만드세요"
        )


def confirm(
    s: Session, curriculum: Curriculum, selection_id: int, *, actor: str, now: datetime
) -> tuple[Selection, bool]:
    """Freeze a preview (admins); (selection, changed). Audited."""
    sel = db.selection(s, selection_id, lock=True)
    if sel.status in ("confirmed", "applied"):
        return sel, False
    if sel.status != "preview":
        raise repo.Invalid(f"selection {sel.id} is {sel.status}; make a new preview")
    _recheck(s, curriculum, sel)
    sel.status, sel.confirmed_by, sel.confirmed_at = "confirmed", actor, naive_utc(now)
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="selection.confirm",
        target=f"selection:{sel.id}",
        details={"inputs_hash": sel.inputs_hash, "advancing": sum(final_advance(sel).values())},
    )
    return sel, True


def apply(
    s: Session, curriculum: Curriculum, selection_id: int, *, actor: str, now: datetime
) -> tuple[Selection, bool]:
    """Move the advancing trainees into the stage (admins); (selection, changed). One audit entry
    with the policy snapshot, the inputs hash and every decision; applying again is a no-op."""
    sel = db.selection(s, selection_id, lock=True)
    if sel.status == "applied":
        return sel, False
    if sel.status != "confirmed":
        raise repo.Invalid(
            f"selection {sel.id} is {sel.status}: "
            + ("an admin confirms it first" if sel.status == "preview" else "make a new preview")
            + " / 확정된 선발만 적용할 수 있습니다"
        )
    other = db.latest_for(s, sel.cohort_id, ["applied"], sel.stage)
    if other is not None:
        raise repo.Invalid(
            f"selection {other.id} into {sel.stage!r} is applied already; roll it back first"
        )
    _recheck(s, curriculum, sel)
    overrides = db.effective_overrides(sel)
    final = final_advance(sel)
    moved: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    decisions: list[dict[str, Any]] = []
    for row in sel.rows:
        user, o = row["trainee"], overrides.get(row["trainee"])
        decisions.append(
            {
                "trainee": user,
                "advances": final[user],
                "pool": row["pool"],
                "rank": row["rank"],
                "total": row["total"],
                "why": row["why"],
                "override": {"action": o.action, "reason": o.reason, "by": o.by} if o else None,
            }
        )
        if not final[user]:
            continue
        _, changed = repo.move_stage(
            s,
            user,
            sel.stage,
            actor=actor,
            reason=f"선발 #{sel.id} / selection #{sel.id}" + (f": {o.reason}" if o else ""),
            now=now,
        )
        (moved if changed else skipped).append(
            {"username": user, "from": sel.source, "to": sel.stage}
        )
    sel.status, sel.applied_by, sel.applied_at = "applied", actor, naive_utc(now)
    sel.moved = moved
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="selection.apply",
        target=f"selection:{sel.id}",
        details={
            "cohort": sel.cohort.slug,
            "stage": sel.stage,
            "source": sel.source,
            "policy": sel.policy,
            "inputs_hash": sel.inputs_hash,
            "confirmed_by": sel.confirmed_by,
            "decisions": decisions,
            "moved": moved,
            "already_there": skipped,
        },
    )
    return sel, True


def rollback(
    s: Session, selection_id: int, *, reason: str, actor: str, now: datetime
) -> tuple[Selection, bool, list[str]]:
    """Move the trainees the selection moved back to the source stage, where they are still in
    the target stage (admins); (selection, changed, usernames moved back). Audited; rolling back
    again changes nothing."""
    if not reason.strip():
        raise repo.Invalid("a reason is required / 사유를 입력하세요")
    sel = db.selection(s, selection_id, lock=True)
    if sel.status == "rolled-back":
        return sel, False, []
    if sel.status != "applied":
        raise repo.Invalid(f"selection {sel.id} is {sel.status}, not applied: nothing to roll back")
    restored, left = [], []
    for m in sel.moved:
        enrollment = repo.active_enrollment(repo.member(s, m["username"]))
        if enrollment is None or enrollment.stage.slug != m["to"]:
            left.append({**m, "now": enrollment.stage.slug if enrollment else None})
            continue
        repo.move_stage(
            s,
            m["username"],
            m["from"],
            actor=actor,
            reason=f"선발 #{sel.id} 취소 / selection #{sel.id} rolled back: {reason.strip()}",
            now=now,
        )
        restored.append(m["username"])
    sel.status, sel.rolled_back_by, sel.rolled_back_at = "rolled-back", actor, naive_utc(now)
    sel.rollback_reason = reason.strip()
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="selection.rollback",
        target=f"selection:{sel.id}",
        details={"restored": restored, "not_restored": left, "inputs_hash": sel.inputs_hash},
        reason=reason.strip(),
    )
    return sel, True, restored


# --- participation inputs -----------------------------------------------------------------------


def parse_inputs(data: bytes, file: str) -> list[tuple[int, str, float]]:
    """(line, username, value) rows of a participation CSV (columns username/아이디 and value/값;
    others, such as a name, are ignored); UTF-8, UTF-8 with BOM or CP949. InputError lists every
    bad line."""
    text, _ = decode(data, file)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    cols = {}
    for key, aliases in (("username", USERNAME_HEADERS), ("value", VALUE_HEADERS)):
        found = [i for i, h in enumerate(header) if h in aliases]
        if not found:
            raise InputError(
                [Problem(file, 1, key, f"required column missing ({' / '.join(aliases)})")]
            )
        cols[key] = found[0]
    rows: list[tuple[int, str, float]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        user = cells[cols["username"]].strip().lower() if cols["username"] < len(cells) else ""
        raw = cells[cols["value"]].strip() if cols["value"] < len(cells) else ""
        if not user:
            problems.append(Problem(file, line, "username", "missing / 비어 있습니다"))
            continue
        try:
            value = float(raw.removesuffix("%").replace(",", ""))
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            problems.append(Problem(file, line, "value", f"{raw!r} is not a number / 숫자 아님"))
            continue
        if user in seen:
            problems.append(Problem(file, line, "username", f"duplicate (also line {seen[user]})"))
            continue
        seen[user] = line
        rows.append((line, user, value))
    if problems:
        raise InputError(problems)
    if not rows:
        raise InputError([Problem(file, None, "", "no rows / 행이 없습니다")])
    return rows


def import_inputs(
    s: Session, data: bytes, file: str, name: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Store participation values `name` from a CSV: every row or none. Audited when changed."""
    if not INPUT_NAME.match(name):
        raise repo.Invalid(f"input name {name!r}: use a-z, 0-9, _ and - (e.g. attendance)")
    rows = parse_inputs(data, file)
    ids = db.member_ids(s, (u for _, u, _ in rows))
    unknown = [
        Problem(file, ln, "username", f"unknown member {u!r}") for ln, u, _ in rows if u not in ids
    ]
    if unknown:
        raise InputError(unknown)
    created, updated, unchanged = db.store_inputs(
        s, name, {ids[u]: v for _, u, v in rows}, source=file, actor=actor, at=naive_utc(now)
    )
    report = {
        "name": name,
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": len(rows),
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
    }
    if created or updated:
        repo.append_audit(
            s,
            now=now,
            actor=actor,
            action="selection.inputs",
            target=f"input:{name}",
            details=report,
        )
    return report


# --- teams --------------------------------------------------------------------------------------


def team_stage(
    curriculum: Curriculum, stage: str | None = None
) -> tuple[str, core_teams.TeamPolicy]:
    """The stage that forms teams (`stage`, or the only one with a `teams:` block)."""
    with_teams = [st for st in curriculum.stages if st.teams is not None]
    if stage is not None:
        chosen = [st for st in with_teams if st.id == stage]
    else:
        chosen = with_teams if len(with_teams) == 1 else []
    if not chosen:
        names = ", ".join(st.id for st in with_teams) or "none"
        raise repo.Invalid(f"name a stage with a teams: block in the curriculum ({names})")
    policy = chosen[0].teams
    assert policy is not None
    return chosen[0].id, policy


def _skills(sel: Selection | None, skill: str) -> dict[str, float]:
    """Trainee -> skill from an applied selection's stored rows, as teams.members_from_decision
    computes it from a Decision ("assessments": weighted mean of the normalised assessment
    scores, else the total)."""
    if sel is None:
        return {}
    comps = [c for c in sel.policy["components"] if c["kind"] == "assessment"]
    out = {}
    for row in sel.rows:
        value = row["total"]
        parts = [c for c in comps if row.get(f"{c['id']}:weight") is not None]
        weight = sum(row[f"{c['id']}:weight"] for c in parts)
        if skill == "assessments" and weight > 0:
            value = round(
                sum(row[f"{c['id']}:weight"] * row[f"{c['id']}:normalised"] for c in parts)
                / weight,
                6,
            )
        out[row["trainee"]] = float(value)
    return out


def form_teams(
    s: Session,
    curriculum: Curriculum,
    cohort: str,
    *,
    seed: int | None,
    actor: str,
    now: datetime,
    stage: str | None = None,
) -> tuple[list[Team], core_teams.Teams, list[str]]:
    """Form the teams of the trainees now in the team stage (replacing the cohort's teams there);
    (teams, the core's result, notes). Skills come from the applied selection into the stage;
    trainees it did not rank get the mean skill. Deterministic for a seed. Audited."""
    stage_id, policy = team_stage(curriculum, stage)
    if seed is not None:
        policy = replace(policy, seed=seed)
    co = db.cohort_row(s, cohort)
    enrolled = repo.trainees(s, cohort=cohort, stage=stage_id)
    if not enrolled:
        raise repo.Invalid(f"no trainee of {cohort!r} is in stage {stage_id!r}: no teams to form")
    sel = db.latest_for(s, co.id, ["applied"], stage_id)
    skills = _skills(sel, policy.skill)
    notes = []
    if sel is None:
        notes.append(f"no applied selection into {stage_id!r}: every skill is equal")
    unranked = sorted(e.member.username for e in enrolled if e.member.username not in skills)
    mean = sum(skills.values()) / len(skills) if skills else 0.0
    if unranked and sel is not None:
        notes.append(
            f"not ranked by selection {sel.id}, given the mean skill: {', '.join(unranked)}"
        )
    members = []
    for e in enrolled:
        attributes = {"track": e.track.slug, "cohort": cohort}
        major = db.normalise_major(e.member.major)
        if major is not None:
            attributes["major"] = major
        user = e.member.username
        members.append(core_teams.TeamMember(user, skills.get(user, round(mean, 6)), attributes))
    try:
        result = core_teams.form_teams(policy, members)
    except core_teams.TeamError as e:
        raise repo.Invalid(f"teams impossible / 팀 구성 불가: {e}") from None
    rows = [
        Team(
            cohort_id=co.id,
            stage=stage_id,
            number=t.number,
            name=team_group(cohort, t.number),
            members=[
                {
                    "username": m.trainee,
                    "skill": m.skill,
                    "track": m.attributes.get("track"),
                    "major": m.attributes.get("major"),
                }
                for m in t.members
            ],
            explanation=t.explanation,
            seed=policy.seed,
            created_by=actor,
            created_at=naive_utc(now),
        )
        for t in result.teams
    ]
    db.replace_teams(s, co.id, stage_id, rows)
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="teams.form",
        target=f"cohort:{cohort}",
        details={
            "stage": stage_id,
            "seed": policy.seed,
            "skills_from": sel.id if sel else None,
            "explanation": result.explanation,
            "teams": {r.name: [m["username"] for m in r.members] for r in rows},
            "notes": notes,
        },
    )
    return rows, result, notes


def move_to_team(
    s: Session,
    curriculum: Curriculum,
    username: str,
    team: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> tuple[Team, Team, list[str]]:
    """Move a trainee into another team of their cohort's stage (`team`: its number or hub
    group); (from, to, warnings). Audited with the reason and the warnings.

    An admin's move may break the stage's team policy (sizes, `max_same`): it is made, and each
    rule it breaks comes back as a warning (Korean / English). A move that would leave a team
    with nobody is refused.
    """
    if not reason.strip():
        raise repo.Invalid("a reason is required / 사유를 입력하세요")
    e = repo.active_enrollment(repo.member(s, username))
    if e is None:
        raise repo.Invalid(f"{username} has no active enrollment")
    rows = db.teams(s, e.cohort_id, e.stage.slug)
    source = next((t for t in rows if any(m["username"] == username for m in t.members)), None)
    if source is None:
        raise repo.Invalid(f"{username} is in no team of {e.cohort.slug} / {e.stage.slug}")
    target = next((t for t in rows if team in (t.name, str(t.number), f"{t.number:02d}")), None)
    if target is None:
        raise repo.NotFound(f"no team {team!r} (teams: {', '.join(t.name for t in rows)})")
    if target.id == source.id:
        raise repo.Invalid(f"{username} is in {target.name} already: nothing to change")
    if len(source.members) == 1:
        raise repo.Invalid(
            f"{username} is the last member of {source.name}: form the teams again instead / "
            "팀의 마지막 팀원은 옮길 수 없습니다"
        )
    person = next(m for m in source.members if m["username"] == username)
    source.members = [m for m in source.members if m["username"] != username]
    target.members = [*target.members, person]
    warnings = _team_warnings(curriculum, e.stage.slug, source, target)
    for t in (source, target):
        base, n = t.explanation.split(" (수동 변경")[0], len(t.members)
        t.explanation = f"{base} (수동 변경 후 {n}명 / {n} members after manual moves)"
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action="teams.move",
        target=f"user:{username}",
        details={
            "cohort": e.cohort.slug,
            "from": source.name,
            "to": target.name,
            "warnings": warnings,
        },
        reason=reason.strip(),
    )
    s.flush()
    return source, target, warnings


def _team_warnings(curriculum: Curriculum, stage: str, *teams: Team) -> list[str]:
    """The team policy's rules that `teams` break: sizes outside size +- 1, more than
    `max_same` members sharing a value (attributes as stored with the members)."""
    try:
        _, policy = team_stage(curriculum, stage)
    except repo.Invalid:
        return []
    out = []
    for t in teams:
        n = len(t.members)
        if not policy.size - 1 <= n <= policy.size + 1:
            out.append(
                f"{t.name}: {n}명, 팀 크기 {policy.size}±1 밖 / {n} members, outside the team "
                f"size {policy.size} +- 1"
            )
        for attribute, most in policy.max_same:
            counts = Counter(m.get(attribute) for m in t.members if m.get(attribute) is not None)
            for value, count in sorted(counts.items()):
                if count > most:
                    out.append(
                        f"{t.name}: {attribute}={value} {count}명 > 최대 {most} / {count} "
                        f"members with {attribute}={value}, more than {most}"
                    )
    return out


def team_rows(teams: Sequence[Team]) -> list[dict[str, Any]]:
    """One row per team member (exports)."""
    return [
        {
            "team": t.name,
            "number": t.number,
            "stage": t.stage,
            "username": m["username"],
            "skill": m["skill"],
            "track": m["track"],
            "major": m["major"],
            "seed": t.seed,
            "explanation": t.explanation,
        }
        for t in teams
        for m in t.members
    ]


# --- exports ------------------------------------------------------------------------------------


def export_bytes(rows: Sequence[Mapping[str, Any]], fmt: str, sheet: str) -> bytes:
    """Rows as CSV (UTF-8 with BOM, for Excel) or XLSX bytes; columns in the rows' key order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if fmt == "xlsx":
        from openpyxl import Workbook  # type: ignore[import-untyped]

        wb = Workbook()
        ws = wb.active
        ws.title = sheet[:31]
        ws.append(columns)
        for row in rows:
            ws.append([_cell(row.get(k)) for k in columns])
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    text = io.StringIO()
    w = csv.DictWriter(text, columns, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return text.getvalue().encode("utf-8-sig")


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.replace(tzinfo=None)
    return v if v is None or isinstance(v, str | int | float | bool) else str(v)
