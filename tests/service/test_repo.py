"""Repository functions on SQLite and PostgreSQL: all-or-nothing imports, idempotence, audit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.limits import FieldProblem
from sadari.hub.core.roster import parse_roster
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory
from sadari.hub.store.models import AuditEntry, Enrollment, Member

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ROSTER = (
    "username,name,cohort,track,stage\n"
    "kim01,김하늘,2026-seoul-1,data-analysis,\n"
    "lee02,이바다,2026-seoul-1,vision-ai,advanced\n"
).encode("cp949")


@pytest.fixture
def sessions(engine, curriculum: Curriculum):  # type: ignore[no-untyped-def]
    factory = session_factory(engine)
    with factory.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
    return factory


def do_import(sessions, curriculum: Curriculum, data: bytes = ROSTER):  # type: ignore[no-untyped-def]
    rows = parse_roster(data, "r.csv", curriculum)
    with sessions.begin() as s:
        return repo.import_roster(s, rows, data=data, file="r.csv", actor="admin", now=NOW)


def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return len(s.query(model).all())


def test_curriculum_sync_is_idempotent(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        assert repo.sync_curriculum(s, curriculum, NOW) == 0
    assert count(sessions, AuditEntry) == 1  # only the first sync was recorded


def test_import_then_reimport_changes_nothing(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    report = do_import(sessions, curriculum)
    assert report.created == ["kim01", "lee02"]
    audit = count(sessions, AuditEntry)
    again = do_import(sessions, curriculum)
    assert (again.created, again.updated, again.unchanged) == ([], [], ["kim01", "lee02"])
    assert count(sessions, AuditEntry) == audit
    with sessions() as s:
        assert repo.member(s, "kim01").name == "김하늘"
        stages = {e.member.username: e.stage.slug for e in repo.trainees(s)}
    assert stages == {"kim01": "basics", "lee02": "advanced"}


def test_a_failing_import_writes_nothing(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    moved = (
        "username,name,cohort,track\n"
        "new03,새사람,2026-seoul-1,azure-ai\n"
        "kim01,김하늘,2026-seoul-1,azure-ai\n"
    ).encode()
    with pytest.raises(repo.Invalid, match="r.csv:3: kim01 is enrolled in track 'data-analysis'"):
        do_import(sessions, curriculum, moved)
    with sessions() as s, pytest.raises(repo.NotFound):
        repo.member(s, "new03")


def test_move_stage_is_audited_and_needs_a_reason(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    with sessions.begin() as s, pytest.raises(repo.Invalid, match="reason"):
        repo.move_stage(s, "kim01", "advanced", actor="admin", reason=" ", now=NOW)
    with sessions.begin() as s:
        _, changed = repo.move_stage(
            s, "kim01", "advanced", actor="admin", reason="상위 10%", now=NOW
        )
    assert changed
    with sessions() as s:
        (entry,) = repo.audit_entries(s, target="user:kim01")
        assert (entry.action, entry.reason) == ("trainee.move_stage", "상위 10%")
        assert repo.wanted_membership(s, ["kim01"])["kim01"] == {
            "sadari-trainees",
            "cohort:2026-seoul-1",
            "track:data-analysis",
            "stage:advanced",
        }
    with sessions.begin() as s, pytest.raises(repo.NotFound, match="expert"):
        repo.move_stage(s, "kim01", "expert", actor="admin", reason="x", now=NOW)


def test_an_overlong_reason_is_refused_from_any_caller(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    """The CLI's reasons go through the same audit writer as the API's: nothing is written."""
    do_import(sessions, curriculum)
    with sessions() as s:
        before = repo.wanted_membership(s, ["kim01"])
    with pytest.raises(FieldProblem, match="reason"), sessions.begin() as s:
        repo.move_stage(s, "kim01", "advanced", actor="cli:x", reason="가" * 2001, now=NOW)
    with sessions() as s:
        assert repo.audit_entries(s, target="user:kim01") == []
        assert repo.wanted_membership(s, ["kim01"]) == before  # not moved


def test_audit_log_is_append_only_in_the_database(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with sessions() as s, pytest.raises(DBAPIError, match="append-only"):
            s.execute(text(statement))
            s.commit()
    assert count(sessions, AuditEntry) == 2


def test_the_chain_cannot_fork(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        last = repo.audit_entries(s, limit=1)[0]
        s.add(
            AuditEntry(
                at=NOW.replace(tzinfo=None),
                actor="x",
                action="y",
                target="z",
                details={},
                prev_hash=last.prev_hash,
                hash="f" * 64,
            )
        )
        with pytest.raises(IntegrityError):
            s.commit()


def test_members_and_enrollments_are_linked(sessions, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    do_import(sessions, curriculum)
    assert (count(sessions, Member), count(sessions, Enrollment)) == (2, 2)
