"""The board's counts against a real database (SQLite and PostgreSQL): boards.board counts the
latest submissions in the database (hub/boards.py `_tallies`), and its numbers and states are
the ones the submissions' objects give (the path the submissions table still reads: `_facts`,
`state_of`, `_status`) — on time and late against each trainee's due instant (an extension
included), graded, failed, waiting for manual grading or for grading, feedback, a trainee of
another stage who submitted anyway, and the grading queue; in a fixed handful of queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from sadari.hub import boards
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.store import exchange as ex
from sadari.hub.store import grading, repo
from sadari.hub.store.db import session_factory
from sadari.hub.store.models import Enrollment, GradingJob, Stage

COHORT, TRACK, STAGE = "2026-seoul-1", "data-analysis", "basics"
AID = "da-basics-check"
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # the curriculum's
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# username, stage, [(hours from the due instant, outcome)] oldest first; outcome: (q1, q2) points
# | "failed" | "manual" | None (no result yet)
PEOPLE: list[tuple[str, str, list[tuple[float, Any]]]] = [
    ("b01", "basics", [(-30, (4, 6))]),  # on time, graded, gets feedback
    ("b02", "basics", [(3, (4, 6)), (-1, None)]),  # late first, then on time: the latest counts
    ("b03", "basics", [(2, (3, 5))]),  # two hours after: on time by an extension
    ("b04", "basics", [(5, (2, 2))]),  # late
    ("b05", "basics", [(-2, "failed")]),
    ("b06", "basics", [(-3, "manual")]),
    ("b07", "basics", []),  # nothing submitted
    ("b08", "advanced", [(-4, (1, 1))]),  # of another stage, submitted anyway
]


@dataclass
class Cell:
    notebook: str
    cell: str
    score: float | None
    max_score: float
    kind: str = "auto"


def build(engine: Any, cur: Curriculum) -> Any:
    sessions = session_factory(engine)
    lines = ["username,name,cohort,track,stage,role"]
    lines += [f"{u},교육생 {u},{COHORT},{TRACK},{st},trainee" for u, st, _ in PEOPLE]
    data = "\n".join(lines).encode()
    with sessions.begin() as s:
        repo.sync_curriculum(s, cur, NOW)
        rows = parse_roster(data, "r.csv", cur)
        repo.import_roster(s, rows, data=data, file="r.csv", actor="t", now=NOW)
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        release = ex.record_release(
            s, a, sha256="1" * 64, size=1, notebooks=["nb.ipynb"], actor="inst", now=NOW
        )
        for u, _, history in PEOPLE:
            for hours, outcome in history:
                sub = ex.record_submission(
                    s, repo.member(s, u), a, release, sha256="0" * 64, size=1, files=[],
                    now=DUE + timedelta(hours=hours),
                )  # fmt: skip
                at = DUE + timedelta(hours=hours, minutes=5)
                if outcome == "failed":
                    ex.record_failure(s, sub, "kernel died", now=at)
                elif outcome == "manual":
                    cells = [Cell("nb", "q1", 2, 4), Cell("nb", "q2", None, 6, "manual")]
                    ex.record_grades(s, sub, cells, actor="grader", now=at)
                elif outcome is not None:
                    cells = [Cell("nb", "q1", outcome[0], 4), Cell("nb", "q2", outcome[1], 6)]
                    ex.record_grades(s, sub, cells, actor="grader", now=at)
                if u == "b01":
                    ex.record_feedback(s, sub, sha256="2" * 64, actor="inst", now=at)
        ex.grant_extension(
            s, a, "b03", DUE + timedelta(hours=12), actor="inst", reason="병가", now=NOW
        )
    return sessions


def by_objects(s: Any, now: datetime) -> dict[str, Any]:
    """The assessment's counts and state as the submissions' objects give them."""
    (a,) = ex.cohort_assessments(s, AID, COHORT)
    facts = boards._facts(s, [a.id])
    subs = facts.latest.get(a.id, [])
    exts = {e.member_id: e.due_at for e in facts.extensions.get(a.id, [])}
    enrolled = set(
        s.scalars(
            select(Enrollment.member_id)
            .join(Stage, Enrollment.stage_id == Stage.id)
            .where(Stage.id == a.stage_id, Enrollment.status == "active")
        )
    )
    statuses = Counter(boards._status(x) for x in subs)
    late = sum(1 for x in subs if x.submitted_at > boards._due_of(a, exts, x.member_id))
    jobs = facts.jobs.get(a.id, Counter())
    closes = max([a.effective_due, *exts.values()])
    return {
        "state": boards.state_of(a.id in facts.releases, subs, jobs, closes, now),
        "counts": {
            "trainees": len(enrolled),
            "submitted": len(subs),
            "on_time": len(subs) - late,
            "late": late,
            "not_submitted": len(enrolled - {x.member_id for x in subs}),
            "graded": statuses["graded"],
            "failed": statuses["failed"],
            "needs_manual": statuses["needs_manual"],
            "waiting": statuses["waiting"],
            "feedback": sum(1 for x in subs if x.feedback is not None),
        },
        "jobs": {k: jobs.get(k, 0) for k in ("queued", "running", "done", "failed")},
    }


def latest(s: Any, username: str) -> Any:
    """The trainee's latest submission (the highest id, as the board counts)."""
    return max(ex.submissions_of(s, username, AID), key=lambda x: x.id)


def the_board(sessions: Any, now: datetime = NOW) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the board's row of AID, the same from the objects)."""
    with sessions() as s:
        board = boards.board(s, COHORT, TRACK, STAGE, now)
        (row,) = [r for r in board["assessments"] if r["id"] == AID]
        return row, by_objects(s, now)


def test_the_counts_are_the_objects_counts(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = build(engine, curriculum)
    row, objects = the_board(sessions)
    assert row["counts"] == {
        "trainees": 7,
        "submitted": 7,  # b08 of the advanced stage too
        "on_time": 6,
        "late": 1,  # b04 (b02's late one is not the latest; b03 has an extension)
        "not_submitted": 1,  # b07
        "graded": 4,  # b01, b03, b04, b08
        "failed": 1,
        "needs_manual": 1,
        "waiting": 1,  # b02's latest
        "feedback": 1,
    }
    assert {k: row[k] for k in ("state", "counts", "jobs")} == objects
    assert row["state"] == "collecting"  # past the deadline and the extension, not all graded
    assert the_board(sessions, DUE - timedelta(days=1))[0]["state"] == "released"
    assert [e["username"] for e in row["extensions"]] == ["b03"]

    with sessions.begin() as s:  # b02's latest queued for grading: the board says grading
        grading.enqueue(s, [latest(s, "b02")], NOW)
    row, objects = the_board(sessions)
    assert row["state"] == "grading" and row["jobs"]["queued"] == 1
    assert {k: row[k] for k in ("state", "counts", "jobs")} == objects

    with sessions.begin() as s:  # graded: every latest submission has a result
        job = s.scalars(select(GradingJob).where(GradingJob.status == "queued")).one()
        job.status = "done"
        ex.record_grades(
            s,
            latest(s, "b02"),
            [Cell("nb", "q1", 4, 4), Cell("nb", "q2", 6, 6)],
            actor="g",
            now=NOW,
        )
    row, objects = the_board(sessions)
    assert row["state"] == "graded" and row["counts"]["waiting"] == 0
    assert {k: row[k] for k in ("state", "counts", "jobs")} == objects

    with sessions.begin() as s:  # feedback for every result that is not failed
        for u in ("b02", "b03", "b04", "b06", "b08"):
            ex.record_feedback(s, latest(s, u), sha256="3" * 64, actor="inst", now=NOW)
    row, objects = the_board(sessions)
    assert row["state"] == "feedback_released" and row["counts"]["feedback"] == 6
    assert {k: row[k] for k in ("state", "counts", "jobs")} == objects


def test_a_fixed_handful_of_queries(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = build(engine, curriculum)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with sessions() as s:
        board = boards.board(s, COHORT, TRACK, STAGE, NOW)
    assert len(seen) <= 10, seen
    assert board["trainees"] == [f"b0{i}" for i in range(1, 8)]
    assert all(not q.lstrip().upper().startswith("SELECT SUBMISSIONS.ID,") for q in seen)
