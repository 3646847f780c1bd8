"""The attack corpus (tests/attacks/) through the real grading sandboxes: every hostile notebook gets
the score and status tests/attacks/expected.json says it deserves, and the grader stays healthy.

Each attack runs in every backend: `local` (as root with bubblewrap installed; the Makefile installs
it), `docker` (a real Docker engine, started and given the grader image by the test setup) and
`kubernetes` (graders/sandbox/cluster.py talking to tests/support/fakekube.py: a mock of the
Kubernetes API server, since no cluster can run here, that runs each Job's pod for real on the
Docker engine from the Job's manifest).

Every stored test log starts with the trusted verdict; where expected.json gives `logs` for a
cell, its log starts with the first string and holds the others after it, in order.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from sadari.graders.autograde import Job, SandboxAutograder
from sadari.graders.sandbox import cluster
from sadari.graders.sandbox import docker as docker_sandbox
from sadari.graders.sandbox.base import Limits
from sadari.graders.sandbox.local import LocalSandbox, available
from tests.support import docker
from tests.support.fakekube import FakeCluster
from tests.support.hub import ROOT

ATTACKS = ROOT / "tests" / "attacks"
EXPECTED = json.loads((ATTACKS / "expected.json").read_text())
AID = "attack-check"
# Walking the whole visible file system (read_hidden_tests) takes ~18 s here: the wall limit leaves
# room for a loaded machine, so only the infinite loop times out.
LIMITS = Limits(
    wall_seconds=60,
    total_seconds=240,
    cpu_seconds=120,
    memory_bytes=1024**3,
    processes=64,
    file_bytes=16 * 1024**2,
    scratch_bytes=64 * 1024**2,
)

# The infinite loop runs to its cell's wall time: graded under a shorter one (each second of it
# is a core spinning), through the same backend, which then starts a kernel with these limits
# instead of taking one from its pool.
SHORT = dataclasses.replace(LIMITS, wall_seconds=12, total_seconds=90)
SPINS = "infinite_loop.ipynb"

VERDICTS = ("passed", "failed: ", "timed out", "not run: ")
FAKES: dict[str, FakeCluster] = {}  # the mock API server of the kubernetes backend
BACKENDS = [
    pytest.param("local", marks=pytest.mark.sandbox),
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("kubernetes", marks=pytest.mark.docker),
]


def sandbox_for(backend: str) -> Any:
    """A backend with one slot and one kernel started ahead, or a skip with the real reason."""
    if backend == "local":
        if available() is not None:
            pytest.skip(f"local sandbox unavailable: {available()}")
        return LocalSandbox(slots=1, pool=1, limits=LIMITS)
    try:
        image = docker.ensure_image("grader")
    except docker.Unavailable as e:
        pytest.skip(f"docker sandbox unavailable: {e}")
    reason = docker_sandbox.available(image)
    if reason:
        pytest.skip(f"docker sandbox unavailable: {reason}")
    if backend == "kubernetes":
        fake = FAKES["kubernetes"] = FakeCluster()
        api = cluster.ClusterAPI(fake.url, fake.token, ca_file=False)
        return cluster.KubernetesSandbox(api, "grading", image, poll_seconds=0.2)
    return docker_sandbox.DockerSandbox(image, pool=1, limits=LIMITS)


@pytest.fixture(scope="module", params=BACKENDS)
def grader(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """(backend name, grader)"""
    g = SandboxAutograder(sandbox_for(request.param), LIMITS)
    yield request.param, g
    g.close()
    if request.param in FAKES:
        FAKES.pop(request.param).close()


def submission_bytes(name: str) -> bytes:
    if name.endswith(".py"):
        spec = importlib.util.spec_from_file_location("attack", ATTACKS / name)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return bytes(module.make())
    return (ATTACKS / name).read_bytes()


def course_with(tmp: Path, student: str, data: bytes) -> Path:
    (tmp / "source" / AID).mkdir(parents=True)
    shutil.copy(ATTACKS / "source" / f"{AID}.ipynb", tmp / "source" / AID)
    folder = tmp / "submitted" / student / AID
    folder.mkdir(parents=True)
    (folder / f"{AID}.ipynb").write_bytes(data)
    return tmp


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attack(grader: tuple[str, SandboxAutograder], tmp_path: Path, name: str) -> None:
    backend, autograder = grader
    expected = EXPECTED[name]
    student = name.split(".")[0].replace("_", "-")
    course = course_with(tmp_path, student, submission_bytes(name))
    if name == SPINS:
        autograder = SandboxAutograder(autograder.backend, SHORT)
    outcome = autograder.grade(Job(course, AID, student))
    earned = sum(c.score or 0 for c in outcome.cells)
    assert (earned, outcome.status) == (expected["score"], expected["status"]), (
        f"{name}: {outcome.reason}"
    )
    assert sum(c.max_score for c in outcome.cells) == 5
    logs = {c.cell: c.log for c in outcome.cells}
    for cell, log in logs.items():
        assert log is None or log.startswith(VERDICTS), (name, cell, log)
    for cell, (first, *later) in expected.get("logs", {}).items():
        log = logs[cell] or ""
        assert log.startswith(first), (name, cell, log)
        at = len(first)
        for text in later:
            assert text in log[at:], (name, cell, text, log)
            at = log.index(text, at) + len(text)
    # the grader is healthy afterwards: only the kernels started ahead may run, one waiting in the
    # pool and one waiting to join it
    if backend == "kubernetes":
        # every Job and plan ConfigMap was deleted once its result was read, no pod left running
        fake = FAKES["kubernetes"]
        assert not fake.jobs and not fake.config_maps, (list(fake.jobs), list(fake.config_maps))
        deadline = time.monotonic() + 30  # a deleted pod's containers go asynchronously
        while True:
            left = subprocess.run(
                ["docker", "ps", "-aq", "--filter", "name=sadari-fakepod-"],
                capture_output=True,
                text=True,
            ).stdout.split()
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert not left, f"pod containers left behind after {name}: {left}"
        return
    if backend == "docker":
        containers = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label={docker_sandbox.LABEL}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert len(containers) <= 2, f"containers left behind after {name}: {containers}"
        return
    # nothing else of the sandbox's uids is left running
    uids = autograder.backend.uids
    left = subprocess.run(
        ["pgrep", "-u", ",".join(map(str, uids))], capture_output=True, text=True
    ).stdout.split()
    assert len(left) <= 2, f"processes left behind after {name}: {left}"


BATCH = [
    "fork_bomb.ipynb",
    "correct.ipynb",
    "memory_bomb.ipynb",
    "partial.ipynb",
    "fill_disk.ipynb",
    "correct.ipynb",
    "kill_kernel.ipynb",
    "gigabyte_stdout.ipynb",
    "correct.ipynb",
    "os_exit.ipynb",
    "wrong.ipynb",
]


@pytest.mark.sandbox
def test_a_mixed_batch_graded_two_at_a_time(tmp_path: Path) -> None:
    """Attacks and honest submissions graded concurrently in one batch (two slots, as two grading
    workers do): every submission gets exactly what it gets alone; no attack spills over."""
    from concurrent.futures import ThreadPoolExecutor

    if available() is not None:
        pytest.skip(f"local sandbox unavailable: {available()}")
    autograder = SandboxAutograder(LocalSandbox(slots=2, pool=2, limits=LIMITS), LIMITS)

    def grade(i: int, name: str) -> tuple[str, float, str]:
        student = f"s{i:02d}"
        course = tmp_path / student
        course_with(course, student, submission_bytes(name))
        outcome = autograder.grade(Job(course, AID, student))
        return name, sum(c.score or 0 for c in outcome.cells), outcome.status

    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(grade, range(len(BATCH)), BATCH))
    finally:
        autograder.close()
    for name, earned, status in results:
        assert (earned, status) == (EXPECTED[name]["score"], EXPECTED[name]["status"]), name
