"""The 9 a.m. login storm: N trainees log in through the proxy and start their servers within a
10 s window, on a stock JupyterHub and on sadari's embedded default, same machine, same run.

- stock: JupyterHub's SimpleLocalProcessSpawner and DummyAuthenticator, its defaults otherwise
  (benchmarks/spawn.py's stock hub);
- sadari: the project's jupyterhub_config.py (a unix account per person, labs provisioned,
  `spawn_concurrency` starts at a time, the others told to retry), demo cohort of N trainees.

Each trainee, at their moment in the window, logs in with the hub's login form and asks for their
server as a browser does (GET /hub/spawn); a 429 ("too many starting") is retried after the hub's
Retry-After, as sadari's page does by itself. Time to ready is from the login to the hub reporting
the server ready. Meanwhile a logged-in person loads /hub/home every 0.5 s. Prints, per hub:
ready / failed (not ready after --give-up s), p50/p95/max seconds, how many needed a retry, hub
home p50/p95, and the memory the N servers take (RSS of their processes). The "warm" column
(servers started before the bell) is not measured: sadari does not start servers ahead of class
times yet.

    python benchmarks/storm.py [-n 60] [--window 10] [--give-up 300]

Ends with one line: RESULT storm n=... stock_ready=... sadari_ready=... (seconds, MB).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spawn import BENCH_SERVICE, ROOT, Hub, pct, stock_config  # noqa: E402

from tests.support.hub import hub_env, sadari  # noqa: E402

STOCK_LOGIN = """
c.Authenticator.allow_all = True
c.DummyAuthenticator.password = "{password}"
"""


@dataclass
class Storm:
    """What one hub did under the storm."""

    name: str
    ready: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retried: int = 0
    home: list[float] = field(default_factory=list)
    rss_mb: float = 0.0


def trainee(hub: Hub, user: str, password: str, give_up: float, storm: Storm) -> None:
    """Log in, ask for the server as a browser does, wait until the hub says it is ready."""
    s = requests.Session()
    t0 = time.perf_counter()
    retried = False
    try:
        s.get(f"{hub.bind}/hub/login", timeout=60)
        s.post(
            f"{hub.bind}/hub/login",
            data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf", "")},
            timeout=120,
            allow_redirects=False,
        )
        while time.perf_counter() - t0 < give_up:
            r = s.get(f"{hub.bind}/hub/spawn", timeout=120, allow_redirects=False)
            if r.status_code == 429:
                retried = True
                time.sleep(float(r.headers.get("Retry-After", "10")))
                continue
            break
        while time.perf_counter() - t0 < give_up:
            model = requests.get(f"{hub.api}/users/{user}", headers=hub.headers, timeout=60).json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                storm.ready.append(time.perf_counter() - t0)
                return
            if not server and time.perf_counter() - t0 > 30:  # gave up by the hub: ask again
                retried = True
                s.get(f"{hub.bind}/hub/spawn", timeout=120, allow_redirects=False)
            time.sleep(0.5)
        storm.failed.append(user)
    except requests.RequestException as e:
        storm.failed.append(f"{user} ({type(e).__name__})")
    finally:
        storm.retried += retried


def sample_home(
    hub: Hub, user: str, password: str, stop: threading.Event, out: list[float]
) -> None:
    """A person who is already in, loading the hub's home page every 0.5 s."""
    s = requests.Session()
    s.get(f"{hub.bind}/hub/login", timeout=60)
    s.post(
        f"{hub.bind}/hub/login",
        data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf", "")},
        timeout=60,
    )
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            s.get(f"{hub.bind}/hub/home", timeout=60)
            out.append(time.perf_counter() - t0)
        except requests.RequestException:
            out.append(60.0)
        stop.wait(0.5)


def rss_of_servers(marker: str) -> float:
    """MB of resident memory of the jupyterhub-singleuser processes whose environment holds
    `marker` (this hub's homes folder)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"jupyterhub-singleuser" not in (proc / "cmdline").read_bytes():
                continue
            if marker.encode() not in (proc / "environ").read_bytes():
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def storm(hub: Hub, users: list[str], password: str, window: float, give_up: float,
          watcher: str, marker: str) -> Storm:  # fmt: skip
    """The storm on one hub: everyone within `window` seconds; the servers stopped after."""
    result = Storm(hub.name)
    stop = threading.Event()
    sampler = threading.Thread(target=sample_home, args=(hub, watcher, password, stop, result.home))
    sampler.start()
    gap = window / max(1, len(users))
    with ThreadPoolExecutor(len(users)) as pool:
        for i, user in enumerate(users):
            pool.submit(trainee, hub, user, password, give_up, result)
            time.sleep(gap if i < len(users) - 1 else 0)
    stop.set()
    sampler.join()
    result.rss_mb = rss_of_servers(marker)
    stop_all(hub, users)
    return result


def stop_all(hub: Hub, users: list[str]) -> None:
    """Stop every server of the storm through the hub API and wait until they are gone."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(hub.stop_server, users))


def line(r: Storm, n: int) -> str:
    """One hub's figures, for people."""
    times = r.ready or [float("nan")]
    return (
        f"{r.name:>6}: ready {len(r.ready)}/{n}, failed {len(r.failed)}, retried {r.retried}; "
        f"ready p50 {pct(times, 50):.1f} s, p95 {pct(times, 95):.1f} s, max {max(times):.1f} s; "
        f"hub home p50 {pct(r.home, 50):.2f} s, p95 {pct(r.home, 95):.2f} s; "
        f"servers {r.rss_mb:.0f} MB ({r.rss_mb / max(1, len(r.ready)):.0f} MB each)"
    )


def fields(r: Storm) -> str:
    """One hub's figures, for the RESULT line."""
    times = r.ready or [float("nan")]
    k = r.name
    return (
        f"{k}_ready={len(r.ready)} {k}_failed={len(r.failed)} {k}_retried={r.retried} "
        f"{k}_p50={pct(times, 50):.1f} {k}_p95={pct(times, 95):.1f} {k}_max={max(times):.1f} "
        f"{k}_home_p95={pct(r.home, 95):.2f} {k}_mb_per_server="
        f"{r.rss_mb / max(1, len(r.ready)):.0f}"
    )


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    """Run the storm on both hubs and print the figures."""
    signal.signal(signal.SIGTERM, _terminated)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=60, help="trainees (default 60)")
    ap.add_argument("--window", type=float, default=10.0, help="seconds they arrive within")
    ap.add_argument(
        "--give-up", type=float, default=300.0, help="seconds before one counts as failed"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sadari-bench-storm-"))
    tmp.chmod(0o711)  # the people's accounts pass through to their homes (tmp/homes)
    token, password = secrets.token_hex(16), "storm-password"
    users = [f"trainee{i:03d}" for i in range(1, args.n + 1)]
    results: list[Storm] = []

    stock_data = tmp / "stock"
    stock_cfg, stock_bind = stock_config(stock_data, token, STOCK_LOGIN.format(password=password))
    hub = Hub("stock", stock_cfg, dict(os.environ), stock_data, stock_bind, token)
    try:
        results.append(storm(hub, users, password, args.window, args.give_up, "watcher",
                             str(stock_data / "homes")))  # fmt: skip
    finally:
        hub.stop()

    sad_data = tmp / "sadari"
    sad_env = hub_env(
        sad_data,
        f"sqlite:///{sad_data}/sadari.sqlite",
        SADARI_HOMES_DIR=str(tmp / "homes"),
        SADARI_DEMO_PASSWORD=password,
    )
    sadari(sad_env, "db", "upgrade")
    sadari(sad_env, "demo", "seed", "--trainees", str(args.n))
    sad_cfg = sad_data / "jupyterhub_config.py"
    sad_cfg.write_text(
        f"c = get_config()\nload_subconfig({str(ROOT / 'jupyterhub_config.py')!r})\n"
        + BENCH_SERVICE.format(token=token)
    )
    hub = Hub("sadari", sad_cfg, sad_env, sad_data, sad_env["SADARI_BIND_URL"], token)
    try:
        time.sleep(3)  # the service's first sync puts the demo trainees into the hub
        results.append(storm(hub, users, password, args.window, args.give_up, "instructor",
                             str(tmp / "homes")))  # fmt: skip
    finally:
        hub.stop()

    print(f"storm: {args.n} trainees within {args.window:.0f} s, {os.cpu_count()} cores")
    for r in results:
        print(line(r, args.n))
    stock, ours = results
    print(f"RESULT storm n={args.n} window_s={args.window:.0f} {fields(stock)} {fields(ours)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
