"""The grading queue on SQLite and PostgreSQL: leases, bounded retries, recorded once; a worker
killed mid-job and a queue left for a later worker, with the real `sadari` CLI processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sadari.hub import assessments as ops_
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import grading, repo
from sadari.hub.store.db import make_engine, session_factory
from sadari.hub.store.models import Grade, GradingJob, Result
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
    worker = cli(ops, "assessment", "autograde", AID, "--lease", "4")
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


def test_the_service_grades_what_was_queued_before_it_restarted(ops: ops_.Ops) -> None:
    """Jobs queued while no service runs are graded by the service once it (re)starts."""
    ops_.release(ops, AID, COHORT)
    ids = [submit(ops, "pm1"), submit(ops, "pm2")]
    queued = cli(ops, "assessment", "autograde", AID, "--queue-only")
    out, _ = queued.communicate(timeout=120)
    assert f"{AID}: 2 queued" in out, out
    time.sleep(1.5)  # the service takes jobs queued at least one poll interval ago
    env = hub_env(
        Path(ops.settings.data_dir),
        ops.settings.db_url,
        SADARI_GRADER="nbgrader",
        SADARI_GRADING_WORKERS="1",
        SADARI_GRADING_POLL_SECONDS="1",
    )
    env.pop("JUPYTERHUB_API_TOKEN", None)  # the service alone, no hub
    service = subprocess.Popen(
        [str(BIN.parent / "bin" / "python"), "-m", "sadari.hub.service"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
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
