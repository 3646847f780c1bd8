"""An ordinary nbgrader course (tests/course: data files, a helper module the tests import, a
notebook name with a space, old-schema metadata, a hand-graded answer) gets, in every sandbox
backend, exactly the per-cell scores stock `nbgrader autograde` gives the same submissions in the
same test: the grading folder holds what stock nbgrader's holds (graders/autograde.py
`grading_files`). The released files are the instructor's there, read-only: a submission that
brings its own copies or tries to replace them at run time gets nothing from it.

Backends as in tests/sandbox/test_attacks.py: `local`, `docker` (a real Docker engine) and
`kubernetes` (the mock API server that runs each Job's pod on the Docker engine).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sadari.graders.autograde import Job, NbgraderSubprocess, SandboxAutograder, nbgrader
from tests.sandbox.test_attacks import BACKENDS, FAKES, LIMITS, sandbox_for
from tests.support.hub import ROOT

COURSE = ROOT / "tests" / "course" / "nbgrader-course"
PS = "ps1"
NOTEBOOKS = ("Problem 1.ipynb", "problem2.ipynb")
STAMP = "2026-11-20 09:00:00.000000 UTC"

# What a trainee writes into the solution cells of the released notebooks (by grade_id)
PARTIAL = {
    "squares": "import numpy as np\n\n\ndef squares(values):\n    return np.asarray(values) ** 2",
    "column_mean": "def column_mean(path):\n    return 0.0",
}
WRONG = {
    "squares": "import numpy as np\n\n\ndef squares(values):\n    return np.asarray(values)",
    "column_mean": "def column_mean(path):\n    return 0.0",
    "total": "def total(path):\n    return 0",
}
# Tries to replace the released files while the notebook runs, so that a wrong `squares` (it
# returns zeros) would pass on zeros: every attempt must fail.
TAMPER = {
    "squares": """import os, shutil
import numpy as np

def squares(values):
    return np.zeros_like(np.asarray(values, dtype=float))

zeros = np.zeros(5).tobytes()
for attempt in (
    lambda: open("data/values.npy", "r+b").write(b"x"),
    lambda: os.remove("data/values.npy"),
    lambda: os.rename("data", "data-old"),
    lambda: os.chmod("data/values.npy", 0o666),
    lambda: shutil.rmtree("data"),
    lambda: open("checks.py", "w").write("def close(a, b, tol=0):\\n    return True\\n"),
    lambda: open("__pycache__/checks.cpython-311.pyc", "wb").write(b"forged"),
):
    try:
        attempt()
        print("REPLACED")
    except OSError as e:
        print("refused:", type(e).__name__)
os.makedirs("data", exist_ok=True)
try:
    np.save("data/values.npy", np.zeros(5))
except OSError as e:
    print("refused:", type(e).__name__)
"""
}


def _with(notebook: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    nb = json.loads(json.dumps(notebook))
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    return nb


def submissions(course: Path) -> dict[str, dict[str, bytes]]:
    """Each trainee's submitted folder (relative path -> bytes), as fetched and then worked on."""
    release = course / "release" / PS
    fetched = {
        str(p.relative_to(release)): p.read_bytes() for p in release.rglob("*") if p.is_file()
    }
    released = {n: json.loads(fetched[n]) for n in NOTEBOOKS}

    def answered(answers: dict[str, str]) -> dict[str, bytes]:
        return {n: json.dumps(_with(nb, answers)).encode() for n, nb in released.items()}

    solution = {n: (course / "source" / PS / n).read_bytes() for n in NOTEBOOKS}
    return {
        "solution": {**fetched, **solution},
        "empty": dict(fetched),
        "partial": {**fetched, **answered(PARTIAL)},
        # the trainee's own helper and data: nbgrader grades with the released ones
        "own-copies": {
            **fetched,
            **answered(WRONG),
            "checks.py": b"def close(a, b, tol=0):\n    return True\n",
            "data/table.csv": b"id,value\n1,0.0\n",
            "notes.txt": "제 풀이 메모".encode(),
        },
    }


def make_course(root: Path, subs: dict[str, dict[str, bytes]] | None = None) -> Path:
    """The course brought up to date (`nbgrader update`), generated, with `subs` submitted."""
    shutil.copytree(COURSE, root)
    for args in (("update", "source"), ("generate_assignment", PS, "--force")):
        run = nbgrader(root, *args)
        assert run.returncode == 0, run.stdout + run.stderr
    for student, files in (subs or {}).items():
        folder = root / "submitted" / student / PS
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        (folder / "timestamp.txt").write_text(STAMP)
    return root


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, bytes]], dict]:
    """The submissions and stock nbgrader's per-cell scores of each (graded once per module)."""
    subs = submissions(make_course(tmp_path_factory.mktemp("release") / "c"))
    course = make_course(tmp_path_factory.mktemp("stock") / "c", subs)
    grader = NbgraderSubprocess()
    scores = {}
    for student in subs:
        outcome = grader.grade(Job(course, PS, student))
        assert outcome.status == "graded", outcome.log
        scores[student] = {(c.notebook, c.cell): c.score for c in outcome.cells}
    return subs, scores


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    g = SandboxAutograder(sandbox_for(request.param), LIMITS, record_nbgrader=True)
    yield g
    g.close()
    if request.param in FAKES:
        FAKES.pop(request.param).close()


def test_same_per_cell_scores_as_stock_nbgrader(
    stock: tuple[dict[str, dict[str, bytes]], dict], sandbox: SandboxAutograder, tmp_path: Path
) -> None:
    subs, expected = stock
    # the figures the issue reported, from stock nbgrader in this very run
    assert sum(s or 0 for s in expected["solution"].values()) == 7.0  # + 2 hand-graded
    assert expected["solution"][("problem2", "explain")] is None  # waits for a manual grade
    assert sum(s or 0 for s in expected["empty"].values()) == 0.5  # the data file is there
    assert sum(s or 0 for s in expected["partial"].values()) == 2.5
    course = make_course(tmp_path / "c", subs)
    for student in subs:
        outcome = sandbox.grade(Job(course, PS, student))
        ours = {(c.notebook, c.cell): c.score for c in outcome.cells}
        assert ours == expected[student], (student, outcome.reason)
        assert outcome.status == "graded", outcome.reason
        # nbgrader's own reading of what the sandbox recorded agrees: nothing was corrected
        assert outcome.log == "", outcome.log
        # the autograded folder holds the grading folder: the released helper, not the trainee's
        autograded = course / "autograded" / student / PS
        assert (autograded / "checks.py").read_bytes() == (
            course / "source" / PS / "checks.py"
        ).read_bytes()
        assert (autograded / "data" / "values.npy").is_file()
    assert (course / "autograded" / "own-copies" / PS / "notes.txt").read_text() == "제 풀이 메모"


def test_released_files_cannot_be_replaced_while_grading(
    stock: tuple[dict[str, dict[str, bytes]], dict], sandbox: SandboxAutograder, tmp_path: Path
) -> None:
    subs, _ = stock
    released = {n: json.loads(subs["empty"][n]) for n in NOTEBOOKS}
    tamper = {n: json.dumps(_with(nb, TAMPER)).encode() for n, nb in released.items()}
    course = make_course(tmp_path / "c", {"tamper": {**subs["empty"], **tamper}})
    outcome = sandbox.grade(Job(course, PS, "tamper"))
    scores = {c.cell: c.score for c in outcome.cells}
    # zeros squared are zeros: had the trainee's data/values.npy been used, test_squares passed
    assert scores["test_squares"] == 0.0, outcome.reason
    assert scores["test_data_exists"] == 0.5
    assert "REPLACED" not in json.dumps(outcome.reason)


def test_a_trainee_module_named_like_an_installed_one_stays_out(
    stock: tuple[dict[str, dict[str, bytes]], dict], sandbox: SandboxAutograder, tmp_path: Path
) -> None:
    subs, expected = stock
    fake = b"def allclose(*a, **k):\n    return True\ndef asarray(x, dtype=None):\n    return x\n"
    course = make_course(tmp_path / "c", {"shadow": {**subs["empty"], "numpy.py": fake}})
    outcome = sandbox.grade(Job(course, PS, "shadow"))
    assert {(c.notebook, c.cell): c.score for c in outcome.cells} == expected["empty"]
    assert "numpy.py: not put in the grading folder" in outcome.log
