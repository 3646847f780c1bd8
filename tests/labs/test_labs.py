"""Every lab of every track in labs/curriculum.yaml, end to end (new labs are picked up by themselves).

- nbgrader's `generate_assignment` makes the student version of every assessment (solutions, model
  answers and hidden tests removed), in a course directory as sadari's release does it;
- through sadari's own grading path (`SandboxAutograder` on the local sandbox, set up as
  `hub.assessments.autograder_for` does it) the instructor's solution earns every autograded point,
  the released student version earns none, and a partly correct version earns some but not all;
  manually graded cells always wait for an instructor. The partly correct version is
  tests/labs/partial/<assessment>.ipynb (or partial/<assessment>/<notebook>.ipynb) when there is
  one, else the release with the solutions of the first half of its answer cells put back;
- every practice notebook runs top to bottom in at most 60 s, in a kernel without network access;
- notebooks embedding a generator of labs/datasets/ hold its current source, and the generators
  are deterministic; every project rubric matches its notebook and the manifest.

The grading tests are marked `sandbox` (root and bubblewrap). One module-scoped course directory
and one sandbox pool serve every test; work runs two at a time. Timings are printed at the end.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest
import yaml

from sadari.graders.autograde import Job, Outcome, SandboxAutograder, nbgrader
from sadari.graders.sandbox.base import Limits
from sadari.hub.core.curriculum import Assessment, parse_curriculum
from tests.support.hub import ROOT

LABS = ROOT / "labs"
PARTIAL = Path(__file__).with_name("partial")
CURRICULUM = parse_curriculum((LABS / "curriculum.yaml").read_text(encoding="utf-8"))
ASSESSMENTS: dict[str, Assessment] = {
    a.id: a for t in CURRICULUM.tracks for p in t.stages.values() for a in p.assessments
}
PRACTICE = sorted({nb for t in CURRICULUM.tracks for p in t.stages.values() for nb in p.notebooks})
VARIANTS = ("solution", "release", "partial")
PRACTICE_LIMIT = 60.0  # seconds per practice notebook
WORKERS = 2
TIMINGS: dict[str, float] = {}

sandbox = pytest.mark.sandbox


def _source_nb(notebook: str) -> dict[str, Any]:
    return dict(json.loads((LABS / notebook).read_text(encoding="utf-8")))


def _meta(cell: dict[str, Any]) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def auto_points(nb: dict[str, Any]) -> float:
    """Points of the autograded test cells (graded code cells that are not answers)."""
    return sum(
        float(_meta(c).get("points", 0))
        for c in nb["cells"]
        if c["cell_type"] == "code" and _meta(c).get("grade") and not _meta(c).get("solution")
    )


AUTO = {
    aid: sum(auto_points(_source_nb(nb)) for nb in a.notebooks) for aid, a in ASSESSMENTS.items()
}
AUTOGRADED = sorted(aid for aid, points in AUTO.items() if points > 0)


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"labs_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _report(request: pytest.FixtureRequest, title: str, prefix: str) -> None:
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    rows = sorted((k[len(prefix) :], v) for k, v in TIMINGS.items() if k.startswith(prefix))
    if reporter is None or capture is None or not rows:
        return
    with capture.global_and_fixture_disabled():  # shown even when the tests pass
        reporter.write_line("")
        reporter.write_line(f"{title} (seconds):")
        for name, seconds in rows:
            reporter.write_line(f"  {seconds:6.1f}  {name}")


def _selected(request: pytest.FixtureRequest, param: str) -> set[str]:
    """The values of `param` among the tests this session runs (so `-k` runs only those)."""
    return {
        item.callspec.params[param]
        for item in request.session.items
        if hasattr(item, "callspec") and param in item.callspec.params
    }


# --- the course directory: sources and nbgrader's student versions ------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One course directory with every assessment's source and `generate_assignment`'s release
    (one nbgrader run for all of them; sadari runs it per assessment, with the same result)."""
    root = tmp_path_factory.mktemp("course")
    for aid, a in ASSESSMENTS.items():
        shutil.copytree(LABS / a.source_dir, root / "source" / aid)
    t0 = time.monotonic()
    run = nbgrader(root, "generate_assignment", "*", "--force")
    TIMINGS["generate: all assessments"] = time.monotonic() - t0
    return {"root": root, "returncode": run.returncode, "log": (run.stdout + run.stderr)[-6000:]}


@pytest.mark.parametrize("aid", sorted(ASSESSMENTS))
def test_generate_assignment_makes_the_student_version(course: dict[str, Any], aid: str) -> None:
    a = ASSESSMENTS[aid]
    released = course["root"] / "release" / aid
    for notebook in a.notebooks:
        path = released / Path(notebook).name
        assert path.is_file(), f"{aid}: no student version of {notebook}\n{course['log']}"
        text = path.read_text(encoding="utf-8")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{path.name}: {marker!r} reached the student version"
        nbformat.validate(nbformat.reads(text, as_version=4))
        # the model answers of manually graded cells are gone too
        released_cells = {_meta(c).get("grade_id"): c for c in json.loads(text)["cells"]}
        for cell in _source_nb(notebook)["cells"]:
            meta, gid = _meta(cell), _meta(cell).get("grade_id")
            if meta.get("grade") and meta.get("solution") and "".join(cell["source"]).strip():
                assert released_cells[gid]["source"] != cell["source"], f"{gid}: answer released"
    if course["returncode"]:  # the run for all failed: is it this assessment?
        with tempfile.TemporaryDirectory(prefix="sadari-course-") as tmp:
            shutil.copytree(LABS / a.source_dir, Path(tmp) / "source" / aid)
            run = nbgrader(Path(tmp), "generate_assignment", aid, "--force")
            assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]


@pytest.mark.parametrize("aid", AUTOGRADED)
def test_autograded_assessments_have_hidden_tests(aid: str) -> None:
    text = "".join((LABS / nb).read_text(encoding="utf-8") for nb in ASSESSMENTS[aid].notebooks)
    assert "### BEGIN HIDDEN TESTS" in text and "### END HIDDEN TESTS" in text


# --- grading through the sandbox -----------------------------------------------------------------


def partial_version(aid: str, notebook: str, release: dict[str, Any]) -> dict[str, Any]:
    """The partly correct version of one notebook: stored, or the release with the solutions of the
    first half of its answer cells put back."""
    stored = [PARTIAL / aid / Path(notebook).name]
    if len(ASSESSMENTS[aid].notebooks) == 1:
        stored.insert(0, PARTIAL / f"{aid}.ipynb")
    for path in stored:
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8")))
    source = {
        _meta(c).get("grade_id"): c
        for c in json.loads((LABS / notebook).read_text(encoding="utf-8"))["cells"]
    }
    answers = [
        c
        for c in release["cells"]
        if c["cell_type"] == "code" and _meta(c).get("solution") and not _meta(c).get("grade")
    ]
    out = json.loads(json.dumps(release))
    # with a single answer cell, filling it would be the full solution: fill nothing
    fill = {c["id"] for c in answers[: math.ceil(len(answers) / 2)]} if len(answers) > 1 else set()
    for cell in out["cells"]:
        if cell.get("id") in fill:
            cell["source"] = source[_meta(cell)["grade_id"]]["source"]
    return dict(out)


def submission(course: Path, aid: str, variant: str) -> None:
    folder = course / "submitted" / variant / aid
    folder.mkdir(parents=True, exist_ok=True)
    for notebook in ASSESSMENTS[aid].notebooks:
        name = Path(notebook).name
        if variant == "solution":
            shutil.copy(LABS / notebook, folder / name)
            continue
        release = json.loads((course / "release" / aid / name).read_text(encoding="utf-8"))
        nb = release if variant == "release" else partial_version(aid, notebook, release)
        (folder / name).write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    (folder / "timestamp.txt").write_text("2026-11-20 09:00:00.000000 UTC")


@pytest.fixture(scope="module")
def graded(
    course: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[dict[tuple[str, str], Outcome]]:
    """Every selected (assessment, variant) graded once, two at a time, by one sandbox pool."""
    from sadari.graders.sandbox.local import LocalSandbox, available

    reason = available()
    if reason:
        pytest.skip(f"local sandbox unavailable: {reason}")
    root = course["root"]
    wanted = _selected(request, "aid") & set(ASSESSMENTS)
    jobs = [
        (aid, v) for aid in sorted(wanted) for v in VARIANTS if (root / "release" / aid).is_dir()
    ]
    for aid, variant in jobs:
        submission(root, aid, variant)
    limits = Limits(memory_bytes=2 * 1024**3)  # as hub.assessments.autograder_for
    grader = SandboxAutograder(
        LocalSandbox(slots=WORKERS, pool=WORKERS, limits=limits), limits, record_nbgrader=True
    )

    def grade(job: tuple[str, str]) -> Outcome:
        aid, variant = job
        outcome = grader.grade(Job(root, aid, variant))
        TIMINGS[f"grade: {aid} ({variant})"] = outcome.seconds
        return outcome

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            yield dict(zip(jobs, pool.map(grade, jobs), strict=True))
    finally:
        grader.close()
        _report(request, "grading through the sandbox", "grade: ")


def _scores(outcome: Outcome) -> tuple[float, float, list[Any]]:
    auto = [c for c in outcome.cells if c.kind == "auto"]
    manual = [c for c in outcome.cells if c.kind == "manual"]
    return sum(c.score or 0 for c in auto), sum(c.max_score for c in auto), manual


@sandbox
@pytest.mark.parametrize("aid", sorted(ASSESSMENTS))
def test_the_solution_earns_every_autograded_point(
    graded: dict[tuple[str, str], Outcome], aid: str
) -> None:
    outcome = graded[(aid, "solution")]
    earned, most, manual = _scores(outcome)
    assert outcome.status == "graded", outcome.reason
    assert most == AUTO[aid], (
        f"{aid}: the sandbox scored {most} autograded points, the source has {AUTO[aid]}"
    )
    assert earned == most, f"{aid}: {earned}/{most}: {outcome.reason}"
    assert all(c.score is None for c in manual), "manual cells wait for an instructor"
    assert most + sum(c.max_score for c in manual) == ASSESSMENTS[aid].points


@sandbox
@pytest.mark.parametrize("aid", sorted(ASSESSMENTS))
def test_the_student_version_earns_nothing(
    graded: dict[tuple[str, str], Outcome], aid: str
) -> None:
    outcome = graded[(aid, "release")]
    earned, most, manual = _scores(outcome)
    assert earned == 0, f"{aid}: the unanswered notebook earned {earned}/{most}"
    # an unanswered written answer is scored 0 by nbgrader's rule (its checksum is unchanged)
    # and stays a manual cell; nothing waits for a grader
    assert all(c.score == 0 for c in manual), manual


@sandbox
@pytest.mark.parametrize("aid", AUTOGRADED)
def test_a_partly_correct_version_earns_partial_credit(
    graded: dict[tuple[str, str], Outcome], aid: str
) -> None:
    earned, most, _ = _scores(graded[(aid, "partial")])
    assert 0 < earned < most, (
        f"{aid}: the partly correct version earned {earned}/{most}; store one that earns some "
        f"points as tests/labs/partial/{aid}.ipynb"
    )


# --- practice notebooks --------------------------------------------------------------------------


def _offline_prefix() -> list[str]:
    """A command prefix that gives the kernel a network namespace of its own (no network)."""
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        if shutil.which(prefix[0]):
            probe = subprocess.run([*prefix, "true"], capture_output=True)
            if probe.returncode == 0:
                return [*prefix, "--"]
    return []


# Without a namespace, a guard in the kernel refuses every connection that is not a Unix socket.
GUARD = (
    "import socket as _s\n"
    "def _refuse(self, address, _connect=_s.socket.connect):\n"
    "    if self.family != _s.AF_UNIX:\n"
    "        raise OSError('network access is not allowed in the labs')\n"
    "    return _connect(self, address)\n"
    "_s.socket.connect = _refuse\n"
    "del _s, _refuse\n"
)


def run_practice(notebook: str, prefix: list[str]) -> tuple[float, str]:
    """Run one notebook top to bottom in a fresh folder; (seconds, error or '')."""
    from jupyter_client import AsyncKernelManager
    from nbclient import NotebookClient

    class OfflineKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return prefix + list(super().format_kernel_cmd(extra_arguments))

    nb = nbformat.read(LABS / notebook, as_version=4)
    if not prefix:
        nb.cells.insert(0, nbformat.v4.new_code_cell(GUARD))
    with tempfile.TemporaryDirectory(prefix="sadari-lab-") as tmp:
        km = OfflineKernelManager(kernel_name="python3", transport="ipc", ip=f"{tmp}/kernel")
        client = NotebookClient(
            nb, km=km, timeout=PRACTICE_LIMIT, resources={"metadata": {"path": tmp}}
        )
        env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        t0 = time.monotonic()
        try:
            with client.setup_kernel(env=env, cleanup_kc=True):
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            error = ""
        except Exception as e:  # CellExecutionError, CellTimeoutError, DeadKernelError
            error = f"{type(e).__name__}: {str(e)[-3000:]}"
        return time.monotonic() - t0, error


@pytest.fixture(scope="module")
def practice_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, tuple[float, str]]]:
    """Every selected practice notebook run once, two at a time."""
    wanted = sorted(_selected(request, "notebook") & set(PRACTICE))
    prefix = _offline_prefix()

    def one(notebook: str) -> tuple[float, str]:
        seconds, error = run_practice(notebook, prefix)
        TIMINGS[f"run: {notebook}"] = seconds
        return seconds, error

    with ThreadPoolExecutor(WORKERS) as pool:
        yield dict(zip(wanted, pool.map(one, wanted), strict=True))
    how = "own network namespace" if prefix else "socket guard (no namespace available)"
    _report(request, f"practice notebooks, offline: {how}", "run: ")


@pytest.mark.parametrize("notebook", PRACTICE)
def test_practice_notebook_runs_offline_within_a_minute(
    practice_runs: dict[str, tuple[float, str]], notebook: str
) -> None:
    seconds, error = practice_runs[notebook]
    assert not error, f"{notebook}: {error}"
    assert seconds <= PRACTICE_LIMIT, (
        f"{notebook} took {seconds:.1f}s (at most {PRACTICE_LIMIT:.0f}s)"
    )


# --- data generators and rubrics -----------------------------------------------------------------


def test_embedded_generators_are_current() -> None:
    embed = _load(LABS / "datasets" / "embed.py")
    stale = []
    for path in sorted(LABS.rglob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        stale += [f"{path.relative_to(LABS)} cell {i} ({name})" for i, name in embed.stale(nb)]
    assert not stale, "run `python labs/datasets/embed.py` to refresh: " + ", ".join(stale)


def test_generators_are_seeded_offline_and_korean() -> None:
    commerce = _load(LABS / "datasets" / "commerce.py")
    experiments = _load(LABS / "datasets" / "experiments.py")
    customers, products, orders = commerce.make_shop(n_customers=300, seed=5)
    again = commerce.make_shop(n_customers=300, seed=5)
    assert customers.equals(again[0]) and orders.equals(again[2])
    assert not orders.equals(commerce.make_shop(n_customers=300, seed=6)[2])
    assert set(customers["district"]) <= set(commerce.DISTRICTS["district"])
    assert len(commerce.DISTRICTS) == 25 and all(
        d.endswith("구") for d in commerce.DISTRICTS["district"]
    )
    assert all(any("가" <= ch <= "힣" for ch in name) for name in products["product_name"])
    assert orders["amount"].dtype.kind == "i" and (orders["amount"] % 10 == 0).all()  # whole KRW
    assert orders["customer_id"].isin(customers["customer_id"]).all()
    assert (
        orders["order_date"]
        >= customers.set_index("customer_id").loc[orders["customer_id"], "signup_date"].to_numpy()
    ).all()
    campaign = commerce.make_campaign(customers, orders, seed=5)
    assert set(campaign["group"]) == {"coupon", "control"}
    events = experiments.make_events(n_users=500, seed=1)
    assert events.equals(experiments.make_events(n_users=500, seed=1))
    assert set(events["event"]) == set(experiments.STEPS)
    ab = experiments.make_ab_test(n_users=1000, seed=1)
    assert set(ab["group"]) == {"A", "B"} and len(ab) == 1000


RUBRICS = sorted(p.relative_to(LABS).as_posix() for p in LABS.glob("*/project/rubric.yaml"))


@pytest.mark.parametrize("rubric", RUBRICS)
def test_project_rubric_matches_its_notebook_and_the_manifest(rubric: str) -> None:
    spec = yaml.safe_load((LABS / rubric).read_text(encoding="utf-8"))
    a = ASSESSMENTS[spec["assessment"]]
    assert spec["notebook"] in a.notebooks
    nb = json.loads((LABS / spec["notebook"]).read_text(encoding="utf-8"))
    manual = {
        _meta(c)["grade_id"]: float(_meta(c)["points"])
        for c in nb["cells"]
        if _meta(c).get("grade") and _meta(c).get("solution")
    }
    criteria = {c["id"]: float(c["points"]) for c in spec["criteria"]}
    assert criteria == manual, "one criterion per manually graded cell, with the same points"
    assert spec["total"] == sum(criteria.values()) == a.points
    for c in spec["criteria"]:
        levels = [float(level["points"]) for level in c["levels"]]
        assert max(levels) == c["points"] and min(levels) == 0, c["id"]
        assert all(level["ko"] and level["en"] for level in c["levels"]), c["id"]
        assert c["title"]["ko"] and c["title"]["en"], c["id"]
