"""What the integrity probe costs per test cell, over a realistic snapshot (numpy and pandas loaded).

Starts one grading kernel (the local sandbox when it can run here, else a plain local ipykernel),
runs the SETUP cell graders/plan.py makes for a source whose setup cell imports numpy, pandas and
their testing helpers, then N rounds of: an empty cell (the round trip every cell pays), the probe
before a test and the probe after it, each through the trusted execution loop
(graders/sandbox/pool.py) as grading runs them; and, in the kernel, the time of the check alone.
Every probe must answer "ok" (the benchmark stops otherwise). Prints the medians and the cost one
test cell adds (its two probes), and ends with one line:

    RESULT probe backend=... modules=... setup_s=... roundtrip_ms=... before_ms=... after_ms=...
    check_before_ms=... check_after_ms=... per_test_ms=...

    python benchmarks/probe.py [-n 30] [--backend local|kernel]

Timing is reported, never judged: this is not a test.
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sadari.graders.plan import answer, probe_cell, setup_cell, trusted_context  # noqa: E402
from sadari.graders.sandbox import local  # noqa: E402
from sadari.graders.sandbox.base import Limits  # noqa: E402
from sadari.graders.sandbox.pool import Kernel, execute  # noqa: E402

SETUP_CELL = (
    "import math\nimport numpy as np\nimport pandas as pd\nimport numpy.testing as npt\n"
    "import pandas.testing as pdt\n"
)
TEST_CELL = (
    "npt.assert_allclose(np.mean([1.0, 2.0]), 1.5)\n"
    "pdt.assert_series_equal(pd.Series([1, 2]), pd.Series([1, 2]))\n"
    "assert math.isclose(sum([0.1, 0.2]), 0.3)\n"
)
TIMED = (
    "import time as _t\n_s = _t.perf_counter()\n"
    "__import__('sys').audit('sadari.probe', {challenge!r}, {names!r}, {phase!r})\n"
    "print('check_ms', (_t.perf_counter() - _s) * 1000)"
)


class PlainKernel(Kernel):
    """An ordinary local ipykernel (no sandbox), for machines where the sandbox cannot run."""

    def __init__(self) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
        client = self.manager.blocking_client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        super().__init__(self.manager.provisioner.process, client, Limits())  # type: ignore[union-attr]

    def kill(self) -> None:
        """Stop the kernel."""
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=30, help="rounds (default 30)")
    parser.add_argument("--backend", choices=["local", "kernel"], default=None)
    args = parser.parse_args(argv)
    backend = args.backend or ("local" if local.available() is None else "kernel")
    limits = Limits(wall_seconds=120, total_seconds=3600, memory_bytes=2 * 1024**3)
    sandbox: Any = None
    if backend == "local":
        if local.available() is not None:
            sys.exit(f"the local sandbox cannot run here: {local.available()}")
        sandbox = local.LocalSandbox(slots=1, pool=0, limits=limits)
        kernel = sandbox.start_kernel(limits)
    else:
        kernel = PlainKernel()
    key = secrets.token_bytes(32)
    modules, bound = trusted_context([SETUP_CELL, TEST_CELL])
    names = sorted({"np", "npt", "pd", "pdt", "math", "sum"} & (set(bound) | {"sum"}))
    try:
        cells = [
            setup_cell(key, modules, [[n, m, a] for n, (m, a) in sorted(bound.items())]),
            SETUP_CELL,
            "import sys; print(len(sys.modules))",
        ]
        runs = execute(kernel, cells, limits)
        if any(r.status != "ok" for r in runs):
            sys.exit(f"setup failed: {[(r.status, r.ename, r.evalue) for r in runs]}")
        n_modules = int(runs[2].output.split()[0])
        setup_s = runs[0].seconds
        roundtrip, before, after, check = [], [], [], {"before": [], "after": []}
        for _ in range(args.n):
            cells, expected = ["pass"], []
            for phase in ("before", "after"):
                challenge = secrets.token_hex(16)
                expected.append(answer(key, challenge))
                fails = "next" if phase == "before" else "previous"
                cells.append(probe_cell(expected[-1], fails, challenge, names, phase))
            if len(before) == 0:
                cells.insert(2, TEST_CELL)  # one real test between the probes, the first time
            for phase in ("before", "after"):
                challenge = secrets.token_hex(16)
                expected.append(answer(key, challenge))
                cells.append(TIMED.format(challenge=challenge, names=tuple(names), phase=phase))
            runs = execute(kernel, cells, limits)
            probes = [r for c, r in zip(cells, runs, strict=True) if c.startswith("#sadari-gate")]
            timed = runs[-2:]
            for run, want in zip([*probes, *timed], expected, strict=True):
                if run.status != "ok" or f"sadari-probe ok {want}" not in run.output:
                    sys.exit(f"a probe did not answer ok: {run.status} {run.output[:500]!r}")
            roundtrip.append(runs[0].seconds * 1000)
            before.append(probes[0].seconds * 1000)
            after.append(probes[1].seconds * 1000)
            for phase, run in zip(("before", "after"), timed, strict=True):
                check[phase].append(float(re.search(r"check_ms (\S+)", run.output).group(1)))  # type: ignore[union-attr]
    finally:
        if sandbox is not None:
            sandbox.release(kernel)
            sandbox.close()
        else:
            kernel.kill()

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    per_test = med(before) + med(after)
    print(f"backend {backend}, {n_modules} modules in sys.modules, {args.n} rounds (medians):")
    print(f"  SETUP (imports and snapshot)     {setup_s * 1000:8.1f} ms")
    print(f"  an empty cell (round trip)       {med(roundtrip):8.1f} ms")
    for phase, cells_ms in (("before", before), ("after", after)):
        label = f"probe {phase} a test"
        alone = med(check[phase])
        print(f"  {label:<32} {med(cells_ms):8.1f} ms   (check alone {alone:.1f} ms)")
    print(f"  added per test cell              {per_test:8.1f} ms")
    print(
        f"RESULT probe backend={backend} modules={n_modules} setup_s={setup_s:.2f} "
        f"roundtrip_ms={med(roundtrip):.1f} before_ms={med(before):.1f} after_ms={med(after):.1f} "
        f"check_before_ms={med(check['before']):.1f} check_after_ms={med(check['after']):.1f} "
        f"per_test_ms={per_test:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
