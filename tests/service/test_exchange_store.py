"""Exchange records on SQLite and PostgreSQL: who sees what, history, grades, lateness, results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sadari.graders.autograde import CellScore
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo, scorecards
from sadari.hub.store.db import session_factory

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # da-basics-check in 2026-seoul-1
ROSTER = (
    "username,name,cohort,track\n"
    "da1,가,2026-seoul-1,data-analysis\n"
    "da2,나,2026-seoul-1,data-analysis\n"
    "pm1,다,2026-seoul-1,product-manager\n"
    "bs1,라,2026-busan-1,data-analysis\n"
).encode()


@pytest.fixture
def sessions(engine, curriculum: Curriculum):  # type: ignore[no-untyped-def]
    factory = session_factory(engine)
    with factory.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=NOW)
        (a,) = ex.cohort_assessments(s, "da-basics-check", "2026-seoul-1")
        ex.record_release(
            s,
            a,
            sha256="a" * 64,
            size=1,
            notebooks=["da-basics-check.ipynb"],
            actor="instructor",
            now=NOW,
        )
    return factory


def submit(sessions, user: str, at: datetime):  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        m, a, r = ex.trainee_assessment(s, user, "da-basics-check")
        return ex.record_submission(
            s, m, a, r, sha256="b" * 64, size=1, files=["da-basics-check.ipynb"], now=at
        ).id


def test_only_own_cohort_track_and_stage_releases(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        assert [a.slug for a, _ in ex.trainee_assessments(s, "da1")[1]] == ["da-basics-check"]
        assert ex.trainee_assessments(s, "pm1")[1] == []  # another track
        assert ex.trainee_assessments(s, "bs1")[1] == []  # another cohort: not released there
        for user in ("pm1", "bs1"):
            with pytest.raises(repo.NotFound):
                ex.trainee_assessment(s, user, "da-basics-check")
    with sessions.begin() as s:  # moved on to the next stage: stage-1 releases are gone
        repo.move_stage(s, "da2", "advanced", actor="admin", reason="top", now=NOW)
    with sessions() as s, pytest.raises(repo.NotFound):
        ex.trainee_assessment(s, "da2", "da-basics-check")


def test_history_is_kept_and_latest_counts(sessions) -> None:  # type: ignore[no-untyped-def]
    first = submit(sessions, "da1", NOW)
    second = submit(sessions, "da1", NOW + timedelta(minutes=5))
    other = submit(sessions, "da2", NOW)
    with sessions() as s:
        assert [x.id for x in ex.submissions_of(s, "da1")] == [first, second]
        assessments = ex.cohort_assessments(s, "da-basics-check", "2026-seoul-1")
        assert {x.id for x in ex.submissions_for(s, assessments)} == {second, other}
        assert len(ex.submissions_for(s, assessments, history=True)) == 3


def cells(score: float | None) -> list[CellScore]:
    return [
        CellScore("da-basics-check", "t1", 4.0, 4.0, "auto"),
        CellScore("da-basics-check", "memo", score, 6.0, "manual"),
    ]


def test_results_with_lateness_extension_and_manual_grades(sessions) -> None:  # type: ignore[no-untyped-def]
    late = submit(sessions, "da1", DUE + timedelta(hours=1, minutes=1))  # 2 started hours
    with sessions.begin() as s:
        r = ex.record_grades(s, ex.submission(s, late), cells(None), actor="grader", now=NOW)
        assert (r.status, r.raw_score, r.max_score) == ("needs-manual", 4.0, 10.0)
        assert r.details["pending_manual"] == ["da-basics-check:memo"]
        r = ex.record_grades(s, ex.submission(s, late), cells(5.0), actor="kim", now=NOW)
        assert (r.status, r.raw_score, r.penalty, r.final_score) == ("graded", 9.0, 0.2, 7.2)
        (a,) = ex.cohort_assessments(s, "da-basics-check", "2026-seoul-1")
        ex.grant_extension(
            s, a, "da1", DUE + timedelta(days=1), actor="kim", reason="병가", now=NOW
        )
        r = ex.submission(s, late).result  # recomputed by the extension
        assert r is not None and (r.penalty, r.final_score, r.late_seconds) == (0.0, 9.0, 0.0)
        assert r.status == "graded"
        row = ex.result_row(ex.submission(s, late))
        assert (row["username"], row["final_score"], row["penalty_percent"]) == ("da1", 9.0, 0.0)
    with sessions() as s:
        (entry,) = repo.audit_entries(s, target="user:da1")
        assert (entry.action, entry.details["results_recomputed"]) == ("assessment.extension", 1)


def test_moving_the_deadline_is_audited(sessions) -> None:  # type: ignore[no-untyped-def]
    sid = submit(sessions, "da2", DUE + timedelta(minutes=10))
    failed = submit(sessions, "da1", DUE + timedelta(minutes=10))
    with sessions.begin() as s:
        r = ex.record_grades(s, ex.submission(s, sid), cells(6.0), actor="g", now=NOW)
        assert r.penalty == 0.1  # 10 minutes late: one started hour
        ex.record_failure(s, ex.submission(s, failed), "the kernel died", now=NOW)
    with sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, "da-basics-check", "2026-seoul-1")
        ex.set_due(s, a, DUE + timedelta(hours=1), actor="kim", reason="서버 점검", now=NOW)
    with sessions() as s:
        r = ex.submission(s, sid).result
        assert r is not None and (r.penalty, r.final_score) == (0.0, 10.0)
        f = ex.submission(s, failed).result
        assert f is not None and (f.status, f.final_score) == ("failed", 0.0)
        assert scorecards.stale(s) == []
        (entry,) = repo.audit_entries(s, target="assessment:2026-seoul-1/da-basics-check", limit=1)
        assert (entry.action, entry.reason) == ("assessment.set_due", "서버 점검")
        assert entry.details["results_recomputed"] == 1


def test_a_failed_grading_scores_zero_with_the_reason(sessions) -> None:  # type: ignore[no-untyped-def]
    sid = submit(sessions, "da1", NOW)
    with sessions.begin() as s:
        r = ex.record_failure(s, ex.submission(s, sid), "timed out", now=NOW)
        assert (r.status, r.final_score, r.details) == ("failed", 0.0, {"reason": "timed out"})


def test_manual_grades_keep_the_grading_outcome(sessions) -> None:  # type: ignore[no-untyped-def]
    """Reading manual grades back is bookkeeping: the grading's status and reason stay, the
    autograded cells stay as the grading left them; only a new grading changes them."""
    sid = submit(sessions, "da1", NOW)
    with sessions.begin() as s:
        sub = ex.submission(s, sid)
        r = ex.record_grades(
            s, sub, cells(None), actor="grader", now=NOW, status="crashed", reason="kernel died"
        )
        assert (r.status, r.details["grading_status"]) == ("needs-manual", "crashed")
        # nbgrader's gradebook read back: the memo graded, and an autograded cell it reads as 0
        back = [
            CellScore("da-basics-check", "t1", 0.0, 4.0, "auto"),
            CellScore("da-basics-check", "memo", 5.0, 6.0, "manual"),
        ]
        r = ex.record_manual_grades(s, sub, back, actor="kim", now=NOW)
        assert r is not None
        assert (r.status, r.details["reason"], r.raw_score) == ("crashed", "kernel died", 9.0)
        r = ex.record_grades(s, sub, cells(5.0), actor="grader", now=NOW)  # a new grading
        assert (r.status, r.details["reason"]) == ("graded", "")


def test_manual_grades_leave_ungraded_and_failed_submissions_alone(sessions) -> None:  # type: ignore[no-untyped-def]
    ungraded = submit(sessions, "da1", NOW)
    failed = submit(sessions, "da2", NOW)
    with sessions.begin() as s:
        ex.record_failure(s, ex.submission(s, failed), "the grader stopped 3 times", now=NOW)
        for sid in (ungraded, failed):
            assert (
                ex.record_manual_grades(s, ex.submission(s, sid), cells(5.0), actor="k", now=NOW)
                is None
            )
    with sessions() as s:
        assert ex.submission(s, ungraded).result is None
        r = ex.submission(s, failed).result
        assert r is not None and (r.status, r.raw_score) == ("failed", 0.0)
        assert r.details == {"reason": "the grader stopped 3 times"}


def test_holding_feedback_back_is_audited(sessions) -> None:  # type: ignore[no-untyped-def]
    sid = submit(sessions, "da1", NOW)
    until = DUE + timedelta(hours=4)
    with sessions.begin() as s:
        ex.record_feedback_hold(
            s,
            ex.submission(s, sid),
            why="late-window",
            reason="r",
            until=until,
            actor="kim",
            now=NOW,
        )
        assert ex.submission(s, sid).feedback is None
        ex.record_feedback(
            s, ex.submission(s, sid), sha256="c" * 64, actor="kim", now=NOW, hidden_tests=True
        )
    with sessions() as s:
        release, hold = repo.audit_entries(s, target="user:da1")
        assert (hold.action, hold.actor) == ("feedback.hold", "kim")
        assert hold.details == {
            "assessment": "da-basics-check",
            "submission": sid,
            "why": "late-window",
            "reason": "r",
            "until": until.isoformat(),
            "earlier_feedback": False,
        }
        assert (release.action, release.details["hidden_tests"]) == ("feedback.release", True)
