"""What every kernel-per-submission backend shares: a kernel started somewhere walled-in, reached
over ZeroMQ IPC sockets in a folder the trusted side owns; a small pool of kernels started ahead by
one long-lived thread (never reused); and the trusted side's execution loop that turns the kernel's
messages into one `CellRun` per cell, with a wall-clock limit and a liveness check after each cell
(a kernel_info request; after a tamper probe, whose signed answer already shows the kernel ran it,
its process's).

A cell may start with a gate line, `#sadari-gate {"expect": "...", "fails": "next" | "previous"}`,
that the loop reads and never sends: the cell passes when it ran, raised nothing, the kernel still
answers and its output holds `expect` (the answer of graders/plan.py's tamper probe, which only the
genuine probe can print). When it does not, the loop fails the cell the gate guards — the next one
is not run at all; the previous one, already run, is failed — with the probe's reason, and marks
it `extra["verdict"] = "tampering"`, so the record of a test says by itself that it was not
credited and why.

Backends subclass `KernelPool` (how to start a kernel) and `Kernel` (how to kill it).
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zmq

from .base import GATE, CellRun, Limits, WorkFile


class Kernel:
    """One started, not yet used kernel. `proc` is the local process whose exit means the kernel
    is gone (the kernel itself, or the client attached to its container)."""

    # whether `exited` and `kill` use the heartbeat and control channels (a kernel with no local
    # process)
    needs_heartbeat = False

    def __init__(self, proc: subprocess.Popen[bytes], client: Any, limits: Limits):
        self.proc = proc
        self.client = client  # jupyter_client.BlockingKernelClient
        self.limits = limits

    def exited(self) -> bool:
        """The kernel is gone for sure (its process, or the client attached to it, ended)."""
        return self.proc.poll() is not None

    def alive(self, timeout: float = 10.0) -> bool:
        """The trusted side's own check: the process runs and answers this kernel_info request
        (a late reply to an earlier one, left from the start, says nothing of the kernel now)."""
        if self.exited():
            return False
        try:
            msg_id = self.client.kernel_info()
            end = time.monotonic() + timeout
            while (left := end - time.monotonic()) > 0:
                reply = self.client.shell_channel.get_msg(timeout=left)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return bool(reply["content"].get("status") == "ok")
            return False
        except Exception:
            return False

    def kill(self) -> None:
        """Kill the kernel and everything it started; remove what it used."""
        raise NotImplementedError


def connection_file(run_dir: Path, ip: str) -> dict[str, Any]:
    """Write a kernel connection file for IPC sockets named `ip`-N (as the kernel sees them) into
    `run_dir`; returns the connection info with a fresh key (without `ip`)."""
    info: dict[str, Any] = {
        "transport": "ipc",
        "shell_port": 1,
        "iopub_port": 2,
        "stdin_port": 3,
        "control_port": 4,
        "hb_port": 5,
        "key": secrets.token_hex(32),
        "signature_scheme": "hmac-sha256",
        "kernel_name": "",
    }
    (run_dir / "kernel.json").write_text(json.dumps({**info, "ip": ip}))
    return info


def connect(
    kernel: Kernel, run_dir: Path, info: dict[str, Any], deadline: float, log: Path
) -> None:
    """Wait until the kernel's sockets exist in `run_dir` and it answers; RuntimeError (with the
    end of its log) when it exits or the deadline passes first."""
    kernel.client.load_connection_info({**info, "ip": str(run_dir / "k")})
    while not all((run_dir / f"k-{p}").exists() for p in (1, 2, 5)):
        if kernel.exited() or time.monotonic() > deadline:
            text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"sandboxed kernel did not start: {text}")
        time.sleep(0.02)
    # cells run without stdin; a kernel with a local process is known alive by it and by
    # kernel_info requests, so it needs no heartbeat (one more thread per kernel) nor control
    own = kernel.needs_heartbeat
    kernel.client.start_channels(stdin=False, hb=own, control=own)
    _wait_for_answer(kernel, deadline)


def _wait_for_answer(kernel: Kernel, deadline: float) -> None:
    """Wait until the kernel answers a kernel_info request on shell and a message it publishes
    reaches iopub (a subscription takes a moment to reach the kernel; until it has, what the
    kernel publishes is lost), as jupyter_client's `wait_for_ready` does, without its last step:
    waiting until iopub has been quiet for 0.2 s, which every kernel start would spend idle.

    A request is sent each time no reply came within a second, so a slow kernel's replies can
    arrive one or more requests late: a reply to any request sent here counts. The execution
    loop reads only the iopub messages of its own request, so what is left on iopub is harmless.
    """
    client = kernel.client
    sent: set[str] = set()
    while True:
        if kernel.exited():
            raise RuntimeError("the sandboxed kernel exited before it answered")
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("the sandboxed kernel did not answer in time")
        sent.add(client.kernel_info())
        try:
            reply = client.shell_channel.get_msg(timeout=min(1.0, left))
        except queue.Empty:
            continue
        if reply["parent_header"].get("msg_id") not in sent:
            continue
        try:
            client.iopub_channel.get_msg(timeout=min(0.2, max(left, 0.01)))
        except queue.Empty:
            continue
        return


class KernelPool:
    """Runs cells in single-use kernels; thread-safe. Subclasses implement `start_kernel`."""

    def __init__(self, pool: int, limits: Limits, start_timeout: float = 60.0):
        self.limits = limits
        self.start_timeout = start_timeout
        self.ready: queue.Queue[Kernel] = queue.Queue(maxsize=max(1, pool))
        self.pool = pool
        self._closed = threading.Event()
        self._refiller: threading.Thread | None = None

    def start_kernel(self, limits: Limits | None = None) -> Kernel:
        """Start one walled-in kernel and wait until it answers."""
        raise NotImplementedError

    def _start_pool(self) -> None:
        if self.pool:
            # One long-lived thread starts kernels ahead: a kernel may be tied to the *thread*
            # that started it (bwrap --die-with-parent), so no short-lived thread may start one.
            self._refiller = threading.Thread(
                target=self._refill, daemon=True, name="sadari-kernel-pool"
            )
            self._refiller.start()

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
                return self.ready.get_nowait()
            except queue.Empty:
                pass
        return self.start_kernel(limits)

    def release(self, kernel: Kernel) -> None:
        """Throw a used kernel away."""
        kernel.kill()

    def place(self, kernel: Kernel, files: Sequence[WorkFile]) -> None:
        """Put `files` in the kernel's working folder before any cell runs."""
        if files:
            raise NotImplementedError(f"{type(self).__name__} cannot place files")

    def run(
        self, cells: list[str], limits: Limits | None = None, files: Sequence[WorkFile] = ()
    ) -> list[CellRun]:
        """Run `cells` in order in one fresh kernel whose working folder holds `files`; one
        CellRun each."""
        limits = limits or self.limits
        kernel = self._take(limits)
        try:
            self.place(kernel, files)
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


def _gate(code: str) -> tuple[dict[str, str] | None, str]:
    """The gate of a cell (or None) and the code to send."""
    if not code.startswith(GATE):
        return None, code
    line, _, rest = code.partition("\n")
    try:
        gate = json.loads(line[len(GATE) :])
    except ValueError:
        gate = None
    if not isinstance(gate, dict) or not isinstance(gate.get("expect"), str) or not gate["expect"]:
        gate = {"expect": secrets.token_hex(16), "fails": "next"}  # unreadable: fails closed
    return gate, rest


def _failed_gate(run: CellRun) -> str:
    """Why a gate cell did not pass, as the probe put it (the trusted side verifies the probe's
    signature when it scores; here it only says what the probe reported)."""
    if run.status == "error":
        return f"the tamper check failed: {run.ename}: {run.evalue[:300]}"
    if run.status != "ok" or not run.alive_after:
        return "the kernel stopped during the tamper check"
    for line in reversed(run.output.splitlines()):
        if line.startswith("sadari-probe fail "):
            return (
                line.split(" ", 3)[3][:1500] if line.count(" ") >= 3 else "the tamper check failed"
            )
    return "the tamper check did not answer (what it runs on was replaced)"


def _fail(run: CellRun, reason: str) -> None:
    run.status = "error"
    run.ename = "TamperingDetected"
    run.evalue = f"tampering detected — {reason}"
    run.extra["verdict"] = "tampering"


def execute(kernel: Kernel, cells: list[str], limits: Limits) -> list[CellRun]:
    """Send each cell, collect its messages, check the kernel afterwards; apply the gates."""
    runs: list[CellRun] = []
    started = time.monotonic()
    stopped = ""
    blocked = ""  # the next cell is not run: the gate before it failed, for this reason
    for index, source in enumerate(cells):
        gate, code = _gate(source)
        if stopped:
            runs.append(CellRun(index, "not-run", extra={"after": stopped}))
            continue
        if blocked:
            run = CellRun(index, "ok", alive_after=True)
            _fail(run, blocked)
            runs.append(run)
            blocked = ""
            continue
        budget = min(limits.wall_seconds, limits.total_seconds - (time.monotonic() - started))
        # a gated cell's signed answer shows the kernel ran it to the end: its liveness is its
        # process's (the cell after it, a test or the end of the run, asks the kernel again)
        run = _execute_one(kernel, index, code, budget, limits, confirm=gate is None)
        if run.status == "timeout":
            stopped = "timeout"
            kernel.kill()
        elif run.status == "dead" or not run.alive_after:
            if run.status == "ok":
                run.status = "dead"
            stopped = "dead"
        runs.append(run)
        if gate is not None and not (
            run.status == "ok" and run.alive_after and gate["expect"] in run.output
        ):
            reason = _failed_gate(run)
            if gate.get("fails") == "previous":
                if len(runs) > 1 and runs[-2].status == "ok":
                    _fail(runs[-2], reason)
            elif not stopped:
                blocked = reason
    return runs


def _execute_one(
    kernel: Kernel, index: int, code: str, budget: float, limits: Limits, confirm: bool = True
) -> CellRun:
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
    # messages are read with the channels' own (synchronous) get_msg: the blocking client's
    # get_shell_msg/get_iopub_msg run an asyncio event loop for every message
    shell, iopub = client.shell_channel.socket, client.iopub_channel.socket
    poller = zmq.Poller()
    poller.register(shell, zmq.POLLIN)
    poller.register(iopub, zmq.POLLIN)
    while not (idle and reply is not None):
        remaining = budget - (time.monotonic() - t0)
        if remaining <= 0:
            run.status = "timeout"
            break
        if kernel.exited():
            run.status = "dead"
            break
        ready = dict(poller.poll(int(min(0.5, remaining) * 1000) + 1))
        try:
            if shell in ready and reply is None:
                with contextlib.suppress(queue.Empty):
                    msg = client.shell_channel.get_msg(timeout=0.01)
                    if msg["parent_header"].get("msg_id") == msg_id:
                        if not isinstance(msg["content"], dict):
                            raise TypeError("the execute reply is not an object")
                        reply = msg
            if iopub not in ready:
                continue
            try:
                msg = client.iopub_channel.get_msg(timeout=0.01)
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
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            # a message the kernel's own code no longer writes as the protocol says (its json or
            # session replaced by the submission): the kernel is no longer the kernel
            run.status = "dead"
            run.extra["unreadable"] = f"{type(e).__name__}: {str(e)[:200]}"
            break
    if reply is not None and reply["content"].get("status") != "ok" and run.status == "ok":
        run.status = "error"
        run.ename = run.ename or str(reply["content"].get("ename", "error"))
    run.output = "".join(output)
    run.seconds = time.monotonic() - t0
    if run.status in ("ok", "error"):
        run.alive_after = kernel.alive() if confirm else not kernel.exited()
    return run
