"""The service's handlers without a hub: `FakeAuth` stands in for HubOAuth (the tests that need a
real hub and its OAuth are in tests/integration and tests/browser)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2 import Environment
from jupyterhub.services.auth import check_scopes
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from sadari.hub.assessments import Ops
from sadari.hub.core import permissions as perm
from sadari.hub.handlers import default_handlers
from sadari.hub.service import Context


class FakeAuth:
    """HubOAuth's part the handlers use: the caller from 'Authorization: token NAME', with the
    scopes of `users[NAME]` (and the hub groups of `groups[NAME]`, as the hub's models carry
    them); nobody else."""

    access_scopes = {perm.ACCESS}
    base_url = "/services/sadari/"

    def __init__(
        self, users: dict[str, list[str]], groups: dict[str, list[str]] | None = None
    ) -> None:
        self.users, self.groups = users, groups

    def _persist_url_token_if_set(self, handler: Any) -> None:
        """A page's login token in the URL: none here."""

    def get_user(self, handler: Any, sync: bool = True) -> Any:
        name = handler.request.headers.get("Authorization", "").removeprefix("token ")
        model = (
            {"name": name, "kind": "user", "scopes": self.users[name]}
            if name in self.users
            else None
        )
        if model is not None and self.groups is not None:
            model["groups"] = self.groups.get(name, [])
        if sync:
            return model

        async def later() -> Any:
            return model

        return later()

    def check_scopes(self, required: Any, model: dict[str, Any]) -> Any:
        return check_scopes(required, set(model["scopes"]))


@contextmanager
def serving(ops: Ops, auth: FakeAuth) -> Iterator[int]:
    """The service's handlers on a local port (its number), with the ops' settings, database,
    blobs and clock, the callers `auth` knows."""
    ctx = Context(
        settings=ops.settings,
        engine=None,  # type: ignore[arg-type]
        sessions=ops.sessions,
        curriculum=ops.curriculum,
        hub=None,
        hub_auth=auth,  # type: ignore[arg-type]
        templates=Environment(),
        prefix="/services/sadari/",
        blobs=ops.blobs,
        now=ops.now,
    )
    sock, port = bind_unused_port()
    server = HTTPServer(Application(default_handlers, sadari=ctx))
    server.add_sockets([sock])
    try:
        yield port
    finally:
        server.stop()
