"""Pages: one minimal page per role (trainee, instructor, admin) and the OAuth callback."""

from __future__ import annotations

from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler
from sqlalchemy.orm import Session
from tornado import web

from ..core import permissions as perm
from .base import BaseHandler, Hardened
from .views import audit_view, counts, member_view


class PageHandler(BaseHandler):
    """A page showing the signed-in person."""

    def me(self, s: Session, who: dict[str, Any]) -> dict[str, Any]:
        """The member view of the caller."""
        return member_view(s, self.ctx.curriculum, who["name"], self.ctx.now(), who["sadari_role"])


class HomeHandler(BaseHandler):
    """GET /: send people to the page of their role."""

    @web.authenticated
    def get(self) -> None:
        """Redirect by role."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        self.redirect(self.ctx.prefix + who["sadari_role"])


class TraineePage(PageHandler):
    """GET /trainee: who you are, your cohort/track/stage, your labs, what is next."""

    @web.authenticated
    def get(self) -> None:
        """Render trainee.html."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
        self.render_page("trainee.html", me=me, hub_prefix="/hub/")


class InstructorPage(PageHandler):
    """GET /instructor: trainees per track and stage."""

    @web.authenticated
    def get(self) -> None:
        """Render instructor.html."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            summary = counts(s)
        self.render_page("instructor.html", me=me, counts=summary)


class AdminPage(PageHandler):
    """GET /admin: counts, recent audit entries, how to import a roster."""

    @web.authenticated
    def get(self) -> None:
        """Render admin.html."""
        who = self.caller(perm.ADMIN)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            summary = counts(s)
            audit = audit_view(s, 20, None)
        self.render_page("admin.html", me=me, counts=summary, audit=audit)


class OAuthCallback(Hardened, HubOAuthCallbackHandler):  # type: ignore[misc]
    """GET /oauth_callback: finish the hub's OAuth login (with the service's security headers
    and short log lines: its error message quotes the caller's `error_description`)."""

    @property
    def hub_auth(self) -> object:  # type: ignore[override]
        """The service's HubOAuth."""
        return self.settings["sadari"].hub_auth
