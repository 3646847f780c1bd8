"""`SadariKubeSpawner` builds each trainee's pod from sadari's policy, with KubeSpawner itself.

No cluster runs here: KubeSpawner's client configuration is not loaded and no API call is made;
the pod comes from `get_pod_manifest()` after sadari's `resolve_plan`, `apply_plan` and
`provision_labs` ran as `start()` runs them, and is validated against the Kubernetes schemas.
The init container's command is then run for real on a folder, as it would run in the pod.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest

from tests.support.hub import ROOT

from .chart import KUBERNETES_VERSION, NAMESPACE

kubespawner = pytest.importorskip("kubespawner", reason="jupyterhub-kubespawner is not installed")
from kubernetes_asyncio.client import ApiClient  # noqa: E402

from sadari.hub.spawner import SadariKubeSpawner  # noqa: E402

HOME = {"name": "home", "mountPath": "/home/jovyan"}


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **kwargs: None)


async def pod_for(groups: list[str]) -> tuple[dict[str, Any], Any]:
    user = SimpleNamespace(
        name="trainee001",
        id=1,
        url="/user/trainee001/",
        groups=[SimpleNamespace(name=g) for g in groups],
    )
    spawner = SadariKubeSpawner(
        _mock=True,
        user=user,
        namespace=NAMESPACE,
        curriculum_file=str(ROOT / "labs" / "curriculum.yaml"),
        labs_dir=str(ROOT / "labs"),
        volumes=[{"name": "home", "persistentVolumeClaim": {"claimName": "claim-trainee001"}}],
        volume_mounts=[HOME],
    )
    plan = spawner.resolve_plan()  # the steps of SadariSpawnerMixin.start(), without a cluster
    spawner.sadari_plan = plan
    spawner.apply_plan(plan)
    await spawner.provision_labs(plan)
    pod = ApiClient().sanitize_for_serialization(await spawner.get_pod_manifest())
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    return pod, plan


async def test_a_vision_ai_trainee_in_advanced_gets_the_track_image_a_gpu_and_the_labs(
    tmp_path: Path,
) -> None:
    pod, plan = await pod_for(["cohort:2026-seoul-1", "track:vision-ai", "stage:advanced"])
    [container] = pod["spec"]["containers"]
    assert container["image"] == "sadari/lab-vision-ai:0.1.0"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert int(container["resources"]["limits"]["memory"]) == 4 * 1024**3
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SADARI_TRACK"] == "vision-ai" and env["SADARI_STAGE"] == "advanced"
    [init] = pod["spec"]["initContainers"]
    assert init["image"] == container["image"] and init["volumeMounts"] == [HOME]
    assert f"{plan.labs[0].source}={plan.labs[0].dest}" in init["command"]

    # the init container's command, run on a folder: the labs land where the plan says
    command = init["command"]
    labs = command.index("--labs")
    command[labs + 1] = str(ROOT / "labs")
    command[command.index("--home") + 1] = str(tmp_path)
    run = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert all((tmp_path / lab.dest).is_file() for lab in plan.labs)
    (tmp_path / plan.labs[0].dest).write_text("내가 고친 노트북 / my edits")
    again = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / plan.labs[0].dest).read_text() == "내가 고친 노트북 / my edits"


async def test_vision_ai_basics_needs_no_gpu() -> None:
    pod, _ = await pod_for(["cohort:2026-seoul-1", "track:vision-ai", "stage:basics"])
    [container] = pod["spec"]["containers"]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
