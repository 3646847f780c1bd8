"""The pages of stage selection, teams and the audit log.

- `GET /selection`: every cohort's transitions with their newest selection;
  `GET /selection?cohort=C&to=STAGE[&id=N]`: one transition's selection — ranked pools with the
  cutoff, score breakdowns and explanations, ineligible trainees, the score distribution, the
  overrides and the decision's audit trail (instructors and admins); each pool shows its top and
  the rows around its cutoff, `&pool=K&page=P[&size=S]` a page of pool K's whole ranking and
  `&q=TEXT` the trainees whose username or name holds TEXT, in every pool;
  `&step=confirm|apply|rollback` (admins): what that step would do, from a dry run, with the
  button that does it.
- `GET /teams?cohort=C[&stage=S]`: the team stage's teams; `&move=USER&to=TEAM` (admins): what
  the move would do and which team rules it would break, with the button that makes it.
- `GET /audit?actor=&action=&trainee=&from=&to=&page=&size=` (admins): the audit log, filtered
  and paged, with the hash chain verified from its checkpoint; `POST /audit` (admins, XSRF):
  verify the whole chain from the first entry again.

The pages only read (hub/selection_pages.py). Their actions are calls of the JSON API
(handlers/selection.py) made by static/selection.js with the page's XSRF token, so every change
goes through the workflow's checks and audit, as from the CLI.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tornado import web
from tornado.httputil import url_concat

from .. import audit_pages, teams_pages
from .. import selection_pages as pages
from ..core import permissions as perm
from ..core.audit_view import PAGE_SIZES, parse_filter
from ..store import audit as audit_store
from .base import ApiError
from .pages import PageHandler, program_zone

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _id(handler: PageHandler, name: str) -> int | None:
    value = handler.get_query_argument(name, None)
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise ApiError(400, f"{name} must be a number / {name}은 숫자여야 합니다")
    return int(value)


def _slug(handler: PageHandler, name: str) -> str | None:
    value = handler.get_query_argument(name, None) or None
    if value is not None and not SLUG.match(value):
        raise ApiError(400, f"{name}: not an id / {name}: 잘못된 값입니다")
    return value


class SelectionPage(PageHandler):
    """GET /selection: the selection of a cohort into a stage (see the module docstring)."""

    @web.authenticated
    async def get(self) -> None:
        """Render selection.html."""
        who = self.caller(perm.INSTRUCT)
        admin = who["sadari_role"] == "admin"
        cohort, stage = _slug(self, "cohort"), _slug(self, "to")
        sid, step = _id(self, "id"), self.get_query_argument("step", None)
        if step is not None:
            self.caller(perm.ADMIN)  # 403 for instructors: only admins confirm, apply, roll back
            if step not in pages.STEPS or sid is None:
                raise ApiError(400, "step must be confirm, apply or rollback, with id")
        ctx = self.ctx
        with ctx.sessions() as s:
            me = self.me(s, who)
            if cohort is None or stage is None:
                self.render_page(
                    "selection.html",
                    me=me,
                    index=pages.index_page(s, ctx.curriculum),
                    view=None,
                    zone=program_zone(s),
                    admin=admin,
                )
                return
        pool, page = _id(self, "pool"), self.get_query_argument("page", None)
        size = self.get_query_argument("size", None)
        q, lang = self.text_argument("q", "", pages.QUERY_CHARS), self.lang

        def work() -> dict[str, Any]:
            assert cohort is not None and stage is not None
            with ctx.sessions() as s:
                return pages.selection_page(
                    s, ctx.curriculum, cohort, stage, sid,
                    pool=pool, page=page, size=size, q=q, lang=lang,
                )  # fmt: skip

        view = await asyncio.to_thread(work)
        plan = None
        if step is not None and sid is not None:
            plan = await asyncio.to_thread(
                pages.plan,
                ctx.sessions,
                ctx.curriculum,
                sid,
                step,
                actor=who["name"],
                now=ctx.now(),
            )
        self.render_page(
            "selection.html",
            me=me,
            index=None,
            view=view,
            plan=plan,
            zone=view["zone"],
            admin=admin,
            here=url_concat(self.request.path, {"cohort": cohort, "to": stage}),
        )


class TeamsPage(PageHandler):
    """GET /teams: a cohort's teams in the team stage (see the module docstring)."""

    @web.authenticated
    async def get(self) -> None:
        """Render teams.html."""
        who = self.caller(perm.INSTRUCT)
        admin = who["sadari_role"] == "admin"
        cohort, stage = _slug(self, "cohort"), _slug(self, "stage")
        username = self.get_query_argument("move", None)
        team = self.get_query_argument("to", None)
        if username is not None:
            self.caller(perm.ADMIN)  # only admins move trainees
            self.text_argument("move", "")
            self.text_argument("to", "")
        ctx = self.ctx
        with ctx.sessions() as s:
            me = self.me(s, who)
            if cohort is None:
                self.render_page(
                    "teams.html",
                    me=me,
                    view=None,
                    cohorts=pages.cohorts(ctx.curriculum),
                    zone=program_zone(s),
                    admin=admin,
                )
                return
            view = teams_pages.teams_page(s, ctx.curriculum, cohort, stage)
        move = None
        if username and team:
            move = await asyncio.to_thread(
                teams_pages.move_plan,
                ctx.sessions,
                ctx.curriculum,
                cohort,
                username.strip().lower(),
                team.strip(),
                actor=who["name"],
                now=ctx.now(),
            )
        self.render_page(
            "teams.html",
            me=me,
            view=view,
            cohorts=pages.cohorts(ctx.curriculum),
            move=move,
            zone=view["zone"],
            admin=admin,
            here=url_concat(self.request.path, {"cohort": cohort, "stage": view["stage"]["id"]}),
        )


class AuditPage(PageHandler):
    """GET /audit: the audit log; POST /audit: verify the whole chain again (admins)."""

    def _filter(self, zone: str) -> tuple[Any, list[tuple[str, str]]]:
        args = {k: self.get_query_argument(k, None) for k in ("actor", "action", "trainee")}
        args |= {k: self.get_query_argument(k, None) for k in ("from", "to")}
        return parse_filter(args, zone)

    @web.authenticated
    async def get(self) -> None:
        """Render audit.html (the chain is verified from the checkpoint, which moves forward)."""
        who = self.caller(perm.ADMIN)
        ctx = self.ctx
        with ctx.sessions() as s:
            me = self.me(s, who)
            zone = program_zone(s)
        f, problems = self._filter(zone)
        page = self.get_query_argument("page", None)
        size = self.get_query_argument("size", None)

        def work() -> dict[str, Any]:
            with ctx.sessions.begin() as s:
                return audit_pages.audit_page(s, f, page, size, ctx.now())

        view = await asyncio.to_thread(work)
        query = f.query() | ({"size": str(view["paging"].size)} if size else {})
        self.render_page(
            "audit.html",
            me=me,
            view=view,
            filter=f,
            problems=problems,
            zone=zone,
            sizes=PAGE_SIZES,
            page_url=lambda n: url_concat(self.request.path, {**query, "page": str(n)}),
            here=url_concat(self.request.path, {**query, "page": str(view["paging"].page)}),
        )

    @web.authenticated
    async def post(self) -> None:
        """Re-hash the chain from the first entry (the form carries the XSRF token), then show
        the log again."""
        self.caller(perm.ADMIN)
        ctx = self.ctx

        def work() -> None:
            with ctx.sessions.begin() as s:
                audit_store.verify(s, ctx.now(), full=True)

        await asyncio.to_thread(work)
        back = self.get_body_argument("back", "")
        prefix = ctx.prefix + "audit"
        safe = back.startswith(prefix) and "//" not in back and "\\" not in back
        self.redirect(back if safe else prefix)


selection_page_handlers = [
    ("/selection", SelectionPage),
    ("/teams", TeamsPage),
    ("/audit", AuditPage),
]
