"""The JSON API under /services/sadari/api/v1/: health, me, curriculum, trainees, roster, audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text as sql

from ..core import permissions as perm
from ..core.yamlsrc import InputError
from ..store import repo
from ..store.db import schema_status
from . import roster
from .base import ApiError, ApiHandler
from .views import audit_view, counts, member_view, text, trainee_row


class HealthHandler(ApiHandler):
    """GET /api/v1/health: is the service up, the database reachable and at the right schema."""

    def get(self) -> None:
        """No authentication: for probes."""
        with self.ctx.engine.connect() as conn:
            conn.execute(sql("SELECT 1"))
        status = schema_status(self.ctx.engine)
        self.write_json(
            {
                "status": "ok" if status.up_to_date else "degraded",
                "schema": {"current": status.current, "head": status.head},
                "curriculum": self.ctx.curriculum.program_id,
                "hub": self.ctx.hub is not None,
                "grading": {
                    "engine": self.ctx.settings.grader,
                    "workers": self.ctx.settings.grading_workers,
                    "service_grading": self.ctx.settings.service_grading,
                },
            }
        )


class MeHandler(ApiHandler):
    """GET /api/v1/me: who you are, your cohort/track/stage, your labs and what is next."""

    def get(self) -> None:
        """Any sadari role."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        with self.ctx.sessions() as s:
            view = member_view(
                s, self.ctx.curriculum, who["name"], self.ctx.now(), who["sadari_role"]
            )
        view["kind"] = who.get("kind", "user")
        self.write_json(view)


class CurriculumHandler(ApiHandler):
    """GET /api/v1/curriculum: stages and tracks (no hidden material)."""

    def get(self) -> None:
        """Any sadari role."""
        self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        c = self.ctx.curriculum
        self.write_json(
            {
                "program": {"id": c.program_id, "name": text(c.program_name)},
                "stages": [
                    {"id": s.id, "name": text(s.name), "position": s.position} for s in c.stages
                ],
                "tracks": [
                    {
                        "id": t.id,
                        "name": text(t.name),
                        "stages": {
                            sid: {
                                "notebooks": list(p.notebooks),
                                "assessments": [a.id for a in p.assessments],
                            }
                            for sid, p in t.stages.items()
                        },
                    }
                    for t in c.tracks
                ],
                "cohorts": [
                    {"id": co.id, "name": text(co.name), "starts": co.starts} for co in c.cohorts
                ],
            }
        )


class TraineesHandler(ApiHandler):
    """GET /api/v1/trainees?cohort=&track=&stage=: the trainees (instructors and admins)."""

    def get(self) -> None:
        """Filtered list plus counts."""
        self.caller(perm.INSTRUCT)
        args = {k: self.get_argument(k, None) for k in ("cohort", "track", "stage")}
        with self.ctx.sessions() as s:
            rows = [trainee_row(e) for e in repo.trainees(s, **args)]
            summary = counts(s)
        self.write_json({"trainees": rows, "counts": summary})


class TraineeHandler(ApiHandler):
    """GET /api/v1/trainees/NAME: one trainee (instructors, admins, or the trainee themself)."""

    def get(self, username: str) -> None:
        """The member view of `username`."""
        who = self.caller(perm.LEARN, perm.INSTRUCT, perm.ADMIN)
        if who["name"] != username:
            self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            repo.member(s, username)  # 404 for unknown names
            view = member_view(s, self.ctx.curriculum, username, self.ctx.now(), None)
        self.write_json(view)


class StageHandler(ApiHandler):
    """POST /api/v1/trainees/NAME/stage {"stage", "reason"}: move a trainee (admins only)."""

    async def post(self, username: str) -> None:
        """Update the record (audited), then the trainee's hub groups."""
        who = self.caller(perm.ADMIN)
        body = self.json_body()
        stage, reason = body.get("stage"), str(body.get("reason", ""))
        if not isinstance(stage, str) or not stage:
            raise ApiError(400, "'stage' is required / 'stage'가 필요합니다")
        with self.ctx.sessions.begin() as s:
            enrollment, changed = repo.move_stage(
                s, username, stage, actor=who["name"], reason=reason, now=self.ctx.now()
            )
            row = trainee_row(enrollment)
        sync = await self.ctx.sync_hub([username])
        self.write_json({"trainee": row, "changed": changed, "hub_sync": sync})


class RosterHandler(ApiHandler):
    """POST /api/v1/roster?filename=&map=&cohort=&value=&dry_run=1: import a roster (CSV or
    XLSX) sent as the body, with the options of `POST /api/v1/roster/preview` (admins)."""

    async def post(self) -> None:
        """All or nothing: any problem of the preview (a bad row, an undecodable line, a track
        conflict) and nothing is written; 400 lists every one as `file:line: column: why`.
        Audited with the mapping used, which is remembered for the next import."""
        who = self.caller(perm.ADMIN)
        data, filename, mapping = roster.upload(self)
        dry_run = self.get_argument("dry_run", "") in ("1", "true", "yes")
        parsed = await roster.read(self, data, filename, mapping)
        with self.ctx.sessions() as s:
            preview = repo.preview_roster(s, parsed)
            if not preview.ok:
                raise InputError(preview.errors())
            report = repo.import_roster(
                s,
                parsed.rows,
                data=data,
                file=filename,
                actor=who["name"],
                now=self.ctx.now(),
                mapping=mapping,
            )
            if dry_run:
                s.rollback()
            else:
                s.commit()
        result: dict[str, Any] = {
            "dry_run": dry_run,
            "rows": len(parsed.rows),
            "counts": preview.counts,
            **report.as_dict(),
        }
        if not dry_run:
            result["hub_sync"] = await self.ctx.sync_hub([r.username for r in parsed.rows])
        self.write_json(result)


class SyncHandler(ApiHandler):
    """POST /api/v1/sync: bring hub users and groups in line with the record now (admins)."""

    async def post(self) -> None:
        """Full reconciliation."""
        self.caller(perm.ADMIN)
        result = await self.ctx.sync_hub()
        self.write_json(result, 502 if result["status"] == "failed" else 200)


class AuditHandler(ApiHandler):
    """GET /api/v1/audit?limit=&target=: recent audit entries and chain verification (admins)."""

    def get(self) -> None:
        """Newest first."""
        self.caller(perm.ADMIN)
        limit = min(int(self.get_argument("limit", "100")), 1000)
        with self.ctx.sessions.begin() as s:  # the verified checkpoint moves on
            view = audit_view(s, limit, self.get_argument("target", None), self.ctx.now())
        self.write_json(view)


class NotFoundHandler(ApiHandler):
    """Any other API path: JSON 404."""

    def prepare(self) -> None:
        """Always 404."""
        raise ApiError(404, f"no such endpoint: {self.request.method} {self.request.path}")
