"""Scorecards (store/scorecards.py) against the history they are derived from, on SQLite and
PostgreSQL: every write of a submission or result keeps them equal to it, two graders writing
results of one trainee at once leave the right one, the migration fills them for a database that
already has submissions, and the fast candidate reader gives the same decision inputs as the
plain one that reads the history."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.selection import inputs_hash
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo, scorecards
from sadari.hub.store import selection as db
from sadari.hub.store.db import alembic_config, head_revision, make_engine, session_factory, upgrade
from sadari.hub.store.models import Result, Scorecard, Submission
from tests.service.test_selection_workflow import COHORT, DUE, NOW, Cell, cur, enrol  # noqa: F401

PEOPLE = [(f"s{i:02d}", "data-analysis", "basics", "비전공" if i % 2 else "전공") for i in range(6)]


def submit(s: Any, username: str, at_hours: float) -> Submission:
    (a,) = ex.cohort_assessments(s, "da-basics-check", COHORT)
    member = repo.member(s, username)
    at = DUE + timedelta(hours=at_hours)
    return ex.record_submission(s, member, a, None, sha256="0" * 64, size=1, files=[], now=at)


def cell_of(s: Any, username: str) -> list[tuple[int, int, float, float]]:
    blob = s.scalars(
        select(Scorecard.cells).where(Scorecard.member_id == repo.member(s, username).id)
    ).first()
    got, _ = scorecards.cells([blob])
    return [
        (int(c["submission"]), int(c["status"]), float(c["score"]), float(c["penalty"]))
        for c in got
    ]


def same_inputs(sessions: Any, cur: Curriculum) -> db.Gathered:  # noqa: F811
    policy = cur.stage("advanced").selection
    with sessions() as s:
        gathered = db.candidates(s, COHORT, policy)
        plain = db.candidates_from_history(s, COHORT, policy)
        assert scorecards.stale(s) == []
    assert inputs_hash(policy, gathered.sheet) == inputs_hash(policy, plain)  # type: ignore[arg-type]
    return gathered


def test_scorecards_follow_every_write(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    sessions = session_factory(engine)
    enrol(sessions, cur, PEOPLE)
    with sessions.begin() as s:
        first = submit(s, "s00", -5)
        assert cell_of(s, "s00") == [(first.id, scorecards.UNGRADED, 0.0, 0.0)]
        ex.record_grades(s, first, [Cell(8, 10)], actor="grader", now=NOW)
        assert cell_of(s, "s00") == [(first.id, scorecards.GRADED, 8.0, 0.0)]
        second = submit(s, "s00", 3)  # a resubmission after the deadline, not graded yet
        ex.record_grades(s, first, [Cell(9, 10)], actor="inst", now=NOW)  # regrading the old one
        assert cell_of(s, "s00") == [(second.id, scorecards.UNGRADED, 0.0, 0.0)]
        ex.record_failure(s, second, "the kernel died", now=NOW)
        assert cell_of(s, "s00") == [(second.id, scorecards.IRREGULAR, 0.0, 0.0)]
        ex.record_grades(s, second, [Cell(6, 10)], actor="g", now=NOW, status="timeout")
        (late,) = cell_of(s, "s00")
        assert late[:3] == (second.id, scorecards.IRREGULAR, 6.0) and late[3] > 0  # late penalty
        manual = submit(s, "s01", -1)
        ex.record_grades(s, manual, [Cell(None, 10)], actor="grader", now=NOW)
        assert cell_of(s, "s01") == [(manual.id, scorecards.NEEDS_MANUAL, 0.0, 0.0)]
        for i in (2, 3):
            ex.record_grades(s, submit(s, f"s{i:02d}", -2), [Cell(i, 10)], actor="g", now=NOW)
    gathered = same_inputs(sessions, cur)
    assert (gathered.pending, gathered.irregular) == (1, 1)
    sheet = gathered.sheet
    row = {t: i for i, t in enumerate(sheet.trainees)}
    da = [c.id for c in sheet.components].index("da-basics-check")
    assert sheet.present[row["s00"], da] and sheet.raw[row["s00"], da] == 6.0
    assert not sheet.present[row["s01"]].any() and not sheet.present[row["s04"]].any()
    assert sheet.attributes[row["s01"]] == {"track": "data-analysis", "major": "non-major"}


def test_two_graders_of_one_trainee_leave_the_right_scorecard(engine, cur: Curriculum) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Results of two submissions of one trainee written by two sessions at once: the second
    waits for the first's commit (member row lock / SQLite's single writer); on PostgreSQL,
    without the lock, it would rewrite the scorecard from a snapshot taken before that commit
    and fail on the first's new row."""
    sessions = session_factory(engine)
    enrol(sessions, cur, PEOPLE)
    with sessions.begin() as s:
        ids = [submit(s, "s04", hours).id for hours in (-3, -2)]
    done: dict[str, float] = {}

    def second() -> None:
        with sessions.begin() as s2:
            ex.record_grades(s2, ex.submission(s2, ids[1]), [Cell(4, 10)], actor="g2", now=NOW)
        done["second"] = time.monotonic()

    with sessions.begin() as s1:
        ex.record_grades(s1, ex.submission(s1, ids[0]), [Cell(7, 10)], actor="g1", now=NOW)
        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(1.0)
        assert "second" not in done  # it waits for this transaction
        committed = time.monotonic()
    worker.join(60)
    assert done["second"] >= committed
    with sessions() as s:
        assert scorecards.stale(s) == []
        assert cell_of(s, "s04") == [(ids[1], scorecards.GRADED, 4.0, 0.0)]
        assert [r.raw_score for r in s.scalars(select(Result).order_by(Result.id))] == [7.0, 4.0]


def downgrade(engine, revision: str) -> None:  # type: ignore[no-untyped-def]
    """alembic downgrade to `revision`, as store/db.py upgrades."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_fills_scorecards_from_the_history(db_url: str, cur: Curriculum) -> None:  # noqa: F811
    """A database at 0006 with history (staged at head with today's models, then migrated down,
    which drops the scorecards and the later columns) gets its scorecards from 0007."""
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    enrol(sessions, cur, PEOPLE)
    with sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, "da-basics-check", COHORT)
        people = [repo.member(s, u).id for u, _, _, _ in PEOPLE]
        rows = [
            {"assessment_id": a.id, "member_id": mid, "submitted_at": NOW + timedelta(minutes=k),
             "sha256": "0" * 64, "size": 1, "files": []}
            for k in range(2) for mid in people[:4]
        ]  # fmt: skip
        s.execute(insert(Submission), rows)
        subs = s.scalars(select(Submission.id).order_by(Submission.id)).all()
        s.execute(
            insert(Result),
            [{"submission_id": sid, "status": "graded", "raw_score": float(sid % 10),
              "max_score": 10.0, "late_seconds": 0.0, "penalty": 0.0,
              "final_score": float(sid % 10), "computed_at": NOW, "details": {}}
             for sid in subs[:-1]],
        )  # fmt: skip
    downgrade(engine, "0006")
    assert upgrade(engine).current == head_revision(engine)
    with sessions() as s:
        assert len(s.scalars(select(Scorecard)).all()) == 4
        assert cell_of(s, "s00")[0][:3] == (subs[4], scorecards.GRADED, float(subs[4] % 10))
        assert cell_of(s, "s03") == [(subs[-1], scorecards.UNGRADED, 0.0, 0.0)]
    gathered = same_inputs(sessions, cur)
    assert gathered.pending == 1
    engine.dispose()
