"""Trainee containers on one Docker host, as plain values: what a SpawnPlan becomes there.

Pure functions (no Docker client, no subprocess) that the Docker spawner (hub/dockerspawner.py)
only applies: the container's command (provision the stage's labs from the image into the home
volume, then start the server), its volumes (a named volume per trainee, a folder per project
team), its resource limits, and the host firewall that lets trainee containers reach the hub and
the sadari service and nothing else on the host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .policy import SpawnPlan

HOME = "/home/jovyan"
IMAGE_LABS_DIR = "/srv/sadari/labs"
# the provisioning step inside the container: `python -m sadari.hub.workspace ... --then CMD`
PROVISION = ("python", "-m", "sadari.hub.workspace")


def gateway(subnet: str) -> str:
    """The host's address on a trainee network: the subnet's first address (Docker's default)."""
    net = ipaddress.ip_network(subnet, strict=True)
    if net.num_addresses < 8:
        raise ValueError(f"docker subnet {subnet}: too small for trainee containers")
    return str(next(net.hosts()))


def container_command(
    server_cmd: Sequence[str], plan: SpawnPlan, labs_dir: str = IMAGE_LABS_DIR, home: str = HOME
) -> list[str]:
    """The container's command: with labs to provision, the provisioning step (the hub's own rules:
    new files copied, edited or deleted files left alone) runs first and then execs the server."""
    if not plan.labs:
        return list(server_cmd)
    pairs = [f"{lab.source}={lab.dest}" for lab in plan.labs]
    return [*PROVISION, "--labs", labs_dir, "--home", home, *pairs, "--then", *server_cmd]


def home_volume(template: str, username: str) -> str:
    """The named volume holding one trainee's home (kept across server restarts and stages)."""
    name = template.format(username=username)
    if not name or any(not (c.isalnum() or c in "_.-") for c in name):
        raise ValueError(f"volume name {name!r} from {template!r}: only letters, digits, _ . -")
    return name


def volumes(volume: str, team_folders: Mapping[str, str], home: str = HOME) -> dict[str, str]:
    """Mounts as DockerSpawner's `volumes` (source -> path in the container): the trainee's named
    volume on their home, and each team's host folder at `<home>/<team group>`."""
    out = {volume: home}
    for group, folder in sorted(team_folders.items()):
        out[folder] = f"{home}/{group}"
    return out


@dataclass(frozen=True)
class Limits:
    """What Docker enforces for one container (None: no limit)."""

    memory_bytes: int | None
    cpu: float | None
    gpus: int


def limits(plan: SpawnPlan, gpus_available: bool) -> Limits:
    """The plan's memory and CPU; its GPUs only where the host offers them (the labs run on the
    CPU too, so a GPU request on a host without one is dropped, not refused)."""
    r = plan.resources
    if r is None:
        return Limits(None, None, 0)
    return Limits(r.memory_bytes, r.cpu, r.gpu if gpus_available else 0)


def firewall_chain(bridge: str) -> str:
    """The iptables chain guarding one trainee bridge."""
    return f"SADARI-{bridge}"[:28]


def firewall_rules(bridge: str, allowed_tcp_ports: Sequence[int]) -> list[list[str]]:
    """iptables arguments, in order, that let containers on `bridge` open connections to the host
    only on `allowed_tcp_ports` (the hub's API, the sadari service); replies to connections the
    host opened (the proxy to a server) pass. Reapplying gives the same rules: the chain is
    flushed and refilled; the INPUT jump is checked before it is added (see `apply_firewall`)."""
    chain = firewall_chain(bridge)
    rules = [
        ["-F", chain],
        ["-A", chain, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    ]
    for port in sorted(set(allowed_tcp_ports)):
        rules.append(["-A", chain, "-p", "tcp", "--dport", str(port), "-j", "ACCEPT"])
    rules.append(["-A", chain, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"])
    rules.append(["-A", chain, "-j", "REJECT"])
    return rules


def firewall_jump(bridge: str) -> list[str]:
    """The INPUT rule sending what containers on `bridge` send to the host through its chain."""
    return ["INPUT", "-i", bridge, "-j", firewall_chain(bridge)]
