"""The real `sadari` CLI: roster import (CP949, bad rows, broken bytes), curriculum check, demo seed,
stage selection."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from sadari.hub.store import repo
from sadari.hub.store.db import make_engine, session_factory
from sadari.hub.store.models import Member, Scorecard
from tests.support.hub import ROOT, hub_env, sadari


@pytest.fixture
def env(tmp_path: Path, sqlite_template: Path) -> dict[str, str]:
    """The CLI's environment on a database at head (a copy of the session's migrated template:
    `sadari db upgrade` itself is tested in test_migrations.py)."""
    (tmp_path / "data").mkdir()
    shutil.copyfile(sqlite_template, tmp_path / "data" / "sadari.sqlite")
    return hub_env(tmp_path / "data", f"sqlite:///{tmp_path}/data/sadari.sqlite")


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
    assert "hub not reached" in first.stdout  # asked, as a roster import asks: no hub runs here
    again = sadari(env, "demo", "seed", "--trainees", "3").stdout
    assert "5 people (0 new)" in again and "hub not reached" not in again  # nothing to sync
    assert len(members(env)) == 3


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [str(Path(ROOT / ".venv/bin/sadari")), "--help"], capture_output=True, text=True
    ).stdout
    for command in ("run", "roster", "curriculum", "demo", "db", "select", "teams"):
        assert command in out


def test_select_preview_override_apply_rollback(env: dict[str, str], tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from sadari.hub.store import exchange as ex

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "username,name,cohort,track,major\n"
        + "".join(f"t{i:02d},교육생{i},2026-seoul-1,data-analysis,비전공\n" for i in range(1, 9))
    )
    sadari(env, "roster", "import", str(roster))
    at = datetime(2026, 11, 28, tzinfo=UTC)
    with session_factory(make_engine(env["SADARI_DB_URL"])).begin() as s:
        (a,) = ex.cohort_assessments(s, "da-basics-check", "2026-seoul-1")
        for i in range(1, 9):
            sub = ex.record_submission(
                s, repo.member(s, f"t{i:02d}"), a, None, sha256="0" * 64, size=1, files=[], now=at
            )
            cell = SimpleNamespace(
                notebook="nb", cell="c", score=i + 2.0, max_score=10.0, kind="auto"
            )
            ex.record_grades(s, sub, [cell], actor="g", now=at)
    assert sadari(env, "db", "scorecards").stdout == "scorecards agree with the history\n"
    engine = make_engine(env["SADARI_DB_URL"])
    with engine.begin() as c:  # a scorecard lost behind the store's back
        c.execute(delete(Scorecard).where(Scorecard.member_id == select(Member.id).where(
            Member.username == "t03").scalar_subquery()))  # fmt: skip
    engine.dispose()
    r = sadari(env, "db", "scorecards", check=False)
    assert r.returncode == 1 and "1 scorecards differ from the history" in r.stdout
    r = sadari(env, "db", "scorecards", "--rebuild")
    assert "scorecards rebuilt from the history: 8 trainees" in r.stdout
    assert sadari(env, "db", "scorecards").returncode == 0
    att = tmp_path / "출석.csv"
    att.write_bytes("아이디,값\r\nt01,90\r\n".encode("cp949"))
    r = sadari(env, "select", "inputs", str(att), "--name", "attendance")
    assert "attendance for 1 trainees — 1 new" in r.stdout
    xlsx = str(tmp_path / "d.xlsx")
    r = sadari(
        env, "select", "preview", "--cohort", "2026-seoul-1", "--stage", "advanced", "-o", xlsx
    )
    assert "selection 1: 2026-seoul-1 basics -> advanced [preview] 8 candidates" in r.stdout
    assert "2026-seoul-1/data-analysis: 8 trainees, 7 eligible, 3 seats, 3 selected" in r.stdout
    assert "major=non-major 3/3" in r.stdout and Path(xlsx).stat().st_size > 0
    r = sadari(env, "select", "override", "1", "t01", "advance", "--reason", "출석 우수")
    assert "override t01: advance by cli:" in r.stdout and "4 advancing" in r.stdout
    sadari(env, "select", "confirm", "1")
    r = sadari(env, "select", "apply", "1")
    assert "[applied]" in r.stdout and "moved: 4 trainees" in r.stdout
    assert "hub not reached" in r.stdout
    assert "(nothing changed)" in sadari(env, "select", "apply", "1").stdout
    out = tmp_path / "s.csv"
    sadari(env, "select", "show", "1", "--output", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbfpool,rank,trainee")
    assert sum(line.endswith(",True") for line in out.read_text("utf-8-sig").splitlines()) == 4
    r = sadari(env, "select", "rollback", "1", "--reason", "다시 / redo")
    assert "[rolled-back]" in r.stdout
    assert set(members(env)) == {f"t{i:02d}" for i in range(1, 9)}
    with session_factory(make_engine(env["SADARI_DB_URL"]))() as s:
        assert {e.stage.slug for e in repo.trainees(s)} == {"basics"}


# the issue's roster: CP949 from Excel, `id` for the username, no cohort, Y/N majors, a campus
ISSUE_ROSTER = (
    "id,name,email,track,major,campus\r\n"
    "kimminjun,김민준,minjun@example.kr,data-analysis,Y,서울\r\n"
    "leeseoyeon,이서연,,vision-ai,N,부산\r\n"
    "parkjiho,박지호,jiho@example.kr,azure-ai,N,서울\r\n"
).encode("cp949")
MAPPING_OPTIONS = [
    "--map",
    "id=username",
    "--cohort",
    "2026-seoul-1",
    "--value",
    "major:Y=major",
    "--value",
    "major:N=non-major",
]


def attributes(env: dict[str, str]) -> dict[str, tuple[str | None, dict[str, str]]]:
    with session_factory(make_engine(env["SADARI_DB_URL"]))() as s:
        return {m.username: (m.major, m.attributes) for m in s.scalars(select(Member))}


def test_roster_import_with_mapping_options(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "명단.csv"
    f.write_bytes(ISSUE_ROSTER)
    r = sadari(env, "roster", "import", str(f), *MAPPING_OPTIONS)
    assert "columns: id -> username (mapped); name -> name; email -> email; track -> track; " \
        "major -> major; campus -> attribute campus (attribute)" in r.stdout  # fmt: skip
    assert "line     2  new        kimminjun 김민준" in r.stdout
    assert "preview: 3 new, 0 updated, 0 unchanged, 0 with problems" in r.stdout
    assert "3 rows — 3 new" in r.stdout
    assert attributes(env) == {
        "kimminjun": ("major", {"campus": "서울"}),
        "leeseoyeon": ("non-major", {"campus": "부산"}),
        "parkjiho": ("non-major", {"campus": "서울"}),
    }
    # the next file: only the cohort given, the mapping remembered; one moved campus, one new
    moved = ISSUE_ROSTER.decode("cp949").replace("N,부산", "N,대전")
    f.write_bytes((moved + "choiyuna,최유나,,azure-ai,Y,서울\r\n").encode("cp949"))
    r = sadari(env, "roster", "import", str(f), "--cohort", "2026-seoul-1", "--dry-run")
    assert "id -> username (remembered)" in r.stdout
    assert "line     3  updated    leeseoyeon 이서연  (campus: 부산 -> 대전)" in r.stdout
    assert "preview: 1 new, 1 updated, 2 unchanged, 0 with problems" in r.stdout
    assert "(dry run: nothing written)" in r.stdout
    assert "choiyuna" not in attributes(env)


def test_roster_bad_rows_and_broken_bytes_report_everything(
    env: dict[str, str], tmp_path: Path
) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(
        "id,name,email,track,major,campus\r\n".encode("cp949")
        + "ok01,정상,,data-analysis,Y,서울\r\n".encode("cp949")
        + ",이름만,,data-analysis,N,서울\r\n".encode("cp949")
        + b"broken1,\xff\xfe,,data-analysis,Y,\xbc\xad\xbf\xef\r\n"
        + "Bad User,김,,vision,Y,부산\r\n".encode("cp949")
        + "noname,,bad-mail,azure-ai,N,\r\n".encode("cp949")
    )
    r = sadari(env, "roster", "import", str(f), *MAPPING_OPTIONS, check=False)
    assert r.returncode == 2 and "nothing was changed" in r.stderr
    for expected in (
        f"{f}:3: id (username): missing",
        f"{f}:4: not UTF-8 or CP949 text: undecodable byte 0xff",
        f"{f}:5: id (username): 'Bad User'",
        f"{f}:5: track: unknown track 'vision'",
        f"{f}:6: name: missing",
        f"{f}:6: email: 'bad-mail' is not an e-mail address",
    ):
        assert expected in r.stderr
    assert "preview: 1 new, 0 updated, 0 unchanged, 4 with problems" in r.stdout
    assert attributes(env) == {}


def test_roster_xlsx_and_bad_options(env: dict[str, str], tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    for line in ISSUE_ROSTER.decode("cp949").splitlines():
        book.active.append(line.split(","))
    f = tmp_path / "명단.xlsx"
    book.save(f)
    r = sadari(env, "roster", "import", str(f), *MAPPING_OPTIONS)
    assert f"{f}: XLSX" in r.stdout and "3 rows — 3 new" in r.stdout
    assert attributes(env)["leeseoyeon"] == ("non-major", {"campus": "부산"})
    r = sadari(env, "roster", "import", str(f), "--map", "id", "--value", "major=Y", check=False)
    assert r.returncode == 2
    assert "--map id: write HEADER=FIELD" in r.stderr and "--value major=Y" in r.stderr
