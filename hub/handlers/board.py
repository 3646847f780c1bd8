"""The instructor's pages of assessments: the board of a cohort's track and stage, the
submissions of an assessment, and one submission rendered read-only.

They only read (hub/boards.py, hub/nbview.py). The board's actions — release, collect and
autograde, deadlines, extensions, feedback, exports — are calls of the JSON API made by
static/board.js with the page's XSRF token (the API authenticates the hub's OAuth cookie only
with it), so every write goes through the same checks and audit as the CLI's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornado import web

from .. import boards, nbview
from ..core import permissions as perm
from .pages import PageHandler

SLUG = r"([a-z0-9][a-z0-9-]{0,63})"
SID = r"([0-9]{1,12})"
LOG_CHARS = 4000  # of a test's execution log on the page (the record keeps as much)


class BoardPage(PageHandler):
    """GET /board/COHORT/TRACK/STAGE: every assessment of the stage with its state, due date
    and extensions, counts and the actions that fit its state."""

    @web.authenticated
    def get(self, cohort: str, track: str, stage: str) -> None:
        """Render board.html."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            board = boards.board(s, cohort, track, stage, self.ctx.now())
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


board_handlers = [
    (f"/board/{SLUG}/{SLUG}/{SLUG}", BoardPage),
    (f"/assessments/{SLUG}/{SLUG}", SubmissionsPage),
    (f"/submissions/{SID}", SubmissionPage),
]
