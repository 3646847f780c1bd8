"""The `local` grading sandbox: a fresh kernel per submission, walled in on this machine.

Each kernel runs under bubblewrap in its own mount, PID, IPC, UTS and network namespaces (no
network at all), sees only the Python installation read-only plus private, size- and file-count-
limited tmpfs folders (scratch, /tmp, the kernel's sockets),
runs as an unprivileged uid of its own (one per slot, so process limits are per kernel) with no
capabilities and no_new_privs, and under rlimits on address space, processes, file size, CPU time and
open files; the trusted side enforces a wall-clock limit per cell and kills the whole process group.
The kernel is reached over ZeroMQ IPC sockets in the job folder (TCP would need a network). Kernels
are single-use; a small pool is started ahead to hide start-up latency, and never reused.

Needs root (to enter namespaces and switch uid) and bubblewrap (Debian package `bubblewrap`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import KERNEL_ENV, Limits, WorkFile, write_work_files
from .pool import Kernel, KernelPool, connect, connection_file, execute

__all__ = ["LocalKernel", "LocalSandbox", "available", "cleanup_stale_jobs", "execute"]

UID_BASE = 61000
UID_COUNT = 1000  # 61000-61999 are the sandboxes' uids on this machine
LOCKS = Path(os.environ.get("SADARI_SANDBOX_LOCKS", "/run/lock"))


def claim_uids(n: int) -> list[tuple[int, int]]:
    """Claim `n` sandbox uids for this process: (uid, fd of its lock file). Graders in several
    processes never share a uid (killing one's leftovers would kill the other's kernels); a
    process's claims end with it."""
    claimed: list[tuple[int, int]] = []
    LOCKS.mkdir(parents=True, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + UID_COUNT):
        if len(claimed) == n:
            return claimed
        fd = os.open(LOCKS / f"sadari-sandbox-{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        claimed.append((uid, fd))
    for _, fd in claimed:
        os.close(fd)
    raise RuntimeError(f"all {UID_COUNT} sandbox uids are in use by other graders")


def available() -> str | None:
    """None when this backend can run here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the local sandbox needs root to enter namespaces and switch to a sandbox uid"
    for tool in ("bwrap", "setpriv", "prlimit"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian: bubblewrap, util-linux)"
    return None


def cleanup_stale_jobs() -> None:
    """Unmount and remove job folders a grader that died left behind (no kernel runs there: a
    kernel dies with the grader that started it)."""
    for job in Path(tempfile.gettempdir()).glob("sadari-job-*-*"):
        owner = job.name.split("-")[2]
        if owner.isdigit() and Path(f"/proc/{owner}").exists():
            continue  # a live grader's job
        for name in ("run", "scratch", "tmp"):
            subprocess.run(["umount", "-l", str(job / name)], capture_output=True)
        shutil.rmtree(job, ignore_errors=True)


class LocalKernel(Kernel):
    """A kernel under bubblewrap as one slot's uid, with its job folder."""

    def __init__(
        self, proc: subprocess.Popen[bytes], client: Any, limits: Limits, job_dir: Path, uid: int
    ):
        super().__init__(proc, client, limits)
        self.job_dir = job_dir
        self.uid = uid

    def kill(self) -> None:
        """Kill the kernel, everything it started, and remove its job folder."""
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        # anything left running as the slot's uid goes too, and the uid is only handed out
        # again once nothing runs under it (its process limit counts every process of the uid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            subprocess.run(["pkill", "-KILL", "-U", str(self.uid)], capture_output=True)
            if subprocess.run(["pgrep", "-U", str(self.uid)], capture_output=True).returncode:
                break
            time.sleep(0.05)
        for name in ("run", "scratch", "tmp"):
            subprocess.run(["umount", "-l", str(self.job_dir / name)], capture_output=True)
        shutil.rmtree(self.job_dir, ignore_errors=True)


class LocalSandbox(KernelPool):
    """Single-use sandboxed kernels on this machine, `slots` at a time (one uid per slot)."""

    def __init__(
        self,
        slots: int = 2,
        pool: int = 1,
        limits: Limits | None = None,
        python: str = sys.executable,
        start_timeout: float = 60.0,
    ):
        reason = available()
        if reason:
            raise RuntimeError(reason)
        super().__init__(pool, limits or Limits(), start_timeout)
        self.python = python
        self._claims = claim_uids(slots + pool)
        self.uids = [uid for uid, _ in self._claims]
        self.free_uids: queue.Queue[int] = queue.Queue()
        for uid in self.uids:
            self.free_uids.put(uid)
        cleanup_stale_jobs()
        self._start_pool()

    def _command(self, uid: int, job: Path, limits: Limits) -> list[str]:
        venv, base = Path(sys.prefix), Path(sys.base_prefix)
        binds: list[str] = []
        for path in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/alternatives"):
            if Path(path).exists():
                binds += ["--ro-bind", path, path]
        for path in sorted({base, venv}):
            # bwrap makes missing parent folders 0700: make them traversable for the sandbox uid
            for parent in reversed(path.parents[:-1]):
                if str(parent) not in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/tmp", "/job"):
                    binds += ["--perms", "0755", "--dir", str(parent)]
            binds += ["--ro-bind", str(path), str(path)]
        return [
            "bwrap",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            # only what setpriv needs to become the sandbox uid; it then drops every capability
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
            "--cap-add",
            "CAP_SETPCAP",
            # the job's own folders first: a Python installation under /tmp (a checkout there)
            # is then mounted on top of the job's /tmp instead of being hidden by it
            "--bind",
            str(job),
            "/job",
            "--bind",
            str(job / "tmp"),
            "/tmp",
            *binds,
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--chdir",
            "/job/scratch",
            "--clearenv",
            "--setenv",
            "HOME",
            "/job/scratch",
            "--setenv",
            "PATH",
            f"{venv}/bin:/usr/bin:/bin",
            "--setenv",
            "MPLBACKEND",
            "Agg",
            "--setenv",
            "PYTHONDONTWRITEBYTECODE",
            "1",
            "--setenv",
            "LANG",
            "C.UTF-8",
            *[arg for k, v in KERNEL_ENV.items() for arg in ("--setenv", k, v)],
            "--",
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            "prlimit",
            f"--as={limits.memory_bytes}",
            f"--nproc={limits.processes}",
            f"--fsize={limits.file_bytes}",
            f"--cpu={limits.cpu_seconds}",
            "--nofile=256",
            "--core=0",
            "--",
            str(venv / "bin" / "python"),
            "-m",
            "ipykernel_launcher",
            "-f",
            "/job/run/kernel.json",
            "--IPKernelApp.no_stdout=False",
            "--HistoryManager.enabled=False",
        ]

    def start_kernel(self, limits: Limits | None = None) -> Kernel:
        """Start one sandboxed kernel and wait until it answers."""
        from jupyter_client import BlockingKernelClient

        limits = limits or self.limits
        uid = self.free_uids.get()
        job = Path(tempfile.mkdtemp(prefix=f"sadari-job-{os.getpid()}-"))
        os.chown(job, uid, uid)
        job.chmod(0o755)
        # Everything the kernel can write is a tmpfs of its own, limited in bytes AND in files
        # (an unlimited inode count lets a flood of empty files eat kernel memory).
        mounts = {
            "run": (1024 * 1024, 64, 0o700),
            # the working folder: root's and sticky, so that the released files put there
            # before the first cell (place) stay the instructor's
            "scratch": (limits.scratch_bytes, 4096, 0o1777),
            "tmp": (limits.scratch_bytes, 4096, 0o1777),
        }
        for name, (size, inodes, mode) in mounts.items():
            (job / name).mkdir()
            owner = 0 if name == "scratch" else uid
            options = f"size={size},nr_inodes={inodes},mode={mode:o},uid={owner},gid={owner}"
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"{options},nosuid,nodev", "tmpfs", str(job / name)],
                check=True,
            )
        info = connection_file(job / "run", "/job/run/k")
        os.chown(job / "run" / "kernel.json", uid, uid)
        proc = subprocess.Popen(
            self._command(uid, job, limits),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(job / "kernel.log").open("wb"),
            start_new_session=True,
        )
        kernel = LocalKernel(proc, BlockingKernelClient(), limits, job, uid)
        try:
            connect(
                kernel, job / "run", info, time.monotonic() + self.start_timeout, job / "kernel.log"
            )
        except Exception:
            self.release(kernel)
            raise
        return kernel

    def place(self, kernel: Kernel, files: Sequence[WorkFile]) -> None:
        """Write the grading folder's files into the kernel's scratch folder (its working
        directory): the released ones root's and read-only, the trainee's own the slot uid's."""
        assert isinstance(kernel, LocalKernel)
        write_work_files(kernel.job_dir / "scratch", files, owner=0, own_uid=kernel.uid)

    def close(self) -> None:
        """Stop the kernels started ahead, then give up this process's uids."""
        super().close()
        for _, fd in self._claims:
            os.close(fd)
        self._claims = []

    def release(self, kernel: Kernel) -> None:
        """Throw a used kernel away and give its uid back."""
        kernel.kill()
        assert isinstance(kernel, LocalKernel)
        self.free_uids.put(kernel.uid)
