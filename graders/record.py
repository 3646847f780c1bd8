"""Write what stock `nbgrader autograde` writes — the autograded notebooks and the course gradebook
entries — from the sandbox's trusted execution records, so formgrader (manual grading) and
`nbgrader generate_feedback` work unchanged on sandboxed grading.

nbgrader's own preprocessors do the work: the submission is sanitised as `autograde` does it
(ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells); in place of
nbgrader's Execute, each cell gets the outputs the trusted side recorded when it ran in the sandbox
(an error output where the cell failed, timed out, killed its kernel, was never reached, or where the
tamper probe before or after a test failed); then LimitOutput and SaveAutoGrades. A test cell's
outputs, like its stored log (`cell_log`), lead with the trusted verdict — "passed", "failed:
AssertionError: …", "failed: tampering detected — …", "timed out", "not run: …" — and only then
show what the submission printed, so nothing it prints ("All tests passed!") reads as the grader's
word. The scores that stand are
the trusted ones (graders/plan.py): where nbgrader's reading of the outputs differs — a deleted test
cell, which nbgrader cannot see — the gradebook is set to the trusted score and the difference is
logged. Late penalties are sadari's, not nbgrader's.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import CellScore
from .plan import Plan
from .sandbox.base import CellRun, WorkFile, check_work_path

# nbgrader's own gradebook code makes SQLAlchemy warn while it creates a submission (stock
# autograde does the same); the warning says nothing about our data
warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session")

# nbgrader's gradebook is one SQLite file per course: one writer at a time in this process
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def share_gradebook_engines() -> None:
    """Make nbgrader's `Gradebook` reuse one SQLAlchemy engine per database URL in this process.

    A submission's recording opens the course gradebook four or five times (here, in nbgrader's
    OverwriteCells and SaveAutoGrades, and when the scores are read back), and each `Gradebook`
    makes its own engine, so SQLAlchemy compiled every query again each time: about a third of
    the trusted side's CPU per submission. Sharing the engine keeps its compiled statements;
    nothing else changes: `Gradebook.close` still ends the session and returns the engine's
    connections (`dispose`; a connection another thread still holds stays usable until it is
    returned), and each `Gradebook` checks its tables and course as before."""
    import nbgrader.api

    if getattr(nbgrader.api.create_engine, "sadari_shared", False):
        return
    make = nbgrader.api.create_engine

    @functools.lru_cache(maxsize=64)
    def engine(url: str, options: tuple[tuple[str, Any], ...]) -> Any:
        return make(url, **dict(options))

    def create_engine(url: Any, **options: Any) -> Any:
        # nbgrader passes a string and two flags; anything else gets an engine of its own
        if isinstance(url, str):
            try:
                return engine(url, tuple(sorted(options.items())))
            except TypeError:  # an option that cannot be a cache key
                pass
        return make(url, **options)

    create_engine.sadari_shared = True  # type: ignore[attr-defined]
    nbgrader.api.create_engine = create_engine


NOT_RUN = {
    "timeout": ("TimeoutError", "time limit exceeded / 시간 초과"),
    "dead": ("KernelDied", "the kernel died / 커널이 종료됨"),
    "not-run": ("NotRun", "not reached: an earlier cell stopped the run / 실행되지 않음"),
}


@dataclass
class Notebook:
    """One notebook of a graded submission: what was run and what it scored. `submission` is
    None when the notebook was missing or could not be read (it then scores 0, as in nbgrader)."""

    name: str
    submission: dict[str, Any] | None
    plan: Plan | None = None
    runs: list[CellRun] = field(default_factory=list)
    scores: list[CellScore] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # grade_id -> why it scored 0


def _lock(course: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(course.resolve(), threading.Lock())


def verdict(run: CellRun) -> str:
    """The trusted verdict on a test cell from its execution record (the execution loop has
    already failed a test whose tamper probe, before or after it, did not pass)."""
    if run.extra.get("verdict") == "tampering":
        return f"failed: {run.evalue}"
    if run.status == "ok" and run.alive_after:
        return "passed"
    if run.status == "error":
        return f"failed: {run.ename}: {run.evalue}" if run.evalue else f"failed: {run.ename}"
    if run.status == "timeout":
        return "timed out"
    if run.status == "not-run":
        after = run.extra.get("after")
        return "not run: " + (
            "an earlier cell ran out of time" if after == "timeout" else "the kernel died"
        )
    return "failed: the kernel died"


def cell_log(run: CellRun, limit: int = 2000) -> str:
    """A test cell's execution log as stored in sadari's gradebook: the trusted verdict first,
    then what the cell printed, truncated to `limit` characters in all."""
    head = verdict(run)
    head = head if len(head) <= 600 else head[:580] + " [… truncated]"
    text = run.output.strip("\n")
    if run.output_dropped:
        text += f"\n[… {run.output_dropped} characters of output dropped]"
    if not text:
        return head
    text = f"{head}\n--- the cell's own output ---\n{text}"
    return text if len(text) <= limit else text[: limit - 20] + "\n[… truncated]"


def outputs(run: CellRun, failed: str | None = None, test: bool = False) -> list[dict[str, Any]]:
    """nbformat outputs for one recorded run; `failed` adds an error (a test the trusted side did
    not credit although the cell itself raised nothing, e.g. a failed tamper probe). A test cell's
    outputs start with the verdict: its error, or a "passed" line."""
    out: list[dict[str, Any]] = []
    text = run.output
    if run.output_dropped:
        text += f"\n[… {run.output_dropped} characters of output dropped by the grader]\n"
    error: tuple[str, str] | None = None
    if run.status == "error":
        error = (run.ename or "Error", run.evalue)
    elif run.status in NOT_RUN:
        error = NOT_RUN[run.status]
    elif failed:
        error = ("SadariGradingError", failed)
    if error:
        out.append(
            {
                "output_type": "error",
                "ename": error[0],
                "evalue": error[1],
                "traceback": [f"{error[0]}: {error[1]}"],
            }
        )
    elif test:
        out.append({"output_type": "stream", "name": "stdout", "text": "[sadari] passed / 통과\n"})
    if text:
        if test:
            text = "[sadari] the cell's own output / 셀이 출력한 내용:\n" + text
        out.append({"output_type": "stream", "name": "stdout", "text": text})
    return out


def _inject(nb: Any, notebook: Notebook) -> None:
    """Give each submission cell that ran the outputs the trusted side recorded."""
    import nbformat

    assert notebook.plan is not None
    earned = {c.cell: c.score for c in notebook.scores if c.kind == "auto"}
    plan = notebook.plan
    for role, origin, run in zip(plan.roles, plan.origin, notebook.runs, strict=True):
        if origin is None or origin >= len(nb.cells) or nb.cells[origin].cell_type != "code":
            continue
        failed = None
        test = role.startswith("test:")
        if test and not earned.get(role[5:]):
            failed = notebook.reasons.get(role[5:], "not credited / 점수 없음")
        outs = outputs(run, failed, test=test)
        nb.cells[origin].outputs = [nbformat.from_dict(o) for o in outs]


def write(
    course: Path,
    assessment: str,
    student: str,
    notebooks: list[Notebook],
    timestamp: str | None = None,
    files: Sequence[WorkFile] = (),
) -> list[str]:
    """Write the autograded notebooks and gradebook entries of one submission, and its grading
    folder's other `files`; the notes of where nbgrader's own reading differed from the trusted
    scores (the trusted ones were kept)."""
    with _lock(course):
        return _write(course, assessment, student, notebooks, timestamp, files)


def _write(
    course: Path,
    assessment: str,
    student: str,
    notebooks: list[Notebook],
    timestamp: str | None,
    files: Sequence[WorkFile],
) -> list[str]:
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        if timestamp:
            gb.update_or_create_submission(assessment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(assessment, student)

    # the autograded folder: the grading folder's files (the submitted ones, the source's other
    # files over them), as stock autograde leaves it
    dest = course / "autograded" / student / assessment
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in files:
        target = dest / check_work_path(f.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.data)
    # the server's timestamp.txt too, as stock autograde copies it (generate_feedback reads it)
    stamp = course / "submitted" / student / assessment / "timestamp.txt"
    if stamp.is_file():
        shutil.copyfile(stamp, dest / "timestamp.txt")

    notes: list[str] = []
    for notebook in notebooks:
        resources = {
            "nbgrader": {
                "notebook": notebook.name,
                "assignment": assessment,
                "student": student,
                "db_url": db_url,
            }
        }
        if notebook.submission is not None and notebook.plan is not None:
            try:
                # reads() joins multi-line sources as nbgrader's preprocessors expect
                nb = nbformat.reads(json.dumps(notebook.submission), as_version=4)
                # stock autograde also checks the metadata here; nothing below changes metadata,
                # so the one check after SaveAutoGrades covers both (it is the costly step)
                for pp in (
                    ClearOutput(),
                    DeduplicateIds(),
                    OverwriteKernelspec(),
                    OverwriteCells(),
                ):
                    nb, resources = pp.preprocess(nb, resources)
                _inject(nb, notebook)
                for pp in (LimitOutput(), SaveAutoGrades(), CheckCellMetadata()):
                    nb, resources = pp.preprocess(nb, resources)
                nbformat.write(nb, str(dest / f"{notebook.name}.ipynb"))
            except Exception as e:  # nbgrader cannot read it: the trusted scores still stand
                notes.append(f"{notebook.name}: nbgrader could not process the notebook: {e}")
        with Gradebook(db_url) as gb:
            graded = gb.find_submission_notebook(notebook.name, assessment, student)
            trusted = {c.cell: c for c in notebook.scores}
            for grade in graded.grades:
                cell = trusted.get(grade.name)
                if notebook.submission is None or notebook.plan is None:
                    # missing or unreadable: zero, as nbgrader does for a missing notebook
                    grade.auto_score, grade.needs_manual_grade = 0, False
                elif cell is not None and cell.kind == "auto":
                    if grade.auto_score != cell.score:
                        notes.append(
                            f"{notebook.name}:{grade.name}: nbgrader read {grade.auto_score}, "
                            f"the trusted score is {cell.score}"
                        )
                        grade.auto_score = cell.score
                    grade.needs_manual_grade = grade.manual_score is not None
            gb.db.commit()
    if not any(dest.glob("*.ipynb")):
        # nothing nbgrader can show (every notebook missing or unreadable): no autograded folder,
        # so formgrader and generate_feedback pass this submission by instead of failing on it
        shutil.rmtree(dest, ignore_errors=True)
    return notes
