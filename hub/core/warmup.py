"""Warm before the bell: which cohorts' classes start soon, and whose servers to start for them.

A cohort's timetable (`classes` in the curriculum: days, start time in the cohort's zone,
`warm_minutes`) lets sadari start its trainees' servers a few minutes before class, so that the
logins at the bell land on servers already up; servers nobody opens are culled as usual. No hub
knows the timetable, so no hub does this by itself.

Pure: takes `now`; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .curriculum import Cohort


def class_starting(cohort: Cohort, now: datetime) -> datetime | None:
    """The start of the cohort's class that begins within its warm-up lead after `now` (an
    aware datetime), else None."""
    times = cohort.classes
    if times is None or times.warm_minutes <= 0:
        return None
    zone = ZoneInfo(cohort.timezone)
    local = now.astimezone(zone)
    for offset in (0, 1):  # a class just after midnight is warmed the evening before
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in times.days or day < cohort.starts:
            continue
        start = datetime.combine(day, times.start, tzinfo=zone)
        if start - timedelta(minutes=times.warm_minutes) <= local < start:
            return start
    return None


def to_warm(members: Iterable[str], running: set[str], done: set[str], room: int) -> list[str]:
    """Members to start now: without a server, not started for this class already (a trainee
    who stopped theirs keeps it stopped), at most `room`, in name order."""
    if room <= 0:
        return []
    return sorted(m for m in set(members) if m not in running and m not in done)[:room]
