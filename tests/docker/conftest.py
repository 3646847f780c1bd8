"""Fixtures of the container tier (a real Docker engine; see tests/support/docker.py).

- `images` (session): the project's images built on the engine (base from Debian's packages,
  single-user, the four track images, the hub image, the grading image); a skip only when no
  engine can run here, a failure when a build fails.
- `docker_hub` (module): a real JupyterHub spawning trainees as containers (SadariDockerSpawner)
  on a network, volumes and containers of its own, all removed afterwards.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sadari.hub.core import containers
from tests.support import docker
from tests.support.hub import RunningHub

TARGETS = (
    "singleuser",
    "hub",
    "lab-data-analysis",
    "lab-product-manager",
    "lab-azure-ai",
    "lab-vision-ai",
    "grader",
)
# a trainee network of the tests' own (never a demo's `sadari-trainees`)
NETWORK = "sadari-test"
SUBNET = "172.31.77.0/24"
BRIDGE = "sadaritest0"
TRAINEES = 10


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    try:
        return docker.ensure_images(*TARGETS)
    except docker.Unavailable as e:
        pytest.skip(f"no Docker engine can run here: {e}")


def remove_leftovers() -> None:
    """Containers, volumes and the network of the tests' trainee network, if any."""
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"name=^{NETWORK}-"], capture_output=True, text=True
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    vols = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name=^{NETWORK}-home-"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if vols:
        subprocess.run(["docker", "volume", "rm", "-f", *vols], capture_output=True)
    subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True)
    chain = containers.firewall_chain(BRIDGE)
    for args in (["-D", *containers.firewall_jump(BRIDGE)], ["-F", chain], ["-X", chain]):
        subprocess.run(["iptables", "-w", *args], capture_output=True)


@pytest.fixture(scope="module")
def docker_hub(
    images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningHub]:
    remove_leftovers()
    data: Path = tmp_path_factory.mktemp("docker-hub")
    hub = RunningHub.start(
        data,
        f"sqlite:///{data}/sadari.sqlite",
        trainees=TRAINEES,
        SADARI_SPAWNER="docker",
        SADARI_DOCKER_NETWORK=NETWORK,
        SADARI_DOCKER_SUBNET=SUBNET,
        SADARI_DOCKER_BRIDGE=BRIDGE,
        SADARI_SINGLEUSER_IMAGE=images["singleuser"],
        # ten trainees start at once here: above the default limit of 4 per core, which would
        # answer some of them 429 ("too many starting") as a class storm should
        SADARI_SPAWN_CONCURRENCY=str(TRAINEES + 2),
        # ... and, in `make test`, beside three other lanes of tests on two cores: a container's
        # server then takes longer than the 60 s a hub waits by default before it gives up
        SADARI_SERVER_HTTP_TIMEOUT="200",
    )
    try:
        yield hub
    finally:
        hub.stop()
        remove_leftovers()
