"""hub/accounts.py against the real machine: useradd/groupadd accounts, folders, refusal without root.

Creates real unix accounts (root only, as the embedded default itself does) under unique names and
removes them afterwards.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sadari.hub import accounts
from sadari.hub.core.accounts import account_name, team_group_name
from tests.support.hub import BIN

IDS = (20000, 59999)


def tool(name: str) -> str:
    """A system tool (useradd, runuser, ...) wherever Debian puts it."""
    return shutil.which(name, path=accounts.SBIN) or name


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="creating unix accounts needs root (CI runs as root)"
)


@pytest.fixture
def hub_name() -> Iterator[str]:
    name = f"t-acct-{secrets.token_hex(3)}"
    yield name
    subprocess.run([tool("userdel"), account_name(name)], capture_output=True)
    subprocess.run([tool("groupdel"), account_name(name)], capture_output=True)


@needs_root
def test_account_is_made_once_with_its_owner_tag(hub_name: str, tmp_path: Path) -> None:
    made = accounts.ensure_account(hub_name, tmp_path / "home", IDS)
    entry = pwd.getpwnam(made.name)
    assert made.name == account_name(hub_name)
    assert IDS[0] <= made.uid <= IDS[1] and made.gid == made.uid
    assert entry.pw_dir == str(tmp_path / "home") and entry.pw_shell == accounts.SHELL
    assert accounts.ensure_account(hub_name, tmp_path / "home", IDS) == made  # idempotent


@needs_root
def test_an_account_of_someone_else_is_never_shared(hub_name: str, tmp_path: Path) -> None:
    name = account_name(hub_name)
    subprocess.run([tool("useradd"), "--no-create-home", "--comment", "a person", name], check=True)
    with pytest.raises(accounts.AccountError, match="does not belong"):
        accounts.ensure_account(hub_name, tmp_path, IDS)


@needs_root
def test_team_group() -> None:
    team = f"team-t-{secrets.token_hex(3)}"
    try:
        gid = accounts.ensure_group(team, IDS)
        assert accounts.ensure_group(team, IDS) == gid and IDS[0] <= gid <= IDS[1]
    finally:
        subprocess.run([tool("groupdel"), team_group_name(team)], capture_output=True)


def test_unreachable_names_the_closed_folder(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "homes").mkdir(parents=True)
    closed.chmod(0o700)
    assert accounts.unreachable(closed / "homes") in (closed, tmp_path, *tmp_path.parents)
    open_ = Path("/tmp") / f"sadari-open-{secrets.token_hex(3)}"
    open_.mkdir(mode=0o711)
    try:
        open_.chmod(0o711)
        assert accounts.unreachable(open_) is None
    finally:
        open_.rmdir()


@needs_root
def test_chown_inside_never_follows_links(hub_name: str, tmp_path: Path) -> None:
    made = accounts.ensure_account(hub_name, tmp_path, IDS)
    outside = tmp_path / "platform-file"
    outside.write_text("secret")
    home = tmp_path / "home"
    (home / "1-basics").mkdir(parents=True)
    (home / "1-basics" / "lab.ipynb").write_text("{}")
    (home / "1-basics" / "link").symlink_to(outside)
    accounts.chown_inside(home, ["1-basics/lab.ipynb", "1-basics/link"], made)
    assert (home / "1-basics" / "lab.ipynb").stat().st_uid == made.uid
    assert (home / "1-basics").stat().st_uid == made.uid
    assert (home / "1-basics" / "link").lstat().st_uid == made.uid
    assert outside.stat().st_uid == 0  # the link's target stays the platform's


def test_make_private_closes_folders(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o755)
    accounts.make_private(tmp_path / "data", tmp_path / "labs")
    for name in ("data", "labs"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o700


@needs_root
def test_sadari_run_refuses_without_root(tmp_path: Path) -> None:
    """Not root: no accounts can be made, so no trainee is served (never a shared uid)."""
    tmp_path.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "SADARI_DATA_DIR": str(tmp_path / "data"),
        "SADARI_PROJECT_DIR": str(tmp_path),
        "SADARI_SPAWNER": "local",
        "HOME": str(tmp_path),
    }
    r = subprocess.run(
        [tool("runuser"), "-u", "nobody", "--", str(BIN / "sadari"), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "refusing to serve trainees" in r.stderr and "needs root" in r.stderr
