"""Checks inside the lab notebooks (hub/core/labcheck.py): every problem names the file and the field,
manifest problems also the line of curriculum.yaml; the project's own labs pass."""

from __future__ import annotations

import json
from typing import Any

from sadari.hub.core.curriculum import Curriculum, parse_curriculum
from sadari.hub.core.labcheck import check_labs, check_rubric, graded_points
from tests.support.hub import ROOT

F = "labs/curriculum.yaml"
MANIFEST = """\
version: 1
program: {id: p1, name: {ko: 프로그램, en: Program}}
stages:
  - {id: basics, name: {ko: 기초, en: Basics}}
cohorts:
  - {id: c1, name: {ko: 1기, en: Cohort 1}, starts: 2026-11-16}
tracks:
  - id: t1
    name: {ko: 트랙, en: Track}
    image: img
    resources: {memory: 1G, cpu: 1}
    stages:
      basics:
        notebooks:
          - t1/basics/01-intro.ipynb
          - t1/basics/02-more.ipynb
        assessments:
          - id: t1-check
            title: {ko: 평가, en: Check}
            weight: 1.0
            points: 5
            due: +13d 18:00
            notebooks: [t1/basics/assessments/t1-check/t1-check.ipynb]
"""
CHECK = "t1/basics/assessments/t1-check/t1-check.ipynb"


def cell(
    gid: str | None = None, kind: str = "code", source: str = "", **nbgrader: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if gid is not None:
        meta["nbgrader"] = {
            "grade": False,
            "grade_id": gid,
            "locked": False,
            "schema_version": 3,
            "solution": False,
            "task": False,
            **nbgrader,
        }
    out: dict[str, Any] = {"cell_type": kind, "id": gid or "c", "metadata": meta, "source": source}
    if kind == "code":
        out.update(outputs=[], execution_count=None)
    return out


def notebook(*cells: dict[str, Any]) -> bytes:
    return json.dumps(
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ).encode()


def good_check() -> list[dict[str, Any]]:
    return [
        cell("answer", source="x = 1", solution=True),
        cell("test-1", source="assert x == 1", grade=True, locked=True, points=2),
        cell("test-2", source="assert x", grade=True, locked=True, points=1),
        cell("memo", kind="markdown", source="...", grade=True, solution=True, points=2),
    ]


def labs(**replace: bytes) -> dict[str, bytes]:
    files = {
        "t1/basics/01-intro.ipynb": notebook({**cell(), "id": "a"}),
        "t1/basics/02-more.ipynb": notebook({**cell(), "id": "a"}),
        CHECK: notebook(*good_check()),
    }
    files.update(replace)
    return files


def problems(files: dict[str, bytes], text: str = MANIFEST) -> list[str]:
    return [str(p) for p in check_labs(parse_curriculum(text, F), files)]


def line(text: str, needle: str) -> int:
    return next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)


def test_consistent_labs_have_no_problem() -> None:
    assert problems(labs()) == []


def test_points_that_do_not_add_up_point_at_the_manifest_field() -> None:
    text = MANIFEST.replace("points: 5", "points: 10")
    (p,) = problems(labs(), text)
    assert p.startswith(
        f"{F}:{line(text, 'points: 10')}: tracks[0].stages.basics.assessments[0].points: "
    )
    assert "t1-check declares 10 points but the graded cells of its notebooks add up to 5" in p
    assert "t1-check.ipynb: test-1=2, test-2=1, memo=2" in p


def test_task_cells_count_like_nbgrader_counts_them() -> None:
    nb = notebook(*good_check(), cell("task", kind="markdown", task=True, locked=True, points=3))
    text = MANIFEST.replace("points: 5", "points: 8")
    assert problems(labs(**{CHECK: nb}), text) == []
    assert graded_points(json.loads(nb))["task"] == 3


def test_duplicate_ids_in_a_notebook() -> None:
    cells = good_check()
    cells[2]["metadata"]["nbgrader"]["grade_id"] = "test-1"
    cells[3]["id"] = "answer"
    found = problems(labs(**{CHECK: notebook(*cells)}))
    assert (
        f"labs/{CHECK}: cells[2].metadata.nbgrader.grade_id: duplicate grade_id 'test-1' (cells[1])"
        in found
    )
    assert f"labs/{CHECK}: cells[3].id: duplicate cell id 'answer' (cells[0])" in found


def test_a_graded_cell_needs_points() -> None:
    cells = good_check()
    del cells[1]["metadata"]["nbgrader"]["points"]
    cells[2]["metadata"]["nbgrader"]["points"] = "two"
    found = problems(labs(**{CHECK: notebook(*cells)}))
    assert any(
        p.startswith(f"labs/{CHECK}: cells[1].metadata.nbgrader.points: a graded cell needs")
        for p in found
    )
    assert any("cells[2].metadata.nbgrader.points" in p and "'two'" in p for p in found)


def test_unreadable_notebooks_say_why() -> None:
    found = problems(
        labs(
            **{
                "t1/basics/01-intro.ipynb": b'{\n  "cells": [,]\n}',
                "t1/basics/02-more.ipynb": b'{"cells": [], "nbformat": 4, "x": "\xff"}',
                CHECK: b'{"cells": []}',
            }
        )
    )
    assert "labs/t1/basics/01-intro.ipynb:2: not valid JSON: Expecting value" in found
    assert "labs/t1/basics/02-more.ipynb: not UTF-8 text (byte 35)" in found
    assert f"labs/{CHECK}: nbformat: not a Jupyter notebook in nbformat 4" in found


def test_an_assessment_without_graded_cells() -> None:
    (p,) = problems(labs(**{CHECK: notebook(cell("a", source="x = 1", locked=True))}))
    assert p.endswith(
        "tracks[0].stages.basics.assessments[0].notebooks: t1-check: no graded cell in its notebooks"
    )


def test_practice_notebooks_must_not_hold_answers() -> None:
    leaky = notebook(
        {**cell(), "id": "a", "source": ["x = 1\n", "### BEGIN SOLUTION\n", "y = 2\n"]}
    )
    (p,) = problems(labs(**{"t1/basics/02-more.ipynb": leaky}))
    assert p.startswith(
        "labs/t1/basics/02-more.ipynb: cells[0].source: a practice notebook reaches trainees"
    )


def test_practice_notebooks_that_would_overwrite_each_other_or_leak_an_assessment() -> None:
    text = MANIFEST.replace(
        "          - t1/basics/02-more.ipynb\n",
        "          - t1/basics/extra/01-intro.ipynb\n          - " + CHECK + "\n",
    )
    files = labs(**{"t1/basics/extra/01-intro.ipynb": notebook({**cell(), "id": "a"})})
    found = problems(files, text)
    n = line(text, "extra/01-intro")
    assert (
        f"{F}:{n}: tracks[0].stages.basics.notebooks[1]: '01-intro.ipynb' is also notebooks[0]: "
        "both would be copied to the same file of the trainee's stage folder"
    ) in found
    assert any("notebooks[2]" in p and "is an assessment notebook" in p for p in found)


def test_missing_notebooks_are_left_to_check_files() -> None:
    files = labs()
    del files[CHECK]
    del files["t1/basics/01-intro.ipynb"]
    assert problems(files) == []


def test_the_project_labs_pass(curriculum: Curriculum) -> None:
    files = {
        nb: (ROOT / "labs" / nb).read_bytes()
        for nb in curriculum.referenced_files()
        if (ROOT / "labs" / nb).is_file()
    }
    assert [str(p) for p in check_labs(curriculum, files)] == []


def _rubric_case(curriculum: Curriculum) -> tuple[dict, dict]:
    import yaml

    labs = ROOT / "labs"
    spec = yaml.safe_load((labs / "data-analysis/project/rubric.yaml").read_text(encoding="utf-8"))
    nb = json.loads((labs / spec["notebook"]).read_text(encoding="utf-8"))
    return spec, {spec["notebook"]: nb}


def test_the_project_rubrics_check_out(curriculum: Curriculum) -> None:
    spec, notebooks = _rubric_case(curriculum)
    assert check_rubric(spec, "rubric.yaml", curriculum, notebooks) == []


def test_a_rubric_that_disagrees_is_reported_with_its_field(curriculum: Curriculum) -> None:
    import copy

    spec, notebooks = _rubric_case(curriculum)
    bad = copy.deepcopy(spec)
    bad["total"] = spec["total"] + 1
    bad["criteria"][0]["levels"][1]["en"] = ""
    bad["criteria"][1]["points"] = spec["criteria"][1]["points"] + 1
    fields = {p.field for p in check_rubric(bad, "rubric.yaml", curriculum, notebooks)}
    assert {"total", "criteria", "criteria[0].levels[1]", "criteria[1].levels"} <= fields
    unknown = {**spec, "assessment": "no-such-assessment"}
    (p,) = check_rubric(unknown, "rubric.yaml", curriculum, notebooks)
    assert p.field == "assessment" and p.file == "rubric.yaml"
