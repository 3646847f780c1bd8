"""What every grader shares: the job it is given, the per-cell scores and the outcome it returns,
and the `Autograder` protocol (graders/autograde.py implements it; hub/workers.py drives it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class CellScore:
    """The score of one graded cell; `score` None means it waits for a manual grade."""

    notebook: str
    cell: str
    score: float | None
    max_score: float
    kind: str  # auto | manual
    log: str | None = None  # the test cell's execution log, truncated; None: not known


@dataclass(frozen=True)
class Job:
    """One submission to grade: `course_dir/submitted/<student>/<assessment>/` is in place.
    `exclude_overwriting`: released files whose trainee copy counts (nbgrader's
    Autograde.exclude_overwriting for this assessment)."""

    course_dir: Path
    assessment: str
    student: str
    exclude_overwriting: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What grading one submission gave."""

    status: str  # graded | timed out | crashed | rejected | failed
    cells: list[CellScore] = field(default_factory=list)
    reason: str = ""
    log: str = ""
    seconds: float = 0.0
    exec_seconds: float = 0.0  # time spent running cells (sandbox engine)


class Autograder(Protocol):
    """Grades one submission."""

    def grade(self, job: Job) -> Outcome:
        """Grade `job`; never raises for a bad submission (status 'failed' with a reason)."""
        ...

    def close(self) -> None:
        """Release what the grader holds (kernels started ahead)."""
        ...
