"""The real `sadari` CLI: roster import (CP949, bad rows, broken bytes), curriculum check, demo seed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sadari.hub.store import repo
from sadari.hub.store.db import make_engine, session_factory
from tests.support.hub import ROOT, hub_env, sadari


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = hub_env(tmp_path / "data", f"sqlite:///{tmp_path}/data/sadari.sqlite")
    sadari(e, "db", "upgrade")
    return e


def members(env: dict[str, str]) -> dict[str, str]:
    with session_factory(make_engine(env["SADARI_DB_URL"]))() as s:
        return {e.member.username: e.member.name for e in repo.trainees(s)}


def test_cp949_roster_from_excel(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "명단.csv"
    f.write_bytes(
        "아이디,이름,기수,트랙\r\nhong01,홍길동,2026-seoul-1,azure-ai\r\n".encode("cp949")
    )
    r = sadari(env, "roster", "import", str(f))
    assert "1 rows — 1 new" in r.stdout
    assert "hub not reached" in r.stdout  # no hub runs here: the service syncs when it starts
    assert members(env) == {"hong01": "홍길동"}
    again = sadari(env, "roster", "import", str(f))
    assert "0 new, 0 updated, 1 unchanged" in again.stdout


def test_bad_rows_change_nothing(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "roster.csv"
    f.write_text(
        "username,name,cohort,track\nok1,정상,2026-seoul-1,azure-ai\nbad,,2026-seoul-1,azure-ai\n",
        encoding="utf-8",
    )
    r = sadari(env, "roster", "import", str(f), check=False)
    assert r.returncode == 2
    assert f"{f}:3: name: missing" in r.stderr and "nothing was changed" in r.stderr
    assert members(env) == {}


def test_broken_encoding_says_which_line(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "roster.csv"
    f.write_bytes(b"username,name,cohort,track\nx1,\xff\xff,2026-seoul-1,azure-ai\n")
    r = sadari(env, "roster", "import", str(f), check=False)
    assert r.returncode == 2 and f"{f}:2: not UTF-8 or CP949" in r.stderr


def test_dry_run_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "roster.csv"
    f.write_text("username,name,cohort,track\nok1,정상,2026-seoul-1,azure-ai\n")
    r = sadari(env, "roster", "import", "--dry-run", str(f))
    assert "dry run: nothing written" in r.stdout and members(env) == {}


def test_curriculum_check(env: dict[str, str], tmp_path: Path) -> None:
    r = sadari(env, "curriculum", "check")
    assert "OK — 4 tracks, 3 stages, 2 cohorts" in r.stdout
    labs = tmp_path / "labs"
    shutil.copytree(ROOT / "labs", labs)
    (labs / "vision-ai" / "advanced" / "01-digits-features.ipynb").unlink()
    broken = sadari({**env, "SADARI_LABS_DIR": str(labs)}, "curriculum", "check", check=False)
    assert broken.returncode == 2
    assert (
        "tracks[3].stages.advanced.notebooks[0]: 'vision-ai/advanced/01-digits-features."
        "ipynb' not found" in broken.stderr
    )
    assert f"{labs}/curriculum.yaml:" in broken.stderr


def test_demo_seed_is_idempotent(env: dict[str, str]) -> None:
    first = sadari(env, "demo", "seed", "--trainees", "3")
    assert "5 people (5 new)" in first.stdout and "DEMO" in first.stdout
    assert "5 people (0 new)" in sadari(env, "demo", "seed", "--trainees", "3").stdout
    assert len(members(env)) == 3


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [str(Path(ROOT / ".venv/bin/sadari")), "--help"], capture_output=True, text=True
    ).stdout
    for command in ("run", "roster", "curriculum", "demo", "db"):
        assert command in out
