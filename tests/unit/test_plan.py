"""The grading plan and fail-closed scoring (pure: no kernel)."""

from __future__ import annotations

import json

import pytest

from sadari.graders.plan import parse_notebook, plan, score, why
from sadari.graders.sandbox.base import CellRun
from tests.support.hub import ROOT

SOURCE = json.loads((ROOT / "tests/attacks/source/attack-check.ipynb").read_text())


def student(**changes: str) -> dict:
    nb = json.loads(json.dumps(SOURCE))
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in changes:
            cell["source"] = changes[gid]
    return nb


def ok_runs(p, **overrides: CellRun) -> list[CellRun]:  # type: ignore[no-untyped-def]
    runs = []
    for i, role in enumerate(p.roles):
        run = overrides.get(role.replace(":", "_").replace("-", "_"))
        if run is None:
            gid = role.split(":", 1)[1] if role.startswith("probe:") else ""
            run = CellRun(i, "ok", output=p.nonces.get(gid, ""), alive_after=True)
        runs.append(run)
    return runs


def test_tests_come_from_the_source_and_submission_metadata_is_ignored() -> None:
    nb = student(**{"test-add": "pass"})
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "test-add":
            meta["points"] = 100
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {"nbgrader": {"grade": True, "grade_id": "bonus", "points": 50}},
            "source": "x = 1",
            "outputs": [],
        }
    )
    p = plan("attack-check", SOURCE, nb)
    test_add = p.cells[p.roles.index("test:test-add")]
    assert "assert add(2, 3) == 5" in test_add and "HIDDEN" in test_add
    assert [(g.grade_id, g.points) for g in p.graded] == [("test-add", 2.0), ("test-mean", 3.0)]
    assert p.cells[-1] == "x = 1" and p.roles[-1] == "code"  # an added cell just runs
    assert p.roles[0] == "setup"


def test_full_marks_only_when_probe_test_and_kernel_are_all_fine() -> None:
    p = plan("attack-check", SOURCE, student())
    assert [c.score for c in score(p, ok_runs(p))] == [2.0, 3.0]
    bad_probe = ok_runs(
        p,
        probe_test_add=CellRun(
            0, "error", ename="RuntimeError", evalue="tampering", alive_after=True
        ),
    )
    assert [c.score for c in score(p, bad_probe)] == [0.0, 3.0]
    assert "tampering" in why(p, bad_probe)["test-add"]
    no_nonce = ok_runs(p, probe_test_add=CellRun(0, "ok", output="forged", alive_after=True))
    assert [c.score for c in score(p, no_nonce)] == [0.0, 3.0]
    dead = ok_runs(p, test_test_mean=CellRun(0, "ok", alive_after=False))
    assert [c.score for c in score(p, dead)] == [2.0, 0.0]
    failed = ok_runs(p, test_test_add=CellRun(0, "error", ename="AssertionError", alive_after=True))
    assert [c.score for c in score(p, failed)] == [0.0, 3.0]
    assert why(p, failed)["test-add"].startswith("AssertionError")


def test_a_deleted_test_cell_scores_zero() -> None:
    nb = student()
    nb["cells"] = [
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "test-mean"
    ]
    p = plan("attack-check", SOURCE, nb)
    assert p.missing == ["test-mean"]
    assert [c.score for c in score(p, ok_runs(p))] == [2.0, 0.0]
    assert "deleted" in why(p, ok_runs(p))["test-mean"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b'{"nbformat": 3, "cells": []}', "nbformat 4"),
        (b"x" * 101, "at most 100"),
    ],
)
def test_unreadable_notebooks(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_notebook(data, max_bytes=100)
