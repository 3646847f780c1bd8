"""The test tiers, and `make test`: every tier run, some side by side, then a table of them.

Each test is in exactly one tier (`tier_of`: the first rule that matches), so the tiers together
are the whole suite and no test runs twice:

    docker       tests/docker and anything marked `docker`: a real engine, the images, containers,
                 the docker and kubernetes grading backends (part of tests/sandbox)
    browser-a    tests/browser and anything marked `browser` in files test_a* to test_m*, and
    browser-b    those in files test_n* to test_z*: headless Chromium on a real hub per module
                 (two tiers, so that they can run in two lanes)
    hub-a        marked `hub`: a real JupyterHub, proxy, service and servers (tests/integration,
    hub-b        part of tests/service), files before test_hub.py and from it on
    labs         tests/labs: every assessment graded, every practice notebook run
    sandbox      the rest of tests/sandbox and anything else marked `sandbox`
    service      the rest of tests/service: the database (SQLite, PostgreSQL), the CLI, workers
    unit, helm, integration, other   the rest, by folder

`pytest --tier=NAME` runs one tier (write the `=`: pytest takes a bare `hub` or `labs` for a
folder of the repository). `python -m tests.support.tiers` (what `make test` runs) runs them all
in LANES: the lanes run side by side, each running its tiers one after another. A lane of tiers
that mostly wait (hub starts, servers spawning, containers, sandbox time limits) beside a lane of
tiers that mostly compute keeps two cores busy without two heavy tiers fighting. Each tier's output
is printed whole when it ends (pytest's closing line included); then come a table (tier, tests,
passed, failed, skipped, seconds) and the combined line `N passed, N failed, N skipped`. The exit
status is 1 when any tier failed; pytest's "no tests collected" (exit 5) is not a failure, since a
tier may be empty (e.g. with `-k`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

TIERS = {
    "docker": "tests/docker, marked docker",
    "browser-a": "tests/browser and marked browser, files test_a* to test_m*",
    "browser-b": "tests/browser and marked browser, files test_n* to test_z*",
    "hub-a": "marked hub, files before test_hub.py",
    "hub-b": "marked hub, files test_hub.py and after",
    "labs": "tests/labs",
    "sandbox": "tests/sandbox, marked sandbox",
    "service": "tests/service",
    "unit": "tests/unit",
    "helm": "tests/helm",
    "integration": "tests/integration",
    "other": "anything else",
}
FOLDERS = ("labs", "sandbox", "service", "unit", "helm", "integration")

# Lanes run side by side, longest tier first; a lane runs its tiers in order. The docker tier
# mostly waits on the engine (builds, containers, the sandbox's time limits), the hub and browser
# tiers on hubs and servers starting: three lanes kept two cores about half busy (the CPU time of
# a clean-clone run, 2026-12-06: 2381 s in 2487 s of wall time), so there are four.
# The docker tier's length depends on the engine's images: on an engine that has none yet (a new
# machine) it first builds them all, ~950 s of its 1492 s in a fresh clone's run of 2026-12-07;
# with them built, 718 s in a `make test` the same day. With the sandbox tier after it in its
# lane that run took 30 min 19 s (docker 1492 + sandbox 258 s; the other lanes 1006-1321 s), so
# the sandbox tier ends the hub-a lane instead: it starts once the docker tier is done when the
# images were there already, and beside the docker tier's last tests when it had to build them.
LANES = (
    ("hub-a", "browser-a", "helm", "other", "sandbox"),
    ("hub-b", "browser-b", "integration"),
    ("unit", "service", "labs"),
    ("docker",),
)


def tier_of(item: Any) -> str:
    """The tier of a collected test item (the first rule that matches)."""
    marks = {m.name for m in item.iter_markers()}
    parts = Path(str(item.path)).resolve().relative_to(ROOT).parts
    folder = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
    if "docker" in marks or folder == "docker":
        return "docker"
    if "browser" in marks or folder == "browser":
        first = Path(str(item.path)).name.removeprefix("test_")[:1]
        return "browser-a" if first <= "m" else "browser-b"
    if "hub" in marks:
        return "hub-a" if Path(str(item.path)).name < "test_hub" else "hub-b"
    if folder == "labs":
        return "labs"
    if folder == "sandbox" or "sandbox" in marks:
        return "sandbox"
    return folder if folder in FOLDERS else "other"


@dataclass
class Outcome:
    """How one tier went."""

    tier: str
    returncode: int = -1
    seconds: float = 0.0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    output: str = ""

    @property
    def tests(self) -> int:
        return self.passed + self.failed + self.skipped

    @property
    def ok(self) -> bool:
        # 5: no tests collected (an empty tier, e.g. everything deselected by -m or -k)
        return self.returncode in (0, 5)


def count(junit: Path, outcome: Outcome) -> None:
    """Passed, failed (failures and errors) and skipped tests from pytest's junit XML."""
    if not junit.exists():
        return
    for case in ET.parse(junit).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            outcome.failed += 1
        elif "skipped" in tags:
            outcome.skipped += 1
        else:
            outcome.passed += 1


def run_tier(tier: str, pytest_args: list[str], logs: Path, lock: threading.Lock) -> Outcome:
    """One pytest run of `tier`; its output is printed whole when it ends."""
    outcome = Outcome(tier)
    junit = logs / f"{tier}.xml"
    log = logs / f"{tier}.log"
    cmd = [sys.executable, "-m", "pytest", f"--tier={tier}", f"--junitxml={junit}", *pytest_args]
    with lock:
        print(f"[{time.strftime('%H:%M:%S')}] tier {tier}: started", flush=True)
    t0 = time.monotonic()
    with log.open("wb") as out:
        outcome.returncode = subprocess.run(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        ).returncode
    outcome.seconds = time.monotonic() - t0
    outcome.output = log.read_text(errors="replace")
    count(junit, outcome)
    with lock:
        print(f"\n{'=' * 30} tier {tier} ({outcome.seconds:.0f} s) {'=' * 30}", flush=True)
        sys.stdout.write(outcome.output)
        print(f"[{time.strftime('%H:%M:%S')}] tier {tier}: exit {outcome.returncode}", flush=True)
    return outcome


def table(outcomes: list[Outcome], wall: float) -> str:
    """The summary table and the combined closing line."""
    rows = [("tier", "tests", "passed", "failed", "skipped", "seconds", "")]
    for o in outcomes:
        status = "ok" if o.ok else f"FAILED (exit {o.returncode})"
        rows.append(
            (
                o.tier,
                str(o.tests),
                str(o.passed),
                str(o.failed),
                str(o.skipped),
                f"{o.seconds:.0f}",
                status,
            )
        )
    total = Outcome("total")
    for o in outcomes:
        total.passed += o.passed
        total.failed += o.failed
        total.skipped += o.skipped
    rows.append(
        (
            "all (side by side)",
            str(total.tests),
            str(total.passed),
            str(total.failed),
            str(total.skipped),
            f"{wall:.0f}",
            "",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r) - 1)]
        lines.append("  ".join(cells) + (f"  {r[-1]}" if r[-1] else ""))
        if n == 0 or n == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths[:-1]))
    lines.append("")
    lines.append(f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the test tiers side by side (make test); other options go to pytest."
    )
    parser.add_argument("--only", default="", help="comma-separated tiers (default: all)")
    parser.add_argument("--logs", type=Path, help="folder for each tier's log and junit XML")
    parser.add_argument(
        "--serial", action="store_true", help="one tier at a time (e.g. to time each alone)"
    )
    args, pytest_args = parser.parse_known_args(argv)
    wanted = [t for t in args.only.split(",") if t] or list(TIERS)
    unknown = sorted(set(wanted) - set(TIERS))
    if unknown:
        parser.error(f"unknown tier(s) {', '.join(unknown)}; tiers: {', '.join(TIERS)}")
    logs = args.logs or Path(tempfile.mkdtemp(prefix="sadari-tiers-"))
    logs.mkdir(parents=True, exist_ok=True)
    lanes = [[t for t in lane if t in wanted] for lane in LANES]
    if args.serial:
        lanes = [[t for lane in lanes for t in lane]]
    print(f"test tiers in {len(lanes)} lane(s): " + " | ".join(" → ".join(la) for la in lanes))
    print(f"logs and junit XML: {logs}", flush=True)
    lock = threading.Lock()
    outcomes: dict[str, Outcome] = {}

    def lane_runner(lane: list[str]) -> None:
        for tier in lane:
            outcomes[tier] = run_tier(tier, pytest_args, logs, lock)

    t0 = time.monotonic()
    threads = [threading.Thread(target=lane_runner, args=(lane,)) for lane in lanes if lane]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    ordered = [outcomes[t] for t in TIERS if t in outcomes]
    print()
    print(table(ordered, wall), flush=True)
    return 0 if all(o.ok for o in ordered) else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
