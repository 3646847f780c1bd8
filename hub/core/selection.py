"""Stage selection: who advances to the next stage, ranked, explained and reproducible.

Pure (no I/O, no clock, no database): `select(policy, candidates)` turns a SelectionPolicy (from a
stage's `selection:` block in labs/curriculum.yaml, or built in code) and per-trainee inputs
(Candidates, or their Sheet: the same as tables) into a Decision: for every trainee their rank in
their pool, total and its breakdown, eligibility (and why not), selection (and why), their pool's
cutoff and their gap to it. `Decision.inputs_hash` is a
SHA-256 over a canonical JSON of the policy and the inputs, so a decision can be reproduced.

The rules:
1. Pools: trainees compete within their cohort (`pool: cohort`) or cohort and track (`pool: track`).
2. Score per component (an assessment, or a named input such as attendance): percent = 100 * score
   * (1 - late penalty) / points (inputs: the value as given; missing counts as 0); normalised =
   percent, or its z-score among the pool members the component applies to (population standard
   deviation, 0 when all are equal). total = round(sum of weight * normalised, 6).
3. Eligibility: required components present, minimums met (on percent or value, before
   normalisation), total >= `min_total`.
4. Order: eligible first, then higher total, then the declared tie chain (`score:<id>`,
   `input:<name>`: higher first, missing last; `earliest-final-submission`: earlier time of the
   trainee's last submission first, none last), then trainee id. Rank = position in this order.
5. Seats: `capacity.seats(...)` per pool. Without reserved seats the first `seats` eligible are
   selected. With reserved seats ("at least N members with attribute=value", per pool) the
   selected set is the lexicographically best in rank order among all sets that fit the seats and
   meet every reservation (what weights 2^-rank would give, without their 2^-10000 underflow). It
   is built by walking the ranking and taking each trainee iff some completion still meets every
   reservation; that test is an integer programme over counts per membership type solved exactly
   by scipy.optimize.milp. Exact for any mix of reservations, overlapping groups included, with a
   handful of solver calls per pool (see `_reserved_selection`).
6. Reservations that cannot be met (fewer eligible members than reserved seats, more reserved
   seats than the pool has) raise SelectionError naming every pool and group concerned, and no
   decision is made: silently breaking a promised reservation is worse than stopping.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from .deadlines import LatePolicy, lateness

Normalise = Literal["percent", "zscore"]
PoolKind = Literal["track", "cohort"]
Basis = Literal["merit", "reserved", "capacity", "ineligible"]
TIE_TRAINEE = "trainee-id"
TIE_FINAL_SUBMISSION = "earliest-final-submission"
HASH_FORMAT = "sadari-selection/1"  # bump when the canonical form changes
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Cell = str | float | int | bool | None


class SelectionError(ValueError):
    """The policy cannot be applied to these inputs (e.g. reserved seats that cannot be met)."""

    def __init__(self, problems: Iterable[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Component:
    """One scored part of the total: an assessment (`id` = its id) or a named input (attendance)."""

    id: str
    weight: float
    kind: Literal["assessment", "input"] = "assessment"
    points: float = 100.0  # assessments: the points of a full score
    normalise: Normalise = "percent"
    required: bool = True  # must be submitted (assessment) / present (input) to be eligible
    minimum: float | None = None  # eligibility: at least this percent (inputs: this value)
    tracks: frozenset[str] | None = None  # the tracks it applies to; None: every track

    def applies_to(self, track: str) -> bool:
        """True when trainees of `track` are scored on this component."""
        return self.tracks is None or track in self.tracks


@dataclass(frozen=True)
class Reservation:
    """At least `seats` of each pool's selected trainees have `attribute` equal to `value`."""

    attribute: str
    value: str
    seats: int

    @property
    def label(self) -> str:
        """`major=non-major`."""
        return f"{self.attribute}={self.value}"


@dataclass(frozen=True)
class Capacity:
    """Seats per pool: `top_n`, or floor(`top_percent` % of the pool's size, eligible or not);
    `overrides` by track id (`pool: track`) or cohort id (`pool: cohort`)."""

    top_n: int | None = None
    top_percent: float | None = None
    overrides: tuple[tuple[str, int], ...] = ()

    def seats(self, key: str, size: int) -> int:
        """Seats of the pool of track or cohort `key` with `size` trainees."""
        for name, seats in self.overrides:
            if name == key:
                return seats
        if self.top_n is not None:
            return self.top_n
        if self.top_percent is not None:
            return math.floor(Fraction(str(self.top_percent)) * size / 100)
        raise ValueError("capacity needs top_n or top_percent")


@dataclass(frozen=True)
class SelectionPolicy:
    """How trainees of stage `source` are selected into stage `stage`."""

    stage: str
    source: str
    components: tuple[Component, ...]
    capacity: Capacity
    pool: PoolKind = "track"
    min_total: float | None = None
    reserved: tuple[Reservation, ...] = ()
    ties: tuple[str, ...] = (TIE_FINAL_SUBMISSION, TIE_TRAINEE)

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready form (part of the decision hash; store it with a decision).
        Numbers are floats (seats integers), so 40 and 40.0 give the same hash."""

        def num(x: float | None) -> float | None:
            return None if x is None else float(x)

        comps = [
            {**vars(c), "weight": float(c.weight), "points": float(c.points)}
            | {"minimum": num(c.minimum), "tracks": None if c.tracks is None else sorted(c.tracks)}
            for c in self.components
        ]
        cap = self.capacity
        return {
            **{k: getattr(self, k) for k in ("stage", "source", "pool")},
            "min_total": num(self.min_total),
            "components": comps,
            "capacity": {
                "top_n": cap.top_n,
                "top_percent": num(cap.top_percent),
                "overrides": dict(sorted(cap.overrides)),
            },
            "reserved": [[r.attribute, r.value, r.seats] for r in self.reserved],
            "ties": list(self.ties),
        }


@dataclass(frozen=True)
class Submission:
    """A trainee's final submission of an assessment: points scored, late penalty share (0..1,
    from deadlines.lateness) and the server time it was made."""

    score: float
    penalty: float = 0.0
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class Candidate:
    """One trainee as selection sees them; `attributes` feed reserved seats (e.g. major)."""

    trainee: str
    cohort: str
    track: str
    submissions: Mapping[str, Submission] = field(default_factory=dict)
    inputs: Mapping[str, float] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)


def late_submission(
    score: float, policy: LatePolicy, due: datetime, submitted_at: datetime
) -> Submission:
    """A Submission whose penalty is the assessment's late policy applied to server times."""
    return Submission(score, lateness(policy, due, submitted_at).penalty, submitted_at)


class Part(NamedTuple):
    """One component of one trainee's total."""

    component: str
    kind: str
    submitted: bool
    raw: float | None  # points scored (assessment) or the value (input); None when missing
    penalty: float | None  # late penalty share 0..1 (assessments)
    percent: float | None  # percent of points after the penalty (inputs: the value)
    normalised: float
    weight: float
    contribution: float


class Sheet:
    """The candidates of one selection as tables: one row per trainee (sorted by trainee id), one
    column per policy component. `select` works on a Sheet; build it from Candidates
    (`Sheet.of`), or straight from columns when the inputs are already tabular (the database
    reader builds 10,000 x 30 this way without making 300,000 Submission objects).

    `present[i, j]`: trainee i has component j (a graded submission, an input value); `raw`: the
    points scored or the value; `penalty`: the late penalty share (0..1, assessments);
    `final_at`: POSIX time of the trainee's last submission among the components that apply to
    their track (inf when none). Columns that do not apply to a trainee's track
    (`Component.tracks`) count as absent whatever is given. The arrays are never changed.
    """

    def __init__(
        self,
        components: tuple[Component, ...],
        trainees: Sequence[str],
        cohorts: Sequence[str],
        tracks: Sequence[str],
        attributes: Sequence[Mapping[str, str]],
        present: npt.ArrayLike,
        raw: npt.ArrayLike,
        penalty: npt.ArrayLike,
        final_at: npt.ArrayLike,
    ) -> None:
        n, m = len(trainees), len(components)
        columns = (cohorts, tracks, attributes)
        if any(len(c) != n for c in columns):
            raise ValueError("trainees, cohorts, tracks and attributes differ in length")
        pr = np.asarray(present, dtype=bool).reshape(n, m)
        rw = np.asarray(raw, dtype=np.float64).reshape(n, m)
        pe = np.asarray(penalty, dtype=np.float64).reshape(n, m)
        fa = np.asarray(final_at, dtype=np.float64).reshape(n)
        order = sorted(range(n), key=trainees.__getitem__)
        if order != list(range(n)):
            idx = np.array(order, dtype=np.intp)
            trainees, cohorts = [trainees[i] for i in order], [cohorts[i] for i in order]
            tracks, attributes = [tracks[i] for i in order], [attributes[i] for i in order]
            pr, rw, pe, fa = pr[idx], rw[idx], pe[idx], fa[idx]
        for a, b in zip(trainees, trainees[1:], strict=False):
            if a == b:
                raise ValueError(f"trainee {a!r} appears twice")
        self.components = components
        self.trainees: tuple[str, ...] = tuple(trainees)
        self.cohorts: tuple[str, ...] = tuple(cohorts)
        self.tracks: tuple[str, ...] = tuple(tracks)
        self.attributes: tuple[Mapping[str, str], ...] = tuple(attributes)
        applies = np.zeros((n, m), dtype=bool)
        track_arr = np.array(self.tracks, dtype=object)
        for track in set(self.tracks):
            cols = [j for j, c in enumerate(components) if c.applies_to(track)]
            applies[np.ix_(track_arr == track, np.array(cols, dtype=np.intp))] = True
        self.applies: Bools = applies
        self.present: Bools = pr & applies
        self.raw: Floats = np.where(self.present, rw, 0.0)
        self.penalty: Floats = np.where(self.present, pe, 0.0)
        self.final_at: Floats = fa
        for x in (self.applies, self.present, self.raw, self.penalty, self.final_at):
            x.flags.writeable = False
        kinds = np.array([c.kind == "assessment" for c in components], dtype=bool)
        bad = self.present & ~(np.isfinite(rw) & (pe >= 0) & (pe <= 1))
        bad |= self.present & (rw < 0) & kinds
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise ValueError(
                f"{self.trainees[i]}: {components[j].id}: score {rw[i, j]!r}, penalty "
                f"{pe[i, j]!r} (scores must be finite and >= 0, penalties between 0 and 1)"
            )

    def __len__(self) -> int:
        return len(self.trainees)

    @classmethod
    def of(cls, components: tuple[Component, ...], candidates: Iterable[Candidate]) -> Sheet:
        """The Sheet of `candidates` (any order; ValueError for a trainee given twice).

        Written for speed (with Candidates this loop is most of a selection's cost): per trainee
        one list comprehension over the assessment columns (None keys where a column does not
        apply to the track; dict.get answers None) and one over the input columns, then numpy.
        """
        cands = list(candidates)
        n, m = len(cands), len(components)
        a_cols = [j for j, c in enumerate(components) if c.kind == "assessment"]
        i_cols = [j for j, c in enumerate(components) if c.kind == "input"]
        keys: dict[str, tuple[list[str | None], list[str | None]]] = {}
        got: list[Submission | None] = []
        values: list[float | None] = []
        final_at: list[float] = []
        for c in cands:
            k = keys.get(c.track)
            if k is None:
                a_keys = [
                    components[j].id if components[j].applies_to(c.track) else None for j in a_cols
                ]
                i_keys = [
                    components[j].id if components[j].applies_to(c.track) else None for j in i_cols
                ]
                k = keys[c.track] = (a_keys, i_keys)
            subs, inputs = c.submissions, c.inputs
            row = [subs.get(key) for key in k[0]]  # type: ignore[arg-type]
            got += row
            values += [inputs.get(key) for key in k[1]]  # type: ignore[arg-type]
            times = [s.submitted_at for s in row if s is not None and s.submitted_at is not None]
            final_at.append(_timestamp(max(times)) if times else math.inf)
        present, raw, penalty = (np.zeros((n, m), dtype=bool), np.zeros((n, m)), np.zeros((n, m)))
        if a_cols:
            shape = (n, len(a_cols))
            present[:, a_cols] = np.array([s is not None for s in got], dtype=bool).reshape(shape)
            raw[:, a_cols] = np.array([0.0 if s is None else s.score for s in got]).reshape(shape)
            pen = np.array([0.0 if s is None else s.penalty for s in got], dtype=np.float64)
            penalty[:, a_cols] = pen.reshape(shape)
        if i_cols:
            shape = (n, len(i_cols))
            present[:, i_cols] = np.array([v is not None for v in values], dtype=bool).reshape(
                shape
            )
            raw[:, i_cols] = np.array([0.0 if v is None else v for v in values]).reshape(shape)
        return cls(
            components,
            [c.trainee for c in cands],
            [c.cohort for c in cands],
            [c.track for c in cands],
            [c.attributes for c in cands],
            present,
            raw,
            penalty,
            final_at,
        )


class _Tables:
    """One decision's score tables: the Sheet's inputs and what `_score` derives from them."""

    def __init__(self, sheet: Sheet) -> None:
        n, m = len(sheet), len(sheet.components)
        self.components = sheet.components
        self.applies, self.present = sheet.applies, sheet.present
        self.raw, self.penalty, self.final_at = sheet.raw, sheet.penalty, sheet.final_at
        self.percent: Floats = np.zeros((n, m))
        self.normalised: Floats = np.zeros((n, m))
        self.contribution: Floats = np.zeros((n, m))

    def parts(self, i: int) -> tuple[Part, ...]:
        """Row `i` as Parts (built on demand: 300,000 Parts cost more than the whole ranking)."""
        tables = (self.applies, self.present, self.raw, self.penalty, self.percent)
        a, pr, rw, pe, pc = (t[i].tolist() for t in tables)
        no, co = self.normalised[i].tolist(), self.contribution[i].tolist()
        return tuple(
            Part(
                c.id,
                c.kind,
                pr[j],
                rw[j] if pr[j] else None,
                pe[j] if pr[j] and c.kind == "assessment" else None,
                pc[j] if pr[j] else None,
                no[j],
                c.weight,
                co[j],
            )
            for j, c in enumerate(self.components)
            if a[j]
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything a trainee (and an auditor) needs to see about one trainee's selection."""

    trainee: str
    cohort: str
    track: str
    pool: str
    rank: int  # 1-based, in the pool's order (eligible first)
    total: float
    eligible: bool
    reasons: tuple[str, ...]  # why not eligible (Korean / English); empty when eligible
    selected: bool
    basis: Basis  # merit | reserved (selected) · capacity | ineligible (not selected)
    why: str  # Korean / English
    cutoff: float | None  # the pool's cutoff: lowest total selected on merit (else at all)
    gap: float | None  # total - cutoff
    groups: tuple[str, ...]  # reserved groups the trainee belongs to
    attributes: Mapping[str, str]
    _tables: _Tables = field(compare=False, repr=False)
    _row: int = field(compare=False, repr=False)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The breakdown: one Part per component that applies to the trainee's track."""
        return self._tables.parts(self._row)


@dataclass(frozen=True)
class PoolResult:
    """One pool's summary; `reserved` is (group, seats reserved, members selected)."""

    name: str
    size: int
    eligible: int
    seats: int
    selected: int
    cutoff: float | None
    reserved: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Decision:
    """The ranked decision for one policy and one set of candidates."""

    policy: SelectionPolicy
    outcomes: tuple[Outcome, ...]  # by pool name, then rank
    pools: tuple[PoolResult, ...]
    inputs_hash: str
    _index: Mapping[str, int] = field(compare=False, repr=False)

    def outcome(self, trainee: str) -> Outcome:
        """The outcome of `trainee` (KeyError if they were not a candidate)."""
        return self.outcomes[self._index[trainee]]

    @property
    def selected(self) -> tuple[Outcome, ...]:
        """The selected trainees' outcomes, by pool and rank."""
        return tuple(o for o in self.outcomes if o.selected)


def pool_name(policy: SelectionPolicy, cohort: str, track: str) -> str:
    """`cohort` or `cohort/track`: the pool a trainee competes in."""
    return cohort if policy.pool == "cohort" else f"{cohort}/{track}"


def check_policy(policy: SelectionPolicy) -> None:
    """ValueError if the policy is inconsistent (curriculum parsing reports these with lines)."""
    ids = [c.id for c in policy.components]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate component ids in {ids}")
    for c in policy.components:
        if not (math.isfinite(c.weight) and c.weight >= 0):
            raise ValueError(f"{c.id}: weight must be a finite number >= 0")
        if c.kind == "assessment" and not c.points > 0:
            raise ValueError(f"{c.id}: points must be > 0")
    for tie in policy.ties:
        kind, _, ref = tie.partition(":")
        wanted = {"score": "assessment", "input": "input"}.get(kind)
        if tie not in (TIE_TRAINEE, TIE_FINAL_SUBMISSION) and not any(
            c.id == ref and c.kind == wanted for c in policy.components
        ):
            raise ValueError(f"tie-breaker {tie!r} names no {wanted or 'known'} component")
    cap = policy.capacity
    if (cap.top_n is None) == (cap.top_percent is None):
        raise ValueError("capacity needs exactly one of top_n and top_percent")
    if min([cap.top_n or 0] + [n for _, n in cap.overrides]) < 0 or not (
        cap.top_percent is None or 0 < cap.top_percent <= 100
    ):
        raise ValueError(f"capacity out of range: {cap}")
    labels = [r.label for r in policy.reserved]
    if len(set(labels)) != len(labels) or any(r.seats < 0 for r in policy.reserved):
        raise ValueError(f"reserved seats must be distinct groups with seats >= 0: {labels}")


def select(policy: SelectionPolicy, candidates: Iterable[Candidate] | Sheet) -> Decision:
    """Rank, check and select every candidate under `policy` (rules: the module docstring).

    `candidates`: Candidates in any order, or their Sheet (whose components must be the
    policy's). ValueError for bad inputs (duplicate trainee, negative or non-finite score,
    penalty outside 0..1); SelectionError when reserved seats cannot be met. Independent of the
    input order.
    """
    check_policy(policy)
    sheet = _sheet(policy, candidates)
    n = len(sheet)
    names = [pool_name(policy, co, tr) for co, tr in zip(sheet.cohorts, sheet.tracks, strict=True)]
    key_of = {
        p: tr if policy.pool == "track" else co
        for p, co, tr in zip(names, sheet.cohorts, sheet.tracks, strict=True)
    }
    pools = sorted(key_of)
    pool_of = {p: i for i, p in enumerate(pools)}
    pool_idx = np.array([pool_of[p] for p in names], dtype=np.int64)

    t = _Tables(sheet)
    total, missing, low, low_total = _score(policy, t, pool_idx, len(pools))
    eligible = ~(missing.any(axis=1) | low.any(axis=1) | low_total)
    order = _order(policy, t, total, eligible, pool_idx)

    reserved = policy.reserved
    members = np.zeros((n, len(reserved)), dtype=bool)
    for r, res in enumerate(reserved):
        members[:, r] = [a.get(res.attribute) == res.value for a in sheet.attributes]
    type_of = (members.astype(np.int64) << np.arange(len(reserved))).sum(axis=1).tolist()

    sel = [False] * n
    totals = total.tolist()
    basis: list[Basis] = ["ineligible"] * n
    rank = np.zeros(n, dtype=np.int64)
    cutoff: list[float | None] = [None] * len(pools)
    seats_of: list[int] = []
    results: list[PoolResult] = []
    problems: list[str] = []
    bounds = np.searchsorted(pool_idx[order], np.arange(len(pools) + 1))
    for p, name in enumerate(pools):
        seg = order[bounds[p] : bounds[p + 1]]
        rank[seg] = np.arange(1, len(seg) + 1)
        elig = seg[eligible[seg]].tolist()
        seats = policy.capacity.seats(key_of[name], len(seg))
        seats_of.append(seats)
        if reserved:
            try:
                taken = _reserved_selection([type_of[i] for i in elig], reserved, seats, name)
            except SelectionError as e:
                problems += e.problems
                continue
        else:
            taken = [k < seats for k in range(len(elig))]
        merit = True
        for i, took in zip(elig, taken, strict=True):
            merit = merit and took
            sel[i] = took
            basis[i] = ("merit" if merit else "reserved") if took else "capacity"
        chosen = [totals[i] for i in elig if sel[i]]
        on_merit = [totals[i] for i in elig if basis[i] == "merit"]
        cutoff[p] = min(on_merit or chosen) if chosen else None
        met = tuple(
            (res.label, res.seats, sum(sel[i] for i in elig if type_of[i] >> r & 1))
            for r, res in enumerate(reserved)
        )
        results.append(PoolResult(name, len(seg), len(elig), seats, len(chosen), cutoff[p], met))
    if problems:
        raise SelectionError(problems)

    ranks, pools_of, elig_of = rank.tolist(), pool_idx.tolist(), eligible.tolist()
    reasons = _reasons(policy, t, totals, missing, low, low_total)
    labels = [r.label for r in reserved]
    groups_of = {
        ty: tuple(lab for r, lab in enumerate(labels) if ty >> r & 1) for ty in set(type_of)
    }
    outcomes = []
    for i in order.tolist():
        p, tot = pools_of[i], totals[i]
        cut = cutoff[p]
        gap = None if cut is None else round(tot - cut, 6)
        groups = groups_of[type_of[i]]
        why = _why(policy, basis[i], ranks[i], seats_of[p], cut, gap, groups)
        outcomes.append(
            Outcome(
                sheet.trainees[i],
                sheet.cohorts[i],
                sheet.tracks[i],
                names[i],
                ranks[i],
                tot,
                elig_of[i],
                reasons.get(i, ()),
                sel[i],
                basis[i],
                why,
                cut,
                gap,
                groups,
                sheet.attributes[i],
                t,
                i,
            )  # fmt: skip
        )
    return Decision(
        policy,
        tuple(outcomes),
        tuple(results),
        _hash(policy, sheet),
        {o.trainee: k for k, o in enumerate(outcomes)},
    )


def _sheet(policy: SelectionPolicy, candidates: Iterable[Candidate] | Sheet) -> Sheet:
    if not isinstance(candidates, Sheet):
        return Sheet.of(policy.components, candidates)
    if candidates.components != policy.components:
        raise ValueError("the sheet's components are not the policy's")
    return candidates


def _timestamp(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _score(
    policy: SelectionPolicy, t: _Tables, pool_idx: npt.NDArray[np.int64], k: int
) -> tuple[Floats, Bools, Bools, Bools]:
    """Fill percent / normalised / contribution; return total and why trainees are ineligible
    (missing required component, below a component's minimum, below the minimum total)."""
    comps, n = policy.components, len(pool_idx)
    points = np.array([c.points if c.kind == "assessment" else 100.0 for c in comps])
    t.percent = np.where(t.present, t.raw * (1.0 - t.penalty) * 100.0 / points, 0.0)
    t.normalised = np.where(t.applies, t.percent, 0.0)
    for j, c in enumerate(comps):
        if c.normalise == "zscore":
            w = t.applies[:, j].astype(np.float64)
            count = np.maximum(np.bincount(pool_idx, weights=w, minlength=k), 1.0)
            mean = np.bincount(pool_idx, weights=t.percent[:, j] * w, minlength=k) / count
            dev = (t.percent[:, j] - mean[pool_idx]) * w
            std = np.sqrt(np.bincount(pool_idx, weights=dev * dev, minlength=k) / count)[pool_idx]
            t.normalised[:, j] = np.divide(dev, std, out=np.zeros(n), where=std > 1e-12)
    t.contribution = t.normalised * np.array([c.weight for c in comps], dtype=np.float64)
    total: Floats = np.round(t.contribution.sum(axis=1), 6)
    minimum = np.array([-np.inf if c.minimum is None else c.minimum for c in comps])
    missing = t.applies & ~t.present & np.array([c.required for c in comps], dtype=bool)
    low = t.applies & (t.percent < minimum) & ~missing
    low_total = total < (-np.inf if policy.min_total is None else policy.min_total)
    return total, missing, low, low_total


def _order(
    policy: SelectionPolicy,
    t: _Tables,
    total: Floats,
    eligible: Bools,
    pool_idx: npt.NDArray[np.int64],
) -> npt.NDArray[np.intp]:
    """Indices by pool, eligible first, higher total, the tie chain, trainee id."""
    keys: list[npt.NDArray[Any]] = [np.arange(len(total))]  # rows are sorted by trainee id
    for tie in reversed(policy.ties):
        kind, _, ref = tie.partition(":")
        if tie == TIE_FINAL_SUBMISSION:
            keys.append(t.final_at)
        elif kind in ("score", "input"):
            j = next(i for i, c in enumerate(policy.components) if c.id == ref)
            have = t.applies[:, j] & t.present[:, j]
            keys.append(np.where(have, -t.percent[:, j], np.inf))
    keys += [-total, ~eligible, pool_idx]
    order: npt.NDArray[np.intp] = np.lexsort(keys)
    return order


def _reserved_selection(
    types: Sequence[int], reserved: Sequence[Reservation], seats: int, pool: str
) -> list[bool]:
    """Which of a pool's eligible trainees (in rank order; bit r of `types[i]`: member of
    reservation r) are selected: the lexicographically best set in rank order with at most
    `seats` members meeting every reservation.

    Exactness: by definition that set takes trainee x iff the decisions so far plus x can be
    completed to a set meeting every reservation. Trainees of one membership type are
    interchangeable for the constraints, so the test is an integer programme over counts per type
    (`_oracle`, milp). A witness completion is kept, so x is taken without a call when the witness
    has a trainee of x's type or a spare seat. A type that fails the test is blocked for good: a
    later completion with one more of it would also complete the earlier state, a contradiction.
    So there are at most about two solver calls per type.
    """
    avail: dict[int, int] = {}
    for ty in types:
        avail[ty] = avail.get(ty, 0) + 1
    deficit = [r.seats for r in reserved]
    witness = _oracle(avail, seats, deficit, None)
    if witness is None:
        raise SelectionError(_why_infeasible(types, reserved, seats, pool))
    blocked: set[int] = set()
    taken: list[bool] = []
    left = seats
    for ty in types:
        ok = False
        if left > 0 and ty not in blocked:
            if witness.get(ty, 0) >= 1:
                witness[ty] -= 1
                ok = True
            elif sum(witness.values()) < left:
                ok = True  # the witness plus x still fits and meets every reservation
            else:
                again = _oracle(avail, left, deficit, ty)
                if again is None:
                    blocked.add(ty)
                else:
                    witness, ok = again, True
                    witness[ty] -= 1
        avail[ty] -= 1
        if ok:
            left -= 1
            deficit = [d - (ty >> r & 1) for r, d in enumerate(deficit)]
        taken.append(ok)
    return taken


def _oracle(
    avail: Mapping[int, int], seats: int, deficit: Sequence[int], force: int | None
) -> dict[int, int] | None:
    """Counts per type: at most `avail`, at most `seats` in all, at least `deficit[r]` members of
    reservation r, at least one of type `force`; maximising the forced type, then the total. None
    when no such counts exist."""
    from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]

    types = [ty for ty, a in sorted(avail.items()) if a > 0]
    need = [(r, d) for r, d in enumerate(deficit) if d > 0]
    if force is not None and force not in types:
        return None
    if not types:
        return {} if not need else None
    big = float(sum(avail.values()) + 1)  # counts are integers below `big`: exact in float64
    rows = [[1.0] * len(types)] + [[float(ty >> r & 1) for ty in types] for r, _ in need]
    res = milp(
        np.array([-(big if ty == force else 1.0) for ty in types]),
        integrality=np.ones(len(types)),
        bounds=Bounds([float(ty == force) for ty in types], [float(avail[ty]) for ty in types]),
        constraints=LinearConstraint(
            np.array(rows), [-np.inf] + [float(d) for _, d in need], [seats] + [np.inf] * len(need)
        ),
    )
    if res.status == 2:  # infeasible
        return None
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"milp failed: {res.message}")
    counts = {ty: int(round(v)) for ty, v in zip(types, res.x, strict=True)}
    ok = sum(counts.values()) <= seats and all(0 <= counts[ty] <= avail[ty] for ty in types)
    if not (ok and all(sum(k for ty, k in counts.items() if ty >> r & 1) >= d for r, d in need)):
        raise RuntimeError(f"milp returned counts that break the constraints: {counts}")
    return counts


def _why_infeasible(
    types: Sequence[int], reserved: Sequence[Reservation], seats: int, pool: str
) -> list[str]:
    out = []
    for r, res in enumerate(reserved):
        have = sum(ty >> r & 1 for ty in types)
        if have < res.seats:
            out.append(
                f"{pool}: {res.label}: 할당 {res.seats}석, 자격을 갖춘 해당자 {have}명 / "
                f"{res.seats} seats reserved for {res.label} but only {have} eligible trainee(s)"
            )
    if not out:
        held = ", ".join(f"{r.label} ({r.seats})" for r in reserved)
        out.append(
            f"{pool}: 할당석({held})을 정원 {seats}명 안에서 모두 채울 수 없음 / "
            f"the reserved seats ({held}) cannot all be met within the pool's {seats} seats"
        )
    return out


def _reasons(
    policy: SelectionPolicy,
    t: _Tables,
    totals: Sequence[float],
    missing: Bools,
    low: Bools,
    low_total: Bools,
) -> dict[int, tuple[str, ...]]:
    """Why each ineligible trainee (by row) is not eligible, Korean / English."""
    out: dict[int, list[str]] = {}
    rows, cols = np.nonzero(missing | low)
    absent = missing[rows, cols].tolist()
    values = t.percent[rows, cols].tolist()
    for i, j, gone, v in zip(rows.tolist(), cols.tolist(), absent, values, strict=True):
        c = policy.components[j]
        if gone:
            text = (
                f"미제출: {c.id} / not submitted: {c.id}"
                if c.kind == "assessment"
                else f"{c.id} 값 없음 / no {c.id} value"
            )
        else:
            unit = "%" if c.kind == "assessment" else ""
            x, lo = f"{v:.2f}{unit}", f"{c.minimum:g}{unit}"
            text = f"{c.id} {x} < 최소 {lo} / {c.id} {x} is below the minimum {lo}"
        out.setdefault(i, []).append(text)
    for i in np.flatnonzero(low_total).tolist():
        out.setdefault(i, []).append(
            f"총점 {totals[i]:.2f} < 최소 {policy.min_total:g} / "
            f"total {totals[i]:.2f} is below the minimum {policy.min_total:g}"
        )
    return {i: tuple(r) for i, r in out.items()}


def _why(
    policy: SelectionPolicy,
    basis: Basis,
    rank: int,
    seats: int,
    cutoff: float | None,
    gap: float | None,
    groups: tuple[str, ...],
) -> str:
    if basis == "ineligible":
        return "미선발: 자격 미달 / not selected: not eligible"
    if basis == "merit":
        return f"선발: {rank}위, 정원 {seats}명 / selected: rank {rank}, {seats} seats"
    if basis == "reserved":
        g = ", ".join(groups)
        return f"선발: 할당석({g}), {rank}위 / selected on a seat reserved for {g} (rank {rank})"
    if cutoff is None or gap is None:
        return f"미선발: 정원 {seats}명 / not selected: {seats} seats"
    if gap < 0:
        return (
            f"미선발: {rank}위, 정원 {seats}명, 기준 점수 {cutoff:.2f}보다 {-gap:.2f}점 낮음 / "
            f"not selected: rank {rank}, {seats} seats, {-gap:.2f} below the cutoff {cutoff:.2f}"
        )
    if gap == 0:
        ties = ", ".join(policy.ties)
        return (
            f"미선발: 기준 점수와 동점, 동점 규칙({ties})에 따라 {rank}위 / not selected: tied "
            f"with the cutoff {cutoff:.2f}, ranked {rank} by the tie rule ({ties})"
        )
    held = ", ".join(f"{r.label} ({r.seats})" for r in policy.reserved)
    return (
        f"미선발: {rank}위, 남은 자리는 할당석({held}) / not selected: rank {rank}, the remaining "
        f"seats were reserved for {held}"
    )


def inputs_hash(policy: SelectionPolicy, candidates: Iterable[Candidate] | Sheet) -> str:
    """The decision hash of `policy` and `candidates` (what `select` puts in Decision.inputs_hash).

    SHA-256 of a canonical JSON (sorted keys, no spaces, UTF-8): the policy (`as_dict`); trainees
    sorted by id with cohort, track, the attributes reserved seats name and the POSIX time of their
    last submission; and the trainee x component tables (components in policy order) of presence,
    score or value and penalty, each as the SHA-256 of its float64 little-endian row-major bytes
    (missing = 0.0) - exact, and 30x faster than 600,000 floats as decimal text. Submissions of
    assessments the policy does not name and attributes it does not use cannot change the
    decision and are left out.
    """
    check_policy(policy)
    return _hash(policy, _sheet(policy, candidates))


def _hash(policy: SelectionPolicy, t: Sheet) -> str:
    attrs = sorted({r.attribute for r in policy.reserved})

    def table(x: npt.NDArray[Any]) -> str:
        data = np.where(t.present, x, 0.0).astype("<f8") + 0.0  # + 0.0: -0.0 becomes 0.0
        return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()

    body = {
        "format": HASH_FORMAT,
        "policy": policy.as_dict(),
        "trainees": [
            [name, co, tr, [at.get(a) for a in attrs]]
            for name, co, tr, at in zip(t.trainees, t.cohorts, t.tracks, t.attributes, strict=True)
        ],
        "final_submission": [None if math.isinf(x) else x for x in t.final_at.tolist()],
        "tables": {
            "shape": list(t.present.shape),
            "present": table(t.present.astype(np.float64)),
            "score": table(t.raw),
            "penalty": table(t.penalty),
        },
    }  # fmt: skip
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def decision_rows(decision: Decision) -> list[dict[str, Cell]]:
    """One plain row per trainee (same keys in the same order) for CSV / XLSX exports: the
    outcome, then per policy component `<id>:raw|penalty|percent|normalised|weight|contribution`
    (None where the component does not apply)."""
    rows: list[dict[str, Cell]] = []
    fields = ("raw", "penalty", "percent", "normalised", "weight", "contribution")
    for o in decision.outcomes:
        row: dict[str, Cell] = {
            "pool": o.pool,
            "rank": o.rank,
            "trainee": o.trainee,
            "cohort": o.cohort,
            "track": o.track,
            "total": o.total,
            "eligible": o.eligible,
            "selected": o.selected,
            "basis": o.basis,
            "cutoff": o.cutoff,
            "gap": o.gap,
            "groups": "; ".join(o.groups),
            "reasons": "; ".join(o.reasons),
            "why": o.why,
        }
        parts = {p.component: p for p in o.parts}
        for c in decision.policy.components:
            p = parts.get(c.id)
            row.update({f"{c.id}:{f}": getattr(p, f) if p else None for f in fields})
        rows.append(row)
    return rows
