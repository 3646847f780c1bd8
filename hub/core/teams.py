"""Team formation for the project stage: balanced skill, mixed tracks or majors, reproducible.

Pure: `form_teams(policy, members)` splits the members (usually the trainees selected into the
stage, see `members_from_decision`) into teams and explains each one.
1. Sizes (`team_sizes`): teams of `size`, or `size` +- 1 when it does not divide, with as few teams
   off `size` as possible (ties: the larger teams); fewer than `size` - 1 members make one team.
2. Snake draft on skill (best first, then trainee id): teams pick in the order 1..t, t..1, ...;
   a team takes the best member left that keeps it within `max_same` (at most m members sharing
   a value of an attribute, e.g. track), or the best member left when none does.
3. Local search: swap two members of different teams when that lowers (limit violations, variance
   of team means) lexicographically. Pairs are visited in an order drawn from
   random.Random(seed), until no swap improves or `steps` swaps were tried. The result depends
   only on the members (not their order), the policy and the seed.
4. Limits still broken afterwards raise TeamError naming the attribute, value and teams.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .selection import Decision

Skill = Literal["assessments", "total"]


class TeamError(ValueError):
    """The members cannot be split into teams under the policy's limits."""


@dataclass(frozen=True)
class TeamPolicy:
    """How the project stage forms teams (a stage's `teams:` block in labs/curriculum.yaml)."""

    size: int
    skill: Skill = "assessments"  # mean of the normalised assessment scores, or the total
    max_same: tuple[tuple[str, int], ...] = ()  # (attribute, at most this many per team)
    seed: int = 0
    steps: int = 200_000  # swap evaluations at most


@dataclass(frozen=True)
class TeamMember:
    """One trainee to place: skill and attributes (track, major, ...)."""

    trainee: str
    skill: float
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Team:
    """One team with its explanation (Korean / English)."""

    number: int  # 1-based
    members: tuple[TeamMember, ...]
    mean_skill: float
    composition: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # attribute -> value counts
    explanation: str


@dataclass(frozen=True)
class Teams:
    """The teams, how balanced they are, and the seed that reproduces them."""

    teams: tuple[Team, ...]
    mean_skill: float  # over all members
    spread: float  # highest minus lowest team mean
    variance: float  # population variance of the team means
    seed: int
    explanation: str


def team_sizes(n: int, k: int) -> list[int]:
    """Sizes of the teams for `n` members and target size `k` (largest first)."""
    if k < 2:
        raise ValueError("team size must be at least 2")
    if n <= 0:
        return []
    options = []
    t, r = divmod(n, k)
    if t and r <= t:  # t teams, r of them one larger
        options.append((r, 0, [k + 1] * r + [k] * (t - r)))
    t2 = -(-n // k)
    d = t2 * k - n
    if d <= t2:  # ceil(n/k) teams, d of them one smaller
        options.append((d, 1, [k] * (t2 - d) + [k - 1] * d))
    return min(options)[2] if options else [n]


def members_from_decision(decision: Decision, skill: Skill = "assessments") -> list[TeamMember]:
    """The selected trainees of `decision` as TeamMembers; attributes are the candidate's plus
    `track` and `cohort`. Skill "assessments": the weighted mean of the trainee's normalised
    assessment scores (their sub-scores; inputs such as attendance left out, the total when they
    have none); "total": the selection total."""
    out = []
    for o in decision.selected:
        value = o.total
        if skill == "assessments":
            parts = [p for p in o.parts if p.kind == "assessment"]
            weight = sum(p.weight for p in parts)
            if weight > 0:
                value = round(sum(p.weight * p.normalised for p in parts) / weight, 6)
        attributes = {**o.attributes, "track": o.track, "cohort": o.cohort}
        out.append(TeamMember(o.trainee, value, attributes))
    return out


def form_teams(policy: TeamPolicy, members: Iterable[TeamMember]) -> Teams:
    """Teams for `members` under `policy` (see the module docstring); TeamError when the limits
    cannot be met, ValueError for a duplicate trainee."""
    people = sorted(members, key=lambda x: (-x.skill, x.trainee))
    if len({p.trainee for p in people}) != len(people):
        raise ValueError("a trainee appears twice")
    sizes = team_sizes(len(people), policy.size)
    limits = dict(policy.max_same)
    _check_limits(people, limits, len(sizes))
    team_of = _snake(people, sizes, limits)
    _improve(people, team_of, sizes, limits, random.Random(policy.seed), policy.steps)
    return _explain(policy, people, team_of, sizes, limits)


def _check_limits(people: Sequence[TeamMember], limits: Mapping[str, int], teams: int) -> None:
    problems = []
    for attr, most in sorted(limits.items()):
        for value, count in sorted(
            Counter(p.attributes.get(attr) for p in people).items(), key=str
        ):
            if value is not None and count > most * teams:
                problems.append(
                    f"{attr}={value}: {count}명, 팀당 최대 {most}명 x {teams}팀 = {most * teams}명"
                    f" / {attr}={value}: {count} members but at most {most} per team x {teams}"
                    f" teams = {most * teams}"
                )
    if problems:
        raise TeamError("\n".join(problems))


def _over(team: Sequence[TeamMember], person: TeamMember, limits: Mapping[str, int]) -> bool:
    """True when adding `person` to `team` breaks a limit."""
    for attr, most in limits.items():
        value = person.attributes.get(attr)
        if value is not None and sum(p.attributes.get(attr) == value for p in team) >= most:
            return True
    return False


def _snake(
    people: Sequence[TeamMember], sizes: Sequence[int], limits: Mapping[str, int]
) -> list[int]:
    """Team index per person (people best first) from a limit-aware snake draft."""
    left = list(range(len(people)))
    teams: list[list[TeamMember]] = [[] for _ in sizes]
    team_of = [0] * len(people)
    rnd = 0
    while left:
        seq = range(len(sizes)) if rnd % 2 == 0 else range(len(sizes) - 1, -1, -1)
        for j in seq:
            if not left or len(teams[j]) >= sizes[j]:
                continue
            pick = next((i for i in left if not _over(teams[j], people[i], limits)), left[0])
            left.remove(pick)
            teams[j].append(people[pick])
            team_of[pick] = j
        rnd += 1
    return team_of


def _improve(
    people: Sequence[TeamMember],
    team_of: list[int],
    sizes: Sequence[int],
    limits: Mapping[str, int],
    rng: random.Random,
    steps: int,
) -> None:
    """Local search in place: swaps that lower (violations, variance of team means)."""
    t, n = len(sizes), len(people)
    if t < 2:
        return
    skill = [p.skill for p in people]
    sums = [0.0] * t
    for i, j in enumerate(team_of):
        sums[j] += skill[i]
    attrs = sorted(limits)
    vals = [[p.attributes.get(a) for a in attrs] for p in people]
    counts = [[Counter[str | None]() for _ in attrs] for _ in range(t)]
    for i, j in enumerate(team_of):
        for a in range(len(attrs)):
            counts[j][a][vals[i][a]] += 1

    total = sum(s / z for s, z in zip(sums, sizes, strict=True))  # sum of the team means

    def excess(j: int, a: int, value: str | None, change: int) -> int:
        """Change of team j's violations on attribute a when `value` count moves by `change`."""
        if value is None:
            return 0
        most, c = limits[attrs[a]], counts[j][a][value]
        return max(0, c + change - most) - max(0, c - most)

    def try_swap(x: int, y: int) -> bool:
        nonlocal total
        i, j = team_of[x], team_of[y]
        if i == j:
            return False
        dv = 0
        for a in range(len(attrs)):
            vx, vy = vals[x][a], vals[y][a]
            if vx != vy:
                dv += excess(i, a, vx, -1) + excess(i, a, vy, +1)
                dv += excess(j, a, vy, -1) + excess(j, a, vx, +1)
        d = skill[y] - skill[x]
        mi, mj = sums[i] / sizes[i], sums[j] / sizes[j]
        ni, nj = (sums[i] + d) / sizes[i], (sums[j] - d) / sizes[j]
        # t * variance = sum(mu^2) - (sum mu)^2 / t; only teams i and j change
        new_total = total - mi - mj + ni + nj
        dvar = (ni * ni + nj * nj - mi * mi - mj * mj) - (new_total**2 - total**2) / t
        if not (dv < 0 or (dv == 0 and dvar < -1e-9)):
            return False
        for a in range(len(attrs)):
            counts[i][a][vals[x][a]] -= 1
            counts[i][a][vals[y][a]] += 1
            counts[j][a][vals[y][a]] -= 1
            counts[j][a][vals[x][a]] += 1
        sums[i] += d
        sums[j] -= d
        total = new_total
        team_of[x], team_of[y] = j, i
        return True

    pairs = n * (n - 1) // 2
    if pairs <= steps:  # systematic passes over every pair until none improves
        order = [(x, y) for x in range(n) for y in range(x + 1, n)]
        while steps > 0:
            rng.shuffle(order)
            improved = False
            for x, y in order[:steps]:
                improved = try_swap(x, y) or improved
            steps -= len(order)
            if not improved:
                break
    else:  # too many pairs: sample
        for _ in range(steps):
            try_swap(rng.randrange(n), rng.randrange(n))


def _explain(
    policy: TeamPolicy,
    people: Sequence[TeamMember],
    team_of: Sequence[int],
    sizes: Sequence[int],
    limits: Mapping[str, int],
) -> Teams:
    overall = round(sum(p.skill for p in people) / len(people), 6) if people else 0.0
    shown = sorted(
        set(limits) | ({"track"} if any("track" in p.attributes for p in people) else set())
    )
    teams, broken = [], []
    for j in range(len(sizes)):
        mem = tuple(
            sorted(
                (p for p, k in zip(people, team_of, strict=True) if k == j),
                key=lambda p: (-p.skill, p.trainee),
            )
        )
        mean = round(sum(p.skill for p in mem) / len(mem), 6)
        comp = tuple(
            (a, tuple(sorted(Counter(p.attributes[a] for p in mem if a in p.attributes).items())))
            for a in shown
        )
        for a, counts in comp:
            broken += [
                f"team {j + 1}: {a}={v} x{c}" for v, c in counts if a in limits and c > limits[a]
            ]
        text = "; ".join(f"{a}: " + ", ".join(f"{v} {c}" for v, c in counts) for a, counts in comp)
        explanation = (
            f"팀 {j + 1}: {len(mem)}명, 평균 역량 {mean:.2f} (전체 평균 대비 {mean - overall:+.2f})"
            f" / team {j + 1}: {len(mem)} members, mean skill {mean:.2f} ({mean - overall:+.2f}"
            f" vs the overall {overall:.2f})" + (f"; {text}" if text else "")
        )
        teams.append(Team(j + 1, mem, mean, comp, explanation))
    if broken:
        raise TeamError(
            "limits still broken after the search / 제한을 지킬 수 없음: " + ", ".join(broken)
        )
    means = [t.mean_skill for t in teams]
    mu = sum(means) / len(means) if means else 0.0
    variance = round(sum((x - mu) ** 2 for x in means) / len(means), 9) if means else 0.0
    spread = round(max(means) - min(means), 6) if means else 0.0
    rules = ", ".join(f"{a} <= {m}" for a, m in sorted(limits.items()))
    explanation = (
        f"{len(teams)}팀, 팀 평균 역량 차이 최대 {spread:.2f} (분산 {variance:.4f}), 시드 {policy.seed}"
        f" / {len(teams)} teams of {policy.size} (+-1), team means within {spread:.2f} (variance"
        f" {variance:.4f}), seed {policy.seed}" + (f"; per team {rules}" if rules else "")
    )
    return Teams(tuple(teams), overall, spread, variance, policy.seed, explanation)
