"""Manual grading's pure part: rubrics and their levels, the queue, pseudonyms, the write."""

from __future__ import annotations

from pathlib import Path

import yaml

from sadari.hub.core import manual
from sadari.hub.core.manual import GradeFact

ROOT = Path(__file__).resolve().parents[2]


def rubric() -> manual.Rubric:
    spec = yaml.safe_load((ROOT / "labs/data-analysis/project/rubric.yaml").read_text("utf-8"))
    r = manual.parse_rubric(spec)
    assert r is not None
    return r


def fact(sub: int, member: int, cell: str, score: float | None, **kw: object) -> GradeFact:
    values: dict[str, object] = {
        "notebook": "da-project",
        "max_score": 3.0,
        "kind": "manual",
        "graded_by": "grader-run",
        "origin": "grader",
    } | kw
    return GradeFact(sub, member, cell=cell, score=score, **values)  # type: ignore[arg-type]


def test_the_project_rubric_reads_with_its_levels_in_both_languages() -> None:
    r = rubric()
    assert (r.assessment, r.notebook) == ("da-project", "da-project")
    assert [c.id for c in r.criteria][:2] == ["da-project-question", "da-project-data"]
    question = r.criterion("da-project-question")
    assert question is not None and question.points == 3
    assert [lv.points for lv in question.levels] == [3, 2, 1, 0]
    assert question.levels[0].text["ko"].startswith("의사결정") and question.levels[0].text["en"]
    assert r.criterion("nope") is None and r.order("nope") == len(r.criteria)


def test_keys_pick_levels_in_the_rubrics_order() -> None:
    c = rubric().criterion("da-project-analysis")
    assert c is not None
    assert [manual.level_for(c, k).points for k in (1, 2, 3, 4)] == [5, 4, 2, 0]  # type: ignore[union-attr]
    assert manual.level_for(c, 5) is None and manual.level_for(c, 0) is None
    assert manual.level_for(None, 1) is None
    assert manual.level_of(c, 4.0) == 2 and manual.level_of(c, 3.0) is None
    assert manual.level_of(c, None) is None


def test_a_broken_rubric_is_read_leniently_or_not_at_all() -> None:
    assert manual.parse_rubric("text") is None and manual.parse_rubric({"criteria": 3}) is None
    r = manual.parse_rubric(
        {
            "assessment": "x",
            "notebook": "a/b/x.ipynb",
            "criteria": [
                {"id": "c1", "points": 2, "levels": [{"points": 2, "en": "ok"}, {"points": "?"}]},
                "junk",
                {"points": 1},
            ],
        }
    )
    assert r is not None and r.notebook == "x" and [c.id for c in r.criteria] == ["c1"]
    assert [lv.points for lv in r.criteria[0].levels] == [2]
    assert r.criteria[0].title == {}


def test_question_keys_split_on_the_last_colon() -> None:
    key = manual.question_key("week 1: intro", "memo-1")
    assert manual.parse_question_key(key) == ("week 1: intro", "memo-1")
    assert manual.parse_question_key("nocolon") is None
    assert manual.parse_question_key(":cell") is None


def test_pseudonyms_follow_first_submissions_and_stay_when_others_submit() -> None:
    before = manual.pseudonyms({10: 7, 11: 3, 12: 5})
    assert before == {11: 1, 12: 2, 10: 3}
    after = manual.pseudonyms({10: 7, 11: 3, 12: 5, 9: 20})  # someone submits later
    assert {m: after[m] for m in before} == before and after[9] == 4


def test_the_queue_holds_manual_cells_in_rubric_order_answers_by_pseudonym() -> None:
    facts = [
        fact(1, 100, "da-project-data", None),
        fact(1, 100, "da-project-question", 2.0, origin="sadari", graded_by="kim"),
        fact(1, 100, "t1", 1.0, kind="auto"),
        fact(2, 200, "da-project-question", None),
        fact(2, 200, "da-project-data", 0.0),  # the run's zero for an empty answer
    ]
    numbers = {200: 1, 100: 2}
    queue = manual.build_queue(facts, numbers, rubric())
    keys = [q.cell for q in queue]
    assert keys[:2] == ["da-project-question", "da-project-data"]
    assert len(keys) == 6 and "t1" not in keys  # every criterion; autograded cells are not
    question = queue[0]
    assert [a.member for a in question.answers] == [200, 100]
    assert (question.graded, question.total, question.key) == (
        1,
        2,
        "da-project:da-project-question",
    )
    assert question.first_waiting() == 1 and question.first_waiting(after=1) == 1
    data = queue[1]
    assert data.first_waiting() == 2 and data.first_waiting(after=2) == 2
    empty = queue[-1]
    assert (empty.total, empty.max_score, empty.first_waiting()) == (0, 2.0, None)
    assert manual.waiting(queue) == 2
    assert manual.grader_progress(facts) == [("kim", 1)]  # the run's zero is nobody's grading


def test_the_queue_without_a_rubric_is_the_manual_cells() -> None:
    queue = manual.build_queue(
        [fact(1, 1, "memo", 2.0, notebook="b"), fact(1, 1, "essay", None, notebook="a")], {1: 1}
    )
    assert [q.key for q in queue] == ["a:essay", "b:memo"]
    assert queue[1].first_waiting() is None


def test_a_write_is_decided_on_points_version_and_reason() -> None:
    ok = {"kind": "manual", "max_score": 3.0, "stored_version": 2, "reason": ""}
    assert manual.decide(points=3, version=2, **ok).ok  # type: ignore[arg-type]
    assert manual.decide(points=0.5, version=2, **ok).verdict == "ok"  # type: ignore[arg-type]
    stale = manual.decide(points=1, version=1, **ok)  # type: ignore[arg-type]
    assert stale.verdict == "stale" and "version 2" in stale.message
    for points in (-1, 3.5, "3", True, None, float("nan"), float("inf")):
        assert manual.decide(points=points, version=2, **ok).verdict == "invalid", points  # type: ignore[arg-type]
    for version in ("2", None, 2.0, True):
        assert manual.decide(points=1, version=version, **ok).verdict == "invalid", version  # type: ignore[arg-type]
    # bad input is refused before the version is compared: a stale, wrong write is invalid
    assert manual.decide(points=9, version=1, **ok).verdict == "invalid"  # type: ignore[arg-type]
    auto = ok | {"kind": "auto"}
    assert manual.decide(points=1, version=2, **auto).verdict == "invalid"  # type: ignore[arg-type]
    assert manual.decide(points=1, version=2, **auto | {"reason": "  "}).verdict == "invalid"  # type: ignore[arg-type]
    assert manual.decide(points=1, version=2, **auto | {"reason": "test was wrong"}).ok  # type: ignore[arg-type]
