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
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from .base import CellRun, Limits

UID_BASE = 61000


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


@dataclass
class Kernel:
    """One started, not yet used sandboxed kernel."""

    proc: subprocess.Popen[bytes]
    job_dir: Path
    client: Any  # jupyter_client.BlockingKernelClient
    uid: int
    limits: Limits

    def alive(self, timeout: float = 5.0) -> bool:
        """The trusted side's own check: the process runs and answers a kernel_info request."""
        if self.proc.poll() is not None:
            return False
        try:
            self.client.kernel_info()
            reply = self.client.get_shell_msg(timeout=timeout)
            return bool(reply["content"].get("status") == "ok")
        except Exception:
            return False

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


class LocalSandbox:
    """Runs cells in single-use sandboxed kernels; thread-safe, `slots` kernels at a time."""

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
        self.python = python
        self.limits = limits or Limits()
        self.start_timeout = start_timeout
        self.free_uids: queue.Queue[int] = queue.Queue()
        for slot in range(slots + pool):
            self.free_uids.put(UID_BASE + slot)
        self.ready: queue.Queue[Kernel] = queue.Queue(maxsize=max(1, pool))
        self.pool = pool
        self._closed = threading.Event()
        self._refiller: threading.Thread | None = None
        cleanup_stale_jobs()
        if pool:
            # One long-lived thread starts kernels ahead: bwrap --die-with-parent kills a kernel
            # when the *thread* that started it ends, so no short-lived thread may start one.
            self._refiller = threading.Thread(
                target=self._refill, daemon=True, name="sadari-kernel-pool"
            )
            self._refiller.start()

    # --- starting kernels -------------------------------------------------------------------

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
            "scratch": (limits.scratch_bytes, 4096, 0o755),
            "tmp": (limits.scratch_bytes, 4096, 0o1777),
        }
        for name, (size, inodes, mode) in mounts.items():
            (job / name).mkdir()
            options = f"size={size},nr_inodes={inodes},mode={mode:o},uid={uid},gid={uid}"
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"{options},nosuid,nodev", "tmpfs", str(job / name)],
                check=True,
            )
        key = secrets.token_hex(32)
        info = {
            "transport": "ipc",
            "shell_port": 1,
            "iopub_port": 2,
            "stdin_port": 3,
            "control_port": 4,
            "hb_port": 5,
            "key": key,
            "signature_scheme": "hmac-sha256",
            "kernel_name": "",
        }
        (job / "run" / "kernel.json").write_text(json.dumps({**info, "ip": "/job/run/k"}))
        os.chown(job / "run" / "kernel.json", uid, uid)
        proc = subprocess.Popen(
            self._command(uid, job, limits),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(job / "kernel.log").open("wb"),
            start_new_session=True,
        )
        client = BlockingKernelClient()
        client.load_connection_info({**info, "ip": str(job / "run" / "k")})
        kernel = Kernel(proc, job, client, uid, limits)
        deadline = time.monotonic() + self.start_timeout
        while not all((job / "run" / f"k-{p}").exists() for p in (1, 2, 5)):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (job / "kernel.log").read_text(errors="replace")[-2000:]
                kernel.kill()
                self.free_uids.put(uid)
                raise RuntimeError(f"sandboxed kernel did not start: {log}")
            time.sleep(0.02)
        client.start_channels()
        client.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
        return kernel

    def _refill(self) -> None:
        while not self._closed.is_set():
            try:
                kernel = self.start_kernel()
            except Exception:  # the next run starts its own kernel and reports the error
                time.sleep(1)
                continue
            while not self._closed.is_set():
                try:
                    self.ready.put(kernel, timeout=0.5)
                    break
                except queue.Full:
                    continue
            else:
                self.release(kernel)

    def _take(self, limits: Limits) -> Kernel:
        if limits == self.limits:
            try:
                kernel = self.ready.get_nowait()
            except queue.Empty:
                kernel = None
            if kernel is not None:
                return kernel
        return self.start_kernel(limits)

    def release(self, kernel: Kernel) -> None:
        """Throw a used kernel away and give its uid back."""
        kernel.kill()
        self.free_uids.put(kernel.uid)

    # --- running cells ----------------------------------------------------------------------

    def run(self, cells: list[str], limits: Limits | None = None) -> list[CellRun]:
        """Run `cells` in order in one fresh kernel; one CellRun each."""
        limits = limits or self.limits
        kernel = self._take(limits)
        try:
            return execute(kernel, cells, limits)
        finally:
            self.release(kernel)

    def close(self) -> None:
        """Stop starting kernels ahead and stop those already started."""
        self._closed.set()
        if self._refiller is not None:
            self._refiller.join(timeout=self.start_timeout + 5)
        while True:
            try:
                self.release(self.ready.get_nowait())
            except queue.Empty:
                return


def execute(kernel: Kernel, cells: list[str], limits: Limits) -> list[CellRun]:
    """Send each cell, collect its messages, check the kernel afterwards."""
    runs: list[CellRun] = []
    started = time.monotonic()
    stopped = ""
    for index, code in enumerate(cells):
        if stopped:
            runs.append(CellRun(index, "not-run", extra={"after": stopped}))
            continue
        budget = min(limits.wall_seconds, limits.total_seconds - (time.monotonic() - started))
        run = _execute_one(kernel, index, code, budget, limits)
        if run.status == "timeout":
            stopped = "timeout"
            kernel.kill()
        elif run.status == "dead" or not run.alive_after:
            if run.status == "ok":
                run.status = "dead"
            stopped = "dead"
        runs.append(run)
    return runs


def _execute_one(kernel: Kernel, index: int, code: str, budget: float, limits: Limits) -> CellRun:
    client = kernel.client
    t0 = time.monotonic()
    run = CellRun(index, "ok")
    if budget <= 0:
        run.status = "timeout"
        return run
    msg_id = client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
    output: list[str] = []
    kept = 0
    idle = False
    reply: dict[str, Any] | None = None
    shell, iopub = client.shell_channel.socket, client.iopub_channel.socket
    poller = zmq.Poller()
    poller.register(shell, zmq.POLLIN)
    poller.register(iopub, zmq.POLLIN)
    while not (idle and reply is not None):
        remaining = budget - (time.monotonic() - t0)
        if remaining <= 0:
            run.status = "timeout"
            break
        if kernel.proc.poll() is not None:
            run.status = "dead"
            break
        ready = dict(poller.poll(int(min(0.5, remaining) * 1000) + 1))
        if shell in ready and reply is None:
            with contextlib.suppress(queue.Empty):
                msg = client.get_shell_msg(timeout=0.01)
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
        if iopub not in ready:
            continue
        try:
            msg = client.get_iopub_msg(timeout=0.01)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and content.get("execution_state") == "idle":
            idle = True
        elif kind == "error":
            run.status = "error"
            run.ename, run.evalue = (
                str(content.get("ename", ""))[:200],
                str(content.get("evalue", ""))[:1000],
            )
        elif kind in ("stream", "execute_result", "display_data"):
            text = content.get("text") or content.get("data", {}).get("text/plain", "")
            text = text if isinstance(text, str) else "".join(text)
            room = limits.output_bytes - kept
            if room > 0:
                output.append(text[:room])
                kept += min(len(text), room)
            run.output_dropped += max(0, len(text) - max(room, 0))
    if reply is not None and reply["content"].get("status") != "ok" and run.status == "ok":
        run.status = "error"
        run.ename = run.ename or str(reply["content"].get("ename", "error"))
    run.output = "".join(output)
    run.seconds = time.monotonic() - t0
    if run.status in ("ok", "error"):
        run.alive_after = kernel.alive()
    return run
