"""The docker grading backend (graders/sandbox/docker.py) as the engine sees it, through the SDK.

The attack corpus (tests/sandbox/test_attacks.py) shows what a kernel container withstands; these
tests read the container's settings back from the engine, check what is left once a kernel is
thrown away or a grader died, and that `available()` and a kernel that does not start say why.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sadari.graders.sandbox import docker as ds
from sadari.graders.sandbox.base import KERNEL_ENV, Limits
from sadari.graders.sandbox.pool import execute
from tests.support import docker

pytestmark = pytest.mark.docker

LIMITS = Limits(processes=48, file_bytes=8 * 1024**2, cpu_seconds=90, scratch_bytes=32 * 1024**2)


@pytest.fixture(scope="module")
def image() -> str:
    try:
        name = docker.ensure_image("grader")
    except docker.Unavailable as e:
        pytest.skip(f"docker sandbox unavailable: {e}")
    reason = ds.available(name)
    if reason:
        pytest.skip(f"docker sandbox unavailable: {reason}")
    return name


@pytest.fixture(scope="module")
def sandbox(image: str) -> Iterator[ds.DockerSandbox]:
    sb = ds.DockerSandbox(image, pool=0, limits=LIMITS, start_timeout=90)
    yield sb
    sb.close()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_kernel_container_is_walled_in_and_gone_once_released(
    sandbox: ds.DockerSandbox,
) -> None:
    kernel = sandbox.start_kernel()
    assert isinstance(kernel, ds.DockerKernel)
    try:
        attrs = sandbox.api.inspect_container(kernel.name)
        host = attrs["HostConfig"]
        memory = LIMITS.memory_bytes + 2 * LIMITS.scratch_bytes + 64 * 1024**2
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert (host["Memory"], host["MemorySwap"]) == (memory, memory)
        assert host["NanoCpus"] == 10**9
        assert host["PidsLimit"] == LIMITS.processes
        assert {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]} == {
            "fsize": (LIMITS.file_bytes, LIMITS.file_bytes),
            "cpu": (LIMITS.cpu_seconds, LIMITS.cpu_seconds),
            "nofile": (256, 256),
            "core": (0, 0),
        }
        assert host["Tmpfs"]["/tmp"].startswith(f"size={LIMITS.scratch_bytes},nr_inodes=4096,")
        assert "noexec" in host["Tmpfs"]["/tmp"]
        assert host["LogConfig"] == {
            "Type": "json-file",
            "Config": {"max-file": "1", "max-size": "1m"},
        }
        binds = {m["Target"]: m["Source"] for m in host["Mounts"] if m["Type"] == "bind"}
        assert binds == {
            "/job/scratch": str(kernel.job_dir / "scratch"),
            "/job/run": str(kernel.job_dir / "run"),
        }
        config = attrs["Config"]
        assert config["User"] == f"{ds.UID}:{ds.UID}"
        assert config["Labels"][ds.LABEL] == f"{socket.gethostname()}-{os.getpid()}"
        assert {f"{k}={v}" for k, v in KERNEL_ENV.items()} <= set(config["Env"])
        assert config["Cmd"][:2] == ["prlimit", f"--as={LIMITS.memory_bytes}"]
        # and from inside: its own uid, a loopback interface only, the tmpfs working folder
        cell = (
            "import os, socket\n"
            "st = os.statvfs('/job/scratch')\n"
            "print(os.getuid(), sorted(n for _, n in socket.if_nameindex()), st.f_blocks * st.f_frsize)"
        )
        (run,) = execute(kernel, [cell], LIMITS)
        assert run.status == "ok", run
        assert run.output.split() == [str(ds.UID), "['lo']", str(LIMITS.scratch_bytes)]
    finally:
        sandbox.release(kernel)
    with pytest.raises(ds.docker.errors.NotFound):
        sandbox.api.inspect_container(kernel.name)
    assert not kernel.job_dir.exists()
    assert kernel.exited()
    assert not [t for t in threading.enumerate() if t.name.startswith("sadari-docker-wait-")]


def test_a_dead_graders_containers_and_folders_are_removed(image: str) -> None:
    api = ds.client()
    host, dead = socket.gethostname(), dead_pid()
    made = []
    try:
        for owner in (f"{host}-{dead}", f"{host}-{os.getpid()}", f"elsewhere-{dead}"):
            made.append(
                api.create_container(image, command=["sleep", "300"], labels={ds.LABEL: owner})
            )
            api.start(made[-1])
        job = Path(tempfile.mkdtemp(prefix=f"sadari-docker-{dead}-"))
        (job / "run").mkdir()
        ds.cleanup_stale_containers(api)
        left = {c["Id"] for c in api.containers(all=True, filters={"label": ds.LABEL})}
        # only the dead grader's of this host: a live grader's, or another host's, stay
        assert made[0]["Id"] not in left
        assert {made[1]["Id"], made[2]["Id"]} <= left
        assert not job.exists()
    finally:
        for c in made:
            with contextlib.suppress(ds.docker.errors.NotFound):
                api.remove_container(c, force=True)
        api.close()


def test_available_says_why(image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ds.available(image) is None
    missing = ds.available("sadari/no-such-grader:0")
    assert (
        missing
        == "the grader image sadari/no-such-grader:0 is not built (python images/build.py grader)"
    )
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    reason = ds.available(image)
    assert reason and reason.startswith("no Docker engine answers (")


class Broken(ds.DockerSandbox):
    """A sandbox whose kernels run `script` instead of the kernel."""

    script = ""

    def container(self, name: str, job: Path, limits: Limits) -> dict[str, Any]:
        return {**super().container(name, job, limits), "command": ["sh", "-c", self.script]}


@pytest.mark.parametrize(
    ("script", "timeout"),
    [("echo kernel-broke-here >&2; exit 3", 60), ("echo still-waiting-here >&2; sleep 600", 3)],
)
def test_a_kernel_that_does_not_start_says_why(image: str, script: str, timeout: float) -> None:
    sandbox = Broken(image, pool=0, limits=LIMITS, start_timeout=timeout)
    sandbox.script = script
    jobs = set(Path(tempfile.gettempdir()).glob(f"sadari-docker-{os.getpid()}-*"))
    try:
        with pytest.raises(RuntimeError, match="kernel-broke-here|still-waiting-here"):
            sandbox.start_kernel()
        assert not sandbox.api.containers(
            all=True, filters={"label": f"{ds.LABEL}={socket.gethostname()}-{os.getpid()}"}
        )
        assert set(Path(tempfile.gettempdir()).glob(f"sadari-docker-{os.getpid()}-*")) == jobs
    finally:
        sandbox.close()
