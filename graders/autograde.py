"""Autograding behind one interface: `Autograder.grade(job) -> Outcome`.

`NbgraderSubprocess` is the interim backend: nbgrader's own `autograde` in a subprocess per
submission, in a course directory that is only a working area for the run; the scores are read
back from that run's nbgrader gradebook and handed to the caller, who stores them in sadari's
gradebook of record. It is NOT a sandbox: the submission runs with the grader's permissions.
`SandboxAutograder` grades in single-use sandboxed kernels (graders/sandbox), scoring from the
execution records (graders/plan.py) and writing what stock autograde writes (graders/record.py).
The job, scores and outcome types and the protocol are in graders/base.py.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.machinery
import json
import os
import pkgutil
import posixpath
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import record
from .base import Autograder, CellScore, Job, Outcome
from .plan import parse_notebook, plan, score, why
from .sandbox.base import Limits, WorkFile

__all__ = [
    "Autograder",
    "CellScore",
    "Job",
    "NbgraderSubprocess",
    "Outcome",
    "SandboxAutograder",
    "grading_files",
    "nbgrader",
    "read_scores",
]

# nbgrader's CourseDirectory.ignore defaults: never copied into a grading folder
IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
# what the server writes beside a submission (not the trainee's)
SERVER_FILES = ("timestamp.txt", "submission_secret.txt")


def _files_under(root: Path) -> dict[str, Path]:
    """The regular files under `root` by relative path, nbgrader's ignore patterns left out
    (links are never followed)."""
    out: dict[str, Path] = {}
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in IGNORE):
            continue
        if path.is_file() and not path.is_symlink():
            out[rel.as_posix()] = path
    return out


@functools.cache
def importable_names() -> frozenset[str]:
    """Top-level modules the grading environment can import (the standard library and the
    installed packages): a file of the trainee's named like one would stand in for it."""
    here = Path.cwd().resolve()
    paths = [p for p in sys.path if p and Path(p).resolve() != here]
    names = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    names |= {m.name for m in pkgutil.iter_modules(paths)}
    return frozenset(names)


def _shadows(path: str, released: set[str]) -> bool:
    """A trainee file that Python would import instead of an installed or released module."""
    first, _, rest = path.partition("/")
    if rest:  # a package folder: only with an __init__ does it come before the installed one
        name, init = first, rest.startswith("__init__.")
        if not init:
            return False
    else:
        name = first.split(".", 1)[0]
        if not first.endswith(tuple(importlib.machinery.all_suffixes())):
            return False
    modules = {p.split("/", 1)[0].split(".", 1)[0] for p in released if p.endswith(".py")}
    return name in importable_names() or name in modules


def grading_files(
    source_dir: Path,
    submitted_dir: Path,
    exclude_overwriting: tuple[str, ...] = (),
) -> tuple[list[WorkFile], list[str]]:
    """The grading folder of one submission, as stock nbgrader's autograde builds it: the
    submission's files, then the assessment's own files (everything but the notebooks that
    `generate_assignment` copied from the source folder: data, helper modules) over them —
    read-only, except `exclude_overwriting`, where the trainee's copy counts. No notebook is among
    them (stock nbgrader copies none along: the graded ones' cells are sent to the kernel).
    Nothing of the hidden tests or solutions is there: they live only in the source notebooks.

    Returns the files and notes: a trainee file left out because Python would import it in
    place of an installed or released module (`numpy.py`), a released file kept as the trainee's.
    """
    released = {
        rel: path for rel, path in _files_under(source_dir).items() if not rel.endswith(".ipynb")
    }
    keep = {posixpath.normpath(p) for p in exclude_overwriting}
    files: dict[str, WorkFile] = {}
    notes: list[str] = []
    for rel, path in _files_under(submitted_dir).items():
        if rel.endswith(".ipynb") or rel in SERVER_FILES:
            continue  # as stock: notebooks are graded from their cells, never copied along
        if rel in released and rel not in keep:
            continue  # the instructor's copy is used
        if _shadows(rel, set(released)):
            notes.append(
                f"{rel}: not put in the grading folder: Python would import it in place of the "
                "module of that name / 같은 이름의 모듈을 가리므로 채점 폴더에 넣지 않았습니다"
            )
            continue
        files[rel] = WorkFile(rel, path.read_bytes(), readonly=False)
    for rel, path in released.items():
        if rel in keep and rel in files:
            continue  # the trainee's copy counts
        files[rel] = WorkFile(rel, path.read_bytes(), readonly=True)
    # a trainee's file where the release has a folder of that name, or the reverse: left out
    ours = {f.path for f in files.values() if f.readonly}
    for f in [f for f in files.values() if not f.readonly]:
        if any(r.startswith(f.path + "/") or f.path.startswith(r + "/") for r in ours):
            del files[f.path]
            notes.append(
                f"{f.path}: not put in the grading folder: it clashes with a released file"
            )
    return sorted(files.values(), key=lambda f: f.path), notes


def nbgrader(
    course_dir: Path, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `nbgrader ARGS` for a course directory with this environment's executables."""
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [str(bindir / "nbgrader"), *args, f"--CourseDirectory.root={course_dir}"],
        cwd=course_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_scores(course_dir: Path, assessment: str, student: str) -> list[CellScore]:
    """The grades of one submission from the course's nbgrader gradebook."""
    from nbgrader.api import Gradebook

    cells = []
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        submission = gb.find_submission(assessment, student)
        for nb in submission.notebooks:
            answers = {c.name for c in nb.notebook.solution_cells}
            for g in nb.grades:
                # a written answer stays manual even when nbgrader scored it 0 for being unanswered
                manual = g.manual_score is not None or g.needs_manual_grade or g.name in answers
                waiting = g.needs_manual_grade and g.manual_score is None
                score = None if waiting else float(g.score)
                cells.append(
                    CellScore(
                        nb.name, g.name, score, float(g.max_score), "manual" if manual else "auto"
                    )
                )
    return cells


class NbgraderSubprocess:
    """`nbgrader autograde` for one student at a time, in a subprocess (no sandbox)."""

    def __init__(self, timeout: float = 600, cell_timeout: int = 60):
        self.timeout = timeout
        self.cell_timeout = cell_timeout

    def close(self) -> None:
        """Nothing to release."""

    def grade(self, job: Job) -> Outcome:
        """Run nbgrader's autograde on the submission and read the scores back."""
        t0 = time.monotonic()
        keep = []
        if job.exclude_overwriting:
            overwrite = {job.assessment: list(job.exclude_overwriting)}
            keep.append(f"--Autograde.exclude_overwriting={json.dumps(overwrite)}")
        try:
            run = nbgrader(
                job.course_dir,
                "autograde",
                job.assessment,
                "--student",
                job.student,
                "--force",
                f"--ExecutePreprocessor.timeout={self.cell_timeout}",
                *keep,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired:
            return Outcome(
                "failed",
                reason=f"grading took longer than {self.timeout:.0f}s",
                seconds=time.monotonic() - t0,
            )
        log = (run.stdout + run.stderr)[-20000:]
        if run.returncode != 0:
            return Outcome(
                "failed", reason="nbgrader autograde failed", log=log, seconds=time.monotonic() - t0
            )
        cells = read_scores(job.course_dir, job.assessment, job.student)
        return Outcome("graded", cells, log=log, seconds=time.monotonic() - t0)


class SandboxAutograder:
    """Grades in single-use sandboxed kernels (graders/sandbox), scoring fail-closed from the
    execution records (graders/plan.py). The source notebooks come from the course's `source/`
    folder (copied from labs/ at release), never from the submission.

    With `record_nbgrader` (the course has a gradebook from `nbgrader generate_assignment`), the
    autograded notebooks and gradebook entries that formgrader and nbgrader's feedback read are
    written too (graders/record.py), and the scores are read back from that gradebook."""

    def __init__(
        self,
        backend: Any,
        limits: Any = None,
        max_bytes: int = 20 * 1024 * 1024,
        record_nbgrader: bool = False,
    ):
        self.backend = backend
        self.limits = limits
        self.max_bytes = max_bytes
        self.record_nbgrader = record_nbgrader
        if record_nbgrader:
            record.share_gradebook_engines()

    def close(self) -> None:
        """Stop the kernels the backend started ahead."""
        self.backend.close()

    def grade(self, job: Job) -> Outcome:
        """Run and score every notebook of the assessment for one submission."""
        t0 = time.monotonic()
        source_dir = job.course_dir / "source" / job.assessment
        submitted = job.course_dir / "submitted" / job.student / job.assessment
        cells: list[CellScore] = []
        statuses: set[str] = set()
        reasons: list[str] = []
        notebooks: list[record.Notebook] = []
        exec_seconds = 0.0
        files, notes = grading_files(source_dir, submitted, job.exclude_overwriting)
        size = sum(len(f.data) for f in files)
        limits = self.limits or Limits()
        if size > limits.scratch_bytes // 2:
            return Outcome(
                "failed",
                reason=(
                    f"the grading folder's files are {size} bytes, more than half of the "
                    f"{limits.scratch_bytes} bytes a grading kernel's working folder holds "
                    "(the assessment's data files, or the submission's own); nothing was graded"
                ),
                seconds=time.monotonic() - t0,
            )
        for source_path in sorted(source_dir.glob("*.ipynb")):
            name = source_path.stem
            source = json.loads(source_path.read_text(encoding="utf-8"))
            sub_path = submitted / source_path.name
            try:
                if not sub_path.is_file():
                    raise ValueError(f"{source_path.name} was not submitted")
                submission = parse_notebook(sub_path.read_bytes(), self.max_bytes)
            except ValueError as e:
                empty = plan(name, source, {"cells": []})
                scores = [
                    CellScore(
                        name,
                        g.grade_id,
                        None if g.kind == "manual" else 0.0,
                        g.points,
                        "manual" if g.kind == "manual" else "auto",
                    )
                    for g in empty.graded
                ]
                cells += scores
                notebooks.append(record.Notebook(name, None, scores=scores))
                statuses.add("rejected")
                reasons.append(f"{source_path.name}: {e}")
                continue
            p = plan(name, source, submission)
            runs = self.backend.run(p.cells, self.limits, files)
            exec_seconds += sum(r.seconds for r in runs)
            logs = {
                role[5:]: record.cell_log(run)
                for role, run in zip(p.roles, runs, strict=True)
                if role.startswith("test:")
            }
            scores = [replace(c, log=logs.get(c.cell)) for c in score(p, runs)]
            cells += scores
            if any(r.status == "timeout" for r in runs):
                statuses.add("timed out")
            if any(r.status == "dead" for r in runs):
                statuses.add("crashed")
            explained = why(p, runs)
            reasons += [f"{name}:{gid}: {text}" for gid, text in explained.items()]
            notebooks.append(record.Notebook(name, submission, p, runs, scores, explained))
        status = next((s for s in ("rejected", "crashed", "timed out") if s in statuses), "graded")
        if self.record_nbgrader:
            stamp = submitted / "timestamp.txt"
            timestamp = stamp.read_text().strip() if stamp.is_file() else None
            notes += record.write(
                job.course_dir, job.assessment, job.student, notebooks, timestamp, files
            )
            logs = {(c.notebook, c.cell): c.log for c in cells}
            cells = [
                replace(c, log=logs.get((c.notebook, c.cell)))
                for c in read_scores(job.course_dir, job.assessment, job.student)
            ]
        return Outcome(
            status,
            cells,
            reason="; ".join(reasons)[:4000],
            log="\n".join(notes),
            seconds=time.monotonic() - t0,
            exec_seconds=exec_seconds,
        )
