"""An ordinary nbgrader course (tests/course/nbgrader-course) through the real CLI: `sadari course
import` into a copy of labs/, `sadari curriculum check` (nbgrader's metadata validation, --update,
declared packages, --install's refusal), and a release whose nbgrader run fails reported in one
line with its log kept."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from tests.support.hub import ROOT, hub_env, sadari

COURSE = ROOT / "tests" / "course" / "nbgrader-course"
PS1 = "data-analysis/basics/assessments/ps1"
IMPORT = (
    "course",
    "import",
    str(COURSE),
    "--track",
    "data-analysis",
    "--stage",
    "basics",
    "--due",
    "+14d 18:00",
)


@pytest.fixture
def labs(tmp_path: Path) -> Path:
    """A copy of the project's labs/ the tests may change."""
    shutil.copytree(ROOT / "labs", tmp_path / "labs")
    return tmp_path / "labs"


@pytest.fixture
def env(tmp_path: Path, sqlite_template: Path, labs: Path) -> dict[str, str]:
    """The CLI's environment on a database at head and the copy of labs/."""
    (tmp_path / "data").mkdir()
    shutil.copyfile(sqlite_template, tmp_path / "data" / "sadari.sqlite")
    db = f"sqlite:///{tmp_path}/data/sadari.sqlite"
    return hub_env(tmp_path / "data", db, SADARI_LABS_DIR=str(labs))


@pytest.fixture
def imported(env: dict[str, str], labs: Path) -> dict[str, str]:
    """The course imported into data-analysis/basics at weight 0.3, the other rescaled."""
    sadari(env, *IMPORT, "--weight", "0.3", "--rescale")
    return env


def test_import_copies_updates_and_adds_the_assessment(env: dict[str, str], labs: Path) -> None:
    before = (labs / "curriculum.yaml").read_text()
    r = sadari(env, *IMPORT, "--weight", "0.3", "--rescale")
    assert f"ps1 -> {labs}/{PS1}/ (2 notebooks, 4 other files)" in r.stdout
    assert "nbgrader metadata updated to schema 3" in r.stdout
    assert "points: 9 (Problem 1.ipynb 4, problem2.ipynb 5)" in r.stdout
    assert "da-basics-check: weight 1 -> 0.7" in r.stdout
    copied = sorted(p.relative_to(labs / PS1).as_posix() for p in (labs / PS1).rglob("*"))
    assert copied == [
        "Problem 1.ipynb",
        "checks.py",
        "data",
        "data/arrays.npz",
        "data/table.csv",
        "data/values.npy",
        "problem2.ipynb",
    ]
    for name in ("checks.py", "data/values.npy", "data/arrays.npz", "data/table.csv"):
        assert (labs / PS1 / name).read_bytes() == (COURSE / "source/ps1" / name).read_bytes()
    after = (labs / "curriculum.yaml").read_text()
    # a text edit: every line of the manifest is still there, comments included, in order
    old_lines = [ln for ln in before.splitlines() if "weight: 1.0" not in ln]
    assert [ln for ln in after.splitlines() if ln in old_lines] == old_lines
    assert (
        "          - id: ps1\n"
        "            title: {ko: ps1, en: ps1}\n"
        "            weight: 0.3\n"
        "            points: 9\n"
        "            due: +14d 18:00\n"
        "            notebooks:\n"
        f"              - {PS1}/Problem 1.ipynb\n"
        f"              - {PS1}/problem2.ipynb\n"
    ) in after
    assert not list(labs.glob(".sadari-import-*"))
    check = sadari(env, "curriculum", "check")
    assert "OK — 4 tracks, 3 stages, 2 cohorts, 34 notebooks found" in check.stdout


def test_refusals_change_nothing(imported: dict[str, str], labs: Path) -> None:
    manifest = (labs / "curriculum.yaml").read_text()
    again = sadari(imported, *IMPORT, "--weight", "0.3", "--rescale", check=False)
    assert again.returncode == 2 and "already has an assessment 'ps1'" in again.stderr
    sums = sadari(imported, *IMPORT, "--id", "ps1-b", "--weight", "0.5", check=False)
    assert sums.returncode == 2
    assert "weights would add up to 1.5, not 1" in sums.stderr and "--rescale" in sums.stderr
    bad = sadari(imported, *IMPORT, "--id", "PS 1!", check=False)
    assert bad.returncode == 2 and "choose one with --id" in bad.stderr
    assert (labs / "curriculum.yaml").read_text() == manifest
    assert not (labs / "data-analysis/basics/assessments/ps1-b").exists()
    assert not list(labs.glob(".sadari-import-*"))


def test_dry_run_changes_nothing(env: dict[str, str], labs: Path) -> None:
    manifest = (labs / "curriculum.yaml").read_text()
    r = sadari(env, *IMPORT, "--id", "first-set", "--weight", "0.5", "--rescale", "--dry-run")
    assert "first-set added to data-analysis/basics (weight 0.5, 9 points" in r.stdout
    assert "dry run: nothing was changed" in r.stdout
    assert (labs / "curriculum.yaml").read_text() == manifest
    assert not (labs / "data-analysis/basics/assessments/first-set").exists()


def test_old_schema_named_then_updated(imported: dict[str, str], labs: Path) -> None:
    for name in ("Problem 1.ipynb", "problem2.ipynb"):  # the course as instructors brought it
        shutil.copyfile(COURSE / "source/ps1" / name, labs / PS1 / name)
    r = sadari(imported, "curriculum", "check", check=False)
    assert r.returncode == 2
    for name, cells in (("Problem 1.ipynb", 5), ("problem2.ipynb", 4)):
        assert (
            f"{labs}/{PS1}/{name}: nbgrader metadata of schema version 1, this nbgrader expects 3 "
            f"({cells} cells:" in r.stderr
        )
    assert "run `sadari curriculum check --update` to update it in place" in r.stderr
    fixed = sadari(imported, "curriculum", "check", "--update")
    assert (
        f"updated nbgrader metadata (schema 1 -> 3): {labs}/{PS1}/Problem 1.ipynb" in fixed.stdout
    )
    assert f"updated nbgrader metadata (schema 1 -> 3): {labs}/{PS1}/problem2.ipynb" in fixed.stdout
    assert "OK — 4 tracks" in fixed.stdout
    assert "updated" not in sadari(imported, "curriculum", "check", "--update").stdout


def test_cell_errors_name_the_cell(imported: dict[str, str], labs: Path) -> None:
    nb = labs / PS1 / "problem2.ipynb"
    nb.write_text(nb.read_text().replace('"solution": true', '"solution": false'))
    r = sadari(imported, "curriculum", "check", check=False)
    assert r.returncode == 2
    assert (
        f"{labs}/{PS1}/problem2.ipynb: cells[5] (grade_id explain): nbgrader metadata: Markdown "
        "grade cell 'explain' is not marked as a solution cell"
    ) in r.stderr


def test_release_failure_is_one_line_and_a_log(imported: dict[str, str], tmp_path: Path) -> None:
    labs = Path(imported["SADARI_LABS_DIR"])
    shutil.copyfile(COURSE / "source/ps1/Problem 1.ipynb", labs / PS1 / "Problem 1.ipynb")
    r = sadari(imported, "assessment", "release", "ps1", "--cohort", "2026-seoul-1", check=False)
    assert r.returncode == 1
    first, second = r.stderr.strip().splitlines()
    assert first.startswith(
        "sadari: nbgrader generate_assignment failed for ps1 (Problem 1.ipynb): One or more "
        "notebooks in the assignment use an old version of the nbgrader metadata format."
    )
    assert "nbgrader update" in first and "sadari curriculum check --update" in first
    assert second.startswith(f"full log: {tmp_path}/data/logs/nbgrader-ps1-2026-seoul-1-")
    log = Path(second.removeprefix("full log: "))
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "Copying" in log.read_text() and "ERROR" in log.read_text()


def _declare(labs: Path, packages: str) -> None:
    manifest = labs / "curriculum.yaml"
    text = manifest.read_text()
    marker = "            due: +14d 18:00\n"
    assert marker in text
    manifest.write_text(text.replace(marker, marker + f"            packages: {packages}\n"))


def test_packages_reported(imported: dict[str, str], labs: Path) -> None:
    _declare(labs, "[numpy>=1.20, surely-not-installed-pkg]")
    r = sadari(imported, "curriculum", "check", check=False)
    assert r.returncode == 2
    lines = r.stdout.splitlines()
    assert "packages of ps1 (data-analysis/basics, image sadari/lab-data-analysis:0.1.0):" in lines
    numpy = next(ln for ln in lines if ln.startswith("  numpy>=1.20: "))
    assert "satisfied here (numpy " in numpy
    assert "in the image (numpy==" in numpy and "labs/requirements/common.txt" in numpy
    missing = next(ln for ln in lines if ln.startswith("  surely-not-installed-pkg: "))
    assert "missing here (not installed)" in missing
    assert (
        "missing from the image (not pinned): add it to labs/requirements/data-analysis.txt and "
        "rebuild the images: python images/build.py lab-data-analysis grader"
    ) in missing
    assert "packages[1]: surely-not-installed-pkg: the grading environment" in r.stderr
    assert "`sadari curriculum check --install` installs it" in r.stderr
    assert "packages[0]" not in r.stderr


def test_install_refuses_images(imported: dict[str, str], labs: Path) -> None:
    # the docker grader grades in an image: nothing may be pip-installed here (and no network)
    _declare(labs, "[surely-not-installed-pkg]")
    r = sadari(
        {**imported, "SADARI_GRADER": "docker"}, "curriculum", "check", "--install", check=False
    )
    assert r.returncode == 2
    assert "installing:" not in r.stdout
    assert (
        "sadari: refused: surely-not-installed-pkg (ps1): not installed into the image "
        "sadari/lab-data-analysis:0.1.0 (and the docker grader grades in an image too): images "
        "are built, never changed at run time: add it to labs/requirements/data-analysis.txt"
    ) in r.stderr
