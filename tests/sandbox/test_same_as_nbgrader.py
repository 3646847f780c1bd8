"""Ordinary submissions get the same scores from the sandbox as from stock `nbgrader autograde`,
both run in this test on the same course directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sadari.graders.autograde import Job, NbgraderSubprocess, SandboxAutograder, nbgrader
from sadari.graders.sandbox.local import LocalSandbox, available
from tests.sandbox.test_attacks import AID, ATTACKS, LIMITS

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(available() is not None, reason=f"local sandbox unavailable: {available()}"),
]
ORDINARY = ["correct", "partial", "wrong", "raising"]


def test_same_scores_as_stock_nbgrader(tmp_path: Path) -> None:
    (tmp_path / "source" / AID).mkdir(parents=True)
    shutil.copy(ATTACKS / "source" / f"{AID}.ipynb", tmp_path / "source" / AID)
    run = nbgrader(tmp_path, "generate_assignment", AID, "--force")
    assert run.returncode == 0, run.stderr
    for name in ORDINARY:
        folder = tmp_path / "submitted" / name / AID
        folder.mkdir(parents=True)
        shutil.copy(ATTACKS / f"{name}.ipynb", folder / f"{AID}.ipynb")
    stock, sandbox = NbgraderSubprocess(), SandboxAutograder(LocalSandbox(1, 0, LIMITS), LIMITS)
    try:
        for name in ORDINARY:
            ours = sandbox.grade(Job(tmp_path, AID, name))
            theirs = stock.grade(Job(tmp_path, AID, name))
            assert theirs.status == "graded", theirs.log
            assert {c.cell: c.score for c in ours.cells} == {c.cell: c.score for c in theirs.cells}
    finally:
        sandbox.close()
