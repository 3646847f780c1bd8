"""Grading integrity with nbgrader's real machinery: feedback that shows hidden tests is held back
from trainees who could still submit (a deadline moved into the future, one trainee's extension)
and released once their time is up; the instructor is told whom and why (the CLI, the API); a
crashed grading stays crashed through feedback; a release whose student version holds a
solution or hidden test is refused. nbgrader's own release_assignment and release_feedback, through
the exchange routes, obey the same rules."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tornado.httpclient import AsyncHTTPClient

from sadari.graders.autograde import Autograder, Job, NbgraderSubprocess, Outcome, SandboxAutograder
from sadari.graders.exchange.client import ServiceClient
from sadari.graders.sandbox import local
from sadari.hub import assessments as ops_
from sadari.hub import workers as workers_
from sadari.hub.core import permissions as perm
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import make_engine, session_factory
from sadari.hub.store.models import AuditEntry, Release
from tests.support import service
from tests.support.hub import ROOT, hub_env, sadari
from tests.support.service import FakeAuth

AID = "pm-basics-check"  # late policy zero; hidden tests in four test cells
COHORT = "2026-seoul-1"
SOURCE_DIR = ROOT / f"labs/product-manager/basics/assessments/{AID}"
SOURCE = SOURCE_DIR / f"{AID}.ipynb"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # the curriculum's: +13d 18:00 Asia/Seoul
HIDDEN = "41_667"  # from a hidden test of pm-test-visitors
ROSTER = (
    f"username,name,cohort,track\npm1,박피엠,{COHORT},product-manager\n"
    f"pm2,김피엠,{COHORT},product-manager\n"
).encode()


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path):  # type: ignore[no-untyped-def]
    shutil.copyfile(sqlite_template, tmp_path / "db.sqlite")
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield engine
    engine.dispose()


def make_ops(engine, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=NOW)
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp_path / "data"))
    return ops_.Ops(
        settings, sessions, LocalBlobStore(tmp_path / "blobs"), curriculum, "inst", Clock(NOW)
    )


@pytest.fixture
def ops(engine, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:  # type: ignore[no-untyped-def]
    return make_ops(engine, curriculum, tmp_path)


@pytest.fixture
def lite_ops(sqlite_engine, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:  # type: ignore[no-untyped-def]
    return make_ops(sqlite_engine, curriculum, tmp_path)


def clock(ops: ops_.Ops) -> Clock:
    assert isinstance(ops.now, Clock)
    return ops.now


def submit(ops: ops_.Ops, user: str, notebook: bytes | None = None) -> int:
    """A submission at the service's now (the instructor's solutions unless `notebook`)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{AID}.ipynb", notebook or SOURCE.read_bytes())
    sha = ops.blobs.put(buf.getvalue())
    with ops.sessions.begin() as s:
        m, a, release = ex.trainee_assessment(s, user, AID)
        return ex.record_submission(
            s, m, a, release, sha256=sha, size=len(buf.getvalue()), files=[f"{AID}.ipynb"],
            now=ops.now(),
        ).id  # fmt: skip


def autograde(ops: ops_.Ops, grader: Autograder | None = None) -> dict[str, int]:
    grader = grader or NbgraderSubprocess()
    try:
        return workers_.autograde(ops, AID, grader, COHORT)
    finally:
        grader.close()


def set_due(ops: ops_.Ops, due: datetime) -> None:
    """Move the cohort's deadline, as `sadari deadline set` and POST .../due do."""
    with ops.sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        ex.set_due(s, a, due, actor="inst", reason="test", now=ops.now())


def extend(ops: ops_.Ops, user: str, due: datetime) -> None:
    """One trainee's extension, as `sadari deadline extend` and POST .../extensions do."""
    with ops.sessions.begin() as s:
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        ex.grant_extension(s, a, user, due, actor="inst", reason="병가", now=ops.now())


def feedback_html(ops: ops_.Ops, sid: int) -> str | None:
    """The nbgrader feedback HTML the trainee of submission `sid` can fetch (None: none)."""
    with ops.sessions() as s:
        fb = ex.submission(s, sid).feedback
        if fb is None:
            return None
        sha = fb.sha256
    archive = zipfile.ZipFile(io.BytesIO(ops.blobs.get(sha)))
    return archive.read(f"{AID}.html").decode()


def audit(ops: ops_.Ops, action: str) -> list[tuple[str, dict[str, Any]]]:
    with ops.sessions() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [(e.target, e.details) for e in rows]


def test_held_while_the_moved_deadline_is_ahead_then_released(ops: ops_.Ops) -> None:
    """The hostile trainee's case: the deadline moved into the future, feedback run anyway."""
    later = DUE + timedelta(days=1)
    clock(ops).at = later  # the curriculum's deadline has passed ...
    ops_.release(ops, AID, COHORT)
    set_due(ops, later + timedelta(days=2))  # ... and was moved into the future
    ids = {user: submit(ops, user) for user in ("pm1", "pm2")}
    assert autograde(ops) == {"graded": 2}

    report = ops_.feedback(ops, AID, COHORT)
    assert report["released"] == []
    until = (later + timedelta(days=2)).isoformat()
    assert [(h["username"], h["why"], h["until"]) for h in report["held"]] == [
        ("pm1", "deadline", until),
        ("pm2", "deadline", until),
    ]
    assert "has not passed: they can still submit" in report["held"][0]["reason"]
    assert f"{AID}.ipynb, cell 13 'pm-test-visitors'" in "; ".join(report["hidden_tests"])
    assert all(feedback_html(ops, sid) is None for sid in ids.values())
    holds = audit(ops, "feedback.hold")
    assert [(t, d["why"], d["until"]) for t, d in holds] == [
        ("user:pm1", "deadline", until),
        ("user:pm2", "deadline", until),
    ]
    with ops.sessions() as s:  # nothing else changed: the results stand
        assert {ex.submission(s, i).result.status for i in ids.values()} == {"needs-manual"}

    clock(ops).at = later + timedelta(hours=2)
    set_due(ops, later + timedelta(hours=1))  # moved back, into the past
    report = ops_.feedback(ops, AID, COHORT)
    assert [r["username"] for r in report["released"]] == ["pm1", "pm2"]
    assert report["held"] == []
    assert all(HIDDEN in (feedback_html(ops, sid) or "") for sid in ids.values())
    releases = audit(ops, "feedback.release")
    assert [(t, d["hidden_tests"]) for t, d in releases] == [("user:pm1", True), ("user:pm2", True)]


def test_held_for_the_trainee_with_an_extension_only(lite_ops: ops_.Ops) -> None:
    ops = lite_ops
    ops_.release(ops, AID, COHORT)
    ids = {user: submit(ops, user) for user in ("pm1", "pm2")}
    extend(ops, "pm2", DUE + timedelta(days=2))
    assert autograde(ops) == {"graded": 2}

    clock(ops).at = DUE + timedelta(hours=1)
    report = ops_.feedback(ops, AID, COHORT)
    assert [r["username"] for r in report["released"]] == ["pm1"]
    (held,) = report["held"]
    assert (held["username"], held["why"], held["until"]) == (
        "pm2",
        "extension",
        (DUE + timedelta(days=2)).isoformat(),
    )
    assert "their extension to 2026-12-01 09:00:00 UTC has not passed" in held["reason"]
    assert HIDDEN in (feedback_html(ops, ids["pm1"]) or "")
    assert feedback_html(ops, ids["pm2"]) is None

    extend(ops, "pm2", DUE + timedelta(minutes=30))  # the extension ends, now in the past
    report = ops_.feedback(ops, AID, COHORT)
    assert [r["username"] for r in report["released"]] == ["pm1", "pm2"]
    assert report["held"] == []
    assert HIDDEN in (feedback_html(ops, ids["pm2"]) or "")


class ReportsCrash:
    """nbgrader's autograde, reported as the sandbox reports a kernel that died mid-test."""

    reason = f"{AID}:pm-test-conversion-rate: the kernel died / 커널이 종료됨"

    def grade(self, job: Job) -> Outcome:
        out = NbgraderSubprocess().grade(job)
        return Outcome("crashed", out.cells, reason=self.reason)

    def close(self) -> None:
        pass


def killing_submission() -> bytes:
    """The instructor's solutions, except that conversion_rate kills its kernel."""
    nb = json.loads(SOURCE.read_text())
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "pm-conversion":
            text = "".join(cell["source"])
            cell["source"] = text.replace(
                "def conversion_rate(from_users, to_users):\n",
                "def conversion_rate(from_users, to_users):\n"
                "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n",
            )
    return json.dumps(nb).encode()


@pytest.mark.parametrize("kind", ["reported", pytest.param("sandbox", marks=pytest.mark.sandbox)])
def test_a_crashed_grading_stays_crashed_through_feedback(lite_ops: ops_.Ops, kind: str) -> None:
    ops = lite_ops
    ops_.release(ops, AID, COHORT)
    grader: Autograder
    if kind == "sandbox":
        if local.available():
            pytest.skip(f"local sandbox unavailable: {local.available()}")
        sid = submit(ops, "pm1", killing_submission())
        grader = SandboxAutograder(local.LocalSandbox(1, 0), record_nbgrader=True)
    else:
        sid = submit(ops, "pm1")
        grader = ReportsCrash()
    assert autograde(ops, grader) == {"crashed": 1}
    with ops.sessions() as s:
        r = ex.submission(s, sid).result
        before = (r.details["grading_status"], r.details["reason"], r.raw_score)
        assert r.status == "needs-manual"  # the memo waits for an instructor
    assert before[0] == "crashed" and "conversion-rate" in before[1]

    from nbgrader.api import Gradebook  # the memo graded in formgrader

    course = Path(ops.settings.data_dir) / "courses" / COHORT
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("pm-memo", AID, AID, "pm1")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.db.commit()
    clock(ops).at = DUE + timedelta(seconds=1)
    report = ops_.feedback(ops, AID, COHORT)
    assert [r["username"] for r in report["released"]] == ["pm1"]
    with ops.sessions() as s:
        r = ex.submission(s, sid).result
        assert (r.status, r.details["reason"]) == ("crashed", before[1])
        assert r.raw_score == before[2] + 1.5
    ops_.feedback(ops, AID, COHORT)  # and again: bookkeeping never changes the outcome
    with ops.sessions() as s:
        r = ex.submission(s, sid).result
        assert (r.status, r.details["reason"]) == ("crashed", before[1])


# --- the release-time check ---------------------------------------------------------------------


def nothing_released(ops: ops_.Ops) -> None:
    with ops.sessions() as s:
        assert s.scalars(select(Release)).first() is None
    assert not (Path(ops.settings.data_dir) / "courses" / COHORT / "release" / AID).exists()


@pytest.mark.parametrize(
    ("grade_id", "old", "new", "leak"),
    [
        # nbgrader matches its markers case-sensitively: these pass through generate_assignment
        ("pm-test-conversion-rate", "### BEGIN HIDDEN TESTS", "### Begin Hidden Tests", True),
        (
            "pm-test-tam",
            "### BEGIN HIDDEN TESTS",
            "### begin solution\n_ref = 9_172_800_000_000\n### end solution\n"
            "### BEGIN HIDDEN TESTS",
            True,
        ),
        # a hidden test region without its end: nbgrader itself refuses, nothing is released
        ("pm-test-conversion-rate", "### END HIDDEN TESTS", "### End Hidden Tests", False),
    ],
)
def test_a_release_from_a_malformed_source_is_refused(
    lite_ops: ops_.Ops,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    grade_id: str,
    old: str,
    new: str,
    leak: bool,
) -> None:
    ops = lite_ops
    source = tmp_path / "labs" / AID
    shutil.copytree(SOURCE_DIR, source)
    nb = json.loads(SOURCE.read_text())
    (index,) = [
        i for i, c in enumerate(nb["cells"]) if c["metadata"]["nbgrader"]["grade_id"] == grade_id
    ]
    nb["cells"][index]["source"] = "".join(nb["cells"][index]["source"]).replace(old, new, 1)
    (source / f"{AID}.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(ops, "source_dir", lambda aid: source)
    with pytest.raises(ops_.OperationError) as refused:
        ops_.release(ops, AID, COHORT)
    if leak:
        assert isinstance(refused.value, ops_.StudentVersionLeak)
        assert f"refusing to release {AID} to {COHORT}" in str(refused.value)
        where = f"{AID}.ipynb, cell {index} {grade_id!r}: "
        assert any(str(x).startswith(where) for x in refused.value.leaks), refused.value.leaks
    else:
        assert "No end hidden tests statement found" in str(refused.value)
    nothing_released(ops)


def test_a_student_version_doctored_after_generation_is_refused(
    lite_ops: ops_.Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = lite_ops
    real_run = ops_._run

    def doctored(course: Path, *args: str) -> None:  # generate_assignment, then a leak
        real_run(course, *args)
        if args[0] == "generate_assignment":
            path = course / "release" / AID / f"{AID}.ipynb"
            nb = json.loads(path.read_text())
            for c in nb["cells"]:
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "pm-test-visitors":
                    c["source"] += "\nassert visitors_needed(500, 0.012) == 41_667"
            path.write_text(json.dumps(nb))

    monkeypatch.setattr(ops_, "_run", doctored)
    with pytest.raises(ops_.StudentVersionLeak) as refused:
        ops_.release(ops, AID, COHORT)
    (leak,) = refused.value.leaks
    assert (leak.path, leak.cell) == (f"{AID}.ipynb", "cell 13 'pm-test-visitors'")
    assert "holds the hidden test of" in leak.what
    nothing_released(ops)
    monkeypatch.setattr(ops_, "_run", real_run)
    (done,) = ops_.release(ops, AID, COHORT)  # the real student version is clean
    assert done["version"] == 1


# --- what the instructor is told: the API and the CLI ---------------------------------------------


def serving(ops: ops_.Ops) -> Any:
    """The service's handlers on a local port; the token `inst` is an instructor's."""
    return service.serving(ops, FakeAuth({"inst": perm.ROLE_SCOPES["instructor"]}))


async def call(port: int, path: str, body: bytes = b"") -> tuple[int, Any]:
    """POST to an API path as the instructor: (status, JSON answer)."""
    r = await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/api/v1/{path}",
        method="POST",
        headers={"Authorization": "token inst"},
        body=body,
        raise_error=False,
        request_timeout=180,  # a release runs nbgrader: slow on a busy machine (20 s default)
    )
    return r.code, json.loads(r.body)


async def test_the_api_says_whom_feedback_was_held_back_from(
    lite_ops: ops_.Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = lite_ops

    async def post(path: str) -> tuple[int, Any]:
        return await call(port, f"assessments/{AID}/{path}")

    with serving(ops) as port:
        real_run = ops_._run

        def leaky(course: Path, *args: str) -> None:
            real_run(course, *args)
            if args[0] == "generate_assignment":
                path = course / "release" / AID / f"{AID}.ipynb"
                path.write_text(path.read_text().replace("YOUR CODE HERE", "BEGIN SOLUTION"))

        monkeypatch.setattr(ops_, "_run", leaky)
        code, err = await post(f"release?cohort={COHORT}")
        assert code == 422 and err["status"] == 422
        assert "refusing to release" in err["message"]
        assert any(p.startswith(f"{AID}.ipynb, cell 4 'pm-market-size': ") for p in err["problems"])
        monkeypatch.setattr(ops_, "_run", real_run)
        assert (await post(f"release?cohort={COHORT}"))[0] == 200

        sid = submit(ops, "pm1")
        submit(ops, "pm2")
        extend(ops, "pm2", DUE + timedelta(days=2))
        autograde(ops)
        clock(ops).at = DUE + timedelta(hours=1)
        code, body = await post(f"feedback?cohort={COHORT}")
        assert code == 200, body
        result = body["result"]
        assert result["released"] == [{"cohort": COHORT, "username": "pm1", "submission": sid}]
        (held,) = result["held"]
        assert (held["username"], held["why"], held["until"]) == (
            "pm2",
            "extension",
            "2026-12-01T09:00:00+00:00",
        )
        assert "has not passed" in held["reason"] and held["earlier_feedback"] is False


# --- nbgrader's own release_assignment and release_feedback, through the exchange routes --------


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def blobs(ops: ops_.Ops) -> set[Path]:
    """Every blob in the store."""
    assert isinstance(ops.blobs, LocalBlobStore)
    return {p for p in ops.blobs.root.rglob("*") if p.is_file()}


class Refused(Exception):
    """nbgrader's ExchangeError, as the exchange client raises it."""


async def as_nbgrader(port: int, call: str, *args: Any) -> str:
    """What the instructor's nbgrader is told when the exchange client's `call` fails."""

    def fail(message: str) -> Any:
        raise Refused(message)

    client = ServiceClient(f"http://127.0.0.1:{port}", "inst", fail)
    with pytest.raises(Refused) as refused:
        await asyncio.to_thread(getattr(client, call), *args)
    return str(refused.value)


async def test_feedback_through_the_exchange_waits_for_the_deadline(lite_ops: ops_.Ops) -> None:
    """nbgrader release_feedback from an instructor's server: refused while the trainee can still
    submit, with nothing stored and the hold audited; accepted once the deadline, moved with the
    API, has passed."""
    ops = lite_ops
    ops_.release(ops, AID, COHORT)
    sid = submit(ops, "pm1")  # at NOW, the deadline DUE ahead
    html = zip_of({f"{AID}.html": b"<html>assert visitors_needed(500, 0.012) == 41_667</html>"})
    with serving(ops) as port:
        before = blobs(ops)
        code, err = await call(port, f"exchange/submissions/{sid}/feedback", html)
        assert (code, err["status"]) == (409, 409), err
        assert (err["username"], err["submission"], err["why"]) == ("pm1", sid, "deadline")
        assert err["until"] == DUE.isoformat()
        assert "held back and was not stored: it shows the hidden tests" in err["message"]
        assert "the deadline 2026-11-29 09:00:00 UTC has not passed" in err["message"]
        assert "보류" in err["message"]
        assert feedback_html(ops, sid) is None and blobs(ops) == before
        ((target, hold),) = audit(ops, "feedback.hold")
        assert (target, hold["submission"], hold["why"]) == ("user:pm1", sid, "deadline")
        assert hold["until"] == DUE.isoformat() and hold["earlier_feedback"] is False
        assert audit(ops, "feedback.release") == []

        told = await as_nbgrader(port, "post_feedback", sid, html)  # what release_feedback logs
        assert "is held back" in told and "2026-11-29 09:00:00 UTC" in told
        assert told.endswith("(HTTP 409)")
        assert feedback_html(ops, sid) is None

        past = (NOW - timedelta(hours=1)).isoformat()
        code, _ = await call(
            port, f"assessments/{AID}/due", json.dumps({"due_at": past, "reason": "test"}).encode()
        )
        assert code == 200
        code, body = await call(port, f"exchange/submissions/{sid}/feedback", html)
        assert code == 201, body
        assert HIDDEN in (feedback_html(ops, sid) or "")
        ((target, released),) = audit(ops, "feedback.release")
        assert (target, released["submission"], released["hidden_tests"]) == ("user:pm1", sid, True)


async def test_a_release_through_the_exchange_that_leaks_is_refused(lite_ops: ops_.Ops) -> None:
    """nbgrader release_assignment from an instructor's server: a student version that still
    holds a hidden test is refused naming notebook and cell, nothing stored or released; the
    clean one is released."""
    ops = lite_ops
    (first,) = ops_.release(ops, AID, COHORT)  # a real student version, generated by nbgrader
    folder = Path(ops.settings.data_dir) / "courses" / COHORT / "release" / AID
    clean = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    nb = json.loads(clean[f"{AID}.ipynb"])
    (index,) = [
        i
        for i, c in enumerate(nb["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "pm-test-visitors"
    ]
    nb["cells"][index]["source"] += (
        "\n### BEGIN HIDDEN TESTS\nassert visitors_needed(500, 0.012) == 41_667\n"
        "### END HIDDEN TESTS\n"
    )
    leaky = zip_of(clean | {f"{AID}.ipynb": json.dumps(nb).encode()})
    with serving(ops) as port:
        before = blobs(ops)
        code, err = await call(port, f"exchange/assignments/{AID}/release?cohort={COHORT}", leaky)
        assert (code, err["status"]) == (422, 422), err
        assert f"refusing to release {AID} to {COHORT}" in err["message"]
        where = f"{AID}.ipynb, cell {index} 'pm-test-visitors': "
        assert any(p.startswith(where) and "BEGIN HIDDEN TESTS" in p for p in err["problems"])
        assert any(p.startswith(where) and "holds the hidden test" in p for p in err["problems"])
        assert blobs(ops) == before
        with ops.sessions() as s:
            assert [r.version for r in s.scalars(select(Release))] == [first["version"]]

        # what release_assignment logs
        told = await as_nbgrader(port, "release", AID, leaky, COHORT)
        assert where in told and told.endswith("(HTTP 422)")

        code, body = await call(
            port, f"exchange/assignments/{AID}/release?cohort={COHORT}", zip_of(clean)
        )
        assert code == 201, body
        assert [r["version"] for r in body["release"]] == [first["version"] + 1]


def test_the_cli_says_whom_feedback_was_held_back_from(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """The real `sadari` commands, with the real clock: deadline set ahead, feedback, deadline
    set back, feedback."""
    (tmp_path / "data").mkdir()
    db = tmp_path / "data" / "sadari.sqlite"
    shutil.copyfile(sqlite_template, db)
    env = hub_env(tmp_path / "data", f"sqlite:///{db}", SADARI_GRADER="nbgrader")
    (tmp_path / "r.csv").write_bytes(ROSTER)
    sadari(env, "roster", "import", str(tmp_path / "r.csv"))
    sadari(env, "assessment", "release", AID, "--cohort", COHORT)
    submitted = datetime.now(UTC) - timedelta(minutes=1)
    engine = make_engine(f"sqlite:///{db}")
    try:
        blobs = LocalBlobStore(SadariSettings(data_dir=str(tmp_path / "data")).exchange_dir)
        ops = ops_.Ops(
            SadariSettings(data_dir=str(tmp_path / "data")),
            session_factory(engine),
            blobs,
            None,  # type: ignore[arg-type]
            "t",
            Clock(submitted),
        )
        submit(ops, "pm1")
    finally:
        engine.dispose()
    ahead = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    sadari(
        env, "deadline", "set", AID, ahead.isoformat(), "--reason", "서버 점검", "--cohort", COHORT
    )
    assert "1 graded" in sadari(env, "assessment", "autograde", AID, "--work").stdout
    out = sadari(env, "assessment", "feedback", AID).stdout
    assert f"{AID}: feedback released for 0 submissions" in out
    assert f"{AID}: feedback held back from 1 trainee(s) who could still submit" in out
    assert f"  {COHORT}/pm1 [deadline, until {ahead.isoformat()}]: the deadline " in out

    back = submitted + timedelta(seconds=30)
    sadari(
        env, "deadline", "set", AID, back.isoformat(), "--reason", "원래대로", "--cohort", COHORT
    )
    out = sadari(env, "assessment", "feedback", AID).stdout
    assert f"{AID}: feedback released for 1 submissions" in out and "held back" not in out
