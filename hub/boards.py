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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .core.audit import naive_utc
from .core.deadlines import effective_due
from .store import grading
from .store.models import (
    Assessment,
    Cohort,
    Enrollment,
    Extension,
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


def _facts(s: Session, ids: list[int]) -> _Facts:
    f = _Facts()
    if not ids:
        return f
    newest = (
        select(Release.assessment_id, func.max(Release.version).label("v"))
        .where(Release.assessment_id.in_(ids))
        .group_by(Release.assessment_id)
        .subquery()
    )
    for r in s.scalars(
        select(Release).join(
            newest,
            (Release.assessment_id == newest.c.assessment_id) & (Release.version == newest.c.v),
        )
    ):
        f.releases[r.assessment_id] = r
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
    if not released:
        return "not_released"
    if jobs["queued"] or jobs["running"]:
        return "grading"
    with_result = [x for x in subs if x.result is not None]
    shown = [x for x in with_result if x.result is not None and x.result.status != "failed"]
    if subs and len(with_result) == len(subs):
        if shown and all(x.feedback is not None for x in shown):
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


def board(s: Session, cohort: str, track: str, stage: str, now: datetime) -> dict[str, Any]:
    """The assessments of one cohort's track and stage: state, due instant and extensions,
    counts (submitted, on time, late, not submitted, graded, failed, waiting for manual grading,
    waiting for grading) and the grading queue of each."""
    st = _stage(s, cohort, track, stage)
    c = st.track.cohort
    enrolled = {
        e.member_id: e.member
        for e in s.scalars(
            select(Enrollment)
            .where(Enrollment.stage_id == st.id, Enrollment.status == "active")
            .options(selectinload(Enrollment.member))
        )
    }
    facts = _facts(s, [a.id for a in st.assessments])
    rows = []
    for a in st.assessments:
        subs = facts.latest.get(a.id, [])
        exts = {e.member_id: e.due_at for e in facts.extensions.get(a.id, [])}
        statuses = Counter(_status(x) for x in subs)
        late = sum(1 for x in subs if x.submitted_at > _due_of(a, exts, x.member_id))
        submitted = {x.member_id for x in subs}
        closes = max([a.effective_due, *exts.values()])
        jobs = facts.jobs.get(a.id, Counter())
        members = {e.member_id: e for e in facts.extensions.get(a.id, [])}
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
                    if (r := facts.releases.get(a.id))
                    else None
                ),
                "state": state_of(a.id in facts.releases, subs, jobs, closes, now),
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
                    "submitted": len(subs),
                    "on_time": len(subs) - late,
                    "late": late,
                    "not_submitted": len(set(enrolled) - submitted),
                    "graded": statuses["graded"],
                    "failed": statuses["failed"],
                    "needs_manual": statuses["needs_manual"],
                    "waiting": statuses["waiting"],
                    "feedback": sum(1 for x in subs if x.feedback is not None),
                },
                "jobs": {k: jobs.get(k, 0) for k in ("queued", "running", "done", "failed")},
            }
        )
    return {
        "cohort": _named(c),
        "track": _named(st.track),
        "stage": {**_named(st), "position": st.position},
        "zone": c.timezone,
        "trainees": sorted(m.username for m in enrolled.values()),
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


def _username(s: Session, member_id: int, known: dict[int, Member]) -> str:
    m = known.get(member_id) or s.get(Member, member_id)
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
