"""Sandboxes that run a submission's cells in a fresh, single-use kernel.

Backends implement `Backend.run(cells, limits, files) -> list[CellRun]`: `local` (bubblewrap +
rlimits + an unprivileged uid, no network), `docker`, `kubernetes`; `files` is the submission's
grading folder (graders/autograde.py `grading_files`), in place before the first cell runs. The
trusted side (graders/autograde.py, graders/plan.py) decides the score from the returned execution
records, never from files the submission wrote.
"""

from .base import Backend, CellRun, Limits

__all__ = ["Backend", "CellRun", "Limits"]
