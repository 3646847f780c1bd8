"""The staff's trainees pages and their server actions (admins: every trainee; instructors: the
trainees of the cohorts whose hub group `instructors:<cohort>` they are in).

- `GET /trainees?q=&cohort=&track=&stage=&attr=KEY=VALUE&status=&state=&sort=&order=&page=`:
  the table (templates/trainees.html), searched, filtered, sorted and paged by the server, each
  row with the trainee's server state and last activity from the service's copy of the hub's
  user list (hubapi.py `HubActivity`; the page says how old it is), so it never waits for
  the hub.
- `GET /trainees/NAME`: one trainee (templates/trainee_detail.html, static/trainees.js): the
  enrollment and stage history, scores per assessment, selections, the audit entries (admins);
  the stage move form calls `POST /api/v1/trainees/NAME/stage` (handlers/api.py, admins).
- `GET|POST|DELETE /api/v1/trainees/NAME/server`: the trainee's server now, start it, stop it,
  through the hub API with the service's token on the caller's behalf (audited). The hub's own
  roles (hubconfig.py `staff_server_roles`) give the same people the same reach when they open
  `/user/NAME/` or `/hub/spawn/NAME` themselves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from tornado import web

from .. import trainees
from ..core import permissions as perm
from ..core.trainee_list import PER_PAGE, STATE_FILTERS, ListQuery, visible_cohorts
from .base import ApiError, ApiHandler, BaseHandler
from .pages import PageHandler, cohort_zone, program_zone

USER = r"([a-z0-9][a-z0-9._-]{0,63})"
ARGS = ("q", "cohort", "track", "stage", "attr", "status", "state", "sort", "order", "page")


def visible(handler: BaseHandler, who: dict[str, Any]) -> frozenset[str] | None:
    """The cohorts whose trainees the caller may see (None: every cohort)."""
    return visible_cohorts(who.get("sadari_role"), who.get("groups") or [])


def allowed(handler: BaseHandler, who: dict[str, Any], username: str) -> None:
    """403 unless the caller may see `username` (404 for someone who is no trainee)."""
    with handler.ctx.sessions() as s:
        try:
            trainees.check_access(s, username, visible(handler, who))
        except trainees.Forbidden as e:
            raise ApiError(403, str(e)) from None


class TraineesPage(PageHandler):
    """GET /trainees: the trainees table (instructors and admins)."""

    @web.authenticated
    async def get(self) -> None:
        """Render trainees.html."""
        who = self.caller(perm.INSTRUCT)
        args = {k: self.get_query_argument(k, "") for k in (*ARGS, "per_page")}
        query = ListQuery.parse(args)
        scope = visible(self, who)
        snapshot, hub_problem = (None, None)
        if scope is None or scope:
            snapshot, hub_problem = await trainees.server_states(self.ctx.hub)
        states = snapshot.states if snapshot else None
        # when the hub was read, on the service clock (the page's `now`)
        states_at = self.ctx.now() - timedelta(seconds=snapshot.age()) if snapshot else None
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            table = trainees.listing(s, query, scope, states)
            statuses = trainees.statuses(s)
            zone = cohort_zone(s, query.cohort) if query.cohort else program_zone(s)
        self.render_page(
            "trainees.html",
            me=me,
            zone=zone,
            query=query,
            table=table,
            scope=scope,
            statuses=statuses,
            choices=trainees.choices(self.ctx.curriculum, scope),
            state_filters=STATE_FILTERS,
            per_page_choices=PER_PAGE,
            hub_problem=hub_problem,
            states_at=states_at,
            link=lambda **changes: "?" + urlencode(query.args(**changes)),
        )


class TraineeDetailPage(PageHandler):
    """GET /trainees/NAME: one trainee's record (instructors of their cohort, admins)."""

    @web.authenticated
    async def get(self, username: str) -> None:
        """Render trainee_detail.html."""
        who = self.caller(perm.INSTRUCT)
        is_admin = who.get("sadari_role") == "admin"
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            try:
                record = trainees.detail(s, username, visible(self, who), audit=is_admin)
            except trainees.Forbidden as e:
                raise ApiError(403, str(e)) from None
        state = await trainees.one_state(self.ctx.hub, username)
        self.render_page(
            "trainee_detail.html",
            me=me,
            t=record,
            zone=record["zone"],
            state=state,
            hub_known=self.ctx.hub is not None and state is not None,
            can_move=is_admin and record["active"] is not None,
            is_admin=is_admin,
        )


class TraineeServerHandler(ApiHandler):
    """GET|POST|DELETE /api/v1/trainees/NAME/server: the trainee's server now, start, stop."""

    def _hub(self) -> Any:
        if self.ctx.hub is None:
            raise ApiError(503, "no hub API: the service does not run under a hub")
        return self.ctx.hub

    async def get(self, username: str) -> None:
        """{state, last_activity, pending}."""
        who = self.caller(perm.INSTRUCT)
        allowed(self, who, username)
        state = await trainees.one_state(self._hub(), username)
        if state is None:
            raise ApiError(502, "JupyterHub did not answer / 허브가 응답하지 않습니다")
        self.write_json(
            {
                "username": username,
                "state": state.state,
                "pending": state.pending,
                "last_activity": state.last_activity,
            }
        )

    async def post(self, username: str) -> None:
        """Start the server (audited); 202."""
        who = self.caller(perm.INSTRUCT)
        allowed(self, who, username)
        await trainees.start_server(
            self._hub(), self.ctx.sessions, username, actor=who["name"], now=self.ctx.now()
        )
        self.write_json({"username": username, "requested": "start"}, 202)

    async def delete(self, username: str) -> None:
        """Stop the server (audited); 202."""
        who = self.caller(perm.INSTRUCT)
        allowed(self, who, username)
        await trainees.stop_server(
            self._hub(), self.ctx.sessions, username, actor=who["name"], now=self.ctx.now()
        )
        self.write_json({"username": username, "requested": "stop"}, 202)


trainee_handlers = [
    ("/trainees", TraineesPage),
    (f"/trainees/{USER}", TraineeDetailPage),
    (f"/api/v1/trainees/{USER}/server", TraineeServerHandler),
]
