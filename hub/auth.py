"""Authenticators sadari can use. The demo login lives here; production ones come from
NativeAuthenticator and OAuthenticator and are chosen by a setting (see hubconfig.py)."""

from __future__ import annotations

import hmac
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from .core.limits import MAX_USERNAME_CHARS, excerpt


class DemoAuthenticator(Authenticator):
    """DEMO ONLY: anyone the hub knows (roster members) logs in with one shared password.

    Users are not created at login: only members imported into sadari (and synced to the hub) can
    log in, so a typo in a username fails instead of creating a stray account. A username longer
    than the roster allows (MAX_USERNAME_CHARS) is refused before anything else looks at it, so
    that no log line of the hub quotes more than a short excerpt of it.
    """

    password = Unicode(help="The shared demo password.").tag(config=True)

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        """The username when the password matches, else None."""
        username = data.get("username") or ""
        if len(username) > MAX_USERNAME_CHARS:
            self.log.warning(
                "Refused a login: the username %s is longer than %d characters",
                excerpt(username),
                MAX_USERNAME_CHARS,
            )
            return None
        supplied = (data.get("password") or "").encode()
        if not self.password or not hmac.compare_digest(supplied, self.password.encode()):
            return None
        return username or None

    def validate_username(self, username: str) -> bool:
        """JupyterHub's checks, and at most MAX_USERNAME_CHARS characters (the roster's limit)."""
        return len(username) <= MAX_USERNAME_CHARS and bool(super().validate_username(username))
