"""Sandboxes that run a submission's cells in a fresh, single-use kernel.

Backends implement `Backend.run(cells, limits) -> list[CellRun]`: `local` (bubblewrap + rlimits +
an unprivileged uid, no network), `docker`, `kubernetes`. The trusted side (graders/worker.py)
decides the score from the returned execution records, never from files the submission wrote.
"""

from .base import Backend, CellRun, Limits

__all__ = ["Backend", "CellRun", "Limits"]
