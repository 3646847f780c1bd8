"""Time-to-ready of trainee servers: stock JupyterHub vs sadari, same spawner, same machine, same run.

Starts two hubs side by side on free ports:
- stock: JupyterHub's SimpleLocalProcessSpawner (`--backend docker`: DockerSpawner with its stock
  settings, one image for everyone, the default bridge network), DummyAuthenticator, nothing else;
- sadari: the project's jupyterhub_config.py (SadariLocalSpawner = the same spawner plus the
  track/stage policy and lab provisioning; `--backend docker`: SadariDockerSpawner with the track
  images, a volume per trainee, the internal network and its firewall), demo cohort seeded.
Local: N servers one at a time on each, alternating stock/sadari so drift hits both alike.
Docker: N servers one at a time on each (alternating), then all stopped and N started at once on
each hub in turn. Each time is from the start request to the hub reporting the server ready.
Prints p50/p95 and ratios.

    python benchmarks/spawn.py [-n 20]
    python benchmarks/spawn.py --backend docker [-n 10]    # images: python images/build.py ...

Ends with one line: RESULT spawn n=... stock_p50=... sadari_p50=... ratio_p50=... (seconds);
with docker, RESULT spawn-docker ... for one at a time (`1x_`) and N at once (`Nx_`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import procs  # noqa: E402
from tests.support.hub import BIN, free_port, hub_env, sadari  # noqa: E402

BENCH_SERVICE = """
c.JupyterHub.services.append({{"name": "bench", "api_token": "{token}"}})
c.JupyterHub.load_roles.append({{"name": "bench", "services": ["bench"],
    "scopes": ["admin:users", "admin:servers", "read:users", "read:servers", "list:groups",
               "read:groups"]}})
"""

STOCK_CONFIG = """
import os, sys
from pathlib import Path
c = get_config()
c.JupyterHub.bind_url = "{bind}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = ["{proxy}"]
c.JupyterHub.db_url = "sqlite:///{data}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{data}/homes/{{username}}"
c.Spawner.cmd = ["{singleuser}"]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.JupyterHub.services = []
c.JupyterHub.load_roles = []
"""


class Hub:
    """One hub subprocess and the bench service token to drive it."""

    def __init__(
        self, name: str, config: Path, env: dict[str, str], data: Path, bind: str, token: str
    ):
        self.name, self.bind, self.token, self.data = name, bind, token, data
        log = (data / "hub.log").open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "jupyterhub"), "-f", str(config)],
            cwd=data,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.api = f"{bind}/hub/api"
        self.headers = {"Authorization": f"token {token}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.api}/users", headers=self.headers, timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} hub did not start; see {data / 'hub.log'}")

    def spawn(self, user: str) -> float:
        """Seconds from the start request to the hub saying the server is ready."""
        requests.post(f"{self.api}/users/{user}", headers=self.headers, timeout=10)
        return self.spawn_existing(user)

    def spawn_existing(self, user: str) -> float:
        """`spawn` for a user the hub knows already."""
        t0 = time.perf_counter()
        r = requests.post(f"{self.api}/users/{user}/server", headers=self.headers, timeout=60)
        r.raise_for_status()
        while True:
            model = requests.get(
                f"{self.api}/users/{user}", headers=self.headers, timeout=10
            ).json()
            if model["servers"].get("", {}).get("ready"):
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > 300:
                raise TimeoutError(f"{self.name}: {user} not ready")
            time.sleep(0.05)

    def stop_server(self, user: str) -> None:
        """Stop one server and wait until it is gone."""
        requests.delete(f"{self.api}/users/{user}/server", headers=self.headers, timeout=60)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            model = requests.get(f"{self.api}/users/{user}", headers=self.headers, timeout=10)
            if not model.json()["servers"]:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name}: {user} did not stop")

    def spawn_all(self, users: list[str]) -> list[float]:
        """Start all `users` at once; each one's seconds to ready."""
        out: list[float] = []
        with concurrent.futures.ThreadPoolExecutor(len(users)) as pool:
            out.extend(pool.map(self.spawn_existing, users))
        return out

    def stop(self) -> None:
        """Stop the servers still running (sadari's hub leaves them running when it stops, so
        that a restart loses nobody's work), then the hub."""
        try:
            users = requests.get(
                f"{self.api}/users", params={"state": "active"}, headers=self.headers, timeout=30
            ).json()
            for user in users:
                self.stop_server(user["name"])
        except (requests.RequestException, TimeoutError, ValueError) as e:
            print(f"{self.name}: could not stop every server first: {e}", file=sys.stderr)
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        # sadari's hub leaves its proxy running too (cleanup_proxy is off): end it
        pid_file = self.data / "proxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        # a hub killed because it did not stop in time leaves its services running (the idle
        # culler, in a session of its own): nothing working in its folder stays
        procs.kill(procs.ours(roots=[self.data], token=""))


def stock_config(data: Path, token: str, extra: str = "") -> tuple[Path, str]:
    """The stock hub's config file in `data` (made here) with the bench service and `extra`
    lines; (config file, public URL)."""
    data.mkdir()
    bind = f"http://127.0.0.1:{free_port()}"
    config = data / "jupyterhub_config.py"
    config.write_text(
        STOCK_CONFIG.format(
            bind=bind,
            hub_port=free_port(),
            proxy_port=free_port(),
            data=data,
            proxy=ROOT / "node_modules" / ".bin" / "configurable-http-proxy",
            singleuser=BIN / "jupyterhub-singleuser",
        )
        + BENCH_SERVICE.format(token=token)
        + extra
    )
    return config, bind


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM (e.g. from `timeout`) as SystemExit, so the `finally` blocks stop the hubs, their
    servers and containers instead of leaving them running."""
    raise SystemExit(128 + signum)


def main() -> int:
    """Run the benchmark and print the figures."""
    signal.signal(signal.SIGTERM, _terminated)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, help="servers per hub (default 20; docker: 10)")
    ap.add_argument("--backend", choices=["local", "docker"], default="local")
    args = ap.parse_args()
    if args.backend == "docker":
        return run_docker(args.n or 10)
    args.n = args.n or 20
    tmp = Path(tempfile.mkdtemp(prefix="sadari-bench-spawn-"))
    token = secrets.token_hex(16)

    stock_data = tmp / "stock"
    stock_cfg, stock_bind = stock_config(stock_data, token)

    sad_data = tmp / "sadari"
    tmp.chmod(0o711)  # the people's accounts pass through to their homes (tmp/homes)
    sad_env = hub_env(
        sad_data, f"sqlite:///{sad_data}/sadari.sqlite", SADARI_HOMES_DIR=str(tmp / "homes")
    )
    sadari(sad_env, "db", "upgrade")
    sadari(sad_env, "demo", "seed", "--trainees", str(args.n))
    sad_cfg = sad_data / "jupyterhub_config.py"
    sad_cfg.write_text(
        f"c = get_config()\nload_subconfig({str(ROOT / 'jupyterhub_config.py')!r})\n"
        + BENCH_SERVICE.format(token=token)
    )

    hubs: list[Hub] = []
    try:
        hubs.append(Hub("stock", stock_cfg, dict(os.environ), stock_data, stock_bind, token))
        hubs.append(Hub("sadari", sad_cfg, sad_env, sad_data, sad_env["SADARI_BIND_URL"], token))
        wait_for_groups(hubs[1])
        times: dict[str, list[float]] = {"stock": [], "sadari": []}
        for i in range(1, args.n + 1):
            user = f"trainee{i:03d}"
            for hub in hubs if i % 2 else reversed(hubs):
                times[hub.name].append(hub.spawn(user))
            print(
                f"  {user}: stock {times['stock'][-1]:.2f}s  sadari {times['sadari'][-1]:.2f}s",
                flush=True,
            )
    finally:
        for hub in hubs:
            hub.stop()

    s, d = times["stock"], times["sadari"]
    rows = [
        ("p50", statistics.median(s), statistics.median(d)),
        ("p95", pct(s, 95), pct(d, 95)),
        ("mean", statistics.fmean(s), statistics.fmean(d)),
    ]
    print(f"\n{args.n} servers each, one at a time, SimpleLocalProcessSpawner on both")
    print(f"{'':6}{'stock':>10}{'sadari':>10}{'ratio':>8}")
    for label, a, b in rows:
        print(f"{label:6}{a:>9.2f}s{b:>9.2f}s{b / a:>8.3f}")
    print(
        f"RESULT spawn n={args.n} stock_p50={rows[0][1]:.3f} sadari_p50={rows[0][2]:.3f} "
        f"ratio_p50={rows[0][2] / rows[0][1]:.3f} stock_p95={rows[1][1]:.3f} "
        f"sadari_p95={rows[1][2]:.3f} ratio_p95={rows[1][2] / rows[1][1]:.3f}"
    )
    return 0


STOCK_DOCKER = """
c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = "{image}"
c.DockerSpawner.remove = True
c.DockerSpawner.name_template = "sadari-bench-stock-{{username}}"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:{hub_port}"
c.JupyterHub.hub_connect_ip = "{docker0}"
c.Spawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.args = []
"""
BENCH_NETWORK, BENCH_SUBNET, BENCH_BRIDGE = "sadari-bench", "172.31.88.0/24", "sadaribench0"


def docker_cleanup() -> None:
    """The benchmark's containers, volumes, network and firewall chain."""
    from sadari.hub.core import containers

    def out(*cmd: str) -> list[str]:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.split()

    ids = out("docker", "ps", "-aq", "--filter", "name=^sadari-bench-")
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    vols = out("docker", "volume", "ls", "-q", "--filter", f"name=^{BENCH_NETWORK}-home-")
    if vols:
        subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True)
    subprocess.run(["docker", "network", "rm", BENCH_NETWORK], capture_output=True)
    chain = containers.firewall_chain(BENCH_BRIDGE)
    for rule in (["-D", *containers.firewall_jump(BENCH_BRIDGE)], ["-F", chain], ["-X", chain]):
        subprocess.run(["iptables", "-w", *rule], capture_output=True)


def run_docker(n: int) -> int:
    """Stock DockerSpawner vs SadariDockerSpawner: n one at a time, then n at once."""
    from sadari.hub.core.containers import gateway
    from tests.support import docker

    images = docker.ensure_images(
        "singleuser",
        *(f"lab-{t}" for t in ("data-analysis", "product-manager", "azure-ai", "vision-ai")),
    )
    stock_image = images["lab-data-analysis"]
    bridge = json.loads(
        subprocess.run(
            ["docker", "network", "inspect", "bridge"], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    ipam = bridge["IPAM"]["Config"][0]  # the default bridge may list only its subnet
    docker0 = ipam.get("Gateway") or gateway(ipam["Subnet"])
    docker_cleanup()
    tmp = Path(tempfile.mkdtemp(prefix="sadari-bench-spawn-docker-"))
    token = secrets.token_hex(16)
    stock_data = tmp / "stock"
    stock_data.mkdir()
    stock_bind, hub_port = f"http://127.0.0.1:{free_port()}", free_port()
    stock_cfg = stock_data / "jupyterhub_config.py"
    stock_cfg.write_text(
        STOCK_CONFIG.format(
            bind=stock_bind,
            hub_port=hub_port,
            proxy_port=free_port(),
            data=stock_data,
            proxy=ROOT / "node_modules" / ".bin" / "configurable-http-proxy",
            singleuser=BIN / "jupyterhub-singleuser",
        )
        + STOCK_DOCKER.format(image=stock_image, hub_port=hub_port, docker0=docker0)
        + BENCH_SERVICE.format(token=token)
    )
    sad_data = tmp / "sadari"
    sad_env = hub_env(
        sad_data,
        f"sqlite:///{sad_data}/sadari.sqlite",
        SADARI_SPAWNER="docker",
        SADARI_DOCKER_NETWORK=BENCH_NETWORK,
        SADARI_DOCKER_SUBNET=BENCH_SUBNET,
        SADARI_DOCKER_BRIDGE=BENCH_BRIDGE,
    )
    sadari(sad_env, "db", "upgrade")
    sadari(sad_env, "demo", "seed", "--trainees", str(n))
    sad_cfg = sad_data / "jupyterhub_config.py"
    sad_cfg.write_text(
        f"c = get_config()\nload_subconfig({str(ROOT / 'jupyterhub_config.py')!r})\n"
        + BENCH_SERVICE.format(token=token)
        + 'c.SadariDockerSpawner.name_template = "sadari-bench-{username}"\n'
    )
    users = [f"trainee{i:03d}" for i in range(1, n + 1)]
    hubs: list[Hub] = []
    one: dict[str, list[float]] = {"stock": [], "sadari": []}
    many: dict[str, list[float]] = {}
    try:
        hubs.append(Hub("stock", stock_cfg, dict(os.environ), stock_data, stock_bind, token))
        hubs.append(Hub("sadari", sad_cfg, sad_env, sad_data, sad_env["SADARI_BIND_URL"], token))
        wait_for_groups(hubs[1])
        for hub in hubs:
            for user in users:
                requests.post(f"{hub.api}/users/{user}", headers=hub.headers, timeout=10)
        print(f"one at a time ({n} each, alternating):", flush=True)
        for i, user in enumerate(users):
            for hub in hubs if i % 2 == 0 else reversed(hubs):
                one[hub.name].append(hub.spawn_existing(user))
            print(f"  {user}: stock {one['stock'][-1]:.2f}s  sadari {one['sadari'][-1]:.2f}s")
        for hub in hubs:
            for user in users:
                hub.stop_server(user)
        print(f"{n} at once:", flush=True)
        for hub in reversed(hubs):  # sadari first: the machine is as warm for stock as for it
            many[hub.name] = hub.spawn_all(users)
            print(f"  {hub.name}: " + " ".join(f"{t:.1f}" for t in many[hub.name]), flush=True)
            for user in users:
                hub.stop_server(user)
    finally:
        for hub in hubs:
            hub.stop()
        docker_cleanup()

    print(f"\nDocker: stock DockerSpawner ({stock_image}, default bridge) vs SadariDockerSpawner")
    print(f"{'':14}{'stock':>10}{'sadari':>10}{'ratio':>8}")
    fields = []
    for label, times in (("1x", one), (f"{n}x", many)):
        for q in ("p50", "p95"):
            a = statistics.median(times["stock"]) if q == "p50" else pct(times["stock"], 95)
            b = statistics.median(times["sadari"]) if q == "p50" else pct(times["sadari"], 95)
            print(f"{label + ' ' + q:14}{a:>9.2f}s{b:>9.2f}s{b / a:>8.3f}")
            fields.append(
                f"{label}_stock_{q}={a:.3f} {label}_sadari_{q}={b:.3f} {label}_ratio_{q}={b / a:.3f}"
            )
    print(f"RESULT spawn-docker n={n} " + " ".join(fields))
    return 0


def wait_for_groups(hub: Hub) -> None:
    """The sadari service creates the trainees and their groups on start: wait for it."""
    deadline = time.monotonic() + 60
    while len(requests.get(f"{hub.api}/groups", headers=hub.headers, timeout=5).json()) < 5:
        if time.monotonic() > deadline:
            raise RuntimeError("sadari service did not sync the demo cohort")
        time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
