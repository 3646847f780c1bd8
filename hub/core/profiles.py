"""KubeSpawner profiles from the curriculum: one per track × stage, resolved by the spawn policy.

`profile_list` turns a parsed Curriculum into KubeSpawner's `profile_list` (the chart passes it as
the JupyterHub chart's `singleuser.profileList`): for every track and every stage of the program
one profile whose `kubespawner_override` holds the track's image and the resources the spawn policy
(`policy.spawn_plan`) resolves for that placement, so a stage's resources override its track's
exactly as they do at spawn time. Limits come from the curriculum; guarantees (requests) are a
fraction of them (`ProfileOptions`). A placement with GPUs also gets the extended-resource limit,
the GPU tolerations and node selector.

`chart_values` wraps the list in the values layout of the sadari chart, and `visible_profiles`
narrows a list to what one person may pick: a trainee only their placement's profile, staff all.
Pure: plain values in, plain dicts out (ready for YAML or JSON); no I/O, no KubeSpawner import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .curriculum import Curriculum, Resources, Stage, Track
from .policy import Placement, spawn_plan

_UNITS = (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024))

# z2jh taints dedicated user nodes with these and tolerates them on user pods by default; a
# profile that sets `tolerations` replaces KubeSpawner's list, so GPU profiles repeat them.
Z2JH_USER_TOLERATIONS: tuple[Mapping[str, str], ...] = (
    {
        "key": "hub.jupyter.org/dedicated",
        "operator": "Equal",
        "value": "user",
        "effect": "NoSchedule",
    },
    {
        "key": "hub.jupyter.org_dedicated",
        "operator": "Equal",
        "value": "user",
        "effect": "NoSchedule",
    },
)


def _default_gpu_tolerations() -> tuple[Mapping[str, str], ...]:
    return (
        *Z2JH_USER_TOLERATIONS,
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    )


@dataclass(frozen=True)
class ProfileOptions:
    """How curriculum resources become KubeSpawner settings.

    - `cpu_guarantee_ratio`, `mem_guarantee_ratio`: the guarantee (request) as a fraction of the
      limit, in (0, 1]. CPU is compressible, so by default half is guaranteed; memory is not (a
      node under memory pressure kills kernels mid-lab), so by default all of it is.
    - `gpu_resource`: the extended resource a GPU is requested as.
    - `gpu_tolerations`, `gpu_node_selector`: where GPU servers may run. The default tolerations
      are z2jh's user-node ones plus the usual `nvidia.com/gpu` taint; no node selector (the
      scheduler places GPU requests on GPU nodes by itself).
    """

    cpu_guarantee_ratio: float = 0.5
    mem_guarantee_ratio: float = 1.0
    gpu_resource: str = "nvidia.com/gpu"
    gpu_tolerations: tuple[Mapping[str, str], ...] = field(default_factory=_default_gpu_tolerations)
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("cpu_guarantee_ratio", "mem_guarantee_ratio"):
            ratio = getattr(self, name)
            if not 0 < ratio <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {ratio!r}")
        if not self.gpu_resource:
            raise ValueError("gpu_resource must not be empty")


def profile_slug(track_id: str, stage_id: str) -> str:
    """The slug of a placement's profile, e.g. 'vision-ai-advanced' (what the spawn form sends)."""
    return f"{track_id}-{stage_id}"


def byte_quantity(n: int) -> str:
    """Bytes in the largest binary unit that divides them exactly ('2G', '1536M'), else digits.

    The units are JupyterHub's (K = 1024, ..., as in the curriculum), not Kubernetes' SI ones.
    """
    for suffix, size in _UNITS:
        if n >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def _cores(x: float) -> float:
    """Cores rounded to whole millicores (Kubernetes' precision)."""
    return round(x, 3)


def _describe(image: str, r: Resources) -> str:
    parts = [f"CPU {r.cpu:g}", f"메모리 memory {r.memory}"]
    if r.gpu:
        parts.append(f"GPU {r.gpu}")
    return " · ".join(parts) + f" · {image}"


def _display_name(track: Track, stage: Stage) -> str:
    return f"{track.name.ko} · {stage.name.ko} / {track.name.en} · {stage.name.en}"


def kubespawner_override(image: str, r: Resources, options: ProfileOptions) -> dict[str, Any]:
    """KubeSpawner settings for `image` with resources `r` (limits from `r`, guarantees scaled)."""
    mem = r.memory_bytes
    override: dict[str, Any] = {
        "image": image,
        "cpu_limit": _cores(r.cpu),
        "cpu_guarantee": _cores(r.cpu * options.cpu_guarantee_ratio),
        "mem_limit": byte_quantity(mem),
        "mem_guarantee": byte_quantity(int(mem * options.mem_guarantee_ratio)),
    }
    if r.gpu:
        override["extra_resource_limits"] = {options.gpu_resource: str(r.gpu)}
        override["tolerations"] = [dict(t) for t in options.gpu_tolerations]
        if options.gpu_node_selector:
            override["node_selector"] = dict(options.gpu_node_selector)
    return override


def profile_list(
    curriculum: Curriculum, options: ProfileOptions | None = None
) -> list[dict[str, Any]]:
    """KubeSpawner's `profile_list`: one profile per track × stage, in curriculum order.

    Each profile has a `slug` (`profile_slug`), a bilingual `display_name` and `description`, and
    a `kubespawner_override` built from the spawn policy's plan for that placement. The first
    profile is the default.
    """
    options = options or ProfileOptions()
    profiles: list[dict[str, Any]] = []
    for track in curriculum.tracks:
        for stage in curriculum.stages:
            plan = spawn_plan(curriculum, Placement(cohort=None, track=track.id, stage=stage.id))
            if plan.image is None or plan.resources is None:  # trainee plans always have both
                raise ValueError(f"no image or resources for {track.id}/{stage.id}")
            profiles.append(
                {
                    "slug": profile_slug(track.id, stage.id),
                    "display_name": _display_name(track, stage),
                    "description": _describe(plan.image, plan.resources),
                    "kubespawner_override": kubespawner_override(
                        plan.image, plan.resources, options
                    ),
                }
            )
    if profiles:
        profiles[0]["default"] = True
    return profiles


def chart_values(curriculum: Curriculum, options: ProfileOptions | None = None) -> dict[str, Any]:
    """The sadari chart values that install the profiles (`jupyterhub.singleuser.profileList`)."""
    return {"jupyterhub": {"singleuser": {"profileList": profile_list(curriculum, options)}}}


def visible_profiles(
    profiles: Sequence[Mapping[str, Any]], placement: Placement | None
) -> list[dict[str, Any]]:
    """The profiles one person may choose from: staff (no placement) every one; a trainee only the
    profile of their placement, as the default (none if it is missing, so nothing else is offered).
    """
    if placement is None:
        return [dict(p) for p in profiles]
    slug = profile_slug(placement.track, placement.stage)
    return [{**p, "default": True} for p in profiles if p.get("slug") == slug]
