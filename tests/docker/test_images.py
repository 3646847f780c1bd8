"""The project's images, built on a real engine from a local Debian base (no registry): what each
one must hold, checked by running it."""

from __future__ import annotations

import re
import subprocess

import pytest

from sadari.hub.service import load_curriculum_file
from tests.support.hub import ROOT

pytestmark = pytest.mark.docker

CURRICULUM = load_curriculum_file(ROOT / "labs" / "curriculum.yaml")
# a library each track's labs import that the others' images need not have
TRACK_LIBRARIES = {
    "data-analysis": ["pandas", "sklearn", "matplotlib"],
    "product-manager": ["pandas", "scipy.stats", "matplotlib"],
    "azure-ai": ["onnxruntime", "skl2onnx", "azure.ai.textanalytics", "sklearn"],
    "vision-ai": ["cv2", "skimage", "onnxruntime", "sklearn"],
}


def run(image: str, *cmd: str, user: str | None = None) -> str:
    args = ["docker", "run", "--rm", "--network", "none"]
    if user:
        args += ["--user", user]
    r = subprocess.run([*args, image, *cmd], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{cmd}: {r.stderr[-2000:]}"
    return r.stdout


def test_singleuser_image(images: dict[str, str]) -> None:
    image = images["singleuser"]
    assert run(image, "id", "-u").strip() == "1000"
    assert run(image, "jupyterhub-singleuser", "--version").strip() == "6.1.1"
    # nbgrader talks to the sadari exchange; trainees get the assignment list, not formgrader
    config = run(image, "cat", "/etc/jupyter/nbgrader_config.py")
    assert "sadari.graders.exchange" in config and "SadariExchangeSubmit" in config
    listing = run(image, "sh", "-c", "jupyter server extension list 2>&1")
    states = {}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", listing).splitlines():
        words = line.split()
        if (
            len(words) == 2
            and words[0].startswith("nbgrader.server_extensions.")
            and words[1] in ("enabled", "disabled")
        ):
            states[words[0].rsplit(".", 1)[1]] = words[1]
    assert states["assignment_list"] == "enabled", states
    assert states["formgrader"] == "disabled", states
    # the Korean language pack, JupyterLab's default language here
    langs = run(
        image,
        "python",
        "-c",
        "from jupyterlab_server.translation_utils import get_language_packs as g;"
        "print(sorted(g()[0]))",
    )
    assert "ko_KR" in langs
    assert '"locale": "ko_KR"' in run(
        image, "cat", "/opt/sadari/share/jupyter/lab/settings/overrides.json"
    )
    # tini is the entrypoint (signals reach the server, zombies are reaped)
    entry = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{json .Config.Entrypoint}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "tini" in entry


@pytest.mark.parametrize("track", sorted(TRACK_LIBRARIES))
def test_track_image(images: dict[str, str], track: str) -> None:
    image = images[f"lab-{track}"]
    assert image == CURRICULUM.track(track).image  # the name the curriculum gives the track
    assert run(image, "id", "-u").strip() == "1000"
    imports = "; ".join(f"import {m}" for m in TRACK_LIBRARIES[track])
    run(image, "python", "-c", imports)
    # the track's labs (and only its own) are in the image, where provisioning reads them
    listed = run(image, "ls", "/srv/sadari/labs").split()
    assert set(listed) == {track, "curriculum.yaml"}
    t = CURRICULUM.track(track)
    wanted = [nb for plan in t.stages.values() for nb in plan.notebooks]
    present = run(image, "sh", "-c", "cd /srv/sadari/labs && find . -name '*.ipynb'")
    assert {f"./{nb}" for nb in wanted} <= set(present.split())
    # the same pins as the local default (labs/requirements/<track>.txt)
    pins = {}
    for line in (ROOT / "labs" / "requirements" / "common.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    shown = run(image, "pip", "list", "--format=freeze")
    for name, version in pins.items():
        assert f"{name}=={version}".lower() in shown.lower(), (name, version)


def test_track_image_provisions_a_stage(images: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The provisioning step the docker and Kubernetes spawners run, run in the image itself."""
    plan = CURRICULUM.track("vision-ai").stages["basics"]
    pairs = [f"{nb}=1-basics/{nb.rsplit('/', 1)[1]}" for nb in plan.notebooks]
    out = run(
        images["lab-vision-ai"],
        "python",
        "-m",
        "sadari.hub.workspace",
        "--labs",
        "/srv/sadari/labs",
        "--home",
        "/home/jovyan",
        *pairs,
        "--then",
        "ls",
        "/home/jovyan/1-basics",
    )
    assert set(out.split()) >= {nb.rsplit("/", 1)[1] for nb in plan.notebooks}


def test_hub_image(images: dict[str, str]) -> None:
    image = images["hub"]
    assert run(image, "id", "-u").strip() == "1000"
    assert run(image, "jupyterhub", "--version").strip() == "6.1.1"
    run(
        image,
        "python",
        "-c",
        "from sadari.hub.spawner import SadariKubeSpawner; "
        "from sadari.hub.dockerspawner import SadariDockerSpawner; "
        "import psycopg, oauthenticator, nativeauthenticator, kubespawner",
    )
    # the curriculum in the image is the repository's, and it checks out against its files
    out = run(image, "sh", "-c", "cd /tmp && SADARI_DATA_DIR=/tmp/d sadari curriculum check")
    assert "OK" in out
