"""Spawners that apply sadari's policy: the trainee's track and stage decide what their server gets.

`SadariSpawnerMixin` resolves the user's placement from their hub groups, asks the pure policy for a
SpawnPlan, and lets the backend apply it (`apply_plan`) and provision the labs (`provision_labs`)
before the backend's own start. `SadariLocalSpawner` is the embedded default: one local process per
person, each under a unix account of their own with a private home (hub/accounts.py).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import random_port
from traitlets import Bool, Integer, List, TraitError, Tuple, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from .accounts import (
    SHELL,
    Account,
    AccountError,
    can_create_accounts,
    chown_inside,
    ensure_account,
    ensure_group,
    kill_all,
    make_passage,
    make_private,
    unreachable,
)
from .core.accounts import ACCOUNT_PREFIX, SANDBOX_IDS, account_name, check_prefix, overlaps
from .core.curriculum import Curriculum, parse_curriculum
from .core.policy import SpawnPlan, placement_from_groups, spawn_plan
from .core.provision import WRITES
from .forkserver import ForkServer, fork_server
from .workspace import MANIFEST, provision

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
    idle_timeout = Integer(
        0,
        help="Seconds without activity after which the idle culler stops a server (0: never); "
        "a stage's `idle_minutes` in the curriculum overrides it for that stage's trainees.",
    ).tag(config=True)
    sadari_plan: SpawnPlan | None = None
    stage_idle_seconds: int | None = None  # this server's idle limit (the stage's), for the culler
    idle_stopped_minutes: int | None = None  # set when a server was stopped after being idle

    @property
    def idle_limit(self) -> int:
        """Seconds of inactivity after which this server is stopped (0: never)."""
        return self.stage_idle_seconds or self.idle_timeout

    def get_state(self) -> dict[str, Any]:
        """The backend's state, the stage's idle limit (the culler reads it) and whether the
        last stop came after the limit of inactivity (the next visit says so)."""
        state: dict[str, Any] = super().get_state()  # type: ignore[misc]
        if self.stage_idle_seconds:
            state["sadari_idle_seconds"] = self.stage_idle_seconds
        if self.idle_stopped_minutes:
            state["sadari_idle_stopped_minutes"] = self.idle_stopped_minutes
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what get_state saved (after a hub restart)."""
        super().load_state(state)  # type: ignore[misc]
        self.stage_idle_seconds = state.get("sadari_idle_seconds")
        self.idle_stopped_minutes = state.get("sadari_idle_stopped_minutes")

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
        self.stage_idle_seconds = plan.idle_seconds
        self.apply_plan(plan)
        await self.provision_labs(plan)
        started = await super().start()  # type: ignore[misc]
        self.idle_stopped_minutes = None  # said on the pages seen before this start
        return started

    async def stop(self, now: bool = False) -> None:
        """Stop as the backend does; remember when the server had been idle past its limit (the
        idle culler stopped it), so that the person's next visit can say why it is gone."""
        last = getattr(getattr(self, "orm_spawner", None), "last_activity", None)
        limit = self.idle_limit
        if limit and last is not None:
            idle = (datetime.now(UTC).replace(tzinfo=None) - last).total_seconds()
            self.idle_stopped_minutes = max(1, round(idle / 60)) if idle >= limit else None
        await super().stop(now=now)  # type: ignore[misc]


class ForkingLocalSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose servers are forked from a parent that has imported their
    libraries already (hub/forkserver.py), when it can: about a tenth of the CPU of a start from
    scratch. A server it cannot fork (another command, other start-up variables, the parent
    failing) starts the plain way."""

    fork_servers = Bool(
        True,
        help="Fork people's servers from a warmed parent (hub/forkserver.py) instead of "
        "starting Python from scratch for each.",
    ).tag(config=True)

    def fork_identity(self) -> tuple[int, int, list[int], str, int] | None:
        """(uid, gid, groups, working folder, umask) the server runs with; None: not forked."""
        return None

    async def start(self) -> Any:
        """Fork the server if it can be, else start it as LocalProcessSpawner does."""
        identity = self.fork_identity() if self.fork_servers and not self.shell_cmd else None
        if identity is None:
            return await super().start()
        if self.port == 0:
            self.port = random_port()
        cmd = [*self.cmd, *self.get_args()]
        if not ForkServer.accepts(cmd):
            return await super().start()
        env = self.get_env()
        server = fork_server(env)
        self.log.info("Spawning %s (forked)", shlex.join(cmd))
        try:
            self.pid = await asyncio.to_thread(server.spawn, cmd, env, *identity)
        except RuntimeError as e:
            self.log.warning("sadari: %s; starting %s's server the plain way", e, self.user.name)
            return await super().start()
        return (self.ip or "127.0.0.1", self.port)


class SadariLocalSpawner(SadariSpawnerMixin, ForkingLocalSpawner):
    """Local processes, each person under a unix account of their own (the embedded default).

    As The Littlest JupyterHub does on one machine: every hub user (trainee or staff) gets an
    account created on their first start (core/accounts.py names it), their server and kernels run
    as it, their home is theirs alone (0700), the platform's folders (data, labs with the
    assessments' sources) are 0700 root, and a team's shared folder is open to the team's unix
    group only. Without root no account can be made, and no server is started: a shared uid is
    never the fallback. Memory and CPU limits are not enforced (passed as MEM_LIMIT/CPU_LIMIT).
    """

    homes_dir = Unicode(
        help="Folder holding each person's home (`<homes_dir>/<account>`); every folder above it "
        "must be passable by other users (o+x)."
    ).tag(config=True)
    private_dirs = List(
        Unicode(),
        help="Folders of the platform nobody's server may enter (the data folder; the labs, "
        "which hold the assessments' sources): made 0700 before every start.",
    ).tag(config=True)
    legacy_homes_dir = Unicode(
        help="Where homes were kept before accounts (`<data_dir>/homes/<hub name>`): a home found "
        "there and not yet at its new place is moved on the person's next start."
    ).tag(config=True)
    account_prefix = Unicode(
        ACCOUNT_PREFIX,
        help="Start of every account's name (`sadari-`): a letter, up to 11 more of a-z 0-9, "
        "then '-'. Two platforms on one machine need different prefixes.",
    ).tag(config=True)

    @validate("account_prefix")
    def _valid_prefix(self, proposal: Any) -> str:
        try:
            return check_prefix(proposal["value"])
        except ValueError as e:
            raise TraitError(str(e)) from None

    account_ids = Tuple(
        Integer(),
        Integer(),
        default_value=(20000, 59999),
        help="Inclusive range of the uids and gids given to accounts and team groups; never "
        "overlapping the grading sandbox's uids.",
    ).tag(config=True)

    @validate("account_ids")
    def _ids_apart_from_sandbox(self, proposal: Any) -> tuple[int, int]:
        low, high = proposal["value"]
        if low < 1000 or high < low or overlaps((low, high), SANDBOX_IDS):
            raise TraitError(
                f"account_ids {low}-{high} must be a range above 999 that does not overlap the "
                f"grading sandbox's uids {SANDBOX_IDS[0]}-{SANDBOX_IDS[1]}"
            )
        return (low, high)

    home_dir = Unicode(help="This person's home: `<homes_dir>/<account>`.")
    account: Account | None = None
    team_gids: list[int]

    @default("home_dir")
    def _default_home_dir(self) -> str:
        return str(Path(self.homes_dir) / self.account_name)

    @property
    def account_name(self) -> str:
        """This person's unix account."""
        return account_name(self.user.name, self.account_prefix)

    async def start(self) -> Any:
        """Refuse without root; make the account, its home and team groups; then start."""
        why = can_create_accounts()
        if why:
            raise AccountError(f"sadari does not start servers under a shared uid: {why}")
        self.account, self.team_gids = await asyncio.to_thread(self.prepare_account)
        return await super().start()

    def prepare_account(self) -> tuple[Account, list[int]]:
        """Lock the platform's folders, ensure the account, its home and its team groups."""
        make_private(*(Path(p) for p in self.private_dirs))
        home = Path(self.home_dir)
        make_passage(home.parent)
        blocked = unreachable(home.parent)
        if blocked:
            raise AccountError(
                f"homes under {home.parent} cannot be reached by their accounts: {blocked} is "
                "closed to other users; give it o+x or set SADARI_HOMES_DIR elsewhere"
            )
        blocked = unreachable(Path(os.path.realpath(sys.executable)).parent)
        if blocked:
            raise AccountError(
                f"servers run this Python ({sys.executable}) as their person's account, but "
                f"{blocked} is closed to other users: make the environment from a Python every "
                "user can reach (`make install` uses Debian's /usr/bin/python3)"
            )
        account = ensure_account(self.user.name, home, self.account_ids, self.account_prefix)
        legacy = Path(self.legacy_homes_dir) / self.user.name if self.legacy_homes_dir else None
        if legacy and legacy.is_dir() and not home.exists():
            try:
                os.rename(legacy, home)
                self.log.info("sadari: moved %s's home from %s to %s", self.user.name, legacy, home)
            except OSError as e:
                self.log.warning("sadari: could not move %s to %s: %s", legacy, home, e)
        if home.is_symlink() or (home.exists() and not home.is_dir()):
            raise AccountError(
                f"{home} should be {self.user.name}'s home folder but is something else: an admin "
                "must move it aside / 홈 폴더 자리에 다른 것이 있습니다: 관리자에게 알려 주세요"
            )
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, account.uid, account.gid)
        home.chmod(0o700)
        gids = []
        if self.teams_dir:
            make_passage(Path(self.teams_dir))
            for team in self.team_groups():
                gid = ensure_group(team, self.account_ids, self.account_prefix)
                folder = Path(self.teams_dir) / team
                folder.mkdir(exist_ok=True)
                os.chown(folder, 0, gid)
                folder.chmod(0o2770)  # the team's group only; new files belong to the group
                gids.append(gid)
        return account, gids

    def fork_identity(self) -> tuple[int, int, list[int], str, int]:
        """The account (its group and its teams' groups), its home, and the umask that keeps
        files shared in a team folder writable by the team."""
        account = self.account
        if account is None:
            raise AccountError(f"no account was prepared for {self.user.name}")
        return account.uid, account.gid, [account.gid, *self.team_gids], self.home_dir, 0o007

    def make_preexec_fn(self, name: str) -> Any:
        """Become the account in the home before exec, as a forked server does."""
        uid, gid, groups, home, umask = self.fork_identity()

        def preexec() -> None:
            os.setgid(gid)
            os.setgroups(groups)
            os.setuid(uid)
            os.umask(umask)
            os.chdir(home)

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        """USER, HOME and SHELL of the account."""
        env["USER"] = self.account_name
        env["HOME"] = self.home_dir
        env["SHELL"] = SHELL
        return env

    async def stop(self, now: bool = False) -> None:
        """Stop the server, then anything else still running as the account."""
        await super().stop(now=now)
        try:
            uid = pwd.getpwnam(self.account_name).pw_uid
        except KeyError:
            return
        await asyncio.to_thread(kill_all, uid)

    async def provision_labs(self, plan: SpawnPlan) -> None:
        """Copy new material into the home folder in a worker thread; link the trainee's team
        folders into it; whatever was written belongs to the account."""
        if self.teams_dir:
            links = await asyncio.to_thread(self.link_team_folders)
            self._give(links)
        if not plan.labs:
            return
        decisions = await asyncio.to_thread(
            provision, Path(self.home_dir), Path(self.labs_dir), plan.labs
        )
        written = [d.dest for d in decisions if d.action in WRITES]
        self._give([*written, str(MANIFEST)])
        kept = [f"{d.dest} ({d.action})" for d in decisions if d.action not in WRITES]
        self.log.info(
            "sadari: provisioned %s for %s: wrote %s; kept %s",
            plan.environment.get("SADARI_STAGE"),
            self.user.name,
            written or "nothing",
            kept or "nothing",
        )

    def _give(self, rel_paths: list[str]) -> None:
        if self.account and rel_paths:
            chown_inside(Path(self.home_dir), rel_paths, self.account)

    def link_team_folders(self) -> list[str]:
        """`<home>/team-...` → the team's shared folder, made if missing (a link that is already
        there, or a trainee's own file of that name, is left alone); links to the folders of teams
        the trainee has left are removed (the folder itself stays with its team). Returns the
        links made."""
        home = Path(self.home_dir)
        home.mkdir(parents=True, exist_ok=True)
        current = set(self.team_groups())
        teams_root = Path(self.teams_dir).resolve()
        for link in home.glob(f"{TEAM_PREFIX}*"):
            if link.is_symlink() and link.name not in current:
                target = Path(os.readlink(link))
                if target.is_absolute() and target.parent.resolve() == teams_root:
                    link.unlink()
        made = []
        for group in sorted(current):
            shared = Path(self.teams_dir) / group
            shared.mkdir(parents=True, exist_ok=True)
            link = home / group
            if not link.exists() and not link.is_symlink():
                link.symlink_to(shared, target_is_directory=True)
                made.append(group)
        return made


def __getattr__(name: str) -> Any:
    """`sadari.hub.spawner.SadariKubeSpawner` (the Helm chart's spawner), imported on first use so
    that local installs need no Kubernetes client."""
    if name == "SadariKubeSpawner":
        from .kubespawner import SadariKubeSpawner

        return SadariKubeSpawner
    raise AttributeError(name)
