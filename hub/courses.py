"""The labs folder as nbgrader sees it: `sadari curriculum check` and `sadari course import`.

`check` runs every check of the curriculum against the files of labs/: the manifest's files
(core/curriculum.py), the notebooks' contents (core/labcheck.py), the manual-grading rubrics,
nbgrader's own metadata validation of every assessment's source notebooks (core/nbmeta.py: which
need `nbgrader update`, which cells nbgrader refuses) and the Python packages each assessment
declares, here and in its track's image (core/packages.py). `update_notebooks` is `nbgrader update`
on the stale ones, `install_packages` pip-installs what the local grading environment lacks and
refuses, saying which requirements file to edit, what only an image rebuild can add.

`import_course` brings an ordinary nbgrader course in: each `source/<assignment>/` folder is
copied (nbgrader's CourseDirectory ignore rules) to labs/<track>/<stage>/assessments/<id>/, its
notebooks updated to nbgrader's metadata schema, its points read from the graded cells, and the
assessment added to labs/curriculum.yaml by a text edit (core/curriculum_edit.py); the result must
pass `check` before anything is moved into place, so a refused import changes nothing.
"""

from __future__ import annotations

import importlib.metadata
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from .core import nbmeta
from .core.curriculum import Assessment, Curriculum, check_files, parse_curriculum, parse_due
from .core.curriculum_edit import (
    EditError,
    NewAssessment,
    add_assessments,
    assessment_id,
    plan_weights,
)
from .core.labcheck import check_labs, graded_points, parse_notebook
from .core.packages import (
    Pin,
    Verdict,
    check_requirement,
    image_requirements,
    parse_requirements,
    requirement_name,
    track_of_image,
)
from .core.yamlsrc import InputError, Problem
from .settings import SadariSettings

# graders whose kernels run in this very Python (the local sandbox runs sys.executable)
LOCAL_GRADERS = ("sandbox", "nbgrader")
STAGING_PREFIX = ".sadari-import-"  # an import's copies, in labs/ until they are moved in place


class LabsFiles:
    """labs/ plus folders staged elsewhere that stand in for folders of it (an import checks its
    copies before moving them into labs/)."""

    def __init__(self, root: Path, staged: Mapping[str, Path] | None = None):
        self.root = root
        self.staged = dict(staged or {})

    def path(self, rel: str) -> Path:
        """Where the file `rel` (relative to labs/) is."""
        for folder, real in self.staged.items():
            if rel == folder or rel.startswith(folder + "/"):
                return real / rel[len(folder) + 1 :]
        return self.root / rel

    def notebooks(self) -> set[str]:
        """Every notebook, relative to labs/."""
        found = {
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*.ipynb")
            if not p.relative_to(self.root).parts[0].startswith(STAGING_PREFIX)
        }
        for folder, real in self.staged.items():
            found |= {f"{folder}/{p.relative_to(real).as_posix()}" for p in real.rglob("*.ipynb")}
        return found

    def label(self, rel: str) -> str:
        """How problems name the file `rel`."""
        return f"{self.root}/{rel}"


@dataclass
class PackageReport:
    """The verdicts on one assessment's `packages`, with the track image and its pins' files."""

    track: str
    stage: str
    assessment: Assessment
    image: str
    image_files: tuple[str, ...] | None
    verdicts: list[Verdict]


@dataclass
class Report:
    """What `check` found: the problems, the notebooks needing `nbgrader update` (path relative
    to labs/ -> nbgrader's verdict) and the package verdicts."""

    problems: list[Problem] = field(default_factory=list)
    stale: dict[str, nbmeta.NotebookMeta] = field(default_factory=dict)
    packages: list[PackageReport] = field(default_factory=list)


def check_rubrics(
    curriculum: Curriculum, files: list[Path], contents: dict[str, bytes]
) -> list[Problem]:
    """The manual-grading rubrics (labs/<track>/project/rubric.yaml) against their notebooks."""
    import yaml

    from .core.labcheck import check_rubric

    problems: list[Problem] = []
    for file in files:
        try:
            spec = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problems.append(Problem(str(file), line, "", f"not a readable YAML rubric: {e}"))
            continue
        notebooks = {}
        for rel, data in contents.items():
            nb, _ = parse_notebook(data, rel)
            if nb is not None:
                notebooks[rel] = nb
        problems += check_rubric(spec, str(file), curriculum, notebooks)
    return problems


def _assessments(curriculum: Curriculum) -> Iterable[tuple[int, str, int, str, Assessment]]:
    for ti, t in enumerate(curriculum.tracks):
        for sid, plan in t.stages.items():
            for ai, a in enumerate(plan.assessments):
                yield ti, t.id, ai, sid, a


def source_notebooks(a: Assessment, existing: set[str]) -> list[str]:
    """The notebooks nbgrader converts for `a`: those it lists and any other notebook at the top
    of its source folder (generate_assignment converts `source/<id>/*.ipynb`)."""
    folder = a.source_dir
    others = {nb for nb in existing if posixpath.dirname(nb) == folder}
    return sorted((set(a.notebooks) & existing) | others)


def installed_distributions() -> dict[str, str]:
    """canonical name -> version of every distribution of this Python (the local grader's)."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(canonicalize_name(name), dist.version)
    return out


def _repo_file(settings: SadariSettings, rel: str) -> Path:
    """A repository file named as in the images' build: labs/... is the labs folder in use."""
    if rel.startswith("labs/"):
        return Path(settings.labs_dir) / rel[len("labs/") :]
    return Path(settings.project_dir) / rel


def image_pins(settings: SadariSettings, files: tuple[str, ...]) -> dict[str, Pin] | None:
    """The pins of the requirements `files` and what they include (None if one is missing)."""
    pins: dict[str, Pin] = {}
    todo, seen = list(files), set()
    while todo:
        rel = todo.pop(0)
        if rel in seen:
            continue
        seen.add(rel)
        path = _repo_file(settings, rel)
        if not path.is_file():
            return None
        found, includes = parse_requirements(path.read_text(encoding="utf-8"), rel)
        for pin in found:
            pins.setdefault(pin.name, pin)
        todo += includes
    return pins


def _rebuild(r: PackageReport, v: Verdict) -> str:
    """What to do when the image lacks `v` (images are built, never changed at run time)."""
    track = track_of_image(r.image)
    if r.image_files is None or track is None:
        return f"install it in the image {r.image} and rebuild it"
    where = "change that pin" if v.in_image == "version" else f"add it to {r.image_files[0]}"
    return f"{where} and rebuild the images: python images/build.py lab-{track} grader"


def _package_problems(
    curriculum: Curriculum, reports: list[PackageReport], grader: str, paths: dict[str, tuple]
) -> list[Problem]:
    doc = curriculum.source
    problems = []
    for r in reports:
        base = paths[r.assessment.id]
        for k, v in enumerate(r.verdicts):
            where = base + ("packages", k)
            if v.here == "invalid":
                problems.append(doc.problem(where, f"not a PEP 508 requirement: {v.here_detail}"))
                continue
            if v.here in ("missing", "version") and grader in LOCAL_GRADERS:
                problems.append(
                    doc.problem(
                        where,
                        f"{v.requirement}: the grading environment ({sys.executable}) has "
                        f"{'not got it' if v.here == 'missing' else v.here_detail}: "
                        "`sadari curriculum check --install` installs it",
                    )
                )
            if v.in_image in ("missing", "version"):
                problems.append(
                    doc.problem(
                        where,
                        f"{v.requirement}: {v.image_detail} in the image {r.image} of track "
                        f"{r.track}: {_rebuild(r, v)}",
                    )
                )
    return problems


def check(settings: SadariSettings, curriculum: Curriculum, files: LabsFiles) -> Report:
    """Every check of `sadari curriculum check` on `curriculum` and `files`."""
    existing = files.notebooks()
    report = Report(problems=check_files(curriculum, existing))
    referenced = [nb for nb in curriculum.referenced_files() if nb in existing]
    contents = {nb: files.path(nb).read_bytes() for nb in referenced}
    report.problems += check_labs(curriculum, contents, str(files.root))
    rubrics = sorted(files.root.glob("*/project/rubric.yaml"))
    report.problems += check_rubrics(curriculum, rubrics, contents)
    installed: dict[str, str] | None = None
    paths: dict[str, tuple] = {}
    for ti, track, ai, sid, a in _assessments(curriculum):
        for rel in source_notebooks(a, existing):
            data = contents.get(rel) or files.path(rel).read_bytes()
            meta = nbmeta.inspect(data, files.label(rel))
            if meta is None:
                continue
            report.problems += meta.problems()
            if meta.needs_update:
                report.stale[rel] = meta
        if a.packages:
            installed = installed if installed is not None else installed_distributions()
            image = curriculum.tracks[ti].image
            req_files = image_requirements(image)
            pins = image_pins(settings, req_files) if req_files else None
            verdicts = [check_requirement(p, installed, pins) for p in a.packages]
            report.packages.append(PackageReport(track, sid, a, image, req_files, verdicts))
            paths[a.id] = ("tracks", ti, "stages", sid, "assessments", ai)
    report.problems += _package_problems(curriculum, report.packages, settings.grader, paths)
    return report


def package_lines(report: Report, grader: str) -> list[str]:
    """The package verdicts, one line per requirement under one line per assessment."""
    lines = []
    for r in report.packages:
        lines.append(f"packages of {r.assessment.id} ({r.track}/{r.stage}, image {r.image}):")
        for v in r.verdicts:
            if v.here == "invalid":
                lines.append(f"  {v.requirement}: not a PEP 508 requirement ({v.here_detail})")
                continue
            if v.here == "ok":
                here = f"satisfied here ({v.here_detail})"
            elif v.here == "n/a":
                here = "not needed on this platform"
            else:
                here = f"missing here ({v.here_detail})"
                if grader not in LOCAL_GRADERS:
                    here += f", which is not where the {grader} grader runs"
            if v.in_image == "ok":
                image = f"in the image ({v.image_detail})"
            elif v.in_image == "unknown":
                image = f"the image's pins are unknown ({r.image} is not built here): check it"
            elif v.in_image == "n/a":
                image = "not needed there"
            else:
                image = f"missing from the image ({v.image_detail}): {_rebuild(r, v)}"
            lines.append(f"  {v.requirement}: {here}; {image}")
    return lines


def update_notebooks(files: LabsFiles, stale: Mapping[str, nbmeta.NotebookMeta]) -> list[str]:
    """`nbgrader update` on the `stale` notebooks in place (those whose cells nbgrader would still
    refuse after the update are left alone, as nbgrader update leaves them); the lines saying
    what changed."""
    lines = []
    for rel, meta in sorted(stale.items()):
        path = files.path(rel)
        if meta.errors:
            lines.append(f"not updated (fix the cells first): {files.label(rel)}")
            continue
        data = nbmeta.upgrade(path.read_bytes())
        tmp = path.with_name(f".{path.name}.update")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        found = ", ".join(str(v) for v in meta.versions if v < meta.expected)
        lines.append(
            f"updated nbgrader metadata (schema {found} -> {meta.expected}): {files.label(rel)}"
        )
    return lines


def pip_command(requirements: list[str]) -> list[str]:
    """The pip command that installs `requirements` into this Python (the local grader's)."""
    return [sys.executable, "-m", "pip", "install", *requirements]


def install_packages(
    report: Report,
    grader: str,
    run: Callable[[list[str]], int] = lambda cmd: subprocess.call(cmd),
) -> tuple[list[str], list[str]]:
    """pip-install the requirements missing from this Python when the grader runs here; refuse
    the rest (images are never changed at run time). (lines of what was done, refusals)."""
    wanted: list[str] = []
    refused: list[str] = []
    for r in report.packages:
        for v in r.verdicts:
            local = grader in LOCAL_GRADERS
            if v.here in ("missing", "version") and local and v.requirement not in wanted:
                wanted.append(v.requirement)
            lacking = v.in_image in ("missing", "version")
            if lacking or (v.here in ("missing", "version") and not local):
                grading = "" if local else f" (and the {grader} grader grades in an image too)"
                refused.append(
                    f"{v.requirement} ({r.assessment.id}): not installed into the image {r.image}"
                    f"{grading}: images are built, never changed at run time: {_rebuild(r, v)}"
                )
    done = []
    if wanted:
        cmd = pip_command(wanted)
        done.append("installing: " + " ".join(cmd))
        code = run(cmd)
        names = ", ".join(str(requirement_name(w)) for w in wanted)
        done.append(f"installed {names}" if code == 0 else f"pip failed (exit {code})")
    return done, refused


# ---- import -------------------------------------------------------------------------------


@dataclass
class ImportOptions:
    """What `sadari course import` was asked: where to, which assignments, how to name, weigh
    and date them, and whether to change anything."""

    track: str
    stage: str
    due: str
    assignments: list[str] = field(default_factory=list)
    id: str | None = None
    title: str | None = None
    title_en: str | None = None
    weight: float | None = None
    rescale: bool = False
    dry_run: bool = False


def _ignore() -> Callable[[str, list[str]], list[str]]:
    """nbgrader's own copy rule for assignment folders (CourseDirectory ignore/include/size)."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import ignore_patterns

    cd = CourseDirectory()
    return ignore_patterns(exclude=cd.ignore, include=cd.include, max_file_size=cd.max_file_size)  # type: ignore[no-any-return]


def _assignments(course: Path, wanted: list[str]) -> list[Path]:
    source = course / "source"
    if not source.is_dir():
        raise InputError(
            [Problem(str(course), None, "", "not an nbgrader course: it has no source/ folder")]
        )
    ignored = set(_ignore()(str(source), [p.name for p in source.iterdir()]))
    found = {p.name: p for p in sorted(source.iterdir()) if p.is_dir() and p.name not in ignored}
    unknown = [w for w in wanted if w not in found]
    if unknown:
        raise InputError(
            [
                Problem(str(source), None, "", f"no assignment {w!r} (found: {', '.join(found)})")
                for w in unknown
            ]
        )
    chosen = [found[w] for w in wanted] if wanted else list(found.values())
    if not chosen:
        raise InputError([Problem(str(source), None, "", "no assignment folders in source/")])
    return chosen


def _stage_existing(curriculum: Curriculum, track: str, stage: str) -> dict[str, float]:
    plan = curriculum.track(track).stages.get(stage)
    return {a.id: a.weight for a in plan.assessments} if plan else {}


def import_course(
    settings: SadariSettings, course: Path, opts: ImportOptions, out: Callable[[str], None]
) -> None:
    """Import the assignments of the nbgrader course at `course` (see the module docstring);
    InputError, with nothing changed, when anything is wrong."""
    from .service import load_curriculum_file

    labs, manifest = Path(settings.labs_dir), settings.curriculum_file
    curriculum = load_curriculum_file(manifest)

    def refuse(message: str, where: str = "sadari course import") -> InputError:
        return InputError([Problem(where, None, "", message)])

    try:
        curriculum.track(opts.track)
        curriculum.stage(opts.stage)
        parse_due(opts.due)
    except KeyError as e:
        known = ", ".join(
            x.id for x in (curriculum.tracks if e.args[0] == opts.track else curriculum.stages)
        )
        raise refuse(
            f"no track or stage {e.args[0]!r} in the curriculum (known: {known})"
        ) from None
    except ValueError as e:
        raise refuse(f"--due: {e}") from None
    folders = _assignments(course, opts.assignments)
    if len(folders) > 1 and (opts.id or opts.title or opts.title_en):
        raise refuse("--id and --title name one assignment: choose it with --assignment")
    taken = {a.id for _, _, _, _, a in _assessments(curriculum)}
    planned: list[tuple[Path, str]] = []
    try:
        for folder in folders:
            aid = assessment_id(opts.id or folder.name)
            if aid in taken or aid in [p[1] for p in planned]:
                raise EditError(f"the curriculum already has an assessment {aid!r}: choose --id")
            dest = labs / opts.track / opts.stage / "assessments" / aid
            if dest.exists():
                raise EditError(f"{dest} exists already: choose --id or remove it")
            planned.append((folder, aid))
        existing = _stage_existing(curriculum, opts.track, opts.stage)
        weights, rescaled, wrong = plan_weights(
            existing, [opts.weight] * len(planned), opts.rescale
        )
    except EditError as e:
        raise refuse(str(e)) from None
    if wrong:
        raise refuse(wrong, f"{manifest}: {opts.track}/{opts.stage}")

    work = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=labs))
    try:
        staged: dict[str, Path] = {}
        new: list[NewAssessment] = []
        for (folder, aid), weight in zip(planned, weights, strict=True):
            rel = f"{opts.track}/{opts.stage}/assessments/{aid}"
            copy = work / aid
            shutil.copytree(folder, copy, ignore=_ignore())
            staged[rel] = copy
            notebooks = sorted(p.name for p in copy.glob("*.ipynb"))
            if not notebooks:
                raise refuse(f"{folder}: no notebooks at the top of the assignment folder")
            others = sum(1 for p in copy.rglob("*") if p.is_file()) - len(notebooks)
            out(
                f"{folder.name} -> {labs}/{rel}/ ({len(notebooks)} notebooks, {others} other files)"
            )
            points: dict[str, float] = {}
            updated = []
            for name in notebooks:
                path = copy / name
                meta = nbmeta.inspect(path.read_bytes(), f"{folder}/{name}")
                if meta is not None and meta.needs_update and not meta.errors:
                    path.write_bytes(nbmeta.upgrade(path.read_bytes()))
                    updated.append(name)
                nb, bad = parse_notebook(path.read_bytes(), f"{folder}/{name}")
                if bad:
                    raise InputError(bad)
                points[name] = sum(graded_points(nb or {}).values())
            if updated:
                out(
                    f"  nbgrader metadata updated to schema {nbmeta.schema_version()} "
                    f"(`nbgrader update`): {', '.join(updated)}"
                )
            total = sum(points.values())
            out(f"  points: {total:g} ({', '.join(f'{n} {p:g}' for n, p in points.items())})")
            title = opts.title or folder.name
            new.append(
                NewAssessment(
                    aid,
                    title,
                    opts.title_en or title,
                    weight,
                    total,
                    opts.due,
                    tuple(f"{rel}/{n}" for n in notebooks),
                )
            )
        text = manifest.read_text(encoding="utf-8")
        try:
            edited = add_assessments(text, opts.track, opts.stage, new, rescaled)
        except EditError as e:
            raise refuse(str(e), str(manifest)) from None
        result = parse_curriculum(edited, str(manifest))
        report = check(settings, result, LabsFiles(labs, staged))
        if report.problems:
            raise InputError(report.problems)
        for a in new:
            out(
                f"{manifest}: {a.id} added to {opts.track}/{opts.stage} (weight {a.weight:g}, "
                f"{a.points:g} points, due {a.due})"
            )
        for aid, w in rescaled.items():
            out(f"  {aid}: weight {existing[aid]:g} -> {w:g}")
        out(f"checked: {summary(result)}")
        if opts.dry_run:
            out("dry run: nothing was changed")
            return
        tmp_manifest = work / manifest.name
        tmp_manifest.write_text(edited, encoding="utf-8")
        shutil.copymode(manifest, tmp_manifest)
        for rel, copy in staged.items():
            (labs / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(copy, labs / rel)
        os.replace(tmp_manifest, manifest)
        out(
            f"next: sadari assessment release {new[0].id}"
            + (" (and the others)" if len(new) > 1 else "")
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(c: Curriculum) -> str:
    """The counts `sadari curriculum check` reports."""
    n = len(c.referenced_files())
    return (
        f"{len(c.tracks)} tracks, {len(c.stages)} stages, {len(c.cohorts)} cohorts, "
        f"{n} notebooks found"
    )
