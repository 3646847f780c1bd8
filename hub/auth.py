"""Authenticators sadari can use. The demo login lives here; production ones come from
NativeAuthenticator and OAuthenticator and are chosen by a setting (see hubconfig.py)."""

from __future__ import annotations

import hmac
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode


class DemoAuthenticator(Authenticator):
    """DEMO ONLY: anyone the hub knows (roster members) logs in with one shared password.

    Users are not created at login: only members imported into sadari (and synced to the hub) can
    log in, so a typo in a username fails instead of creating a stray account.
    """

    password = Unicode(help="The shared demo password.").tag(config=True)

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        """The username when the password matches, else None."""
        supplied = (data.get("password") or "").encode()
        if not self.password or not hmac.compare_digest(supplied, self.password.encode()):
            return None
        return data.get("username") or None
