"""Trainee containers as plain values (hub/core/containers.py): command, volumes, limits, firewall."""

from __future__ import annotations

import pytest

from sadari.hub.core import containers
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.policy import Placement, SpawnPlan, spawn_plan


def test_gateway_is_the_first_address() -> None:
    assert containers.gateway("172.30.0.0/24") == "172.30.0.1"
    assert containers.gateway("10.9.8.0/29") == "10.9.8.1"
    with pytest.raises(ValueError):
        containers.gateway("172.30.0.1/24")  # host bits set
    with pytest.raises(ValueError, match="too small"):
        containers.gateway("10.0.0.0/30")


def test_a_trainee_container_provisions_its_stage_then_execs_the_server(
    curriculum: Curriculum,
) -> None:
    plan = spawn_plan(curriculum, Placement("2026-seoul-1", "vision-ai", "basics"))
    cmd = containers.container_command(["jupyterhub-singleuser", "--debug"], plan)
    head = ["python", "-m", "sadari.hub.workspace", "--labs", "/srv/sadari/labs"]
    assert cmd[: len(head)] == head
    assert cmd[len(head) : len(head) + 2] == ["--home", "/home/jovyan"]
    pairs = cmd[len(head) + 2 : cmd.index("--then")]
    assert pairs == [f"{lab.source}={lab.dest}" for lab in plan.labs] and pairs
    assert all(p.split("=")[1].startswith("1-basics/") for p in pairs)
    assert cmd[cmd.index("--then") + 1 :] == ["jupyterhub-singleuser", "--debug"]


def test_staff_get_the_plain_server() -> None:
    plan = spawn_plan_staff()
    assert containers.container_command(["jupyterhub-singleuser"], plan) == [
        "jupyterhub-singleuser"
    ]


def spawn_plan_staff() -> SpawnPlan:
    return SpawnPlan(image=None, resources=None, environment={"SADARI_ROLE": "staff"})


def test_volumes_home_and_team_folders() -> None:
    name = containers.home_volume("sadari-home-{username}", "trainee001")
    assert name == "sadari-home-trainee001"
    got = containers.volumes(name, {"team-c-02": "/data/teams/team-c-02"})
    assert got == {
        "sadari-home-trainee001": "/home/jovyan",
        "/data/teams/team-c-02": "/home/jovyan/team-c-02",
    }
    with pytest.raises(ValueError, match="only letters"):
        containers.home_volume("home-{username}", "../etc")


def test_limits_follow_the_plan_and_drop_gpus_the_host_lacks(curriculum: Curriculum) -> None:
    vision = spawn_plan(curriculum, Placement(None, "vision-ai", "advanced"))
    assert vision.resources is not None and vision.resources.gpu == 1
    with_gpu = containers.limits(vision, gpus_available=True)
    without = containers.limits(vision, gpus_available=False)
    assert with_gpu.gpus == 1 and without.gpus == 0
    assert without.memory_bytes == vision.resources.memory_bytes
    assert without.cpu == vision.resources.cpu
    assert containers.limits(spawn_plan_staff(), True) == containers.Limits(None, None, 0)


def test_firewall_admits_only_the_hub_and_the_service() -> None:
    rules = containers.firewall_rules("sadari0", [8081, 10101, 8081])
    chain = containers.firewall_chain("sadari0")
    assert rules[0] == ["-F", chain]
    accepted = [r[r.index("--dport") + 1] for r in rules if "--dport" in r]
    assert accepted == ["8081", "10101"]
    # replies to connections the host opened pass; everything else ends rejected
    assert "ESTABLISHED,RELATED" in rules[1]
    assert rules[-1] == ["-A", chain, "-j", "REJECT"]
    assert containers.firewall_jump("sadari0") == ["INPUT", "-i", "sadari0", "-j", chain]
    assert len(containers.firewall_chain("a-very-long-bridge-name-x")) <= 28
