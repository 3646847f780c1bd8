"""`SadariKubeSpawner`: KubeSpawner driven by sadari's track/stage policy (the Helm chart's spawner).

The policy (hub/core/policy.py) picks the trainee's image, CPU and memory (limit = guarantee for
memory, half the CPU guaranteed) and a GPU for the stages that ask for one, from their hub groups,
exactly as for local servers. The labs come from the image (`image_labs_dir`, where the lab images
put labs/) and are provisioned into the trainee's home volume by an init container that runs
`python -m sadari.hub.workspace` with the same rules the hub applies locally: new files are copied,
files the trainee edited or deleted are left alone. Staff (no track) get KubeSpawner's own
behaviour, profile list included.

Imported lazily through `sadari.hub.spawner.SadariKubeSpawner`, so local installs need no
Kubernetes client.
"""

from __future__ import annotations

from typing import Any

from kubespawner import KubeSpawner
from traitlets import Unicode

from .core.policy import SpawnPlan
from .spawner import SadariSpawnerMixin

GPU_RESOURCE = "nvidia.com/gpu"


class SadariKubeSpawner(SadariSpawnerMixin, KubeSpawner):  # type: ignore[misc]
    """One pod per trainee, its image, resources and labs from the policy."""

    image_labs_dir = Unicode(
        "/srv/sadari/labs", help="Where the lab images hold labs/ (the curriculum's paths)."
    ).tag(config=True)
    home_mount_path = Unicode(
        "/home/jovyan", help="Where the trainee's home volume is mounted in their pod."
    ).tag(config=True)

    def apply_plan(self, plan: SpawnPlan) -> None:
        """Image, CPU, memory and GPU of the trainee's track and stage."""
        if plan.image:
            self.image = plan.image
        r = plan.resources
        if r is not None:
            self.mem_limit = self.mem_guarantee = r.memory_bytes
            self.cpu_limit = r.cpu
            self.cpu_guarantee = r.cpu / 2
            limits = {
                k: v for k, v in dict(self.extra_resource_limits).items() if k != GPU_RESOURCE
            }
            if r.gpu:
                limits[GPU_RESOURCE] = str(r.gpu)
            self.extra_resource_limits = limits

    def _home_mount(self) -> dict[str, Any] | None:
        for mount in self.volume_mounts:
            if isinstance(mount, dict) and mount.get("mountPath") == self.home_mount_path:
                return mount
        return None

    async def provision_labs(self, plan: SpawnPlan) -> None:
        """An init container copies the plan's labs from the image into the home volume."""
        mount = self._home_mount()
        others = [c for c in self.init_containers if c.get("name") != "sadari-labs"]
        if not plan.labs or mount is None:
            self.init_containers = others
            return
        pairs = [f"{lab.source}={lab.dest}" for lab in plan.labs]
        self.init_containers = [
            *others,
            {
                "name": "sadari-labs",
                "image": self.image,
                "command": [
                    "python",
                    "-m",
                    "sadari.hub.workspace",
                    "--labs",
                    self.image_labs_dir,
                    "--home",
                    self.home_mount_path,
                    *pairs,
                ],
                "volumeMounts": [{**mount}],
                "securityContext": {
                    "runAsUser": self.uid if self.uid is not None else 1000,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
            },
        ]
