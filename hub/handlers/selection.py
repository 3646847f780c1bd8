"""The selection API: instructors preview and override, admins confirm, apply and roll back;
trainees see their own standing and, where the cohort opts in, a pseudonymous leaderboard; teams.

Routes (under /api/v1/): selections (GET list, POST {cohort, stage} = preview),
selections/ID (GET ?format=json|csv|xlsx), selections/ID/overrides (POST {username, action,
reason}), selections/ID/(confirm|apply|rollback) (POST; rollback needs {reason}), me/standing,
cohorts/C/leaderboard?top=, cohorts/C/teams (GET ?format=; POST {seed?, stage?} forms them).
After apply, rollback and teams the service syncs the affected people's hub groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .. import selection as workflow
from ..core import permissions as perm
from ..standing import leaderboard, standing
from ..store import repo
from ..store import selection as db
from .base import ApiError, ApiHandler

SID = r"(\d{1,12})"
COHORT = r"([a-z0-9][a-z0-9._-]{0,63})"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _format(handler: ApiHandler) -> str:
    fmt = handler.get_argument("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise ApiError(400, "format must be json, csv or xlsx")
    return fmt


def _download(handler: ApiHandler, rows: list[dict[str, Any]], fmt: str, name: str) -> None:
    handler.set_header("Content-Type", "text/csv; charset=utf-8" if fmt == "csv" else XLSX)
    handler.set_header("Content-Disposition", f'attachment; filename="{name}.{fmt}"')
    handler.finish(workflow.export_bytes(rows, fmt, name))


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"'{key}' is required / '{key}' 값이 필요합니다")
    return value.strip()


class SelectionsHandler(ApiHandler):
    """GET /api/v1/selections?cohort=&stage=: summaries, newest first; POST {cohort, stage}:
    a new preview (instructors and admins)."""

    def get(self) -> None:
        """Summaries without the per-trainee rows."""
        self.caller(perm.INSTRUCT)
        cohort, stage = self.get_argument("cohort", None), self.get_argument("stage", None)
        with self.ctx.sessions() as s:
            rows = [workflow.summary(x) for x in db.selections(s, cohort, stage)]
        self.write_json({"selections": rows})

    async def post(self) -> None:
        """Rank (off the event loop) and store the preview; nobody moves yet."""
        who = self.caller(perm.INSTRUCT)
        body = self.json_body()
        cohort, stage = _text(body, "cohort"), _text(body, "stage")
        ctx = self.ctx

        def work() -> dict[str, Any]:
            with ctx.sessions.begin() as s:
                sel = workflow.preview(
                    s, ctx.curriculum, cohort, stage, actor=who["name"], now=ctx.now()
                )
                return workflow.summary(sel)

        self.write_json(await asyncio.to_thread(work), 201)


class SelectionHandler(ApiHandler):
    """GET /api/v1/selections/ID?format=json|csv|xlsx: the summary and every trainee's row with
    the override in force (instructors and admins)."""

    def get(self, sid: str) -> None:
        """JSON, or a CSV (UTF-8 with BOM) / XLSX download."""
        self.caller(perm.INSTRUCT)
        fmt = _format(self)
        with self.ctx.sessions() as s:
            sel = db.selection(s, int(sid))
            rows = workflow.outcome_rows(sel)
            result = {**workflow.summary(sel), "rows": rows}
        if fmt == "json":
            self.write_json(result)
        else:
            _download(self, rows, fmt, f"selection-{sid}")


class OverrideHandler(ApiHandler):
    """POST /api/v1/selections/ID/overrides {username, action: advance|hold, reason}."""

    def post(self, sid: str) -> None:
        """Instructors and admins; the reason is required."""
        who = self.caller(perm.INSTRUCT)
        body = self.json_body()
        username, action = _text(body, "username"), _text(body, "action")
        reason = _text(body, "reason")
        with self.ctx.sessions.begin() as s:
            workflow.override(
                s, int(sid), username, action, reason, actor=who["name"], now=self.ctx.now()
            )
            result = workflow.summary(db.selection(s, int(sid)))
        self.write_json(result, 201)


class SelectionActionHandler(ApiHandler):
    """POST /api/v1/selections/ID/(confirm|apply|rollback) (admins; rollback needs {reason})."""

    async def post(self, sid: str, action: str) -> None:
        """Run the step off the event loop, then sync the moved trainees' hub groups."""
        who = self.caller(perm.ADMIN)
        body = self.json_body()
        reason = _text(body, "reason") if action == "rollback" else ""
        ctx = self.ctx

        def work() -> tuple[dict[str, Any], bool, list[str]]:
            with ctx.sessions.begin() as s:
                kw: dict[str, Any] = {"actor": who["name"], "now": ctx.now()}
                users: list[str] = []
                if action == "confirm":
                    sel, changed = workflow.confirm(s, ctx.curriculum, int(sid), **kw)
                elif action == "apply":
                    sel, changed = workflow.apply(s, ctx.curriculum, int(sid), **kw)
                    users = [m["username"] for m in sel.moved] if changed else []
                else:
                    sel, changed, users = workflow.rollback(s, int(sid), reason=reason, **kw)
                return workflow.summary(sel), changed, users

        result, changed, users = await asyncio.to_thread(work)
        sync = await ctx.sync_hub(users) if users else {"status": "skipped", "message": "no moves"}
        self.write_json({**result, "changed": changed, "hub_sync": sync})


class StandingHandler(ApiHandler):
    """GET /api/v1/me/standing: your own outcome in your cohort's newest selection."""

    def get(self) -> None:
        """Any sadari role; only ever the caller's own row."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        with self.ctx.sessions() as s:
            try:
                view = standing(s, who["name"])
            except repo.NotFound:
                view = {"username": who["name"], "selection": None}
        self.write_json(view)


class LeaderboardHandler(ApiHandler):
    """GET /api/v1/cohorts/C/leaderboard?top=10: pseudonymous ranks, where the cohort opts in
    (SADARI_LEADERBOARD_COHORTS)."""

    def get(self, cohort: str) -> None:
        """Trainees of the cohort see their pool; instructors and admins every pool."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        if cohort not in self.ctx.settings.leaderboard_cohort_ids:
            raise ApiError(
                404,
                f"cohort {cohort!r} has no leaderboard (SADARI_LEADERBOARD_COHORTS) "
                "/ 이 기수는 순위표를 공개하지 않습니다",
            )
        try:
            top = max(1, min(int(self.get_argument("top", "10")), 100))
        except ValueError:
            raise ApiError(400, "top must be a number") from None
        staff = who["sadari_role"] in ("instructor", "admin")
        with self.ctx.sessions() as s:
            if not staff:
                e = repo.active_enrollment(repo.member(s, who["name"]))
                if e is None or e.cohort.slug != cohort:
                    raise ApiError(403, f"{who['name']} is not in cohort {cohort!r}")
            key = self.ctx.settings.pseudonym_key
            view = leaderboard(s, cohort, who["name"], staff=staff, key=key, top=top)
        self.write_json(view)


class TeamsHandler(ApiHandler):
    """GET /api/v1/cohorts/C/teams?format=json|csv|xlsx (instructors and admins);
    POST {seed?, stage?}: (re)form the teams (admins), then sync hub groups."""

    def get(self, cohort: str) -> None:
        """The teams with their members and explanations."""
        self.caller(perm.INSTRUCT)
        fmt = _format(self)
        with self.ctx.sessions() as s:
            teams = db.teams(s, db.cohort_row(s, cohort).id)
            rows = workflow.team_rows(teams)
            listed = [
                {"team": t.name, "number": t.number, "stage": t.stage, "members": t.members}
                | {"explanation": t.explanation, "seed": t.seed}
                for t in teams
            ]
        if fmt == "json":
            self.write_json({"cohort": cohort, "teams": listed})
        else:
            _download(self, rows, fmt, f"teams-{cohort}")

    async def post(self, cohort: str) -> None:
        """Replaces the cohort's teams of the stage; audited."""
        who = self.caller(perm.ADMIN)
        body = self.json_body()
        seed, stage = body.get("seed"), body.get("stage")
        if seed is not None and not isinstance(seed, int):
            raise ApiError(400, "seed must be an integer")
        ctx = self.ctx

        def work() -> tuple[dict[str, Any], list[str]]:
            with ctx.sessions.begin() as s:
                before = {
                    m["username"]
                    for t in db.teams(s, db.cohort_row(s, cohort).id)
                    for m in t.members
                }
                rows, result, notes = workflow.form_teams(
                    s,
                    ctx.curriculum,
                    cohort,
                    seed=seed,
                    actor=who["name"],
                    now=ctx.now(),
                    stage=stage,
                )
                users = before | {m["username"] for t in rows for m in t.members}
                teams = [
                    {"team": t.name, "members": t.members, "explanation": t.explanation}
                    for t in rows
                ]
                return {
                    "cohort": cohort,
                    "explanation": result.explanation,
                    "notes": notes,
                    "teams": teams,
                }, sorted(users)

        result, users = await asyncio.to_thread(work)
        result["hub_sync"] = await ctx.sync_hub(users)
        self.write_json(result, 201)


class TeamMoveHandler(ApiHandler):
    """POST /api/v1/cohorts/C/teams/moves {username, team, reason} (admins): move a trainee into
    another team (its number or hub group), then sync their hub groups. The answer lists the
    team policy's rules the move breaks (it is made anyway, and audited with them)."""

    async def post(self, cohort: str) -> None:
        """The move: {from, to, warnings, hub_sync}."""
        who = self.caller(perm.ADMIN)
        body = self.json_body()
        username, team, reason = _text(body, "username"), _text(body, "team"), _text(body, "reason")
        ctx = self.ctx

        def work() -> dict[str, Any]:
            with ctx.sessions.begin() as s:
                e = repo.active_enrollment(repo.member(s, username))
                if e is None or e.cohort.slug != cohort:
                    raise ApiError(404, f"{username} is not a trainee of {cohort!r}")
                old, new, warnings = workflow.move_to_team(
                    s,
                    ctx.curriculum,
                    username,
                    team,
                    reason=reason,
                    actor=who["name"],
                    now=ctx.now(),
                )
                return {
                    "username": username,
                    "from": old.name,
                    "to": new.name,
                    "warnings": warnings,
                }

        result = await asyncio.to_thread(work)
        result["hub_sync"] = await ctx.sync_hub([username])
        self.write_json(result)


selection_handlers = [
    ("/api/v1/selections", SelectionsHandler),
    (f"/api/v1/selections/{SID}", SelectionHandler),
    (f"/api/v1/selections/{SID}/overrides", OverrideHandler),
    (f"/api/v1/selections/{SID}/(confirm|apply|rollback)", SelectionActionHandler),
    ("/api/v1/me/standing", StandingHandler),
    (f"/api/v1/cohorts/{COHORT}/leaderboard", LeaderboardHandler),
    (f"/api/v1/cohorts/{COHORT}/teams", TeamsHandler),
    (f"/api/v1/cohorts/{COHORT}/teams/moves", TeamMoveHandler),
]
