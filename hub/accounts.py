"""The machine side of per-person unix accounts (embedded default): create, look up, lock down.

Names come from core/accounts.py. Accounts are created with Debian's `useradd`/`groupadd` (as The
Littlest JupyterHub does) with ids picked from the configured range, which never overlaps the
grading sandbox's uids; creation is idempotent and tolerates another process creating the same
account at the same moment. Needs root.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tornado import web

from .core.accounts import ACCOUNT_PREFIX, account_name, free_id, owner_tag, team_group_name

SHELL = "/bin/bash"
SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"
_lock = threading.Lock()  # one hub creates accounts one at a time (spawns run in threads)


class AccountError(web.HTTPError):
    """An account cannot be provided; the message says why and what to do. JupyterHub shows it
    to the person whose start failed (`jupyterhub_message`) and in its API's answer."""

    def __init__(self, message: str) -> None:
        super().__init__(500, message.replace("%", "%%"))
        self.jupyterhub_message = message

    def __str__(self) -> str:
        return self.jupyterhub_message


@dataclass(frozen=True)
class Account:
    """A hub user's unix account."""

    name: str
    uid: int
    gid: int


def can_create_accounts() -> str | None:
    """None when this process can create accounts, else why not."""
    if os.geteuid() != 0:
        return (
            "the local spawner gives every person a unix account of their own and needs root to "
            "create them; run `sadari run` as root (or use SADARI_SPAWNER=docker)"
        )
    missing = [tool for tool in ("useradd", "groupadd") if not shutil.which(tool, path=SBIN)]
    if missing:
        return f"{' and '.join(missing)} not found (Debian package 'passwd')"
    return None


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(cmd[0], path=SBIN) or cmd[0]
    return subprocess.run([tool, *cmd[1:]], capture_output=True, text=True, timeout=60)


def _taken_ids() -> set[int]:
    return {p.pw_uid for p in pwd.getpwall()} | {g.gr_gid for g in grp.getgrall()}


def _existing(name: str, hub_name: str) -> Account | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    if entry.pw_gecos != owner_tag(hub_name):
        raise AccountError(
            f"the unix account {name!r} exists but does not belong to hub user {hub_name!r} "
            f"(its comment is {entry.pw_gecos!r}); refusing to share it"
        )
    return Account(name, entry.pw_uid, entry.pw_gid)


def ensure_account(
    hub_name: str, home: Path, ids: tuple[int, int], prefix: str = ACCOUNT_PREFIX
) -> Account:
    """The account of `hub_name`, created (with a private group of the same id) if missing."""
    name = account_name(hub_name, prefix)
    with _lock:
        for _attempt in range(5):
            found = _existing(name, hub_name)
            if found:
                return found
            uid = free_id(_taken_ids(), *ids)
            made = _run(["groupadd", "--gid", str(uid), name])
            if made.returncode != 0 and "already exists" not in made.stderr:
                time.sleep(0.2)  # another process took the id (or holds the lock): try again
                continue
            gid = grp.getgrnam(name).gr_gid
            made = _run(
                ["useradd", "--uid", str(uid), "--gid", str(gid), "--no-create-home",
                 "--home-dir", str(home), "--shell", SHELL, "--comment", owner_tag(hub_name),
                 name]
            )  # fmt: skip
            if made.returncode != 0 and "already exists" not in made.stderr:
                time.sleep(0.2)
                continue
        found = _existing(name, hub_name)
        if not found:
            raise AccountError(f"could not create the unix account {name!r}: {made.stderr.strip()}")
        return found


def ensure_group(team: str, ids: tuple[int, int], prefix: str = ACCOUNT_PREFIX) -> int:
    """The gid of a team's unix group, created if missing."""
    name = team_group_name(team, prefix)
    with _lock:
        for _attempt in range(5):
            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                pass
            made = _run(["groupadd", "--gid", str(free_id(_taken_ids(), *ids)), name])
            if made.returncode != 0 and "already exists" not in made.stderr:
                time.sleep(0.2)
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            raise AccountError(f"could not create the unix group {name!r}") from None


def unreachable(path: Path) -> Path | None:
    """The first folder on the way to `path` that other users cannot enter (no o+x), if any."""
    for folder in [*reversed(Path(path).resolve().parents), Path(path).resolve()]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def make_private(*paths: Path) -> None:
    """Folders only their owner (the platform) may read, list or enter: 0700."""
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)


def make_passage(path: Path) -> None:
    """A folder others may pass through but not list (0711), made if missing (the parent of the
    homes, the teams' folder); an existing one (say /home) is left as it is."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o711)


def chown_inside(root: Path, rel_paths: list[str], account: Account) -> None:
    """Give `account` the files at `rel_paths` under `root` and every folder between (never
    following links: the home belongs to its trainee, who may have put links there)."""
    done: set[Path] = set()
    for rel in rel_paths:
        path = root / rel
        while path != root and path not in done:
            done.add(path)
            if path.is_symlink() or path.exists():
                os.chown(path, account.uid, account.gid, follow_symlinks=False)
            path = path.parent


def kill_all(uid: int) -> None:
    """Every process left running as `uid` (kernels started in the background outlive their
    server otherwise)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            continue
