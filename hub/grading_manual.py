"""Manual grading in the browser: the queue of answers that need a person, one answer at a time,
and the grade written back into sadari's gradebook of record.

The queue of an assessment in a cohort holds, for each trainee's latest submission with a
grading to amend (graded, not failed), the cells of kind manual (core/manual.py): written answers
and, for projects, the criteria of the track's rubric (labs/<track>/project/rubric.yaml). Grades
go through store/exchange.py `write_grade` (versioned, audited, result recomputed), so they count
in selection and show in the trainee's feedback like any other grade.

The trainee's answer is rendered from their submitted archive with hub/nbview.py (sanitised);
the cell before it is shown as the question's context. Names stay hidden behind pseudonyms unless
the page asks for them.

An autograded cell's points may be changed by hand too, with a reason (`grade.adjust`), from the
submission's page: only by the instructors of the submission's cohort (hub group
`instructors:<cohort>`, as the trainees pages decide who sees whom) and admins (`may_adjust`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import nbview
from .core import manual
from .core.trainee_list import may_see, visible_cohorts
from .store import exchange as ex
from .store.models import Assessment, Grade, Submission
from .store.repo import NotFound


def may_adjust(who: dict[str, Any], cohort: str) -> bool:
    """Whether the caller (a hub user model with its sadari role) may change the autograded
    points of a submission of `cohort`: admins always, instructors who teach the cohort (their
    hub group `instructors:<cohort>`), nobody else."""
    visible = visible_cohorts(who.get("sadari_role"), who.get("groups") or [])
    return may_see(visible, [cohort])


@lru_cache(maxsize=64)
def _rubric_file(path: str, mtime: float) -> manual.Rubric | None:
    try:
        return manual.parse_rubric(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError):
        return None


def find_rubric(labs_dir: str | Path, aid: str) -> manual.Rubric | None:
    """The rubric of assessment `aid` among labs/*/*/rubric.yaml, if there is one."""
    for path in sorted(Path(labs_dir).glob("*/*/rubric.yaml")):
        try:
            rubric = _rubric_file(str(path), path.stat().st_mtime)
        except OSError:
            continue
        if rubric is not None and rubric.assessment == aid:
            return rubric
    return None


def _named(row: Any) -> dict[str, Any]:
    return {"id": row.slug, "name": {"ko": row.name_ko, "en": row.name_en}}


def _facts(
    s: Session, a: Assessment
) -> tuple[list[manual.GradeFact], dict[int, int], dict[int, Submission]]:
    """The graded cells of the latest submissions with a grading to amend, the trainees'
    pseudonyms and those submissions by id."""
    subs = {
        x.id: x
        for x in ex.submissions_for(s, [a])
        if x.result is not None and x.result.status != "failed"
    }
    first: dict[int, int] = {
        member: sid
        for member, sid in s.execute(
            select(Submission.member_id, func.min(Submission.id))
            .where(Submission.assessment_id == a.id)
            .group_by(Submission.member_id)
        )
    }
    facts = [
        manual.GradeFact(
            g.submission_id,
            subs[g.submission_id].member_id,
            g.notebook,
            g.cell,
            g.score,
            g.max_score,
            g.kind,
            g.graded_by,
            g.origin,
        )
        for g in s.scalars(
            select(Grade).where(Grade.submission_id.in_(list(subs))).order_by(Grade.id)
        )
    ]
    return facts, manual.pseudonyms(first), subs


def _question_row(q: manual.Question, rubric: manual.Rubric | None) -> dict[str, Any]:
    c = rubric.criterion(q.cell) if rubric else None
    return {
        "key": q.key,
        "notebook": q.notebook,
        "cell": q.cell,
        "title": dict(c.title) if c else None,
        "max_score": q.max_score,
        "graded": q.graded,
        "total": q.total,
        "first_waiting": q.first_waiting() if q.total else None,
    }


def _where(a: Assessment) -> dict[str, Any]:
    st = a.stage
    return {
        "cohort": _named(st.track.cohort),
        "track": _named(st.track),
        "stage": {**_named(st), "position": st.position},
        "zone": st.track.cohort.timezone,
        "assessment": {
            "id": a.slug,
            "title": {"ko": a.title_ko, "en": a.title_en},
            "points": a.points,
        },
    }


def queue(s: Session, cohort: str, aid: str, rubric: manual.Rubric | None) -> dict[str, Any]:
    """The grading queue of an assessment in a cohort: its questions with progress (graded of
    total, the first answer still waiting), progress per grader, answers waiting in all."""
    (a,) = ex.cohort_assessments(s, aid, cohort)
    facts, numbers, _ = _facts(s, a)
    questions = manual.build_queue(facts, numbers, rubric)
    return {
        **_where(a),
        "questions": [_question_row(q, rubric) for q in questions],
        "graders": manual.grader_progress(facts),
        "waiting": manual.waiting(questions),
        "total": sum(q.total for q in questions),
        "rubric": rubric is not None,
    }


def answer(
    s: Session, cohort: str, aid: str, key: str, n: int, rubric: manual.Rubric | None
) -> dict[str, Any]:
    """The `n`-th answer (1-based, in pseudonym order) to question `key` with its stored grade,
    the trainee (pseudonym, username, name), the rubric's criterion and levels, and where the
    previous, next and next waiting answers are. A question nobody answered yet has `answer`
    None. NotFound for an unknown question or position."""
    (a,) = ex.cohort_assessments(s, aid, cohort)
    facts, numbers, subs = _facts(s, a)
    questions = manual.build_queue(facts, numbers, rubric)
    parsed = manual.parse_question_key(key)
    q = next((q for q in questions if (q.notebook, q.cell) == parsed), None)
    if q is None:
        raise NotFound(f"no question {key!r} to grade by hand in {aid} / 없는 문항입니다")
    if q.total and not 1 <= n <= q.total:
        raise NotFound(f"{key} has answers 1 to {q.total}, not {n} / 없는 답입니다")
    criterion = rubric.criterion(q.cell) if rubric else None
    view: dict[str, Any] = {
        **_where(a),
        "question": _question_row(q, rubric),
        "questions": [_question_row(x, rubric) for x in questions],
        "criterion": (
            {
                "title": dict(criterion.title),
                "points": criterion.points,
                "levels": [
                    {"key": i, "points": lv.points, "text": dict(lv.text)}
                    for i, lv in enumerate(criterion.levels[: manual.KEYS], start=1)
                ],
            }
            if criterion
            else None
        ),
        "n": n,
        "total": q.total,
        "answer": None,
    }
    if not q.total:
        return view
    fact = q.answers[n - 1]
    sub = subs[fact.submission]
    grade = ex.grade_view(ex.grade_of(s, sub, q.notebook, q.cell))
    view.update(
        answer={
            "submission": sub.id,
            "sha256": sub.sha256,
            "pseudonym": numbers.get(sub.member_id, 0),
            "username": sub.member.username,
            "name": sub.member.name,
            "submitted_at": sub.submitted_at,
        },
        grade=grade,
        level=manual.level_of(criterion, grade["score"]),
        prev=n - 1 if n > 1 else None,
        next=n + 1 if n < q.total else None,
        next_waiting=q.first_waiting(after=n),
    )
    return view


def answer_cells(
    notebooks: list[nbview.Notebook], notebook: str, cell: str
) -> tuple[nbview.Cell | None, nbview.Cell | None]:
    """(the cell before the answer, the answer) of a rendered submission: the first cell of
    notebook `notebook` (its gradebook name) whose nbgrader id is `cell`; (None, None) when the
    trainee's copy has no such cell."""
    for nb in notebooks:
        if nb.stem != notebook:
            continue
        for i, c in enumerate(nb.cells):
            if c.grade_id == cell:
                return (nb.cells[i - 1] if i else None), c
    return None, None
