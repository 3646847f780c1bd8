"""The instructor's pages of assessments: the board of a cohort's track and stage, the
submissions of an assessment, and one submission rendered read-only.

They only read (hub/boards.py, hub/nbview.py). The board's actions — release, collect and
autograde, deadlines, extensions, feedback, exports — are calls of the JSON API made by
static/board.js with the page's XSRF token (the API authenticates the hub's OAuth cookie only
with it), so every write goes through the same checks and audit as the CLI's.

Three API routes of the pages' own actions live here too:

- POST /api/v1/assessments/AID/submissions/SID/regrade {reason}: queue one submission's grading
  again (audited with the reason); 202 at once with the URL of its progress, which the service's
  grading loop (hub/service.py) moves on;
- GET /api/v1/assessments/AID/submissions/SID/grading: that progress and the result;
- GET /api/v1/assessments/AID/feedback/preview?cohort=: what releasing feedback now would do for
  each trainee (hub/assessments.py `feedback` with `dry_run`), nothing written.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from tornado import web

from .. import assessments as ops_
from .. import boards, nbview
from .. import locale as i18n
from ..core import feedback_preview as preview
from ..core import permissions as perm
from ..store import exchange as ex
from ..store import grading
from ..store.models import Member
from .base import ApiError, ApiHandler
from .exchange import AID
from .pages import PageHandler

SLUG = r"([a-z0-9][a-z0-9-]{0,63})"
SID = r"([0-9]{1,12})"
LOG_CHARS = 4000  # of a test's execution log on the page (the record keeps as much)


class BoardPage(PageHandler):
    """GET /board/COHORT/TRACK/STAGE: every assessment of the stage with its state, due date
    and extensions, counts and the actions that fit its state."""

    @web.authenticated
    async def get(self, cohort: str, track: str, stage: str) -> None:
        """Render board.html (the board read in a worker thread: a stage of thousands of
        trainees takes the database a moment, and the service answers others meanwhile)."""
        who = self.caller(perm.INSTRUCT)

        def read() -> dict[str, Any]:
            with self.ctx.sessions() as s:
                return boards.board(s, cohort, track, stage, self.ctx.now())

        board = await asyncio.to_thread(read)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
        self.render_page("board.html", me=me, board=board, zone=board["zone"])


class SubmissionsPage(PageHandler):
    """GET /assessments/COHORT/AID: one row per trainee (latest submission, lateness, status,
    scores, a failed grading's reason), sortable and filterable in the page."""

    @web.authenticated
    def get(self, cohort: str, aid: str) -> None:
        """Render submissions.html (`?show=` one of boards.FILTERS preselects a filter)."""
        who = self.caller(perm.INSTRUCT)
        show = self.get_query_argument("show", "all")
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            table = boards.submissions(s, cohort, aid, self.ctx.now())
        self.render_page(
            "submissions.html",
            me=me,
            table=table,
            zone=table["zone"],
            show=show if show in boards.FILTERS else "all",
            filters=boards.FILTERS,
        )


class SubmissionPage(PageHandler):
    """GET /submissions/ID: one submission read-only — its result, each test cell's points and
    execution log, the trainee's history of the assessment, the notebooks rendered safely."""

    @web.authenticated
    async def get(self, sid: str) -> None:
        """Render submission.html."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            sub = boards.submission(s, int(sid))
        try:
            archive = await asyncio.to_thread(self.ctx.blobs.get, sub["sha256"])
            notebooks = await asyncio.to_thread(nbview.notebooks, archive)
            problem = None
        except (OSError, KeyError, ValueError) as e:  # a blob gone or unreadable
            notebooks, problem = [], f"{type(e).__name__}: {str(e)[:200]}"
        cells: dict[tuple[str, str], dict[str, Any]] = {}
        for c in sub["cells"]:
            log, cut = nbview.text(c["log"], LOG_CHARS)
            cells[(c["notebook"], c["cell"])] = {**c, "log": log, "log_cut": cut}
        self.render_page(
            "submission.html",
            me=me,
            sub=sub,
            zone=sub["zone"],
            cells=cells,
            notebooks=notebooks,
            problem=problem,
        )


def _progress_url(prefix: str, aid: str, sid: int) -> str:
    return f"{prefix}api/v1/assessments/{aid}/submissions/{sid}/grading"


class RegradeHandler(ApiHandler):
    """POST /api/v1/assessments/AID/submissions/SID/regrade {"reason"}: grade one submission
    again. 202 {"submission", "job", "status", "requeued", "progress"} at once (Location: the
    progress URL); the service's grading loop grades it. A reason is required (400 without)."""

    def post(self, aid: str, sid: str) -> None:
        """Queue the regrade (store/grading.py `regrade`), audited with who, when and why."""
        who = self.caller(perm.INSTRUCT)
        reason = str(self.json_body().get("reason") or "").strip()
        if not reason:
            raise ApiError(400, "a reason is required / 사유를 입력하세요", field="reason")
        with self.ctx.sessions.begin() as s:
            sub = ex.submission(s, int(sid))
            if sub.assessment.slug != aid:
                raise ApiError(404, f"submission {sid} is not one of {aid} / 없는 제출입니다")
            job = grading.regrade(s, sub, actor=who["name"], reason=reason, now=self.ctx.now())
        self.ctx.grading_wake.set()  # the service's worker takes it at once
        url = _progress_url(self.ctx.prefix, aid, int(sid))
        self.set_header("Location", url)
        self.write_json({"submission": int(sid), **job, "progress": url}, 202)


class RegradeProgressHandler(ApiHandler):
    """GET /api/v1/assessments/AID/submissions/SID/grading: where the submission's grading stands
    (boards.regrade_progress): its job, status, result and cells' points."""

    def get(self, aid: str, sid: str) -> None:
        """The progress of one submission's grading (`?lang=ko|en`: reasons in that language
        alone, as the pages show them)."""
        self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            out = boards.regrade_progress(s, int(sid))
        if out["assessment"] != aid:
            raise ApiError(404, f"submission {sid} is not one of {aid} / 없는 제출입니다")
        lang = i18n.language(self.get_argument("lang", None))
        if lang:
            if out["result"]:
                out["result"]["reason"] = i18n.one_language(out["result"]["reason"], lang)
            if out["job"] and out["job"]["error"]:
                out["job"]["error"] = i18n.one_language(out["job"]["error"], lang)
        self.write_json(out)


class FeedbackPreviewHandler(ApiHandler):
    """GET /api/v1/assessments/AID/feedback/preview?cohort=&lang=: what releasing the feedback now
    would do, per trainee, before anything is released — {"trainees": [{cohort, username, name,
    submission, category, …}], "counts": {category: n}, "categories": [...] in order,
    "hidden_tests": [...], "report": the dry run's report}; with `lang`, each trainee's `reason`
    in that language alone. Writes nothing."""

    async def get(self, aid: str) -> None:
        """The dry run of hub/assessments.py `feedback`, each trainee with their name."""
        who = self.caller(perm.INSTRUCT)
        ctx = self.ctx
        ops = ops_.Ops(ctx.settings, ctx.sessions, ctx.blobs, ctx.curriculum, who["name"], ctx.now)
        cohort = self.get_argument("cohort", None)
        try:
            report = await asyncio.to_thread(ops_.feedback, ops, aid, cohort, True)
        except ops_.OperationError as e:
            raise ApiError(500, str(e)) from None
        trainees = preview.entries(report)
        with ctx.sessions() as s:
            wanted = {t["username"] for t in trainees}
            names = {
                u: n
                for u, n in s.execute(
                    select(Member.username, Member.name).where(Member.username.in_(wanted))
                )
            }
        lang = i18n.language(self.get_argument("lang", None))
        for t in trainees:
            t["name"] = names.get(t["username"]) or ""
            if lang and t.get("reason"):
                t["reason"] = i18n.one_language(t["reason"], lang)
        self.write_json(
            {
                "assessment": aid,
                "cohort": cohort,
                "categories": list(preview.CATEGORIES),
                "counts": preview.counts(trainees),
                "trainees": trainees,
                "hidden_tests": report["hidden_tests"],
                "report": report,
            }
        )


board_handlers = [
    (f"/board/{SLUG}/{SLUG}/{SLUG}", BoardPage),
    (f"/assessments/{SLUG}/{SLUG}", SubmissionsPage),
    (f"/submissions/{SID}", SubmissionPage),
    (f"/api/v1/assessments/{AID}/submissions/{SID}/regrade", RegradeHandler),
    (f"/api/v1/assessments/{AID}/submissions/{SID}/grading", RegradeProgressHandler),
    (f"/api/v1/assessments/{AID}/feedback/preview", FeedbackPreviewHandler),
]
