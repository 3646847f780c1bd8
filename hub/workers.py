"""Grading workers: the only place submissions are graded.

`queue` puts every trainee's latest submission of an assessment on the grading queue (the API and
the CLI only queue); a `Worker` owns one grader for its lifetime, holds a heartbeat while it runs
and leases jobs one at a time (`work`), so that several may run at once and a job whose worker
stopped or died is graded by another, once; `follow` is what the CLI shows while the workers grade.
The service's own worker (the embedded default), `sadari grading work --forever` and the chart's
workers are all Workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ..graders.autograde import Autograder, Job
from . import assessments
from .assessments import OperationError, Ops, Progress
from .store import exchange as ex
from .store import grading


def queue(ops: Ops, aid: str, cohort: str | None = None) -> tuple[int, list[int], list[int]]:
    """Queue every trainee's latest submission (once per release): how many jobs were added, the
    submissions' ids, and the ids of their jobs not finished yet (what a caller follows)."""
    with ops.sessions.begin() as s:
        subs = ex.submissions_for(s, ex.cohort_assessments(s, aid, cohort))
        added = grading.enqueue(s, subs, ops.now())
        return added, [sub.id for sub in subs], grading.unfinished(s, subs)


def autograde(
    ops: Ops,
    aid: str,
    grader: Autograder | None,
    cohort: str | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    lease_seconds: float = 900.0,
    queue_only: bool = False,
    worker: Worker | None = None,
) -> dict[str, int]:
    """Queue every trainee's latest submission (once per release) and, unless `queue_only`, grade
    those jobs until none is left, in this process: as `worker` (its grader, threads, leases and
    stop) or with `grader` and `workers` threads. Each result is recorded as its grading
    finishes; a submission that timed out or crashed keeps the points its tests earned before,
    with the status and the reason. (`sadari assessment autograde` queues and follows the
    workers' progress with `follow`, or grades here as a Worker with --work.)"""
    added, ids, _ = queue(ops, aid, cohort)
    if queue_only:
        return {"queued": added}
    if worker is not None:
        return worker.grade(only=ids, progress=progress)
    assert grader is not None, "autograde needs a grader or a worker to grade in this process"
    return work(
        ops, grader, workers=workers, only=ids, lease_seconds=lease_seconds, progress=progress
    )


class NoWorker(OperationError):
    """Nobody grades the jobs followed: no grading worker has been live for a while."""

    def __init__(self, waiting: int):
        self.waiting = waiting
        super().__init__(f"no grading worker is running; {waiting} job(s) wait in the queue")


def follow(
    ops: Ops,
    jobs: list[int],
    submissions: list[int],
    progress: Progress | None = None,
    every: float = 0.5,
    patience: float = grading.LIVE_SECONDS,
) -> dict[str, int]:
    """Wait while the workers grade `jobs` (of `submissions`), reporting the progress; then the
    outcomes as `work` counts them (failed: every failed job of the submissions). Reads the
    queue only: stopping here (Ctrl-C) leaves the jobs to the workers. Raises NoWorker when no
    worker has been live for `patience` seconds while some of the jobs still wait."""
    total, shown, alone_since = len(jobs), (-1, -1), None
    redrawn = time.monotonic()
    if progress and total:
        progress(0, total, "")
    while True:
        with ops.sessions() as s:
            status, outcomes = grading.jobs_progress(s, jobs)
            finished = status["done"] + status["failed"]
            live = grading.live(s, ops.now()) if finished < total else []
        now = time.monotonic()
        if progress and total and ((finished, status["running"]) != shown or now - redrawn > 5):
            progress(finished, total, f"{status['running']} grading" if finished < total else "")
            shown, redrawn = (finished, status["running"]), now
        if finished >= total:
            break
        if live:
            alone_since = None
        elif alone_since is None:
            alone_since = now
        elif now - alone_since > patience:
            raise NoWorker(total - finished)
        time.sleep(every)
    counts = dict(outcomes)
    with ops.sessions() as s:
        failed = grading.progress(s, submissions)["failed"]
    if failed:
        counts["failed"] = failed
    return counts


def work(
    ops: Ops,
    grader: Autograder,
    *,
    workers: int = 1,
    only: list[int] | None = None,
    lease_seconds: float = 900.0,
    progress: Progress | None = None,
    queued_before: datetime | None = None,
    owner: str | None = None,
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """Grade queued jobs (of the submissions `only`, or queued before `queued_before`, or all)
    until none is left, or `stop` is set (then no new job is taken); the outcome statuses.
    Leases are held as `owner`:<thread> (default: this host and process). Safe to run in several
    processes at once: jobs are leased one at a time."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    if only is not None:
        total = len(only)
    else:
        with ops.sessions() as s:
            total = grading.waiting(s, ops.now(), queued_before)
    done = 0
    if progress and total:
        progress(0, total, "")

    def loop(owner: str) -> None:
        nonlocal done
        while stop is None or not stop.is_set():
            with ops.sessions.begin() as s:
                job = grading.claim(s, owner, ops.now(), lease_seconds, only, queued_before)
                if job is None:
                    return
                job_id, sub = job.id, job.submission
                a = sub.assessment
                c, username, sha = a.stage.track.cohort.slug, sub.member.username, sub.sha256
                aid, at = a.slug, sub.submitted_at
            course = assessments.prepare(ops, c, aid)  # (tests replace it)
            dest = course / "submitted" / username / aid
            assessments._extract(ops.blobs.get(sha), dest)
            (dest / "timestamp.txt").write_text(assessments._stamp(at))
            try:  # released files whose trainee copy counts
                keep = ops.spec(aid).exclude_overwriting
            except OperationError:  # no longer in the curriculum: graded from the course's copy
                keep = ()
            outcome = grader.grade(Job(course, aid, username, keep))
            with ops.sessions.begin() as s:
                if not grading.finish(s, job_id, owner, ops.now(), outcome.status):
                    continue  # our lease ran out: the job is another worker's now
                sub = ex.submission(s, sub.id)
                if outcome.cells:
                    ex.record_grades(
                        s,
                        sub,
                        outcome.cells,
                        actor=ops.actor,
                        now=ops.now(),
                        status=outcome.status,
                        reason=outcome.reason,
                    )
                else:
                    ex.record_failure(s, sub, outcome.reason, now=ops.now())
            with lock:
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
                done += 1
                if progress:
                    progress(done, max(total, done), username)

    base = owner or f"{socket.gethostname()}:{os.getpid()}"
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for future in [pool.submit(loop, f"{base}:{i}") for i in range(max(1, workers))]:
            future.result()
    if only is not None:
        with ops.sessions() as s:
            failed = grading.progress(s, only)["failed"]
        if failed:
            counts["failed"] = failed
    return counts


GRACE_SECONDS = 2.0  # a stopping worker waits this long for the job in hand to end
SERVICE_WORKER = "sadari-service"  # who the service's own worker is in grading_workers
log = logging.getLogger("sadari.grading")


class Heartbeat:
    """A grading worker's row in grading_workers, refreshed every `every` seconds by a thread
    while it runs (`start`), removed when it stops cleanly (`stop`). Its `id` (host:pid:random)
    is what the worker's leases are held as."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        who: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        every: float = grading.HEARTBEAT_SECONDS,
    ):
        self.sessions, self.who, self.now, self.every = sessions, who, now, every
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Say so now."""
        with self.sessions.begin() as s:
            grading.beat(
                s, self.id, who=self.who, pid=os.getpid(), host=socket.gethostname(), now=self.now()
            )

    def _forever(self) -> None:
        while not self._stopped.wait(self.every):
            try:
                self.beat()
            except Exception as e:  # the database away for a moment: say so at the next beat
                log.warning("grading worker heartbeat failed: %s", e)

    def start(self) -> Heartbeat:
        """The first beat now (live at once), then one every `every` seconds."""
        try:
            self.beat()
        except Exception as e:  # the database away for a moment: the next beats try again
            log.warning("grading worker heartbeat failed: %s", e)
        self._thread = threading.Thread(target=self._forever, name="sadari-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """No more beats; the row goes."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            with self.sessions.begin() as s:
                grading.gone(s, self.id)
        except Exception as e:  # the row is forgotten once it is old (store/grading.py)
            log.warning("grading worker could not remove its heartbeat: %s", e)


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, their children, ...), from /proc; [] elsewhere."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _end_descendants() -> int:
    """Kill every process this one started that is still running (a grader whose `close` cannot
    stop the grading in hand: nbgrader's subprocess and its kernel). How many there were."""
    found = _descendants(os.getpid())
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(found)


class Worker:
    """A grading worker: one grader for its lifetime, a heartbeat while it runs (`start`), its
    leases held under the heartbeat's id. `grade` grades what waits (or the jobs of `only`),
    `forever` also waits for more; `close` stops it (see there). Every path that grades — the
    CLI's --work, `sadari grading work` with or without --forever — is one of these."""

    def __init__(
        self,
        ops: Ops,
        grader: Autograder | None = None,
        *,
        who: str,
        workers: int = 1,
        lease_seconds: float = 900.0,
        make_grader: Callable[[], Autograder] | None = None,
    ):
        """`grader`, or `make_grader` to make it when the first job comes (the service's worker
        is live from its start, but claims sandbox uids and kernels only when needed)."""
        if (grader is None) == (make_grader is None):
            raise ValueError("a Worker needs a grader or make_grader, not both")
        self.ops = ops
        self._grader, self._make = grader, make_grader
        self.workers, self.lease_seconds = workers, lease_seconds
        self.heartbeat = Heartbeat(ops.sessions, who, ops.now)
        self.id = self.heartbeat.id
        self.stopping = threading.Event()
        self._closed = False

    def start(self) -> Worker:
        """Live: the heartbeat starts."""
        self.heartbeat.start()
        return self

    @property
    def grader(self) -> Autograder:
        """The worker's one grader (made on first use when given as a factory)."""
        if self._grader is None:
            assert self._make is not None
            self._grader = self._make()
        return self._grader

    def grade(
        self,
        only: list[int] | None = None,
        progress: Progress | None = None,
        queued_before: datetime | None = None,
    ) -> dict[str, int]:
        """Grade the waiting jobs (of submissions `only`, or queued before `queued_before`)
        until none is left or it stops."""
        return work(
            self.ops,
            self.grader,
            workers=self.workers,
            only=only,
            lease_seconds=self.lease_seconds,
            progress=progress,
            queued_before=queued_before,
            owner=self.id,
            stop=self.stopping,
        )

    def forever(
        self, poll: float, report: Callable[[dict[str, int]], None] | None = None
    ) -> dict[str, int]:
        """Grade what waits, then look again every `poll` seconds, until it stops; the outcomes
        of all its jobs (`report` gets each round's that graded any)."""
        totals: Counter[str] = Counter()
        while not self.stopping.is_set():
            counts = self.grade()
            if counts:
                totals.update(counts)
                if report:
                    report(counts)
            self.stopping.wait(poll)
        return dict(totals)

    def close(self, runner: threading.Thread | None = None, grace: float = GRACE_SECONDS) -> int:
        """Stop: no new job is taken; the job in hand (in `runner`, the thread grading) finishes
        if it ends within `grace` seconds, else its lease is given back (the job is queued for the
        next worker and whatever this grading returns later is not recorded). Then the grader is
        closed (sandbox uids released, kernels killed, threads ended), anything it left running
        killed, and the heartbeat removed. The number of jobs given back."""
        if self._closed:
            return 0
        self._closed = True
        self.stopping.set()
        released = 0
        try:
            if runner is not None:
                runner.join(grace)
                if runner.is_alive():
                    with self.ops.sessions.begin() as s:
                        released = grading.release(s, self.id)
                    log.info("grading worker %s gave back %d job(s)", self.id, released)
            try:
                if self._grader is not None:
                    self._grader.close()
            finally:
                if runner is not None and runner.is_alive():
                    runner.join(0.5)
                    if runner.is_alive():  # e.g. nbgrader's subprocess: the grader cannot stop it
                        _end_descendants()
                        runner.join(5)
        finally:
            self.heartbeat.stop()
        return released
