"""Assessments end to end through the HTTP exchange, with real servers and no shared directory.

The instructor releases the data-analysis stage-1 assessment with the real CLI; trainee001 and
trainee005 (both data-analysis) fetch and submit from their own servers through nbgrader's own
Assignment List server extension, which uses sadari's exchange classes; one of them submits after
the deadline; the instructor autogrades and releases feedback; each trainee fetches only their own.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.hub import ROOT, RunningHub, sadari

pytestmark = pytest.mark.hub

AID = "da-basics-check"
COHORT = "2026-seoul-1"
SOURCE = ROOT / "labs/data-analysis/basics/assessments/da-basics-check/da-basics-check.ipynb"
EX = "/services/sadari/api/v1/exchange"


def solved(released: dict) -> dict:
    """The released notebook with every solution cell answered (from the instructor's source)."""
    answers = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in json.loads(SOURCE.read_text())["cells"]
        if c["metadata"].get("nbgrader", {}).get("solution")
    }
    for cell in released["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return released


def lab(hub: RunningHub, user: str, action: str) -> dict:
    """Call nbgrader's Assignment List server extension in the trainee's own server."""
    r = hub.call(
        user,
        "POST",
        f"/user/{user}/assignments/{action}",
        json={"assignment_id": AID, "course_id": COHORT},
    )
    assert r.status_code == 200, r.text[:500]
    return r.json()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def released(hub: RunningHub) -> RunningHub:
    out = sadari(hub.env, "assessment", "release", AID, "--cohort", COHORT).stdout
    assert f"released {AID} v1 to {COHORT}" in out
    return hub


def test_release_fetch_submit_late_grade_feedback(released: RunningHub, tmp_path: Path) -> None:
    hub = released
    on_time, late = "trainee001", "trainee005"
    for user in (on_time, late):
        hub.start_server(user)
        listing = hub.call(user, "GET", f"/user/{user}/assignments?course_id={COHORT}").json()
        assert listing["success"], listing
        assert [(a["assignment_id"], a["status"]) for a in listing["value"]] == [(AID, "released")]
        lab(hub, user, "fetch")
        notebook = hub.contents(user, f"{AID}/{AID}.ipynb")["content"]
        hub.put_notebook(user, f"{AID}/{AID}.ipynb", solved(notebook))

    # on time: submitted before the deadline is set just after it (so a slow, busy machine cannot
    # make it late); late: submitted once that deadline has passed
    lab(hub, on_time, "submit")
    due = datetime.now(UTC) + timedelta(seconds=2)
    sadari(
        hub.env,
        "deadline",
        "set",
        AID,
        due.isoformat(),
        "--reason",
        "test deadline",
        "--cohort",
        COHORT,
    )
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
    lab(hub, late, "submit")

    graded = sadari(hub.env, "assessment", "autograde", AID).stdout
    assert f"{AID}: 2 graded\n" in graded  # the sandbox engine, nothing else
    # the deadline has passed and neither could score more by submitting again (linear 10%/h:
    # one hour late costs what the late one lost), so the feedback, hidden tests and all, goes out
    out = sadari(hub.env, "assessment", "feedback", AID).stdout
    assert f"{AID}: feedback released for 2 submissions" in out and "held back" not in out
    export = tmp_path / "grades.csv"
    sadari(hub.env, "assessment", "export", AID, "--output", str(export))
    rows = {r["username"]: r for r in csv.DictReader(export.read_text("utf-8-sig").splitlines())}
    assert (rows[on_time]["raw_score"], rows[on_time]["final_score"]) == ("10.0", "10.0")
    assert rows[on_time]["penalty_percent"] == "0.0"
    assert (rows[late]["raw_score"], rows[late]["penalty_percent"]) == ("10.0", "10.0")
    assert rows[late]["final_score"] == "9.0"  # linear: 10% per started hour late

    for user, final in ((on_time, "10"), (late, "9")):
        listing = lab(hub, user, "fetch_feedback")
        submitted = [a for a in listing["value"] if a.get("submissions")]
        (stamp,) = [s["timestamp"] for s in submitted[0]["submissions"]]
        folder = hub.contents(user, f"{AID}/feedback")["content"]
        (timestamp_dir,) = [item["name"] for item in folder]
        files = {
            i["name"] for i in hub.contents(user, f"{AID}/feedback/{timestamp_dir}")["content"]
        }
        assert files == {f"{AID}.html", "sadari-summary.html"}, (stamp, files)
        summary = hub.contents(user, f"{AID}/feedback/{timestamp_dir}/sadari-summary.html")
        text = summary["content"]
        assert f'id="final"><strong>{final}</strong> / 10' in text

    mine = hub.call(on_time, "GET", f"{EX}/assignments/{AID}/submissions").json()["submissions"]
    theirs = hub.call(late, "GET", f"{EX}/assignments/{AID}/submissions").json()["submissions"]
    assert {s["id"] for s in mine}.isdisjoint({s["id"] for s in theirs})
    r = hub.call(on_time, "GET", f"{EX}/submissions/{theirs[0]['id']}/feedback")
    assert r.status_code == 404
    r = hub.call(on_time, "GET", f"{EX}/submissions/{theirs[0]['id']}/files")
    assert r.status_code == 403  # only instructors download submissions


def test_a_trainee_of_another_track_or_cohort_sees_nothing(released: RunningHub) -> None:
    hub = released
    other_track = "trainee002"  # product-manager
    assert hub.call(other_track, "GET", f"{EX}/assignments").json()["assignments"] == []
    assert hub.call(other_track, "GET", f"{EX}/assignments/{AID}/release").status_code == 404
    roster = "username,name,cohort,track\nbusan01,부산이,2026-busan-1,data-analysis\n"
    r = hub.call("admin", "POST", "/services/sadari/api/v1/roster", data=roster.encode())
    assert r.status_code == 200, r.text
    listing = hub.call("busan01", "GET", f"{EX}/assignments").json()
    assert listing == {"course_id": "2026-busan-1", "assignments": []}
    assert hub.call("busan01", "GET", f"{EX}/assignments/{AID}/release").status_code == 404
    r = hub.call(
        "busan01",
        "POST",
        f"{EX}/assignments/{AID}/submissions",
        data=zip_of({f"{AID}.ipynb": SOURCE.read_bytes()}),
    )
    assert r.status_code == 404


def test_forged_timestamp_is_ignored_and_history_is_kept(released: RunningHub) -> None:
    hub = released
    user = "trainee001"
    before = hub.call(user, "GET", f"{EX}/assignments/{AID}/submissions").json()["submissions"]
    forged = zip_of(
        {f"{AID}.ipynb": SOURCE.read_bytes(), "timestamp.txt": b"2020-01-01 00:00:00.000000 UTC"}
    )
    t0 = datetime.now(UTC)
    r = hub.call(user, "POST", f"{EX}/assignments/{AID}/submissions", data=forged)
    assert r.status_code == 201, r.text
    sub = r.json()["submission"]
    assert abs((datetime.fromisoformat(sub["timestamp"]) - t0).total_seconds()) < 30
    assert sub["files"] == [f"{AID}.ipynb"]  # the forged file is not even stored
    after = hub.call(user, "GET", f"{EX}/assignments/{AID}/submissions").json()["submissions"]
    assert [s["id"] for s in after] == [s["id"] for s in before] + [sub["id"]]
    collected = sadari(hub.env, "assessment", "collect", AID, "--cohort", COHORT).stdout
    assert f"submission {sub['id']} ->" in collected
    stamp = (
        Path(hub.env["SADARI_DATA_DIR"])
        / "courses"
        / COHORT
        / "submitted"
        / user
        / AID
        / "timestamp.txt"
    ).read_text()
    assert stamp.startswith(sub["timestamp"][:19].replace("T", " "))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({f"{AID}.ipynb": b"{not json"}, "not valid JSON"),
        ({f"{AID}.ipynb": b"{}"}, "not a Jupyter notebook"),
        ({f"{AID}.ipynb": b'{"cells": [], "nbformat": 4, "x": "\xff"}'}, "not UTF-8"),
        ({"run.sh": b"rm -rf /"}, "file type not accepted"),
        ({"../escape.ipynb": SOURCE.read_bytes()}, "unsafe path"),
        ({"/etc/evil.ipynb": SOURCE.read_bytes()}, "unsafe path"),
        ({"notes.txt": b"hello"}, "no notebook"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    released: RunningHub, files: dict, message: str
) -> None:
    hub = released
    user = "trainee005"
    count = len(hub.call(user, "GET", f"{EX}/submissions").json()["submissions"])
    r = hub.call(user, "POST", f"{EX}/assignments/{AID}/submissions", data=zip_of(files))
    assert r.status_code == 400
    assert any(message in p for p in r.json()["problems"]), r.json()
    assert len(hub.call(user, "GET", f"{EX}/submissions").json()["submissions"]) == count


def test_oversized_upload_is_refused(released: RunningHub) -> None:
    hub = released
    big = zip_of({f"{AID}.ipynb": SOURCE.read_bytes(), "data.csv": b"0" * (21 * 1024 * 1024)})
    r = hub.call("trainee005", "POST", f"{EX}/assignments/{AID}/submissions", data=big)
    assert r.status_code in (400, 413)
    body = r.json()
    assert "limit" in body["message"] or any("more than" in p for p in body.get("problems", []))


def test_path_tricks_in_the_assignment_id(released: RunningHub) -> None:
    hub = released
    for aid in ("..%2F..%2Fetc", "%2Fetc%2Fpasswd", "da-basics-check%2F..%2F.."):
        r = hub.call("trainee001", "GET", f"{EX}/assignments/{aid}/release")
        assert r.status_code == 404 and r.json()["status"] == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{EX}/assignments/{AID}/release"),
        ("GET", f"{EX}/assignments/{AID}/submissions?all=1"),
        ("GET", f"{EX}/submissions/1/files"),
        ("POST", f"{EX}/submissions/1/feedback"),
        ("POST", f"/services/sadari/api/v1/assessments/{AID}/release"),
        ("POST", f"/services/sadari/api/v1/assessments/{AID}/autograde"),
        ("POST", f"/services/sadari/api/v1/assessments/{AID}/feedback"),
        ("GET", f"/services/sadari/api/v1/assessments/{AID}/grades"),
        ("POST", f"/services/sadari/api/v1/assessments/{AID}/due"),
        ("POST", f"/services/sadari/api/v1/assessments/{AID}/extensions"),
    ],
)
def test_trainees_get_403_on_instructor_operations(
    released: RunningHub, method: str, path: str
) -> None:
    r = released.call("trainee001", method, path, data=zip_of({"x.html": b"x"}))
    assert r.status_code == 403 and r.json()["status"] == 403


def test_instructor_reads_grades_and_moves_deadlines_over_the_api(released: RunningHub) -> None:
    hub = released
    listing = hub.call("instructor", "GET", f"{EX}/assignments").json()  # as formgrader does
    assert listing["course_id"] == COHORT
    assert [a["assignment_id"] for a in listing["assignments"]] == [AID]
    other = hub.call("instructor", "GET", f"{EX}/assignments?cohort=2026-busan-1").json()
    assert other == {"course_id": "2026-busan-1", "assignments": []}
    base = f"/services/sadari/api/v1/assessments/{AID}"
    rows = hub.call("instructor", "GET", f"{base}/grades").json()["rows"]
    assert {r["username"] for r in rows} >= {"trainee001", "trainee005"}
    progress = hub.call("instructor", "GET", f"{base}/grading").json()
    assert progress["jobs"]["done"] >= 1 and progress["jobs"]["running"] == 0
    xlsx = hub.call("instructor", "GET", f"{base}/grades?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = hub.call(
        "instructor",
        "POST",
        f"{base}/extensions",
        json={"username": "trainee005", "due_at": due, "reason": "병원 진료 / medical"},
    )
    assert r.status_code == 200, r.text
    r = hub.call("instructor", "POST", f"{base}/due", json={"due_at": due})
    assert r.status_code == 400 and "reason" in r.json()["message"]
    audit = hub.call("admin", "GET", "/services/sadari/api/v1/audit?target=user:trainee005").json()
    assert audit["entries"][0]["action"] == "assessment.extension"
    assert audit["entries"][0]["reason"] == "병원 진료 / medical"
