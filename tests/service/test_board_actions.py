"""The board's two actions against a real database: regrading one submission (queued again on
purpose with an audited reason, graded once by the next worker, 202 with its progress from the
API) and the preview of releasing feedback (who would get it, who is held back, waits for a
regrade or has no submission — and nothing written), which the release itself then agrees with."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tornado.httpclient import AsyncHTTPClient

from sadari.graders.autograde import CellScore, Job, NbgraderSubprocess, Outcome
from sadari.hub import assessments as ops_
from sadari.hub import workers as workers_
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import grading, repo
from sadari.hub.store.db import make_engine, session_factory
from sadari.hub.store.models import AuditEntry, Feedback, Grade, GradingJob, Result
from tests.service.test_feedback_release import Clock, serving
from tests.support.hub import ROOT

AID = "pm-basics-check"  # late policy zero; hidden tests; a memo graded by hand
COHORT = "2026-seoul-1"
SOURCE = ROOT / f"labs/product-manager/basics/assessments/{AID}/{AID}.ipynb"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # the curriculum's
ROSTER = (
    "username,name,cohort,track\n"
    f"pm1,박피엠,{COHORT},product-manager\n"
    f"pm2,김피엠,{COHORT},product-manager\n"
    f"pm3,이피엠,{COHORT},product-manager\n"
    f'pm4,"<img src=x onerror=alert(1)>",{COHORT},product-manager\n'
).encode()


def make_ops(url: str, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:
    sessions = session_factory(make_engine(url))
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=NOW)
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp_path / "data"), db_url=url)
    return ops_.Ops(
        settings, sessions, LocalBlobStore(tmp_path / "blobs"), curriculum, "inst", Clock(NOW)
    )


@pytest.fixture
def ops(migrated_url: str, curriculum: Curriculum, tmp_path: Path) -> Iterator[ops_.Ops]:
    o = make_ops(migrated_url, curriculum, tmp_path)
    yield o
    o.sessions.kw["bind"].dispose()


def submit(ops: ops_.Ops, user: str) -> int:
    """A submission at the service's now (the instructor's solutions)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{AID}.ipynb", SOURCE.read_bytes())
    sha = ops.blobs.put(buf.getvalue())
    with ops.sessions.begin() as s:
        m, a, release = ex.trainee_assessment(s, user, AID)
        return ex.record_submission(
            s, m, a, release, sha256=sha, size=len(buf.getvalue()), files=[f"{AID}.ipynb"],
            now=ops.now(),
        ).id  # fmt: skip


def record_release(ops: ops_.Ops) -> None:
    """A release on record (the queue tests need no nbgrader run)."""
    with ops.sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        ex.record_release(
            s, a, sha256="0" * 64, size=0, notebooks=[f"{AID}.ipynb"], actor="inst", now=NOW
        )


class Counting:
    """A grader that counts its gradings; each gives one point more than the last."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def grade(self, job: Job) -> Outcome:
        self.jobs.append(job.student)
        points = float(len(self.jobs))
        return Outcome("graded", [CellScore(AID, "pm-test", points, 10.0, "auto")])

    def close(self) -> None:
        pass


def regrade(ops: ops_.Ops, sid: int, reason: str) -> dict[str, Any]:
    with ops.sessions.begin() as s:
        return grading.regrade(s, ex.submission(s, sid), actor="inst", reason=reason, now=ops.now())


def audit(ops: ops_.Ops, action: str) -> list[AuditEntry]:
    with ops.sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action))
        for e in rows:
            s.expunge(e)
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --- regrading one submission -------------------------------------------------------------------


def test_a_regrade_queues_again_with_an_audited_reason_and_runs_once(
    ops: ops_.Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_release(ops)
    monkeypatch.setattr(ops_, "prepare", lambda o, c, aid: o.course_dir(c))  # no nbgrader here
    sid = submit(ops, "pm1")
    other = submit(ops, "pm2")
    grader = Counting()
    assert workers_.autograde(ops, AID, grader, COHORT) == {"graded": 2}
    assert workers_.autograde(ops, AID, grader, COHORT) == {}  # once per release: nothing again
    assert len(grader.jobs) == 2

    with pytest.raises(ValueError, match="reason is required"):
        regrade(ops, sid, "  ")
    job = regrade(ops, sid, "grader image fixed / 채점 이미지 수정")
    assert (job["status"], job["requeued"]) == ("queued", True)
    again = regrade(ops, sid, "clicked twice")  # queued already: nothing added
    assert (again["job"], again["status"], again["requeued"]) == (job["job"], "queued", False)
    with ops.sessions() as s:
        assert s.scalar(select(func.count(GradingJob.id))) == 2  # one job per submission still
        assert grading.statuses(s, [sid, other]) == {sid: "queued", other: "done"}
        assert ex.submission(s, sid).result.raw_score in (1.0, 2.0)  # the result stands meanwhile

    counts = workers_.work(ops, grader)  # the next worker (the service's loop) grades it
    assert counts == {"graded": 1} and grader.jobs == ["pm1", "pm2", "pm1"]
    assert workers_.work(ops, grader) == {}  # and only once
    with ops.sessions() as s:
        j = s.get(GradingJob, job["job"])
        assert (j.status, j.attempts) == ("done", 1)
        assert ex.submission(s, sid).result.raw_score == 3.0
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "grading.regrade").order_by(AuditEntry.id)
        ).all()
        assert [(e.actor, e.target, e.reason) for e in entries] == [
            ("inst", "user:pm1", "grader image fixed / 채점 이미지 수정"),
            ("inst", "user:pm1", "clicked twice"),
        ]
        assert entries[0].details["job_before"] == "done"
        assert entries[0].details["result_before"]["status"] == "graded"
        assert (entries[0].details["requeued"], entries[1].details["requeued"]) == (True, False)


async def test_the_api_queues_a_regrade_and_answers_202_with_its_progress(
    ops: ops_.Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_release(ops)
    monkeypatch.setattr(ops_, "prepare", lambda o, c, aid: o.course_dir(c))
    sid = submit(ops, "pm1")
    grader = Counting()
    workers_.autograde(ops, AID, grader, COHORT)
    client = AsyncHTTPClient()

    async def fetch(path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        r = await client.fetch(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            headers={"Authorization": "token inst"},
            body=None if body is None else json.dumps(body),
            raise_error=False,
        )
        return r.code, json.loads(r.body)

    base = f"/api/v1/assessments/{AID}/submissions/{sid}"
    with serving(ops) as port:
        code, err = await fetch(f"{base}/regrade", "POST", {"reason": ""})
        assert (code, err["status"]) == (400, 400) and "reason" in err["message"]
        code, err = await fetch(
            f"/api/v1/assessments/da-basics-check/submissions/{sid}/regrade",
            "POST",
            {"reason": "x"},
        )
        assert code == 404
        code, body = await fetch(f"{base}/regrade", "POST", {"reason": "flaky kernel"})
        assert code == 202, body
        assert body["progress"] == f"/services/sadari{base}/grading"
        assert (body["status"], body["requeued"]) == ("queued", True)
        code, p = await fetch(f"{base}/grading?lang=en")
        assert (code, p["grading"], p["job"]["status"]) == (200, "queued", "queued")
        assert p["result"]["raw_score"] == 1.0  # the first grading's, until the regrade's
        workers_.work(ops, grader)
        code, p = await fetch(f"{base}/grading")
        assert (p["grading"], p["status"], p["result"]["raw_score"]) == ("done", "graded", 2.0)
        assert p["cells"] == [{"notebook": AID, "cell": "pm-test", "score": 2.0, "max_score": 10.0}]
    (entry,) = [e for e in audit(ops, "grading.regrade")]
    assert (entry.actor, entry.reason) == ("inst", "flaky kernel")


# --- the preview of releasing feedback ----------------------------------------------------------


def snapshot(ops: ops_.Ops) -> dict[str, Any]:
    """What a release of feedback could change: rows and blobs."""
    assert isinstance(ops.blobs, LocalBlobStore)
    with ops.sessions() as s:
        rows = {
            model.__name__: s.scalar(select(func.count()).select_from(model))
            for model in (AuditEntry, Feedback, GradingJob, Result, Grade)
        }
        results = sorted(
            (r.submission_id, r.status, r.raw_score, r.final_score)
            for r in s.scalars(select(Result))
        )
    blobs = sorted(str(p) for p in ops.blobs.root.rglob("*") if p.is_file())
    return {"rows": rows, "results": results, "blobs": blobs}


def test_the_preview_says_who_is_held_waiting_or_without_a_submission_and_writes_nothing(
    ops: ops_.Ops,
) -> None:
    ops_.release(ops, AID, COHORT)
    ids = {user: submit(ops, user) for user in ("pm1", "pm2", "pm3")}
    with ops.sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        ex.grant_extension(
            s, a, "pm2", DUE + timedelta(days=2), actor="inst", reason="병가", now=NOW
        )
    grader = NbgraderSubprocess()
    assert workers_.autograde(ops, AID, grader, COHORT) == {"graded": 3}
    regrade(ops, ids["pm3"], "the memo cell was misread")
    ops.now = Clock(DUE + timedelta(hours=1))  # past the deadline, not pm2's extension

    before = snapshot(ops)
    report = ops_.feedback(ops, AID, COHORT, dry_run=True)
    assert snapshot(ops) == before  # nothing written: no row, no blob, no hold audited
    course = Path(ops.settings.data_dir) / "courses" / COHORT
    assert not (course / "feedback").exists()  # and nbgrader's generate_feedback did not run

    # pm1: released, though the memo waits for a person; pm2: held (their extension runs);
    # pm3: waits for the regrade; pm4: nothing submitted
    assert [r["username"] for r in report["released"]] == ["pm1"]
    assert [(m["username"], len(m["pending_manual"])) for m in report["manual"]] == [("pm1", 1)]
    assert [(h["username"], h["why"]) for h in report["held"]] == [("pm2", "extension")]
    assert report["held"][0]["until"] == (DUE + timedelta(days=2)).isoformat()
    assert [(w["username"], w["grading"]) for w in report["waiting"]] == [("pm3", "queued")]
    assert report["no_submission"] == [{"cohort": COHORT, "username": "pm4", "submission": None}]
    assert report["not_graded"] == report["failed"] == []
    assert any("pm-test-visitors" in h for h in report["hidden_tests"])

    real = ops_.feedback(ops, AID, COHORT)  # the release agrees with its preview
    for key in ("released", "manual", "waiting", "no_submission", "not_graded", "failed"):
        assert real[key] == report[key], key
    assert [(h["username"], h["why"]) for h in real["held"]] == [("pm2", "extension")]
    with ops.sessions() as s:
        assert ex.submission(s, ids["pm1"]).feedback is not None
        assert ex.submission(s, ids["pm3"]).feedback is None  # waits for its regrade
    assert [e.target for e in audit(ops, "feedback.hold")] == ["user:pm2"]


async def test_the_preview_api_names_each_trainee_and_counts_the_categories(
    ops: ops_.Ops,
) -> None:
    ops_.release(ops, AID, COHORT)
    submit(ops, "pm1")
    client = AsyncHTTPClient()
    with serving(ops) as port:
        r = await client.fetch(
            f"http://127.0.0.1:{port}/api/v1/assessments/{AID}/feedback/preview?cohort={COHORT}",
            headers={"Authorization": "token inst"},
            raise_error=False,
        )
        assert r.code == 200, r.body
        body = json.loads(r.body)
    assert body["counts"] == {
        "release": 0,
        "manual": 0,
        "held": 0,
        "waiting": 0,
        "not_graded": 1,
        "failed": 0,
        "no_submission": 3,
    }
    assert [(t["username"], t["name"], t["category"]) for t in body["trainees"]] == [
        ("pm1", "박피엠", "not_graded"),
        ("pm2", "김피엠", "no_submission"),
        ("pm3", "이피엠", "no_submission"),
        ("pm4", "<img src=x onerror=alert(1)>", "no_submission"),  # data; pages escape it
    ]
    with ops.sessions() as s:
        assert s.scalars(select(Feedback)).first() is None
