"""Repository functions of the exchange and the gradebook of record.

Who may see what is decided here, from the caller's enrollment: a trainee sees the released
assessments of their own cohort, track and current stage, and only their own submissions and
feedback. Time is the service's `now`; identity is the caller's hub name. Results (raw score,
lateness, penalty, final score) are computed from the stored grades and server timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, selectinload

from ..core.audit import naive_utc
from ..core.deadlines import LatePolicy, effective_due, final_score, lateness
from ..core.manual import decide
from . import scorecards
from .models import (
    Assessment,
    Cohort,
    Enrollment,
    Extension,
    Feedback,
    Grade,
    Member,
    Release,
    Result,
    Stage,
    Submission,
    Track,
)
from .repo import Invalid, NotFound, active_enrollment, append_audit, member


def _latest_release(s: Session, assessment_id: int) -> Release | None:
    return s.scalars(
        select(Release)
        .where(Release.assessment_id == assessment_id)
        .order_by(Release.version.desc())
        .limit(1)
    ).first()


# --- what a trainee sees ------------------------------------------------------------------------


def trainee_assessments(
    s: Session, username: str
) -> tuple[Enrollment, list[tuple[Assessment, Release]]]:
    """The caller's enrollment and the released assessments of their current stage."""
    m = member(s, username)
    e = active_enrollment(m)
    if e is None:
        raise NotFound(f"{username} is not enrolled / 등록된 과정이 없습니다")
    out = []
    for a in e.stage.assessments:
        release = _latest_release(s, a.id)
        if release is not None:
            out.append((a, release))
    return e, out


def trainee_assessment(s: Session, username: str, slug: str) -> tuple[Member, Assessment, Release]:
    """One released assessment the trainee may see, else NotFound (the same answer whether it
    does not exist or belongs to someone else's cohort/track/stage)."""
    e, visible = trainee_assessments(s, username)
    for a, release in visible:
        if a.slug == slug:
            return e.member, a, release
    raise NotFound(f"no released assessment {slug!r} for you / 배포된 평가가 없습니다")


def released_in_cohort(
    s: Session, cohort: str | None
) -> tuple[str, list[tuple[Assessment, Release]]]:
    """(cohort, released assessments) for instructors: `cohort`, else the first with releases."""
    q = (
        select(Assessment)
        .join(Stage)
        .join(Track)
        .join(Cohort)
        .order_by(Cohort.slug, Assessment.slug)
    )
    if cohort:
        q = q.where(Cohort.slug == cohort)
    out: list[tuple[Assessment, Release]] = []
    for a in s.scalars(q):
        release = _latest_release(s, a.id)
        slug = a.stage.track.cohort.slug
        if release is None or (out and slug != out[0][0].stage.track.cohort.slug):
            continue
        out.append((a, release))
    return (out[0][0].stage.track.cohort.slug if out else cohort or ""), out


def cohort_assessments(s: Session, slug: str, cohort: str | None = None) -> list[Assessment]:
    """The assessment `slug` in every cohort (or one), for instructors."""
    q = (
        select(Assessment)
        .join(Stage)
        .join(Track)
        .join(Cohort)
        .where(Assessment.slug == slug)
        .order_by(Cohort.slug)
    )
    if cohort:
        q = q.where(Cohort.slug == cohort)
    found = list(s.scalars(q))
    if not found:
        raise NotFound(f"no assessment {slug!r}" + (f" in cohort {cohort!r}" if cohort else ""))
    return found


# --- releases -----------------------------------------------------------------------------------


def record_release(
    s: Session,
    a: Assessment,
    *,
    sha256: str,
    size: int,
    notebooks: list[str],
    actor: str,
    now: datetime,
) -> Release:
    """A new release version (unchanged content: the current release is kept). Audited."""
    current = _latest_release(s, a.id)
    if current is not None and current.sha256 == sha256:
        return current
    release = Release(
        assessment_id=a.id,
        version=(current.version + 1) if current else 1,
        sha256=sha256,
        size=size,
        notebooks=notebooks,
        released_at=naive_utc(now),
        released_by=actor,
    )
    s.add(release)
    s.flush()
    cohort = a.stage.track.cohort.slug
    append_audit(
        s,
        now=now,
        actor=actor,
        action="assessment.release",
        target=f"assessment:{cohort}/{a.slug}",
        details={"version": release.version, "sha256": sha256, "notebooks": notebooks},
    )
    return release


# --- submissions --------------------------------------------------------------------------------


def record_submission(
    s: Session,
    m: Member,
    a: Assessment,
    release: Release | None,
    *,
    sha256: str,
    size: int,
    files: list[str],
    now: datetime,
) -> Submission:
    """Keep one more submission (history is never overwritten)."""
    sub = Submission(
        assessment_id=a.id,
        member_id=m.id,
        release_id=release.id if release else None,
        submitted_at=naive_utc(now),
        sha256=sha256,
        size=size,
        files=files,
    )
    s.add(sub)
    s.flush()
    scorecards.refresh(s, [m.id], now)
    return sub


def submissions_of(s: Session, username: str, slug: str | None = None) -> list[Submission]:
    """A trainee's own submissions, oldest first."""
    q = (
        select(Submission)
        .join(Member)
        .join(Assessment)
        .where(Member.username == username)
        .order_by(Submission.submitted_at, Submission.id)
    )
    if slug:
        q = q.where(Assessment.slug == slug)
    return list(s.scalars(q))


def submissions_for(
    s: Session, assessments: Iterable[Assessment], history: bool = False
) -> list[Submission]:
    """Submissions of the assessments: the latest per trainee, or all with `history`."""
    ids = [a.id for a in assessments]
    q = select(Submission).where(Submission.assessment_id.in_(ids))
    if not history:
        latest = (
            select(
                Submission.member_id, Submission.assessment_id, func.max(Submission.id).label("id")
            )
            .where(Submission.assessment_id.in_(ids))
            .group_by(Submission.member_id, Submission.assessment_id)
            .subquery()
        )
        q = q.where(Submission.id.in_(select(latest.c.id)))
    return list(s.scalars(q.order_by(Submission.id)))


def submission(s: Session, sid: int) -> Submission:
    """One submission (NotFound if none)."""
    sub = s.get(Submission, sid)
    if sub is None:
        raise NotFound(f"no submission {sid}")
    return sub


def record_feedback(
    s: Session,
    sub: Submission,
    *,
    sha256: str,
    actor: str,
    now: datetime,
    hidden_tests: bool | None = None,
) -> Feedback:
    """Attach (or replace) the feedback files of a submission. Audited (with whether the
    feedback shows hidden tests, when the caller knows)."""
    fb = sub.feedback
    if fb is None:
        fb = Feedback(
            submission_id=sub.id, sha256=sha256, released_at=naive_utc(now), released_by=actor
        )
        s.add(fb)
    else:
        fb.sha256, fb.released_at, fb.released_by = sha256, naive_utc(now), actor
    s.flush()
    append_audit(
        s,
        now=now,
        actor=actor,
        action="feedback.release",
        target=f"user:{sub.member.username}",
        details={"assessment": sub.assessment.slug, "submission": sub.id, "sha256": sha256}
        | ({} if hidden_tests is None else {"hidden_tests": hidden_tests}),
    )
    return fb


def record_feedback_hold(
    s: Session,
    sub: Submission,
    *,
    why: str,
    reason: str,
    until: datetime | None,
    actor: str,
    now: datetime,
) -> None:
    """Audit that feedback showing hidden tests was held back from a submission's trainee (who
    could still submit), why and until when (None: no date in sight). Nothing else changes: feedback
    released earlier stays."""
    append_audit(
        s,
        now=now,
        actor=actor,
        action="feedback.hold",
        target=f"user:{sub.member.username}",
        details={
            "assessment": sub.assessment.slug,
            "submission": sub.id,
            "why": why,
            "reason": reason,
            "until": until.isoformat() if until else None,
            "earlier_feedback": sub.feedback is not None,
        },
    )


# --- deadlines ----------------------------------------------------------------------------------


def set_due(
    s: Session, a: Assessment, due_at: datetime, *, actor: str, reason: str, now: datetime
) -> None:
    """Move an assessment's deadline for its cohort and recompute the lateness of the results
    already recorded. Audited with the reason."""
    old = a.effective_due
    a.due_override_at = naive_utc(due_at)
    s.flush()
    recomputed = _recompute(s, now, Submission.assessment_id == a.id)
    append_audit(
        s,
        now=now,
        actor=actor,
        action="assessment.set_due",
        target=f"assessment:{a.stage.track.cohort.slug}/{a.slug}",
        details={
            "from": old.isoformat(),
            "to": a.due_override_at.isoformat(),
            "results_recomputed": recomputed,
        },
        reason=reason,
    )


def grant_extension(
    s: Session,
    a: Assessment,
    username: str,
    due_at: datetime,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> Extension:
    """Give one trainee a later due instant and recompute the lateness of their results already
    recorded. Audited with the reason."""
    m = member(s, username)
    ext = s.scalars(select(Extension).filter_by(assessment_id=a.id, member_id=m.id)).first()
    if ext is None:
        ext = Extension(
            assessment_id=a.id,
            member_id=m.id,
            due_at=naive_utc(due_at),
            granted_by=actor,
            granted_at=naive_utc(now),
            reason=reason,
        )
        s.add(ext)
    else:
        ext.due_at, ext.granted_by, ext.granted_at, ext.reason = (
            naive_utc(due_at),
            actor,
            naive_utc(now),
            reason,
        )
    s.flush()
    recomputed = _recompute(s, now, Submission.assessment_id == a.id, Submission.member_id == m.id)
    append_audit(
        s,
        now=now,
        actor=actor,
        action="assessment.extension",
        target=f"user:{username}",
        details={
            "assessment": a.slug,
            "due_at": ext.due_at.isoformat(),
            "results_recomputed": recomputed,
        },
        reason=reason,
    )
    s.flush()
    return ext


def _recompute(s: Session, now: datetime, *where: ColumnElement[bool]) -> int:
    """Recompute, against the due instant now in force, the results of the submissions `where`
    selects (a failed grading keeps its zero: it has no grades to recompute from), then each
    trainee's scorecard once; how many results."""
    subs = s.scalars(
        select(Submission)
        .join(Result, Result.submission_id == Submission.id)
        .where(*where, Result.status != "failed")
        .options(selectinload(Submission.result))
    ).all()
    for sub in subs:
        _compute_result(s, sub, now)
    scorecards.refresh(s, {sub.member_id for sub in subs}, now)
    return len(subs)


def extension_for(s: Session, sub: Submission) -> datetime | None:
    """The due instant of the submission's trainee's extension, if they have one."""
    ext = s.scalars(
        select(Extension).filter_by(assessment_id=sub.assessment_id, member_id=sub.member_id)
    ).first()
    return ext.due_at if ext else None


def due_for(s: Session, sub: Submission) -> datetime:
    """The due instant that applies to a submission (deadline override, then extension)."""
    return effective_due(sub.assessment.effective_due, extension_for(s, sub))


# --- grades and results -------------------------------------------------------------------------


class CellGrade(Protocol):
    """A graded cell as a grader reports it (see sadari.graders.autograde.CellScore)."""

    notebook: str
    cell: str
    score: float | None
    max_score: float
    kind: str  # auto | manual


LOG_CHARS = 4000  # of a cell's execution log, kept in the gradebook


def record_grades(
    s: Session,
    sub: Submission,
    grades: Iterable[CellGrade],
    *,
    actor: str,
    now: datetime,
    status: str = "graded",
    reason: str = "",
) -> Result:
    """A grading's cell grades (replacing earlier ones of the same cells) and the result
    recomputed with the grading's outcome: `status` other than graded (timed out, crashed,
    rejected) is kept on the result with `reason`. Only a grading calls this; manual grades read
    back later go through `record_manual_grades`, which keeps the outcome.
    """
    _store_grades(s, sub, grades, actor=actor, now=now)
    return compute_result(s, sub, now, grading=(status, reason))


def record_manual_grades(
    s: Session, sub: Submission, grades: Iterable[CellGrade], *, actor: str, now: datetime
) -> Result | None:
    """Manual grades given after a grading (formgrader's, read back from nbgrader's gradebook):
    the cells of kind manual are stored and the result recomputed, keeping the grading's status
    and reason (a crashed run stays crashed). Autograded cells are the grading's and stay as it
    left them. A submission without a grading to amend (none yet, or it failed) is left alone:
    None.

    Grades given in sadari's pages win: a cell a person graded there (origin `sadari`) is never
    overwritten, a cell formgrader has no points for is not emptied, and a cell whose points did
    not change is not written again (its version stays, so nobody grading it in the browser is
    told it changed)."""
    if sub.result is None or sub.result.status == "failed":
        return None
    existing = {
        (g.notebook, g.cell): g for g in s.scalars(select(Grade).filter_by(submission_id=sub.id))
    }
    fill = []
    for g in grades:
        row = existing.get((g.notebook, g.cell))
        if g.kind != "manual" or g.score is None:
            continue
        if row is not None and (row.origin == "sadari" or row.score == g.score):
            continue
        fill.append(g)
    _store_grades(s, sub, fill, actor=actor, now=now, origin="formgrader")
    return compute_result(s, sub, now)


def _store_grades(
    s: Session,
    sub: Submission,
    grades: Iterable[CellGrade],
    *,
    actor: str,
    now: datetime,
    origin: str = "grader",
) -> None:
    """Store cell grades as `origin` set them, each changed row's version bumped. A grading's
    manual cell that a person graded in sadari keeps that person's points and comment (the
    answer is the same submission's); an autograded cell's points changed by hand are the new
    grading's again (the change was of the earlier run's verdict)."""
    existing = {
        (g.notebook, g.cell): g for g in s.scalars(select(Grade).filter_by(submission_id=sub.id))
    }
    for cg in grades:
        row = existing.get((cg.notebook, cg.cell))
        log = getattr(cg, "log", None)
        if row is None:
            row = Grade(submission_id=sub.id, notebook=cg.notebook, cell=cg.cell, version=1)
            s.add(row)
            existing[(cg.notebook, cg.cell)] = row
        else:
            row.version = Grade.version + 1  # in SQL: a write racing this one sees it
            if row.origin == "sadari" and row.kind == "manual" and cg.kind == "manual":
                row.max_score = cg.max_score
                if log is not None:
                    row.log = log[:LOG_CHARS]
                continue
        row.score, row.max_score, row.kind = cg.score, cg.max_score, cg.kind
        row.graded_at, row.graded_by = naive_utc(now), actor
        row.origin, row.comment, row.reason = origin, None, None
        if log is not None:  # a manual grade imported later keeps the run's log
            row.log = log[:LOG_CHARS]
    s.flush()


class StaleGrade(Exception):
    """A grade written from a page that saw another version than the stored one: someone else
    graded the answer meanwhile. `current` is the stored grade (`grade_view`)."""

    def __init__(self, message: str, current: dict[str, Any]):
        super().__init__(message)
        self.current = current


def grade_view(g: Grade) -> dict[str, Any]:
    """A stored grade as the pages and the API show it."""
    return {
        "submission": g.submission_id,
        "notebook": g.notebook,
        "cell": g.cell,
        "score": g.score,
        "max_score": g.max_score,
        "kind": g.kind,
        "origin": g.origin,
        "comment": g.comment or "",
        "reason": g.reason or "",
        "version": g.version,
        "graded_by": g.graded_by,
        "graded_at": g.graded_at,
    }


def grade_of(s: Session, sub: Submission, notebook: str, cell: str) -> Grade:
    """The stored grade of one cell of a submission (NotFound if the gradebook has none)."""
    row = s.scalars(
        select(Grade).filter_by(submission_id=sub.id, notebook=notebook, cell=cell)
    ).first()
    if row is None:
        raise NotFound(
            f"submission {sub.id} has no graded cell {notebook}/{cell} / 채점할 칸이 없습니다"
        )
    return row


def write_grade(
    s: Session,
    sub: Submission,
    notebook: str,
    cell: str,
    *,
    points: Any,
    comment: str,
    version: Any,
    reason: str,
    actor: str,
    now: datetime,
) -> Grade:
    """A person's grade of one cell, given in sadari's pages: the points (0 to the cell's
    maximum), a comment for the trainee, and for an autograded cell the reason its points change.
    Written only over the `version` the person saw (else StaleGrade with the stored grade, and
    nothing written); the version is bumped, the result recomputed keeping the grading's status,
    and the change audited (`grade.manual`, or `grade.adjust` with the reason). A submission
    whose grading failed has nothing to amend (Invalid)."""
    if sub.result is None or sub.result.status == "failed":
        raise Invalid(
            f"submission {sub.id} has no grading to amend (not graded, or its grading failed) "
            "/ 채점 결과가 없는 제출물입니다"
        )
    row = grade_of(s, sub, notebook, cell)
    decision = decide(
        kind=row.kind,
        max_score=row.max_score,
        stored_version=row.version,
        points=points,
        version=version,
        reason=reason,
    )
    if decision.verdict == "invalid":
        raise Invalid(decision.message)
    if decision.verdict == "stale":
        raise StaleGrade(decision.message, grade_view(row))
    before = (row.score, row.comment or "")
    manual = row.kind == "manual"
    done = s.execute(
        update(Grade)
        .where(Grade.id == row.id, Grade.version == version)
        .values(
            score=float(points),
            comment=comment.strip() or None,
            reason=None if manual else reason.strip(),
            origin="sadari",
            graded_by=actor,
            graded_at=naive_utc(now),
            version=Grade.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    s.refresh(row)
    if done.rowcount != 1:  # written by someone else between our read and our write
        raise StaleGrade(
            f"someone else graded this answer meanwhile (version {row.version}) "
            "/ 그사이 다른 사람이 이 답을 채점했습니다",
            grade_view(row),
        )
    compute_result(s, sub, now)
    a = sub.assessment
    append_audit(
        s,
        now=now,
        actor=actor,
        action="grade.manual" if manual else "grade.adjust",
        target=f"user:{sub.member.username}",
        details={
            "assessment": a.slug,
            "cohort": a.stage.track.cohort.slug,
            "submission": sub.id,
            "notebook": notebook,
            "cell": cell,
            "from": before[0],
            "to": row.score,
            "max_score": row.max_score,
            "version": row.version,
        }
        | ({"comment": row.comment} if row.comment != (before[1] or None) else {}),
        reason=None if manual else row.reason,
    )
    return row


def record_failure(s: Session, sub: Submission, reason: str, *, now: datetime) -> Result:
    """A submission that could not be graded: it scores 0 until regraded, with the reason."""
    result = sub.result or Result(submission_id=sub.id)
    result.status = "failed"
    result.raw_score = result.final_score = 0.0
    result.max_score = result.max_score or 0.0
    result.late_seconds, result.penalty = 0.0, 0.0
    result.computed_at = naive_utc(now)
    result.details = {"reason": reason}
    if sub.result is None:
        sub.result = result  # not only s.add: a later call in this session must see it
    scorecards.refresh(s, [sub.member_id], now)
    return result


def compute_result(
    s: Session, sub: Submission, now: datetime, grading: tuple[str, str] | None = None
) -> Result:
    """Raw score from the stored grades, lateness against the due instant, final score; the
    trainee's scorecard follows.

    `grading` is the grader's (status, reason); without it the last grading's are kept, so a
    later manual grade does not hide that the run timed out or crashed.
    """
    result = _compute_result(s, sub, now, grading)
    scorecards.refresh(s, [sub.member_id], now)
    return result


def _compute_result(
    s: Session, sub: Submission, now: datetime, grading: tuple[str, str] | None = None
) -> Result:
    previous = dict(sub.result.details) if sub.result else {}
    grading_status, reason = grading or (
        previous.get("grading_status", "graded"),
        previous.get("reason", ""),
    )
    grades = list(s.scalars(select(Grade).filter_by(submission_id=sub.id)))
    raw = sum(g.score or 0.0 for g in grades)
    maximum = sum(g.max_score for g in grades)
    pending = [f"{g.notebook}:{g.cell}" for g in grades if g.score is None]
    due = due_for(s, sub)
    policy = LatePolicy.from_dict(sub.assessment.late_policy)
    late = lateness(policy, due, sub.submitted_at)
    result = sub.result or Result(submission_id=sub.id)
    result.status = "needs-manual" if pending else grading_status
    result.raw_score, result.max_score = raw, maximum
    result.late_seconds, result.penalty = late.seconds, late.penalty
    result.final_score = final_score(raw, late)
    result.computed_at = naive_utc(now)
    result.details = {
        "due_at": due.isoformat(),
        "submitted_at": sub.submitted_at.isoformat(),
        "policy": policy.as_dict(),
        "policy_text": policy.describe(),
        "pending_manual": pending,
        "grading_status": grading_status,
        "reason": reason,
    }
    if sub.result is None:
        sub.result = result  # not only s.add: a later call in this session must see it
    return result


def _auto_scores(s: Session, sub: Submission, grades: list[Grade]) -> dict[tuple[str, str], Any]:
    """The points the grading gave each autograded cell a person has changed since: the `from`
    of the first `grade.adjust` audit entry of the run that leads, version by version, to the
    stored grade (a regrade bumps the version without one, so it ends the run)."""
    from .models import AuditEntry

    changed = {
        (g.notebook, g.cell): g.version
        for g in grades
        if g.kind != "manual" and g.origin == "sadari"
    }
    if not changed:
        return {}
    steps: dict[tuple[str, str, int], Any] = {}
    for e in s.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "grade.adjust",
            AuditEntry.target == f"user:{sub.member.username}",
        )
    ):
        d = e.details or {}
        if d.get("submission") == sub.id:
            steps[(d.get("notebook"), d.get("cell"), d.get("version"))] = d.get("from")
    out: dict[tuple[str, str], Any] = {}
    for (notebook, cell), version in changed.items():
        while (notebook, cell, version) in steps:
            out[(notebook, cell)] = steps[(notebook, cell, version)]
            version -= 1
    return out


def cell_rows(s: Session, sub: Submission) -> list[dict[str, Any]]:
    """The submission's graded cells with their execution logs; an autograded cell a person
    changed also with the points its grading gave (`auto_score`, else None)."""
    grades = list(
        s.scalars(select(Grade).filter_by(submission_id=sub.id).order_by(Grade.notebook, Grade.id))
    )
    auto = _auto_scores(s, sub, grades)
    return [
        {
            "graded_at": g.graded_at,
            "auto_score": auto.get((g.notebook, g.cell)),
            "notebook": g.notebook,
            "cell": g.cell,
            "score": g.score,
            "max_score": g.max_score,
            "kind": g.kind,
            "log": g.log or "",
            "origin": g.origin,
            "comment": g.comment or "",
            "reason": g.reason or "",
            "version": g.version,
            "graded_by": g.graded_by,
        }
        for g in grades
    ]


def result_row(sub: Submission) -> dict[str, Any]:
    """A submission and its result as one flat row (exports, API)."""
    r = sub.result
    return {
        "username": sub.member.username,
        "name": sub.member.name,
        "assessment": sub.assessment.slug,
        "submission": sub.id,
        "submitted_at": sub.submitted_at,
        "status": r.status if r else "ungraded",
        "raw_score": r.raw_score if r else None,
        "max_score": r.max_score if r else None,
        "late_hours": round(r.late_seconds / 3600, 2) if r else None,
        "penalty_percent": round(r.penalty * 100, 2) if r else None,
        "final_score": r.final_score if r else None,
    }
