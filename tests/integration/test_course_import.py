"""An ordinary nbgrader course taken through sadari as an instructor and trainees would: `sadari
course import` into a copy of labs/, `sadari curriculum check`, `sadari assessment release`,
trainees fetch and submit with nbgrader's own exchange client (the classes nbgrader's apps and
JupyterLab's Assignment List build from nbgrader_config.py), `sadari assessment autograde` — and
each submission's per-cell scores are exactly those stock `nbgrader autograde` gives the same
files in this test. In the local sandbox (marked `hub`) and in the docker sandbox (marked
`docker`: a real Docker engine and the grader image).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nbgrader.exchange import ExchangeError

from sadari.graders.autograde import Job, NbgraderSubprocess
from tests.sandbox.test_course_parity import NOTEBOOKS, PARTIAL, PS, _with, make_course
from tests.service.test_exchange_client import exchange_of
from tests.support import docker
from tests.support.hub import ROOT, RunningHub, hub_env, sadari

COURSE = ROOT / "tests" / "course" / "nbgrader-course"
COHORT = "2026-seoul-1"
# the demo cohort's data-analysis trainees (tracks are dealt round-robin over four tracks)
SOLUTION, EMPTY, PARTLY = "trainee001", "trainee005", "trainee009"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sandbox", marks=pytest.mark.hub),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def course_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    """A hub whose labs/ is a copy with the nbgrader course imported into data-analysis basics."""
    extra: dict[str, str] = {"SADARI_GRADER": request.param}
    if request.param == "docker":
        try:
            extra["SADARI_GRADER_IMAGE"] = docker.ensure_image("grader")
        except docker.Unavailable as e:
            pytest.skip(f"no Docker engine can run here: {e}")
    root = tmp_path_factory.mktemp(f"course-{request.param}")
    labs = root / "labs"
    shutil.copytree(ROOT / "labs", labs)
    data = root / "data"
    data.mkdir()
    extra["SADARI_LABS_DIR"] = str(labs)
    env = hub_env(data, f"sqlite:///{data}/sadari.sqlite", **extra)
    imported = sadari(
        env,
        "course",
        "import",
        str(COURSE),
        "--track",
        "data-analysis",
        "--stage",
        "basics",
        "--due",
        "+13d 18:00",
        "--weight",
        "0.3",
        "--rescale",
    )
    assert "points: 9" in imported.stdout, imported.stdout
    # the course's metadata was of nbgrader's old schema: the import updated its copy
    assert "schema" in imported.stdout + imported.stderr, imported.stdout
    check = sadari(env, "curriculum", "check")
    assert "OK" in check.stdout, check.stdout + check.stderr
    hub = RunningHub.start(data, f"sqlite:///{data}/sadari.sqlite", trainees=9, **extra)
    try:
        yield hub
    finally:
        hub.stop()


def scores(hub: RunningHub, username: str) -> dict[tuple[str, str], float | None]:
    """The per-cell scores sadari recorded for the trainee's latest graded submission."""
    db = sqlite3.connect(hub.data_dir / "sadari.sqlite")
    try:
        rows = db.execute(
            "SELECT g.notebook, g.cell, g.score FROM grades g"
            " JOIN submissions s ON g.submission_id = s.id"
            " JOIN members m ON s.member_id = m.id"
            " JOIN assessments a ON s.assessment_id = a.id"
            " WHERE m.username = ? AND a.slug = ?"
            " AND s.id = (SELECT MAX(s2.id) FROM submissions s2 WHERE s2.member_id = m.id"
            " AND s2.assessment_id = a.id)",
            (username, PS),
        ).fetchall()
    finally:
        db.close()
    return {(nb, cell): score for nb, cell, score in rows}


def test_an_nbgrader_course_grades_as_stock_nbgrader(
    course_hub: RunningHub, tmp_path: Path
) -> None:
    hub = course_hub
    sadari(hub.env, "assessment", "release", PS, "--cohort", COHORT)
    # the assessment is open to them whatever day this runs
    sadari(hub.env, "deadline", "set", PS, "2099-01-01T18:00:00+09:00", "--cohort", COHORT,
           "--reason", "test")  # fmt: skip

    def ex(who: str, kind: str, **kw: Any) -> Any:
        return exchange_of(hub, who, kind, home=tmp_path / who, assignment_id=PS, **kw)

    submitted: dict[str, dict[str, bytes]] = {}
    for who in (SOLUTION, EMPTY, PARTLY):
        (tmp_path / who).mkdir()
        ex(who, "FetchAssignment").start()
        folder = tmp_path / who / PS
        # the release holds the data and the helper module, under their own names
        assert (folder / "data" / "values.npy").is_file() and (folder / "checks.py").is_file()
        assert (folder / "Problem 1.ipynb").is_file()
        for name in NOTEBOOKS:
            nb = json.loads((folder / name).read_text(encoding="utf-8"))
            if who == SOLUTION:  # the instructor's own answers, typed into the release
                source = json.loads((COURSE / "source" / PS / name).read_text(encoding="utf-8"))
                answers = {
                    c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
                    for c in source["cells"]
                    if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                }
                (folder / name).write_text(json.dumps(_with(nb, answers)), encoding="utf-8")
            elif who == PARTLY:
                (folder / name).write_text(json.dumps(_with(nb, PARTIAL)), encoding="utf-8")
        # the whole folder goes back, data files included: nothing for the trainee to delete
        ex(who, "Submit").start()
        submitted[who] = {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }

    # a file type nobody allowed is refused, naming the file; nothing is stored
    (tmp_path / PARTLY / PS / "virus.exe").write_bytes(b"MZ")
    with pytest.raises(ExchangeError, match="virus.exe"):
        ex(PARTLY, "Submit").start()
    (tmp_path / PARTLY / PS / "virus.exe").unlink()

    graded = sadari(hub.env, "assessment", "autograde", PS, "--cohort", COHORT)
    assert graded.returncode == 0, graded.stderr

    # stock nbgrader on the same files, in this test
    stock_course = tmp_path / "stock"
    make_course(stock_course, submitted)
    stock = NbgraderSubprocess()
    for who in submitted:
        theirs = stock.grade(Job(stock_course, PS, who))
        assert theirs.status == "graded", theirs.log
        expected = {(c.notebook, c.cell): c.score for c in theirs.cells}
        assert scores(hub, who) == expected, who
    assert sum(s or 0 for s in scores(hub, SOLUTION).values()) == 7.0  # + 2 points by hand
    assert sum(s or 0 for s in scores(hub, EMPTY).values()) == 0.5
    assert sum(s or 0 for s in scores(hub, PARTLY).values()) == 2.5
