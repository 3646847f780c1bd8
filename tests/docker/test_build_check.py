"""What images/build.py stages into each image's build context, and the instructor-material check
(images/instructor_material.py) it runs on trainee-facing contexts and the images run on
themselves. Pure: files only, no Docker engine (the images themselves: test_images.py)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sadari.hub.service import load_curriculum_file
from tests.support.hub import ROOT

LABS = ROOT / "labs"
CURRICULUM = load_curriculum_file(LABS / "curriculum.yaml")
TRACKS = [t.id for t in CURRICULUM.tracks]
SOURCES = sorted(
    nb
    for t in CURRICULUM.tracks
    for plan in t.stages.values()
    for a in plan.assessments
    for nb in a.notebooks
)


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _load("sadari_images_build", ROOT / "images" / "build.py")
im = _load("sadari_images_instructor_material", ROOT / "images" / "instructor_material.py")


def staged(target: str, context: Path) -> set[str]:
    build.stage_files(target, context)
    return {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}


def practice(track: str) -> set[str]:
    t = CURRICULUM.track(track)
    return {nb for plan in t.stages.values() for nb in plan.notebooks}


@pytest.mark.parametrize("track", TRACKS)
def test_a_track_image_gets_its_practice_labs_only(track: str, tmp_path: Path) -> None:
    files = staged(f"lab-{track}", tmp_path)
    labs = {f.removeprefix("labs/") for f in files if f.startswith("labs/")}
    assert labs == practice(track)  # what provisioning copies into workspaces, nothing else
    assert not [f for f in files if "assessments" in f.split("/") or f.endswith("rubric.yaml")]
    assert "labs/curriculum.yaml" not in files
    assert "check/instructor_material.py" in files  # the image's own last build step
    assert build.check_context(f"lab-{track}", tmp_path) == []


@pytest.mark.parametrize("target", ["singleuser", "grader"])
def test_the_other_trainee_facing_contexts_are_clean(target: str, tmp_path: Path) -> None:
    assert build.TARGETS[target].trainee_facing
    files = staged(target, tmp_path)
    assert not [f for f in files if f.startswith("labs/")]
    assert "check/instructor_material.py" in files
    assert build.check_context(target, tmp_path) == []


def test_the_hub_image_keeps_the_assessment_sources(tmp_path: Path) -> None:
    """The service (and the grading workers) run from the hub image: it needs the sources."""
    files = staged("hub", tmp_path)
    assert {f"labs/{nb}" for nb in SOURCES} <= files
    assert not build.TARGETS["hub"].trainee_facing
    assert build.check_context("hub", tmp_path) == []  # not looked for there ...
    found = {f.path for f in im.scan_context(tmp_path)}
    assert {f"labs/{nb}" for nb in SOURCES} <= found  # ... though the check would see them


def test_every_trainee_facing_target_is_checked() -> None:
    facing = {name for name, t in build.TARGETS.items() if t.trainee_facing}
    assert facing == {"singleuser", "grader", *(f"lab-{t}" for t in TRACKS)}
    for name in facing:  # and every one of their Dockerfiles runs the check last
        dockerfile = (build.TARGETS[name].folder / "Dockerfile").read_text()
        final = dockerfile.rsplit("\nFROM ", 1)[1]
        assert "RUN /usr/bin/python3 -I /usr/local/lib/sadari/instructor_material.py /" in final


@pytest.mark.parametrize("source", SOURCES)
def test_an_assessment_source_in_a_trainee_context_is_found(source: str, tmp_path: Path) -> None:
    track = source.split("/")[0]
    build.stage_files(f"lab-{track}", tmp_path)
    # where it sits in the repository, and renamed to look like a practice lab
    for rel in (f"labs/{source}", f"labs/{track}/basics/99-extra.ipynb"):
        dest = tmp_path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(LABS / source, dest)
    found = build.check_context(f"lab-{track}", tmp_path)
    paths = {f.path for f in found}
    assert f"labs/{source}" in paths and f"labs/{track}/basics/99-extra.ipynb" in paths
    reasons = " ".join(f.reason for f in found if f.path.endswith("99-extra.ipynb"))
    assert "nbgrader solution cell" in reasons  # every source has answer cells
    assert any("under assessments/" in f.reason for f in found)


def test_a_rubric_in_a_trainee_context_is_found(tmp_path: Path) -> None:
    build.stage_files("lab-data-analysis", tmp_path)
    shutil.copy(LABS / "data-analysis/project/rubric.yaml", tmp_path / "labs/rubric.yaml")
    assert [f.path for f in build.check_context("lab-data-analysis", tmp_path)] == [
        "labs/rubric.yaml"
    ]


def test_build_refuses_before_docker_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leak = "data-analysis/basics/assessments/da-basics-check/da-basics-check.ipynb"
    labs = build.practice_labs("data-analysis") | {f"labs/{leak}": LABS / leak}
    monkeypatch.setattr(build, "practice_labs", lambda track: labs)

    def no_docker(*args: str, **kwargs: object) -> None:
        raise AssertionError(f"docker {args} ran")

    monkeypatch.setattr(build, "docker", no_docker)
    monkeypatch.setattr(build, "project_wheel", no_docker)
    with pytest.raises(build.InstructorMaterial) as e:
        build.build("lab-data-analysis", "unused", tmp_path)
    assert f"labs/{leak}" in str(e.value) and "is not built" in str(e.value)


def test_practice_labs_refuse_an_assessment_listed_as_a_lab(tmp_path: Path) -> None:
    text = (LABS / "curriculum.yaml").read_text(encoding="utf-8")
    leak = "data-analysis/basics/assessments/da-basics-check/da-basics-check.ipynb"
    first = "- data-analysis/basics/01-pandas-first-steps.ipynb"
    assert first in text
    (tmp_path / "curriculum.yaml").write_text(text.replace(first, f"- {leak}", 1), "utf-8")
    with pytest.raises(ValueError, match="practice notebook"):
        build.practice_labs("data-analysis", tmp_path / "curriculum.yaml")


def cell(source: str, **nbgrader: object) -> dict[str, object]:
    meta = {"nbgrader": {"grade_id": "c", **nbgrader}} if nbgrader else {}
    return {"cell_type": "code", "metadata": meta, "source": source, "outputs": []}


def notebook(*cells: dict[str, object]) -> bytes:
    return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4}).encode()


def test_what_counts_in_a_notebook() -> None:
    begin, hidden = "### BEGIN " + "SOLUTION", "### BEGIN " + "HIDDEN TESTS"
    assert (
        im.notebook_findings(notebook(cell("x = 1"), cell("# tests\nassert x", grade=True))) == []
    )
    assert im.notebook_findings(notebook(cell("x = 1", solution=True))) == [
        "cell 0 (c): nbgrader solution cell"
    ]
    assert im.notebook_findings(notebook(cell(f"{hidden}\nassert x", grade=True))) == [
        "cell 0 (c): graded test cell with hidden tests"
    ]
    assert im.notebook_findings(notebook(cell(f"{begin}\nx = 1\n### END"))) == [
        "cell 0: nbgrader delimiter 'BEGIN SOLUTION'"
    ]
    # not JSON: read as text
    assert im.notebook_findings(f"{{ broken\n{begin}\n".encode()) == [
        "line 2: nbgrader delimiter 'BEGIN SOLUTION'"
    ]


def test_the_check_does_not_find_itself(tmp_path: Path) -> None:
    shutil.copy(ROOT / "images" / "instructor_material.py", tmp_path / "check.py")
    assert im.scan_context(tmp_path) == []


def test_scan_image_reads_labs_folders_fully_and_notebooks_everywhere(tmp_path: Path) -> None:
    source = LABS / SOURCES[0]
    files = {
        # a copy of an assessment source among the labs, and its folder
        "srv/sadari/labs/x/assessments/a/a.ipynb": source.read_bytes(),
        # a source notebook shipped by some package (nbgrader's docs hold some)
        "opt/sadari/lib/python3.11/site-packages/pkg/docs/ps1.ipynb": source.read_bytes(),
        # delimiters in a text file of a workspace, and in a library's code (not a leak)
        "home/jovyan/answers.py": b"### BEGIN " + b"SOLUTION\nx = 1\n",
        "opt/sadari/lib/python3.11/site-packages/pkg/clear.py": b"# BEGIN " + b"SOLUTION\n",
        # a practice lab: fine
        "srv/sadari/labs/x/basics/01.ipynb": notebook(cell("x = 1")),
        # the pseudo file systems are never read
        "proc/1/environ.ipynb": source.read_bytes(),
    }
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    paths = {f.path for f in im.scan_image(tmp_path)}
    assert paths == {
        "/srv/sadari/labs/x/assessments",
        "/srv/sadari/labs/x/assessments/a",
        "/srv/sadari/labs/x/assessments/a/a.ipynb",
        "/opt/sadari/lib/python3.11/site-packages/pkg/docs/ps1.ipynb",
        "/home/jovyan/answers.py",
    }
    assert im.main([str(tmp_path)]) == 1
    shutil.rmtree(tmp_path / "srv/sadari/labs/x/assessments")
    shutil.rmtree(tmp_path / "opt/sadari/lib/python3.11/site-packages/pkg/docs")
    (tmp_path / "home/jovyan/answers.py").unlink()
    assert im.main([str(tmp_path)]) == 0
