"""A real Docker engine for tests: use the one that answers, or install Debian's and start it; then
build the project's images on it (images/build.py: a local base image from Debian's packages, no
registry).

`ensure_engine()` and `ensure_image(target)` raise `Unavailable` with the real reason when that
cannot be done here (no root to install packages, dockerd not starting, a build failing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG = Path(os.environ.get("SADARI_DOCKERD_LOG", "/tmp/sadari-dockerd.log"))


class Unavailable(RuntimeError):
    """A Docker engine cannot be provided on this machine; the message says why (a skip)."""


class BuildFailed(RuntimeError):
    """The engine runs but one of the project's images did not build: a failure, not a skip."""


def _answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(
            f"{', '.join(packages)} not installed and this user cannot install Debian packages "
            "(needs root and apt-get)"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        if r.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {r.stderr.strip()[-400:]}")


def ensure_engine(timeout: float = 60) -> None:
    """A Docker engine that answers `docker info`, started here if need be."""
    if _answers():
        return
    if not shutil.which("dockerd"):
        _apt_install("docker.io")
    if os.geteuid() != 0:
        raise Unavailable("dockerd must be started as root")
    # the engine outlives the test run (like a system service): later runs reuse it and its
    # image cache
    with LOG.open("ab") as log:
        subprocess.Popen(
            ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers():
            return
        time.sleep(1)
    raise Unavailable(f"dockerd did not answer within {timeout:.0f}s: {LOG.read_text()[-600:]}")


def ensure_image(target: str) -> str:
    """Build (or bring up to date, from the build cache) one of the project's images; its name."""
    return ensure_images(target)[target]


def ensure_images(*targets: str) -> dict[str, str]:
    """Build (or bring up to date) the project's images `targets` and what they are built FROM;
    target -> image name. An engine that cannot run is `Unavailable`; a build that fails is
    `BuildFailed`."""
    ensure_engine()
    if not shutil.which("debootstrap"):
        _apt_install("debootstrap")
    run = subprocess.run(
        [sys.executable, str(ROOT / "images" / "build.py"), *targets],
        capture_output=True,
        text=True,
        timeout=2400,
    )
    if run.returncode != 0:
        raise BuildFailed(f"images/build.py {' '.join(targets)} failed: {run.stderr[-3000:]}")
    names = run.stdout.strip().splitlines()
    return {name.split("/", 1)[1].split(":", 1)[0]: name for name in names}
