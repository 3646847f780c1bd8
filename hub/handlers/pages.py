"""Pages: one per role (trainee, instructor, admin), the OAuth callback, and what every page
shares — the page language, the header, JupyterHub's stylesheet.

Each page renders in one language (locale/: `?lang=` switches and is remembered in a cookie,
Korean by default), with times in the cohort's time zone. Pages look like JupyterHub's own: its
Bootstrap 5 stylesheet and dark-mode script, served by the service from the `jupyterhub`
package's data files (`/jupyterhub/static/`), so no CDN is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyterhub._data import DATA_FILES_PATH
from jupyterhub.services.auth import HubOAuthCallbackHandler
from sqlalchemy import select
from sqlalchemy.orm import Session
from tornado import web
from tornado.httputil import url_concat

from .. import boards
from .. import locale as i18n
from ..core import permissions as perm
from ..store.models import Cohort
from ..trainee_home import feedback_of, my_page
from .base import BaseHandler, Hardened, StaticHandler
from .views import audit_view, counts, member_view

JUPYTERHUB_STATIC = Path(DATA_FILES_PATH) / "static"


class JupyterHubStatic(StaticHandler):
    """GET /jupyterhub/static/PATH: JupyterHub's own static files (Bootstrap 5 stylesheet,
    dark-mode script, logo), from the installed `jupyterhub` package."""

    def initialize(self, path: str = "", **kwargs: Any) -> None:  # type: ignore[override]
        """Serve JUPYTERHUB_STATIC."""
        super().initialize(path or str(JUPYTERHUB_STATIC), **kwargs)


class PageHandler(BaseHandler):
    """A page of the service: the caller's language, the header and the shared template values."""

    _lang: str | None = None

    @property
    def lang(self) -> str:
        """The page's language: `?lang=` (remembered in a cookie), the cookie, else Korean."""
        if self._lang is None:
            asked = i18n.language(self.get_query_argument("lang", None))
            remembered = self.get_cookie(i18n.COOKIE)
            self._lang = i18n.negotiate(asked, remembered)
            if asked and asked != remembered:
                self.set_cookie(
                    i18n.COOKIE,
                    asked,
                    path=self.ctx.prefix,
                    expires_days=i18n.COOKIE_DAYS,
                    samesite="Lax",
                    httponly=True,
                )
        return self._lang

    def switch_url(self, lang: str) -> str:
        """This page in `lang`."""
        args = {
            k: self.get_query_argument(k)
            for k in self.request.query_arguments
            if k != "lang" and k != "state"
        }
        return url_concat(self.request.path, {**args, "lang": lang})

    def me(self, s: Session, who: dict[str, Any]) -> dict[str, Any]:
        """The member view of the caller."""
        return member_view(s, self.ctx.curriculum, who["name"], self.ctx.now(), who["sadari_role"])

    def render_page(self, template: str, **ns: Any) -> None:
        """Render a page in the caller's language (the error page too)."""
        lang = self.lang
        if "message" in ns and isinstance(ns["message"], str):
            ns["message"] = i18n.one_language(ns["message"], lang)
        ns.setdefault("zone", "UTC")
        ns.setdefault("now", self.ctx.now())
        super().render_page(
            template,
            lang=lang,
            other_lang="en" if lang == "ko" else "ko",
            switch_url=self.switch_url,
            xsrf_token=self.xsrf_token.decode() if self.hub_auth is not None else "",
            **ns,
        )


class HomeHandler(BaseHandler):
    """GET /: send people to the page of their role."""

    @web.authenticated
    def get(self) -> None:
        """Redirect by role."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        self.redirect(self.ctx.prefix + who["sadari_role"])


def cohort_zone(s: Session, slug: str | None) -> str:
    """The time zone of the cohort `slug` (UTC when unknown)."""
    zone = s.scalar(select(Cohort.timezone).where(Cohort.slug == slug)) if slug else None
    return zone or "UTC"


def program_zone(s: Session) -> str:
    """The time zone of every cohort when they share one (times not tied to a cohort), else UTC."""
    zones = set(s.scalars(select(Cohort.timezone)))
    return zones.pop() if len(zones) == 1 else "UTC"


class TraineePage(PageHandler):
    """GET /trainee: who you are, your cohort/track/stage, your labs, your assessments with the
    due instant that applies to you and how long is left, your submissions, scores and feedback,
    your standing (trainee_home.py)."""

    @web.authenticated
    def get(self) -> None:
        """Render trainee.html."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        settings = self.ctx.settings
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            e = me["enrollment"]
            zone = cohort_zone(s, e["cohort"]["id"]) if e else program_zone(s)
            home = my_page(
                s,
                who["name"],
                self.ctx.now(),
                leaderboard_cohorts=settings.leaderboard_cohort_ids,
                pseudonym_key=settings.pseudonym_key,
            )
        self.render_page(
            "trainee.html", me=me, home=home, zone=zone, now=self.ctx.now(), hub_prefix="/hub/"
        )


# A trainee's feedback is their own notebook's HTML (nbgrader's, with their outputs) and sadari's
# summary: shown as a document that can run nothing and load nothing from anywhere.
FEEDBACK_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class TraineeFeedback(PageHandler):
    """GET /trainee/feedback/SID/NAME: one HTML file of the feedback released for your own
    submission SID (404 for anyone else's)."""

    @web.authenticated
    def get(self, sid: str, name: str) -> None:
        """The file, sandboxed."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        with self.ctx.sessions() as s:
            files = feedback_of(s, self.ctx.blobs, who["name"], int(sid))
        if files is None or name not in files:
            raise web.HTTPError(404)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", FEEDBACK_CSP)
        self.finish(files[name])


class InstructorPage(PageHandler):
    """GET /instructor: the stages of every cohort, each with its assessment board."""

    @web.authenticated
    def get(self) -> None:
        """Render instructor.html."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            summary = counts(s)
            cohorts = boards.stages(s)
        self.render_page("instructor.html", me=me, counts=summary, cohorts=cohorts)


class AdminPage(PageHandler):
    """GET /admin: counts, the boards, recent audit entries, how to import a roster."""

    @web.authenticated
    def get(self) -> None:
        """Render admin.html."""
        who = self.caller(perm.ADMIN)
        with self.ctx.sessions.begin() as s:  # the audit checkpoint moves on
            me = self.me(s, who)
            summary = counts(s)
            audit = audit_view(s, 20, None, self.ctx.now())
            cohorts = boards.stages(s)
            zone = program_zone(s)
        self.render_page(
            "admin.html", me=me, counts=summary, audit=audit, cohorts=cohorts, zone=zone
        )


class OAuthCallback(Hardened, HubOAuthCallbackHandler):  # type: ignore[misc]
    """GET /oauth_callback: finish the hub's OAuth login (with the service's security headers
    and short log lines: its error message quotes the caller's `error_description`)."""

    @property
    def hub_auth(self) -> object:  # type: ignore[override]
        """The service's HubOAuth."""
        return self.settings["sadari"].hub_auth
