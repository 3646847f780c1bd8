"""Read-only views of the instructor pages: the stages to run, an assessment board per cohort,
track and stage, the submissions of an assessment and one submission.

Nothing here writes: the actions of the pages are the JSON API's (handlers/assessments.py), the
workflows hub/assessments.py's. Each view reads with a handful of queries (not one per trainee)
and returns plain values; times stay naive UTC (the database's), the pages show them in the
cohort's zone.

An assessment's state, in order of precedence:

- `not_released`: no release yet;
- `grading`: a grading job of a latest submission is queued or running;
- `feedback_released`: every latest submission that has a result (not failed) has feedback;
- `graded`: every latest submission has a result;
- `collecting`: the deadline (and every extension) has passed and submissions wait to be graded;
- `released`: open for submissions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from .core.audit import naive_utc
from .core.deadlines import effective_due
from .store import grading
from .store.models import (
    Assessment,
    Cohort,
    Enrollment,
    Extension,
    Feedback,
    GradingJob,
    Member,
    Release,
    Result,
    Stage,
    Submission,
    Track,
)
from .store.repo import NotFound

STATES = ("not_released", "released", "collecting", "grading", "graded", "feedback_released")
FILTERS = ("all", "not_submitted", "late", "failed", "needs_manual", "waiting")


def _named(row: Any) -> dict[str, Any]:
    return {"id": row.slug, "name": {"ko": row.name_ko, "en": row.name_en}}


# --- the stages an instructor runs -----------------------------------------------------------


def stages(s: Session) -> list[dict[str, Any]]:
    """Every cohort's tracks and stages with their trainees and released assessments, for the
    instructor's page: [{cohort, zone, tracks: [{track, stages: [{stage, trainees, assessments,
    released}]}]}]."""
    per_stage: dict[int, int] = dict(
        s.execute(
            select(Enrollment.stage_id, func.count(Enrollment.id))
            .where(Enrollment.status == "active")
            .group_by(Enrollment.stage_id)
        )
        .tuples()
        .all()
    )
    assessments: dict[int, int] = dict(
        s.execute(
            select(Assessment.stage_id, func.count(Assessment.id)).group_by(Assessment.stage_id)
        )
        .tuples()
        .all()
    )
    released: dict[int, int] = dict(
        s.execute(
            select(Assessment.stage_id, func.count(func.distinct(Assessment.id)))
            .join(Release, Release.assessment_id == Assessment.id)
            .group_by(Assessment.stage_id)
        )
        .tuples()
        .all()
    )
    cohorts = s.scalars(
        select(Cohort)
        .order_by(Cohort.starts_on, Cohort.slug)
        .options(selectinload(Cohort.tracks).selectinload(Track.stages))
    )
    out = []
    for c in cohorts:
        tracks = []
        for t in sorted(c.tracks, key=lambda t: t.slug):
            tracks.append(
                {
                    "track": _named(t),
                    "stages": [
                        {
                            "stage": {**_named(st), "position": st.position},
                            "trainees": per_stage.get(st.id, 0),
                            "assessments": assessments.get(st.id, 0),
                            "released": released.get(st.id, 0),
                        }
                        for st in t.stages
                    ],
                }
            )
        out.append({"cohort": _named(c), "zone": c.timezone, "tracks": tracks})
    return out


def _stage(s: Session, cohort: str, track: str, stage: str) -> Stage:
    row = s.scalars(
        select(Stage)
        .join(Track)
        .join(Cohort)
        .where(Cohort.slug == cohort, Track.slug == track, Stage.slug == stage)
        .options(selectinload(Stage.assessments))
    ).first()
    if row is None:
        raise NotFound(f"no stage {cohort}/{track}/{stage} / 없는 단계입니다")
    return row


def _assessment(s: Session, cohort: str, slug: str) -> Assessment:
    row = s.scalars(
        select(Assessment)
        .join(Stage)
        .join(Track)
        .join(Cohort)
        .where(Cohort.slug == cohort, Assessment.slug == slug)
    ).first()
    if row is None:
        raise NotFound(f"no assessment {slug!r} in cohort {cohort!r} / 없는 평가입니다")
    return row


# --- facts of the assessments of a stage, in a few queries ----------------------------------


@dataclass
class _Facts:
    releases: dict[int, Release] = field(default_factory=dict)
    latest: dict[int, list[Submission]] = field(default_factory=lambda: defaultdict(list))
    history: Counter[tuple[int, int]] = field(default_factory=Counter)
    extensions: dict[int, list[Extension]] = field(default_factory=lambda: defaultdict(list))
    jobs: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _releases(s: Session, ids: list[int]) -> dict[int, Release]:
    """The newest release of each of the assessments `ids`."""
    if not ids:
        return {}
    newest = (
        select(Release.assessment_id, func.max(Release.version).label("v"))
        .where(Release.assessment_id.in_(ids))
        .group_by(Release.assessment_id)
        .subquery()
    )
    return {
        r.assessment_id: r
        for r in s.scalars(
            select(Release).join(
                newest,
                (Release.assessment_id == newest.c.assessment_id) & (Release.version == newest.c.v),
            )
        )
    }


def _facts(s: Session, ids: list[int]) -> _Facts:
    f = _Facts()
    if not ids:
        return f
    f.releases = _releases(s, ids)
    counts = s.execute(
        select(
            Submission.assessment_id, Submission.member_id, func.count(), func.max(Submission.id)
        )
        .where(Submission.assessment_id.in_(ids))
        .group_by(Submission.assessment_id, Submission.member_id)
    ).all()
    latest_ids = [row[3] for row in counts]
    for aid, mid, n, _ in counts:
        f.history[(aid, mid)] = n
    subs = s.scalars(
        select(Submission)
        .where(Submission.id.in_(latest_ids))
        .options(
            selectinload(Submission.result),
            selectinload(Submission.feedback),
            selectinload(Submission.member),
        )
        .order_by(Submission.id)
    )
    for sub in subs:
        f.latest[sub.assessment_id].append(sub)
    for ext in s.scalars(select(Extension).where(Extension.assessment_id.in_(ids))):
        f.extensions[ext.assessment_id].append(ext)
    by_sub = {sub.id: sub.assessment_id for subs_ in f.latest.values() for sub in subs_}
    if by_sub:
        for sid, status in s.execute(
            select(GradingJob.submission_id, GradingJob.status).where(
                GradingJob.submission_id.in_(list(by_sub))
            )
        ):
            f.jobs[by_sub[sid]][status] += 1
    return f


def _due_of(a: Assessment, ext: dict[int, datetime], member_id: int) -> datetime:
    return effective_due(a.effective_due, ext.get(member_id))


def state_of(
    released: bool, subs: list[Submission], jobs: Counter[str], closes: datetime, now: datetime
) -> str:
    """The state of an assessment (see the module's docstring); `closes` is the latest due
    instant (deadline or extension), naive UTC."""
    with_result = [x for x in subs if x.result is not None]
    shown = [x for x in with_result if x.result is not None and x.result.status != "failed"]
    with_feedback = sum(1 for x in shown if x.feedback is not None)
    return _state(
        released, jobs, len(subs), len(with_result), len(shown), with_feedback, closes, now
    )


def _state(
    released: bool,
    jobs: Counter[str],
    submitted: int,
    with_result: int,
    shown: int,
    shown_with_feedback: int,
    closes: datetime,
    now: datetime,
) -> str:
    """`state_of` from counts of the latest submissions: all, with a result, with a result that
    is not failed (`shown`), and of those with feedback."""
    if not released:
        return "not_released"
    if jobs["queued"] or jobs["running"]:
        return "grading"
    if submitted and with_result == submitted:
        if shown and shown_with_feedback == shown:
            return "feedback_released"
        return "graded"
    if naive_utc(now) > closes:
        return "collecting"
    return "released"


def _status(sub: Submission | None) -> str:
    if sub is None:
        return "not_submitted"
    r = sub.result
    if r is None:
        return "waiting"
    if r.status == "failed":
        return "failed"
    if r.status == "needs-manual":
        return "needs_manual"
    return "graded"


# --- the board -----------------------------------------------------------------------------


@dataclass
class _Tally:
    """One assessment's latest submissions (one per trainee), counted by the database."""

    submitted: int = 0
    late: int = 0
    enrolled: int = 0  # of them by trainees enrolled in the stage
    results: int = 0  # with a result
    shown: int = 0  # with a result that is not failed
    shown_feedback: int = 0  # of those, with feedback
    feedback: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # as `_status` names them
    jobs: Counter[str] = field(default_factory=Counter)  # grading jobs of them by status


_STATUS_OF = {None: "waiting", "failed": "failed", "needs-manual": "needs_manual"}  # else graded


def _tallies(s: Session, ids: list[int], stage_id: int) -> dict[int, _Tally]:
    """The counts of the board for assessments `ids` in two aggregate queries (no row per
    submission reaches Python): the latest submission of each trainee is the one with the
    highest id; late against the trainee's due instant (deadline, else a later extension)."""
    out: dict[int, _Tally] = defaultdict(_Tally)
    if not ids:
        return out
    latest = (
        select(func.max(Submission.id).label("id"))
        .where(Submission.assessment_id.in_(ids))
        .group_by(Submission.member_id, Submission.assessment_id)  # the index's order
        .subquery()
    )
    due = func.coalesce(Assessment.due_override_at, Assessment.due_at)
    own_due = case((Extension.due_at > due, Extension.due_at), else_=due)

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = s.execute(
        select(
            Submission.assessment_id,
            Result.status,  # None: no result yet
            func.count(),
            total(Submission.submitted_at > own_due),
            total(Enrollment.id.is_not(None)),
            total(Feedback.id.is_not(None)),
        )
        .select_from(latest)
        .join(Submission, Submission.id == latest.c.id)
        .join(Assessment, Assessment.id == Submission.assessment_id)
        .outerjoin(Result, Result.submission_id == Submission.id)
        .outerjoin(Feedback, Feedback.submission_id == Submission.id)
        .outerjoin(
            Extension,
            (Extension.assessment_id == Submission.assessment_id)
            & (Extension.member_id == Submission.member_id),
        )
        .outerjoin(
            Enrollment,
            (Enrollment.member_id == Submission.member_id)
            & (Enrollment.stage_id == stage_id)
            & (Enrollment.status == "active"),
        )
        .group_by(Submission.assessment_id, Result.status)
    ).all()
    for aid, result_status, n, late, enrolled, feedback in rows:
        t = out[aid]
        kind = _STATUS_OF.get(result_status, "graded")
        t.submitted += n
        t.late += late
        t.enrolled += enrolled
        t.statuses[kind] += n
        t.feedback += feedback
        if kind != "waiting":
            t.results += n
            if kind != "failed":
                t.shown += n
                t.shown_feedback += feedback
    for aid, job_status, n in s.execute(
        select(Submission.assessment_id, GradingJob.status, func.count())
        .select_from(latest)
        .join(Submission, Submission.id == latest.c.id)
        .join(GradingJob, GradingJob.submission_id == Submission.id)
        .group_by(Submission.assessment_id, GradingJob.status)
    ):
        out[aid].jobs[job_status] += n
    return out


def board(s: Session, cohort: str, track: str, stage: str, now: datetime) -> dict[str, Any]:
    """The assessments of one cohort's track and stage: state, due instant and extensions,
    counts (submitted, on time, late, not submitted, graded, failed, waiting for manual grading,
    waiting for grading) and the grading queue of each. Counted by the database (`_tallies`):
    a stage of thousands of trainees and tens of assessments loads no submission as an object."""
    st = _stage(s, cohort, track, stage)
    c = st.track.cohort
    enrolled: dict[int, str] = {
        mid: username
        for mid, username in s.execute(
            select(Member.id, Member.username)
            .join(Enrollment, Enrollment.member_id == Member.id)
            .where(Enrollment.stage_id == st.id, Enrollment.status == "active")
        )
    }
    ids = [a.id for a in st.assessments]
    releases = _releases(s, ids)
    extensions: dict[int, list[Extension]] = defaultdict(list)
    if ids:
        for ext in s.scalars(select(Extension).where(Extension.assessment_id.in_(ids))):
            extensions[ext.assessment_id].append(ext)
    tallies = _tallies(s, ids, st.id)
    rows = []
    for a in st.assessments:
        t = tallies.get(a.id) or _Tally()
        exts = {e.member_id: e.due_at for e in extensions.get(a.id, [])}
        closes = max([a.effective_due, *exts.values()])
        members = {e.member_id: e for e in extensions.get(a.id, [])}
        rows.append(
            {
                "id": a.slug,
                "title": {"ko": a.title_ko, "en": a.title_en},
                "points": a.points,
                "weight": a.weight,
                "due_at": a.effective_due,
                "curriculum_due_at": a.due_at,
                "moved": a.due_override_at is not None,
                "late_policy": a.late_policy,
                "release": (
                    {
                        "version": r.version,
                        "at": r.released_at,
                        "by": r.released_by,
                        "notebooks": r.notebooks,
                    }
                    if (r := releases.get(a.id))
                    else None
                ),
                "state": _state(
                    a.id in releases,
                    t.jobs,
                    t.submitted,
                    t.results,
                    t.shown,
                    t.shown_feedback,
                    closes,
                    now,
                ),
                "extensions": sorted(
                    (
                        {
                            "username": _username(s, e.member_id, enrolled),
                            "due_at": e.due_at,
                            "reason": e.reason,
                            "by": e.granted_by,
                            "at": e.granted_at,
                        }
                        for e in members.values()
                    ),
                    key=lambda x: str(x["username"]),
                ),
                "counts": {
                    "trainees": len(enrolled),
                    "submitted": t.submitted,
                    "on_time": t.submitted - t.late,
                    "late": t.late,
                    "not_submitted": len(enrolled) - t.enrolled,
                    "graded": t.statuses["graded"],
                    "failed": t.statuses["failed"],
                    "needs_manual": t.statuses["needs_manual"],
                    "waiting": t.statuses["waiting"],
                    "feedback": t.feedback,
                },
                "jobs": {k: t.jobs.get(k, 0) for k in ("queued", "running", "done", "failed")},
            }
        )
    return {
        "cohort": _named(c),
        "track": _named(st.track),
        "stage": {**_named(st), "position": st.position},
        "zone": c.timezone,
        "trainees": sorted(enrolled.values()),
        "assessments": rows,
    }


def stage_trainees(s: Session, a: Assessment) -> list[Member]:
    """The trainees enrolled (active) in the stage of an assessment, by username."""
    return sorted(
        s.scalars(
            select(Member)
            .join(Enrollment, Enrollment.member_id == Member.id)
            .where(Enrollment.stage_id == a.stage_id, Enrollment.status == "active")
        ).unique(),
        key=lambda m: m.username,
    )


def _username(s: Session, member_id: int, known: dict[int, str]) -> str:
    if member_id in known:
        return known[member_id]
    m = s.get(Member, member_id)
    return m.username if m else str(member_id)


# --- the submissions of an assessment ------------------------------------------------------


def submissions(s: Session, cohort: str, aid: str, now: datetime) -> dict[str, Any]:
    """One row per trainee of the assessment's stage (and anyone else who submitted): name,
    latest submission's server time, lateness, status, raw score, penalty, final score and a
    failed grading's reason; with the number of submissions they made."""
    a = _assessment(s, cohort, aid)
    st = a.stage
    facts = _facts(s, [a.id])
    exts = {e.member_id: e.due_at for e in facts.extensions.get(a.id, [])}
    latest = {x.member_id: x for x in facts.latest.get(a.id, [])}
    people = {
        e.member_id: e.member
        for e in s.scalars(
            select(Enrollment)
            .where(Enrollment.stage_id == st.id, Enrollment.status == "active")
            .options(selectinload(Enrollment.member))
        )
    }
    for x in latest.values():
        people.setdefault(x.member_id, x.member)
    jobs_of = grading.statuses(s, [x.id for x in latest.values()])
    rows = []
    for mid, m in sorted(people.items(), key=lambda kv: kv[1].username):
        sub = latest.get(mid)
        r: Result | None = sub.result if sub else None
        due = _due_of(a, exts, mid)
        late_seconds = (
            r.late_seconds
            if r is not None and r.status != "failed"
            else max(0.0, (sub.submitted_at - due).total_seconds())
            if sub
            else 0.0
        )
        details = r.details if r is not None else {}
        rows.append(
            {
                "username": m.username,
                "name": m.name,
                "submission": sub.id if sub else None,
                "submissions": facts.history.get((a.id, mid), 0),
                "submitted_at": sub.submitted_at if sub else None,
                "due_at": due,
                "extension": mid in exts,
                "late_seconds": late_seconds,
                "status": _status(sub),
                "grading_status": details.get("grading_status") if r else None,
                "raw_score": r.raw_score if r else None,
                "max_score": r.max_score if r else None,
                "penalty": r.penalty if r else None,
                "final_score": r.final_score if r else None,
                "reason": (details.get("reason") or "") if r else "",
                "pending_manual": details.get("pending_manual", []) if r else [],
                "feedback": bool(sub and sub.feedback),
                "grading": jobs_of.get(sub.id) if sub else None,
            }
        )
    subs = list(latest.values())
    jobs = facts.jobs.get(a.id, Counter())
    closes = max([a.effective_due, *exts.values()])
    return {
        "cohort": _named(st.track.cohort),
        "track": _named(st.track),
        "stage": {**_named(st), "position": st.position},
        "zone": st.track.cohort.timezone,
        "assessment": {
            "id": a.slug,
            "title": {"ko": a.title_ko, "en": a.title_en},
            "points": a.points,
            "due_at": a.effective_due,
            "state": state_of(a.id in facts.releases, subs, jobs, closes, now),
        },
        "rows": rows,
        "counts": Counter(r["status"] for r in rows)
        | Counter(late=sum(1 for r in rows if r["late_seconds"] > 0)),
    }


# --- one submission ------------------------------------------------------------------------


def submission(s: Session, sid: int) -> dict[str, Any]:
    """One submission for the staff page: who, which assessment, when, its result and graded
    cells (with their execution logs), the trainee's history of this assessment (server times,
    hashes) and where its files are (`sha256`, `files`)."""
    sub = s.scalars(
        select(Submission)
        .where(Submission.id == sid)
        .options(selectinload(Submission.result), selectinload(Submission.feedback))
    ).first()
    if sub is None:
        raise NotFound(f"no submission {sid} / 없는 제출입니다")
    from .store.exchange import cell_rows, due_for  # the record's own readers

    a = sub.assessment
    st = a.stage
    history = s.scalars(
        select(Submission)
        .where(Submission.assessment_id == a.id, Submission.member_id == sub.member_id)
        .order_by(Submission.submitted_at, Submission.id)
    ).all()
    r = sub.result
    return {
        "id": sub.id,
        "username": sub.member.username,
        "name": sub.member.name,
        "cohort": _named(st.track.cohort),
        "track": _named(st.track),
        "stage": {**_named(st), "position": st.position},
        "zone": st.track.cohort.timezone,
        "assessment": {"id": a.slug, "title": {"ko": a.title_ko, "en": a.title_en}},
        "submitted_at": sub.submitted_at,
        "due_at": due_for(s, sub),
        "sha256": sub.sha256,
        "size": sub.size,
        "files": list(sub.files),
        "status": _status(sub),
        "result": (
            {
                "status": r.status,
                "raw_score": r.raw_score,
                "max_score": r.max_score,
                "late_seconds": r.late_seconds,
                "penalty": r.penalty,
                "final_score": r.final_score,
                "reason": r.details.get("reason", ""),
                "grading_status": r.details.get("grading_status"),
                "pending_manual": r.details.get("pending_manual", []),
            }
            if r
            else None
        ),
        "feedback_at": sub.feedback.released_at if sub.feedback else None,
        "grading": grading.statuses(s, [sub.id]).get(sub.id),
        "cells": cell_rows(s, sub),
        "history": [
            {
                "id": h.id,
                "submitted_at": h.submitted_at,
                "sha256": h.sha256,
                "size": h.size,
                "latest": h.id == history[-1].id,
            }
            for h in history
        ],
    }


def regrade_progress(s: Session, sid: int) -> dict[str, Any]:
    """Where one submission's grading stands, for the pages watching a regrade: its job (status,
    attempts, the last error), its status and result as the submissions table shows them, and
    its graded cells' points."""
    sub = s.scalars(
        select(Submission).where(Submission.id == sid).options(selectinload(Submission.result))
    ).first()
    if sub is None:
        raise NotFound(f"no submission {sid} / 없는 제출입니다")
    job = s.scalars(
        select(GradingJob)
        .where(GradingJob.submission_id == sid)
        .order_by(GradingJob.enqueued_at.desc(), GradingJob.id.desc())
        .limit(1)
    ).first()
    r = sub.result
    from .store.exchange import cell_rows  # the record's own reader

    return {
        "submission": sub.id,
        "assessment": sub.assessment.slug,
        "username": sub.member.username,
        "grading": grading.statuses(s, [sub.id]).get(sub.id),
        "job": (
            {
                "status": job.status,
                "attempts": job.attempts,
                "enqueued_at": job.enqueued_at,
                "finished_at": job.finished_at,
                "error": job.last_error,
            }
            if job
            else None
        ),
        "status": _status(sub),
        "result": (
            {
                "status": r.status,
                "grading_status": r.details.get("grading_status"),
                "raw_score": r.raw_score,
                "max_score": r.max_score,
                "penalty": r.penalty,
                "final_score": r.final_score,
                "reason": r.details.get("reason", ""),
                "computed_at": r.computed_at,
            }
            if r
            else None
        ),
        "cells": [
            {k: c[k] for k in ("notebook", "cell", "score", "max_score")} for c in cell_rows(s, sub)
        ],
    }
