"""KubeSpawner profiles from the curriculum (hub/core/profiles.py): shape, resources, GPUs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sadari.hub.core.curriculum import Curriculum, Resources
from sadari.hub.core.policy import Placement, spawn_plan
from sadari.hub.core.profiles import (
    Z2JH_USER_TOLERATIONS,
    ProfileOptions,
    byte_quantity,
    chart_values,
    profile_list,
    profile_slug,
    visible_profiles,
)

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def by_slug(profiles: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {p["slug"]: p for p in profiles}


def test_one_profile_per_track_and_stage_in_curriculum_order(curriculum: Curriculum) -> None:
    profiles = profile_list(curriculum)
    assert [p["slug"] for p in profiles] == [
        profile_slug(t.id, s.id) for t in curriculum.tracks for s in curriculum.stages
    ]
    assert [p.get("default", False) for p in profiles] == [True] + [False] * (len(profiles) - 1)
    json.dumps(profiles)  # plain values only


def test_names_are_bilingual(curriculum: Curriculum) -> None:
    profile = by_slug(profile_list(curriculum))["data-analysis-advanced"]
    assert profile["display_name"] == "데이터 분석 캠프 · 심화 / Data Analysis Camp · Advanced"
    assert profile["description"] == "CPU 1 · 메모리 memory 2G · sadari/lab-data-analysis:0.1.0"


def test_every_profile_is_what_the_policy_gives_that_placement(curriculum: Curriculum) -> None:
    options = ProfileOptions(cpu_guarantee_ratio=1, mem_guarantee_ratio=1)
    profiles = by_slug(profile_list(curriculum, options))
    for track in curriculum.tracks:
        for stage in curriculum.stages:
            plan = spawn_plan(curriculum, Placement(None, track.id, stage.id))
            assert plan.resources is not None
            override = profiles[profile_slug(track.id, stage.id)]["kubespawner_override"]
            assert override["image"] == plan.image
            assert override["cpu_limit"] == override["cpu_guarantee"] == plan.resources.cpu
            assert byte_quantity(plan.resources.memory_bytes) == override["mem_limit"]
            assert override["mem_guarantee"] == override["mem_limit"]
            gpus = override.get("extra_resource_limits", {}).get("nvidia.com/gpu")
            assert gpus == (str(plan.resources.gpu) if plan.resources.gpu else None)


def test_stage_resources_override_the_track(curriculum: Curriculum) -> None:
    profiles = by_slug(profile_list(curriculum))
    basics = profiles["vision-ai-basics"]["kubespawner_override"]
    advanced = profiles["vision-ai-advanced"]["kubespawner_override"]
    assert (basics["cpu_limit"], basics["mem_limit"]) == (1.0, "2G")
    assert "extra_resource_limits" not in basics and "tolerations" not in basics
    assert (advanced["cpu_limit"], advanced["mem_limit"]) == (2.0, "4G")
    assert advanced["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert advanced["tolerations"] == [*map(dict, Z2JH_USER_TOLERATIONS), GPU_TOLERATION]
    assert "node_selector" not in advanced


def test_guarantees_are_fractions_of_the_limits(curriculum: Curriculum) -> None:
    default = by_slug(profile_list(curriculum))["product-manager-basics"]["kubespawner_override"]
    assert (default["cpu_limit"], default["cpu_guarantee"]) == (0.5, 0.25)
    assert (default["mem_limit"], default["mem_guarantee"]) == ("1G", "1G")
    options = ProfileOptions(cpu_guarantee_ratio=0.1, mem_guarantee_ratio=0.75)
    tight = by_slug(profile_list(curriculum, options))["data-analysis-basics"]
    override = tight["kubespawner_override"]
    assert override["cpu_guarantee"] == 0.1
    assert override["mem_guarantee"] == "1536M"


def test_gpu_scheduling_is_configurable(curriculum: Curriculum) -> None:
    options = ProfileOptions(
        gpu_resource="amd.com/gpu",
        gpu_tolerations=({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},),
        gpu_node_selector={"accelerator": "mi210"},
    )
    profiles = by_slug(profile_list(curriculum, options))
    gpu = profiles["vision-ai-project"]["kubespawner_override"]
    assert gpu["extra_resource_limits"] == {"amd.com/gpu": "1"}
    assert gpu["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert gpu["node_selector"] == {"accelerator": "mi210"}
    assert "node_selector" not in profiles["azure-ai-project"]["kubespawner_override"]


def test_any_track_with_gpus_gets_them(curriculum: Curriculum) -> None:
    track = replace(curriculum.tracks[0], resources=Resources(memory="8G", cpu=4, gpu=2))
    changed = replace(curriculum, tracks=(track, *curriculum.tracks[1:]))
    profiles = by_slug(profile_list(changed))
    # data-analysis's stages set no resources of their own, so the track's apply
    override = profiles["data-analysis-project"]["kubespawner_override"]
    assert override["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    assert override["mem_limit"] == "8G"


def test_results_are_fresh_values(curriculum: Curriculum) -> None:
    first = profile_list(curriculum)
    first[-1]["kubespawner_override"]["tolerations"].clear()
    first[-1]["kubespawner_override"]["extra_resource_limits"]["nvidia.com/gpu"] = "9"
    assert profile_list(curriculum) != first


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (2 * 1024**3, "2G"),
        (1536 * 1024**2, "1536M"),
        (1024**4, "1T"),
        (512 * 1024, "512K"),
        (1000, "1000"),
        (0, "0"),
    ],
)
def test_byte_quantity(n: int, text: str) -> None:
    assert byte_quantity(n) == text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cpu_guarantee_ratio": 0},
        {"mem_guarantee_ratio": 1.5},
        {"cpu_guarantee_ratio": -0.5},
        {"gpu_resource": ""},
    ],
)
def test_bad_options_are_refused(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        ProfileOptions(**kwargs)


def test_chart_values(curriculum: Curriculum) -> None:
    values = chart_values(curriculum)
    assert values == {"jupyterhub": {"singleuser": {"profileList": profile_list(curriculum)}}}


def test_staff_see_every_profile_trainees_their_own(curriculum: Curriculum) -> None:
    profiles = profile_list(curriculum)
    assert visible_profiles(profiles, None) == profiles
    mine = visible_profiles(profiles, Placement("2026-seoul-1", "vision-ai", "advanced"))
    assert [p["slug"] for p in mine] == ["vision-ai-advanced"]
    assert mine[0]["default"] is True
    assert "default" not in by_slug(profiles)["vision-ai-advanced"]  # the input is unchanged
    assert visible_profiles(profiles, Placement(None, "vision-ai", "nowhere")) == []
