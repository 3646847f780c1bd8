"""Hub group membership sadari wants, and the changes that get the hub there.

Pure: `desired_groups` gives the groups one person belongs in; `plan_sync` compares wanted
membership with the hub's current groups and returns the operations to apply. Only groups sadari
manages (role groups, cohort/track/stage groups and project teams' `team-<cohort>-<NN>`) are ever
changed, and only for people sadari knows, so groups an admin made by hand are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .permissions import ROLE_GROUPS
from .policy import MANAGED_PREFIXES, cohort_group, stage_group, track_group

TEAM_GROUP_PREFIX = "team-"
_TEAM_GROUP = re.compile(r"^team-[a-z0-9][a-z0-9._-]*-\d{2,}$")  # hand-made team-alpha: not ours


def team_group(cohort: str, number: int) -> str:
    """Hub group of project team `number` of `cohort`: team-<cohort>-<NN>."""
    return f"{TEAM_GROUP_PREFIX}{cohort}-{number:02d}"


def is_managed(group: str) -> bool:
    """True for groups sadari owns the membership of."""
    return (
        group in ROLE_GROUPS.values()
        or group.startswith(MANAGED_PREFIXES)
        or _TEAM_GROUP.match(group) is not None
    )


def desired_groups(role: str, cohort: str | None, track: str | None, stage: str | None) -> set[str]:
    """Groups of one person: their role group, plus cohort/track/stage groups when given."""
    groups = {ROLE_GROUPS[role]}
    if cohort:
        groups.add(cohort_group(cohort))
    if track:
        groups.add(track_group(track))
    if stage:
        groups.add(stage_group(stage))
    return groups


@dataclass
class SyncPlan:
    """Operations to bring the hub in line; empty when nothing needs to change."""

    create_users: list[str] = field(default_factory=list)
    create_groups: list[str] = field(default_factory=list)
    add: dict[str, list[str]] = field(default_factory=dict)
    remove: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when the hub already matches."""
        return not (self.create_users or self.create_groups or self.add or self.remove)


def plan_sync(
    wanted: Mapping[str, set[str]],
    hub_users: Iterable[str],
    hub_groups: Mapping[str, Iterable[str]],
) -> SyncPlan:
    """Operations so that every user in `wanted` is in exactly their wanted managed groups."""
    existing_users = set(hub_users)
    members = {g: set(users) for g, users in hub_groups.items()}
    plan = SyncPlan(create_users=sorted(set(wanted) - existing_users))
    all_wanted = set().union(*wanted.values()) if wanted else set()
    plan.create_groups = sorted(all_wanted - set(members))
    for group in sorted(all_wanted | {g for g in members if is_managed(g)}):
        want = {u for u, gs in wanted.items() if group in gs}
        have = members.get(group, set())
        add = sorted(want - have)
        remove = sorted(u for u in have - want if u in wanted)
        if add:
            plan.add[group] = add
        if remove:
            plan.remove[group] = remove
    return plan
