"""Spawn policy: hub groups -> placement -> what the server gets."""

from __future__ import annotations

from dataclasses import replace

from sadari.hub.core.curriculum import Curriculum, StagePlan
from sadari.hub.core.policy import LabFile, Placement, placement_from_groups, spawn_plan


def test_staff_have_no_placement(curriculum: Curriculum) -> None:
    assert placement_from_groups(curriculum, ["sadari-instructors"]) is None
    plan = spawn_plan(curriculum, None)
    assert plan.labs == () and plan.image is None and plan.environment["SADARI_ROLE"] == "staff"


def test_placement_takes_the_most_advanced_stage(curriculum: Curriculum) -> None:
    groups = [
        "cohort:2026-seoul-1",
        "track:azure-ai",
        "stage:basics",
        "stage:advanced",
        "stage:unknown",
        "track:not-a-track",
        "team:x",
    ]
    assert placement_from_groups(curriculum, groups) == Placement(
        "2026-seoul-1", "azure-ai", "advanced"
    )


def test_no_stage_group_means_the_first_stage(curriculum: Curriculum) -> None:
    assert placement_from_groups(curriculum, ["track:vision-ai"]) == Placement(
        None, "vision-ai", "basics"
    )


def test_plan_for_a_trainee(curriculum: Curriculum) -> None:
    plan = spawn_plan(curriculum, Placement("2026-seoul-1", "data-analysis", "advanced"))
    assert plan.image == "sadari/lab-data-analysis:0.1.0"
    notebooks = curriculum.track("data-analysis").stages["advanced"].notebooks
    assert "data-analysis/advanced/01-groupby-and-joins.ipynb" in notebooks
    assert plan.labs == tuple(LabFile(nb, f"2-advanced/{nb.rsplit('/', 1)[1]}") for nb in notebooks)
    assert plan.resources is not None and plan.resources.memory_bytes == 2 * 1024**3
    assert plan.environment == {
        "SADARI_ROLE": "trainee",
        "SADARI_TRACK": "data-analysis",
        "SADARI_STAGE": "advanced",
        "SADARI_COHORT": "2026-seoul-1",
        "SADARI_TIMEZONE": "Asia/Seoul",
    }


def test_stage_resources_override_the_track(curriculum: Curriculum) -> None:
    basics = spawn_plan(curriculum, Placement(None, "vision-ai", "basics"))
    advanced = spawn_plan(curriculum, Placement(None, "vision-ai", "advanced"))
    assert basics.resources is not None and advanced.resources is not None
    assert (basics.resources.gpu, advanced.resources.gpu) == (0, 1)


def test_a_stage_without_material_provisions_nothing(curriculum: Curriculum) -> None:
    pm = curriculum.track("product-manager")
    bare = replace(pm, stages={**pm.stages, "project": StagePlan("project")})
    curriculum = replace(
        curriculum, tracks=tuple(bare if t.id == pm.id else t for t in curriculum.tracks)
    )
    plan = spawn_plan(curriculum, Placement(None, "product-manager", "project"))
    assert plan.labs == () and plan.environment["SADARI_STAGE"] == "project"


def test_a_stage_may_keep_idle_servers_longer(curriculum) -> None:  # type: ignore[no-untyped-def]
    """labs/curriculum.yaml gives the project stage 3 hours before an idle server is stopped;
    other stages use the platform's timeout (None)."""
    from sadari.hub.core.policy import Placement, spawn_plan

    project = spawn_plan(curriculum, Placement("2026-seoul-1", "data-analysis", "project"))
    basics = spawn_plan(curriculum, Placement("2026-seoul-1", "data-analysis", "basics"))
    assert (project.idle_seconds, basics.idle_seconds) == (3 * 3600, None)
