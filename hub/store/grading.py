"""The grading queue in the database: enqueue, lease, finish — each a short transaction.

- `enqueue` is idempotent: one job per (submission, release).
- `regrade` queues one submission again, deliberately: its job back to queued with fresh
  attempts (or a new one), audited with who, when and why.
- `claim` leases the oldest queued job, or one whose worker's lease ran out (the worker died);
  every claim counts an attempt, and a job out of attempts fails with a reason the trainee sees.
- `finish` records the result only if the caller still holds the lease, in the same transaction
  that marks the job done, so a job is never recorded twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..core.audit import naive_utc
from . import exchange as ex
from .models import GradingJob, Submission
from .repo import append_audit


def enqueue(s: Session, subs: Iterable[Submission], now: datetime, max_attempts: int = 3) -> int:
    """Queue each submission against its release unless already queued; the number added."""
    added = 0
    for sub in subs:
        exists = s.scalars(
            select(GradingJob.id).filter_by(submission_id=sub.id, release_id=sub.release_id)
        ).first()
        if exists is None:
            s.add(
                GradingJob(
                    submission_id=sub.id,
                    release_id=sub.release_id,
                    status="queued",
                    attempts=0,
                    max_attempts=max_attempts,
                    enqueued_at=naive_utc(now),
                )
            )
            added += 1
    s.flush()
    return added


def regrade(
    s: Session, sub: Submission, *, actor: str, reason: str, now: datetime, max_attempts: int = 3
) -> dict[str, Any]:
    """Queue one submission's grading again, on purpose (`enqueue` grades a submission once per
    release): its job of the submission's release goes back to queued with its attempts from
    zero, or a new job is added. A job already queued or running is left as it is (it grades the
    submission anyway). Audited (grading.regrade, the caller commits) with the reason and what
    the job and the result were. The result stays as it is until the new grading is recorded.

    Returns {"job", "status", "requeued"}: the job's id and status now, and whether this call
    queued it (False: it was queued or running already)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required / 사유를 입력하세요")
    job = s.scalars(
        select(GradingJob).filter_by(submission_id=sub.id, release_id=sub.release_id)
    ).first()
    before = job.status if job else None
    requeued = before not in ("queued", "running")
    if job is None:
        job = GradingJob(submission_id=sub.id, release_id=sub.release_id)
        s.add(job)
    if requeued:
        job.status, job.attempts, job.max_attempts = "queued", 0, max_attempts
        job.lease_owner = job.lease_until = job.finished_at = job.last_error = None
        job.enqueued_at = naive_utc(now)
    s.flush()
    r = sub.result
    append_audit(
        s,
        now=now,
        actor=actor,
        action="grading.regrade",
        target=f"user:{sub.member.username}",
        details={
            "assessment": sub.assessment.slug,
            "submission": sub.id,
            "job": job.id,
            "job_before": before,
            "result_before": (
                {"status": r.status, "final_score": r.final_score} if r is not None else None
            ),
            "requeued": requeued,
        },
        reason=reason,
    )
    return {"job": job.id, "status": job.status, "requeued": requeued}


def statuses(s: Session, submission_ids: Iterable[int]) -> dict[int, str]:
    """The grading status of each submission that has a job: queued or running when any of its
    jobs is, else its newest job's status."""
    out: dict[int, str] = {}
    ids = list(submission_ids)
    if not ids:
        return out
    for sid, status in s.execute(
        select(GradingJob.submission_id, GradingJob.status)
        .where(GradingJob.submission_id.in_(ids))
        .order_by(GradingJob.id)
    ):
        if out.get(sid) not in ("queued", "running"):
            out[sid] = status
    return out


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        GradingJob.status == "queued",
        (GradingJob.status == "running") & (GradingJob.lease_until < naive_utc(now)),
    )


def waiting(s: Session, now: datetime, queued_before: datetime | None = None) -> int:
    """How many jobs a worker could take now (queued, or leased by a worker that stopped),
    counting only those queued before `queued_before` if given."""
    q = select(func.count(GradingJob.id)).where(_claimable(now))
    if queued_before is not None:
        q = q.where(GradingJob.enqueued_at < naive_utc(queued_before))
    return int(s.scalar(q) or 0)


def claim(
    s: Session,
    owner: str,
    now: datetime,
    lease_seconds: float,
    only: Iterable[int] | None = None,
    queued_before: datetime | None = None,
) -> GradingJob | None:
    """Lease the next job (optionally among submission ids `only`, or queued before
    `queued_before`); None when there is none.

    The caller commits. Jobs out of attempts are failed on the way, with the reason recorded.
    """
    while True:
        q = select(GradingJob.id).where(_claimable(now)).order_by(GradingJob.id).limit(1)
        if only is not None:
            q = q.where(GradingJob.submission_id.in_(list(only)))
        if queued_before is not None:
            q = q.where(GradingJob.enqueued_at < naive_utc(queued_before))
        job_id = s.scalars(q).first()
        if job_id is None:
            return None
        taken = s.execute(
            update(GradingJob)
            .where(GradingJob.id == job_id, _claimable(now))
            .values(
                status="running",
                lease_owner=owner,
                attempts=GradingJob.attempts + 1,
                lease_until=naive_utc(now) + timedelta(seconds=lease_seconds),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            continue  # another worker was quicker
        job = s.get(GradingJob, job_id, populate_existing=True)
        assert job is not None
        if job.attempts > job.max_attempts:
            job.status, job.finished_at = "failed", naive_utc(now)
            job.last_error = f"the grader stopped {job.max_attempts} times while grading this"
            ex.record_failure(
                s,
                job.submission,
                f"{job.last_error} / 채점기가 {job.max_attempts}번 중단되었습니다",
                now=now,
            )
            s.flush()
            continue
        return job


def finish(s: Session, job_id: int, owner: str, now: datetime) -> bool:
    """Mark the job done if `owner` still holds its lease; False means: do not record anything
    (the lease ran out and the job belongs to another worker now). The caller records the
    result in the same transaction and commits."""
    done = s.execute(
        update(GradingJob)
        .where(
            GradingJob.id == job_id, GradingJob.lease_owner == owner, GradingJob.status == "running"
        )
        .values(status="done", finished_at=naive_utc(now))
        .execution_options(synchronize_session=False)
    ).rowcount
    return done == 1


def progress(s: Session, submission_ids: Iterable[int]) -> dict[str, int]:
    """Jobs of these submissions by status."""
    ids = list(submission_ids)
    rows = s.scalars(select(GradingJob.status).where(GradingJob.submission_id.in_(ids)))
    counts = Counter(rows)
    return {k: counts.get(k, 0) for k in ("queued", "running", "done", "failed")}
