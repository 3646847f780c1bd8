"""A class day on the embedded default: idle servers culled without losing work, and a start storm
met with a page that retries by itself.

A real hub, proxy, service, the real jupyterhub-idle-culler service and real servers. This module's
hub culls after 20 s of inactivity and lets one server start at a time, so that both can be seen
within a test.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.hub import RunningHub

pytestmark = pytest.mark.hub

IDLE_SECONDS = 20


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data = tmp_path_factory.mktemp("class-day")
    running = RunningHub.start(
        data,
        f"sqlite:///{data}/sadari.sqlite",
        trainees=4,
        SADARI_IDLE_TIMEOUT=str(IDLE_SECONDS),
        SADARI_SPAWN_CONCURRENCY="1",
    )
    try:
        yield running
    finally:
        running.stop()


def server_of(hub: RunningHub, user: str) -> dict:
    """The user's default server model (asked with their own token), {} when it is not running."""
    r = hub.call(user, "GET", f"/hub/api/users/{user}")
    assert r.status_code == 200, r.text
    return r.json().get("servers", {}).get("", {})


def test_idle_server_is_culled_work_kept_and_the_next_visit_says_why(hub: RunningHub) -> None:
    user = "trainee001"
    hub.start_server(user)
    note = {"type": "file", "format": "text", "content": "저장한 메모 / my saved note"}
    r = hub.call(user, "PUT", f"/user/{user}/api/contents/note.md", json=note)
    assert r.status_code in (200, 201), r.text
    deadline = time.monotonic() + IDLE_SECONDS + 60
    while server_of(hub, user) and time.monotonic() < deadline:
        time.sleep(2)
    assert not server_of(hub, user), "the idle culler did not stop the idle server"
    assert "idle-culler" in hub.log() and f"Culling server {user}" in hub.log()

    browser = hub.login(user)
    home = browser.get(f"{hub.url}/hub/home", timeout=30).text
    assert 'id="sadari-idle-stopped"' in home and "saved files are kept" in home
    tab = browser.get(f"{hub.url}/hub/user/{user}/lab", timeout=30)  # a tab left open
    assert 'id="sadari-idle-stopped"' in tab.text

    hub.start_server(user)
    assert hub.contents(user, "note.md")["content"] == "저장한 메모 / my saved note"
    home = browser.get(f"{hub.url}/hub/home", timeout=30).text
    assert 'id="sadari-idle-stopped"' not in home  # said once, not after the next start
    hub.stop_server(user)


def test_a_start_beyond_the_limit_gets_a_page_that_retries(hub: RunningHub) -> None:
    first, second = "trainee002", "trainee003"
    hub.start_server(first)  # makes the home; then its next start is held 8 s by its own config
    hub.stop_server(first)
    hub.server_config(first, "import time\ntime.sleep(8)\n")
    browser = hub.login(second)
    starting = threading.Thread(target=hub.start_server, args=(first,))
    starting.start()
    try:
        deadline = time.monotonic() + 30
        while server_of(hub, first).get("pending") != "spawn":
            assert time.monotonic() < deadline, "the first start never showed as pending"
            time.sleep(0.05)
        page = browser.get(f"{hub.url}/hub/spawn/{second}", timeout=30)
    finally:
        starting.join(120)
        hub.server_config(first, None)
    assert page.status_code == 429
    assert 'id="sadari-spawn-busy"' in page.text
    # spawn_retry_seconds (5): a retry within 5-10 s, not JupyterHub's own 30-60 s
    assert 5 <= int(page.headers["Retry-After"]) <= 10, page.headers
    refresh = re.search(r'<meta http-equiv="refresh" content="(\d+)"', page.text)
    assert refresh and 5 <= int(refresh.group(1)) <= 10  # it retries by itself, as soon
    assert server_of(hub, first).get("ready")
    hub.start_server(second)  # once the first is up, the second starts
    for user in (first, second):
        hub.stop_server(user)
