"""The only place that talks to the JupyterHub REST API.

`HubAPI` wraps the calls sadari needs (users, groups, membership) with the service's own token;
`sync_membership` brings the hub's groups in line with sadari's database using the pure plan from
core/membership.py. `start_server` and `stop_server` serve the staff's trainees pages
(hub/trainees.py).

`HubActivity` (each `HubAPI`'s `activity`) is the service's one copy of every hub user's server
state and last activity: the service's background task (hub/service.py) reads the hub's paged
user list every ACTIVITY_SECONDS; the trainees table and the cohort analytics (trainees
inactive for N days) read the copy and never wait for the hub, except for the very first read
(at most FIRST_READ_WAIT seconds, then the page says the states are not known yet). Reading or
starting and stopping one trainee's server refreshes that trainee's entry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .core.membership import SyncPlan, plan_sync
from .core.trainee_list import ServerState, last_seen, server_state

log = logging.getLogger("sadari.hubapi")
PAGINATED = "application/jupyterhub-pagination+json"
ACTIVITY_SECONDS = 30.0  # how often the service reads the hub's whole user list (HubActivity)
ACTIVITY_TIMEOUT = 120.0  # the longest one read of the whole list may take
FIRST_READ_WAIT = 5.0  # how long a page waits for the first read before it goes without
USER_TIMEOUT = 10.0  # the longest one user's read may take


class HubAPIError(RuntimeError):
    """The hub answered with an error."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"JupyterHub API error {status}: {message}")


class HubAPI:
    """Calls to the hub API at `api_url` (e.g. http://127.0.0.1:8081/hub/api) with `token`."""

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.client = AsyncHTTPClient()
        self.activity = HubActivity(self)

    async def request(
        self, method: str, path: str, body: Any = None, accept: str = "application/json"
    ) -> Any:
        """One call; JSON in and out; HubAPIError on an error status."""
        req = HTTPRequest(
            self.api_url + path,
            method=method,
            headers={
                "Authorization": f"token {self.token}",
                "Accept": accept,
                "Content-Type": "application/json",
            },
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=30,
        )
        try:
            resp = await self.client.fetch(req)
        except HTTPClientError as e:
            message = ""
            if e.response is not None and e.response.body:
                try:
                    message = json.loads(e.response.body).get("message", "")
                except ValueError:
                    message = e.response.body[:200].decode(errors="replace")
            raise HubAPIError(e.code, message or str(e)) from None
        return json.loads(resp.body) if resp.body else None

    async def _paged(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self.request(
                "GET", f"{path}?{urlencode({'offset': offset, 'limit': 200})}", accept=PAGINATED
            )
            if isinstance(page, list):  # a hub without pagination answers with the whole list
                return page
            items.extend(page["items"])
            nxt = page.get("_pagination", {}).get("next")
            if not nxt:
                return items
            offset = nxt["offset"]

    async def users(self) -> list[dict[str, Any]]:
        """Every hub user model."""
        return await self._paged("/users")

    async def groups(self) -> dict[str, list[str]]:
        """Every hub group with its members."""
        return {g["name"]: g["users"] for g in await self._paged("/groups")}

    async def user(self, name: str) -> dict[str, Any] | None:
        """One user model, None if there is no such user."""
        try:
            result: dict[str, Any] = await self.request("GET", f"/users/{quote(name)}")
            return result
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise

    async def start_server(self, name: str) -> bool:
        """Ask the hub to start `name`'s default server; True when it is starting or running
        (the hub answers 201 started, 202 starting, 400 when it runs already)."""
        try:
            await self.request("POST", f"/users/{quote(name, safe='')}/server")
        except HubAPIError as e:
            if e.status == 400 and "already running" in str(e):
                return True
            raise
        return True

    async def stop_server(self, name: str) -> None:
        """Ask the hub to stop `name`'s default server (204 stopped, 202 stopping; nothing to do
        when it is not running)."""
        await self.request("DELETE", f"/users/{quote(name, safe='')}/server")

    async def apply(self, plan: SyncPlan) -> None:
        """Carry out a membership plan."""
        if plan.create_users:
            await self.request("POST", "/users", {"usernames": plan.create_users})
        for group in plan.create_groups:
            await self.request("POST", f"/groups/{quote(group, safe='')}")
        for group, users in plan.add.items():
            await self.request("POST", f"/groups/{quote(group, safe='')}/users", {"users": users})
        for group, users in plan.remove.items():
            await self.request("DELETE", f"/groups/{quote(group, safe='')}/users", {"users": users})


# --- the service's copy of the hub's server states and activity ---------------------------


class _Users(Protocol):
    """What HubActivity reads: the hub's user list and one user (HubAPI, or a stand-in)."""

    async def users(self) -> list[dict[str, Any]]: ...

    async def user(self, name: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Snapshot:
    """The hub's users as last read: each one's default server (`states`) and last activity of
    the user or any of their servers (`seen`, aware UTC; None: never), and when the read began
    (`read_at`, the clock's; `read_mono`, monotonic, for its age)."""

    states: Mapping[str, ServerState]
    seen: Mapping[str, datetime | None]
    read_at: datetime
    read_mono: float = field(default_factory=time.monotonic)

    def age(self) -> float:
        """Seconds since the read began."""
        return max(0.0, time.monotonic() - self.read_mono)


def _why(e: BaseException, timeout: float) -> str:
    if isinstance(e, TimeoutError):
        return f"the hub did not answer within {timeout:.0f} s"
    return f"{type(e).__name__}: {str(e)[:200]}"


class HubActivity:
    """Every hub user's server state and last activity, read from the hub's user list (GET
    /users, paged at 200 a request) by `run_forever` every `every` seconds; one read at a time
    (a caller during a read shares it). `current()` answers at once from the last read; before
    the first read it waits at most FIRST_READ_WAIT seconds. `user(name)` reads one user now and
    updates their entry (after a start or a stop, and when a page asks for one server)."""

    def __init__(self, hub: _Users, every: float = ACTIVITY_SECONDS) -> None:
        self.hub = hub
        self.every = every
        self.snapshot: Snapshot | None = None
        self.problem: str | None = None  # why the last read of the list failed; None: it worked
        self._reading: asyncio.Future[None] | None = None
        self._failed_mono: float | None = None  # when the last read failed (monotonic)
        self._touched: dict[str, float] = {}  # users read one by one since: monotonic

    async def refresh(self) -> None:
        """Read the whole user list now (or join the read under way)."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self._read())
        await asyncio.shield(self._reading)

    async def _read(self) -> None:
        started, read_at = time.monotonic(), datetime.now(UTC)
        try:
            users = await asyncio.wait_for(self.hub.users(), ACTIVITY_TIMEOUT)
        except Exception as e:  # refused, unreachable, slow: the last copy stays, said so
            self.problem, self._failed_mono = _why(e, ACTIVITY_TIMEOUT), time.monotonic()
            log.warning("reading the hub's users failed: %s", self.problem)
            return
        states, seen = {}, {}
        for u in users:
            if u.get("name"):
                states[str(u["name"])] = server_state(u)
                seen[str(u["name"])] = last_seen(u)
        old = self.snapshot
        if old is not None:  # a user read one by one after this read began is newer
            for name, at in self._touched.items():
                if at > started and name in old.states:
                    states[name], seen[name] = old.states[name], old.seen.get(name)
        self._touched = {n: at for n, at in self._touched.items() if at > started}
        self.snapshot = Snapshot(states, seen, read_at, started)
        self.problem, self._failed_mono = None, None

    async def run_forever(self) -> None:
        """The service's background task: read now, then every `every` seconds."""
        while True:
            try:
                await self.refresh()
            except Exception as e:  # never let the loop die
                log.warning("reading the hub's users failed: %s", e)
            await asyncio.sleep(self.every)

    async def current(self, wait: float = FIRST_READ_WAIT) -> tuple[Snapshot | None, str | None]:
        """(the last read, why the latest read failed or None); before any read has worked,
        one read waited for at most `wait` seconds (and not again while a failed read is
        younger than `every`), else (None, why)."""
        if self.snapshot is None:
            failed = self._failed_mono
            if failed is None or time.monotonic() - failed >= self.every:
                try:
                    await asyncio.wait_for(self.refresh(), wait)
                except TimeoutError:
                    return None, "the hub's server states are not known yet (still reading)"
        if self.snapshot is None:
            return None, self.problem or "the hub's server states are not known yet"
        return self.snapshot, self.problem

    async def user(self, name: str) -> ServerState | None:
        """`name`'s server now (one hub call; `stopped` for someone the hub does not know),
        their entry updated; None when the hub does not answer."""
        try:
            model = await asyncio.wait_for(self.hub.user(name), USER_TIMEOUT)
        except Exception as e:  # the hub away: the page says so
            log.warning("reading hub user %s failed: %s", name, _why(e, USER_TIMEOUT))
            return None
        state = server_state(model) if model else ServerState("stopped")
        snap = self.snapshot
        if snap is not None:
            seen = last_seen(model) if model else None
            self.snapshot = Snapshot(
                {**snap.states, name: state}, {**snap.seen, name: seen}, snap.read_at,
                snap.read_mono,
            )  # fmt: skip
        self._touched[name] = time.monotonic()
        return state


async def sync_membership(hub: HubAPI, wanted: Mapping[str, set[str]]) -> SyncPlan:
    """Create missing users and groups and fix managed group membership; returns what was done."""
    users = [u["name"] for u in await hub.users()]
    plan = plan_sync(wanted, users, await hub.groups())
    if not plan.empty:
        log.info(
            "hub sync: %d new users, %d new groups, %d additions, %d removals",
            len(plan.create_users),
            len(plan.create_groups),
            sum(map(len, plan.add.values())),
            sum(map(len, plan.remove.values())),
        )
        await hub.apply(plan)
    return plan
