"""The contract every grading sandbox backend fulfils: limits in, one execution record per cell out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Numerical libraries start a thread per core: on a many-core host that would eat the process
# limit (threads count) and oversubscribe the CPU; glibc gives each thread a malloc arena, which
# alone took ~450 MB of a kernel's address-space limit. Every backend's kernel gets these.
KERNEL_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}


# The first line of a cell the trusted execution loop reads and never sends (graders/sandbox/pool.py)
GATE = "#sadari-gate "


@dataclass(frozen=True)
class Limits:
    """What one submission's kernel may use."""

    wall_seconds: float = 60.0  # per cell
    total_seconds: float = 300.0  # the whole notebook
    cpu_seconds: int = 120  # RLIMIT_CPU of the kernel
    memory_bytes: int = 1024 * 1024 * 1024  # RLIMIT_AS
    processes: int = 64  # RLIMIT_NPROC of the sandbox uid
    file_bytes: int = 64 * 1024 * 1024  # RLIMIT_FSIZE
    scratch_bytes: int = 128 * 1024 * 1024  # size of the private scratch tmpfs
    output_bytes: int = 64 * 1024  # kept per cell (the rest is dropped, counted)


@dataclass
class CellRun:
    """What happened when one cell was sent to the kernel.

    status: ok | error | timeout | dead (the kernel died during the cell) | not-run (an earlier
    cell killed the run). `alive_after` is the trusted side's own check that the kernel still
    answered after the cell.
    """

    index: int
    status: str
    ename: str = ""
    evalue: str = ""
    output: str = ""
    output_dropped: int = 0
    alive_after: bool = False
    seconds: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)


class Backend(Protocol):
    """Runs code cells in order in one fresh kernel that is thrown away afterwards."""

    def run(self, cells: list[str], limits: Limits) -> list[CellRun]:
        """One CellRun per cell, in order."""
        ...
