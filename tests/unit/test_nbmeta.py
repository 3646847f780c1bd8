"""core/nbmeta.py: nbgrader's metadata validation of source notebooks, the update, and the one-line
reason picked from a failed nbgrader run's log."""

from __future__ import annotations

import json
from pathlib import Path

from nbgrader import nbgraderformat  # type: ignore[import-untyped]

from sadari.hub.core import nbmeta
from sadari.hub.core.labcheck import graded_points

PS1 = Path(__file__).resolve().parents[1] / "course" / "nbgrader-course" / "source" / "ps1"


def _nb(*cells: dict[str, object]) -> bytes:
    return json.dumps(
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    ).encode()


def _cell(kind: str = "code", **meta: object) -> dict[str, object]:
    out: dict[str, object] = {"cell_type": kind, "metadata": {"nbgrader": meta}, "source": "x"}
    if kind == "code":
        out.update(execution_count=None, outputs=[])
    return out


def test_old_schema_needs_update() -> None:
    meta = nbmeta.inspect((PS1 / "Problem 1.ipynb").read_bytes(), "Problem 1.ipynb")
    assert meta is not None and meta.needs_update
    assert meta.versions == (1,) and meta.expected == nbgraderformat.SCHEMA_VERSION == 3
    assert meta.stale[:2] == ("squares", "test_data_exists") and not meta.errors
    (problem,) = meta.problems()
    assert problem.file == "Problem 1.ipynb"
    assert "schema version 1, this nbgrader expects 3 (5 cells: squares," in problem.message
    assert "sadari curriculum check --update" in problem.message


def test_upgrade_is_nbgrader_update() -> None:
    data = nbmeta.upgrade((PS1 / "problem2.ipynb").read_bytes())
    meta = nbmeta.inspect(data, "problem2.ipynb")
    assert meta is not None and not meta.needs_update and meta.problems() == []
    nb = json.loads(data)
    assert {
        c["metadata"]["nbgrader"]["schema_version"]
        for c in nb["cells"]
        if "nbgrader" in c["metadata"]
    } == {3}
    assert sum(graded_points(nb).values()) == 5  # 1 + 2 + the hand-graded answer's 2


def test_cell_errors_name_grade_id() -> None:
    data = _nb(
        _cell(
            "markdown",
            schema_version=3,
            grade=True,
            solution=False,
            locked=False,
            grade_id="why",
            points=1,
        ),
        _cell(schema_version=3, grade=True, solution=False, locked=True, grade_id="t1"),
    )
    meta = nbmeta.inspect(data, "a.ipynb")
    assert meta is not None and not meta.needs_update
    assert [(e.index, e.grade_id) for e in meta.errors] == [(0, "why"), (1, "t1")]
    first, second = meta.problems()
    assert first.field == "cells[0] (grade_id why)"
    assert "Markdown grade cell 'why' is not marked as a solution cell" in first.message
    assert "'t1' does not have points" in second.message


def test_errors_left_after_update_say_so() -> None:
    meta = nbmeta.inspect(
        _nb(_cell(schema_version=1, grade=True, solution=False, locked=True, grade_id="t")), "b"
    )
    assert meta is not None and meta.needs_update
    assert [p.message for p in meta.problems()][1].startswith(
        "nbgrader metadata (after `nbgrader update`)"
    )


def test_too_new_and_unreadable() -> None:
    meta = nbmeta.inspect(
        _nb(_cell(schema_version=9, grade=False, solution=True, locked=False, grade_id="s")), "c"
    )
    assert (
        meta is not None
        and meta.too_new == ("s",)
        and "newer nbgrader" in meta.problems()[0].message
    )
    assert nbmeta.inspect(b"\xff", "d") is None and nbmeta.inspect(b'{"nbformat": 3}', "e") is None


OLD_SCHEMA_LOG = """\
[GenerateAssignmentApp | WARNING] No nbgrader_config.py file found (rerun with --debug to see where)
[GenerateAssignmentApp | INFO] Copying /c/source/./ps1/checks.py -> /c/release/./ps1/checks.py
[GenerateAssignmentApp | INFO] Converting notebook /c/source/./ps1/Problem 1.ipynb
[GenerateAssignmentApp | WARNING] Removing failed assignment: /c/release/ps1
[GenerateAssignmentApp | ERROR] One or more notebooks in the assignment use an old version
    of the nbgrader metadata format. Please **back up your class files
    directory** and then update the metadata using:

    nbgrader update .

"""

TRACEBACK_LOG = """\
[GenerateAssignmentApp | INFO] Converting notebook /c/source/./ps1/problem2.ipynb
[GenerateAssignmentApp | ERROR] Traceback (most recent call last):
      File "checkcellmetadata.py", line 13, in preprocess
        MetadataValidator().validate_nb(nb)
    jsonschema.exceptions.ValidationError: Markdown grade cell 'explain' is not marked as a solution cell

[GenerateAssignmentApp | ERROR] Notebook failed to validate; the nbgrader metadata may be corrupted.
[GenerateAssignmentApp | ERROR] There was an error processing assignment: /c/source/./ps1
[GenerateAssignmentApp | ERROR] Traceback (most recent call last):
      File "base.py", line 390, in convert_notebooks
    jsonschema.exceptions.ValidationError: Notebook failed to validate; the nbgrader metadata may be \
corrupted.

[GenerateAssignmentApp | ERROR] Please see the the above traceback for details on the specific errors.
"""


def test_hint_of_old_schema() -> None:
    notebook, hint = nbmeta.nbgrader_hint(OLD_SCHEMA_LOG)
    assert notebook == "Problem 1.ipynb"
    assert hint.startswith(
        "One or more notebooks in the assignment use an old version of the nbgrader metadata "
        "format. Please **back up your class files directory** and then update the metadata "
        "using: nbgrader update ."
    )
    assert "`sadari curriculum check --update`" in hint and "\n" not in hint


def test_hint_of_tracebacks() -> None:
    notebook, hint = nbmeta.nbgrader_hint(TRACEBACK_LOG)
    assert notebook == "problem2.ipynb"
    assert hint == (
        "Markdown grade cell 'explain' is not marked as a solution cell; Notebook failed to "
        "validate; the nbgrader metadata may be corrupted."
    )


def test_hint_without_error_records() -> None:
    assert nbmeta.nbgrader_hint("Traceback (most recent call last):\n  x\nKeyError: 'a'\n") == (
        None,
        "'a'.",
    )
    assert nbmeta.nbgrader_hint("") == (None, "no output.")
    assert nbmeta.nbgrader_hint("just a line\nlast words") == (None, "last words.")
