"""Autograding throughput: stock `nbgrader autograde` vs sadari's local sandbox, same run.

Generates N submissions of the data-analysis stage-1 assessment (a seeded mix: all right, half
right, nothing answered, answers that raise), grades them all with stock nbgrader (one
`nbgrader autograde` over the course, serial, unsandboxed: its normal use) and with sadari's
sandbox engine (single-use sandboxed kernels, a pool started ahead, `--workers` at a time), checks
both gave the same scores, and prints submissions per minute, the ratio, and sadari's per-notebook
overhead over pure cell execution time. sadari's figures include writing what stock autograde
writes (autograded notebooks, nbgrader gradebook entries), as the service does. With the local
backend it also prints the CPU seconds each submission's kernel spent starting (until its files were
placed: python, ipykernel and imports, or a zygote child's walling-in and kernel set-up) and running
the cells (everything its uid used after that), and the trusted side's own CPU per submission.

    python benchmarks/autograde.py [-n 300] [--workers 2] [--backend local|docker]
                                   [--zygote on|off]  (local: forked from a warmed parent or not)
    (local needs root and bubblewrap; docker an engine and the grader image: make images)

Ends with one line: RESULT autograde n=... stock_per_min=... sadari_per_min=... ratio=...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sadari.graders.autograde import Job, SandboxAutograder, nbgrader, read_scores  # noqa: E402
from sadari.graders.sandbox import docker, local  # noqa: E402
from sadari.graders.sandbox.base import Limits  # noqa: E402

AID = "da-basics-check"
SOURCE = ROOT / "labs/data-analysis/basics/assessments" / AID


def submissions(course: Path, n: int) -> list[str]:
    """N submitted notebooks: solutions from the source, stubs from the release, seeded mix."""
    source = json.loads((SOURCE / f"{AID}.ipynb").read_text())
    released = json.loads((course / "release" / AID / f"{AID}.ipynb").read_text())
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in source["cells"]
        if c["metadata"].get("nbgrader", {}).get("solution")
    }
    rng = random.Random(42)
    students = []
    for i in range(n):
        kind = rng.choice(["right", "right", "half", "none", "raise"])
        nb = json.loads(json.dumps(released))
        for j, cell in enumerate(
            c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
        ):
            gid = cell["metadata"]["nbgrader"]["grade_id"]
            if kind == "right" or (kind == "half" and j % 2 == 0):
                cell["source"] = answers[gid]
            elif kind == "raise":
                cell["source"] = "raise ValueError('모르겠어요')"
        student = f"s{i:03d}"
        folder = course / "submitted" / student / AID
        folder.mkdir(parents=True)
        (folder / f"{AID}.ipynb").write_text(json.dumps(nb))
        students.append(student)
    return students


def main() -> int:
    """Grade with both and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", choices=["local", "docker"], default="local")
    ap.add_argument("--image", default="sadari/grader:0.1.0", help="the docker backend's image")
    ap.add_argument(
        "--zygote",
        choices=["on", "off"],
        default="on" if local.zygote_default() else "off",
        help="local: fork each kernel from a warmed parent (the setting grading_zygote)",
    )
    args = ap.parse_args()
    reason = local.available() if args.backend == "local" else docker.available(args.image)
    if reason is not None:
        print(f"cannot run: {reason}")
        return 2
    course = Path(tempfile.mkdtemp(prefix="sadari-bench-autograde-"))
    shutil.copytree(SOURCE, course / "source" / AID)
    assert nbgrader(course, "generate_assignment", AID, "--force").returncode == 0
    students = submissions(course, args.n)
    print(
        f"{args.n} submissions of {AID}; sadari ({args.backend}) with {args.workers} workers",
        flush=True,
    )

    t0 = time.perf_counter()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = nbgrader(course, "autograde", AID, "--force", timeout=7200)
    stock_s = time.perf_counter() - t0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # stock's CPU (nbgrader and the kernels it waited for): unlike wall time, not stretched by
    # whatever else runs on the machine
    stock_cpu = (
        children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime
    ) / args.n
    assert run.returncode == 0, run.stderr[-2000:]
    stock = {s: {c.cell: c.score for c in read_scores(course, AID, s)} for s in students}
    print(f"  stock nbgrader: {stock_s:.1f} s", flush=True)

    limits = Limits(memory_bytes=2 * 1024**3)
    backend = (
        local.LocalSandbox(args.workers, args.workers, limits, zygote=args.zygote == "on")
        if args.backend == "local"
        else docker.DockerSandbox(args.image, args.workers, limits)
    )
    grader = SandboxAutograder(backend, limits, record_nbgrader=True)
    if args.backend == "local":
        backend.measure_cpu = True
    time.sleep(3)  # let the pool start its first kernels, as a running service would have
    t0 = time.perf_counter()
    own0 = sum(os.times()[:2])
    with ThreadPoolExecutor(args.workers) as pool:
        outcomes = dict(
            zip(
                students,
                pool.map(lambda s: grader.grade(Job(course, AID, s)), students),
                strict=True,
            )
        )
    sadari_s = time.perf_counter() - t0
    own_cpu = (sum(os.times()[:2]) - own0) / args.n
    grader.close()
    ours = {s: {c.cell: c.score for c in o.cells} for s, o in outcomes.items()}
    differ = [s for s in students if ours[s] != stock[s]]
    shutil.rmtree(course, ignore_errors=True)

    stock_rate, sadari_rate = args.n / stock_s * 60, args.n / sadari_s * 60
    per_nb = statistics.fmean(o.seconds for o in outcomes.values())
    exec_nb = statistics.fmean(o.exec_seconds for o in outcomes.values())
    print(f"\n{'':22}{'stock':>10}{'sadari':>10}")
    print(f"{'wall (s)':22}{stock_s:>10.1f}{sadari_s:>10.1f}")
    print(
        f"{'submissions / minute':22}{stock_rate:>10.1f}{sadari_rate:>10.1f}"
        f"   ratio {sadari_rate / stock_rate:.2f}"
    )
    print(
        f"sadari per notebook: {per_nb:.2f} s of which {exec_nb:.2f} s running cells "
        f"(overhead {per_nb - exec_nb:.2f} s); scores differing from stock: {len(differ)}"
    )
    cpu = ""
    if args.backend == "local" and backend.cpu_seconds:
        start_cpu = statistics.fmean(s for s, _ in backend.cpu_seconds)
        exec_cpu = statistics.fmean(e for _, e in backend.cpu_seconds)
        ours_cpu = start_cpu + exec_cpu + own_cpu
        print(
            f"CPU per submission (zygote {args.zygote}): kernel start-up {start_cpu:.3f} s, "
            f"cells {exec_cpu:.3f} s, trusted side {own_cpu:.3f} s "
            f"({len(backend.cpu_seconds)} kernels measured); stock {stock_cpu:.3f} s; "
            f"on {args.workers} idle cores sadari would do {stock_cpu / ours_cpu * args.workers:.2f}x "
            "stock"
        )
        cpu = (
            f" zygote={args.zygote} startup_cpu_s={start_cpu:.3f} exec_cpu_s={exec_cpu:.3f}"
            f" trusted_cpu_s={own_cpu:.3f} stock_cpu_s={stock_cpu:.3f}"
            f" cpu_ratio={stock_cpu / ours_cpu * args.workers:.2f}"
        )
    print(
        f"RESULT autograde n={args.n} backend={args.backend} workers={args.workers} "
        f"stock_per_min={stock_rate:.1f} sadari_per_min={sadari_rate:.1f} "
        f"ratio={sadari_rate / stock_rate:.2f} overhead_s={per_nb - exec_nb:.2f} differing={len(differ)}{cpu}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
