"""The preview of releasing feedback: each trainee's category, in its order of precedence, with
the hidden-test rule's own decisions (core/feedback.py `may_release_feedback`), and the report
flattened and counted as the board shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sadari.hub.core.deadlines import LatePolicy
from sadari.hub.core.feedback import may_release_feedback
from sadari.hub.core.feedback_preview import (
    CATEGORIES,
    RELEASED,
    Standing,
    asks_hold,
    counts,
    entries,
    left_out,
    place,
)

DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ZERO = LatePolicy("zero")
GRADED = Standing(submitted=True, result="graded", grading="done")


@pytest.mark.parametrize(
    ("standing", "category"),
    [
        (Standing(submitted=False), "no_submission"),
        (Standing(submitted=True), "not_graded"),
        (Standing(submitted=True, grading="queued"), "waiting"),  # queued, never graded
        (Standing(submitted=True, result="graded", grading="queued"), "waiting"),  # a regrade
        (Standing(submitted=True, result="failed", grading="running"), "waiting"),
        (Standing(submitted=True, result="failed", grading="failed"), "failed"),
        (Standing(submitted=True, result="graded", grading="done"), "release"),
        (Standing(submitted=True, result="timed out", grading="done"), "release"),
        (Standing(submitted=True, result="needs-manual", pending_manual=2), "manual"),
        (Standing(submitted=True, result="graded", grading=None), "release"),  # graded by the CLI
    ],
)
def test_each_trainee_in_one_category(standing: Standing, category: str) -> None:
    assert place(standing) == category
    assert (category in RELEASED) == (left_out(standing) is None)


def test_the_hidden_test_rule_is_asked_only_about_feedback_that_would_go_out() -> None:
    reveals = Standing(submitted=True, result="graded", reveals=True)
    assert asks_hold(reveals)
    assert not asks_hold(GRADED)  # shows no hidden test: nothing to ask
    for out in (
        Standing(submitted=True, result="graded", grading="queued", reveals=True),
        Standing(submitted=True, result="failed", reveals=True),
        Standing(submitted=True, reveals=True),
    ):
        assert not asks_hold(out)
        assert place(out, held=True) == left_out(out)  # left out whatever the rule says


def test_held_while_they_can_still_resubmit_and_gain_then_released() -> None:
    st = Standing(submitted=True, result="graded", reveals=True)
    before = may_release_feedback(DUE - timedelta(hours=1), DUE, None, ZERO, 4.0, 10.0)
    assert place(st, held=not before.release) == "held"
    extended = may_release_feedback(
        DUE + timedelta(hours=1), DUE, DUE + timedelta(days=1), ZERO, 4.0, 10.0
    )
    assert (extended.why, place(st, held=not extended.release)) == ("extension", "held")
    after = may_release_feedback(DUE + timedelta(seconds=1), DUE, None, ZERO, 4.0, 10.0)
    assert place(st, held=not after.release) == "release"
    manual = Standing(submitted=True, result="needs-manual", pending_manual=1, reveals=True)
    assert place(manual, held=not after.release) == "manual"
    assert place(manual, held=not before.release) == "held"  # held wins over manual
    # feedback without hidden tests is never held, whatever the rule would say
    assert place(GRADED, held=True) == "release"


def test_the_report_flattened_each_trainee_once_in_the_order_shown() -> None:
    who = lambda user, sid: {"cohort": "c", "username": user, "submission": sid}  # noqa: E731
    report = {
        "released": [who("a", 1), who("m", 2)],
        "manual": [who("m", 2) | {"pending_manual": ["nb:memo"]}],
        "held": [who("h", 3) | {"why": "deadline", "until": None}],
        "waiting": [who("w", 4) | {"grading": "queued"}],
        "not_graded": [who("n", 5)],
        "failed": [who("f", 6) | {"reason": "boom"}],
        "no_submission": [who("<script>x</script>", None)],
        "hidden_tests": ["c: nb, cell 3"],
    }
    flat = entries(report)
    assert [(t["username"], t["category"]) for t in flat] == [
        ("a", "release"),
        ("m", "manual"),
        ("h", "held"),
        ("w", "waiting"),
        ("n", "not_graded"),
        ("f", "failed"),
        ("<script>x</script>", "no_submission"),  # data: the pages escape it
    ]
    assert flat[1]["pending_manual"] == ["nb:memo"]
    assert counts(flat) == dict.fromkeys(CATEGORIES, 1)
    assert counts([]) == dict.fromkeys(CATEGORIES, 0)
