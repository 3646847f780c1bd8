"""What releasing an assessment's feedback would do for each trainee, decided before anything is
released (the board's preview) and by the release itself, so the two never disagree.

Pure: the facts of one trainee's latest submission in, one category out (`place`), in this order
of precedence:

- `no_submission`: nothing submitted;
- `waiting`: a grading job of the submission is queued or running (a regrade, or a grading not
  finished): its result is about to change, so its feedback waits for it;
- `not_graded`: submitted, no result and nothing queued (collect and autograde first);
- `failed`: the grading failed: there is nothing to show;
- `held`: the feedback shows hidden tests and the trainee could still gain by submitting again
  (core/feedback.py `may_release_feedback` said no);
- `manual`: released, though cells still wait for manual grading (their points show as none);
  release again once they are graded;
- `release`: released.

Feedback released earlier stays with the trainee in every category.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Category = Literal["release", "manual", "held", "waiting", "not_graded", "failed", "no_submission"]

#: the categories in the order the preview shows them
CATEGORIES: tuple[Category, ...] = (
    "release",
    "manual",
    "held",
    "waiting",
    "not_graded",
    "failed",
    "no_submission",
)
#: the categories whose feedback is released
RELEASED: frozenset[Category] = frozenset({"release", "manual"})
#: where a category's trainees are listed in the feedback report (hub/assessments.py `feedback`);
#: `manual` ones are listed under `released` as well
REPORT_KEYS: dict[Category, str] = {
    "release": "released",
    "manual": "manual",
    "held": "held",
    "waiting": "waiting",
    "not_graded": "not_graded",
    "failed": "failed",
    "no_submission": "no_submission",
}
BUSY = frozenset({"queued", "running"})


@dataclass(frozen=True)
class Standing:
    """What is known of one trainee's latest submission of the assessment.

    `result`: its result's status (None: no result); `grading`: the status of its grading job
    (queued, running, done, failed; None: never queued); `pending_manual`: how many cells wait
    for manual grading; `reveals`: its feedback would show hidden tests."""

    submitted: bool
    result: str | None = None
    grading: str | None = None
    pending_manual: int = 0
    reveals: bool = False


def left_out(st: Standing) -> Category | None:
    """The category of a trainee whose feedback is left out whatever the hidden-test rule says
    (no submission, a grading queued or running, no result, a failed grading), else None."""
    if not st.submitted:
        return "no_submission"
    if st.grading in BUSY:
        return "waiting"
    if st.result is None:
        return "not_graded"
    if st.result == "failed":
        return "failed"
    return None


def asks_hold(st: Standing) -> bool:
    """Whether the hidden-test rule (`may_release_feedback`) must be asked about this trainee:
    their feedback would go out and shows hidden tests."""
    return st.reveals and left_out(st) is None


def place(st: Standing, held: bool = False) -> Category:
    """The category of one trainee (see the module's docstring); `held`: the hidden-test rule
    refused their feedback (only looked at when `asks_hold`)."""
    out = left_out(st)
    if out is not None:
        return out
    if st.reveals and held:
        return "held"
    return "manual" if st.pending_manual else "release"


def entries(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trainees of a feedback report (hub/assessments.py `feedback`), each once, with its
    `category`, in the order of CATEGORIES then as listed."""
    manual = {(m["cohort"], m["username"]) for m in report.get("manual", [])}
    out: list[dict[str, Any]] = []
    for category in CATEGORIES:
        for item in report.get(REPORT_KEYS[category], []):
            key = (item["cohort"], item["username"])
            if category == "release" and key in manual:
                continue  # listed under manual
            out.append({**item, "category": category})
    return out


def counts(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many trainees are in each category (every category, zero included)."""
    n: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    for item in items:
        n[item["category"]] += 1
    return n
