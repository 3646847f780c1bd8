"""Staff and trainees' servers against a real hub (SQLite): the hub roles of hubconfig.py
`staff_server_roles` let an instructor in hub group `instructors:<cohort>` start, open and stop
the servers of that cohort's trainees with their own token, and nobody else's; an instructor in
no such group, none; admins every trainee's, no staff member's. The service's
`/api/v1/trainees/NAME/server` answers the same people the same way and audits what it did.

The demo cohort 2026-seoul-1 (trainee001 …), one trainee of 2026-busan-1 imported here, and
`instructor` teaches 2026-seoul-1 (the setting `instructor_cohorts`, applied by the hub at start as
its group `instructors:2026-seoul-1`); `hubadmin` is a JupyterHub admin.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.hub import RunningHub

pytestmark = pytest.mark.hub

API = "/services/sadari/api/v1"
SEOUL, BUSAN = "2026-seoul-1", "2026-busan-1"
ROSTER = f"username,name,cohort,track\nbusan01,부산 교육생,{BUSAN},vision-ai\n".encode()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data_dir: Path = tmp_path_factory.mktemp("staff-servers")
    running = RunningHub.start(
        data_dir,
        f"sqlite:///{data_dir}/sadari.sqlite",
        trainees=2,
        SADARI_HUB_ADMINS="hubadmin",
        SADARI_INSTRUCTOR_COHORTS=f"instructor:{SEOUL}",  # the hub puts them in the group
    )
    try:
        r = running.call("admin", "POST", f"{API}/roster?filename=busan.csv", data=ROSTER)
        assert r.status_code == 200, r.text
        group = running.call("hubadmin", "GET", f"/hub/api/groups/instructors:{SEOUL}").json()
        assert group["users"] == ["instructor"], group
        yield running
    finally:
        running.stop()


def server(hub: RunningHub, who: str, user: str, method: str) -> int:
    """`who` starts (POST) or stops (DELETE) `user`'s server through the hub API."""
    return hub.call(who, method, f"/hub/api/users/{user}/server").status_code


def opened(hub: RunningHub, who: str, user: str) -> requests.Response:
    """`who` opens `user`'s server in a browser: logged in to the hub, through the hub's OAuth
    page for someone else's server (its form submitted as it is), to the server's status API.
    (An API token alone cannot: servers resolve no group filter of a token's scopes.)"""
    s = hub.login(who)
    r = s.get(f"{hub.url}/user/{user}/lab", timeout=30)
    if "oauth2/authorize" in r.url and r.status_code == 200:
        fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', r.text)
        r = s.post(r.url, data=[(k, html.unescape(v)) for k, v in fields], timeout=30)
    if r.status_code != 200:
        return r
    return s.get(f"{hub.url}/user/{user}/api/status", timeout=30)


def wait_ready(hub: RunningHub, user: str, ready: bool = True, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = hub.call("hubadmin", "GET", f"/hub/api/users/{user}").json()
        server = model.get("servers", {}).get("")
        if bool(server and server.get("ready")) == ready and not (server or {}).get("pending"):
            return
        time.sleep(0.3)
    raise TimeoutError(f"{user}: ready={not ready} still:\n{hub.story()}")


def test_the_hub_lets_instructors_reach_their_cohorts_servers_only(hub: RunningHub) -> None:
    for cohort in (SEOUL, BUSAN):
        group = hub.call("hubadmin", "GET", f"/hub/api/groups/instructors:{cohort}").json()
        assert group["roles"] == [f"sadari-instructor-{cohort}"], group
    assert server(hub, "instructor", "trainee001", "POST") in (201, 202)
    wait_ready(hub, "trainee001")
    # open it as a browser does: the hub asks the instructor to authorize, then lets them in
    assert opened(hub, "instructor", "trainee001").status_code == 200
    assert opened(hub, "trainee002", "trainee001").status_code == 403
    assert server(hub, "instructor", "trainee001", "DELETE") in (202, 204)
    wait_ready(hub, "trainee001", ready=False)
    # another cohort's trainee, a staff member: the hub answers as if there were nobody
    assert server(hub, "instructor", "busan01", "POST") in (403, 404)
    assert server(hub, "instructor", "admin", "POST") in (403, 404)
    # a trainee, another trainee's server: no
    assert server(hub, "trainee002", "trainee001", "POST") in (403, 404)


def test_admins_reach_every_trainees_server_and_no_staff(hub: RunningHub) -> None:
    assert server(hub, "admin", "busan01", "POST") in (201, 202)
    wait_ready(hub, "busan01")
    assert server(hub, "admin", "busan01", "DELETE") in (202, 204)
    wait_ready(hub, "busan01", ready=False)
    assert server(hub, "admin", "instructor", "POST") in (403, 404)


def test_the_service_acts_for_the_same_people_and_audits(hub: RunningHub) -> None:
    path = f"{API}/trainees/trainee002/server"
    assert hub.call("instructor", "GET", path).json()["state"] == "stopped"
    r = hub.call("instructor", "POST", path)
    assert r.status_code == 202, r.text
    wait_ready(hub, "trainee002")
    assert hub.call("instructor", "GET", path).json()["state"] == "ready"
    assert hub.call("instructor", "DELETE", path).status_code == 202
    wait_ready(hub, "trainee002", ready=False)
    audit = hub.call("admin", "GET", f"{API}/audit?target=user:trainee002").json()["entries"]
    assert [(e["action"], e["actor"]) for e in audit[:2]] == [
        ("trainee.server_stop", "instructor"),
        ("trainee.server_start", "instructor"),
    ]
    for who, user, status in [
        ("instructor", "busan01", 403),  # not a cohort they teach
        ("trainee001", "trainee002", 403),  # trainees: never
        ("instructor", "nobody", 404),
    ]:
        r = hub.call(who, "POST", f"{API}/trainees/{user}/server")
        assert r.status_code == status, (who, user, r.text)
    # the table shows the instructor their cohort's trainees only
    s = hub.login("instructor")
    page = s.get(f"{hub.url}/services/sadari/trainees?lang=en", timeout=30)
    assert page.status_code == 200
    assert "trainee001" in page.text and "busan01" not in page.text
