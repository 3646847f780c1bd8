"""The curriculum model: program, stages, cohorts, tracks, what each stage provisions and grades.

Built from the text of labs/curriculum.yaml by `parse_curriculum`, which validates it against the
schema and the rules the schema cannot express, and reports every problem with file, line and field.
`check_files` compares the manifest with the files of the labs folder (given as a set of paths, so
this module stays free of I/O).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

from .curriculum_schema import SCHEMA
from .deadlines import LatePolicy
from .yamlsrc import InputError, Located, Path, Problem, parse

_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_RELATIVE_DUE = re.compile(r"^\+(\d{1,3})d(?: (\d{1,2}):(\d{2}))?$")


@dataclass(frozen=True)
class Text:
    """Korean and English versions of one piece of user-facing text."""

    ko: str
    en: str

    def __str__(self) -> str:
        return f"{self.ko} / {self.en}"


@dataclass(frozen=True)
class Resources:
    """Limits of one trainee server."""

    memory: str
    cpu: float
    gpu: int = 0

    @property
    def memory_bytes(self) -> int:
        """The memory limit in bytes."""
        return int(float(self.memory[:-1]) * _UNITS[self.memory[-1]])


@dataclass(frozen=True)
class Due:
    """A due date: either days after the cohort start at a local time, or an absolute instant."""

    days: int | None = None
    at: time = time(18, 0)
    absolute: datetime | None = None

    def resolve(self, cohort: Cohort) -> datetime:
        """The due instant (UTC) for `cohort`."""
        if self.absolute is not None:
            return self.absolute.astimezone(UTC)
        local = datetime.combine(cohort.starts + timedelta(days=self.days or 0), self.at)
        return local.replace(tzinfo=ZoneInfo(cohort.timezone)).astimezone(UTC)


@dataclass(frozen=True)
class Assessment:
    """A graded assessment of one stage of one track."""

    id: str
    title: Text
    weight: float
    points: float
    due: Due
    notebooks: tuple[str, ...]
    late: LatePolicy = LatePolicy()

    @property
    def source_dir(self) -> str:
        """The folder (relative to labs/) holding the nbgrader source of this assessment."""
        return posixpath.dirname(self.notebooks[0])


@dataclass(frozen=True)
class StagePlan:
    """What trainees of one track get in one stage."""

    stage: str
    notebooks: tuple[str, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    resources: Resources | None = None


@dataclass(frozen=True)
class Stage:
    """A stage of the program (basics, advanced, project); `position` starts at 1."""

    id: str
    name: Text
    position: int


@dataclass(frozen=True)
class Track:
    """A track (course) with its image, default resources and plan per stage."""

    id: str
    name: Text
    image: str
    resources: Resources
    stages: Mapping[str, StagePlan]


@dataclass(frozen=True)
class Cohort:
    """An intake of trainees that starts on one day."""

    id: str
    name: Text
    starts: date
    timezone: str = "Asia/Seoul"


@dataclass(frozen=True)
class Curriculum:
    """The whole manifest, validated."""

    program_id: str
    program_name: Text
    stages: tuple[Stage, ...]
    tracks: tuple[Track, ...]
    cohorts: tuple[Cohort, ...]
    source: Located = field(compare=False, repr=False)

    def stage(self, stage_id: str) -> Stage:
        """The stage with `stage_id` (KeyError if none)."""
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    def track(self, track_id: str) -> Track:
        """The track with `track_id` (KeyError if none)."""
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise KeyError(track_id)

    def cohort(self, cohort_id: str) -> Cohort:
        """The cohort with `cohort_id` (KeyError if none)."""
        for c in self.cohorts:
            if c.id == cohort_id:
                return c
        raise KeyError(cohort_id)

    def next_stage(self, stage_id: str) -> Stage | None:
        """The stage after `stage_id`, or None after the last."""
        pos = self.stage(stage_id).position
        return self.stages[pos] if pos < len(self.stages) else None

    def referenced_files(self) -> dict[str, Path]:
        """Every notebook the manifest names (relative to labs/), with where it is named."""
        out: dict[str, Path] = {}
        for ti, t in enumerate(self.tracks):
            for sid, plan in t.stages.items():
                base: Path = ("tracks", ti, "stages", sid)
                for ni, nb in enumerate(plan.notebooks):
                    out.setdefault(nb, base + ("notebooks", ni))
                for ai, a in enumerate(plan.assessments):
                    for ni, nb in enumerate(a.notebooks):
                        out.setdefault(nb, base + ("assessments", ai, "notebooks", ni))
        return out


def parse_curriculum(text: str, file: str = "labs/curriculum.yaml") -> Curriculum:
    """Validate the manifest text and build the model; InputError lists every problem."""
    doc = parse(text, file)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = [
        doc.problem(tuple(err.absolute_path), err.message)
        for err in sorted(validator.iter_errors(doc.value), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        raise InputError(problems)
    return _build(doc)


def _text(v: Mapping[str, str]) -> Text:
    return Text(ko=v["ko"], en=v["en"])


def _resources(v: Mapping[str, Any]) -> Resources:
    return Resources(memory=v["memory"], cpu=float(v["cpu"]), gpu=int(v.get("gpu", 0)))


def parse_due(value: str) -> Due:
    """Parse '+N d HH:MM' / '+Nd' / an ISO 8601 date-time with offset; ValueError if neither."""
    m = _RELATIVE_DUE.match(value.replace(" d", "d"))
    if m:
        hh, mm = int(m.group(2) or 18), int(m.group(3) or 0)
        return Due(days=int(m.group(1)), at=time(hh, mm))
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither '+N d HH:MM' nor an ISO 8601 date-time with offset"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (write e.g. 2026-12-05T18:00:00+09:00)")
    return Due(absolute=instant)


def _unique(items: Iterable[tuple[str, Path]], doc: Located, what: str) -> list[Problem]:
    seen: dict[str, Path] = {}
    problems = []
    for ident, path in items:
        if ident in seen:
            problems.append(
                doc.problem(
                    path,
                    f"duplicate {what} id {ident!r} (first at line {doc.line_of(seen[ident])})",
                )
            )
        else:
            seen[ident] = path
    return problems


def _build(doc: Located) -> Curriculum:
    v = doc.value
    problems: list[Problem] = []
    stages = tuple(Stage(s["id"], _text(s["name"]), i + 1) for i, s in enumerate(v["stages"]))
    stage_ids = [s.id for s in stages]
    problems += _unique(((s.id, ("stages", i, "id")) for i, s in enumerate(stages)), doc, "stage")

    cohorts = []
    for ci, c in enumerate(v["cohorts"]):
        tz = c.get("timezone", "Asia/Seoul")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(doc.problem(("cohorts", ci, "timezone"), f"unknown time zone {tz!r}"))
            tz = "UTC"
        try:
            starts = date.fromisoformat(c["starts"])
        except ValueError:
            problems.append(
                doc.problem(
                    ("cohorts", ci, "starts"), f"{c['starts']!r} is not a date (YYYY-MM-DD)"
                )
            )
            starts = date.min
        cohorts.append(Cohort(c["id"], _text(c["name"]), starts, tz))
    problems += _unique(
        ((c.id, ("cohorts", i, "id")) for i, c in enumerate(cohorts)), doc, "cohort"
    )

    tracks = []
    assessment_ids: list[tuple[str, Path]] = []
    for ti, t in enumerate(v["tracks"]):
        plans: dict[str, StagePlan] = {}
        for sid in stage_ids:  # keep the program's stage order
            if sid not in t["stages"]:
                continue
            p = t["stages"][sid]
            base: Path = ("tracks", ti, "stages", sid)
            assessments = []
            for ai, a in enumerate(p.get("assessments", [])):
                try:
                    due = parse_due(a["due"])
                except ValueError as e:
                    problems.append(doc.problem(base + ("assessments", ai, "due"), str(e)))
                    due = Due(days=0)
                assessments.append(
                    Assessment(
                        a["id"],
                        _text(a["title"]),
                        float(a["weight"]),
                        float(a["points"]),
                        due,
                        tuple(a["notebooks"]),
                        LatePolicy.from_dict(a.get("late_penalty")),
                    )
                )
                if len({posixpath.dirname(nb) for nb in a["notebooks"]}) > 1:
                    problems.append(
                        doc.problem(
                            base + ("assessments", ai, "notebooks"),
                            "an assessment's notebooks must share one folder (its nbgrader source)",
                        )
                    )
                assessment_ids.append((a["id"], base + ("assessments", ai, "id")))
            if assessments:
                total = sum(a.weight for a in assessments)
                if abs(total - 1.0) > 1e-6:
                    problems.append(
                        doc.problem(base + ("assessments",), f"weights add up to {total:g}, not 1")
                    )
            plans[sid] = StagePlan(
                stage=sid,
                notebooks=tuple(p.get("notebooks", [])),
                assessments=tuple(assessments),
                resources=_resources({**t["resources"], **p["resources"]})
                if "resources" in p
                else None,
            )
        for sid in t["stages"]:
            if sid not in stage_ids:
                problems.append(
                    doc.problem(
                        ("tracks", ti, "stages", sid),
                        f"unknown stage {sid!r} (stages: {', '.join(stage_ids)})",
                    )
                )
        tracks.append(
            Track(t["id"], _text(t["name"]), t["image"], _resources(t["resources"]), plans)
        )
    problems += _unique(((t.id, ("tracks", i, "id")) for i, t in enumerate(tracks)), doc, "track")
    problems += _unique(assessment_ids, doc, "assessment")
    if problems:
        raise InputError(problems)
    return Curriculum(
        v["program"]["id"], _text(v["program"]["name"]), stages, tuple(tracks), tuple(cohorts), doc
    )


def check_files(curriculum: Curriculum, existing: set[str]) -> list[Problem]:
    """Problems for every notebook the manifest names that is not among `existing` paths."""
    doc = curriculum.source
    return [
        doc.problem(path, f"{nb!r} not found under labs/")
        for nb, path in curriculum.referenced_files().items()
        if nb not in existing
    ]
