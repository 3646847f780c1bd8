"""Reading the audit log (hub/core/audit_view.py): the chain checked on from a verified entry,
the page's filter (dates on the program's clock) and its paging."""

from __future__ import annotations

from datetime import date, datetime

from sadari.hub.core.audit import GENESIS, EntryContent, entry_hash, verify_chain
from sadari.hub.core.audit_view import AuditFilter, continue_chain, paging, parse_filter


def chain(n: int) -> list[tuple[int, EntryContent, str, str]]:
    out, prev = [], GENESIS
    for i in range(1, n + 1):
        content = EntryContent(datetime(2026, 12, 1, 9, i), "boss", "x.do", f"user:t{i}", {"i": i})
        h = entry_hash(prev, content)
        out.append((i, content, prev, h))
        prev = h
    return out


def test_continuing_from_a_checkpoint_checks_only_what_follows() -> None:
    entries = chain(6)
    whole = continue_chain(None, GENESIS, entries)
    assert (whole.ok, whole.checked, whole.last_id, whole.last_hash) == (
        True,
        6,
        6,
        entries[-1][3],
    )
    assert verify_chain([(c, p, h) for _, c, p, h in entries]) is None  # the same verdict
    # from entry 4: only 5 and 6 are re-hashed
    later = continue_chain(4, entries[3][3], entries[4:])
    assert (later.ok, later.checked, later.last_id) == (True, 2, 6)
    # nothing new: the checkpoint stays
    same = continue_chain(6, entries[5][3], [])
    assert (same.ok, same.checked, same.last_id, same.last_hash) == (True, 0, 6, entries[5][3])


def test_a_changed_or_missing_entry_after_the_checkpoint_breaks_the_chain() -> None:
    entries = chain(5)
    i, content, prev, h = entries[3]
    changed = EntryContent(content.at, content.actor, content.action, content.target, {"i": 99})
    tampered = [*entries[:3], (i, changed, prev, h), entries[4]]
    run = continue_chain(2, entries[1][3], tampered[2:])
    assert (run.ok, run.broken_id, run.checked, run.last_id) == (False, 4, 1, 3)
    gone = [entries[2], entries[4]]  # entry 4 deleted: 5's prev_hash no longer links
    assert continue_chain(2, entries[1][3], gone).broken_id == 5
    # a wrong starting hash (the checkpoint's entry was rewritten) breaks at the first entry
    assert continue_chain(2, "f" * 64, entries[2:]).broken_id == 3


def test_filter_from_the_query() -> None:
    f, problems = parse_filter(
        {"actor": "boss", "action": "selection.*", "trainee": " a01 ", "from": "2026-12-01",
         "to": "2026-12-02"},
        "Asia/Seoul",
    )  # fmt: skip
    assert problems == []
    assert (f.actor, f.action, f.trainee) == ("boss", "selection.*", "a01")
    # whole days on the Seoul clock (UTC+9), as naive UTC; `to` included
    assert f.since == datetime(2026, 11, 30, 15, 0) and f.until == datetime(2026, 12, 2, 15, 0)
    assert f.active and f.query() == {
        "actor": "boss",
        "action": "selection.*",
        "trainee": "a01",
        "from": "2026-12-01",
        "to": "2026-12-02",
    }
    empty, none = parse_filter({}, "UTC")
    assert empty == AuditFilter() and not empty.active and none == []


def test_bad_filter_fields_are_named_and_left_out() -> None:
    f, problems = parse_filter(
        {"actor": "<script>", "from": "yesterday", "to": "2026-12-01"}, "Nowhere/Atlantis"
    )
    assert [p for p, _ in problems] == ["actor", "from"]
    assert f.actor is None and f.since is None and f.day_to == date(2026, 12, 1)
    assert f.until == datetime(2026, 12, 2)  # an unknown zone counts as UTC
    backwards, problems = parse_filter({"from": "2026-12-05", "to": "2026-12-01"})
    assert problems[0][0] == "to" and backwards.until is None and backwards.since is not None


def test_paging() -> None:
    p = paging(120, "3", "50")
    assert (p.page, p.pages, p.size, p.offset, p.first, p.last) == (3, 3, 50, 100, 101, 120)
    assert paging(120, "9", "50").page == 3  # past the end: the last page
    assert paging(120, "x", "7").size == 25 and paging(120, "x", "7").page == 1
    none = paging(0, None, None)
    assert (none.page, none.pages, none.first, none.last) == (1, 1, 0, 0)
