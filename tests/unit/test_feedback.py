"""Hidden material: hidden tests of a source, leaks in a student version, and when feedback that
shows hidden tests may go to a trainee (deadline, extension, late policy, their score)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sadari.hub.core.deadlines import LatePolicy, final_score, lateness
from sadari.hub.core.feedback import (
    hidden_tests,
    last_gain,
    may_release_feedback,
    student_version_leaks,
)

DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
NAIVE_DUE = DUE.replace(tzinfo=None)  # as the database gives it back
ZERO = LatePolicy("zero")
NONE = LatePolicy()
LINEAR = LatePolicy("linear", per_hour=10, cap=50)
LINEAR_FULL = LatePolicy("linear", per_hour=10, cap=100)


def cell(source: str, grade_id: str | None = None, **extra: object) -> dict:
    meta = {"nbgrader": {"grade_id": grade_id, "grade": True}} if grade_id else {}
    return {"cell_type": "code", "metadata": meta, "source": source, "outputs": [], **extra}


SOURCE = {
    "cells": [
        cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "ans"),
        cell(
            "# visible\nassert f(1) == 2\n### BEGIN HIDDEN TESTS\n# edge cases\n"
            "assert f(0) == 0\nassert f(-3) == -6\n### END HIDDEN TESTS",
            "test-f",
        ),
        cell("assert f(2) == 4\n## begin hidden tests\nassert f(10) == 20", "test-g"),
    ]
}
STUDENT = {
    "cells": [
        cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()", "ans"),
        cell("# visible\nassert f(1) == 2\n", "test-f"),
        cell("assert f(2) == 4\n", "test-g"),
    ],
    "metadata": {},
}


def files(nb: dict, **more: bytes) -> dict[str, bytes]:
    return {"check.ipynb": json.dumps(nb).encode(), **more}


# --- hidden tests and leaks ---------------------------------------------------------------------


def test_hidden_tests_of_a_source_lenient_markers_and_a_missing_end() -> None:
    found = hidden_tests("check.ipynb", SOURCE)
    assert [(h.cell, h.lines) for h in found] == [
        ("cell 1 'test-f'", ("assert f(0) == 0", "assert f(-3) == -6")),  # comments left out
        ("cell 2 'test-g'", ("assert f(10) == 20",)),  # lower case, no end: to the cell's end
    ]
    assert hidden_tests("x.ipynb", STUDENT) == []


def test_a_clean_student_version_has_no_leaks() -> None:
    assert student_version_leaks({"check.ipynb": SOURCE}, files(STUDENT)) == []


@pytest.mark.parametrize(
    ("index", "source", "what"),
    [
        (0, "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n", "marker '### BEGIN SOLUTION'"),
        (0, "def f(x):\n    return 2 * x\n    # end solution", "marker '# end solution'"),
        (1, "assert f(1) == 2\n###BEGIN HIDDEN TEST", "marker '###BEGIN HIDDEN TEST'"),
        # the hidden test's text without its markers, re-indented
        (1, "assert f(1) == 2\n  assert f(0) == 0\n\n  assert f(-3) == -6", "hidden test of"),
    ],
)
def test_markers_or_hidden_test_text_in_a_cell_are_leaks(
    index: int, source: str, what: str
) -> None:
    doctored = json.loads(json.dumps(STUDENT))
    doctored["cells"][index]["source"] = source
    (leak,) = student_version_leaks({"check.ipynb": SOURCE}, files(doctored))
    assert leak.path == "check.ipynb"
    assert leak.cell == ("cell 0 'ans'" if index == 0 else "cell 1 'test-f'")
    assert what in leak.what
    assert str(leak).startswith(f"check.ipynb, {leak.cell}: ")


def test_one_hidden_line_is_a_leak_unless_the_source_shows_it_elsewhere_too() -> None:
    doctored = json.loads(json.dumps(STUDENT))
    doctored["cells"][2]["source"] = "assert f(2) == 4\nassert f(-3) == -6  \n"
    (leak,) = student_version_leaks({"check.ipynb": SOURCE}, files(doctored))
    assert leak.cell == "cell 2 'test-g'"
    assert (
        leak.what == "holds the hidden test of check.ipynb, cell 1 'test-f': 'assert f(-3) == -6'"
    )
    source = json.loads(json.dumps(SOURCE))
    source["cells"][2]["source"] = "assert f(2) == 4\nassert f(-3) == -6"  # shown there too
    assert student_version_leaks({"check.ipynb": source}, files(doctored)) == []


def test_leaks_in_outputs_metadata_other_files_and_broken_notebooks() -> None:
    doctored = json.loads(json.dumps(STUDENT))
    doctored["cells"][2]["outputs"] = [{"output_type": "stream", "text": ["assert f(10) == 20\n"]}]
    doctored["cells"][1]["metadata"]["note"] = "### END HIDDEN TESTS"
    doctored["metadata"]["x"] = "BEGIN SOLUTION"
    leaks = student_version_leaks(
        {"check.ipynb": SOURCE},
        files(doctored, **{"helper.py": b"### BEGIN SOLUTION\n", "data.csv": b"a,b\n"}),
    )
    assert sorted((leak.path, leak.cell) for leak in leaks) == [
        ("check.ipynb", "cell 1 'test-f' metadata"),
        ("check.ipynb", "cell 2 'test-g' outputs"),
        ("check.ipynb", "notebook metadata"),
        ("helper.py", "file"),
    ]
    (broken,) = student_version_leaks({}, {"x.ipynb": b"{ ### BEGIN SOLUTION"})
    assert broken.cell == "file (not JSON)"


# --- when feedback may show hidden tests --------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "score", "expected"),
    [
        (ZERO, 0.0, DUE),  # a late submission scores 0: nothing to gain after the deadline
        (ZERO, 7.0, DUE),
        (NONE, 7.0, None),  # late submissions score in full, for ever
        (NONE, 10.0, DUE),  # unless they already have everything
        (LINEAR, 9.0, DUE),  # one hour late already costs 10%
        (LINEAR, 6.0, DUE + timedelta(hours=3)),  # 4 started hours late cost 40%
        (LINEAR, 5.0, DUE + timedelta(hours=4)),
        (LINEAR, 4.0, None),  # at most 50% lost: 5 of 10 stays within reach for ever
        (LINEAR_FULL, 0.0, DUE + timedelta(hours=9)),  # 100% after 10 started hours
        (LatePolicy("linear", per_hour=0, cap=100), 3.0, None),
    ],
)
def test_last_gain(policy: LatePolicy, score: float, expected: datetime | None) -> None:
    got = last_gain(DUE, policy, score, 10.0)
    assert got == (expected.replace(tzinfo=None) if expected else None)


@given(
    per_hour=st.floats(0.5, 120),
    cap=st.floats(0, 100),
    score=st.floats(0, 10),
    kind=st.sampled_from(["none", "zero", "linear"]),
)
def test_last_gain_agrees_with_the_late_penalty(
    per_hour: float, cap: float, score: float, kind: str
) -> None:
    """After last_gain no submission scores more than `score`; at it (past the due) one does."""
    policy = LatePolicy(kind, per_hour, cap)  # type: ignore[arg-type]
    until = last_gain(NAIVE_DUE, policy, score, 10.0)

    def earns(at: datetime) -> float:
        return final_score(10.0, lateness(policy, NAIVE_DUE, at))

    if until is None:
        assert earns(NAIVE_DUE + timedelta(days=3650)) > score
        return
    assert earns(until + timedelta(microseconds=1)) <= score + 1e-6
    assert earns(until + timedelta(days=3650)) <= score + 1e-6
    if until > NAIVE_DUE:
        assert earns(until) > score


def test_held_while_the_deadline_has_not_passed() -> None:
    d = may_release_feedback(DUE - timedelta(seconds=1), NAIVE_DUE, None, ZERO, 10.0, 10.0)
    assert (d.release, d.why, d.until) == (False, "deadline", DUE)
    assert "the deadline 2026-11-29 09:00:00 UTC has not passed" in d.reason
    assert "마감" in d.reason and "after 2026-11-29 09:00:00 UTC" in d.reason
    assert not may_release_feedback(DUE, NAIVE_DUE, None, ZERO).release  # at the instant: on time
    d = may_release_feedback(DUE + timedelta(seconds=1), NAIVE_DUE, None, ZERO)
    assert (d.release, d.why, d.reason) == (True, "released", "")


def test_held_while_their_extension_has_not_passed() -> None:
    ext = DUE + timedelta(days=2)
    now = DUE + timedelta(days=1)
    d = may_release_feedback(now, NAIVE_DUE, ext.replace(tzinfo=None), ZERO)
    assert (d.release, d.why, d.until) == (False, "extension", ext)
    assert "their extension to 2026-12-01 09:00:00 UTC has not passed" in d.reason
    # an "extension" before the deadline changes nothing: the deadline holds them back
    early = may_release_feedback(now - timedelta(days=2), DUE, DUE - timedelta(days=1), ZERO)
    assert early.why == "deadline"
    assert may_release_feedback(ext + timedelta(seconds=1), DUE, ext, ZERO).release


def test_held_in_the_late_window_and_without_a_cut_off() -> None:
    d = may_release_feedback(DUE + timedelta(hours=2), DUE, None, LINEAR, 6.0, 10.0)
    assert (d.release, d.why, d.until) == (False, "late-window", DUE + timedelta(hours=3))
    assert "could still score more than their 6/10 (late policy linear 10%/h, cap 50%)" in d.reason
    assert may_release_feedback(
        DUE + timedelta(hours=3, seconds=1), DUE, None, LINEAR, 6, 10
    ).release
    d = may_release_feedback(DUE + timedelta(days=30), DUE, None, LINEAR, 4.0, 10.0)
    assert (d.release, d.why, d.until) == (False, "no-cutoff", None)
    assert "a late_penalty that reaches 100%" in d.reason
    d = may_release_feedback(DUE - timedelta(days=1), DUE, None, NONE, 4.0, 10.0)
    assert (d.why, d.until) == ("deadline", None)
    assert "accepted without end" in d.reason
    # a max score of 0 (unknown) counts the score as nothing
    assert not may_release_feedback(DUE + timedelta(days=1), DUE, None, NONE, 0.0, 0.0).release
