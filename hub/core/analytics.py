"""Analytics for instructors, as plain numbers: an assessment's score distribution, each
question's mean and discrimination, submissions over time against the deadline; a cohort's stage
funnel and the trainees at risk, with why.

Pure: the workflow (hub/analytics.py) reads the facts from the database in a few aggregate
queries and hands them here as plain values; the pages (handlers/analytics.py) draw what these
functions return. Times are aware datetimes (UTC or any zone); buckets of time are cut in the
cohort's time zone.

Definitions:

- final percent: a result's final score (after the late penalty) over its maximum, in percent;
- histogram: bins of `width` percent, [lo, hi) except the last, which holds 100 (percents
  outside 0..100 go to the first or last bin);
- discrimination of a question: the trainees ordered by their total (raw points of the
  assessment), the upper and lower groups are the top and bottom 27% (rounded, at least one
  trainee each, needs two trainees); (mean points of the question in the upper group - mean in
  the lower group) / the question's maximum, from -1 to 1;
- timeline: cumulative submissions per hour (the span up to 72 hours) or per day, on time and
  late (after the trainee's due instant, extensions counted) apart;
- funnel: the trainees of a cohort who reached each stage (their current stage is that stage or
  a later one);
- at risk: a trainee of a cohort with at least one of these reasons: `missed` an assessment of
  their current stage (its due instant, their extension counted, has passed and they never
  submitted), `failed` (the latest submission's grading failed), `low` (their mean percent over
  the graded assessments of their stage is in the bottom 20% of the cohort's trainees in that
  stage, counted when at least LOW_MIN_GROUP trainees have one), `inactive` (no server activity
  for `inactive_days` days, or never; only when the hub told us).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

GROUP_SHARE = 0.27  # upper and lower groups of the discrimination index
LOW_SHARE = 0.20  # the bottom group of a stage's mean percent
LOW_MIN_GROUP = 5  # fewer ranked trainees than this: nobody is "low" (20% of 3 says nothing)
HOURLY_SPAN = timedelta(hours=72)  # a longer timeline is drawn per day
MAX_BUCKETS = 400  # a timeline longer than this many days starts at the last MAX_BUCKETS days


# --- the score distribution ----------------------------------------------------------------


@dataclass(frozen=True)
class Bin:
    """One bar of the histogram: percents from `lo` to `hi` (`hi` included in the last bin)."""

    lo: float
    hi: float
    count: int


def percent(score: float, maximum: float) -> float | None:
    """`score` of `maximum` in percent (None when the maximum is not positive)."""
    return 100.0 * score / maximum if maximum > 0 else None


def histogram(percents: Sequence[float], width: float = 10.0) -> list[Bin]:
    """The distribution of final percents in bins of `width` (see the module docstring)."""
    if width <= 0 or 100.0 % width:
        raise ValueError(f"bin width must divide 100, not {width}")
    n = round(100.0 / width)
    counts = [0] * n
    for p in percents:
        counts[min(n - 1, max(0, math.floor(p / width)))] += 1
    return [Bin(k * width, (k + 1) * width, c) for k, c in enumerate(counts)]


def summary(percents: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, median, lowest and highest of the percents (None when there are none)."""
    if not percents:
        return {"count": 0, "mean": None, "median": None, "min": None, "max": None}
    ordered = sorted(percents)
    n = len(ordered)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {
        "count": n,
        "mean": sum(ordered) / n,
        "median": median,
        "min": ordered[0],
        "max": ordered[-1],
    }


# --- questions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """One trainee's graded submission: points per question (a question missing scores 0)."""

    key: str | int  # who (breaks ties in the order of totals, so groups are reproducible)
    points: Mapping[str, float]

    def total(self) -> float:
        """The raw points of the whole submission."""
        return sum(self.points.values())


@dataclass(frozen=True)
class QuestionStat:
    """Mean points and discrimination of one question."""

    question: str
    max_points: float
    n: int
    mean: float | None
    mean_share: float | None  # mean / max_points, 0..1
    discrimination: float | None  # -1..1, None with fewer than two trainees or no maximum
    upper_mean: float | None
    lower_mean: float | None


def group_size(n: int, share: float = GROUP_SHARE) -> int:
    """How many trainees the upper (and the lower) group holds out of `n`: `share` of them
    rounded half up, at least one; 0 when there are fewer than two."""
    if n < 2:
        return 0
    return min(n // 2, max(1, math.floor(share * n + 0.5)))


def questions(sheets: Sequence[Sheet], maxima: Mapping[str, float]) -> list[QuestionStat]:
    """Each question of `maxima` (in its order): mean points over `sheets` and the
    discrimination index between the upper and lower groups by total."""
    ordered = sorted(sheets, key=lambda x: (-x.total(), str(x.key)))
    g = group_size(len(ordered))
    upper, lower = ordered[:g], ordered[len(ordered) - g :] if g else []
    out = []
    for q, top in maxima.items():
        mean = _mean([x.points.get(q, 0.0) for x in ordered])
        up = _mean([x.points.get(q, 0.0) for x in upper])
        low = _mean([x.points.get(q, 0.0) for x in lower])
        out.append(
            QuestionStat(
                question=q,
                max_points=top,
                n=len(ordered),
                mean=mean,
                mean_share=mean / top if mean is not None and top > 0 else None,
                discrimination=(
                    (up - low) / top if up is not None and low is not None and top > 0 else None
                ),
                upper_mean=up,
                lower_mean=low,
            )
        )
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# --- submissions over time -----------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One bucket of the timeline: its local start, and the submissions up to its end."""

    start: datetime
    on_time: int  # cumulative
    late: int  # cumulative
    new_on_time: int
    new_late: int


@dataclass(frozen=True)
class Timeline:
    """Cumulative submissions per `unit` ('hour' or 'day') and where the due instant falls:
    `due_index` is the bucket holding it (fractional: how far into it), None outside."""

    unit: str
    points: list[Point]
    due: datetime
    due_index: float | None
    cut: int = 0  # submissions before the first bucket shown (a very long timeline)


def _floor(t: datetime, unit: str) -> datetime:
    t = t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if unit == "day" else t


def _next(t: datetime, unit: str, zone: ZoneInfo) -> datetime:
    if unit == "hour":  # an hour of elapsed time (a DST change shifts the local label)
        return (t.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    return t + timedelta(days=1)  # wall-clock arithmetic: the next local midnight


def timeline(
    submitted: Sequence[tuple[datetime, bool]], due: datetime, zone: str = "UTC"
) -> Timeline:
    """Cumulative submissions (`(server time, late)` each) per hour or day in `zone`, from the
    first submission (or the due instant, if earlier) to the last (or the due instant)."""
    tz = ZoneInfo(zone)
    due_l = due.astimezone(tz)
    times = sorted((t.astimezone(tz), late) for t, late in submitted)
    first = min([due_l, *(t for t, _ in times[:1])])
    last = max([due_l, *(t for t, _ in times[-1:])])
    unit = "hour" if last - first <= HOURLY_SPAN else "day"
    starts = [_floor(first, unit)]
    while starts[-1] <= last and len(starts) <= 100_000:
        starts.append(_next(starts[-1], unit, tz))
    cut_before = starts[-MAX_BUCKETS - 1] if len(starts) > MAX_BUCKETS + 1 else None
    if cut_before is not None:
        starts = starts[-MAX_BUCKETS - 1 :]
    points, k, on, late_n, cut = [], 0, 0, 0, 0
    while k < len(times) and cut_before is not None and times[k][0] < cut_before:
        on, late_n, cut, k = on + (not times[k][1]), late_n + times[k][1], cut + 1, k + 1
    for start, end in zip(starts, starts[1:], strict=False):
        new_on = new_late = 0
        while k < len(times) and times[k][0] < end:
            if times[k][1]:
                new_late += 1
            else:
                new_on += 1
            k += 1
        on, late_n = on + new_on, late_n + new_late
        points.append(Point(start, on, late_n, new_on, new_late))
    due_index = None
    for i, (start, end) in enumerate(zip(starts, starts[1:], strict=False)):
        if start <= due_l < end:
            due_index = i + (due_l - start) / (end - start)
            break
    return Timeline(unit, points, due_l, due_index, cut)


# --- the cohort: funnel -----------------------------------------------------------------------


@dataclass(frozen=True)
class StageStep:
    """One stage of the funnel: how many trainees reached it, in all and per track."""

    stage: str
    position: int
    reached: int
    by_track: dict[str, int]
    of_previous: float | None  # reached / the previous step's reached
    of_enrolled: float | None  # reached / the first step's reached


def funnel(
    stages: Sequence[tuple[str, int]], trainees: Sequence[tuple[str, int]]
) -> list[StageStep]:
    """The stages (slug, position) in order with how many trainees, given as (track, position
    of their current stage), reached each; the first stage counts everybody enrolled."""
    ordered = sorted(stages, key=lambda x: x[1])
    tracks = sorted({t for t, _ in trainees})
    steps: list[StageStep] = []
    for k, (slug, position) in enumerate(ordered):
        here = [t for t, p in trainees if k == 0 or p >= position]
        by_track = {t: 0 for t in tracks}
        for t in here:
            by_track[t] += 1
        first = steps[0].reached if steps else len(here)
        before = steps[-1].reached if steps else None
        steps.append(
            StageStep(
                stage=slug,
                position=position,
                reached=len(here),
                by_track=by_track,
                of_previous=len(here) / before if before else None,
                of_enrolled=len(here) / first if first else None,
            )
        )
    return steps


# --- the cohort: trainees at risk ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One assessment of a trainee's current stage as it stands for them."""

    assessment: str
    due: datetime  # the trainee's due instant (their extension counted)
    submission: int | None  # the latest submission's id
    status: str | None  # its result's status (graded, needs-manual, failed, ...), None: waiting
    percent: float | None  # the final percent when it counts (graded or irregular)


@dataclass(frozen=True)
class Trainee:
    """What the at-risk rules look at for one trainee."""

    username: str
    track: str
    stage: str
    outcomes: Sequence[Outcome] = ()
    last_activity: datetime | None = None

    @cached_property
    def mean_percent(self) -> float | None:
        """Mean final percent over the stage's assessments that have one (a failed grading
        has none: it is a reason of its own)."""
        return _mean(
            [o.percent for o in self.outcomes if o.percent is not None and o.status != "failed"]
        )


@dataclass(frozen=True)
class Reason:
    """Why a trainee is at risk: `kind` (missed, failed, low, inactive) and its particulars."""

    kind: str
    assessment: str | None = None
    submission: int | None = None
    value: float | None = None  # low: the mean percent; inactive: days since (None: never)
    limit: float | None = None  # low: the group's cut-off percent; inactive: the days asked


@dataclass(frozen=True)
class AtRisk:
    """One trainee at risk with every reason that applies."""

    username: str
    track: str
    stage: str
    mean_percent: float | None
    reasons: list[Reason] = field(default_factory=list)


def low_cutoffs(trainees: Sequence[Trainee], share: float = LOW_SHARE) -> dict[str, float]:
    """Per stage, the mean percent at or below which a trainee is in the bottom `share`: the
    mean of the ceil(share * n)-th lowest of the n trainees who have one (LOW_MIN_GROUP at
    least, else the stage has no cut-off)."""
    by_stage: dict[str, list[float]] = {}
    for t in trainees:
        m = t.mean_percent
        if m is not None:
            by_stage.setdefault(t.stage, []).append(m)
    out = {}
    for stage, means in by_stage.items():
        if len(means) >= LOW_MIN_GROUP:
            means.sort()
            out[stage] = means[max(1, math.ceil(share * len(means))) - 1]
    return out


def at_risk(
    trainees: Sequence[Trainee],
    now: datetime,
    inactive_days: float = 3,
    activity_known: bool = True,
    cutoffs: Mapping[str, float] | None = None,
) -> list[AtRisk]:
    """The trainees with at least one reason (module docstring), most reasons first, then by
    username; each reason once per assessment. `cutoffs`: the stages' low cut-offs when
    `trainees` are a part of the cohort (`rank` gave them), else from `trainees`."""
    if cutoffs is None:
        cutoffs = low_cutoffs(trainees)
    limit = timedelta(days=inactive_days)
    out = []
    for t in trainees:
        reasons = []
        for o in t.outcomes:
            if o.submission is None and o.due < now:
                reasons.append(Reason("missed", o.assessment))
            elif o.status == "failed":
                reasons.append(Reason("failed", o.assessment, o.submission))
        mean = t.mean_percent
        cut = cutoffs.get(t.stage)
        if mean is not None and cut is not None and mean <= cut:
            reasons.append(Reason("low", value=mean, limit=cut))
        if activity_known:
            if t.last_activity is None:
                reasons.append(Reason("inactive", value=None, limit=inactive_days))
            elif now - t.last_activity > limit:
                days = (now - t.last_activity) / timedelta(days=1)
                reasons.append(Reason("inactive", value=days, limit=inactive_days))
        if reasons:
            out.append(AtRisk(t.username, t.track, t.stage, mean, reasons))
    out.sort(key=lambda r: (-len(r.reasons), r.username))
    return out


# --- the whole cohort in one pass: counts and order without objects per trainee --------------

KINDS = ("missed", "failed", "low", "inactive")
KIND_BIT = {k: 1 << i for i, k in enumerate(KINDS)}

# one assessment as it stands for one trainee: (their due instant, latest submission id or None,
# its result status, its final percent or None)
Fact = tuple[datetime, int | None, str | None, float | None]


def _mean_of(outcomes: Sequence[Fact]) -> float | None:
    """As Trainee.mean_percent, over plain tuples."""
    got = [p for _, _, status, p in outcomes if p is not None and status != "failed"]
    return sum(got) / len(got) if got else None


@dataclass(frozen=True)
class Ranking:
    """The trainees at risk of a whole cohort, most at risk first (as `at_risk` orders them):
    `order` holds (-number of reasons, username, bits of their reason kinds, KIND_BIT);
    `cutoffs` the stages' low cut-offs; `kinds` how many trainees have each kind."""

    order: list[tuple[int, str, int]]
    cutoffs: dict[str, float]
    kinds: dict[str, int]

    def having(self, kind: str | None) -> list[tuple[int, str, int]]:
        """The order restricted to the trainees with reason `kind` (None: all)."""
        if kind is None:
            return self.order
        bit = KIND_BIT[kind]
        return [r for r in self.order if r[2] & bit]


def rank(
    trainees: Sequence[tuple[str, str, Sequence[Fact], datetime | None]],
    now: datetime,
    inactive_days: float = 3,
    activity_known: bool = True,
) -> Ranking:
    """The same rules as `at_risk` over (username, stage, facts, last activity) tuples, counting
    the reasons instead of describing them (a cohort of 10,000 costs no object per trainee)."""
    means = [(stage, _mean_of(facts)) for _, stage, facts, _ in trainees]
    by_stage: dict[str, list[float]] = {}
    for stage, m in means:
        if m is not None:
            by_stage.setdefault(stage, []).append(m)
    cutoffs = {}
    for stage, values in by_stage.items():
        if len(values) >= LOW_MIN_GROUP:
            values.sort()
            cutoffs[stage] = values[max(1, math.ceil(LOW_SHARE * len(values))) - 1]
    limit = timedelta(days=inactive_days)
    missed, failed, low, inactive = (KIND_BIT[k] for k in KINDS)
    order = []
    kinds = dict.fromkeys(KINDS, 0)
    for (username, stage, facts, seen), (_, mean) in zip(trainees, means, strict=True):
        n = bits = 0
        for due, sid, status, _ in facts:
            if sid is None and due < now:
                n, bits = n + 1, bits | missed
            elif status == "failed":
                n, bits = n + 1, bits | failed
        cut = cutoffs.get(stage)
        if mean is not None and cut is not None and mean <= cut:
            n, bits = n + 1, bits | low
        if activity_known and (seen is None or now - seen > limit):
            n, bits = n + 1, bits | inactive
        if n:
            order.append((-n, username, bits))
            for k in KINDS:
                if bits & KIND_BIT[k]:
                    kinds[k] += 1
    order.sort()
    return Ranking(order, cutoffs, {k: v for k, v in kinds.items() if v})
