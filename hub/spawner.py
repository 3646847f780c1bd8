"""Spawners that apply sadari's policy: the trainee's track and stage decide what their server gets.

`SadariSpawnerMixin` resolves the user's placement from their hub groups, asks the pure policy for a
SpawnPlan, and lets the backend apply it (`apply_plan`) and provision the labs (`provision_labs`)
before the backend's own start. `SadariLocalSpawner` is the embedded default: one local process per
trainee, one home folder per trainee under the data folder.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from .core.curriculum import Curriculum, parse_curriculum
from .core.policy import SpawnPlan, placement_from_groups, spawn_plan
from .core.provision import WRITES
from .workspace import provision

_cache: dict[str, tuple[float, Curriculum]] = {}
TEAM_PREFIX = "team-"


def load_curriculum(path: str) -> Curriculum:
    """The curriculum at `path`, re-read only when the file changes."""
    mtime = Path(path).stat().st_mtime
    hit = _cache.get(path)
    if hit and hit[0] == mtime:
        return hit[1]
    curriculum = parse_curriculum(Path(path).read_text(encoding="utf-8"), path)
    _cache[path] = (mtime, curriculum)
    return curriculum


class SadariSpawnerMixin(LoggingConfigurable):
    """Mix into a JupyterHub spawner (before it in the bases) to apply the track/stage policy."""

    curriculum_file = Unicode(help="Path of labs/curriculum.yaml.").tag(config=True)
    labs_dir = Unicode(help="Folder the curriculum's notebook paths are relative to.").tag(
        config=True
    )
    teams_dir = Unicode(
        help="Folder holding each project team's shared folder (one per `team-*` hub group)."
    ).tag(config=True)
    sadari_plan: SpawnPlan | None = None

    def team_groups(self) -> list[str]:
        """The project teams (hub groups `team-...`) this spawner's user belongs to."""
        return sorted(g.name for g in self.user.groups if g.name.startswith(TEAM_PREFIX))  # type: ignore[attr-defined]

    def resolve_plan(self) -> SpawnPlan:
        """The SpawnPlan for this spawner's user, from their current hub groups."""
        curriculum = load_curriculum(self.curriculum_file)
        groups = [g.name for g in self.user.groups]  # type: ignore[attr-defined]
        return spawn_plan(curriculum, placement_from_groups(curriculum, groups))

    def apply_plan(self, plan: SpawnPlan) -> None:
        """Translate the plan into this backend's settings (override per backend)."""
        if plan.resources:
            self.mem_limit = plan.resources.memory_bytes  # type: ignore[attr-defined]
            self.cpu_limit = plan.resources.cpu  # type: ignore[attr-defined]

    async def provision_labs(self, plan: SpawnPlan) -> None:
        """Put the plan's labs into the trainee's workspace (override per backend)."""
        raise NotImplementedError

    def get_env(self) -> dict[str, str]:
        """The backend's environment plus the plan's (track, stage, cohort, role)."""
        env: dict[str, str] = super().get_env()  # type: ignore[misc]
        if self.sadari_plan:
            env.update(self.sadari_plan.environment)
        return env

    async def start(self) -> Any:
        """Resolve and apply the plan, provision the labs, then start as the backend does."""
        plan = self.resolve_plan()
        self.sadari_plan = plan
        self.apply_plan(plan)
        await self.provision_labs(plan)
        return await super().start()  # type: ignore[misc]


class SadariLocalSpawner(SadariSpawnerMixin, SimpleLocalProcessSpawner):
    """Local processes, a home folder per trainee; labs copied in by the hub before start.

    Like JupyterHub's SimpleLocalProcessSpawner it gives no isolation between trainees and does not
    enforce memory or CPU limits (they are passed as MEM_LIMIT/CPU_LIMIT for display only).
    """

    async def provision_labs(self, plan: SpawnPlan) -> None:
        """Copy new material into the home folder in a worker thread; link the trainee's team
        folders into it."""
        if self.teams_dir:
            await asyncio.to_thread(self.link_team_folders)
        if not plan.labs:
            return
        decisions = await asyncio.to_thread(
            provision, Path(self.home_dir), Path(self.labs_dir), plan.labs
        )
        written = [d.dest for d in decisions if d.action in WRITES]
        kept = [f"{d.dest} ({d.action})" for d in decisions if d.action not in WRITES]
        self.log.info(
            "sadari: provisioned %s for %s: wrote %s; kept %s",
            plan.environment.get("SADARI_STAGE"),
            self.user.name,
            written or "nothing",
            kept or "nothing",
        )

    def link_team_folders(self) -> None:
        """`<home>/team-...` → the team's shared folder, made if missing (a link that is already
        there, or a trainee's own file of that name, is left alone); links to the folders of teams
        the trainee has left are removed (the folder itself stays with its team)."""
        home = Path(self.home_dir)
        home.mkdir(parents=True, exist_ok=True)
        current = set(self.team_groups())
        teams_root = Path(self.teams_dir).resolve()
        for link in home.glob(f"{TEAM_PREFIX}*"):
            if link.is_symlink() and link.name not in current:
                target = Path(os.readlink(link))
                if target.is_absolute() and target.parent.resolve() == teams_root:
                    link.unlink()
        for group in sorted(current):
            shared = Path(self.teams_dir) / group
            shared.mkdir(parents=True, exist_ok=True)
            link = home / group
            if not link.exists() and not link.is_symlink():
                link.symlink_to(shared, target_is_directory=True)


def __getattr__(name: str) -> Any:
    """`sadari.hub.spawner.SadariKubeSpawner` (the Helm chart's spawner), imported on first use so
    that local installs need no Kubernetes client."""
    if name == "SadariKubeSpawner":
        from .kubespawner import SadariKubeSpawner

        return SadariKubeSpawner
    raise AttributeError(name)
