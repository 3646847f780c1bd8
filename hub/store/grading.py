"""The grading queue in the database: enqueue, lease, finish — each a short transaction.

- `enqueue` is idempotent: one job per (submission, release).
- `regrade` queues one submission again, deliberately: its job back to queued with fresh
  attempts (or a new one), audited with who, when and why.
- `claim` leases the oldest queued job, or one whose worker's lease ran out (the worker died);
  every claim counts an attempt, and a job out of attempts fails with a reason the trainee sees.
- `finish` records the result only if the caller still holds the lease, in the same transaction
  that marks the job done, so a job is never recorded twice.
- `release` gives a stopping worker's leases back: the jobs are queued again, the attempt not
  counted, and whatever the stopped grading returns later is not recorded (`finish` refuses).
- `beat`, `gone`, `live`: each worker's heartbeat row, refreshed every HEARTBEAT_SECONDS while it
  runs and removed when it stops cleanly; a worker is live if seen within LIVE_SECONDS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..core.audit import naive_utc
from . import exchange as ex
from .models import GradingJob, GradingWorker, Submission
from .repo import append_audit

HEARTBEAT_SECONDS = 5.0  # how often a running worker says so
LIVE_SECONDS = 3 * HEARTBEAT_SECONDS  # a worker not seen for this long is taken for gone
FORGET_SECONDS = 24 * 3600  # the row of a worker that died unseen is dropped after this


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


def finish(s: Session, job_id: int, owner: str, now: datetime, outcome: str | None = None) -> bool:
    """Mark the job done (with the grader's `outcome`) if `owner` still holds its lease; False
    means: do not record anything (the lease ran out or was given back, and the job belongs to
    another worker now). The caller records the result in the same transaction and commits."""
    done = s.execute(
        update(GradingJob)
        .where(
            GradingJob.id == job_id, GradingJob.lease_owner == owner, GradingJob.status == "running"
        )
        .values(status="done", finished_at=naive_utc(now), outcome=outcome)
        .execution_options(synchronize_session=False)
    ).rowcount
    return done == 1


def release(s: Session, worker: str) -> int:
    """Give back the leases of a stopping worker (owners `worker` or `worker:<thread>`): its
    running jobs are queued again for any worker, the attempt not counted (the job did not stop
    the grader, the worker was stopped). A `finish` of theirs afterwards records nothing. The
    number of jobs given back; the caller commits."""
    owned = or_(
        GradingJob.lease_owner == worker,
        GradingJob.lease_owner.startswith(worker + ":", autoescape=True),
    )
    return int(
        s.execute(
            update(GradingJob)
            .where(owned, GradingJob.status == "running")
            .values(
                status="queued",
                lease_owner=None,
                lease_until=None,
                attempts=case((GradingJob.attempts > 0, GradingJob.attempts - 1), else_=0),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def unfinished(s: Session, subs: Iterable[Submission]) -> list[int]:
    """The ids of the queued or running jobs grading these submissions (against their release):
    what a caller that queued them follows."""
    ids: list[int] = []
    for sub in subs:
        ids += s.scalars(
            select(GradingJob.id).where(
                GradingJob.submission_id == sub.id,
                GradingJob.release_id == sub.release_id,
                GradingJob.status.in_(("queued", "running")),
            )
        )
    return ids


def jobs_progress(s: Session, job_ids: Iterable[int]) -> tuple[dict[str, int], dict[str, int]]:
    """Jobs by status (queued, running, done, failed), and the done ones by the grader's
    outcome (a job done before outcomes were kept counts as graded)."""
    ids = list(job_ids)
    status: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for i in range(0, len(ids), 500):
        for st, outcome in s.execute(
            select(GradingJob.status, GradingJob.outcome).where(GradingJob.id.in_(ids[i : i + 500]))
        ):
            status[st] += 1
            if st == "done":
                outcomes[outcome or "graded"] += 1
    return {k: status.get(k, 0) for k in ("queued", "running", "done", "failed")}, dict(outcomes)


def beat(s: Session, worker: str, *, who: str, pid: int, host: str, now: datetime) -> None:
    """Say that `worker` runs (its row added or its `seen_at` refreshed); rows of workers unseen
    for FORGET_SECONDS (they died without saying so) go. The caller commits."""
    at = naive_utc(now)
    row = s.get(GradingWorker, worker)
    if row is None:
        s.add(GradingWorker(id=worker, who=who, pid=pid, host=host, started_at=at, seen_at=at))
    else:
        row.seen_at = at
    s.execute(
        delete(GradingWorker).where(GradingWorker.seen_at < at - timedelta(seconds=FORGET_SECONDS))
    )
    s.flush()


def gone(s: Session, worker: str) -> None:
    """`worker` stopped cleanly: its row goes. The caller commits."""
    s.execute(delete(GradingWorker).where(GradingWorker.id == worker))


def live(s: Session, now: datetime, within: float = LIVE_SECONDS) -> list[GradingWorker]:
    """The workers seen within `within` seconds, oldest first."""
    since = naive_utc(now) - timedelta(seconds=within)
    return list(
        s.scalars(
            select(GradingWorker)
            .where(GradingWorker.seen_at >= since)
            .order_by(GradingWorker.started_at)
        )
    )


def progress(s: Session, submission_ids: Iterable[int]) -> dict[str, int]:
    """Jobs of these submissions by status."""
    ids = list(submission_ids)
    rows = s.scalars(select(GradingJob.status).where(GradingJob.submission_id.in_(ids)))
    counts = Counter(rows)
    return {k: counts.get(k, 0) for k in ("queued", "running", "done", "failed")}
