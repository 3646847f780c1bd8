"""A real JupyterHub for tests: proxy, hub, sadari service and single-user servers as subprocesses.

`RunningHub.start(data_dir, db_url)` seeds the demo cohort with the real CLI, starts `jupyterhub`
with the project's jupyterhub_config.py on free ports, and waits until the sadari service answers
and the hub's users and groups are synced. Helpers drive it the way people do: the login form, the
hub API with a user's own token, the single-user server's contents API.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.support import procs

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "test-demo-password"
# an access-log line of a request answered 2xx or 3xx (JupyterHub's and tornado's formats)
ROUTINE = re.compile(r"(log:\d+\]|tornado\.access\]) [23]\d\d (GET|POST|HEAD|PATCH|PUT|DELETE) ")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_env(data_dir: Path, db_url: str, **extra: str) -> dict[str, str]:
    """Environment for the CLI and the hub: everything under `data_dir`, free ports. Processes
    working in its folders are the test run's (tests/support/procs.py ends them if left)."""
    procs.claim(data_dir, extra.get("SADARI_HOMES_DIR", ""))
    return {
        **os.environ,
        "SADARI_PROJECT_DIR": str(ROOT),
        "SADARI_DATA_DIR": str(data_dir),
        "SADARI_DB_URL": db_url,
        "SADARI_BIND_URL": f"http://127.0.0.1:{free_port()}",
        "SADARI_HUB_PORT": str(free_port()),
        "SADARI_PROXY_API_PORT": str(free_port()),
        "SADARI_SERVICE_PORT": str(free_port()),
        "SADARI_DEMO_PASSWORD": PASSWORD,
        "SADARI_AUTOMATION_TOKEN": secrets.token_hex(16),
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }


def sadari(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real `sadari` CLI."""
    r = subprocess.run(
        [str(BIN / "sadari"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and r.returncode != 0:
        raise AssertionError(f"sadari {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r


def _start_jupyterhub(env: dict[str, str], data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "jupyterhub"), "-f", str(ROOT / "jupyterhub_config.py")],
        cwd=data_dir,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def remove_accounts(prefix: str) -> None:
    """Delete the unix accounts and team groups a test hub made (its own prefix only)."""
    import grp
    import pwd

    sbin = "/usr/sbin:/sbin:/usr/bin:/bin"
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix):
            subprocess.run([shutil.which("userdel", path=sbin) or "userdel", entry.pw_name],
                           capture_output=True)  # fmt: skip
    for group in grp.getgrall():
        if group.gr_name.startswith((prefix, prefix[:-1] + "_")):
            subprocess.run([shutil.which("groupdel", path=sbin) or "groupdel", group.gr_name],
                           capture_output=True)  # fmt: skip


@dataclass
class RunningHub:
    """A started hub; `url` is the public (proxy) URL."""

    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Public URL of the proxy."""
        return self.env["SADARI_BIND_URL"]

    @property
    def service(self) -> str:
        """Base URL of the sadari service API."""
        return f"{self.url}/services/sadari/api/v1"

    @classmethod
    def start(cls, data_dir: Path, db_url: str, trainees: int = 4, **extra: str) -> RunningHub:
        """Seed the demo cohort and start the hub; wait until it and the service are ready.

        People's homes go to a fresh folder under /tmp that their accounts can pass through
        (pytest's own temporary folders are closed to other users)."""
        if "SADARI_HOMES_DIR" not in extra:
            homes = Path(tempfile.mkdtemp(prefix="sadari-test-homes-"))
            homes.chmod(0o711)
            extra["SADARI_HOMES_DIR"] = str(homes)
        # accounts of their own: hubs of parallel tests never share (or kill) each other's
        extra.setdefault("SADARI_ACCOUNT_PREFIX", f"t{secrets.token_hex(3)}-")
        env = hub_env(data_dir, db_url, **extra)
        sadari(env, "db", "upgrade")
        sadari(env, "demo", "seed", "--trainees", str(trainees))
        log_path = data_dir / "hub.log"
        hub = cls(env, data_dir, _start_jupyterhub(env, data_dir, log_path), log_path)
        try:
            hub.wait_ready()
        except BaseException:
            hub.stop()
            raise
        return hub

    def log(self) -> str:
        """What the hub (and the service, and the servers) printed."""
        return self.log_path.read_text(errors="replace")

    def story(self, chars: int = 6000) -> str:
        """The log's last `chars` without the lines of routine success (2xx/3xx answers to
        requests, which polling tests make many of): what a failure message should show."""
        kept = [line for line in self.log().splitlines() if not ROUTINE.search(line)]
        return "\n".join(kept)[-chars:]

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the service answers as the automation service and a full sync has run."""
        deadline = time.monotonic() + timeout
        auth = {"Authorization": f"token {self.env['SADARI_AUTOMATION_TOKEN']}"}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.proc.returncode}):\n{self.log()}")
            try:
                r = requests.post(f"{self.service}/sync", headers=auth, timeout=10)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"hub not ready after {timeout}s:\n{self.story()}")

    def restart(self, while_down: Callable[[], None] = lambda: None) -> None:
        """Stop the hub alone (the proxy and the servers keep running, as with `sadari
        restart`), run `while_down`, start it again and wait until it is ready."""
        os.kill(self.proc.pid, signal.SIGTERM)
        # the hub stops its services first (SIGINT, then SIGTERM after 10 s, SIGKILL after 5
        # more: JupyterHub's own timeouts); ~5 s here alone, over 30 s once in CI's three lanes
        self.proc.wait(90)
        while_down()
        self.proc = _start_jupyterhub(self.env, self.data_dir, self.log_path)
        self.wait_ready()

    def stop_servers(self) -> None:
        """Stop every server through the hub API, as `sadari run` does on a full stop (the hub
        leaves servers running when it stops: cleanup_servers is off)."""
        from sadari.hub.supervisor import HubAPI, stop_servers

        token = (self.data_dir / "supervisor-token").read_text().strip()
        api = HubAPI(f"http://127.0.0.1:{self.env['SADARI_HUB_PORT']}/hub/api", token)
        stop_servers(api, time.monotonic() + 30, lambda _line: None)

    def stop(self) -> None:
        """Stop the servers, SIGTERM the hub (it stops the service and the proxy), then end
        whatever it started that still runs.

        The hub starts the proxy, the service and the servers in sessions of their own, so a hub
        that died (or exited on a failed start) leaves them running: they are found by this hub's
        folders (the data folder in their environment or as their working folder, the homes as
        HOME) and ended with their process groups."""
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):  # what is left is ended below in any case
                self.stop_servers()
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        pid_file = self.data_dir / "proxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
        left = procs.survivors(
            wait=5, roots=[self.data_dir, self.env.get("SADARI_HOMES_DIR", "")], token=""
        )
        if left:
            print(f"hub {self.url}: ending what it left running:", *left, sep="\n  ")
            procs.kill(left)
        if Path(self.env["SADARI_HOMES_DIR"]).name.startswith("sadari-test-homes-"):
            shutil.rmtree(self.env["SADARI_HOMES_DIR"], ignore_errors=True)
        remove_accounts(self.env["SADARI_ACCOUNT_PREFIX"])

    @property
    def homes(self) -> Path:
        """The folder of the people's homes (`<homes>/<account>`)."""
        return Path(self.env["SADARI_HOMES_DIR"])

    def account(self, username: str) -> str:
        """The unix account of a hub user on this hub."""
        from sadari.hub.core.accounts import account_name

        return account_name(username, self.env["SADARI_ACCOUNT_PREFIX"])

    def server_config(self, username: str, text: str | None) -> None:
        """Write (None: remove) the person's own ~/.jupyter/jupyter_server_config.py, owned by
        their account, which their server runs while it starts (a trainee's broken config, or a
        test's slow one). Their home must exist: start their server once before."""
        account = self.account(username)
        config = self.homes / account / ".jupyter"
        path = config / "jupyter_server_config.py"
        if text is None:
            path.unlink(missing_ok=True)
            return
        config.mkdir(exist_ok=True)
        path.write_text(text)
        shutil.chown(config, account, account)
        shutil.chown(path, account, account)

    # --- acting as people ---------------------------------------------------------------------

    def login(self, username: str, password: str = PASSWORD) -> requests.Session:
        """Log in through the hub's login form, as a browser does; the session holds the cookies."""
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=10)
        r = s.post(
            f"{self.url}/hub/login?next=%2Fhub%2Fhome",
            timeout=30,
            data={
                "username": username,
                "password": password,
                "_xsrf": s.cookies.get("_xsrf", path="/hub/"),
            },
            allow_redirects=False,
        )
        if r.status_code != 302 or "login" in r.headers.get("Location", ""):
            raise AssertionError(f"login of {username} failed: {r.status_code} {r.text[:300]}")
        return s

    def token(self, username: str) -> str:
        """An API token the user makes for themself (as on the hub's token page)."""
        if username not in self.tokens:
            s = self.login(username)
            r = s.post(
                f"{self.url}/hub/api/users/{username}/tokens",
                timeout=10,
                headers={"X-XSRFToken": s.cookies.get("_xsrf", path="/hub/")},
                json={"note": "test"},
            )
            assert r.status_code == 201, r.text
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def call(self, username: str, method: str, url: str, **kw: Any) -> requests.Response:
        """An HTTP call with `username`'s token (`url` relative to the proxy when it starts '/')."""
        headers = {"Authorization": f"token {self.token(username)}", **kw.pop("headers", {})}
        return requests.request(
            method,
            self.url + url if url.startswith("/") else url,
            headers=headers,
            timeout=60,
            **kw,
        )

    def start_server(self, username: str, timeout: float = 90) -> float:
        """Start the user's server through the hub API with their token; seconds until ready."""
        t0 = time.monotonic()
        r = self.call(username, "POST", f"/hub/api/users/{username}/server")
        assert r.status_code in (201, 202), r.text
        model: dict[str, Any] = {}
        while time.monotonic() - t0 < timeout:
            model = self.call(username, "GET", f"/hub/api/users/{username}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - t0
            if not server and not model.get("pending"):  # the hub gave the start up
                raise RuntimeError(
                    f"{username}'s server stopped after {time.monotonic() - t0:.0f} s while "
                    f"starting:\n{self.story()}"
                )
            time.sleep(0.2)
        raise TimeoutError(
            f"{username}'s server not ready after {timeout:.0f} s "
            f"(pending={model.get('pending')!r}, servers={model.get('servers')!r}):\n{self.story()}"
        )

    def stop_server(self, username: str, timeout: float = 60) -> None:
        """Stop the user's server and wait until it is gone."""
        r = self.call(username, "DELETE", f"/hub/api/users/{username}/server")
        assert r.status_code in (202, 204), r.text
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if not self.call(username, "GET", f"/hub/api/users/{username}").json().get("servers"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{username}'s server did not stop")

    def contents(self, username: str, path: str = "") -> dict[str, Any]:
        """The server's contents API listing/model of `path` (asks the trainee's own server)."""
        r = self.call(username, "GET", f"/user/{username}/api/contents/{path}")
        assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
        result: dict[str, Any] = r.json()
        return result

    def put_notebook(self, username: str, path: str, notebook: dict[str, Any]) -> None:
        """Save a notebook through the server's contents API (as JupyterLab does)."""
        r = self.call(
            username,
            "PUT",
            f"/user/{username}/api/contents/{path}",
            data=json.dumps({"type": "notebook", "format": "json", "content": notebook}),
        )
        assert r.status_code in (200, 201), r.text
