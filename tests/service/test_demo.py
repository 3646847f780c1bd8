"""The demo cohort (hub/demo.py) on a fresh database at a fixed `now`: the week's deadlines two days
before it, stage-1 releases in every track, submissions graded by the configured grader (the local
sandbox: some late, one rejected with its reason, one written answer waiting for its grade), an
extension with its reason, a selection preview that works; seeding again changes nothing; without
a grader the week waits in the queue; a seed reaches a running hub at once."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sadari.graders.autograde import Autograder
from sadari.graders.sandbox import local
from sadari.hub import demo, selection
from sadari.hub.assessments import OperationError
from sadari.hub.core.curriculum import Curriculum, parse_curriculum
from sadari.hub.settings import SadariSettings
from sadari.hub.store.db import make_engine, session_factory
from sadari.hub.store.models import (
    Assessment,
    AuditEntry,
    Extension,
    Grade,
    GradingJob,
    Member,
    Release,
    Result,
    Submission,
)
from tests.support.hub import ROOT, RunningHub, sadari

NOW = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)  # a Wednesday, noon in Seoul
SEOUL = ZoneInfo("Asia/Seoul")
COHORT = "2026-seoul-1"
FIRST = ("da-basics-check", "pm-basics-check", "az-basics-check", "va-basics-check")
# stage 1 is due `+13d 18:00`: two days before NOW (local), so the week started 15 days before
DUE = datetime(2027, 3, 8, 18, 0, tzinfo=SEOUL)


@dataclass
class Seeded:
    settings: SadariSettings
    curriculum: Curriculum
    sessions: sessionmaker[Session]
    week: demo.WeekReport


def fresh(tmp: Path, template: Path) -> tuple[SadariSettings, Curriculum, sessionmaker[Session]]:
    """Settings on a fresh database at head (a copy of the migrated template) in `tmp`."""
    shutil.copyfile(template, tmp / "sadari.sqlite")
    url = f"sqlite:///{tmp}/sadari.sqlite"
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp), db_url=url)
    curriculum = parse_curriculum((ROOT / "labs" / "curriculum.yaml").read_text("utf-8"))
    return settings, curriculum, session_factory(make_engine(url))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Seeded:
    """The week, seeded once for the module with the configured grader (the local sandbox)."""
    why = local.available()
    if why:
        pytest.skip(f"the local sandbox cannot run here: {why}")
    settings, curriculum, sessions = fresh(tmp_path_factory.mktemp("demo"), sqlite_template)
    roster, week = demo.seed(settings, curriculum, sessions, demo.WEEK_TRAINEES, week=True, now=NOW)
    assert len(roster.created) == demo.WEEK_TRAINEES + 2 and week is not None
    return Seeded(settings, curriculum, sessions, week)


def counts(s: Session) -> dict[str, int]:
    """Rows of everything the seed writes."""
    models = (Submission, Result, Grade, GradingJob, Release, Extension, AuditEntry)
    return {m.__name__: s.scalar(select(func.count()).select_from(m)) or 0 for m in models}


@pytest.mark.sandbox
def test_deadlines_follow_the_day_it_is_seeded(seeded: Seeded) -> None:
    with seeded.sessions() as s:
        rows = {(a.stage.track.cohort.slug, a.slug): a for a in s.scalars(select(Assessment))}
        for aid in FIRST:
            assert rows[COHORT, aid].effective_due == DUE.astimezone(UTC).replace(tzinfo=None)
        # every stage keeps its place in the program: advanced +27d, project +48d
        assert rows[COHORT, "da-advanced-check"].due_override_at == datetime(2027, 3, 22, 9, 0)
        assert rows[COHORT, "va-project"].due_override_at == datetime(2027, 4, 12, 9, 0)
        assert all(a.due_override_at is None for (c, _), a in rows.items() if c != COHORT)
        moved = s.scalars(select(AuditEntry).filter_by(action="assessment.set_due")).all()
    assert len(moved) == seeded.week.moved_deadlines == 12
    assert {e.actor for e in moved} == {demo.ACTOR} and all(e.reason for e in moved)


@pytest.mark.sandbox
def test_a_week_with_something_on_every_page(seeded: Seeded) -> None:
    week = seeded.week
    assert sorted(week.released) == sorted(FIRST) and week.queued == 0
    with seeded.sessions() as s:
        subs = s.scalars(select(Submission)).all()
        releases = s.scalars(select(Release)).all()
        assert sorted(r.assessment.slug for r in releases) == sorted(FIRST)
        assert all(r.released_at < r.assessment.effective_due for r in releases)
        assert len(subs) == week.submitted == 36  # one trainee per track did not submit
        assert all(x.submitted_at <= NOW.replace(tzinfo=None) for x in subs)
        status = Counter(x.result.status for x in subs if x.result)
        assert status == {"graded": 34, "rejected": 1, "needs-manual": 1}, status
        (rejected,) = [x for x in subs if x.result and x.result.status == "rejected"]
        assert rejected.member.username == "trainee025"
        assert "da-basics-check.ipynb was not submitted" in rejected.result.details["reason"]
        (waiting,) = [x for x in subs if x.result and x.result.status == "needs-manual"]
        assert waiting.member.username == "trainee006"
        assert waiting.result.details["pending_manual"] == ["pm-basics-check:pm-memo"]
        late = sorted(x.member.username for x in subs if x.result and x.result.late_seconds > 0)
        # positions 3 and 7 of every track submit late, but trainee029 has an extension
        assert late == ["trainee013", "trainee014", "trainee015", "trainee016"] + [
            "trainee030",
            "trainee031",
            "trainee032",
        ]
        scores = {x.member.username: x.result.final_score for x in subs if x.result}
        assert scores["trainee013"] == 7.0  # 3 hours late: 30% off (10% per started hour)
        assert scores["trainee014"] == 0.0  # late scores 0 in the product manager track
        assert scores["trainee015"] == 10.0  # no late penalty in the Azure AI track
        assert scores["trainee002"] == 10.0  # written answer graded by the instructor
        assert scores["trainee026"] == 3.0  # one answer of four
        (ext,) = s.scalars(select(Extension)).all()
        assert s.get(Member, ext.member_id).username == "trainee029"
        assert ext.reason == demo.EXTENSION_REASON
        (sub29,) = [x for x in subs if x.member.username == "trainee029"]
        assert sub29.submitted_at > DUE.astimezone(UTC).replace(tzinfo=None)
        assert sub29.result.late_seconds == 0 and sub29.result.final_score == 8.0
        audited = s.scalars(select(AuditEntry).filter_by(action="assessment.extension")).one()
        assert audited.reason == demo.EXTENSION_REASON and audited.target == "user:trainee029"


@pytest.mark.sandbox
def test_the_selection_preview_works_on_the_demo(seeded: Seeded) -> None:
    with seeded.sessions() as s:
        sel = selection.preview(s, seeded.curriculum, COHORT, "advanced", actor="t", now=NOW)
        pools = {p["name"].split("/")[1]: p for p in sel.pools}
        assert sorted(pools) == sorted(t.id for t in seeded.curriculum.tracks)
        for p in pools.values():
            assert (p["size"], p["seats"], p["selected"]) == (10, 4, 4)
            ((group, seats, met),) = p["reserved"]  # 3 seats held for non-majors, met
            assert (group, seats) == ("major=non-major", 3) and met >= 3
        assert any(r["basis"] == "reserved" for r in sel.rows)  # the reservation shows
        s.rollback()


@pytest.mark.sandbox
def test_seeding_again_changes_nothing(seeded: Seeded) -> None:
    with seeded.sessions() as s:
        before = counts(s)
    later = NOW + timedelta(days=3)  # `make run` again another day: the week stays as it was
    roster, week = demo.seed(
        seeded.settings, seeded.curriculum, seeded.sessions, demo.WEEK_TRAINEES, week=True,
        now=later,
    )  # fmt: skip
    assert week is not None and (roster.created, roster.updated) == ([], [])
    assert week.lines()[0].startswith("demo week: 0 deadlines moved, released nothing new, 0 ")
    assert (week.graded, week.queued, week.manual_grades) == ({}, 0, 0)
    with seeded.sessions() as s:
        assert counts(s) == before


def no_grader() -> Autograder:
    raise OperationError("the sandbox grading sandbox cannot run here: not root. Install it")


def test_without_a_grader_the_week_waits_in_the_queue(
    tmp_path: Path, sqlite_template: Path
) -> None:
    settings, curriculum, sessions = fresh(tmp_path, sqlite_template)
    _, week = demo.seed(settings, curriculum, sessions, 8, week=True, now=NOW, grader=no_grader)
    assert week is not None
    assert (week.submitted, week.queued, week.graded) == (8, 8, {})
    assert "not root" in week.grader_problem and "sadari grading work" in week.lines()[-1]
    with sessions() as s:
        jobs = s.scalars(select(GradingJob)).all()
        assert [j.status for j in jobs] == ["queued"] * 8
        assert s.scalar(select(func.count()).select_from(Result)) == 0
        before = counts(s)
    _, again = demo.seed(settings, curriculum, sessions, 8, week=True, now=NOW, grader=no_grader)
    assert again is not None and again.submitted == 0 and again.queued == 8  # still waiting
    with sessions() as s:
        assert counts(s) == before


def test_the_roster_alone_is_the_bare_demo(tmp_path: Path, sqlite_template: Path) -> None:
    settings, curriculum, sessions = fresh(tmp_path, sqlite_template)
    roster, week = demo.seed(settings, curriculum, sessions, 3, now=NOW)
    assert week is None and len(roster.created) == 5
    with sessions() as s:
        assert counts(s)["Release"] == 0 and counts(s)["Submission"] == 0


@pytest.mark.hub
def test_a_seed_reaches_the_running_hub_at_once(tmp_path: Path) -> None:
    """Trainees added to the demo while the hub runs can log in straight away (the seed asks the
    service to sync the hub, as a roster import does)."""
    hub = RunningHub.start(tmp_path, f"sqlite:///{tmp_path}/sadari.sqlite", trainees=1)
    try:
        out = sadari(hub.env, "demo", "seed", "--trainees", "2").stdout
        assert "hub synced (1 new hub users)" in out, out
        hub.login("trainee002")
    finally:
        hub.stop()
