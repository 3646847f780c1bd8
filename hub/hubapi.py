"""The only place that talks to the JupyterHub REST API.

`HubAPI` wraps the calls sadari needs (users, groups, membership) with the service's own token;
`sync_membership` brings the hub's groups in line with sadari's database using the pure plan from
core/membership.py. `server_states`, `start_server` and `stop_server` serve the staff's trainees
pages (hub/trainees.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .core.membership import SyncPlan, plan_sync
from .core.trainee_list import ServerState, states_of

log = logging.getLogger("sadari.hubapi")
PAGINATED = "application/jupyterhub-pagination+json"


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

    async def server_states(self) -> dict[str, ServerState]:
        """Every hub user's default server (ready, pending or stopped) and last activity, from
        the user list (GET /users, paged at 200 users a request): for the staff's trainees
        table, which shows and filters by them."""
        return states_of(await self._paged("/users"))

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
