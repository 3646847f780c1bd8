"""The audit hash chain: entries chain; any change or removal breaks verification."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from sadari.hub.core.audit import GENESIS, EntryContent, entry_hash, verify_chain


def chain(n: int) -> list[tuple[EntryContent, str, str]]:
    out, prev = [], GENESIS
    for i in range(n):
        c = EntryContent(
            datetime(2026, 11, 21, 9, i, tzinfo=UTC),
            "admin",
            "trainee.move_stage",
            f"user:t{i}",
            {"to": "advanced", "이유": "상위 10%"},
        )
        h = entry_hash(prev, c)
        out.append((c, prev, h))
        prev = h
    return out


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(chain(5)) is None


def test_a_changed_entry_is_found() -> None:
    entries = chain(5)
    c, prev, h = entries[2]
    entries[2] = (replace(c, details={"to": "project"}), prev, h)
    assert verify_chain(entries) == 2


def test_a_removed_entry_is_found() -> None:
    entries = chain(5)
    del entries[1]
    assert verify_chain(entries) == 1


def test_the_same_instant_in_any_zone_hashes_the_same() -> None:
    c = chain(1)[0][0]
    kst = replace(c, at=c.at.astimezone(timezone(timedelta(hours=9))))
    naive = replace(c, at=c.at.replace(tzinfo=None))
    assert entry_hash(GENESIS, c) == entry_hash(GENESIS, kst) == entry_hash(GENESIS, naive)
