"""The `local` grading sandbox: a fresh kernel per submission, walled in on this machine.

Each kernel runs under bubblewrap in its own mount, PID, IPC, UTS and network namespaces (no
network at all), sees only the Python installation read-only plus private, size- and file-count-
limited tmpfs folders (scratch, /tmp, the kernel's sockets),
runs as an unprivileged uid of its own (one per slot, so process limits are per kernel) with no
capabilities and no_new_privs, and under rlimits on address space, processes, file size, CPU time and
open files; the trusted side enforces a wall-clock limit per cell and kills the whole process group.
The kernel is reached over ZeroMQ IPC sockets in the job folder (TCP would need a network). Kernels
are single-use; a small pool is started ahead to hide start-up latency, and never reused.

With `zygote` (the setting `grading_zygote`), kernels are not started from scratch: one warmed
parent per slot (graders/sandbox/zygote.py), walled in by its own bubblewrap, has imported the kernel
machinery and the tracks' libraries once and forks one fresh, single-use child per submission, which
walls itself in further before any submitted code runs (fresh mount, IPC and UTS namespaces with new
tmpfs scratch and /tmp, limits, the slot's uid without capabilities, no_new_privs). What that keeps
and what it does not is said in README.md (Grading sandbox).

Needs root (to enter namespaces and switch uid) and bubblewrap (Debian package `bubblewrap`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .base import KERNEL_ENV, Limits, WorkFile, write_work_files
from .pool import Kernel, KernelPool, connect, connection_file, execute

__all__ = ["LocalKernel", "LocalSandbox", "available", "cleanup_stale_jobs", "execute"]

ZYGOTE_SOURCE = Path(__file__).with_name("zygote.py")
SNAPSHOT_SOURCE = Path(__file__).with_name("snapshot.py")


def zygote_default() -> bool:
    """Whether kernels are forked from a warmed parent unless told: $SADARI_GRADING_ZYGOTE
    (0 or 1, the setting `grading_zygote` passes it on), else on."""
    return os.environ.get("SADARI_GRADING_ZYGOTE", "1").lower() not in ("0", "false", "no", "off")


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


def bwrap(jobs: list[str], caps: list[str]) -> list[str]:
    """bubblewrap's arguments up to the command: own IPC, PID, network (none), UTS and cgroup
    namespaces, dying with its parent; the folders `jobs` binds, then the Python installation and
    the system's programs read-only; a clean environment; root inside with only `caps`."""
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
        *[arg for cap in caps for arg in ("--cap-add", cap)],
        *jobs,
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
    ]


def uid_cpu_seconds(uid: int) -> float:
    """CPU seconds (user + system) the processes running as `uid` used so far, with the children
    they waited for."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


def _pids_of(uid: int) -> list[int]:
    """The processes running as `uid` (by /proc's owner: the effective uid; a sandbox process has
    one uid for real, effective and saved, and no_new_privs keeps it so)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def kill_uid(uid: int) -> None:
    """Kill anything left running as the slot's uid: the uid is only handed out again once
    nothing runs under it (its process limit counts every process of the uid). Read and signalled
    here rather than with pkill and pgrep, two programs started for every submission."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = _pids_of(uid)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


class LocalKernel(Kernel):
    """A kernel under bubblewrap as one slot's uid, with its job folder."""

    def __init__(
        self, proc: subprocess.Popen[bytes], client: Any, limits: Limits, job_dir: Path, uid: int
    ):
        super().__init__(proc, client, limits)
        self.job_dir = job_dir
        self.uid = uid
        self.cpu_started: float | None = None  # CPU seconds its uid used before the first cell

    def kill(self) -> None:
        """Kill the kernel, everything it started, and remove its job folder."""
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        kill_uid(self.uid)
        for name in ("run", "scratch", "tmp"):
            subprocess.run(["umount", "-l", str(self.job_dir / name)], capture_output=True)
        shutil.rmtree(self.job_dir, ignore_errors=True)


class _Pid:
    """A process this one did not start (a zygote's child), watched through a pidfd: enough of
    `subprocess.Popen` for `Kernel` (pid, poll, wait)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.fd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self.fd < 0:
            return 0
        return 0 if select.select([self.fd], [], [], 0)[0] else None

    def wait(self, timeout: float) -> int:
        if self.fd >= 0 and not select.select([self.fd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired("zygote child", timeout)
        return 0

    def kill(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.fd, signal.SIGKILL)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _host_pids(parent: int | None, nspid: int) -> list[int]:
    """This namespace's pids of the processes whose innermost pid is `nspid` (and whose parent is
    `parent`, when given: then the newest match alone, looked for from the highest pid down, where
    a just-forked child is)."""
    found = []
    entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    for pid in sorted(entries, reverse=parent is not None):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ns = fields.get("NSpid", "").split()
        if len(ns) < 2 or int(ns[-1]) != nspid:
            continue
        if parent is None:
            found.append(pid)
        elif int(fields.get("PPid", "0")) == parent:
            return [pid]
    return found


class Zygote:
    """One slot's warmed parent (graders/sandbox/zygote.py) under its own bubblewrap, as root in
    its namespaces with only the capabilities it needs to wall its children in. Its folder holds
    `run`, a small tmpfs where each child gets a folder of its own (the kernel's sockets, its
    connection file and log), removed when the child is."""

    CAPS = ["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"]

    def __init__(self, uid: int, timeout: float):
        self.uid = uid
        self.job = Path(tempfile.mkdtemp(prefix=f"sadari-job-{os.getpid()}-"))
        self.job.chmod(0o755)
        (self.job / "run").mkdir()
        subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "size=4m,nr_inodes=1024,mode=755,nosuid,nodev",
                "tmpfs",
                str(self.job / "run"),
            ],
            check=True,
        )
        jobs = [
            *("--perms", "0755", "--dir", "/job"),
            *("--bind", str(self.job / "run"), "/job/run"),
            *("--dir", "/job/scratch", "--dir", "/tmp"),
        ]
        self.proc = subprocess.Popen(
            [
                *bwrap(jobs, self.CAPS),
                str(Path(sys.prefix) / "bin" / "python"),
                "-c",
                f"{ZYGOTE_SOURCE.read_text()}\n{SNAPSHOT_SOURCE.read_text()}\nserve(prepare)\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(self.job / "zygote.log").open("wb"),
            start_new_session=True,
        )
        self._buffer = b""
        self.count = 0
        try:
            word, nspid = self._line(time.monotonic() + timeout).split()
            assert word == "ready"
            pids = _host_pids(None, int(nspid))
            self.pid = next(p for p in pids if self._descends(p, self.proc.pid))
        except Exception:
            self.close()
            raise

    @staticmethod
    def _descends(pid: int, ancestor: int) -> bool:
        while pid > 1:
            if pid == ancestor:
                return True
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return False
            pid = int(status.split("PPid:", 1)[1].split()[0])
        return False

    def _line(self, deadline: float) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError(f"the kernels' zygote did not answer: {self.log()}")
            data = os.read(fd, 4096)
            if not data:
                raise RuntimeError(f"the kernels' zygote exited: {self.log()}")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def log(self) -> str:
        path = self.job / "zygote.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def fork(self, limits: Limits, timeout: float) -> tuple[_Pid, Path, dict[str, Any]]:
        """A fresh child of the zygote, walled in and starting its kernel: (the child, its run
        folder here, which holds kernel.json and, once it listens, its sockets; the connection
        info)."""
        self.count += 1
        name = f"k{self.count}"
        run = self.job / "run" / name
        run.mkdir(mode=0o700)
        os.chown(run, self.uid, self.uid)
        info = connection_file(run, f"/job/run/{name}/k")
        os.chown(run / "kernel.json", self.uid, self.uid)
        (run / "kernel.json").chmod(0o600)
        request = {"run": f"/job/run/{name}", "uid": self.uid, "limits": dataclasses.asdict(limits)}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
            word, nspid = self._line(time.monotonic() + timeout).split()
            assert word == "child"
            pids = _host_pids(self.pid, int(nspid))
            if not pids:
                log = run / "kernel.log"
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"the sandboxed kernel exited at once: {text[-2000:]}")
            return _Pid(pids[0]), run, info
        except Exception:
            shutil.rmtree(run, ignore_errors=True)
            raise

    def close(self) -> None:
        """Stop the zygote (its children are killed by their kernels' owners) and remove its
        folder."""
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        subprocess.run(["umount", "-l", str(self.job / "run")], capture_output=True)
        shutil.rmtree(self.job, ignore_errors=True)


class ForkedKernel(LocalKernel):
    """A kernel forked from a slot's zygote: `proc` is the child, `job_dir` its run folder."""

    def kill(self) -> None:
        """Kill the kernel, everything it started (its uid's every process), and its folder;
        its mount namespace, with its scratch and /tmp, goes with its last process."""
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        assert isinstance(self.proc, _Pid)
        self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        kill_uid(self.uid)
        self.proc.close()
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
        zygote: bool | None = None,
    ):
        reason = available()
        if reason:
            raise RuntimeError(reason)
        super().__init__(pool, limits or Limits(), start_timeout)
        self.python = python
        # one uid per slot, one per kernel waiting in the pool, and one for the kernel the pool
        # starts ahead while it is full (KernelPool._refill holds it until a kernel is taken):
        # without that one, runs whose limits differ from the pool's (which start a kernel of
        # their own) would wait for a uid forever with one slot
        self._claims = claim_uids(slots + pool + (1 if pool else 0))
        self.uids = [uid for uid, _ in self._claims]
        self.free_uids: queue.Queue[int] = queue.Queue()
        for uid in self.uids:
            self.free_uids.put(uid)
        cleanup_stale_jobs()
        under_tmp = any(
            Path(p).is_relative_to(tempfile.gettempdir()) or Path(p).is_relative_to("/tmp")
            for p in (sys.prefix, sys.base_prefix)
        )
        # a child mounts its own /tmp: a Python installation there would be hidden from it
        self.zygote = (zygote_default() if zygote is None else zygote) and not under_tmp
        self._zygotes: dict[int, Future[Zygote]] = {}
        if self.zygote:
            # Zygotes die with the thread that started them (bwrap --die-with-parent): one
            # long-lived thread starts them all, one per uid, at once and whenever one died.
            self._zygote_requests: queue.Queue[tuple[int, Future[Zygote]] | None] = queue.Queue()
            self._zygote_keeper = threading.Thread(
                target=self._keep_zygotes, daemon=True, name="sadari-zygotes"
            )
            self._zygote_keeper.start()
            for uid in self.uids:
                self._zygotes[uid] = self._ask_zygote(uid)
        # (start-up, execution) CPU seconds of each used kernel, when `measure_cpu`
        self.measure_cpu = False
        self.cpu_seconds: list[tuple[float, float]] = []
        self._start_pool()

    def _ask_zygote(self, uid: int) -> Future[Zygote]:
        future: Future[Zygote] = Future()
        self._zygote_requests.put((uid, future))
        return future

    def _keep_zygotes(self) -> None:
        while (item := self._zygote_requests.get()) is not None:
            uid, future = item
            try:
                future.set_result(Zygote(uid, self.start_timeout))
            except Exception as e:
                future.set_exception(e)
        for future in self._zygotes.values():
            with contextlib.suppress(Exception):
                future.result(timeout=0).close()

    def _zygote(self, uid: int) -> Zygote:
        """The uid's zygote, started again if it died (or failed to start)."""
        future = self._zygotes[uid]
        try:
            zygote = future.result(timeout=self.start_timeout)
            if not zygote.exited():
                return zygote
            zygote.close()
        except Exception:
            pass
        self._zygotes[uid] = future = self._ask_zygote(uid)
        return future.result(timeout=self.start_timeout)

    def _start_forked(self, limits: Limits) -> Kernel:
        """A kernel forked from the zygote of a free uid, once it answers."""
        from jupyter_client import BlockingKernelClient

        uid = self.free_uids.get()
        try:
            zygote = self._zygote(uid)
            child, run, info = zygote.fork(limits, self.start_timeout)
        except Exception:
            kill_uid(uid)
            self.free_uids.put(uid)
            raise
        kernel = ForkedKernel(child, BlockingKernelClient(), limits, run, uid)  # type: ignore[arg-type]
        try:
            connect(kernel, run, info, time.monotonic() + self.start_timeout, run / "kernel.log")
        except Exception:
            self.release(kernel)
            raise
        return kernel

    def _command(self, uid: int, job: Path, limits: Limits) -> list[str]:
        # the job's own folders first: a Python installation under /tmp (a checkout there)
        # is then mounted on top of the job's /tmp instead of being hidden by it
        jobs = ["--bind", str(job), "/job", "--bind", str(job / "tmp"), "/tmp"]
        return [
            *bwrap(jobs, ["CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"]),
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
            str(Path(sys.prefix) / "bin" / "python"),
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
        if self.zygote:
            return self._start_forked(limits)
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
        if self.measure_cpu:
            kernel.cpu_started = uid_cpu_seconds(kernel.uid)
        # a forked kernel's scratch is a tmpfs of its own mount namespace, reached through its
        # root; no submitted code has run there yet
        scratch = (
            Path(f"/proc/{kernel.proc.pid}/root/job/scratch")
            if isinstance(kernel, ForkedKernel)
            else kernel.job_dir / "scratch"
        )
        write_work_files(scratch, files, owner=0, own_uid=kernel.uid)

    def close(self) -> None:
        """Stop the kernels started ahead and the zygotes, then give up this process's uids."""
        super().close()
        if self.zygote:
            self._zygote_requests.put(None)
            self._zygote_keeper.join(timeout=self.start_timeout + 10)
        for _, fd in self._claims:
            os.close(fd)
        self._claims = []

    def release(self, kernel: Kernel) -> None:
        """Throw a used kernel away and give its uid back."""
        assert isinstance(kernel, LocalKernel)
        if kernel.cpu_started is not None and not kernel.exited():
            used = uid_cpu_seconds(kernel.uid)
            self.cpu_seconds.append((kernel.cpu_started, used - kernel.cpu_started))
        kernel.kill()
        self.free_uids.put(kernel.uid)
