"""The profiles of helm/sadari/values-profiles.yaml turned into pods by KubeSpawner itself.

For every profile, a KubeSpawner (no cluster: its API client configuration is not loaded and no
API call is made) selects the profile as the spawn form would (`user_options = {"profile": slug}`,
`load_user_options()`), builds the pod with `get_pod_manifest()`, and the pod is validated
against the Kubernetes OpenAPI schemas (kubernetes-validate, strict). The profiles are read from
the values file the chart is installed with, so what is checked is what a cluster would get.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from .chart import DEFAULT, KUBERNETES_VERSION, NAMESPACE

kubespawner = pytest.importorskip("kubespawner", reason="jupyterhub-kubespawner is not installed")
from kubernetes_asyncio.client import ApiClient  # noqa: E402  (kubespawner brings it)

PROFILES: list[dict[str, Any]] = DEFAULT["jupyterhub"]["singleuser"]["profileList"]
GPU = "nvidia.com/gpu"


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """KubeSpawner loads a kube config on construction; there is none here and none is needed."""
    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **kwargs: None)


async def pod_for(slug: str) -> dict[str, Any]:
    spawner = kubespawner.KubeSpawner(_mock=True, namespace=NAMESPACE, profile_list=PROFILES)
    spawner.user_options = {"profile": slug}
    await spawner.load_user_options()
    pod = await spawner.get_pod_manifest()
    manifest: dict[str, Any] = ApiClient().sanitize_for_serialization(pod)
    manifest.setdefault("apiVersion", "v1")
    manifest.setdefault("kind", "Pod")
    return manifest


def test_one_profile_per_track_and_stage() -> None:
    assert len(PROFILES) == 12
    assert len({p["slug"] for p in PROFILES}) == 12


@pytest.mark.parametrize("profile", PROFILES, ids=[p["slug"] for p in PROFILES])
async def test_every_profile_builds_a_valid_pod(profile: dict[str, Any]) -> None:
    pod = await pod_for(profile["slug"])
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    [container] = pod["spec"]["containers"]
    override = profile["kubespawner_override"]
    assert container["image"] == override["image"]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert float(limits["cpu"]) == override["cpu_limit"]
    assert float(requests["cpu"]) == override["cpu_guarantee"]
    assert pod["metadata"]["labels"]["component"] == "singleuser-server"  # z2jh's policy selects it


@pytest.mark.parametrize("stage", ["advanced", "project"])
async def test_vision_ai_pods_request_a_gpu(stage: str) -> None:
    pod = await pod_for(f"vision-ai-{stage}")
    [container] = pod["spec"]["containers"]
    assert container["resources"]["limits"][GPU] == "1"
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert int(container["resources"]["limits"]["memory"]) == 4 * 1024**3


async def test_vision_ai_basics_overrides_the_track_and_needs_no_gpu() -> None:
    pod = await pod_for("vision-ai-basics")
    [container] = pod["spec"]["containers"]
    assert GPU not in container["resources"]["limits"]
    assert int(container["resources"]["limits"]["memory"]) == 2 * 1024**3


async def test_other_tracks_request_no_gpu() -> None:
    for profile in PROFILES:
        if profile["slug"].startswith("vision-ai-"):
            continue
        pod = await pod_for(profile["slug"])
        assert GPU not in pod["spec"]["containers"][0]["resources"]["limits"], profile["slug"]
