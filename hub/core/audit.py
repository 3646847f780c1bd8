"""The audit log's hash chain: each entry's hash covers its content and the previous hash.

Pure: `entry_hash` is what the store writes and `verify_chain` checks, so a changed or removed
entry shows up as a broken link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class EntryContent:
    """What an audit entry says: who did what to whom, when and why."""

    at: datetime
    actor: str
    action: str
    target: str
    details: Mapping[str, Any]


def naive_utc(at: datetime) -> datetime:
    """`at` as a naive UTC datetime, the form the database stores and gives back."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def entry_hash(prev_hash: str, entry: EntryContent) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the entry."""
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": naive_utc(entry.at).isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "details": entry.details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def verify_chain(entries: Iterable[tuple[EntryContent, str, str]]) -> int | None:
    """Index of the first entry whose (prev_hash, hash) does not chain, or None if all do."""
    prev = GENESIS
    for i, (content, prev_hash, stored) in enumerate(entries):
        if prev_hash != prev or entry_hash(prev, content) != stored:
            return i
        prev = stored
    return None
