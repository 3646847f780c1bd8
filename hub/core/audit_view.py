"""Reading the audit log: its hash chain verified from a checkpoint, its filters and its pages.

Pure. `continue_chain` checks entries (in id order) that follow an entry already verified, so a
page view re-hashes only what was appended since the last check instead of the whole chain
(core/audit.py's `verify_chain` is the same check from the first entry). `parse_filter` turns a
page's query (actor, action, trainee, a date range on the program's clock) into an `AuditFilter`
with UTC bounds, naming each bad field; `paging` cuts a result into pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .audit import EntryContent, entry_hash

PAGE_SIZES = (25, 50, 100, 200)
NAME = re.compile(r"^[A-Za-z0-9._@:*-]{1,128}$")


@dataclass(frozen=True)
class ChainRun:
    """The outcome of checking entries after a verified point.

    `checked`: entries re-hashed; `last_id`/`last_hash`: the last entry that chains (the
    starting point's when none was checked); `broken_id`: the first entry that does not chain
    (None when all do)."""

    checked: int
    last_id: int | None
    last_hash: str
    broken_id: int | None

    @property
    def ok(self) -> bool:
        """True when every checked entry chains."""
        return self.broken_id is None


def continue_chain(
    start_id: int | None,
    start_hash: str,
    entries: Iterable[tuple[int, EntryContent, str, str]],
) -> ChainRun:
    """Check (id, content, prev_hash, hash) entries in id order that follow the verified entry
    `start_id` with hash `start_hash` (None and GENESIS: from the first entry). Stops at the
    first entry whose prev_hash is not the hash before it or whose hash is not its content's."""
    prev, last, checked = start_hash, start_id, 0
    for entry_id, content, prev_hash, stored in entries:
        if prev_hash != prev or entry_hash(prev, content) != stored:
            return ChainRun(checked, last, prev, entry_id)
        prev, last, checked = stored, entry_id, checked + 1
    return ChainRun(checked, last, prev, None)


@dataclass(frozen=True)
class AuditFilter:
    """Which entries a page shows; times are naive UTC, `until` exclusive. `action` ending in
    `.*` matches every action of that prefix (`selection.*`)."""

    actor: str | None = None
    action: str | None = None
    trainee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    day_from: date | None = None  # the dates as asked (on the program's clock), for the form
    day_to: date | None = None

    @property
    def active(self) -> bool:
        """True when anything is filtered."""
        return any((self.actor, self.action, self.trainee, self.since, self.until))

    def query(self) -> dict[str, str]:
        """The filter as query arguments (for page links)."""
        out = {"actor": self.actor, "action": self.action, "trainee": self.trainee}
        out |= {
            "from": self.day_from.isoformat() if self.day_from else None,
            "to": self.day_to.isoformat() if self.day_to else None,
        }
        return {k: v for k, v in out.items() if v}


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _utc_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC).replace(tzinfo=None)


def parse_filter(
    args: Mapping[str, str | None], zone: str = "UTC"
) -> tuple[AuditFilter, list[tuple[str, str]]]:
    """The filter of a page's query: `actor`, `action`, `trainee`, `from` and `to` (dates,
    YYYY-MM-DD, both included, on the clock of `zone`). Bad fields are left out and listed as
    (field, why) in English / Korean."""
    problems: list[tuple[str, str]] = []
    names: dict[str, str | None] = {}
    for key in ("actor", "action", "trainee"):
        value = (args.get(key) or "").strip()
        if value and not NAME.match(value):
            problems.append((key, "letters, digits and . _ @ : * - only / 허용되지 않는 문자"))
            value = ""
        names[key] = value or None
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        value = (args.get(key) or "").strip()
        days[key] = None
        if value:
            try:
                days[key] = _day(value)
            except ValueError:
                problems.append((key, "a date as YYYY-MM-DD / 날짜 형식(YYYY-MM-DD)"))
    first, last = days["from"], days["to"]
    if first and last and last < first:
        problems.append(("to", "before the start date / 시작 날짜보다 이릅니다"))
        last = None
    return (
        AuditFilter(
            actor=names["actor"],
            action=names["action"],
            trainee=names["trainee"],
            since=_utc_midnight(first, tz) if first else None,
            until=_utc_midnight(last + timedelta(days=1), tz) if last else None,
            day_from=first,
            day_to=last,
        ),
        problems,
    )


@dataclass(frozen=True)
class Paging:
    """One page of `total` results: 1-based `page` of `pages`, `offset` and `size`."""

    page: int
    pages: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        """Results before this page."""
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        """1-based number of the page's first result (0 when there is none)."""
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        """1-based number of the page's last result."""
        return min(self.total, self.offset + self.size)


def paging(total: int, page: str | int | None, size: str | int | None) -> Paging:
    """Page `page` of `total` results, `size` a page (one of PAGE_SIZES, else the first); a
    page out of range or not a number is the nearest page there is."""
    try:
        n = int(size) if size is not None else PAGE_SIZES[0]
    except ValueError:
        n = PAGE_SIZES[0]
    n = n if n in PAGE_SIZES else PAGE_SIZES[0]
    pages = max(1, math.ceil(total / n))
    try:
        p = int(page) if page is not None else 1
    except ValueError:
        p = 1
    return Paging(min(max(1, p), pages), pages, n, total)
