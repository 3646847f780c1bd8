"""The service's one copy of the hub's server states and activity (hubapi.py `HubActivity`), and
the trainees table that reads it.

The copy's reads are driven here by a stand-in hub (an async `users()` / `user(name)` in this
file, no JupyterHub): one read shared by every page, a bounded wait before the first read and
none after, a failed read neither retried by every request nor wiping the last good copy, one
trainee's entry read again (after a start or stop) and kept over an older read of the whole
list, the background task reading on its own. The table is served by the real handlers on a
real database (SQLite and PostgreSQL; a stand-in for HubOAuth as in test_analytics.py): it says
how old the states are, filters by them, and reads the hub's list once for many requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from sadari.hub.core import permissions as perm
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.core.trainee_list import ServerState
from sadari.hub.handlers import default_handlers
from sadari.hub.handlers.base import StaticHandler
from sadari.hub.hubapi import HubActivity, HubAPIError
from sadari.hub.service import STATIC, Context, page_templates
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory
from tests.support.service import FakeAuth

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
COHORT = "2026-seoul-1"


def model(name: str, ready: bool = False, seen: datetime | None = None) -> dict[str, Any]:
    """A hub user model as GET /hub/api/users gives it."""
    at = seen.isoformat().replace("+00:00", "Z") if seen else None
    server = {"ready": True, "pending": None, "last_activity": at} if ready else None
    return {"name": name, "last_activity": at, "servers": {"": server} if server else {}}


class StandInHub:
    """The hub's user list and one user, counted; `gate` holds the list until set; `fail`
    refuses."""

    def __init__(self, users: list[dict[str, Any]]) -> None:
        self.models = {u["name"]: u for u in users}
        self.reads = 0
        self.user_reads = 0
        self.fail = False
        self.gate: asyncio.Event | None = None
        self.activity = HubActivity(self)

    async def users(self) -> list[dict[str, Any]]:
        self.reads += 1
        listed = list(self.models.values())  # as the hub had them when asked
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise HubAPIError(503, "hub down")
        return listed

    async def user(self, name: str) -> dict[str, Any] | None:
        self.user_reads += 1
        if self.fail:
            raise HubAPIError(503, "hub down")
        return self.models.get(name)


async def test_one_read_for_every_page_and_a_bounded_first_wait() -> None:
    hub = StandInHub([model("kim01", ready=True, seen=NOW), model("lee02")])
    hub.gate = asyncio.Event()
    snap, why = await hub.activity.current(wait=0.05)  # the hub is slow: no states yet, said so
    assert snap is None and why and "not known yet" in why
    snap, why = await hub.activity.current(wait=0.05)  # the same read still under way
    assert snap is None and hub.reads == 1
    hub.gate.set()
    snap, why = await hub.activity.current()
    assert why is None and snap is not None and hub.reads == 1
    assert snap.states["kim01"] == ServerState("ready", NOW.replace(tzinfo=None))
    assert snap.states["lee02"].state == "stopped" and snap.seen["lee02"] is None
    assert snap.seen["kim01"] == NOW and 0 <= snap.age() < 5
    for _ in range(5):
        assert (await hub.activity.current())[0] is snap
    assert hub.reads == 1  # pages never ask the hub once there is a copy


async def test_a_failed_read_keeps_the_copy_and_is_not_retried_by_every_page() -> None:
    hub = StandInHub([model("kim01")])
    hub.fail = True
    snap, why = await hub.activity.current()
    assert snap is None and why == "HubAPIError: JupyterHub API error 503: hub down"
    await hub.activity.current()
    assert hub.reads == 1  # not again before `every` seconds
    hub.activity.every = 0  # (the next read is due)
    hub.fail = False
    snap, why = await hub.activity.current()
    assert snap is not None and why is None and hub.reads == 2
    hub.fail = True
    await hub.activity.refresh()  # the background read fails: the copy stays, with why
    again, why = await hub.activity.current()
    assert again is snap and why and "hub down" in why


async def test_one_trainees_entry_is_read_again_and_kept_over_an_older_list() -> None:
    hub = StandInHub([model("kim01"), model("lee02")])
    await hub.activity.refresh()
    hub.gate = asyncio.Event()
    reading = asyncio.ensure_future(hub.activity.refresh())  # the list is read before the start
    await asyncio.sleep(0)
    hub.models["kim01"] = model("kim01", ready=True, seen=NOW)  # started
    assert await hub.activity.user("kim01") == ServerState("ready", NOW.replace(tzinfo=None))
    snap = hub.activity.snapshot
    assert snap is not None and snap.states["kim01"].state == "ready" and snap.seen["kim01"] == NOW
    hub.gate.set()
    await reading
    snap = hub.activity.snapshot
    assert snap is not None and snap.states["kim01"].state == "ready"  # not the older list's
    assert await hub.activity.user("nobody") == ServerState("stopped")  # unknown to the hub
    hub.fail = True
    assert await hub.activity.user("kim01") is None  # the hub away: unknown, said so


async def test_the_background_task_reads_on_its_own() -> None:
    hub = StandInHub([model("kim01")])
    hub.activity.every = 0.01
    task = asyncio.ensure_future(hub.activity.run_forever())
    try:
        for _ in range(200):
            if hub.reads >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert hub.reads >= 3 and hub.activity.snapshot is not None


# --- the trainees table on a real database ---------------------------------------------------


async def test_the_table_says_how_old_the_states_are(
    engine: Any, curriculum: Curriculum, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    data = (
        "username,name,cohort,track,stage,role\n"
        f"kim01,김하늘,{COHORT},data-analysis,,trainee\n"
        f"lee02,이바다,{COHORT},vision-ai,,trainee\n"
    ).encode()
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        rows = parse_roster(data, "r.csv", curriculum)
        repo.import_roster(s, rows, data=data, file="r.csv", actor="t", now=NOW)
    hub = StandInHub([model("kim01", ready=True, seen=NOW - timedelta(minutes=5))])
    ctx = Context(
        settings=SadariSettings(data_dir=str(tmp_path)),
        engine=engine,
        sessions=sessions,
        curriculum=curriculum,
        hub=hub,  # type: ignore[arg-type]
        hub_auth=FakeAuth({"admin": perm.ROLE_SCOPES["admin"]}),  # type: ignore[arg-type]
        templates=page_templates(),
        prefix="/services/sadari/",
        blobs=LocalBlobStore(tmp_path / "blobs"),
        now=lambda: NOW,
    )
    sock, port = bind_unused_port()
    app = Application(
        default_handlers,
        sadari=ctx,
        cookie_secret="x" * 32,
        static_path=str(STATIC),
        static_url_prefix="/static/",
        static_handler_class=StaticHandler,
    )
    server = HTTPServer(app)
    server.add_sockets([sock])
    client = AsyncHTTPClient()

    async def page(query: str) -> str:
        r = await client.fetch(
            f"http://127.0.0.1:{port}/trainees?lang=en&{query}",
            headers={"Authorization": "token admin"},
            raise_error=False,
        )
        assert r.code == 200, r.body[:500]
        return str(r.body.decode())

    try:
        html = await page("state=ready")
        assert 'id="states-age"' in html and "Server states and last activity as JupyterHub" in html
        assert 'data-username="kim01"' in html and 'data-username="lee02"' not in html
        assert 'id="hub-note"' not in html
        for query in ("", "sort=activity", "state=stopped", "page=1"):
            await page(query)
        assert hub.reads == 1  # five pages, one read of the hub's list
        hub.fail = True  # the hub stops answering: the older copy, said so
        await hub.activity.refresh()
        html = await page("")
        assert 'id="hub-stale"' in html and 'data-state="ready"' in html
        ctx.hub = StandInHub([])  # nothing read yet and the hub refuses: no states, said so
        ctx.hub.fail = True
        html = await page("state=ready")
        assert 'id="hub-note"' in html and 'id="states-age"' not in html
    finally:
        server.stop()
