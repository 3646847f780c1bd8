"""What people see: the member view, with the service clock fixed."""

from __future__ import annotations

from datetime import UTC, datetime

from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.handlers.views import member_view
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory

ROSTER = "username,name,cohort,track\nhan01,한지민,2026-seoul-1,vision-ai\n".encode()


def test_a_trainee_sees_placement_labs_and_what_is_next(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    before_due = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, before_due)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=before_due)
    with sessions() as s:
        view = member_view(s, curriculum, "han01", before_due, "trainee")
        after = member_view(s, curriculum, "han01", datetime(2026, 11, 30, tzinfo=UTC), "trainee")
    assert view["name"] == "한지민"
    assert view["enrollment"]["track"]["id"] == "vision-ai"
    assert view["enrollment"]["stage"] == {
        "id": "basics",
        "name": {"ko": "기초", "en": "Basics"},
        "position": 1,
    }
    assert view["enrollment"]["next_stage"]["id"] == "advanced"
    basics = curriculum.track("vision-ai").stages["basics"].notebooks
    assert "1-basics/01-images-as-arrays.ipynb" in view["labs"]
    assert view["labs"] == [f"1-basics/{nb.rsplit('/', 1)[1]}" for nb in basics]
    (due,) = view["next"]
    assert due["id"] == "va-basics-check"
    assert due["due_local"].strftime("%Y-%m-%d %H:%M %Z") == "2026-11-29 18:00 KST"
    assert due["due_at"] == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert after["next"] == []  # past the due date nothing is "next"


def test_someone_sadari_does_not_know(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as s:
        view = member_view(s, curriculum, "ghost", datetime.now(UTC), None)
    assert view == {
        "username": "ghost",
        "role": None,
        "name": None,
        "enrollment": None,
        "labs": [],
        "next": [],
    }
