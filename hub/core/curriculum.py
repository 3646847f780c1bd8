"""The curriculum model: program, stages, cohorts, tracks, what each stage provisions and grades.

Built from the text of labs/curriculum.yaml by `parse_curriculum`, which validates it against the
schema and the rules the schema cannot express, and reports every problem with file, line and field.
A stage's `selection:` block (who advances into it) becomes a selection.SelectionPolicy and its
`teams:` block a teams.TeamPolicy, with their references to assessments, tracks and cohorts checked.
`check_files` compares the manifest with the files of the labs folder (given as a set of paths, so
this module stays free of I/O).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

from .curriculum_schema import DEFAULT_EXTRA_FILES, SCHEMA
from .deadlines import LatePolicy
from .selection import (
    TIE_FINAL_SUBMISSION,
    TIE_TRAINEE,
    Capacity,
    Component,
    Reservation,
    SelectionPolicy,
    check_policy,
)
from .teams import TeamPolicy
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
    # what trainees may submit besides the release (globs relative to the assessment folder)
    extra_files: tuple[str, ...] = DEFAULT_EXTRA_FILES
    # released files whose trainee copy counts when grading (nbgrader's exclude_overwriting)
    exclude_overwriting: tuple[str, ...] = ()
    # Python packages it needs beyond the track image (PEP 508 requirements)
    packages: tuple[str, ...] = ()

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
    """A stage of the program (basics, advanced, project); `position` starts at 1. `selection`:
    how trainees of the stage before are selected into this one; `teams`: how they form teams;
    `idle_minutes`: when an idle trainee server of this stage is stopped (None: the platform's)."""

    id: str
    name: Text
    position: int
    selection: SelectionPolicy | None = None
    teams: TeamPolicy | None = None
    idle_minutes: int | None = None  # None: the platform's idle timeout


@dataclass(frozen=True)
class Track:
    """A track (course) with its image, default resources and plan per stage."""

    id: str
    name: Text
    image: str
    resources: Resources
    stages: Mapping[str, StagePlan]


@dataclass(frozen=True)
class ClassTimes:
    """When a cohort's class starts (local time on `days`, 0 = Monday), and how many minutes
    before it sadari starts the trainees' servers (0: never)."""

    days: tuple[int, ...]
    start: time
    warm_minutes: int = 10


@dataclass(frozen=True)
class Cohort:
    """An intake of trainees that starts on one day; `classes`: its timetable, if given."""

    id: str
    name: Text
    starts: date
    timezone: str = "Asia/Seoul"
    classes: ClassTimes | None = None


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


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _classes(doc: Located, ci: int, v: Mapping[str, Any] | None) -> ClassTimes | None:
    if v is None:
        return None
    try:
        start = time.fromisoformat(v["start"])
    except ValueError:
        raise InputError(
            [doc.problem(("cohorts", ci, "classes", "start"), f"{v['start']!r} is not HH:MM")]
        ) from None
    days = tuple(WEEKDAYS.index(d) for d in v.get("days", WEEKDAYS[:5]))
    return ClassTimes(days, start, int(v.get("warm_minutes", 10)))


def _build(doc: Located) -> Curriculum:
    v = doc.value
    problems: list[Problem] = []
    stages = tuple(
        Stage(s["id"], _text(s["name"]), i + 1, idle_minutes=s.get("idle_minutes"))
        for i, s in enumerate(v["stages"])
    )
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
        cohorts.append(
            Cohort(c["id"], _text(c["name"]), starts, tz, _classes(doc, ci, c.get("classes")))
        )
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
                        tuple(a.get("extra_files", DEFAULT_EXTRA_FILES)),
                        tuple(a.get("exclude_overwriting", ())),
                        tuple(a.get("packages", ())),
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
    cohort_ids = [c.id for c in cohorts]
    stages = tuple(
        replace(
            s,
            selection=_selection(doc, i, stages, tracks, cohort_ids, problems),
            teams=_teams(doc, i, problems),
        )
        for i, s in enumerate(stages)
    )
    if problems:
        raise InputError(problems)
    return Curriculum(
        v["program"]["id"], _text(v["program"]["name"]), stages, tuple(tracks), tuple(cohorts), doc
    )


def _selection(
    doc: Located,
    i: int,
    stages: tuple[Stage, ...],
    tracks: list[Track],
    cohorts: list[str],
    problems: list[Problem],
) -> SelectionPolicy | None:
    """The policy of `stages[i].selection` (None if absent); its problems go to `problems`."""
    v = doc.value["stages"][i].get("selection")
    if v is None:
        return None
    base: Path = ("stages", i, "selection")
    if i == 0:
        problems.append(doc.problem(base, "the first stage has no stage before it to select from"))
        return None
    source = stages[i - 1].id
    start = len(problems)

    def bad(path: Path, message: str) -> None:
        problems.append(doc.problem(base + path, message))

    score, elig = v.get("score", {}), v.get("eligibility", {})
    normalise = score.get("normalise", "percent")
    earlier = {s.id for s in stages[:i]}
    known = {  # assessment id -> (track, assessment) for every stage before this one
        a.id: (t.id, a)
        for t in tracks
        for sid, plan in t.stages.items()
        if sid in earlier
        for a in plan.assessments
    }
    comps: list[Component] = []
    listed = score.get("assessments", "curriculum")
    if listed == "curriculum":
        for t in tracks:
            for a in t.stages[source].assessments if source in t.stages else ():
                only = frozenset({t.id})
                comps.append(
                    Component(a.id, a.weight, points=a.points, normalise=normalise, tracks=only)
                )
    else:
        for k, item in enumerate(listed):
            if item["id"] not in known:
                choices = ", ".join(sorted(known)) or "none"
                bad(("score", "assessments", k, "id"), f"unknown assessment {item['id']!r} "
                    f"(assessments of the stages before {stages[i].id!r}: {choices})")  # fmt: skip
                continue
            track, a = known[item["id"]]
            norm, only = item.get("normalise", normalise), frozenset({track})
            comps.append(
                Component(a.id, float(item["weight"]), points=a.points, normalise=norm, tracks=only)
            )
    ids = [c.id for c in comps]
    if listed != "curriculum":
        paths = (("score", "assessments", k, "id") for k in range(len(listed)))
        problems += _unique(
            ((x["id"], base + p) for x, p in zip(listed, paths, strict=True)), doc, "assessment"
        )
    submitted = elig.get("submitted", "all")
    for k, ref in enumerate(submitted if isinstance(submitted, list) else []):
        if ref not in ids:
            bad(("eligibility", "submitted", k), f"{ref!r} is not scored by this policy")
    minimum = elig.get("min_percent")
    for ref in minimum if isinstance(minimum, dict) else {}:
        if ref not in ids:
            bad(("eligibility", "min_percent", ref), f"{ref!r} is not scored by this policy")
    comps = [
        replace(
            c,
            required=submitted == "all" or (isinstance(submitted, list) and c.id in submitted),
            minimum=minimum.get(c.id) if isinstance(minimum, dict) else minimum,
        )
        for c in comps
    ]
    for k, inp in enumerate(v.get("inputs", [])):
        if inp["name"] in [c.id for c in comps]:
            bad(("inputs", k, "name"), f"{inp['name']!r} is already a component of this policy")
            continue
        comps.append(
            Component(
                inp["name"],
                float(inp.get("weight", 0)),
                kind="input",
                normalise=inp.get("normalise", "percent"),
                required=inp.get("required", True),
                minimum=inp.get("min"),
            )
        )
    if not any(c.weight > 0 for c in comps):
        bad((), f"nothing to rank on: no assessment of {source!r} or input weighs more than 0")

    cap = v["capacity"]
    if ("top_n" in cap) == ("top_percent" in cap):
        bad(("capacity",), "give exactly one of top_n and top_percent")
    pool = v.get("pool", "track")
    keys = [t.id for t in tracks] if pool == "track" else cohorts
    for key in cap.get("overrides", {}):
        if key not in keys:
            bad(
                ("capacity", "overrides", key), f"unknown {pool} {key!r} (known: {', '.join(keys)})"
            )
    capacity = Capacity(
        cap.get("top_n"), cap.get("top_percent"), tuple(sorted(cap.get("overrides", {}).items()))
    )
    reserved = tuple(
        Reservation(r["attribute"], r["value"], r["seats"]) for r in v.get("reserved", [])
    )
    problems += _unique(
        ((r.label, base + ("reserved", k)) for k, r in enumerate(reserved)), doc, "group"
    )
    for attr in sorted({r.attribute for r in reserved}):  # one attribute's groups are disjoint
        held = sum(r.seats for r in reserved if r.attribute == attr)
        seats = {k: dict(capacity.overrides).get(k, capacity.top_n) for k in keys}
        short = [f"{k} ({n})" for k, n in seats.items() if n is not None and n < held]
        if short:
            bad(
                ("reserved",),
                f"{held} seats reserved by {attr} but fewer seats in {', '.join(short)}",
            )
    ties = tuple(v.get("ties", [TIE_FINAL_SUBMISSION, TIE_TRAINEE]))
    for k, tie in enumerate(ties):
        kind, _, ref = tie.partition(":")
        if kind == "score" and ref not in [c.id for c in comps if c.kind == "assessment"]:
            bad(("ties", k), f"{ref!r} is not an assessment scored by this policy")
        elif kind == "input" and ref not in [c.id for c in comps if c.kind == "input"]:
            bad(("ties", k), f"{ref!r} is not an input of this policy")
        elif tie in ties[:k]:
            bad(("ties", k), f"{tie!r} appears twice")
    if len(problems) > start:
        return None
    policy = SelectionPolicy(
        stages[i].id, source, tuple(comps), capacity, pool, elig.get("min_total"), reserved, ties
    )
    check_policy(policy)  # everything it checks was reported above with its line
    return policy


def _teams(doc: Located, i: int, problems: list[Problem]) -> TeamPolicy | None:
    """The policy of `stages[i].teams` (None if absent)."""
    v = doc.value["stages"][i].get("teams")
    if v is None:
        return None
    if "selection" not in doc.value["stages"][i]:
        problems.append(
            doc.problem(
                ("stages", i, "teams"),
                "teams are formed from the trainees selected into the stage: add a selection block",
            )
        )
    return TeamPolicy(
        v["size"],
        v.get("skill", "assessments"),
        tuple(sorted(v.get("max_same", {}).items())),
        v.get("seed", 0),
        v.get("steps", TeamPolicy.steps),
    )


def check_files(curriculum: Curriculum, existing: set[str]) -> list[Problem]:
    """Problems for every notebook the manifest names that is not among `existing` paths."""
    doc = curriculum.source
    return [
        doc.problem(path, f"{nb!r} not found under labs/")
        for nb, path in curriculum.referenced_files().items()
        if nb not in existing
    ]
