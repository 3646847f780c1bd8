"""Manual grading on SQLite and PostgreSQL: the queue, a grade given in sadari (versioned,
audited, counted in the result, shown in the feedback), a stale write refused, formgrader's
import never overwriting sadari's grades, a regrade keeping them, autograded points changed only
with a reason, and migration 0009 up and down."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from sadari.graders.autograde import CellScore
from sadari.hub import assessments as ops_
from sadari.hub import grading_manual as gm
from sadari.hub import nbview
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import alembic_config, make_engine, session_factory, upgrade
from sadari.hub.store.models import Grade
from tests.support.hub import ROOT

AID = "pm-basics-check"
COHORT = "2026-seoul-1"
SOURCE = ROOT / f"labs/product-manager/basics/assessments/{AID}/{AID}.ipynb"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ROSTER = (
    "username,name,cohort,track\n"
    f"pm1,박피엠,{COHORT},product-manager\n"
    f"pm2,이피엠,{COHORT},product-manager\n"
    f"pm3,최피엠,{COHORT},product-manager\n"
).encode()
MEMO = "pm-memo"


def cells(memo: float | None, test: float = 3.0) -> list[CellScore]:
    return [
        CellScore(AID, "pm-test", test, 3.0, "auto", "log"),
        CellScore(AID, MEMO, memo, 2.0, "manual"),
    ]


@pytest.fixture
def ops(engine, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=NOW)
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        ex.record_release(
            s, a, sha256="a" * 64, size=1, notebooks=[f"{AID}.ipynb"], actor="inst", now=NOW
        )
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp_path))
    blobs = LocalBlobStore(tmp_path / "blobs")
    return ops_.Ops(settings, sessions, blobs, curriculum, "instructor", lambda: NOW)


def submit(ops: ops_.Ops, user: str, minutes: int = 0, memo: float | None = None) -> int:
    """A submission of the source notebook (its answer is the instructor's), autograded with the
    memo waiting for a person (or scored `memo` by the run)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{AID}.ipynb", SOURCE.read_bytes())
    sha = ops.blobs.put(buf.getvalue())
    with ops.sessions.begin() as s:
        m, a, r = ex.trainee_assessment(s, user, AID)
        sub = ex.record_submission(
            s,
            m,
            a,
            r,
            sha256=sha,
            size=1,
            files=[f"{AID}.ipynb"],
            now=NOW + timedelta(minutes=minutes),
        )
        ex.record_grades(s, sub, cells(memo), actor="grading-run", now=NOW)
        return sub.id


def grade(ops: ops_.Ops, sid: int, points: float, version: int, who: str = "kim", **kw):  # type: ignore[no-untyped-def]
    with ops.sessions.begin() as s:
        row = ex.write_grade(
            s,
            ex.submission(s, sid),
            kw.pop("notebook", AID),
            kw.pop("cell", MEMO),
            points=points,
            comment=kw.pop("comment", ""),
            version=version,
            reason=kw.pop("reason", ""),
            actor=who,
            now=NOW,
        )
        return ex.grade_view(row)


def test_the_queue_shows_answers_by_pseudonym_and_progress(ops: ops_.Ops) -> None:
    late, early = submit(ops, "pm2", minutes=5), submit(ops, "pm1", minutes=9)
    with ops.sessions() as s:
        view = gm.queue(s, COHORT, AID, None)
    (q,) = view["questions"]
    assert (q["key"], q["graded"], q["total"], q["first_waiting"]) == (f"{AID}:{MEMO}", 0, 2, 1)
    assert (view["waiting"], view["total"], view["graders"]) == (2, 2, [])
    with ops.sessions() as s:
        first = gm.answer(s, COHORT, AID, q["key"], 1, None)
        second = gm.answer(s, COHORT, AID, q["key"], 2, None)
        with pytest.raises(repo.NotFound):
            gm.answer(s, COHORT, AID, q["key"], 3, None)
        with pytest.raises(repo.NotFound):
            gm.answer(s, COHORT, AID, f"{AID}:pm-test", 1, None)  # autograded: not in the queue
    # pm2 submitted first: Trainee #1
    assert (first["answer"]["pseudonym"], first["answer"]["submission"]) == (1, late)
    assert (second["answer"]["pseudonym"], second["answer"]["username"]) == (2, "pm1")
    assert (first["prev"], first["next"], second["next"]) == (None, 2, None)
    assert first["grade"]["version"] == 1 and first["grade"]["score"] is None
    # the answer cell of the trainee's notebook, rendered safely, with the cell before it
    notebooks = nbview.notebooks(ops.blobs.get(first["answer"]["sha256"]))
    prompt, cell = gm.answer_cells(notebooks, AID, MEMO)
    assert cell is not None and cell.grade_id == MEMO and prompt is not None
    assert gm.answer_cells(notebooks, AID, "nothing") == (None, None)
    grade(ops, early, 2.0, 1)
    with ops.sessions() as s:
        view = gm.queue(s, COHORT, AID, None)
    assert view["questions"][0]["graded"] == 1 and view["graders"] == [("kim", 1)]


def test_a_grade_counts_in_the_result_is_audited_and_reaches_the_feedback(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm1")
    with ops.sessions() as s:
        r = ex.submission(s, sid).result
        assert r is not None and (r.status, r.raw_score, r.max_score) == ("needs-manual", 3.0, 5.0)
    g = grade(ops, sid, 1.5, 1, comment="근거가 부족합니다 <b>more</b>")
    assert (g["score"], g["version"], g["origin"], g["graded_by"]) == (1.5, 2, "sadari", "kim")
    with ops.sessions() as s:
        sub = ex.submission(s, sid)
        r = sub.result
        assert r is not None and (r.status, r.raw_score, r.final_score) == ("graded", 4.5, 4.5)
        (entry,) = [
            e for e in repo.audit_entries(s, target="user:pm1") if e.action.startswith("grade")
        ]
        assert (entry.action, entry.actor) == ("grade.manual", "kim")
        assert entry.details["from"] is None and entry.details["to"] == 1.5
        assert entry.details["cell"] == MEMO and entry.details["version"] == 2
        html = ops_._summary_html(sub, sub.assessment).decode()
        seoul = (sub.submitted_at + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
    assert f'id="submitted">{seoul}</td>' in html and "Asia/Seoul" in html  # the cohort's zone
    assert "1.5 / 2" in html and "근거가 부족합니다 &lt;b&gt;more&lt;/b&gt;" in html


def test_a_stale_write_is_refused_with_the_stored_grade(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm1")
    grade(ops, sid, 2.0, 1, who="kim", comment="good")
    with pytest.raises(ex.StaleGrade) as e:
        grade(ops, sid, 0.0, 1, who="lee")  # lee's page still showed version 1
    assert (e.value.current["score"], e.value.current["graded_by"]) == (2.0, "kim")
    assert e.value.current["version"] == 2 and e.value.current["comment"] == "good"
    with ops.sessions() as s:
        r = ex.submission(s, sid).result
        assert r is not None and r.raw_score == 5.0
        assert [
            e.actor for e in repo.audit_entries(s, target="user:pm1") if e.action == "grade.manual"
        ] == ["kim"]
    assert grade(ops, sid, 1.0, 2, who="lee")["version"] == 3  # with what is stored now


def test_bad_points_and_unknown_cells_are_refused(ops: ops_.Ops) -> None:
    sid = submit(ops, "pm1")
    for points in (-1, 2.5, "2"):
        with pytest.raises(repo.Invalid):
            grade(ops, sid, points, 1)  # type: ignore[arg-type]
    with pytest.raises(repo.NotFound):
        grade(ops, sid, 1, 1, cell="nope")
    failed = submit(ops, "pm2")
    with ops.sessions.begin() as s:
        ex.record_failure(s, ex.submission(s, failed), "the kernel died", now=NOW)
    with pytest.raises(repo.Invalid):
        grade(ops, failed, 1, 1)


def test_autograded_points_change_only_with_a_reason_and_a_regrade_replaces_them(
    ops: ops_.Ops,
) -> None:
    sid = submit(ops, "pm1")
    with pytest.raises(repo.Invalid):
        grade(ops, sid, 1.0, 1, cell="pm-test")
    g = grade(ops, sid, 1.0, 1, cell="pm-test", reason="the test checked the wrong column")
    assert (g["kind"], g["score"], g["reason"]) == (
        "auto",
        1.0,
        "the test checked the wrong column",
    )
    grade(ops, sid, 2.0, 1)  # the memo, by hand
    with ops.sessions() as s:
        (entry,) = [
            e for e in repo.audit_entries(s, target="user:pm1") if e.action == "grade.adjust"
        ]
        assert entry.reason == "the test checked the wrong column"
        assert (entry.details["from"], entry.details["to"]) == (3.0, 1.0)
        assert ex.submission(s, sid).result.raw_score == 3.0  # type: ignore[union-attr]
    with ops.sessions.begin() as s:  # a new release's grading of the same submission
        r = ex.record_grades(s, ex.submission(s, sid), cells(None), actor="grading-run", now=NOW)
        assert (r.status, r.raw_score) == ("graded", 5.0)  # the memo's 2 by hand stays
        rows = {g.cell: g for g in s.query(Grade).filter_by(submission_id=sid)}
        assert (rows[MEMO].origin, rows[MEMO].graded_by, rows[MEMO].score) == ("sadari", "kim", 2.0)
        assert (rows["pm-test"].origin, rows["pm-test"].reason) == ("grader", None)


def test_the_import_fills_what_is_missing_and_never_overwrites_sadari(
    ops: ops_.Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    graded_here, waiting = submit(ops, "pm1"), submit(ops, "pm2")
    grade(ops, graded_here, 2.0, 1, comment="well argued")
    with ops.sessions() as s:
        at = {sid: ex.submission(s, sid).submitted_at for sid in (graded_here, waiting)}
        users = {ex.submission(s, sid).member.username: sid for sid in at}
    formgrader = {"pm1": 0.5, "pm2": 1.0}  # what the course gradebook says
    monkeypatch.setattr(ops_, "_gradebook_time", lambda course, aid, u: at[users[u]])
    monkeypatch.setattr(ops_, "read_scores", lambda course, aid, u: cells(formgrader[u], test=0))
    (ops.course_dir(COHORT) / "gradebook.db").touch()
    assert ops_.import_manual_grades(ops, AID, COHORT) == 2
    with ops.sessions() as s:
        mine = ex.grade_of(s, ex.submission(s, graded_here), AID, MEMO)
        assert (mine.score, mine.origin, mine.comment, mine.version) == (
            2.0,
            "sadari",
            "well argued",
            2,
        )
        filled = ex.grade_of(s, ex.submission(s, waiting), AID, MEMO)
        assert (filled.score, filled.origin, filled.version) == (1.0, "formgrader", 2)
        # autograded cells stay the grading's (the gradebook read them as 0)
        assert ex.grade_of(s, ex.submission(s, waiting), AID, "pm-test").score == 3.0
        assert ex.submission(s, waiting).result.raw_score == 4.0  # type: ignore[union-attr]
    ops_.import_manual_grades(ops, AID, COHORT)  # again: nothing changed, no version moves
    with ops.sessions() as s:
        assert ex.grade_of(s, ex.submission(s, waiting), AID, MEMO).version == 2
    # a browser grade of the imported cell wins from then on
    grade(ops, waiting, 0.0, 2, who="lee")
    formgrader["pm2"] = 2.0
    ops_.import_manual_grades(ops, AID, COHORT)
    with ops.sessions() as s:
        g = ex.grade_of(s, ex.submission(s, waiting), AID, MEMO)
        assert (g.score, g.graded_by, g.version) == (0.0, "lee", 3)


def test_the_project_rubric_is_found_by_assessment() -> None:
    rubric = gm.find_rubric(ROOT / "labs", "da-project")
    assert rubric is not None and rubric.criterion("da-project-question") is not None
    assert gm.find_rubric(ROOT / "labs", AID) is None


def test_migration_0009_from_0008(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0008")
    with engine.begin() as c:
        c.execute(text("INSERT INTO programs (slug, name_ko, name_en) VALUES ('p', 'p', 'p')"))
        c.execute(
            text(
                "INSERT INTO members (username, name, role, created_at, attributes) "
                "VALUES ('t', 't', 'trainee', '2026-11-01 00:00:00', '{}')"
            )
        )
    before = {c["name"] for c in inspect(engine).get_columns("grades")}
    assert upgrade(engine, "0009").current == "0009"
    columns = {c["name"]: c for c in inspect(engine).get_columns("grades")}
    assert set(columns) - before == {"origin", "comment", "reason", "version"}
    assert not columns["version"]["nullable"] and not columns["origin"]["nullable"]
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        from alembic import command

        command.downgrade(cfg, "0008")
    assert {c["name"] for c in inspect(engine).get_columns("grades")} == before
    engine.dispose()
