"""The grading queue in the database: enqueue, lease, finish — each a short transaction.

- `enqueue` is idempotent: one job per (submission, release).
- `claim` leases the oldest queued job, or one whose worker's lease ran out (the worker died);
  every claim counts an attempt, and a job out of attempts fails with a reason the trainee sees.
- `finish` records the result only if the caller still holds the lease, in the same transaction
  that marks the job done, so a job is never recorded twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..core.audit import naive_utc
from . import exchange as ex
from .models import GradingJob, Submission


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
