"""Faults a campus lives with, on the embedded default, with real processes: the hub restarted
mid-lab, the proxy killed, a server that dies while the hub is down, and `sadari run` itself
(restart keeps everyone's work; Ctrl-C leaves nothing running)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.hub import BIN, ROOT, RunningHub, hub_env, sadari
from tests.support.kernel import execute, start_kernel

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data = tmp_path_factory.mktemp("restarts")
    # the hub gives up on a server that does not answer after 30 s (60 by default): the hanging
    # spawn below waits that long
    running = RunningHub.start(
        data, f"sqlite:///{data}/sadari.sqlite", trainees=4, SADARI_SERVER_HTTP_TIMEOUT="30"
    )
    try:
        yield running
    finally:
        running.stop()


def server_of(hub: RunningHub, user: str) -> dict:
    r = hub.call(user, "GET", f"/hub/api/users/{user}")
    assert r.status_code == 200, r.text
    return r.json().get("servers", {}).get("", {})


def server_pid(hub: RunningHub, user: str) -> int:
    """The pid of the user's jupyterhub-singleuser (the process running as their account)."""
    out = subprocess.run(
        ["pgrep", "-u", hub.account(user), "-f", "jupyterhub-singleuser"],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert len(out) == 1, out
    return int(out[0])


def test_hub_restart_mid_lab_keeps_kernels_and_routes(hub: RunningHub) -> None:
    user, victim = "trainee001", "trainee002"
    for u in (user, victim):
        hub.start_server(u)
    kernel = start_kernel(hub, user)
    assert execute(hub, user, kernel, "x = 6 * 7; print('set')").strip() == "set"
    status = f"/user/{user}/api/status"

    def while_down() -> None:
        # the proxy keeps routing to the running server while no hub runs
        assert hub.call(user, "GET", status).status_code == 200
        os.kill(server_pid(hub, victim), signal.SIGKILL)  # a server dies meanwhile

    hub.restart(while_down)
    assert server_of(hub, user).get("ready")
    assert execute(hub, user, kernel, "print(x)").strip() == "42"  # the kernel kept its state
    deadline = time.monotonic() + 60  # the dead one is found stopped (poll) and starts again
    while server_of(hub, victim) and time.monotonic() < deadline:
        time.sleep(1)
    assert not server_of(hub, victim)
    hub.start_server(victim)
    for u in (user, victim):
        hub.stop_server(u)


def test_a_killed_proxy_is_replaced_and_routes_rebuilt(hub: RunningHub) -> None:
    user = "trainee003"
    hub.start_server(user)
    pid = int((hub.data_dir / "proxy.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            if hub.call(user, "GET", f"/user/{user}/api/status").status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        pytest.fail("the route to the server did not come back within 60 s")
    assert int((hub.data_dir / "proxy.pid").read_text()) != pid
    hub.stop_server(user)


def test_sadari_run_restarts_without_stopping_servers_and_stops_everything(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The real `sadari run`: `sadari restart` keeps the server (same pid); SIGINT (Ctrl-C)
    stops the servers, the hub, its services and the proxy, and nothing of it is left."""
    data = tmp_path_factory.mktemp("sadari-run")
    env = hub_env(data, f"sqlite:///{data}/sadari.sqlite")
    env["SADARI_HOMES_DIR"] = str(_passable_homes())
    env["SADARI_ACCOUNT_PREFIX"] = "trun-"
    sadari(env, "db", "upgrade")
    sadari(env, "demo", "seed", "--trainees", "2")
    log = (data / "run.log").open("wb")
    run = subprocess.Popen(
        [str(BIN / "sadari"), "run"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    hub = RunningHub(env, data, run, data / "run.log")
    try:
        hub.wait_ready()
        hub.start_server("trainee001")
        pid = server_pid(hub, "trainee001")
        sadari(env, "restart")
        time.sleep(2)
        hub.wait_ready()
        assert server_of(hub, "trainee001").get("ready")
        assert server_pid(hub, "trainee001") == pid  # the same server, never stopped
        proxy = int((data / "proxy.pid").read_text())

        t0 = time.monotonic()
        run.send_signal(signal.SIGINT)
        run.wait(60)
        took = time.monotonic() - t0
        assert run.returncode == 0, hub.story()
        left = subprocess.run(["pgrep", "-u", "trun-trainee001"], capture_output=True).stdout
        assert left == b"", "the server outlived sadari run"
        with pytest.raises(ProcessLookupError):
            os.kill(proxy, 0)
        assert "stopped in" in hub.log(), hub.log()[-2000:]
        print(f"sadari run stopped everything in {took:.1f} s")
    finally:
        if run.poll() is None:
            run.kill()
        hub.stop()


def _passable_homes() -> Path:
    """A homes folder other users can reach: under /tmp, not pytest's closed folders."""
    homes = Path(tempfile.mkdtemp(prefix="sadari-test-homes-"))
    homes.chmod(0o711)
    return homes


def test_a_failed_spawn_clears_says_why_and_a_retry_works(hub: RunningHub) -> None:
    user = "trainee004"
    home = hub.homes / hub.account(user)
    home.write_text("not a folder")  # a disk mishap where the home should be
    try:
        r = hub.call(user, "POST", f"/hub/api/users/{user}/server")
        deadline = time.monotonic() + 60
        while server_of(hub, user) and time.monotonic() < deadline:
            time.sleep(0.5)  # pending (if the API answered before the failure) ends
        assert not server_of(hub, user), "the failed spawn left a pending server"
        page = hub.login(user).get(f"{hub.url}/hub/user/{user}/lab", timeout=30).text
        text = " ".join(page.split())
        assert "Spawn failed" in text and "home folder" in text, (r.status_code, text[-1500:])
    finally:
        home.unlink()
    hub.start_server(user)  # once the cause is gone, a retry works
    hub.stop_server(user)


def test_a_hanging_spawn_is_given_up_says_why_and_a_retry_works(hub: RunningHub) -> None:
    """A server that starts but never answers (here its own config file hangs: what a trainee's
    broken ~/.jupyter or a stuck mount does) is stopped after server_http_timeout; the pending
    state clears, the person is told why, no process is left, and the next start works."""
    user = "trainee003"
    account = hub.account(user)
    hub.start_server(user)  # the home and the account exist from a normal start
    hub.stop_server(user)
    hub.server_config(user, "import time\ntime.sleep(3600)\n")
    try:
        started = time.monotonic()
        hub.call(user, "POST", f"/hub/api/users/{user}/server")
        deadline = started + 120
        while server_of(hub, user) and time.monotonic() < deadline:
            time.sleep(1)
        waited = time.monotonic() - started
        assert not server_of(hub, user), "the hanging spawn stayed pending"
        assert 25 <= waited < 120, waited  # given up by the hub's timeout, not at once
        left = subprocess.run(["pgrep", "-u", account], capture_output=True, text=True).stdout
        assert not left.split(), f"processes of {account} left after the hub gave up: {left}"
        page = hub.login(user).get(f"{hub.url}/hub/user/{user}/lab", timeout=30)
        text = " ".join(page.content.decode("utf-8").split())  # the page says utf-8 in a meta
        assert "Spawn failed" in text, text[-1500:]
        assert "did not answer within 30 seconds and was stopped" in text, text[-1500:]
        assert "30초 안에 응답하지 않아" in text, text[-1500:]
    finally:
        hub.server_config(user, None)
    hub.start_server(user)  # the cause gone, a retry works
    hub.stop_server(user)
