"""Roster imports in the database of record, on SQLite and PostgreSQL: the issue's file (CP949,
`id`, no cohort, Y/N majors, a campus) with a mapping, attributes stored per member, the preview
of a second import, the mapping remembered, all or nothing, and migration 0008 from 0007."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import read_roster
from sadari.hub.core.roster_mapping import RosterMapping
from sadari.hub.store import repo
from sadari.hub.store.db import alembic_config, make_engine, session_factory, upgrade
from sadari.hub.store.models import AuditEntry, Enrollment, Member

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ISSUE = (
    "id,name,email,track,major,campus\r\n"
    "kimminjun,김민준,minjun@example.kr,data-analysis,Y,서울\r\n"
    "leeseoyeon,이서연,,vision-ai,N,부산\r\n"
).encode("cp949")
MAPPING = RosterMapping.from_options(
    ["id=username"], ["major:Y=major", "major:N=non-major"], "2026-seoul-1"
)


@pytest.fixture
def sessions(engine, curriculum: Curriculum):  # type: ignore[no-untyped-def]
    factory = session_factory(engine)
    with factory.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
    return factory


def do_import(sessions, curriculum, data=ISSUE, mapping=MAPPING, remembered=True):  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        base = repo.remembered_mapping(s) if remembered else None
        parsed = read_roster(data, "명단.csv", curriculum, mapping, base)
        assert parsed.problems == ()
        return repo.import_roster(
            s,
            parsed.rows,
            data=data,
            file="명단.csv",
            actor="admin",
            now=NOW,
            mapping=mapping,
        )


def test_the_issues_file_is_imported_with_its_attributes(sessions, curriculum) -> None:  # type: ignore[no-untyped-def]
    report = do_import(sessions, curriculum)
    assert report.created == ["kimminjun", "leeseoyeon"]
    with sessions() as s:
        kim = repo.member(s, "kimminjun")
        assert (kim.major, kim.attributes) == ("major", {"campus": "서울"})
        assert repo.member(s, "leeseoyeon").major == "non-major"
        assert {e.member.username: e.cohort.slug for e in repo.trainees(s)} == {
            "kimminjun": "2026-seoul-1",
            "leeseoyeon": "2026-seoul-1",
        }
        (entry,) = repo.audit_entries(s, limit=1)
        assert entry.action == "roster.import"
        assert entry.details["mapping"]["columns"] == {"id": "username"}
        assert entry.details["mapping"]["cohort"] == "2026-seoul-1"


def test_a_second_import_previews_new_updated_unchanged(sessions, curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    second = (
        "id,name,email,track,major,campus\r\n"
        "kimminjun,김민준,minjun@example.kr,data-analysis,Y,서울\r\n"
        "leeseoyeon,이서연,seoyeon@example.kr,vision-ai,N,대전\r\n"
        "parkjiho,박지호,,azure-ai,N,서울\r\n"
    ).encode("cp949")
    with sessions() as s:
        parsed = read_roster(second, "명단.csv", curriculum, MAPPING, repo.remembered_mapping(s))
        p = repo.preview_roster(s, parsed)
    assert [(r.username, r.status) for r in p.rows] == [
        ("kimminjun", "unchanged"),
        ("leeseoyeon", "updated"),
        ("parkjiho", "new"),
    ]
    assert [(c.field, c.old, c.new) for c in p.rows[1].changes] == [
        ("email", None, "seoyeon@example.kr"),
        ("campus", "부산", "대전"),
    ]
    report = do_import(sessions, curriculum, second)
    assert (report.created, report.updated, report.unchanged) == (
        ["parkjiho"],
        ["leeseoyeon"],
        ["kimminjun"],
    )
    audit = len(sessions().query(AuditEntry).all())
    again = do_import(sessions, curriculum, second)
    assert (again.created, again.updated) == ([], [])
    assert len(sessions().query(AuditEntry).all()) == audit  # nothing changed, nothing audited


def test_the_mapping_is_remembered_for_the_next_import(sessions, curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    with sessions() as s:
        remembered = repo.remembered_mapping(s)
    assert remembered.columns == {"id": "username"}
    assert remembered.values == {"major": {"y": "major", "n": "non-major"}}
    assert remembered.cohort is None  # chosen per import
    # next time only the cohort is given: the Y/N majors are still understood
    next_time = "id,name,track,major,campus\r\nchoiyuna,최유나,azure-ai,Y,부산\r\n".encode("cp949")
    do_import(sessions, curriculum, next_time, RosterMapping(cohort="2026-busan-1"))
    with sessions() as s:
        assert repo.member(s, "choiyuna").major == "major"
        assert repo.remembered_mapping(s) == remembered  # laid over, nothing lost


def test_a_track_conflict_writes_nothing_and_names_every_row(sessions, curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    moved = (
        "id,name,track,major,campus\r\n"
        "newbie,새사람,azure-ai,Y,서울\r\n"
        "kimminjun,김민준,azure-ai,Y,서울\r\n"
        "leeseoyeon,이서연,azure-ai,N,부산\r\n"
    ).encode("cp949")
    with sessions() as s:
        p = repo.preview_roster(s, read_roster(moved, "m.csv", curriculum, MAPPING))
    assert [r.status for r in p.rows] == ["new", "problem", "problem"]
    with pytest.raises(repo.Invalid) as e:
        do_import(sessions, curriculum, moved)
    assert str(e.value).splitlines() == [
        "명단.csv:3: kimminjun is enrolled in track 'data-analysis' of this cohort, not "
        "'azure-ai'; move them explicitly / 다른 트랙에 등록되어 있습니다",
        "명단.csv:4: leeseoyeon is enrolled in track 'vision-ai' of this cohort, not "
        "'azure-ai'; move them explicitly / 다른 트랙에 등록되어 있습니다",
    ]
    with sessions() as s, pytest.raises(repo.NotFound):
        repo.member(s, "newbie")


def test_an_emptied_attribute_is_removed_and_others_kept(sessions, curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    phones = "id,name,track,phone\r\nkimminjun,김민준,data-analysis,010-1234\r\n".encode("cp949")
    do_import(sessions, curriculum, phones)
    with sessions() as s:
        assert repo.member(s, "kimminjun").attributes == {"campus": "서울", "phone": "010-1234"}
    no_campus = "id,name,track,campus\r\nkimminjun,김민준,data-analysis,\r\n".encode("cp949")
    do_import(sessions, curriculum, no_campus)
    with sessions() as s:
        assert repo.member(s, "kimminjun").attributes == {"phone": "010-1234"}
        # fields are the file's (as before attributes): no major column, no major
        assert repo.member(s, "kimminjun").major is None
        assert len(s.query(Enrollment).all()) == 2


def test_migration_0008_from_0007(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0007")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO members (username, name, role, created_at) "
                "VALUES ('before', '이전', 'trainee', '2026-11-01 00:00:00')"
            )
        )
    status = upgrade(engine, "0008")
    assert status.current == "0008"
    assert "roster_mappings" in inspect(engine).get_table_names()
    sessions = session_factory(engine)
    with sessions.begin() as s:
        assert s.query(Member).one().attributes == {}  # members from before have none
        repo.remember_mapping(s, RosterMapping.from_options(["id=username"]), actor="a", now=NOW)
    with sessions() as s:
        assert repo.remembered_mapping(s).columns == {"id": "username"}
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    assert "roster_mappings" not in inspect(engine).get_table_names()
    assert "attributes" not in {c["name"] for c in inspect(engine).get_columns("members")}
    engine.dispose()
