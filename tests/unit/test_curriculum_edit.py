"""core/curriculum_edit.py: assessments added to the manifest's text, comments and layout kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from sadari.hub.core.curriculum import parse_curriculum
from sadari.hub.core.curriculum_edit import (
    EditError,
    NewAssessment,
    add_assessments,
    assessment_id,
    plan_weights,
)

MANIFEST = (Path(__file__).resolve().parents[2] / "labs" / "curriculum.yaml").read_text()
NEW = NewAssessment(
    "ps1", "문제 1", "Problem set: 1", 0.3, 9, "+14d 18:00", ("a/b/ps1/Problem 1.ipynb",)
)


def test_assessment_id() -> None:
    assert assessment_id("Problem Set_1") == "problem-set-1"
    assert assessment_id("ps1") == "ps1"
    with pytest.raises(EditError, match="--id"):
        assessment_id("ps 1!")


def test_plan_weights() -> None:
    assert plan_weights({}, [None, None, None], False) == ([0.3333, 0.3333, 0.3334], {}, None)
    assert plan_weights({"a": 1.0}, [0.3], True) == ([0.3], {"a": 0.7}, None)
    weights, rescaled, wrong = plan_weights({"a": 1.0}, [0.3], False)
    assert (weights, rescaled) == ([0.3], {}) and wrong is not None
    assert "add up to 1.3, not 1" in wrong and "--rescale" in wrong
    with pytest.raises(EditError, match="--weight"):
        plan_weights({"a": 1.0}, [None], False)
    with pytest.raises(EditError, match="nothing is left"):
        plan_weights({"a": 1.0}, [1.0], True)


def test_added_after_the_last_assessment_with_weights_rescaled() -> None:
    text = add_assessments(MANIFEST, "vision-ai", "advanced", [NEW], {"va-advanced-check": 0.7})
    added = (
        "          - id: ps1\n"
        '            title: {ko: 문제 1, en: "Problem set: 1"}\n'
        "            weight: 0.3\n"
        "            points: 9\n"
        "            due: +14d 18:00\n"
        "            notebooks: [a/b/ps1/Problem 1.ipynb]\n"
    )
    anchor = (
        "notebooks: [vision-ai/advanced/assessments/va-advanced-check/va-advanced-check.ipynb]\n"
    )
    assert anchor + added in text
    assert text.replace(added, "").replace("weight: 0.7", "weight: 1.0") == MANIFEST
    c = parse_curriculum(text)
    (old, new) = c.track("vision-ai").stages["advanced"].assessments
    assert (old.weight, new.weight, new.title.en) == (0.7, 0.3, "Problem set: 1")


SMALL = """\
tracks:
  - id: t
    stages:
      basics:
        notebooks: [t/a.ipynb]  # practice
      advanced:
        assessments:
          - id: x
            weight: 1.0
# the end
"""


def test_new_assessments_block_and_new_stage() -> None:
    two = NewAssessment("two", "t", "t", 1.0, 2, "+1d", ("x/1.ipynb", "x/2.ipynb"))
    out = add_assessments(SMALL, "t", "basics", [two])
    assert out.startswith(
        "tracks:\n  - id: t\n    stages:\n      basics:\n        notebooks: [t/a.ipynb]  # practice\n"
        "        assessments:\n          - id: two\n"
    )
    assert "            notebooks:\n              - x/1.ipynb\n              - x/2.ipynb\n" in out
    out = add_assessments(SMALL, "t", "project", [two])
    assert (
        "            weight: 1.0\n      project:\n        assessments:\n          - id: two\n"
        in out
    )
    assert out.endswith("# the end\n")
    with pytest.raises(EditError, match="no track"):
        add_assessments(SMALL, "nope", "basics", [two])
    with pytest.raises(EditError, match="flow style"):
        add_assessments(
            SMALL.replace("      advanced:\n", "      advanced: {}\n      x:\n"),
            "t",
            "advanced",
            [two],
        )
