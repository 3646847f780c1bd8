"""The service's own grading with the real local sandbox, over several poll cycles: every job is
graded, and the service holds one grader for its lifetime (before, each cycle that found jobs
built a new sandbox and never closed it: its uids, pre-started kernels and threads piled up)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sadari.graders.sandbox import local
from sadari.hub import assessments as ops_
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import grading, repo
from sadari.hub.store.db import make_engine, session_factory, upgrade
from sadari.hub.store.models import Submission
from tests.service.test_grading_queue import AID, COHORT, submit
from tests.support.hub import BIN, ROOT, hub_env

pytestmark = pytest.mark.sandbox

USERS = ("pm1", "pm2", "pm3")
NOW = datetime.now(UTC) - timedelta(minutes=5)


@pytest.fixture
def ops(curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:
    why = local.available()
    if why:
        pytest.skip(f"the local sandbox cannot run here: {why}")
    url = f"sqlite:///{tmp_path}/sadari.sqlite"
    upgrade(make_engine(url))
    sessions = session_factory(make_engine(url))
    roster = "username,name,cohort,track\n" + "".join(
        f"{u},이름,{COHORT},product-manager\n" for u in USERS
    )
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        repo.import_roster(
            s,
            parse_roster(roster.encode(), "r.csv", curriculum),
            data=roster.encode(),
            file="r.csv",
            actor="admin",
            now=NOW,
        )
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp_path), db_url=url)
    ops = ops_.Ops(settings, sessions, LocalBlobStore(settings.exchange_dir), curriculum, "i")
    ops_.release(ops, AID, COHORT)
    return ops


@pytest.fixture
def service(ops: ops_.Ops) -> Iterator[subprocess.Popen[str]]:
    env = hub_env(
        Path(ops.settings.data_dir),
        ops.settings.db_url,
        SADARI_GRADER="sandbox",
        SADARI_GRADING_WORKERS="1",
        SADARI_GRADING_POLL_SECONDS="1",
        SADARI_WARM_CHECK_SECONDS="0",
    )
    env.pop("JUPYTERHUB_API_TOKEN", None)  # the service alone, no hub
    proc = subprocess.Popen(
        [str(BIN / "python"), "-m", "sadari.hub.service"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)


def held(pid: int) -> dict[str, int]:
    """What a process holds: threads, live descendants, sandbox uid lock files it has open."""
    threads = len(os.listdir(f"/proc/{pid}/task"))
    children = subprocess.run(
        ["pgrep", "-g", str(os.getpgid(pid))], capture_output=True, text=True
    ).stdout.split()
    locks = sum(
        1
        for fd in Path(f"/proc/{pid}/fd").iterdir()
        if "sadari-sandbox-" in os.readlink(fd) if fd.is_symlink()
    )  # fmt: skip
    return {"threads": threads, "processes": len(children), "uid_locks": locks}


def queue_and_wait(ops: ops_.Ops, user: str, proc: subprocess.Popen[str]) -> None:
    """One poll cycle's worth: a submission queued, left for the service, graded by it."""
    sid = submit(ops, user)
    with ops.sessions.begin() as s:
        sub = s.get(Submission, sid)
        grading.enqueue(s, [sub], datetime.now(UTC) - timedelta(seconds=5))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with ops.sessions() as s:
            if grading.progress(s, [sid])["done"] == 1:
                return
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.5)
    raise AssertionError(f"{user}'s job was not graded by the service")


def test_jobs_over_several_cycles_are_graded_and_nothing_piles_up(
    ops: ops_.Ops, service: subprocess.Popen[str]
) -> None:
    queue_and_wait(ops, USERS[0], service)
    time.sleep(3)  # a few idle cycles
    after_first = held(service.pid)
    for user in USERS[1:]:
        queue_and_wait(ops, user, service)
        time.sleep(2)
    assert held(service.pid) == after_first  # one grader, reused: no new uids, kernels, threads
    service.send_signal(signal.SIGTERM)
    out, _ = service.communicate(timeout=60)
    assert service.returncode == 0, out[-3000:]
    left = subprocess.run(["pgrep", "-g", str(service.pid)], capture_output=True).stdout
    assert left == b"", "kernels of the service's sandbox outlived it"
