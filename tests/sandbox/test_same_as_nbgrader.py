"""Ordinary submissions get the same scores from the sandbox as from stock `nbgrader autograde`,
both run in this test on the same submissions; and the sandbox writes what stock autograde writes
(autograded notebooks, gradebook entries), so nbgrader's own feedback runs on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sadari.graders.autograde import (
    Job,
    NbgraderSubprocess,
    SandboxAutograder,
    nbgrader,
    read_scores,
)
from sadari.graders.sandbox.local import LocalSandbox, available
from tests.sandbox.test_attacks import AID, ATTACKS, LIMITS

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(available() is not None, reason=f"local sandbox unavailable: {available()}"),
]
ORDINARY = ["correct", "partial", "wrong", "raising"]


def course(root: Path, students: list[str]) -> Path:
    (root / "source" / AID).mkdir(parents=True)
    shutil.copy(ATTACKS / "source" / f"{AID}.ipynb", root / "source" / AID)
    run = nbgrader(root, "generate_assignment", AID, "--force")
    assert run.returncode == 0, run.stderr
    for name in students:
        folder = root / "submitted" / name / AID
        folder.mkdir(parents=True)
        shutil.copy(ATTACKS / f"{name}.ipynb", folder / f"{AID}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 09:00:00.000000 UTC")
    return root


def test_same_scores_as_stock_nbgrader(tmp_path: Path) -> None:
    stock_course = course(tmp_path / "stock", ORDINARY)
    ours_course = course(tmp_path / "ours", ORDINARY + ["delete_test_cell", "invalid_json"])
    stock = NbgraderSubprocess()
    sandbox = SandboxAutograder(LocalSandbox(1, 0, LIMITS), LIMITS, record_nbgrader=True)
    try:
        for name in ORDINARY:
            ours = sandbox.grade(Job(ours_course, AID, name))
            theirs = stock.grade(Job(stock_course, AID, name))
            assert theirs.status == "graded", theirs.log
            assert {c.cell: c.score for c in ours.cells} == {
                c.cell: c.score for c in theirs.cells
            }, (name, ours.reason)
            # nbgrader's own reading of the outputs the sandbox recorded agrees with the trusted
            # scores: nothing had to be corrected
            assert ours.log == "", ours.log
            # the gradebook holds the same, read the same way as after stock autograde
            assert read_scores(ours_course, AID, name) == [
                c.__class__(c.notebook, c.cell, c.score, c.max_score, c.kind) for c in ours.cells
            ]
        # a deleted test cell: nbgrader cannot see it, the trusted zero stands
        deleted = sandbox.grade(Job(ours_course, AID, "delete_test_cell"))
        assert "the trusted score is 0.0" in deleted.log
        assert {c.cell: c.score for c in read_scores(ours_course, AID, "delete_test_cell")} == {
            c.cell: c.score for c in deleted.cells
        }
        # an unreadable notebook scores 0 in the gradebook too, and leaves no autograded folder
        rejected = sandbox.grade(Job(ours_course, AID, "invalid_json"))
        assert rejected.status == "rejected"
        assert {c.score for c in read_scores(ours_course, AID, "invalid_json")} == {0.0}
        assert not (ours_course / "autograded" / "invalid_json" / AID).exists()
    finally:
        sandbox.close()

    # nbgrader's own feedback runs on what the sandbox wrote, and shows each failed test's error
    run = nbgrader(ours_course, "generate_feedback", AID, "--force")
    assert run.returncode == 0, run.stderr
    for name in ORDINARY:
        autograded = ours_course / "autograded" / name / AID / f"{AID}.ipynb"
        cells = json.loads(autograded.read_text())["cells"]
        errors = [
            o["ename"] for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"
        ]
        assert bool(errors) == (name != "correct"), (name, errors)
        html = (ours_course / "feedback" / name / AID / f"{AID}.html").read_text()
        assert all(e in html for e in errors), (name, errors)
