"""The trusted half of a Kubernetes grading pod (see graders/sandbox/kubernetes.py).

A grading pod has two containers that share only a small memory-backed folder, /job/run:
- `kernel` (uid 1000, untrusted): waits for /job/run/kernel.json, then runs ipykernel on IPC sockets
  in /job/run. It sees no plan, no hidden tests, no network (the pod's egress and ingress are denied).
- `runner` (this module, another uid, trusted): reads the run plan (the cells to run, built on the
  trusted side from the instructor's source and the submission) from its own read-only volume,
  writes the connection file, drives the kernel with the same execution loop as the other backends
  (graders/sandbox/pool.py), and prints one JSON line with the execution records on stdout, where
  the backend reads it from the pod's log. The two containers do not share a process namespace.

    python -m sadari.graders.sandbox.podrunner --plan /job/plan/plan.json --run /job/run

The plan file: {"cells": [code, ...], "limits": {Limits fields}, "files": [{path, data (base64),
readonly}, ...]}: the runner writes the files into the shared grading folder (`WORK_DIR`, sticky;
the released ones read-only and its own, out of the kernel's reach) before the connection file, so
they are there when the kernel starts in that folder.
Output: one line `SADARI-RESULT {"runs": [CellRun as dict, ...]}`; exit status 0 when it ran (whatever
the kernel did), 2 when the kernel never came up.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from .base import Limits, WorkFile, write_work_files
from .kubernetes import WORK_DIR
from .pool import Kernel, connect, connection_file, execute

MARKER = "SADARI-RESULT "


class PodKernel(Kernel):
    """A kernel in the pod's other container: no local process; its heartbeat tells if it died."""

    needs_heartbeat = True

    def __init__(self, client: Any, limits: Limits):
        super().__init__(None, client, limits)  # type: ignore[arg-type]
        self._beaten = False

    def exited(self) -> bool:
        """The kernel stopped answering its heartbeat after it had answered it once (the
        heartbeat is answered outside Python, so a busy cell still beats)."""
        beating = bool(self.client.hb_channel.is_beating())
        self._beaten = self._beaten or beating
        return self._beaten and not beating

    def kill(self) -> None:
        """The runner cannot kill the other container: it asks the kernel to shut down (so the
        pod can finish) and stops talking; a kernel that ignores it is removed with the Job by
        the backend once it has read the result, or by the Job's deadline."""
        with contextlib.suppress(Exception):
            self.client.shutdown()
        self.client.stop_channels()


def run(
    plan_file: Path, run_dir: Path, start_timeout: float = 60.0, work_dir: Path | None = None
) -> dict[str, Any]:
    """Run the plan's cells in the pod's kernel; the execution records."""
    from jupyter_client import BlockingKernelClient

    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    limits = Limits(**plan.get("limits", {}))
    # the grading folder first: the kernel starts there once the connection file exists
    work = work_dir or Path(WORK_DIR)
    work.mkdir()
    work.chmod(0o1777)
    files = [
        WorkFile(f["path"], base64.b64decode(f["data"]), f["readonly"])
        for f in plan.get("files", [])
    ]
    write_work_files(work, files)
    info = connection_file(run_dir, str(run_dir / "k"))
    (run_dir / "kernel.json").chmod(0o640)  # readable by the kernel's group, nobody else
    kernel = PodKernel(BlockingKernelClient(), limits)
    connect(kernel, run_dir, info, time.monotonic() + start_timeout, run_dir / "kernel.log")
    try:
        runs = execute(kernel, [str(c) for c in plan["cells"]], limits)
    finally:
        kernel.kill()
    return {"runs": [dataclasses.asdict(r) for r in runs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a grading plan in the pod's kernel.")
    parser.add_argument("--plan", type=Path, default=Path("/job/plan/plan.json"))
    parser.add_argument("--run", type=Path, default=Path("/job/run"))
    parser.add_argument("--start-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        result = run(args.plan, args.run, args.start_timeout)
    except RuntimeError as e:
        print(MARKER + json.dumps({"error": str(e)}), flush=True)
        return 2
    # ASCII only: the line passes through the container runtime's log files and the API server's
    # log endpoint, and no byte of it can be read as a line break on the way
    print(MARKER + json.dumps(result, ensure_ascii=True), flush=True)
    return 0


def parse_log(log: str) -> list[dict[str, Any]]:
    """The execution records from a runner container's log (ValueError if there are none)."""
    for line in reversed(log.split("\n")):  # "\n" only: str.splitlines also splits at U+0085
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
            if "error" in result:
                raise ValueError(f"the grading pod's kernel did not start: {result['error']}")
            return list(result["runs"])
    raise ValueError("the grading pod's runner printed no result")


if __name__ == "__main__":
    sys.exit(main())
