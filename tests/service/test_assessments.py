"""Instructor operations with nbgrader's real machinery (no hub): release, autograde, manual grades
written where formgrader writes them, feedback, and exports as CSV (UTF-8 with BOM) and XLSX."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sadari.graders.autograde import Autograder, NbgraderSubprocess, SandboxAutograder
from sadari.graders.sandbox import local
from sadari.hub import assessments as ops_
from sadari.hub import workers as workers_
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory
from tests.support.hub import ROOT

AID = "pm-basics-check"  # 8 autograded points + a 2-point memo graded by hand
COHORT = "2026-seoul-1"
SOURCE = ROOT / f"labs/product-manager/basics/assessments/{AID}/{AID}.ipynb"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # +13d 18:00 Asia/Seoul, for 2026-seoul-1
ROSTER = f"username,name,cohort,track\npm1,박피엠,{COHORT},product-manager\n".encode()


@pytest.fixture
def ops(engine, curriculum: Curriculum, tmp_path: Path) -> ops_.Ops:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
        rows = parse_roster(ROSTER, "r.csv", curriculum)
        repo.import_roster(s, rows, data=ROSTER, file="r.csv", actor="admin", now=NOW)
    settings = SadariSettings(project_dir=str(ROOT), data_dir=str(tmp_path))
    return ops_.Ops(
        settings,
        sessions,
        LocalBlobStore(tmp_path / "blobs"),
        curriculum,
        "instructor",
        lambda: NOW,
    )


def submit_solution(ops: ops_.Ops) -> int:
    """The trainee's answer: the source notebook's solutions, as a zip in the blob store."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{AID}.ipynb", SOURCE.read_bytes())
    sha = ops.blobs.put(buf.getvalue())
    with ops.sessions.begin() as s:
        m, a, release = ex.trainee_assessment(s, "pm1", AID)
        return ex.record_submission(
            s, m, a, release, sha256=sha, size=len(buf.getvalue()), files=[f"{AID}.ipynb"], now=NOW
        ).id


def make_grader(kind: str) -> Autograder:
    if kind == "nbgrader":
        return NbgraderSubprocess()
    if local.available():
        pytest.skip(f"local sandbox unavailable: {local.available()}")
    return SandboxAutograder(local.LocalSandbox(1, 0), record_nbgrader=True)


@pytest.mark.parametrize(
    "grader_kind", ["nbgrader", pytest.param("sandbox", marks=pytest.mark.sandbox)]
)
def test_release_grade_manual_grade_feedback_export(
    ops: ops_.Ops, tmp_path: Path, grader_kind: str
) -> None:
    """The whole round with stock nbgrader autograde and with the sandbox: the same scores, the
    manual grade given in nbgrader's gradebook (as formgrader does), nbgrader's feedback."""
    (released,) = ops_.release(ops, AID, COHORT)
    assert released == {"cohort": COHORT, "version": 1, "notebooks": [f"{AID}.ipynb"]}
    student_version = json.loads(
        (tmp_path / "courses" / COHORT / "release" / AID / f"{AID}.ipynb").read_text()
    )
    text = json.dumps(student_version)
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    sid = submit_solution(ops)

    seen: list[tuple[int, int]] = []
    grader = make_grader(grader_kind)
    try:
        counts = workers_.autograde(
            ops,
            AID,
            grader,
            COHORT,
            progress=lambda done, total, _: seen.append((done, total)),
        )
    finally:
        grader.close()
    assert counts == {"graded": 1}
    assert seen == [(0, 1), (1, 1)]
    with ops.sessions() as s:
        r = ex.submission(s, sid).result
        assert (r.status, r.raw_score, r.max_score) == ("needs-manual", 8.0, 10.0)
        (memo,) = r.details["pending_manual"]

    # The instructor grades the memo in formgrader, which writes nbgrader's gradebook.
    from nbgrader.api import Gradebook

    notebook, cell = memo.split(":")
    with Gradebook(f"sqlite:///{tmp_path / 'courses' / COHORT / 'gradebook.db'}") as gb:
        grade = gb.find_grade(cell, notebook, AID, "pm1")
        grade.manual_score = 1.5  # as formgrader's API does
        grade.needs_manual_grade = False
        gb.db.commit()

    # nbgrader's feedback shows the hidden tests: held back while pm1 could still submit
    report = ops_.feedback(ops, AID, COHORT)
    assert (report["released"], [h["why"] for h in report["held"]]) == ([], ["deadline"])
    with ops.sessions() as s:
        assert ex.submission(s, sid).feedback is None
    ops.now = lambda: DUE + timedelta(seconds=1)  # the service's clock, past the deadline
    report = ops_.feedback(ops, AID, COHORT)
    assert report["released"] == [{"cohort": COHORT, "username": "pm1", "submission": sid}]
    assert report["held"] == []
    with ops.sessions() as s:
        sub = ex.submission(s, sid)
        assert (sub.result.status, sub.result.final_score) == ("graded", 9.5)
        archive = zipfile.ZipFile(io.BytesIO(ops.blobs.get(sub.feedback.sha256)))
    assert sorted(archive.namelist()) == [f"{AID}.html", "sadari-summary.html"]
    assert "41_667" in archive.read(f"{AID}.html").decode()  # a hidden test, now shown

    csv_path = tmp_path / "grades.csv"
    assert ops_.export(ops, AID, csv_path, COHORT) == 1
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens Korean text correctly
    (row,) = csv.DictReader(raw.decode("utf-8-sig").splitlines())
    assert (row["name"], row["final_score"], row["status"]) == ("박피엠", "9.5", "graded")
    xlsx_path = tmp_path / "grades.xlsx"
    ops_.export(ops, AID, xlsx_path, COHORT)
    sheet = load_workbook(xlsx_path).active
    header, values = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert dict(zip(header, values, strict=True))["final_score"] == 9.5
    assert sheet.title == AID


def test_an_unknown_assessment_is_a_clear_error(ops: ops_.Ops) -> None:
    with pytest.raises(repo.NotFound, match="no assessment 'nope'"):
        ops_.release(ops, "nope")
