"""The contract every grading sandbox backend fulfils: limits in, one execution record per cell out."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass(frozen=True)
class WorkFile:
    """A file of a submission's grading folder (the kernel's working directory), as stock
    nbgrader's autograde would have it there. `readonly`: the instructor's released copy, which
    the kernel can read but not change, replace or remove; otherwise the trainee's own copy,
    which the kernel may change as it likes."""

    path: str  # relative, "/"-separated
    data: bytes
    readonly: bool


def check_work_path(path: str) -> str:
    """`path` if it is a plain relative path inside the grading folder, else ValueError."""
    normal = posixpath.normpath(path)
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\0" in path
        or normal != path
        or normal == "."
        or normal.startswith("../")
        or normal == ".."
    ):
        raise ValueError(f"not a relative path inside the grading folder: {path!r}")
    return path


def write_work_files(
    root: Path, files: Sequence[WorkFile], *, owner: int | None = None, own_uid: int | None = None
) -> None:
    """Write `files` into the fresh, empty grading folder `root` before any submitted code runs.

    Folders are made sticky and world-writable (1777), like /tmp: the kernel may create files
    anywhere, but may not remove or rename what it does not own. Read-only files are left owned by
    this (trusted) process, mode 0444; the trainee's own files are given to `own_uid` (the kernel's
    uid, when this process may chown) or made 0666. Each folder holding a released Python module
    gets an empty `__pycache__` the kernel cannot write to, so no forged bytecode can stand in for
    the module. `owner` (when this process is root) is the uid the trusted files belong to."""
    made: set[Path] = set()

    def folder(path: Path) -> None:
        for d in reversed([path, *path.parents]):
            if d in made or not d.is_relative_to(root) or d == root:
                continue
            d.mkdir(exist_ok=True)
            if owner is not None:
                os.chown(d, owner, owner)
            d.chmod(0o1777)
            made.add(d)

    for f in files:
        target = root / check_work_path(f.path)
        folder(target.parent)
        target.write_bytes(f.data)
        if f.readonly:
            if owner is not None:
                os.chown(target, owner, owner)
            target.chmod(0o444)
            if target.suffix == ".py":
                cache = target.parent / "__pycache__"
                cache.mkdir(exist_ok=True)
                cache.chmod(0o755)
        elif own_uid is not None:
            os.chown(target, own_uid, own_uid)
            target.chmod(0o644)
        else:
            target.chmod(0o666)


class Backend(Protocol):
    """Runs code cells in order in one fresh kernel that is thrown away afterwards, in a working
    folder that holds `files` (graders/autograde.py `grading_files`)."""

    def run(
        self, cells: list[str], limits: Limits, files: Sequence[WorkFile] = ()
    ) -> list[CellRun]:
        """One CellRun per cell, in order."""
        ...
