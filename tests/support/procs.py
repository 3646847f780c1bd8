"""Processes the tests start, found again at the end so none is left running.

Every process a test run starts is marked: `mark_run(basetemp)` puts `SADARI_TEST_RUN=<token>` into
this process's environment, so every subprocess a test or a helper starts inherits it (the hub
passes it on to its proxy). Processes that JupyterHub starts with an environment of its own (the
sadari service, trainee servers and their kernels) do not inherit it: they are found by their
folders instead, since each of them has its working folder, its HOME or a setting (`SADARI_DATA_DIR`)
in a folder the run made (pytest's base temporary folder, or a folder registered with `claim`).

`ours()` lists the live processes of this run, `kill()` ends them (each process group first, then
SIGKILL), `survivors()` waits a little for processes that are stopping, then lists the rest. Shared
servers that tests start on purpose and leave running for later runs (the PostgreSQL cluster, the
Docker engine) are not counted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MARK = "SADARI_TEST_RUN"
# daemons tests start on purpose and leave running, like system services (tests/support/postgres.py,
# tests/support/docker.py); their children (containers) are the docker tier's to remove
SHARED = {"postgres", "dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2"}
SHARED_PREFIXES = ("docker-proxy", "containerd-shim", "runc")

_roots: set[str] = set()


def mark_run(basetemp: Path | str) -> str:
    """Give this test process (and so every subprocess it starts) a token of its own; folders
    under `basetemp` belong to the run."""
    token = uuid.uuid4().hex
    os.environ[MARK] = token
    claim(basetemp)
    return token


def claim(*folders: Path | str) -> None:
    """Folders this run made: a process working in one, or pointing at one in its environment
    (HOME, SADARI_DATA_DIR, ...), was started for this run."""
    for folder in folders:
        if folder:
            _roots.add(os.path.realpath(folder).rstrip("/") + "/")


@dataclass(frozen=True)
class Proc:
    """A live process: its id, process group, user id and command line."""

    pid: int
    pgid: int
    uid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} (uid {self.uid}): {self.command[:300]}"


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _under(path: str, roots: Iterable[str]) -> bool:
    path = path.rstrip("/") + "/"
    return any(path.startswith(root) for root in roots)


def _belongs(pid: int, token: bytes, roots: set[str]) -> bool:
    base = f"/proc/{pid}"
    environ = _read(f"{base}/environ")
    variables = environ.split(b"\0")
    if token and f"{MARK}=".encode() + token in variables:
        return True
    if not roots:
        return False
    for var in variables:
        _, _, value = var.partition(b"=")
        if value.startswith(b"/") and _under(os.fsdecode(value), roots):
            return True
    with contextlib.suppress(OSError):
        if _under(os.readlink(f"{base}/cwd").removesuffix(" (deleted)"), roots):
            return True
    return False


def _exempt(pid: int) -> bool:
    name = _read(f"/proc/{pid}/comm").decode(errors="replace").strip()
    return name in SHARED or name.startswith(SHARED_PREFIXES)


def _ancestors() -> set[int]:
    """This process and the ones above it (pytest, make, a shell): never ours to end."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = _read(f"/proc/{pid}/stat").decode()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def ours(roots: Iterable[Path | str] | None = None, token: str | None = None) -> list[Proc]:
    """Live processes of this run: marked with its token, or working in (or pointing at) one of
    its folders. `roots`/`token` narrow it down (e.g. to one hub's folders, with no token)."""
    want_token = (os.environ.get(MARK, "") if token is None else token).encode()
    want_roots = (
        set(_roots)
        if roots is None
        else {os.path.realpath(r).rstrip("/") + "/" for r in roots if r}
    )
    skip = _ancestors()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        pid = int(entry)
        try:
            if not _belongs(pid, want_token, want_roots) or _exempt(pid):
                continue
            stat = _read(f"/proc/{pid}/stat").decode()
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z":  # a zombie waits for its parent; it runs nothing
                continue
            command = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace")
            uid = os.stat(f"/proc/{pid}").st_uid
            found.append(Proc(pid, int(fields[2]), uid, command.strip()))
        except (OSError, ValueError, IndexError):  # gone meanwhile, or not readable
            continue
    return found


def survivors(wait: float = 10, **kw: object) -> list[Proc]:
    """The processes of `ours(**kw)` still running after up to `wait` seconds (those that are
    stopping get that long to finish)."""
    deadline = time.monotonic() + wait
    while True:
        left = ours(**kw)  # type: ignore[arg-type]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.2)


def kill(procs: list[Proc], grace: float = 5) -> None:
    """SIGTERM each process and its group, wait up to `grace` seconds, then SIGKILL what is left."""
    own_group = os.getpgid(0)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if p.pgid not in (own_group, 0, 1):
                    os.killpg(p.pgid, sig)
                os.kill(p.pid, sig)
        if sig == signal.SIGKILL:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p.pid) for p in procs):
            time.sleep(0.1)
        procs = [p for p in procs if _alive(p.pid)]
        if not procs:
            return


def _alive(pid: int) -> bool:
    try:
        return _read(f"/proc/{pid}/stat").decode().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
