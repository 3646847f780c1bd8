"""Instructors' analytics as numbers: histogram bins, question means and discrimination (upper and
lower 27% by total), submissions over time against the deadline, the stage funnel, the reasons a
trainee is at risk, and all of it on empty data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sadari.hub.core import analytics as a

DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # 18:00 in Seoul
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# --- distribution ----------------------------------------------------------------------------


def test_histogram_bins_are_half_open_and_the_last_holds_100() -> None:
    bins = a.histogram([0, 9.99, 10, 55, 100, 100, 105, -3])
    assert [(b.lo, b.hi) for b in bins][:2] == [(0, 10), (10, 20)] and len(bins) == 10
    assert [b.count for b in bins] == [3, 1, 0, 0, 0, 1, 0, 0, 0, 3]
    assert [b.count for b in a.histogram([24.9, 25, 75, 100], width=25)] == [1, 1, 0, 2]
    with pytest.raises(ValueError, match="divide 100"):
        a.histogram([1.0], width=7)


def test_summary_and_percent() -> None:
    assert a.summary([40.0, 100.0, 70.0, 50.0]) == {
        "count": 4,
        "mean": 65.0,
        "median": 60.0,
        "min": 40.0,
        "max": 100.0,
    }
    assert a.summary([30.0, 10.0, 20.0])["median"] == 20.0
    assert a.percent(7.5, 10) == 75.0 and a.percent(1, 0) is None


# --- questions -----------------------------------------------------------------------------------

# (key, q1 of 2, q2 of 3): totals 5 5 4 3 3 3 2 2 1 0; g and h tie at 2, so by key h is in the
# lower group (h, i, j) and g is not
SHEETS = [
    ("a", 2, 3),
    ("b", 2, 3),
    ("c", 2, 2),
    ("d", 1, 2),
    ("e", 1, 2),
    ("f", 2, 1),
    ("g", 1, 1),
    ("h", 0, 2),
    ("i", 1, 0),
    ("j", 0, 0),
]


def test_discrimination_with_known_numbers() -> None:
    sheets = [a.Sheet(k, {"q1": q1, "q2": q2}) for k, q1, q2 in reversed(SHEETS)]
    q1, q2 = a.questions(sheets, {"q1": 2.0, "q2": 3.0})
    assert (q1.n, q1.mean, q1.mean_share) == (10, pytest.approx(1.2), pytest.approx(0.6))
    # upper a b c: q1 2 2 2, q2 3 3 2; lower h i j: q1 0 1 0, q2 2 0 0
    assert (q1.upper_mean, q1.lower_mean) == (2.0, pytest.approx(1 / 3))
    assert q1.discrimination == pytest.approx((2 - 1 / 3) / 2)  # 0.833
    assert (q2.upper_mean, q2.lower_mean) == (pytest.approx(8 / 3), pytest.approx(2 / 3))
    assert q2.discrimination == pytest.approx(2 / 3)
    assert q2.mean == pytest.approx(1.6)


def test_a_question_everybody_gets_right_does_not_discriminate_and_a_missing_one_scores_0() -> None:
    sheets = [a.Sheet(k, {"easy": 1.0, "hard": float(k)}) for k in range(6)]
    sheets.append(a.Sheet(99, {"hard": 5.0}))  # no "easy" cell in this one: 0 points
    easy, hard = a.questions(sheets, {"easy": 1.0, "hard": 5.0})
    assert easy.mean == pytest.approx(6 / 7)
    # 7 trainees: groups of 2; by total 5 (6), then 4 and 99 tie at 5 (key "4" first); the
    # lower group is 1 (2) and 0 (1): everybody there got "easy" right
    assert easy.discrimination == 0.0
    assert hard.discrimination == pytest.approx(((5 + 4) / 2 - (1 + 0) / 2) / 5)


@pytest.mark.parametrize(
    ("n", "size"), [(0, 0), (1, 0), (2, 1), (3, 1), (5, 1), (6, 2), (10, 3), (100, 27)]
)
def test_group_size(n: int, size: int) -> None:
    assert a.group_size(n) == size


def test_questions_on_empty_data() -> None:
    (q,) = a.questions([], {"q1": 2.0})
    assert (q.n, q.mean, q.discrimination, q.upper_mean) == (0, None, None, None)
    (one,) = a.questions([a.Sheet("x", {"q1": 2.0})], {"q1": 2.0})
    assert one.mean == 2.0 and one.discrimination is None  # one trainee tells nothing apart
    (zero,) = a.questions([a.Sheet("x", {}), a.Sheet("y", {})], {"q1": 0.0})
    assert zero.mean_share is None and zero.discrimination is None
    assert a.histogram([]) == [a.Bin(k * 10.0, k * 10.0 + 10, 0) for k in range(10)]


# --- timeline -----------------------------------------------------------------------------------


def test_timeline_per_hour_in_the_cohorts_zone_with_the_deadline() -> None:
    times = [
        (DUE - timedelta(minutes=110), False),  # 16:10 KST
        (DUE - timedelta(minutes=1), False),  # 17:59
        (DUE + timedelta(minutes=30), True),  # 18:30
        (DUE + timedelta(hours=2, minutes=5), True),  # 20:05
    ]
    line = a.timeline(times, DUE, "Asia/Seoul")
    assert line.unit == "hour"
    assert [p.start.strftime("%H:%M") for p in line.points] == [
        "16:00",
        "17:00",
        "18:00",
        "19:00",
        "20:00",
    ]
    assert [(p.on_time, p.late) for p in line.points] == [(1, 0), (2, 0), (2, 1), (2, 1), (2, 2)]
    assert [(p.new_on_time, p.new_late) for p in line.points][2] == (0, 1)
    assert line.due_index == 2.0 and line.due.utcoffset() == timedelta(hours=9)


def test_timeline_per_day_starts_at_local_midnight_across_a_dst_change() -> None:
    zone = "America/New_York"  # clocks go back on 2026-11-01
    due = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)  # 12:00 local
    times = [(datetime(2026, 10, 30, 15, tzinfo=UTC), False), (due + timedelta(days=1), True)]
    line = a.timeline(times, due, zone)
    assert line.unit == "day"
    assert [p.start.strftime("%m-%d %H") for p in line.points] == [
        "10-30 00",
        "10-31 00",
        "11-01 00",
        "11-02 00",
        "11-03 00",
    ]
    assert [(p.on_time, p.late) for p in line.points][-1] == (1, 1)
    assert line.due_index == pytest.approx(3.5)


def test_timeline_without_submissions_shows_the_deadline_alone() -> None:
    line = a.timeline([], DUE + timedelta(minutes=30), "Asia/Seoul")
    assert [(p.on_time, p.late) for p in line.points] == [(0, 0)]
    assert line.due_index == pytest.approx(0.5)


def test_a_very_long_timeline_keeps_its_last_days_and_counts_the_earlier_ones() -> None:
    early = [(DUE - timedelta(days=900), False)]
    line = a.timeline(early + [(DUE, False)], DUE, "UTC")
    assert len(line.points) == a.MAX_BUCKETS and line.cut == 1
    assert line.points[0].on_time == 1 and line.points[-1].on_time == 2


# --- funnel --------------------------------------------------------------------------------------

STAGES = [("project", 3), ("basics", 1), ("advanced", 2)]


def test_funnel_counts_who_reached_each_stage() -> None:
    people = [("da", 1)] * 5 + [("da", 2)] * 3 + [("va", 3)] * 2
    basics, advanced, project = a.funnel(STAGES, people)
    assert [s.stage for s in (basics, advanced, project)] == ["basics", "advanced", "project"]
    assert [s.reached for s in (basics, advanced, project)] == [10, 5, 2]
    assert basics.by_track == {"da": 8, "va": 2}
    assert advanced.by_track == {"da": 3, "va": 2} and project.by_track == {"da": 0, "va": 2}
    assert (basics.of_previous, advanced.of_previous, project.of_previous) == (None, 0.5, 0.4)
    assert (basics.of_enrolled, project.of_enrolled) == (1.0, 0.2)


def test_funnel_without_trainees() -> None:
    steps = a.funnel(STAGES, [])
    assert [(s.reached, s.of_previous, s.of_enrolled) for s in steps] == [(0, None, None)] * 3
    assert a.funnel([], []) == []


# --- at risk -------------------------------------------------------------------------------------


def outcome(pct: float | None, *, status: str | None = "graded", sid: int | None = 1) -> a.Outcome:
    return a.Outcome("x-check", DUE, sid, status, pct)


def trainee(name: str, *outcomes: a.Outcome, seen: float | None = 0.5) -> a.Trainee:
    last = None if seen is None else NOW - timedelta(days=seen)
    return a.Trainee(name, "da", "basics", outcomes, last)


def test_every_reason_once_most_reasons_first() -> None:
    people = [
        trainee("t1", outcome(None, status=None, sid=None), seen=None),  # missed, never active
        trainee("t2", outcome(0.0, status="failed", sid=7)),  # failed
        trainee("t3", outcome(90), seen=5),  # inactive 5 days
        trainee("t4", outcome(80), seen=2.9),
        trainee("t5", outcome(70)),
        trainee("t6", outcome(60)),
        trainee("t7", outcome(50)),  # low: 6 ranked, the 2nd lowest (50) is the cut-off
        trainee("t8", outcome(40)),  # low
        a.Trainee("t9", "da", "basics", [a.Outcome("later", NOW + timedelta(days=1), None, None, None)], NOW),
    ]  # fmt: skip
    rows = a.at_risk(people, NOW, inactive_days=3)
    assert [r.username for r in rows] == ["t1", "t2", "t3", "t7", "t8"]
    t1, t2, t3, t7, t8 = rows
    assert [(x.kind, x.assessment, x.value) for x in t1.reasons] == [
        ("missed", "x-check", None),
        ("inactive", None, None),
    ]
    assert [(x.kind, x.submission) for x in t2.reasons] == [("failed", 7)]
    assert t2.mean_percent is None  # a failed grading is not a score
    assert [(x.kind, x.value, x.limit) for x in t3.reasons] == [("inactive", 5.0, 3)]
    assert [(x.kind, x.value, x.limit) for x in t7.reasons] == [("low", 50.0, 50.0)]
    assert t8.reasons[0].value == 40.0
    # without the hub's activity nobody is inactive
    quiet = a.at_risk(people, NOW, 3, activity_known=False)
    assert [r.username for r in quiet] == ["t1", "t2", "t7", "t8"]
    assert [x.kind for x in quiet[0].reasons] == ["missed"]
    # a longer allowance
    assert "t3" not in {r.username for r in a.at_risk(people, NOW, inactive_days=7)}


def test_the_bottom_group_is_per_stage_and_needs_five_ranked_trainees() -> None:
    few = [trainee(f"s{k}", outcome(10.0 * k)) for k in range(1, 5)]
    assert a.low_cutoffs(few) == {} and a.at_risk(few, NOW) == []
    other = [
        a.Trainee(f"p{k}", "da", "advanced", [outcome(10.0 * k)], NOW) for k in range(1, 11)
    ]  # 10 ranked: the bottom 2
    assert a.low_cutoffs(few + other) == {"advanced": 20.0}
    assert [r.username for r in a.at_risk(few + other, NOW)] == ["p1", "p2"]


def test_mean_percent_and_empty_cohorts() -> None:
    t = trainee("m", outcome(40), outcome(None, status="needs-manual"), outcome(80))
    assert t.mean_percent == 60.0
    assert a.at_risk([], NOW) == [] and a.low_cutoffs([]) == {}


@pytest.mark.parametrize("known", [True, False])
def test_rank_agrees_with_at_risk(known: bool) -> None:
    """rank (tuples, counts) gives the order and the reason kinds at_risk (objects) gives."""
    import random

    rng = random.Random(5)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    people = []
    for i in range(400):
        facts: list[a.Fact] = []
        for k in range(rng.randrange(0, 4)):
            due = now + timedelta(days=rng.choice([-3, 2]))
            sid = None if rng.random() < 0.2 else i * 10 + k
            status = None if sid is None else rng.choice(["graded", "graded", "failed", None])
            pct = rng.uniform(0, 100) if status == "graded" else None
            facts.append((due, sid, status, pct))
        seen = rng.choice([None, now - timedelta(days=1), now - timedelta(days=9)])
        people.append((f"u{i:03d}", rng.choice(["s1", "s2"]), facts, seen))
    ranking = a.rank(people, now, 3, known)
    objects = [
        a.Trainee(u, "t", st, [a.Outcome(f"a{k}", *f) for k, f in enumerate(facts)], seen)
        for u, st, facts, seen in people
    ]
    described = a.at_risk(objects, now, 3, known)
    assert [u for _, u, _ in ranking.order] == [r.username for r in described]
    assert ranking.cutoffs == a.low_cutoffs(objects)
    for (n, _, bits), r in zip(ranking.order, described, strict=True):
        assert -n == len(r.reasons)
        assert {k for k in a.KINDS if bits & a.KIND_BIT[k]} == {x.kind for x in r.reasons}
    for kind in a.KINDS:
        having = [u for _, u, _ in ranking.having(kind)]
        assert having == [r.username for r in described if kind in {x.kind for x in r.reasons}]
        assert ranking.kinds.get(kind, 0) == len(having)
    assert (ranking.kinds.get("inactive") is None) is not known or not ranking.order
    part = a.at_risk(objects[:50], now, 3, known, ranking.cutoffs)  # a page, the cohort's cut-offs
    assert {r.username for r in part} == {u for _, u, _ in ranking.order} & {
        p[0] for p in people[:50]
    }
