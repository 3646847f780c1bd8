"""Writes tests/course/nbgrader-course: an ordinary nbgrader course as instructors bring it.

One problem set (`ps1`) of two notebooks, one with a space in its name; a `data/` folder beside
them (`.npy`, `.npz`, `.csv`); a helper module `checks.py` the tests import; nbgrader cell metadata
of the old schema (version 1, as nbgrader 0.5 wrote it, before `nbgrader update`); a hand-graded
written answer. Run it after changing the course (the files are committed):

    python -m tests.course.make_course
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).with_name("nbgrader-course")
PS = ROOT / "source" / "ps1"


def cell(kind: str, source: str, **nbgrader: object) -> dict[str, object]:
    meta = {"nbgrader": {"schema_version": 1, "locked": False, "grade": False, **nbgrader}}
    out: dict[str, object] = {
        "cell_type": kind,
        "metadata": meta if nbgrader else {},
        "source": source,
    }
    if kind == "code":
        out.update(execution_count=None, outputs=[])
    return out


def solution(grade_id: str, source: str) -> dict[str, object]:
    return cell("code", source, grade_id=grade_id, solution=True)


def test(grade_id: str, points: float, source: str) -> dict[str, object]:
    return cell(
        "code", source, grade_id=grade_id, grade=True, points=points, locked=True, solution=False
    )


def notebook(cells: list[dict[str, object]]) -> str:
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


PROBLEM1 = [
    cell("markdown", "# Problem 1: arrays from files\n\nThe data is in `data/`."),
    solution(
        "squares",
        "import numpy as np\n\n\ndef squares(values):\n    ### BEGIN SOLUTION\n"
        "    return np.asarray(values) ** 2\n    ### END SOLUTION",
    ),
    test("test_data_exists", 0.5, 'import os\n\nassert os.path.exists("data/values.npy")'),
    test(
        "test_squares",
        2,
        'from checks import close\n\nvalues = np.load("data/values.npy")\n'
        "assert close(squares(values), values * values)",
    ),
    solution(
        "column_mean",
        "def column_mean(path):\n    ### BEGIN SOLUTION\n"
        '    return np.loadtxt(path, delimiter=",", skiprows=1)[:, 1].mean()\n'
        "    ### END SOLUTION",
    ),
    test(
        "test_column_mean",
        1.5,
        'from checks import close\n\nassert close(column_mean("data/table.csv"), 2.5)',
    ),
]

PROBLEM2 = [
    cell("markdown", "# Problem 2: an archive of arrays"),
    solution(
        "total",
        "import numpy as np\n\n\ndef total(path):\n    ### BEGIN SOLUTION\n"
        '    with np.load(path) as z:\n        return float(z["a"].sum() + z["b"].sum())\n'
        "    ### END SOLUTION",
    ),
    test("test_total_type", 1, 'assert isinstance(total("data/arrays.npz"), float)'),
    test(
        "test_total",
        2,
        'from checks import close\n\nassert close(total("data/arrays.npz"), 21.0)',
    ),
    cell(
        "markdown",
        "Explain in two sentences why the archive is read with a `with` block.",
    ),
    cell(
        "markdown",
        "The `with` block closes the archive file when the block ends, even after an error; "
        "an open `NpzFile` would otherwise keep the file handle until it is collected.",
        grade_id="explain",
        grade=True,
        solution=True,
        points=2,
    ),
]

CHECKS = '''"""Helpers the tests of ps1 import."""

import numpy as np


def close(a, b, tol=1e-9):
    """The two arrays (or numbers) are equal within `tol`."""
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=tol))
'''


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def main() -> None:
    (PS / "data").mkdir(parents=True, exist_ok=True)
    (PS / "Problem 1.ipynb").write_text(notebook(PROBLEM1), encoding="utf-8")
    (PS / "problem2.ipynb").write_text(notebook(PROBLEM2), encoding="utf-8")
    (PS / "checks.py").write_text(CHECKS, encoding="utf-8")
    (PS / "data" / "values.npy").write_bytes(npy(np.arange(1.0, 6.0)))
    (PS / "data" / "arrays.npz").write_bytes(
        npz(a=np.array([1.0, 2.0, 3.0]), b=np.array([4.0, 5.0, 6.0]))
    )
    (PS / "data" / "table.csv").write_text(
        "id,value\n1,1.0\n2,2.0\n3,3.0\n4,4.0\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
