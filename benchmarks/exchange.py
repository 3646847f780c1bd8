"""The deadline rush: N trainees submit a ~1 MB notebook within the same 30 s.

sadari: a real hub + sadari service (SQLite, local blob store); each trainee's submission is a zip
POSTed with their own token to /api/v1/exchange/.../submissions, as the exchange client does.
Reference, same run, same machine, same notebooks and schedule: nbgrader's own filesystem exchange
(`nbgrader.exchange.default.ExchangeSubmit`, called in-process per student, copying into a shared
exchange directory's inbound folder) — the stock mechanism without the cost of starting a Python
process per student, which would only favour sadari.

    python benchmarks/exchange.py [-n 300] [--window 30] [--size-mb 1]

Prints accepted/lost counts and p50/p95 submit latency for both, the ratios, and one line
`RESULT exchange ...`. "Lost" means not acknowledged, or acknowledged but not found afterwards.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.hub import BIN, hub_env, sadari  # noqa: E402

AID = "da-basics-check"  # the reference's assignment
AIDS = [
    "da-basics-check",
    "pm-basics-check",
    "az-basics-check",
    "va-basics-check",
]  # demo tracks in turn
BENCH = """
c = get_config()
load_subconfig({config!r})
c.JupyterHub.services.append({{"name": "bench", "api_token": "{token}"}})
c.JupyterHub.load_roles.append({{"name": "bench", "services": ["bench"],
    "scopes": ["tokens", "read:users", "list:users"]}})
"""


def notebook(size: int, seed: int) -> bytes:
    """A notebook of about `size` bytes whose bulk does not compress (like images in outputs)."""
    rng = random.Random(seed)
    blob = base64.b64encode(rng.randbytes(size * 3 // 4)).decode()
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": f"학습 기록 {seed}"},
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "source": "plot()",
                "outputs": [
                    {"output_type": "display_data", "metadata": {}, "data": {"image/png": blob}}
                ],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb).encode()


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def rush(n: int, window: float, submit, workers: int = 64) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    """Call submit(i) for i < n at seeded random instants within `window` seconds."""
    starts = sorted(random.Random(7).uniform(0, window) for _ in range(n))
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    t0 = time.perf_counter()

    def one(i: int) -> None:
        nonlocal failures
        delay = starts[i] - (time.perf_counter() - t0)
        if delay > 0:
            time.sleep(delay)
        t = time.perf_counter()
        ok = submit(i)
        with lock:
            latencies.append(time.perf_counter() - t)
            failures += 0 if ok else 1

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    return latencies, failures


def run_sadari(n: int, window: float, notebooks: list[bytes], tmp: Path) -> dict[str, float]:
    """The rush against a real hub and sadari service."""
    env = hub_env(tmp, f"sqlite:///{tmp}/sadari.sqlite")
    sadari(env, "db", "upgrade")
    sadari(env, "demo", "seed", "--trainees", str(n))
    for aid in AIDS:
        sadari(env, "assessment", "release", aid)
    token = secrets.token_hex(16)
    config = tmp / "bench_config.py"
    config.write_text(BENCH.format(config=str(ROOT / "jupyterhub_config.py"), token=token))
    proc = subprocess.Popen(
        [str(BIN / "jupyterhub"), "-f", str(config)],
        cwd=tmp,
        env=env,
        stdout=(tmp / "hub.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = env["SADARI_BIND_URL"]
        auth = {"Authorization": f"token {token}"}
        users = [f"trainee{i + 1:03d}" for i in range(n)]
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}/hub/api/users/{users[-1]}", headers=auth, timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub or sync not ready; see {tmp / 'hub.log'}")
            time.sleep(0.5)
        tokens = [
            requests.post(
                f"{url}/hub/api/users/{u}/tokens", headers=auth, json={}, timeout=30
            ).json()["token"]
            for u in users
        ]
        uploads = []
        for i, nb in enumerate(notebooks):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(f"{AIDS[i % 4]}.ipynb", nb)
            uploads.append(buf.getvalue())
        exchange = f"{url}/services/sadari/api/v1/exchange"

        def submit(i: int) -> bool:
            try:
                r = requests.post(
                    f"{exchange}/assignments/{AIDS[i % 4]}/submissions",
                    data=uploads[i],
                    timeout=120,
                    headers={"Authorization": f"token {tokens[i]}"},
                )
                return r.status_code == 201
            except requests.RequestException:
                return False

        latencies, failures = rush(n, window, submit)
        stored = 0
        for t in tokens:
            r = requests.get(
                f"{exchange}/submissions", headers={"Authorization": f"token {t}"}, timeout=30
            )
            stored += len(r.json()["submissions"])
        return {
            "accepted": n - failures,
            "lost": n - min(stored, n - failures),
            "p50": statistics.median(latencies),
            "p95": pct(latencies, 95),
            "upload_mb": statistics.fmean(len(u) for u in uploads) / 1e6,
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def run_nbgrader(n: int, window: float, notebooks: list[bytes], tmp: Path) -> dict[str, float]:
    """The same rush through nbgrader's filesystem exchange (in-process ExchangeSubmit)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit
    from traitlets.config import Config

    exchange = tmp / "exchange"
    (exchange / "course" / "inbound").mkdir(parents=True)
    (exchange / "course" / "outbound" / AID).mkdir(parents=True)
    (exchange / "course" / "outbound" / AID / f"{AID}.ipynb").write_bytes(notebooks[0])
    homes = tmp / "homes"
    for i, nb in enumerate(notebooks):
        folder = homes / f"s{i:03d}" / AID
        folder.mkdir(parents=True)
        (folder / f"{AID}.ipynb").write_bytes(nb)

    def submit(i: int) -> bool:
        c = Config()
        c.CourseDirectory.course_id = "course"
        c.CourseDirectory.assignment_id = AID
        c.CourseDirectory.student_id = f"s{i:03d}"
        c.Exchange.root = str(exchange)
        c.Exchange.cache = str(tmp / "cache" / f"s{i:03d}")
        c.Exchange.assignment_dir = str(homes / f"s{i:03d}")
        try:
            coursedir = CourseDirectory(config=c)
            ExchangeSubmit(
                coursedir=coursedir, authenticator=Authenticator(config=c), config=c
            ).start()
            return True
        except Exception:
            return False

    latencies, failures = rush(n, window, submit)
    stored = len(list((exchange / "course" / "inbound").iterdir()))
    return {
        "accepted": n - failures,
        "lost": n - min(stored, n - failures),
        "p50": statistics.median(latencies),
        "p95": pct(latencies, 95),
    }


def main() -> int:
    """Run both and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--size-mb", type=float, default=1.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sadari-bench-exchange-"))
    notebooks = [notebook(int(args.size_mb * 1_000_000), i) for i in range(args.n)]
    print(
        f"{args.n} submissions of {len(notebooks[0]) / 1e6:.2f} MB notebooks within "
        f"{args.window:.0f} s",
        flush=True,
    )
    ref = run_nbgrader(args.n, args.window, notebooks, tmp / "nbgrader")
    print("  nbgrader filesystem exchange: done", flush=True)
    ours = run_sadari(args.n, args.window, notebooks, tmp / "sadari")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{'':10}{'nbgrader fs':>14}{'sadari http':>14}{'ratio':>8}")
    print(f"{'accepted':10}{ref['accepted']:>14.0f}{ours['accepted']:>14.0f}")
    print(f"{'lost':10}{ref['lost']:>14.0f}{ours['lost']:>14.0f}")
    for key in ("p50", "p95"):
        print(f"{key + ' (s)':10}{ref[key]:>14.3f}{ours[key]:>14.3f}{ours[key] / ref[key]:>8.1f}")
    print(f"(sadari uploads average {ours['upload_mb']:.2f} MB zipped)")
    print(
        f"RESULT exchange n={args.n} window_s={args.window:g} sadari_accepted="
        f"{ours['accepted']:.0f} sadari_lost={ours['lost']:.0f} sadari_p50={ours['p50']:.3f} "
        f"sadari_p95={ours['p95']:.3f} nbgrader_accepted={ref['accepted']:.0f} "
        f"nbgrader_lost={ref['lost']:.0f} nbgrader_p50={ref['p50']:.3f} "
        f"nbgrader_p95={ref['p95']:.3f} ratio_p50={ours['p50'] / ref['p50']:.2f} "
        f"ratio_p95={ours['p95'] / ref['p95']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
