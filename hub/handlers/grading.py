"""Manual grading pages and their API (instructors): the queue of an assessment, one answer at a
time, and the grade written back (hub/grading_manual.py, store/exchange.py `write_grade`).

The pages only read; a grade is a `PUT` of the JSON API made by static/grading.js with the page's
XSRF token, versioned (a stale write is 409 with the stored grade) and audited. The submission's
page (templates/submission.html, static/adjust.js) changes an autograded cell's points through the
same `PUT`, with a reason; only the instructors of the submission's cohort and admins may
(grading_manual.py `may_adjust`), and `GET .../grades/SUBMISSION` tells the page whether the
caller may.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from tornado import web

from .. import grading_manual as gm
from .. import nbview
from ..core import manual
from ..core import permissions as perm
from ..store import exchange as ex
from ..store.models import Grade
from .base import ApiError, ApiHandler
from .board import SID, SLUG
from .exchange import AID
from .pages import PageHandler

QUESTION = r"([^/]{1,420})"  # notebook:cell, percent-encoded
PART = r"([^/]{1,200})"
NAMES_COOKIE = "sadari-grading-names"


def question_url(prefix: str, cohort: str, aid: str, key: str, n: int | None = None) -> str:
    """The page of answer `n` (else the first waiting, else the first) of a question."""
    url = f"{prefix}assessments/{cohort}/{aid}/grading/{quote(key, safe='')}"
    return url if n is None else f"{url}?n={n}"


class GradingPage(PageHandler):
    """What the grading pages share: the rubric of the assessment and whether names show."""

    def rubric(self, aid: str) -> manual.Rubric | None:
        """The assessment's rubric from the labs folder, if it has one."""
        return gm.find_rubric(self.ctx.settings.labs_dir, aid)

    def names_shown(self, who: dict[str, Any]) -> bool:
        """Whether this grader asked to see names: `?names=1|0` (remembered in a cookie that
        holds whose choice it is), else the cookie; blind by default."""
        asked = self.get_query_argument("names", None)
        if asked in ("0", "1"):
            if asked == "1":
                self.set_cookie(
                    NAMES_COOKIE,
                    who["name"],
                    path=self.ctx.prefix,
                    samesite="Strict",
                    httponly=True,
                    expires_days=30,
                )
            else:
                self.clear_cookie(NAMES_COOKIE, path=self.ctx.prefix)
            return asked == "1"
        return self.get_cookie(NAMES_COOKIE) == who["name"]


class GradingQueuePage(GradingPage):
    """GET /assessments/COHORT/AID/grading: the questions graded by hand with their progress
    (graded of total) and what each grader has graded."""

    @web.authenticated
    def get(self, cohort: str, aid: str) -> None:
        """Render grading.html."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            view = gm.queue(s, cohort, aid, self.rubric(aid))
        self.render_page(
            "grading.html",
            me=me,
            view=view,
            zone=view["zone"],
            question_url=question_url,
            names=self.names_shown(who),
        )


class GradingAnswerPage(GradingPage):
    """GET /assessments/COHORT/AID/grading/QUESTION?n=: one answer to a question, rendered
    read-only, with the rubric's levels, points and comment (keys: j/k next/previous, 1..9 the
    levels); `n` defaults to the first answer still waiting."""

    @web.authenticated
    async def get(self, cohort: str, aid: str, key: str) -> None:
        """Render grading_answer.html."""
        who = self.caller(perm.INSTRUCT)
        raw = self.get_query_argument("n", "")
        if raw and not (raw.isdigit() and len(raw) < 7):
            raise ApiError(400, "n must be a positive number / n은 양의 정수여야 합니다")
        rubric = self.rubric(aid)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
            if not raw:
                first = gm.answer(s, cohort, aid, key, 1, rubric)["question"]["first_waiting"]
                raw = str(first or 1)
            view = gm.answer(s, cohort, aid, key, int(raw), rubric)
        prompt = shown = None
        problem = None
        if view["answer"]:
            try:
                archive = await asyncio.to_thread(self.ctx.blobs.get, view["answer"]["sha256"])
                notebooks = await asyncio.to_thread(nbview.notebooks, archive)
                prompt, shown = gm.answer_cells(
                    notebooks, view["question"]["notebook"], view["question"]["cell"]
                )
            except (OSError, KeyError, ValueError) as e:  # a blob gone or unreadable
                problem = f"{type(e).__name__}: {str(e)[:200]}"
        self.render_page(
            "grading_answer.html",
            me=me,
            view=view,
            zone=view["zone"],
            prompt=prompt,
            cell=shown,
            problem=problem,
            names=self.names_shown(who),
            question_url=question_url,
        )


def _adjust_refused(who: dict[str, Any], cohort: str) -> ApiError:
    return ApiError(
        403,
        f"{who['name']} may not change autograded points in {cohort}: only its instructors and "
        "admins may / 이 기수의 강사와 관리자만 자동 채점 점수를 바꿀 수 있습니다",
    )


def _cohort_of(sub: Any) -> str:
    return str(sub.assessment.stage.track.cohort.slug)


class SubmissionGradesHandler(ApiHandler):
    """GET /api/v1/assessments/AID/grades/SUBMISSION: whether the caller may change the
    submission's autograded points, with its stored grades when they may ({"submission",
    "cohort", "may_adjust": true, "grades": [grade, …]}); {"may_adjust": false} for another
    cohort's instructor; 403 for trainees."""

    def get(self, aid: str, sid: str) -> None:
        """The grades when the caller may change them."""
        who = self.caller(perm.INSTRUCT)
        with self.ctx.sessions() as s:
            sub = ex.submission(s, int(sid))
            if sub.assessment.slug != aid:
                raise ApiError(404, f"submission {sid} is not one of {aid} / 없는 제출물입니다")
            cohort = _cohort_of(sub)
            out: dict[str, Any] = {"submission": int(sid), "cohort": cohort, "may_adjust": False}
            if gm.may_adjust(who, cohort):
                rows = s.scalars(
                    select(Grade).filter_by(submission_id=sub.id).order_by(Grade.notebook, Grade.id)
                )
                out.update(may_adjust=True, grades=[ex.grade_view(g) for g in rows])
        for g in out.get("grades", []):
            g["graded_at"] = g["graded_at"].isoformat() + "Z"
        self.write_json(out)


class ManualGradeHandler(ApiHandler):
    """PUT /api/v1/assessments/AID/grades/SUBMISSION/NOTEBOOK/CELL {points, comment, version,
    reason}: a person's grade of one cell (a reason is required for an autograded cell). 409 with
    the stored grade (`current`) when `version` is not the stored one: someone graded it
    meanwhile, nothing was written. An autograded cell only by those `may_adjust` (else 403)."""

    def put(self, aid: str, sid: str, notebook: str, cell: str) -> None:
        """Write the grade; answers the stored grade and the submission's result."""
        who = self.caller(perm.INSTRUCT)
        body = self.json_body(comment=manual.MAX_COMMENT_CHARS)
        comment, reason = body.get("comment") or "", body.get("reason") or ""
        if not isinstance(comment, str) or not isinstance(reason, str):
            raise ApiError(400, "comment and reason must be text / 의견과 사유는 문자열입니다")
        try:
            with self.ctx.sessions.begin() as s:
                sub = ex.submission(s, int(sid))
                if sub.assessment.slug != aid:
                    raise ApiError(404, f"submission {sid} is not one of {aid} / 없는 제출물입니다")
                cohort = _cohort_of(sub)
                autograded = ex.grade_of(s, sub, notebook, cell).kind != "manual"
                if autograded and not gm.may_adjust(who, cohort):
                    raise _adjust_refused(who, cohort)
                row = ex.write_grade(
                    s,
                    sub,
                    notebook,
                    cell,
                    points=body.get("points"),
                    comment=comment,
                    version=body.get("version"),
                    reason=reason,
                    actor=who["name"],
                    now=self.ctx.now(),
                )
                grade = ex.grade_view(row)
                r = sub.result
                result = {
                    "status": r.status,
                    "raw_score": r.raw_score,
                    "max_score": r.max_score,
                    "final_score": r.final_score,
                }
        except ex.StaleGrade as e:
            current = {**e.current, "graded_at": e.current["graded_at"].isoformat() + "Z"}
            raise ApiError(409, str(e), current=current) from None
        grade["graded_at"] = grade["graded_at"].isoformat() + "Z"
        self.write_json({"grade": grade, "result": result})


grading_handlers = [
    (f"/assessments/{SLUG}/{SLUG}/grading", GradingQueuePage),
    (f"/assessments/{SLUG}/{SLUG}/grading/{QUESTION}", GradingAnswerPage),
    (f"/api/v1/assessments/{AID}/grades/{SID}", SubmissionGradesHandler),
    (f"/api/v1/assessments/{AID}/grades/{SID}/{PART}/{PART}", ManualGradeHandler),
]
