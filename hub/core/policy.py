"""Spawn policy: from a trainee's hub groups to what their server gets.

One policy drives every spawner backend (local processes, Docker, Kubernetes): the groups a user is
in give their placement (cohort, track, stage); the curriculum turns a placement into a SpawnPlan
(image, resources, the labs to provision, environment). Backends only translate a SpawnPlan into
their own settings, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from posixpath import basename
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only types: the provisioning step in a lab image imports this module alone
    from .curriculum import Curriculum, Resources

COHORT_PREFIX = "cohort:"
TRACK_PREFIX = "track:"
STAGE_PREFIX = "stage:"
TEAM_PREFIX = "team:"
MANAGED_PREFIXES = (COHORT_PREFIX, TRACK_PREFIX, STAGE_PREFIX)


def cohort_group(cohort: str) -> str:
    """Hub group of a cohort."""
    return COHORT_PREFIX + cohort


def track_group(track: str) -> str:
    """Hub group of a track."""
    return TRACK_PREFIX + track


def stage_group(stage: str) -> str:
    """Hub group of a stage."""
    return STAGE_PREFIX + stage


@dataclass(frozen=True)
class Placement:
    """Where a trainee is in the program."""

    cohort: str | None
    track: str
    stage: str


@dataclass(frozen=True)
class LabFile:
    """One file to provision: `source` relative to labs/, `dest` relative to the workspace."""

    source: str
    dest: str


@dataclass(frozen=True)
class SpawnPlan:
    """Everything a backend needs to start one trainee's server."""

    image: str | None
    resources: Resources | None
    labs: tuple[LabFile, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    idle_seconds: int | None = None  # the stage's idle timeout; None: the platform's


def placement_from_groups(curriculum: Curriculum, groups: Iterable[str]) -> Placement | None:
    """The placement the groups encode, or None for staff (no track group).

    With several stage groups (mid-transition) the most advanced stage wins; with no stage group a
    trainee is in the first stage. Unknown tracks or stages are ignored.
    """
    groups = list(groups)
    known_tracks = {t.id for t in curriculum.tracks}
    tracks = sorted(
        g[len(TRACK_PREFIX) :]
        for g in groups
        if g.startswith(TRACK_PREFIX) and g[len(TRACK_PREFIX) :] in known_tracks
    )
    if not tracks:
        return None
    positions = {s.id: s.position for s in curriculum.stages}
    stages = [g[len(STAGE_PREFIX) :] for g in groups if g.startswith(STAGE_PREFIX)]
    stages = [s for s in stages if s in positions]
    stage = max(stages, key=positions.__getitem__) if stages else curriculum.stages[0].id
    cohorts = sorted(g[len(COHORT_PREFIX) :] for g in groups if g.startswith(COHORT_PREFIX))
    return Placement(cohort=cohorts[0] if cohorts else None, track=tracks[0], stage=stage)


def workspace_folder(curriculum: Curriculum, stage_id: str) -> str:
    """Folder of a stage's labs in the workspace, e.g. '1-basics'."""
    return f"{curriculum.stage(stage_id).position}-{stage_id}"


def spawn_plan(curriculum: Curriculum, placement: Placement | None) -> SpawnPlan:
    """The SpawnPlan of a placement; staff (None) get no labs and backend defaults."""
    if placement is None:
        return SpawnPlan(image=None, resources=None, environment={"SADARI_ROLE": "staff"})
    track = curriculum.track(placement.track)
    plan = track.stages.get(placement.stage)
    folder = workspace_folder(curriculum, placement.stage)
    labs = tuple(LabFile(nb, f"{folder}/{basename(nb)}") for nb in (plan.notebooks if plan else ()))
    env = {
        "SADARI_ROLE": "trainee",
        "SADARI_TRACK": placement.track,
        "SADARI_STAGE": placement.stage,
    }
    if placement.cohort:
        env["SADARI_COHORT"] = placement.cohort
        zone = next((c.timezone for c in curriculum.cohorts if c.id == placement.cohort), None)
        if zone:
            # The exchange writes the Assignment List's times in it (graders/exchange).
            env["SADARI_TIMEZONE"] = zone
    resources = plan.resources if plan and plan.resources else track.resources
    idle = curriculum.stage(placement.stage).idle_minutes
    return SpawnPlan(
        image=track.image,
        resources=resources,
        labs=labs,
        environment=env,
        idle_seconds=idle * 60 if idle else None,
    )
