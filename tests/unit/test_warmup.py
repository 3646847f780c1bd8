"""core/warmup: which classes start soon (in the cohort's zone), whose servers to start."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sadari.hub.core.curriculum import ClassTimes, Cohort, Text
from sadari.hub.core.warmup import class_starting, to_warm

WEEKDAYS = (0, 1, 2, 3, 4)


def cohort(start: str = "09:00", warm: int = 10, days: tuple[int, ...] = WEEKDAYS) -> Cohort:
    return Cohort(
        "c1",
        Text("1기", "cohort 1"),
        date(2026, 11, 16),
        "Asia/Seoul",
        ClassTimes(days, time.fromisoformat(start), warm),
    )


def test_within_the_lead_before_class_in_the_cohorts_zone() -> None:
    monday_0855_seoul = datetime(2026, 12, 6, 23, 55, tzinfo=UTC)  # Mon 7 Dec 08:55 KST
    start = class_starting(cohort(), monday_0855_seoul)
    assert start is not None and start.isoformat() == "2026-12-07T09:00:00+09:00"
    assert class_starting(cohort(), datetime(2026, 12, 6, 23, 49, tzinfo=UTC)) is None  # 08:49
    assert class_starting(cohort(), datetime(2026, 12, 7, 0, 0, tzinfo=UTC)) is None  # 09:00


def test_no_class_on_other_days_before_the_cohort_starts_or_without_a_lead() -> None:
    sunday_0855 = datetime(2026, 12, 5, 23, 55, tzinfo=UTC)  # Sun 6 Dec 08:55 KST
    assert class_starting(cohort(), sunday_0855) is None
    assert class_starting(cohort(days=(6,)), sunday_0855) is not None
    assert class_starting(cohort(), datetime(2026, 11, 8, 23, 55, tzinfo=UTC)) is None  # 9 Nov
    assert class_starting(cohort(warm=0), datetime(2026, 12, 6, 23, 55, tzinfo=UTC)) is None


def test_a_class_just_after_midnight_is_warmed_the_evening_before() -> None:
    late = cohort(start="00:05", days=(0,))
    sunday_2358 = datetime(2026, 12, 6, 14, 58, tzinfo=UTC)  # Sun 23:58 KST, class Mon 00:05
    assert class_starting(late, sunday_2358) is not None


def test_to_warm_skips_running_and_already_warmed_and_keeps_to_the_room() -> None:
    members = ["t3", "t1", "t2", "t4", "t1"]
    assert to_warm(members, running={"t2"}, done={"t3"}, room=5) == ["t1", "t4"]
    assert to_warm(members, running=set(), done=set(), room=2) == ["t1", "t2"]
    assert to_warm(members, running=set(), done=set(), room=0) == []
