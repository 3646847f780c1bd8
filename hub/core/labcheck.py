"""Checks of the labs that need the notebooks' contents, not just their names.

`check_labs(curriculum, notebooks)` takes the parsed manifest and the bytes of the notebooks it names
(path relative to labs/ -> bytes; the caller reads them) and returns every Problem it finds:

- a notebook that is not UTF-8, not JSON, or not nbformat 4;
- ids that must be unique: cell ids and nbgrader grade_ids within a notebook (nbgrader keys grades
  by grade_id), and the workspace names of one stage's practice notebooks (they are copied flat
  into `<n>-<stage>/`, so two with the same file name would overwrite each other);
- a graded cell whose `points` is missing or not a number >= 0;
- an assessment whose notebooks have no graded cell, or whose nbgrader points do not add up to the
  `points` the manifest declares (reported at that field of curriculum.yaml);
- a practice notebook that is also an assessment notebook, or that holds nbgrader solution or
  hidden-test regions (practice notebooks reach trainees as they are);
- a manual-grading rubric (`check_rubric`, e.g. labs/<track>/project/rubric.yaml) whose criteria
  are not exactly the notebook's manually graded cells with their points, whose levels do not run
  from 0 to the criterion's points or lack Korean or English, or whose total is not the points the
  manifest declares.

Pure: no I/O. Notebook problems name the notebook file and the field (`cells[3].metadata...`).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from typing import Any

from .curriculum import Assessment, Curriculum
from .yamlsrc import Path, Problem

MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")


def _nbgrader(cell: Mapping[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, Mapping) else None
    return dict(nbg) if isinstance(nbg, Mapping) else {}


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(str(s) for s in src) if isinstance(src, list) else str(src)


def _points(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def parse_notebook(data: bytes, file: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The notebook in `data`, or None with the Problem saying why it cannot be read."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem(file, None, "", f"not UTF-8 text (byte {e.start})")]
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [Problem(file, e.lineno, "", f"not valid JSON: {e.msg}")]
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        return None, [Problem(file, None, "nbformat", "not a Jupyter notebook in nbformat 4")]
    return nb, []


def graded_points(nb: Mapping[str, Any]) -> dict[str, float]:
    """grade_id -> points of every cell nbgrader scores (graded answers and tests, and tasks)."""
    out: dict[str, float] = {}
    for cell in nb.get("cells", []):
        if not isinstance(cell, Mapping):
            continue
        meta = _nbgrader(cell)
        if meta.get("grade") or meta.get("task"):
            points = _points(meta.get("points"))
            out[str(meta.get("grade_id"))] = points if points is not None else 0.0
    return out


def check_notebook(nb: Mapping[str, Any], file: str, practice: bool = False) -> list[Problem]:
    """Problems within one notebook: duplicate ids, bad points, and (`practice`) answer regions."""
    problems: list[Problem] = []
    cell_ids: dict[str, int] = {}
    grade_ids: dict[str, int] = {}
    for i, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, Mapping):
            problems.append(Problem(file, None, f"cells[{i}]", "not a cell (an object)"))
            continue
        cid = cell.get("id")
        if isinstance(cid, str):
            if cid in cell_ids:
                problems.append(
                    Problem(
                        file,
                        None,
                        f"cells[{i}].id",
                        f"duplicate cell id {cid!r} (cells[{cell_ids[cid]}])",
                    )
                )
            cell_ids.setdefault(cid, i)
        meta = _nbgrader(cell)
        gid = meta.get("grade_id")
        if isinstance(gid, str) and gid:
            if gid in grade_ids:
                problems.append(
                    Problem(
                        file,
                        None,
                        f"cells[{i}].metadata.nbgrader.grade_id",
                        f"duplicate grade_id {gid!r} (cells[{grade_ids[gid]}])",
                    )
                )
            grade_ids.setdefault(gid, i)
        elif any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
            problems.append(
                Problem(file, None, f"cells[{i}].metadata.nbgrader.grade_id", "missing grade_id")
            )
        if (meta.get("grade") or meta.get("task")) and _points(meta.get("points")) is None:
            problems.append(
                Problem(
                    file,
                    None,
                    f"cells[{i}].metadata.nbgrader.points",
                    f"a graded cell needs points (a number >= 0), not {meta.get('points')!r}",
                )
            )
        if practice:
            src = _source(cell)
            for marker in MARKERS:
                if marker in src:
                    problems.append(
                        Problem(
                            file,
                            None,
                            f"cells[{i}].source",
                            f"a practice notebook reaches trainees as it is: it must not hold "
                            f"{marker!r} regions (only assessments go through nbgrader)",
                        )
                    )
    return problems


def _assessment_points(
    curriculum: Curriculum, a: Assessment, path: Path, read: Mapping[str, dict[str, Any]]
) -> list[Problem]:
    per_notebook = {nb: graded_points(read[nb]) for nb in a.notebooks if nb in read}
    if len(per_notebook) < len(a.notebooks):
        return []  # a missing or unreadable notebook is reported on its own
    total = sum(sum(points.values()) for points in per_notebook.values())
    doc = curriculum.source
    if not any(per_notebook.values()):
        return [doc.problem(path + ("notebooks",), f"{a.id}: no graded cell in its notebooks")]
    if abs(total - a.points) > 1e-9:
        detail = "; ".join(
            f"{posixpath.basename(nb)}: " + ", ".join(f"{gid}={p:g}" for gid, p in points.items())
            for nb, points in per_notebook.items()
        )
        return [
            doc.problem(
                path + ("points",),
                f"{a.id} declares {a.points:g} points but the graded cells of its notebooks add "
                f"up to {total:g} ({detail})",
            )
        ]
    return []


def check_labs(
    curriculum: Curriculum, notebooks: Mapping[str, bytes], labs_dir: str = "labs"
) -> list[Problem]:
    """Every problem of the referenced notebooks in `notebooks` (path under labs/ -> bytes).

    Notebooks absent from `notebooks` are skipped (`check_files` reports missing files);
    `labs_dir` only prefixes the file names in the problems.
    """
    problems: list[Problem] = []
    read: dict[str, dict[str, Any]] = {}
    graded = {
        nb
        for t in curriculum.tracks
        for p in t.stages.values()
        for a in p.assessments
        for nb in a.notebooks
    }
    practice = {nb for t in curriculum.tracks for p in t.stages.values() for nb in p.notebooks}
    for rel in sorted(set(curriculum.referenced_files()) & set(notebooks)):
        file = posixpath.join(labs_dir, rel)
        nb, bad = parse_notebook(notebooks[rel], file)
        problems += bad
        if nb is not None:
            read[rel] = nb
            problems += check_notebook(nb, file, practice=rel in practice)
    doc = curriculum.source
    for ti, track in enumerate(curriculum.tracks):
        for sid, plan in track.stages.items():
            base: Path = ("tracks", ti, "stages", sid)
            seen: dict[str, int] = {}
            for ni, nb_path in enumerate(plan.notebooks):
                name = posixpath.basename(nb_path)
                if name in seen:
                    problems.append(
                        doc.problem(
                            base + ("notebooks", ni),
                            f"{name!r} is also notebooks[{seen[name]}]: both would be copied to the "
                            "same file of the trainee's stage folder",
                        )
                    )
                seen.setdefault(name, ni)
                if nb_path in graded:
                    problems.append(
                        doc.problem(
                            base + ("notebooks", ni),
                            f"{nb_path!r} is an assessment notebook: as a practice notebook its "
                            "solutions and hidden tests would reach trainees",
                        )
                    )
            for ai, a in enumerate(plan.assessments):
                problems += _assessment_points(curriculum, a, base + ("assessments", ai), read)
    return problems


def _manual_cells(nb: Mapping[str, Any]) -> dict[str, float]:
    """grade_id -> points of the answers graded by hand (graded solution cells)."""
    out: dict[str, float] = {}
    for cell in nb.get("cells", []):
        meta = _nbgrader(cell) if isinstance(cell, Mapping) else {}
        if meta.get("grade") and meta.get("solution"):
            out[str(meta.get("grade_id"))] = _points(meta.get("points")) or 0.0
    return out


def check_rubric(
    spec: Any, file: str, curriculum: Curriculum, notebooks: Mapping[str, Mapping[str, Any]]
) -> list[Problem]:
    """Problems of one rubric (parsed YAML) against its assessment and notebook (`notebooks`: path
    under labs/ -> parsed notebook)."""

    def problem(field: str, message: str) -> Problem:
        return Problem(file, None, field, message)

    if not isinstance(spec, Mapping):
        return [problem("", "a rubric is a mapping with assessment, notebook, total, criteria")]
    found = {
        a.id: a for t in curriculum.tracks for plan in t.stages.values() for a in plan.assessments
    }
    a = found.get(str(spec.get("assessment")))
    if a is None:
        return [
            problem("assessment", f"{spec.get('assessment')!r} is no assessment of the curriculum")
        ]
    if spec.get("notebook") not in a.notebooks:
        return [problem("notebook", f"{spec.get('notebook')!r} is not a notebook of {a.id}")]
    problems: list[Problem] = []
    criteria = spec.get("criteria")
    if not isinstance(criteria, list) or not criteria:
        return [problem("criteria", "a list of criteria is required")]
    points: dict[str, float] = {}
    for i, c in enumerate(criteria):
        where = f"criteria[{i}]"
        if not isinstance(c, Mapping):
            problems.append(problem(where, "a criterion is a mapping"))
            continue
        value = _points(c.get("points"))
        if value is None:
            problems.append(problem(f"{where}.points", "a number >= 0 is required"))
            continue
        points[str(c.get("id"))] = value
        title = c.get("title")
        if not (isinstance(title, Mapping) and title.get("ko") and title.get("en")):
            problems.append(problem(f"{where}.title", "needs both ko and en"))
        levels = c.get("levels")
        if not isinstance(levels, list) or not levels:
            problems.append(problem(f"{where}.levels", "a list of levels is required"))
            continue
        level_points = [
            _points(lv.get("points")) if isinstance(lv, Mapping) else None for lv in levels
        ]
        if None in level_points or max(level_points) != value or min(level_points) != 0:  # type: ignore[type-var]
            problems.append(
                problem(
                    f"{where}.levels", f"levels must run from 0 to the criterion's {value:g} points"
                )
            )
        for j, lv in enumerate(levels):
            if not (isinstance(lv, Mapping) and lv.get("ko") and lv.get("en")):
                problems.append(problem(f"{where}.levels[{j}]", "needs both ko and en"))
    nb = notebooks.get(a.notebooks[a.notebooks.index(spec["notebook"])])
    if nb is not None:
        manual = _manual_cells(nb)
        if points != manual:
            problems.append(
                problem(
                    "criteria",
                    f"criteria {points} are not the manually graded cells of {spec['notebook']} "
                    f"{manual} (one criterion per cell, same grade_id and points)",
                )
            )
    total = _points(spec.get("total"))
    if total is None or abs(total - sum(points.values())) > 1e-9 or abs(total - a.points) > 1e-9:
        problems.append(
            problem(
                "total",
                f"total {spec.get('total')!r} must equal the criteria's sum "
                f"({sum(points.values()):g}) and {a.id}'s points in the curriculum ({a.points:g})",
            )
        )
    return problems
