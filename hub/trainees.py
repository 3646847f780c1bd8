"""The staff's trainees pages: the table of trainees and one trainee's record (reads), and the
starting and stopping of a trainee's server on a staff member's behalf (audited).

- `listing`: one page of the table for a `core.trainee_list.ListQuery`, within the cohorts the
  caller may see. Filters and the sorts by the database's columns are the database's (a count
  and one page of rows); a filter or sort by server state or last activity reads the matching
  rows' ids in one query, leaves the rest to the pure `arrange`, then reads that page's rows.
  Never a query per row.
- `server_states`: every user's server state and last activity from the service's copy of the
  hub's user list (hubapi.py `HubActivity`, read in the background every few seconds), with
  its age: the table never waits for the hub; None with the reason when nothing could be read
  yet, and the page says so.
- `detail`: a trainee's enrollments and stage history, scores per assessment with links to
  the submissions, the selections that ranked them and the audit entries about them.
- `start_server` / `stop_server`: through the hub API with the service's token, after the
  caller's right to the trainee was checked, with an audit entry naming who asked; the
  trainee's entry in the copy is read again. `one_state`: one trainee's server now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from .core.curriculum import Curriculum
from .core.trainee_list import (
    HUB_SORTS,
    ListQuery,
    Move,
    Paging,
    ServerState,
    arrange,
    may_see,
    stage_history,
)
from .hubapi import HubAPI, Snapshot
from .selection import final_advance
from .store import repo
from .store import selection as selection_store
from .store.models import (
    Assessment,
    AuditEntry,
    Cohort,
    Enrollment,
    Member,
    Result,
    Stage,
    Submission,
    Track,
)


class Forbidden(PermissionError):
    """The caller may not see (or act for) this trainee."""


def _named(slug: str, ko: str, en: str) -> dict[str, Any]:
    return {"id": slug, "name": {"ko": ko, "en": en}}


# --- the hub's server states ------------------------------------------------------------------


async def server_states(hub: HubAPI | None) -> tuple[Snapshot | None, str | None]:
    """(the service's last read of every user's server state and last activity, None) — or
    with why the latest read failed when it is an older one; (None, why) when there is no hub
    or nothing could be read yet (hubapi.py `HubActivity.current`)."""
    if hub is None:
        return None, "no hub API (the service does not run under a hub)"
    return await hub.activity.current()


# --- the table --------------------------------------------------------------------------------


def _filtered(columns: list[Any], query: ListQuery, visible: frozenset[str] | None) -> Select[Any]:
    q = (
        select(*columns)
        .select_from(Enrollment)
        .join(Member, Enrollment.member_id == Member.id)
        .join(Cohort, Enrollment.cohort_id == Cohort.id)
        .join(Track, Enrollment.track_id == Track.id)
        .join(Stage, Enrollment.stage_id == Stage.id)
    )
    if visible is not None:
        q = q.where(Cohort.slug.in_(sorted(visible)))
    if query.status:
        q = q.where(Enrollment.status == query.status)
    if query.cohort:
        q = q.where(Cohort.slug == query.cohort)
    if query.track:
        q = q.where(Track.slug == query.track)
    if query.stage:
        q = q.where(Stage.slug == query.stage)
    if query.search:
        needle = query.search.lower()
        q = q.where(
            or_(
                func.lower(Member.username).contains(needle, autoescape=True),
                func.lower(Member.name).contains(needle, autoescape=True),
            )
        )
    if query.attribute:
        key, value = query.attribute
        attr = Member.attributes[key].as_string()
        q = q.where(attr == value if value else attr.is_not(None))
    return q


def _order(query: ListQuery) -> list[Any]:
    column = {
        "name": Member.name,
        "cohort": Cohort.slug,
        "track": Track.slug,
        "stage": Stage.position,
        "since": Enrollment.updated_at,
    }.get(query.sort if query.sort not in HUB_SORTS else "username")
    keys = [column] if column is not None else []
    keys.append(Member.username)
    keys.append(Enrollment.id)
    return [k.desc() for k in keys] if query.descending and query.sort not in HUB_SORTS else keys


ROW_COLUMNS = [
    Enrollment.id,
    Member.username,
    Member.name,
    Member.attributes,
    Cohort.slug,
    Cohort.name_ko,
    Cohort.name_en,
    Track.slug,
    Track.name_ko,
    Track.name_en,
    Stage.slug,
    Stage.name_ko,
    Stage.name_en,
    Stage.position,
    Enrollment.status,
    Enrollment.updated_at,
]


def _row(r: Any, states: Mapping[str, ServerState] | None) -> dict[str, Any]:
    state = states.get(r[1]) if states is not None else None
    return {
        "id": r[0],
        "username": r[1],
        "name": r[2],
        "attributes": dict(r[3] or {}),
        "cohort": _named(r[4], r[5], r[6]),
        "track": _named(r[7], r[8], r[9]),
        "stage": {**_named(r[10], r[11], r[12]), "position": r[13]},
        "status": r[14],
        "since": r[15],
        "state": (state.state if state else "stopped") if states is not None else None,
        "last_activity": state.last_activity if state else None,
    }


def listing(
    s: Session,
    query: ListQuery,
    visible: frozenset[str] | None,
    states: Mapping[str, ServerState] | None,
) -> dict[str, Any]:
    """One page of the table: {rows, paging, ignored} (`ignored`: what the query asked of the
    hub when there are no `states`: it is left out, and the page says so)."""
    ignored = []
    if states is None:
        ignored = [
            x for x, asked in (("state", query.state), ("sort", query.sort in HUB_SORTS)) if asked
        ]
        sort = "username" if query.sort in HUB_SORTS else query.sort
        query = replace(query, state="", sort=sort)
    if query.needs_hub:
        assert states is not None
        ids = s.execute(
            _filtered([Enrollment.id, Member.username], query, visible).order_by(*_order(query))
        ).all()
        page, paging = arrange([{"id": i, "username": u} for i, u in ids], query, states)
        wanted = [r["id"] for r in page]
        found = {
            r[0]: r
            for r in s.execute(
                _filtered(ROW_COLUMNS, query, visible).where(Enrollment.id.in_(wanted))
            )
        }
        rows = [_row(found[i], states) for i in wanted if i in found]
    else:
        total = s.scalar(
            select(func.count()).select_from(_filtered([Enrollment.id], query, visible).subquery())
        )
        paging = Paging.of(int(total or 0), query.page, query.per_page)
        result = s.execute(
            _filtered(ROW_COLUMNS, query, visible)
            .order_by(*_order(query))
            .offset(paging.offset)
            .limit(paging.per_page)
        )
        rows = [_row(r, states) for r in result]
    return {"rows": rows, "paging": paging, "ignored": ignored}


def statuses(s: Session) -> list[str]:
    """The enrollment statuses the record holds (`active`, ...)."""
    return sorted(set(s.scalars(select(Enrollment.status).distinct())) | {"active"})


def choices(curriculum: Curriculum, visible: frozenset[str] | None) -> dict[str, Any]:
    """The table's filter options: the cohorts the caller may see, every track and stage."""
    return {
        "cohorts": [
            {"id": c.id, "name": {"ko": c.name.ko, "en": c.name.en}}
            for c in curriculum.cohorts
            if visible is None or c.id in visible
        ],
        "tracks": [
            {"id": t.id, "name": {"ko": t.name.ko, "en": t.name.en}} for t in curriculum.tracks
        ],
        "stages": [
            {"id": t.id, "name": {"ko": t.name.ko, "en": t.name.en}} for t in curriculum.stages
        ],
    }


# --- one trainee ------------------------------------------------------------------------------


def enrolled_cohorts(s: Session, username: str) -> list[str]:
    """The cohorts `username` is enrolled in (any status); NotFound when not a trainee."""
    cohorts = list(
        s.scalars(
            select(Cohort.slug)
            .join(Enrollment, Enrollment.cohort_id == Cohort.id)
            .join(Member, Enrollment.member_id == Member.id)
            .where(Member.username == username)
        )
    )
    if not cohorts:
        raise repo.NotFound(f"no trainee {username!r} / 없는 교육생입니다")
    return cohorts


def check_access(s: Session, username: str, visible: frozenset[str] | None) -> list[str]:
    """The trainee's cohorts when the caller may see them; NotFound or Forbidden."""
    cohorts = enrolled_cohorts(s, username)
    if not may_see(visible, cohorts):
        raise Forbidden(f"{username} is in no cohort you teach / 담당 기수의 교육생이 아닙니다")
    return cohorts


def _moves(s: Session, username: str) -> list[Move]:
    entries = s.scalars(
        select(AuditEntry)
        .where(AuditEntry.target == f"user:{username}", AuditEntry.action == "trainee.move_stage")
        .order_by(AuditEntry.id)
    )
    return [
        Move(
            e.at,
            e.actor,
            str(e.details.get("cohort", "")),
            str(e.details.get("from", "")),
            str(e.details.get("to", "")),
            e.reason,
        )
        for e in entries
    ]


def _scores(s: Session, member_id: int, track_ids: list[int]) -> list[dict[str, Any]]:
    assessments = s.execute(
        select(Assessment, Stage, Cohort.slug)
        .join(Stage, Assessment.stage_id == Stage.id)
        .join(Track, Stage.track_id == Track.id)
        .join(Cohort, Track.cohort_id == Cohort.id)
        .where(Track.id.in_(track_ids))
        .order_by(Cohort.slug, Stage.position, Assessment.due_at, Assessment.slug)
    ).all()
    subs: dict[int, list[tuple[Submission, Result | None]]] = {}
    for sub, result in s.execute(
        select(Submission, Result)
        .outerjoin(Result, Result.submission_id == Submission.id)
        .where(Submission.member_id == member_id)
        .order_by(Submission.id)
    ).all():
        subs.setdefault(sub.assessment_id, []).append((sub, result))
    out = []
    for a, stage, cohort in assessments:
        history = subs.get(a.id, [])
        latest, result = history[-1] if history else (None, None)
        out.append(
            {
                "cohort": cohort,
                "stage": _named(stage.slug, stage.name_ko, stage.name_en),
                "id": a.slug,
                "title": {"ko": a.title_ko, "en": a.title_en},
                "due_at": a.effective_due,
                "submissions": len(history),
                "submission": latest.id if latest else None,
                "submitted_at": latest.submitted_at if latest else None,
                "status": (
                    (result.status.replace("-", "_") if result else "waiting")
                    if latest
                    else "not_submitted"
                ),
                "final_score": result.final_score if result else None,
                "max_score": result.max_score if result else None,
                "late_seconds": result.late_seconds if result else None,
            }
        )
    return out


def _selections(s: Session, username: str, cohorts: list[str]) -> list[dict[str, Any]]:
    out = []
    for cohort in cohorts:
        for sel in selection_store.selections(s, cohort=cohort, limit=50):
            row = next((r for r in sel.rows if r.get("trainee") == username), None)
            if row is None:
                continue
            o = selection_store.effective_overrides(sel).get(username)
            out.append(
                {
                    "id": sel.id,
                    "cohort": cohort,
                    "stage": sel.stage,
                    "source": sel.source,
                    "status": sel.status,
                    "created_at": sel.created_at,
                    "applied_at": sel.applied_at,
                    "pool": row.get("pool"),
                    "rank": row.get("rank"),
                    "total": row.get("total"),
                    "selected": bool(row.get("selected")),
                    "advances": final_advance(sel).get(username, False),
                    "override": (
                        {"action": o.action, "reason": o.reason, "by": o.by} if o else None
                    ),
                }
            )
    return out


def detail(
    s: Session, username: str, visible: frozenset[str] | None, audit: bool
) -> dict[str, Any]:
    """Everything the trainee page shows of `username` (NotFound, Forbidden); the audit entries
    about them only when `audit` (admins)."""
    cohorts = check_access(s, username, visible)
    m = repo.member(s, username)
    enrollments = sorted(m.enrollments, key=lambda e: e.id)
    moves = _moves(s, username)
    history = stage_history(
        [(e.cohort.slug, e.track.slug, e.stage.slug, m.created_at) for e in enrollments], moves
    )
    stage_names = {
        st.slug: {"ko": st.name_ko, "en": st.name_en} for e in enrollments for st in e.track.stages
    }
    active = repo.active_enrollment(m)
    entries = repo.audit_entries(s, limit=200, target=f"user:{username}") if audit else []
    return {
        "username": m.username,
        "name": m.name,
        "email": m.email,
        "major": m.major,
        "role": m.role,
        "attributes": dict(m.attributes or {}),
        "created_at": m.created_at,
        "zone": active.cohort.timezone if active else enrollments[-1].cohort.timezone,
        "active": (
            {
                "cohort": _named(active.cohort.slug, active.cohort.name_ko, active.cohort.name_en),
                "track": _named(active.track.slug, active.track.name_ko, active.track.name_en),
                "stage": _named(active.stage.slug, active.stage.name_ko, active.stage.name_en),
                "stages": [
                    {**_named(st.slug, st.name_ko, st.name_en), "position": st.position}
                    for st in active.track.stages
                ],
                "since": active.updated_at,
            }
            if active
            else None
        ),
        "enrollments": [
            {
                "cohort": _named(e.cohort.slug, e.cohort.name_ko, e.cohort.name_en),
                "track": _named(e.track.slug, e.track.name_ko, e.track.name_en),
                "stage": _named(e.stage.slug, e.stage.name_ko, e.stage.name_en),
                "status": e.status,
                "since": e.updated_at,
            }
            for e in enrollments
        ],
        "history": [
            {
                "cohort": step.cohort,
                "track": step.track,
                "stage": {"id": step.stage, "name": stage_names.get(step.stage)},
                "source": (
                    {"id": step.source, "name": stage_names.get(step.source)}
                    if step.source
                    else None
                ),
                "at": step.at,
                "actor": step.actor,
                "reason": step.reason,
            }
            for step in history
        ],
        "scores": _scores(s, m.id, sorted({e.track_id for e in enrollments})),
        "selections": _selections(s, username, cohorts),
        "audit": [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "details": e.details,
                "reason": e.reason,
            }
            for e in entries
        ],
    }


# --- servers on a staff member's behalf ---------------------------------------------------------


def _audit_server(s: Session, username: str, action: str, actor: str, now: datetime) -> None:
    repo.append_audit(
        s,
        now=now,
        actor=actor,
        action=f"trainee.server_{action}",
        target=f"user:{username}",
        details={"server": ""},
    )


async def start_server(
    hub: HubAPI, sessions: Any, username: str, *, actor: str, now: datetime
) -> None:
    """Start the trainee's server through the hub (the caller's right already checked);
    audited as `trainee.server_start`."""
    await hub.start_server(username)
    await hub.activity.user(username)
    with sessions.begin() as s:
        _audit_server(s, username, "start", actor, now)


async def stop_server(
    hub: HubAPI, sessions: Any, username: str, *, actor: str, now: datetime
) -> None:
    """Stop the trainee's server through the hub; audited as `trainee.server_stop`."""
    await hub.stop_server(username)
    await hub.activity.user(username)
    with sessions.begin() as s:
        _audit_server(s, username, "stop", actor, now)


async def one_state(hub: HubAPI | None, username: str) -> ServerState | None:
    """The trainee's server now (one hub call, which also brings their entry in the service's
    copy up to date), None when the hub does not answer."""
    if hub is None:
        return None
    return await hub.activity.user(username)
