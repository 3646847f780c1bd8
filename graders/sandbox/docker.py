"""The `docker` grading sandbox: a fresh container of the grader image per submission.

Each kernel runs in its own container: no network at all (`--network none`), a read-only root file
system with a size- and file-count-limited tmpfs for /tmp, a non-root user, no capabilities and
no_new_privs, memory (no swap), CPU, pids, file-size, CPU-time and open-file limits. The container
sees nothing of this machine but two tmpfs folders of the trusted side's: /job/run, holding the
kernel's connection file and its IPC sockets (the grader talks to the kernel over ZeroMQ IPC, since
the container has no network), and /job/scratch, the kernel's working folder, where the trusted
side puts the submission's grading folder (the released files read-only, the trainee's own files)
before the first cell runs. Hidden tests and other submissions are never in the container.
Containers are single-use; a small pool is started ahead.
A grader that dies leaves containers labelled with its pid; the next grader removes them.

Needs a Docker engine and the grader image (`python images/build.py grader`); the trusted side
needs root to mount the small tmpfs (the same as the local backend).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import KERNEL_ENV, Limits, WorkFile, write_work_files
from .pool import Kernel, KernelPool, connect, connection_file

UID = 1000  # the grader image's unprivileged user
LABEL = "org.sadari.grader"


def available(image: str) -> str | None:
    """None when this backend can run here with `image`, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the docker sandbox needs root to mount the kernel's socket folder"
    if not shutil.which("docker"):
        return "the docker client is not installed"
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        return "no Docker engine answers (`docker info` failed)"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        return f"the grader image {image} is not built (python images/build.py grader)"
    return None


def _owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def cleanup_stale_containers() -> None:
    """Remove grading containers and job folders of graders on this host that are gone."""
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label={LABEL}",
            "--format",
            f'{{{{.ID}}}} {{{{.Label "{LABEL}"}}}}',
        ],
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    host = socket.gethostname()
    for line in filter(None, listed):
        cid, _, owner = line.partition(" ")
        owner_host, _, pid = owner.rpartition("-")
        if owner_host == host and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    for job in Path(tempfile.gettempdir()).glob("sadari-docker-*-*"):
        pid = job.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            for folder in ("run", "scratch"):
                subprocess.run(["umount", "-l", str(job / folder)], capture_output=True)
            shutil.rmtree(job, ignore_errors=True)


class DockerKernel(Kernel):
    """A kernel in a container; `proc` is the attached `docker run` client."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        client: Any,
        limits: Limits,
        name: str,
        job_dir: Path,
    ):
        super().__init__(proc, client, limits)
        self.name = name
        self.job_dir = job_dir

    def kill(self) -> None:
        """Remove the container (killing everything in it) and the job folder."""
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        for folder in ("run", "scratch"):
            subprocess.run(["umount", "-l", str(self.job_dir / folder)], capture_output=True)
        shutil.rmtree(self.job_dir, ignore_errors=True)


class DockerSandbox(KernelPool):
    """Single-use kernels, each in a fresh container of `image`."""

    def __init__(
        self,
        image: str,
        pool: int = 1,
        limits: Limits | None = None,
        cpus: float = 1.0,
        start_timeout: float = 60.0,
    ):
        reason = available(image)
        if reason:
            raise RuntimeError(reason)
        super().__init__(pool, limits or Limits(), start_timeout)
        self.image = image
        self.cpus = cpus
        cleanup_stale_containers()
        self._start_pool()

    def command(self, name: str, job: Path, limits: Limits) -> list[str]:
        """The `docker run` command line of one kernel's container."""
        tmpfs = f"size={limits.scratch_bytes},nr_inodes=4096,nosuid,nodev,noexec"
        # The kernel's address space is limited as in the local backend (a memory bomb gets a
        # MemoryError); the container's memory cgroup caps that plus its two tmpfs folders.
        cgroup_memory = limits.memory_bytes + 2 * limits.scratch_bytes + 64 * 1024 * 1024
        return [
            "docker",
            "run",
            "--rm",
            "--name",
            name,
            "--label",
            f"{LABEL}={_owner()}",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            f"/tmp:{tmpfs},mode=1777",
            # the working folder is this machine's tmpfs (start_kernel), so that the grading
            # folder's files can be put there (place) after the kernel has started
            "--mount",
            f"type=bind,source={job / 'scratch'},target=/job/scratch",
            "--mount",
            f"type=bind,source={job / 'run'},target=/job/run",
            "--user",
            f"{UID}:{UID}",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            str(cgroup_memory),
            "--memory-swap",
            str(cgroup_memory),
            "--cpus",
            str(self.cpus),
            "--pids-limit",
            str(limits.processes),
            "--ulimit",
            f"fsize={limits.file_bytes}",
            "--ulimit",
            f"cpu={limits.cpu_seconds}",
            "--ulimit",
            "nofile=256",
            "--ulimit",
            "core=0",
            *[arg for k, v in KERNEL_ENV.items() for arg in ("--env", f"{k}={v}")],
            self.image,
            # docker has no address-space ulimit: util-linux's prlimit sets it for the kernel
            "prlimit",
            f"--as={limits.memory_bytes}",
            "--",
            "python",
            "-m",
            "ipykernel_launcher",
            "-f",
            "/job/run/kernel.json",
            "--IPKernelApp.no_stdout=False",
            "--HistoryManager.enabled=False",
        ]

    def place(self, kernel: Kernel, files: Sequence[WorkFile]) -> None:
        """Write the grading folder's files into the container's working folder: the released
        ones root's and read-only, the trainee's own the kernel user's."""
        assert isinstance(kernel, DockerKernel)
        write_work_files(kernel.job_dir / "scratch", files, owner=0, own_uid=UID)

    def start_kernel(self, limits: Limits | None = None) -> Kernel:
        """Start one kernel container and wait until the kernel answers."""
        from jupyter_client import BlockingKernelClient

        limits = limits or self.limits
        job = Path(tempfile.mkdtemp(prefix=f"sadari-docker-{os.getpid()}-"))
        # the folders the container shares with this machine: its sockets (1 MB and 64 files at
        # most) and its working folder (root's and sticky, like /tmp: the released files put
        # there stay the instructor's)
        mounts = {
            "run": f"size=1m,nr_inodes=64,mode=700,uid={UID},gid={UID}",
            "scratch": f"size={limits.scratch_bytes},nr_inodes=4096,mode=1777,uid=0,gid=0",
        }
        for folder, options in mounts.items():
            (job / folder).mkdir()
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"{options},nosuid,nodev,noexec", "tmpfs"]
                + [str(job / folder)],
                check=True,
            )
        info = connection_file(job / "run", "/job/run/k")
        os.chown(job / "run" / "kernel.json", UID, UID)
        name = f"sadari-grade-{os.getpid()}-{secrets.token_hex(4)}"
        proc = subprocess.Popen(
            self.command(name, job, limits),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(job / "kernel.log").open("wb"),
        )
        kernel = DockerKernel(proc, BlockingKernelClient(), limits, name, job)
        try:
            connect(
                kernel,
                job / "run",
                info,
                time.monotonic() + self.start_timeout,
                job / "kernel.log",
            )
        except Exception:
            self.release(kernel)
            raise
        return kernel
