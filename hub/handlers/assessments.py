"""Instructor operations over the API, under /api/v1/assessments/AID/: the same functions the
`sadari assessment` and `sadari deadline` commands call (hub/assessments.py), run off the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from .. import assessments as ops_
from .. import workers as workers_
from ..core import permissions as perm
from ..store import exchange as ex
from ..store import grading
from .base import ApiError, ApiHandler
from .exchange import AID


class AssessmentOpHandler(ApiHandler):
    """POST /api/v1/assessments/AID/(release|autograde|feedback)?cohort=: run an operation.
    Autograde only queues each trainee's latest submission and answers 202 at once with the URL of
    its progress (GET .../grading); the service's worker grades them.

    A release whose student version still holds solutions or hidden tests is refused with 422
    (`problems`: notebook and cell of each). Feedback answers with whom it went to and whom it
    was held back from, why and until when (`released`, `held`, `hidden_tests`)."""

    async def post(self, aid: str, action: str) -> None:
        """Release from labs/, autograde the latest submissions, or release feedback."""
        who = self.caller(perm.INSTRUCT)
        ctx = self.ctx
        ops = ops_.Ops(ctx.settings, ctx.sessions, ctx.blobs, ctx.curriculum, who["name"], ctx.now)
        cohort = self.get_argument("cohort", None)
        result: Any
        try:
            if action == "release":
                result = await asyncio.to_thread(ops_.release, ops, aid, cohort)
            elif action == "autograde":
                # the API only queues: the service's worker (or the grading workers) grade, and
                # GET grading reports the progress
                result = await asyncio.to_thread(
                    workers_.autograde, ops, aid, None, cohort, queue_only=True
                )
                ctx.grading_wake.set()
                progress = f"{ctx.prefix}api/v1/assessments/{aid}/grading" + (
                    f"?cohort={cohort}" if cohort else ""
                )
                self.set_header("Location", progress)
                body = {"assessment": aid, "action": action, "result": result, "progress": progress}
                self.write_json(body, 202)
                return
            else:
                result = await asyncio.to_thread(ops_.feedback, ops, aid, cohort)
        except ops_.StudentVersionLeak as e:
            raise ApiError(422, str(e), problems=[str(leak) for leak in e.leaks]) from None
        except ops_.OperationError as e:
            raise ApiError(500, str(e)) from None
        self.write_json({"assessment": aid, "action": action, "result": result})


class GradesHandler(ApiHandler):
    """GET /api/v1/assessments/AID/grades?format=json|csv|xlsx&cohort=&cells=1: the results
    (json with cells=1: each submission's graded cells with their execution logs too)."""

    def get(self, aid: str) -> None:
        """One row per trainee's latest submission."""
        who = self.caller(perm.INSTRUCT)
        ctx = self.ctx
        ops = ops_.Ops(ctx.settings, ctx.sessions, ctx.blobs, ctx.curriculum, who["name"], ctx.now)
        rows = ops_.export_rows(ops, aid, self.get_argument("cohort", None))
        fmt = self.get_argument("format", "json")
        if fmt == "json":
            if self.get_argument("cells", "") in ("1", "true"):
                with ctx.sessions() as s:
                    for row in rows:
                        row["cells"] = ex.cell_rows(s, ex.submission(s, row["submission"]))
            self.write_json({"assessment": aid, "rows": rows})
            return
        if fmt not in ("csv", "xlsx"):
            raise ApiError(400, "format must be json, csv or xlsx")
        kind = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        self.set_header("Content-Type", kind)
        self.set_header("Content-Disposition", f'attachment; filename="{aid}-grades.{fmt}"')
        self.finish(ops_.export_bytes(rows, fmt, aid))


class DeadlineHandler(ApiHandler):
    """POST /api/v1/assessments/AID/due {"due_at", "reason", "cohort"?}: move the deadline;
    POST /api/v1/assessments/AID/extensions {"username", "due_at", "reason"}: one trainee."""

    def post(self, aid: str, kind: str) -> None:
        """Audited with the reason."""
        who = self.caller(perm.INSTRUCT)
        body = self.json_body()
        reason = str(body.get("reason", "")).strip()
        if not reason:
            raise ApiError(400, "a reason is required / 사유를 입력하세요")
        try:
            due = datetime.fromisoformat(str(body.get("due_at")))
        except ValueError:
            raise ApiError(400, "due_at must be an ISO date-time with offset") from None
        if due.tzinfo is None:
            raise ApiError(400, "due_at needs a UTC offset, e.g. 2026-12-05T18:00:00+09:00")
        with self.ctx.sessions.begin() as s:
            for a in ex.cohort_assessments(s, aid, body.get("cohort")):
                if kind == "due":
                    ex.set_due(s, a, due, actor=who["name"], reason=reason, now=self.ctx.now())
                else:
                    ex.grant_extension(
                        s,
                        a,
                        str(body.get("username")),
                        due,
                        actor=who["name"],
                        reason=reason,
                        now=self.ctx.now(),
                    )
        self.write_json({"assessment": aid, kind: due.isoformat()})


class GradingProgressHandler(ApiHandler):
    """GET /api/v1/assessments/AID/grading?cohort=: grading jobs of the latest submissions by
    status (queued, running, done, failed), for progress displays."""

    def get(self, aid: str) -> None:
        """Counts and the share done."""
        self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            subs = ex.submissions_for(
                s, ex.cohort_assessments(s, aid, self.get_argument("cohort", None))
            )
            counts = grading.progress(s, [x.id for x in subs])
        total = sum(counts.values())
        finished = counts["done"] + counts["failed"]
        self.write_json(
            {
                "assessment": aid,
                "jobs": counts,
                "total": total,
                "progress": finished / total if total else None,
            }
        )


assessment_handlers = [
    (f"/api/v1/assessments/{AID}/(release|autograde|feedback)", AssessmentOpHandler),
    (f"/api/v1/assessments/{AID}/grades", GradesHandler),
    (f"/api/v1/assessments/{AID}/grading", GradingProgressHandler),
    (f"/api/v1/assessments/{AID}/(due|extensions)", DeadlineHandler),
]
