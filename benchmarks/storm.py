"""The 9 a.m. login storm: N trainees log in through the proxy and start their servers within a
10 s window, on a stock JupyterHub and on sadari's embedded default, same machine, same run.

- stock: JupyterHub's SimpleLocalProcessSpawner and DummyAuthenticator, its defaults otherwise
  (benchmarks/spawn.py's stock hub);
- sadari: the project's jupyterhub_config.py (a unix account per person, labs provisioned,
  `spawn_concurrency` starts at a time, the others told to retry), demo cohort of N trainees.

Each trainee, at their moment in the window, logs in with the hub's login form and asks for their
server as a browser does (GET /hub/spawn); a 429 ("too many starting") is retried after the hub's
Retry-After, as sadari's page does by itself; then it waits as the browser's "starting" page does,
on the spawn's progress event stream (one connection, no polling). Time to ready is from the login
to the stream saying ready. Meanwhile a logged-in person loads /hub/home every 0.5 s. Prints, per hub:
ready / failed (not ready after --give-up s), p50/p95/max seconds, how many needed a retry, hub
home p50/p95, and the memory the N servers take (PSS: theirs and that of the parent sadari forks
them from, hub/forkserver.py).

A third column, "warm": sadari again (a fresh hub and data folder), with a class for the demo
cohort a few minutes away in a copy of the curriculum (`classes`, as a campus timetable gives it)
and the service's warm-up check every 2 s: the service starts the trainees' servers by itself
before anyone logs in (within `max_servers` and while the machine's available memory holds
another `server_memory_mb`); when all are up (or after --give-up s) the same storm arrives. The
seconds the warm-up took are printed beside it (warm_up_s).

A hub whose N servers would not fit in 90% of the machine's available memory (at the PSS per
server measured at N=60: --stock-mb, --sadari-mb) is not run; it says why, and the RESULT line
has `<hub>_run=0` in place of its figures.

    python benchmarks/storm.py [-n 60] [--window 10] [--give-up 300]

Ends with one line: RESULT storm n=... stock_ready=... sadari_ready=... (seconds, MB).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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
    rss_mb: float = 0.0  # PSS of the servers (memory_of_servers)
    warm_up_s: float | None = None  # the warm column: how long the servers took to be up


def wait_ready(s: requests.Session, hub: Hub, user: str, deadline: float) -> bool:
    """Wait as the browser does on the hub's "starting" page: one event stream of the spawn's
    progress (the page's EventSource), until it says ready or failed. True when ready."""
    page = s.get(f"{hub.bind}/hub/spawn-pending/{user}", timeout=120, allow_redirects=False)
    if page.status_code in (301, 302, 303):  # not pending any more: running, or stopped
        return bool(
            requests.get(f"{hub.api}/users/{user}", headers=hub.headers, timeout=60)
            .json()
            .get("servers", {})
            .get("", {})
            .get("ready")
        )
    found = re.search(r'new EventSource\("([^"]+)"\)', page.text)
    if found is None:
        return False
    url = html.unescape(found.group(1))
    left = max(1.0, deadline - time.perf_counter())
    with s.get(f"{hub.bind}{url}", stream=True, timeout=(60, left)) as events:
        for raw in events.iter_lines():
            if raw.startswith(b"data:"):
                event = json.loads(raw[5:])
                if event.get("ready"):
                    return True
                if event.get("failed"):
                    return False
    return False


def trainee(hub: Hub, user: str, password: str, give_up: float, storm: Storm) -> None:
    """Log in, ask for the server as a browser does (a 429 retried after its Retry-After), wait
    on the starting page's progress stream until the server is ready; a start the hub gave up
    is asked for again, until `give_up` seconds from the login."""
    s = requests.Session()
    # as a browser does: a GET sent on a kept-alive connection the proxy closed meanwhile (its
    # 5 s keep-alive timeout, while the trainee waited out a 429) is sent again on a new one
    retry = Retry(total=3, connect=3, read=3, status=0, other=0, allowed_methods={"GET"},
                  raise_on_status=False, respect_retry_after_header=False)  # fmt: skip
    s.mount("http://", HTTPAdapter(max_retries=retry))
    t0 = time.perf_counter()
    deadline = t0 + give_up
    retried = False
    try:
        s.get(f"{hub.bind}/hub/login", timeout=60)
        s.post(
            f"{hub.bind}/hub/login",
            data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf", "")},
            timeout=120,
            allow_redirects=False,
        )
        asked = 0
        while time.perf_counter() < deadline:
            r = s.get(f"{hub.bind}/hub/spawn", timeout=120, allow_redirects=False)
            if r.status_code == 429:
                retried = True
                time.sleep(float(r.headers.get("Retry-After", "10")))
                continue
            asked += 1
            retried = retried or asked > 1
            try:
                if wait_ready(s, hub, user, deadline):
                    storm.ready.append(time.perf_counter() - t0)
                    return
            except requests.RequestException:
                pass  # the stream broke off (the hub busy): look again
            time.sleep(1)
        storm.failed.append(f"{user} (not ready after {give_up:.0f} s)")
    except requests.RequestException as e:
        storm.failed.append(f"{user} ({type(e).__name__}: {str(e)[-120:]})")
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


def _pss_kb(proc: Path) -> int:
    for line in (proc / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def memory_of_servers(marker: str) -> float:
    """MB of memory the jupyterhub-singleuser processes of this hub take: those whose environment
    holds `marker` (this hub's homes folder) or that work in a folder under it (a server forked
    by sadari's fork server has the parent's start-up environment), plus that parent. Counted as
    PSS (each shared page divided among the processes sharing it), so that pages a forked server
    shares with its parent and the others are not counted once per server."""
    total, parents = 0, set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"jupyterhub-singleuser" not in (proc / "cmdline").read_bytes():
                continue
            if marker.encode() not in (proc / "environ").read_bytes() and not os.readlink(
                proc / "cwd"
            ).startswith(marker):
                continue
            total += _pss_kb(proc)
            parents.add(int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]))
        except OSError:
            continue
    for pid in parents:
        try:
            if b"sadari.hub.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                total += _pss_kb(Path(f"/proc/{pid}"))
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
    result.rss_mb = memory_of_servers(marker)
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


def class_soon(labs: Path, minutes: int = 3) -> None:
    """`labs`: a copy of the project's labs whose demo (Seoul) cohort has a class `minutes` from
    now every day, warmed 10 minutes ahead: the warm-up starts at once."""
    shutil.copytree(ROOT / "labs", labs, ignore=shutil.ignore_patterns("__pycache__"))
    soon = (datetime.now(ZoneInfo("Asia/Seoul")) + timedelta(minutes=minutes)).strftime("%H:%M")
    text = (labs / "curriculum.yaml").read_text(encoding="utf-8")
    seoul = "    starts: 2026-11-16\n    timezone: Asia/Seoul\n"
    if seoul not in text:
        raise SystemExit("the curriculum's Seoul cohort changed: update class_soon()")
    days = "[mon, tue, wed, thu, fri, sat, sun]"
    classes = f"    classes: {{days: {days}, start: '{soon}', warm_minutes: 10}}\n"
    (labs / "curriculum.yaml").write_text(text.replace(seoul, seoul + classes), encoding="utf-8")


def wait_warm(hub: Hub, users: list[str], give_up: float) -> float:
    """Seconds until every trainee's server is up by the warm-up alone (or `give_up`)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < give_up:
        if ready_users(hub) >= set(users):
            break
        time.sleep(2)
    return time.perf_counter() - t0


def ready_users(hub: Hub) -> set[str]:
    """Names of the users whose server is ready, every page of them (without pagination the
    hub answers with the first 200 only)."""
    headers = {**hub.headers, "Accept": "application/jupyterhub-pagination+json"}
    names: set[str] = set()
    offset = 0
    while True:
        r = requests.get(
            f"{hub.api}/users",
            params={"state": "ready", "offset": offset, "limit": 200},
            headers=headers,
            timeout=60,
        ).json()
        names |= {u["name"] for u in r["items"] if u.get("servers", {}).get("", {}).get("ready")}
        following = r["_pagination"].get("next")
        if not following:
            return names
        offset = following["offset"]


def sadari_storm(tmp: Path, name: str, users: list[str], password: str, token: str,
                 args: argparse.Namespace) -> Storm:  # fmt: skip
    """The storm on sadari's embedded default; `name` "warm": with a class about to start."""
    data = tmp / name
    extra = {}
    if name == "warm":
        class_soon(tmp / "labs-warm")
        extra = {"SADARI_LABS_DIR": str(tmp / "labs-warm"), "SADARI_WARM_CHECK_SECONDS": "2"}
    env = hub_env(
        data,
        f"sqlite:///{data}/sadari.sqlite",
        SADARI_HOMES_DIR=str(tmp / "homes"),
        SADARI_DEMO_PASSWORD=password,
        **extra,
    )
    sadari(env, "db", "upgrade")
    sadari(env, "demo", "seed", "--trainees", str(len(users)))
    cfg = data / "jupyterhub_config.py"
    cfg.write_text(
        f"c = get_config()\nload_subconfig({str(ROOT / 'jupyterhub_config.py')!r})\n"
        + BENCH_SERVICE.format(token=token)
    )
    hub = Hub(name, cfg, env, data, env["SADARI_BIND_URL"], token)
    try:
        time.sleep(3)  # the service's first sync puts the demo trainees into the hub
        warm_up = wait_warm(hub, users, args.give_up) if name == "warm" else None
        if warm_up is not None:
            print(f"warm: the servers were up {warm_up:.0f} s after the hub started")
        result = storm(hub, users, password, args.window, args.give_up, "instructor",
                       str(tmp / "homes"))  # fmt: skip
        result.warm_up_s = warm_up
        return result
    finally:
        hub.stop()


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


RUNS = ("stock", "sadari", "warm")


def available_mb() -> float:
    """The machine's available memory (MemAvailable), MB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fits(name: str, n: int, mb_each: float) -> bool:
    """Whether N servers of `mb_each` MB (PSS measured at N=60 on this machine) fit in 90% of
    the available memory; if not, say so: that hub is not run (the kernel's OOM killer would
    pick processes of its own, the machine's other work included)."""
    need, have = n * mb_each, 0.9 * available_mb()
    if need <= have:
        return True
    print(f"{name}: not run: {n} servers x ~{mb_each:.0f} MB = {need / 1024:.1f} GB, more than "
          f"90% of the {have / 0.9 / 1024:.1f} GB available")  # fmt: skip
    return False


def main() -> int:
    """Run the storm on both hubs and print the figures."""
    signal.signal(signal.SIGTERM, _terminated)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=60, help="trainees (default 60)")
    ap.add_argument("--window", type=float, default=10.0, help="seconds they arrive within")
    ap.add_argument(
        "--give-up", type=float, default=300.0, help="seconds before one counts as failed"
    )
    ap.add_argument(
        "--stock-mb",
        type=float,
        default=115.0,
        help="MB a stock server takes (PSS; 111 measured at N=60), for the memory check",
    )
    ap.add_argument("--sadari-mb", type=float, default=40.0,
                    help="MB a forked sadari server takes (PSS; 35 measured at N=60)")  # fmt: skip
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sadari-bench-storm-"))
    tmp.chmod(0o711)  # the people's accounts pass through to their homes (tmp/homes)
    token, password = secrets.token_hex(16), "storm-password"
    users = [f"trainee{i:03d}" for i in range(1, args.n + 1)]
    results: list[Storm] = []

    if fits("stock", args.n, args.stock_mb):
        stock_data = tmp / "stock"
        stock_cfg, stock_bind = stock_config(
            stock_data, token, STOCK_LOGIN.format(password=password)
        )
        hub = Hub("stock", stock_cfg, dict(os.environ), stock_data, stock_bind, token)
        try:
            results.append(storm(hub, users, password, args.window, args.give_up, "watcher",
                                 str(stock_data / "homes")))  # fmt: skip
        finally:
            hub.stop()
    if fits("sadari", args.n, args.sadari_mb):
        results.append(sadari_storm(tmp, "sadari", users, password, token, args))
        results.append(sadari_storm(tmp, "warm", users, password, token, args))

    print(f"storm: {args.n} trainees within {args.window:.0f} s, {os.cpu_count()} cores")
    for r in results:
        print(line(r, args.n))
        if r.failed:
            print(f"        failed: {', '.join(r.failed[:20])}")
    ran = {r.name: r for r in results}
    figures = " ".join(fields(ran[k]) if k in ran else f"{k}_run=0" for k in RUNS)
    warm_up = f" warm_up_s={ran['warm'].warm_up_s:.0f}" if "warm" in ran else ""
    print(f"RESULT storm n={args.n} window_s={args.window:.0f} {figures}{warm_up}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
