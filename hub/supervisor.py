"""`sadari run`: JupyterHub as a child process that can restart without stopping anyone's work,
and stop without leaving anything behind.

The hub runs with cleanup_servers and cleanup_proxy off (hubconfig.update_hub), so the hub alone
can come and go: people's servers (and their kernels) and the proxy keep running, and a new hub
picks them up from its database.

- SIGHUP (`sadari restart`, e.g. after changing a setting): the hub stops and starts again; the
  proxy keeps routing to the servers meanwhile (the new hub replaces it within seconds).
- SIGINT (Ctrl-C) or SIGTERM: every server is stopped through the hub API (with the supervisor's
  own service token, allowed to list and stop servers and nothing else), then the hub, which stops
  its services (the sadari service, the idle culler), then the proxy. Nothing is left running.

The hub runs in a session of its own, so a Ctrl-C in the terminal reaches the supervisor only, which
then stops things in that order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

PID_FILE = "sadari-run.pid"


class HubAPI:
    """The few hub API calls a full stop needs."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"token {token}"}

    def active(self) -> list[str]:
        """Users with a running or starting default server."""
        r = requests.get(
            f"{self.url}/users", params={"state": "active"}, headers=self.headers, timeout=10
        )
        r.raise_for_status()
        return [u["name"] for u in r.json() if u.get("servers")]

    def stop(self, user: str) -> None:
        """Ask the hub to stop a user's default server."""
        requests.delete(f"{self.url}/users/{user}/server", headers=self.headers, timeout=30)


def stop_servers(api: HubAPI, deadline: float, log: Callable[[str], None]) -> None:
    """Stop every server at once and wait (until `deadline`) for the hub to see them gone."""
    users = api.active()
    if not users:
        return
    log(f"stopping {len(users)} server(s)")
    with ThreadPoolExecutor(max_workers=min(32, len(users))) as pool:
        list(pool.map(api.stop, users))
    while time.monotonic() < deadline and api.active():
        time.sleep(0.2)


def end_child(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM a child, then SIGKILL after `grace` seconds (reaped either way)."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def end_process(pid: int, grace: float) -> None:
    """SIGTERM a process that is not our child, then SIGKILL after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + grace
        while time.monotonic() < end:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


class Supervisor:
    """Runs `command` (the hub) and reacts to SIGHUP, SIGINT and SIGTERM as the module says."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        data_dir: Path,
        api: HubAPI,
        log: Callable[[str], None] = print,
    ) -> None:
        self.command, self.env, self.data_dir, self.api, self.log = (
            command,
            env,
            data_dir,
            api,
            log,
        )
        self.wanted: str | None = None  # "restart" | "stop", set by the signal handlers
        self.hub: subprocess.Popen[bytes] | None = None

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.wanted = "restart" if signum == signal.SIGHUP else "stop"

    def start_hub(self) -> None:
        """The hub, in a session of its own."""
        self.hub = subprocess.Popen(self.command, env=self.env, start_new_session=True)

    def run(self) -> int:
        """Until stopped: the hub's exit code, or 0 after a full stop."""
        pid_file = self.data_dir / PID_FILE
        pid_file.write_text(str(os.getpid()))
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            self.start_hub()
            assert self.hub is not None
            while True:
                code = self.hub.poll()
                if self.wanted == "restart":
                    self.wanted = None
                    self.log("restarting the hub; servers keep running")
                    end_child(self.hub, grace=20)
                    self.start_hub()
                elif self.wanted == "stop":
                    self.stop_everything()
                    return 0
                elif code is not None:
                    self.log(f"the hub exited ({code}); stopping what it left running")
                    self.stop_proxy()
                    return code
                time.sleep(0.2)
        finally:
            pid_file.unlink(missing_ok=True)

    def stop_everything(self) -> None:
        """Servers (through the hub), then the hub and its services, then the proxy."""
        started = time.monotonic()
        try:
            stop_servers(self.api, started + 10, self.log)
        except requests.RequestException as e:
            self.log(f"could not ask the hub to stop the servers: {e}")
        if self.hub is not None:
            end_child(self.hub, grace=10)
        self.stop_proxy()
        self.log(f"stopped in {time.monotonic() - started:.1f} s")

    def stop_proxy(self) -> None:
        """The proxy the hub started (its pid file)."""
        pid_file = self.data_dir / "proxy.pid"
        with contextlib.suppress(FileNotFoundError, ValueError):
            end_process(int(pid_file.read_text().strip()), grace=5)
            pid_file.unlink(missing_ok=True)


def restart(data_dir: Path) -> str:
    """Ask a running `sadari run` to restart its hub (SIGHUP); what happened, in words."""
    pid_file = data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        raise RuntimeError(f"no `sadari run` is running here ({pid_file})") from None
    return f"asked sadari run (pid {pid}) to restart the hub; servers keep running"
