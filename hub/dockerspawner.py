"""`SadariDockerSpawner`: DockerSpawner driven by sadari's track/stage policy (one Docker host).

The policy (hub/core/policy.py) picks the trainee's image (one per track, images/lab), memory and
CPU from their hub groups, exactly as for local servers and Kubernetes pods; hub/core/containers.py
turns the plan into a command, volumes and limits, and this module only applies them:

- each trainee has a named volume on their home; at every start the container first provisions
  the stage's labs from the image into it (the hub's own rules), then execs the server;
- project teams share a folder of the host's data folder, mounted at `~/team-...`;
- trainee containers sit on an internal bridge network with inter-container traffic off, and a
  host firewall chain lets them open connections to the hub's API and the sadari service only
  (not to each other, the database, other host ports or the outside world).

Imported by name from the hub config (`sadari.hub.dockerspawner.SadariDockerSpawner`), so local
installs need no Docker client.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import docker
from dockerspawner import DockerSpawner
from traitlets import Bool, Integer, List, Unicode

from .core import containers
from .core.policy import SpawnPlan
from .spawner import SadariSpawnerMixin

_network_lock = threading.Lock()
_networks_ready: set[tuple[str, str]] = set()


class NetworkSetupError(RuntimeError):
    """The trainee network or its firewall cannot be set up; no trainee container is started."""


def ensure_network(client: docker.APIClient, name: str, subnet: str, bridge: str) -> None:
    """The internal trainee network: made if missing, checked if present."""
    gw = containers.gateway(subnet)
    try:
        attrs = client.inspect_network(name)
    except docker.errors.NotFound:
        pool = docker.types.IPAMPool(subnet=subnet, gateway=gw)
        client.create_network(
            name,
            driver="bridge",
            internal=True,
            ipam=docker.types.IPAMConfig(pool_configs=[pool]),
            options={
                "com.docker.network.bridge.enable_icc": "false",
                "com.docker.network.bridge.name": bridge,
            },
            labels={"org.sadari.role": "trainees"},
        )
        attrs = client.inspect_network(name)
    options = attrs.get("Options") or {}
    configs = (attrs.get("IPAM") or {}).get("Config") or [{}]
    problems = []
    if not attrs.get("Internal"):
        problems.append("it is not internal")
    if options.get("com.docker.network.bridge.enable_icc") != "false":
        problems.append("traffic between containers is on")
    if options.get("com.docker.network.bridge.name") != bridge:
        problems.append(f"its bridge is not {bridge}")
    if configs[0].get("Subnet") != subnet:
        problems.append(f"its subnet is {configs[0].get('Subnet')}, not {subnet}")
    if problems:
        raise NetworkSetupError(
            f"docker network {name} exists but {', '.join(problems)}: remove it "
            f"(docker network rm {name}) and start the server again"
        )


def apply_firewall(bridge: str, allowed_ports: list[int]) -> None:
    """Install (or refresh) the host firewall chain of a trainee bridge with iptables."""
    iptables = shutil.which("iptables")
    if not iptables:
        raise NetworkSetupError("iptables is not installed: the trainee firewall cannot be set")
    chain = containers.firewall_chain(bridge)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([iptables, "-w", *args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise NetworkSetupError(f"iptables {' '.join(args)} failed: {r.stderr.strip()}")
        return r

    run("-N", chain, check=False)  # exists already: fine
    for rule in containers.firewall_rules(bridge, allowed_ports):
        run(*rule)
    jump = containers.firewall_jump(bridge)
    if run("-C", *jump, check=False).returncode != 0:
        run("-I", jump[0], "1", *jump[1:])


class SadariDockerSpawner(SadariSpawnerMixin, DockerSpawner):  # type: ignore[misc]
    """One container per trainee: image, limits and labs from the policy; isolated network."""

    network_subnet = Unicode(
        "172.30.0.0/24",
        help="Subnet of the trainee network; the host (hub, service) is its first address.",
    ).tag(config=True)
    network_bridge = Unicode(
        "sadari0", help="Name of the trainee network's bridge on the host (at most 15 characters)."
    ).tag(config=True)
    allowed_host_ports = List(
        Integer(),
        help="TCP ports of the host that trainee containers may connect to (the hub's API, the "
        "sadari service); everything else on the host is refused.",
    ).tag(config=True)
    firewall = Bool(
        True,
        help="Install the host firewall chain (iptables, needs root). Without it trainee "
        "containers can reach every port the host listens on.",
    ).tag(config=True)
    home_volume_template = Unicode(
        "sadari-home-{username}", help="Name of each trainee's home volume."
    ).tag(config=True)
    image_labs_dir = Unicode(
        containers.IMAGE_LABS_DIR, help="Where the lab images hold labs/ (the curriculum's paths)."
    ).tag(config=True)
    home_path = Unicode(containers.HOME, help="The trainee's home in the container.").tag(
        config=True
    )
    gpus = Bool(
        False,
        help="The Docker host offers NVIDIA GPUs (the NVIDIA container runtime): stages that ask "
        "for a GPU get one. Otherwise they run on the CPU.",
    ).tag(config=True)

    def apply_plan(self, plan: SpawnPlan) -> None:
        """Image, memory, CPU (and GPUs where the host has them) of the track and stage."""
        if plan.image:
            self.image = plan.image
        lim = containers.limits(plan, self.gpus)
        if lim.memory_bytes is not None:
            self.mem_limit = lim.memory_bytes
        if lim.cpu is not None:
            self.cpu_limit = lim.cpu
        host_config = {
            k: v for k, v in dict(self.extra_host_config).items() if k != "device_requests"
        }
        if lim.gpus:
            host_config["device_requests"] = [
                docker.types.DeviceRequest(count=lim.gpus, capabilities=[["gpu"]])
            ]
        elif plan.resources and plan.resources.gpu:
            self.log.info("sadari: %s asks for a GPU; this Docker host has none", self.user.name)
        self.extra_host_config = host_config

    async def provision_labs(self, plan: SpawnPlan) -> None:
        """The home volume and team folders; the labs themselves are provisioned in the container
        before its server starts (`get_command`)."""
        teams = {}
        if self.teams_dir:
            teams = await asyncio.to_thread(self._team_folders)
        name = containers.home_volume(self.home_volume_template, self.user.name)
        self.volumes = containers.volumes(name, teams, self.home_path)

    def _team_folders(self) -> dict[str, str]:
        out = {}
        for group in self.team_groups():
            folder = Path(self.teams_dir) / group
            folder.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(folder, 1000, 1000)  # the containers' jovyan
            out[group] = str(folder.resolve())
        return out

    async def get_command(self) -> list[str]:
        """The server command, behind the provisioning step when the plan has labs."""
        cmd = await super().get_command()
        plan = self.sadari_plan or SpawnPlan(image=None, resources=None)
        return containers.container_command(cmd, plan, self.image_labs_dir, self.home_path)

    async def start(self) -> Any:
        """Make sure the trainee network and its firewall are in place, then start."""
        key = (self.network_name, self.network_subnet)
        if key not in _networks_ready:
            await asyncio.to_thread(self._setup_network)
        return await super().start()

    def _setup_network(self) -> None:
        with _network_lock:
            key = (self.network_name, self.network_subnet)
            if key in _networks_ready:
                return
            ensure_network(self.client, self.network_name, self.network_subnet, self.network_bridge)
            if self.firewall:
                apply_firewall(self.network_bridge, list(self.allowed_host_ports))
            else:
                self.log.warning("sadari: trainee firewall off: containers reach every host port")
            _networks_ready.add(key)
