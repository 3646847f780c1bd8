"""The grading queue on SQLite and PostgreSQL: leases, bounded retries, recorded once; a worker
killed mid-job and a queue left for a later worker, with the real `sadari` CLI processes; workers'
heartbeats, `sadari grading work --forever` stopped mid-job (the job given back, recorded once by
the next worker), and `sadari assessment autograde` following the workers (or saying that none
runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sadari.hub import assessments as ops_
from sadari.hub import workers as workers_
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import grading, repo
from sadari.hub.store.db import make_engine, session_factory
from sadari.hub.store.models import Grade, GradingJob, GradingWorker, Result
from tests.support.hub import BIN, ROOT, hub_env

AID = "pm-basics-check"
COHORT = "2026-seoul-1"
SOURCE = ROOT / f"labs/product-manager/basics/assessments/{AID}/{AID}.ipynb"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ROSTER = f"username,name,cohort,track\npm1,가,{COHORT},product-manager\npm2,나,{COHORT},product-manager\n"


@pytest.fixture
def ops(migrated_url: str, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:
    sessions = session_factory(make_engine(migrated_url))
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        data = ROSTER.encode()
        repo.import_roster(
            s,
            parse_roster(data, "r.csv", curriculum),
            data=data,
            file="r.csv",
            actor="admin",
            now=NOW,
        )
        (a,) = ex.cohort_assessments(s, AID, COHORT)  # released (the grading tests release again)
        ex.record_release(
            s, a, sha256="0" * 64, size=0, notebooks=[f"{AID}.ipynb"], actor="instructor", now=NOW
        )
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp_path), db_url=migrated_url)
    return ops_.Ops(
        settings, sessions, LocalBlobStore(settings.exchange_dir), curriculum, "instructor"
    )


def submit(ops: ops_.Ops, user: str, sleep: float = 0) -> int:
    import io
    import zipfile

    nb = json.loads(SOURCE.read_text())
    if sleep:
        nb["cells"].insert(
            0,
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": f"import time\ntime.sleep({sleep})",
            },
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{AID}.ipynb", json.dumps(nb))
    sha = ops.blobs.put(buf.getvalue())
    with ops.sessions.begin() as s:
        m, a, r = ex.trainee_assessment(s, user, AID)
        return ex.record_submission(
            s, m, a, r, sha256=sha, size=len(buf.getvalue()), files=[f"{AID}.ipynb"], now=NOW
        ).id


def cli(ops: ops_.Ops, *args: str, **kw):  # type: ignore[no-untyped-def]
    env = hub_env(
        Path(ops.settings.data_dir),
        ops.settings.db_url,
        SADARI_GRADER="nbgrader",
        SADARI_GRADING_WORKERS="1",
    )
    return subprocess.Popen(
        [str(BIN / "sadari"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )


def test_leases_retries_and_recording_once(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm1")
    with ops.sessions.begin() as s:
        subs = [ex.submission(s, sid)]
        assert grading.enqueue(s, subs, NOW) == 1
        assert grading.enqueue(s, subs, NOW) == 0  # idempotent
    with ops.sessions.begin() as s:
        first = grading.claim(s, "a", NOW, 60)
        assert first is not None and first.attempts == 1
        assert grading.claim(s, "b", NOW, 60) is None  # leased
    later = NOW + timedelta(seconds=61)  # worker "a" died: its lease ran out
    with ops.sessions.begin() as s:
        second = grading.claim(s, "b", later, 60)
        assert second is not None and second.id == first.id and second.attempts == 2
    with ops.sessions.begin() as s:
        assert grading.finish(s, first.id, "a", later) is False  # "a" may not record
        assert grading.finish(s, first.id, "b", later) is True
    with ops.sessions.begin() as s:
        assert grading.claim(s, "c", later + timedelta(hours=1), 60) is None  # done stays done


def test_a_job_out_of_attempts_fails_with_a_reason(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm1")
    with ops.sessions.begin() as s:
        grading.enqueue(s, [ex.submission(s, sid)], NOW, max_attempts=2)
    at = NOW
    for owner in ("a", "b"):
        with ops.sessions.begin() as s:
            assert grading.claim(s, owner, at, 10) is not None
        at += timedelta(seconds=11)
    with ops.sessions.begin() as s:
        assert grading.claim(s, "c", at, 10) is None
        job = s.scalars(select(GradingJob)).one()
        assert (job.status, job.attempts) == ("failed", 3)
        result = ex.submission(s, sid).result
        assert result.status == "failed" and "stopped 2 times" in result.details["reason"]


def test_a_worker_killed_mid_job_is_retried_and_recorded_once(ops: ops_.Ops) -> None:
    ops_.release(ops, AID, COHORT)
    sid = submit(ops, "pm1", sleep=8)
    worker = cli(ops, "assessment", "autograde", AID, "--work", "--lease", "4")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with ops.sessions() as s:
            job = s.scalars(select(GradingJob)).first()
            if job is not None and job.status == "running":
                break
        assert worker.poll() is None, worker.communicate()[0]
        time.sleep(0.2)
    time.sleep(1)  # well inside the 8 s cell
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    with ops.sessions() as s:
        assert s.scalars(select(Result)).first() is None  # nothing recorded by the dead worker
    time.sleep(4)  # its lease runs out
    with ops.sessions() as s:
        job = s.scalars(select(GradingJob)).one()
        assert (job.status, job.attempts) == ("running", 1), (job.status, job.lease_until)
    rescuer = cli(ops, "grading", "work", "--lease", "60")
    out, _ = rescuer.communicate(timeout=180)
    assert rescuer.returncode == 0, out
    assert "grading: 1 graded" in out
    with ops.sessions() as s:
        job = s.scalars(select(GradingJob)).one()
        assert (job.status, job.attempts) == ("done", 2)
        assert len(s.scalars(select(Result)).all()) == 1
        result = ex.submission(s, sid).result
        assert (result.status, result.raw_score) == ("needs-manual", 8.0)  # the memo waits
        cells = [(g.notebook, g.cell) for g in s.scalars(select(Grade))]
        assert len(cells) == len(set(cells))


def test_jobs_queued_before_a_restart_are_all_graded(ops: ops_.Ops) -> None:
    ops_.release(ops, AID, COHORT)
    ids = [submit(ops, "pm1"), submit(ops, "pm2")]
    queued = cli(ops, "assessment", "autograde", AID, "--queue-only")
    out, _ = queued.communicate(timeout=120)
    assert f"{AID}: 2 queued" in out, out
    with ops.sessions() as s:
        assert grading.progress(s, ids) == {"queued": 2, "running": 0, "done": 0, "failed": 0}
    later = cli(ops, "grading", "work")  # a worker started after the "restart"
    out, _ = later.communicate(timeout=180)
    assert "grading: 2 graded" in out, out
    assert "2/2" in out  # the progress bar knew the total
    with ops.sessions() as s:
        assert grading.progress(s, ids)["done"] == 2


def start_service(ops: ops_.Ops) -> subprocess.Popen[str]:
    """The sadari service alone (no hub), grading with nbgrader, looking at the queue every 1 s,
    in its own process group."""
    env = hub_env(
        Path(ops.settings.data_dir),
        ops.settings.db_url,
        SADARI_GRADER="nbgrader",
        SADARI_GRADING_WORKERS="1",
        SADARI_GRADING_POLL_SECONDS="1",
    )
    env.pop("JUPYTERHUB_API_TOKEN", None)  # the service alone, no hub
    return subprocess.Popen(
        [str(BIN.parent / "bin" / "python"), "-m", "sadari.hub.service"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_the_service_grades_what_was_queued_before_it_restarted(ops: ops_.Ops) -> None:
    """Jobs queued while no service runs are graded by the service once it (re)starts."""
    ops_.release(ops, AID, COHORT)
    ids = [submit(ops, "pm1"), submit(ops, "pm2")]
    queued = cli(ops, "assessment", "autograde", AID, "--queue-only")
    out, _ = queued.communicate(timeout=120)
    assert f"{AID}: 2 queued" in out, out
    time.sleep(1.5)  # the service takes jobs queued at least one poll interval ago
    service = start_service(ops)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with ops.sessions() as s:
                if grading.progress(s, ids)["done"] == 2:
                    break
            assert service.poll() is None, service.communicate()[0][-3000:]
            time.sleep(0.5)
        with ops.sessions() as s:
            assert grading.progress(s, ids) == {"queued": 0, "running": 0, "done": 2, "failed": 0}
            assert len(s.scalars(select(Result)).all()) == 2
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.communicate(timeout=30)


def test_a_released_job_is_queued_again_and_its_grading_not_recorded(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm1")
    with ops.sessions.begin() as s:
        grading.enqueue(s, [ex.submission(s, sid)], NOW)
    with ops.sessions.begin() as s:
        job = grading.claim(s, "host:1:ab:0", NOW, 60)
        assert job is not None and job.attempts == 1
    with ops.sessions.begin() as s:
        assert grading.release(s, "host:1:a") == 0  # another worker's prefix: not its leases
        assert grading.release(s, "host:1:ab") == 1
    with ops.sessions.begin() as s:
        assert grading.finish(s, job.id, "host:1:ab:0", NOW, "graded") is False
        again = s.scalars(select(GradingJob)).one()
        assert (again.status, again.attempts, again.lease_owner) == ("queued", 0, None)
        assert grading.claim(s, "other:2:cd:0", NOW, 60) is not None  # the next worker takes it


def test_heartbeats_tell_live_workers(ops: ops_.Ops) -> None:
    with ops.sessions.begin() as s:
        grading.beat(s, "h:1:aa", who="cli:x", pid=1, host="h", now=NOW)
        grading.beat(s, "h:2:bb", who="cli:y", pid=2, host="h", now=NOW - timedelta(minutes=5))
        grading.beat(s, "h:3:cc", who="cli:z", pid=3, host="h", now=NOW - timedelta(days=2))
    with ops.sessions.begin() as s:
        assert [w.id for w in grading.live(s, NOW)] == ["h:1:aa"]
        grading.beat(s, "h:2:bb", who="cli:y", pid=2, host="h", now=NOW)  # refreshed
    with ops.sessions.begin() as s:
        assert {w.id for w in grading.live(s, NOW)} == {"h:1:aa", "h:2:bb"}
        # the one unseen for a day was forgotten; a clean stop removes the row
        assert s.get(GradingWorker, "h:3:cc") is None
        grading.gone(s, "h:1:aa")
    with ops.sessions() as s:
        assert [w.id for w in grading.live(s, NOW)] == ["h:2:bb"]


def start_worker(ops: ops_.Ops, grader: str = "nbgrader") -> subprocess.Popen[str]:
    """`sadari grading work --forever` in its own process group, live once it returns."""
    env = hub_env(
        Path(ops.settings.data_dir),
        ops.settings.db_url,
        SADARI_GRADER=grader,
        SADARI_GRADING_WORKERS="1",
        SADARI_GRADING_POLL_SECONDS="1",
    )
    proc = subprocess.Popen(
        [str(BIN / "sadari"), "grading", "work", "--forever"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with ops.sessions() as s:
            if any(w.pid == proc.pid for w in grading.live(s, datetime.now(UTC))):
                return proc
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)
    raise AssertionError("the worker never said it was live")


def tree(pid: int) -> set[tuple[int, str]]:
    """The processes below `pid` (kernels start sessions of their own: not its process group),
    each as (pid, start time) so that a reused pid is not taken for a survivor."""
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), fields[19])
    out, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, started) in stats.items():
            if ppid == parent:
                out.add((child, started))
                todo.append(child)
    return out


def still_running(procs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Those of `procs` still running (not zombies)."""
    left = set()
    for pid, started in procs:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[19] == started and fields[0] != "Z":
            left.add((pid, started))
    return left


@pytest.mark.parametrize("grader", ["nbgrader", pytest.param("sandbox", marks=pytest.mark.sandbox)])
def test_sigterm_mid_job_gives_the_job_back_and_the_next_worker_records_it_once(
    ops: ops_.Ops, grader: str
) -> None:
    """`sadari grading work --forever` stopped with SIGTERM while a cell sleeps: it exits within
    seconds, leaving nothing running (nbgrader's subprocess and kernel, or the sandbox's kernels),
    its job queued again with the attempt given back and its heartbeat gone; the next worker
    grades the job and it is recorded once."""
    if grader == "sandbox":
        from sadari.graders.sandbox import local

        if why := local.available():
            pytest.skip(f"the local sandbox cannot run here: {why}")
    ops_.release(ops, AID, COHORT)
    worker = start_worker(ops, grader)
    try:
        sid = submit(ops, "pm1", sleep=12)
        with ops.sessions.begin() as s:
            grading.enqueue(s, [ex.submission(s, sid)], datetime.now(UTC))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ops.sessions() as s:
                if s.scalars(select(GradingJob.status)).one() == "running":
                    break
            assert worker.poll() is None, worker.communicate()[0]
            time.sleep(0.2)
        time.sleep(1.5)  # the grading is at work, well inside the 12 s cell
        grading_procs = tree(worker.pid)
        assert grading_procs  # nbgrader and its kernel, or the sandbox's kernels
        t0 = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        took = time.monotonic() - t0
        out, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()
    assert worker.returncode == 0, out
    # the 2 s grace, closing, and the interpreter's exit (seconds of its own on a loaded machine);
    # the local sandbox's close waits for its pool's refiller to finish starting a kernel ahead
    # (up to its start timeout + 5 s: graders/sandbox/pool.py), measured at 16 s under load
    assert took < (8 if grader == "nbgrader" else 30), (took, out)
    assert "1 job(s) given back to the queue" in out, out
    assert still_running(grading_procs) == set(), "the grading outlived its worker"
    with ops.sessions() as s:
        job = s.scalars(select(GradingJob)).one()
        assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)
        assert s.scalars(select(Result)).first() is None
        assert grading.live(s, datetime.now(UTC)) == []  # stopped cleanly: its row went
    nxt = cli(ops, "grading", "work")
    out, _ = nxt.communicate(timeout=180)
    assert nxt.returncode == 0 and "grading: 1 graded" in out, out
    with ops.sessions() as s:
        job = s.scalars(select(GradingJob)).one()
        assert (job.status, job.attempts, job.outcome) == ("done", 1, "graded")
        assert len(s.scalars(select(Result)).all()) == 1
        cells = [(g.notebook, g.cell) for g in s.scalars(select(Grade))]
        assert cells and len(cells) == len(set(cells))


def test_the_cli_follows_the_jobs_another_worker_grades(ops: ops_.Ops) -> None:
    ops_.release(ops, AID, COHORT)
    ids = [submit(ops, "pm1"), submit(ops, "pm2")]
    worker = start_worker(ops)
    try:
        follower = cli(ops, "assessment", "autograde", AID)
        out, _ = follower.communicate(timeout=180)
        assert follower.returncode == 0, out
        assert f"{AID}: 2 graded\n" in out and "2/2" in out, out
        with ops.sessions() as s:
            assert grading.progress(s, ids)["done"] == 2
            owners = {j.lease_owner for j in s.scalars(select(GradingJob))}
            (w,) = grading.live(s, datetime.now(UTC))
            assert owners == {f"{w.id}:0"}  # graded by the worker, not by the CLI
        worker.send_signal(signal.SIGINT)
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0 and "worker stopped (2 graded)" in out, out
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()


def test_without_a_live_worker_the_cli_says_so_and_leaves_the_jobs_queued(
    ops: ops_.Ops,
) -> None:
    ops_.release(ops, AID, COHORT)
    ids = [submit(ops, "pm1")]
    with ops.sessions.begin() as s:  # a worker that died a minute ago does not count
        grading.beat(
            s,
            "gone:1:aa",
            who="cli:x",
            pid=1,
            host="gone",
            now=datetime.now(UTC) - timedelta(0, 60),
        )
    follower = cli(ops, "assessment", "autograde", AID)
    out, _ = follower.communicate(timeout=120)
    assert follower.returncode == 3, out
    assert "no grading worker is running" in out and "sadari grading work --forever" in out, out
    assert f"sadari assessment autograde {AID} --work" in out, out
    with ops.sessions() as s:
        assert grading.progress(s, ids) == {"queued": 1, "running": 0, "done": 0, "failed": 0}


def test_ctrl_c_stops_the_following_not_the_jobs(ops: ops_.Ops) -> None:
    ops_.release(ops, AID, COHORT)
    ids = [submit(ops, "pm1")]
    stop = threading.Event()

    def busy_worker() -> None:  # a live worker (busy elsewhere: it takes nothing), kept live
        while not stop.is_set():  # however slowly the CLI starts on a loaded machine
            with ops.sessions.begin() as s:
                grading.beat(s, "busy:1:aa", who="cli:x", pid=1, host="busy", now=datetime.now(UTC))
            stop.wait(1)

    beating = threading.Thread(target=busy_worker)
    beating.start()
    try:
        time.sleep(0.5)
        follower = cli(ops, "assessment", "autograde", AID)
        seen: list[str] = []  # what it printed so far, read as it comes
        reader = threading.Thread(
            target=lambda: seen.extend(iter(lambda: follower.stdout.read(1), ""))
        )
        reader.start()
        deadline = time.monotonic() + 120  # a cold start (a fresh checkout) takes a while
        while "0/1" not in "".join(seen) and time.monotonic() < deadline:
            assert follower.poll() is None, "".join(seen)
            time.sleep(0.2)
        time.sleep(1)  # following: its progress bar is drawn
        assert follower.poll() is None, "".join(seen)
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        reader.join(timeout=30)
        out = "".join(seen)
    finally:
        stop.set()
        beating.join()
    assert follower.returncode == 130, out
    assert "stopped following" in out and "stay queued" in out, out
    with ops.sessions() as s:
        assert grading.progress(s, ids) == {"queued": 1, "running": 0, "done": 0, "failed": 0}


def test_the_service_stopped_mid_job_gives_the_job_back_and_leaves_nothing_running(
    ops: ops_.Ops,
) -> None:
    """The service's own worker is a Worker like `sadari grading work`: SIGTERM (what a service
    manager sends; the hub sends SIGINT) while a cell sleeps gives the job back to the queue,
    ends its grading and removes its heartbeat; the next worker records the job once."""
    ops_.release(ops, AID, COHORT)
    sid = submit(ops, "pm1", sleep=12)
    service = start_service(ops)
    try:
        with ops.sessions.begin() as s:
            grading.enqueue(s, [ex.submission(s, sid)], datetime.now(UTC) - timedelta(seconds=5))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with ops.sessions() as s:
                if s.scalars(select(GradingJob.status)).one() == "running":
                    break
            assert service.poll() is None, service.communicate()[0][-3000:]
            time.sleep(0.2)
        time.sleep(1.5)  # nbgrader is at work, well inside the 12 s cell
        grading_procs = tree(service.pid)
        assert grading_procs
        with ops.sessions() as s:
            (live,) = grading.live(s, datetime.now(UTC))
            assert (live.who, live.pid) == (workers_.SERVICE_WORKER, service.pid)
        t0 = time.monotonic()
        service.send_signal(signal.SIGTERM)
        out, _ = service.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.communicate()
    assert took < 10, (took, out[-3000:])
    assert "gave back 1 job(s)" in out, out[-3000:]
    assert still_running(grading_procs) == set(), "the grading outlived the service"
    with ops.sessions() as s:
        job = s.scalars(select(GradingJob)).one()
        assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)
        assert s.scalars(select(Result)).first() is None
        assert grading.live(s, datetime.now(UTC)) == []
    nxt = cli(ops, "grading", "work")
    out, _ = nxt.communicate(timeout=180)
    assert nxt.returncode == 0 and "grading: 1 graded" in out, out
    with ops.sessions() as s:
        assert len(s.scalars(select(Result)).all()) == 1
