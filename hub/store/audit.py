"""The audit log as pages read it: filtered pages of entries, a decision's trail, and the hash
chain verified from a checkpoint.

The chain (core/audit.py) is verified from its first entry once; the last verified entry's id and
hash are kept in `audit_checkpoint` (migration 0010), and later checks re-hash only the entries
appended since (core/audit_view.py `continue_chain`), after checking that the checkpoint's entry
still carries the hash it had and still hashes to it. A full check (an admin asks for it)
re-hashes everything again and resets the checkpoint. The audit log itself stays append-only
(migration 0002): only the checkpoint row is ever updated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..core.audit import GENESIS, EntryContent, entry_hash, naive_utc
from ..core.audit_view import AuditFilter, ChainRun, continue_chain
from .models import AuditEntry, Base, Selection
from .repo import audit_content

CHECKPOINT_ID = 1
BATCH = 2000  # entries read per round trip while verifying


class AuditCheckpoint(Base):
    """The last audit entry whose chain from the first entry was verified (one row)."""

    __tablename__ = "audit_checkpoint"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"))
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(DateTime)
    full_at: Mapped[datetime] = mapped_column(DateTime)  # the last check from the first entry


@dataclass(frozen=True)
class ChainStatus:
    """What a page says about the chain: ok or the first entry that does not chain, up to which
    entry it is verified, how many entries this check re-hashed and whether it started from the
    first entry, when the last full check was."""

    ok: bool
    broken_id: int | None
    verified_id: int | None
    entries: int  # in the log
    checked: int  # re-hashed by this check
    full: bool  # this check started from the first entry
    full_at: datetime | None
    checked_at: datetime


def _entries(s: Session, after: int | None) -> Iterator[tuple[int, EntryContent, str, str]]:
    """(id, content, prev_hash, hash) of the entries after id `after`, in id order, in batches."""
    last = after or 0
    while True:
        rows = list(
            s.scalars(
                select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(BATCH)
            )
        )
        for e in rows:
            yield e.id, audit_content(e), e.prev_hash, e.hash
        if len(rows) < BATCH:
            return
        last = rows[-1].id
        s.expunge_all()  # a long chain is not kept in the session


def checkpoint(s: Session) -> AuditCheckpoint | None:
    """The checkpoint row, if a check has stored one."""
    return s.get(AuditCheckpoint, CHECKPOINT_ID)


def verify(s: Session, now: datetime, full: bool = False) -> ChainStatus:
    """Verify the chain from the checkpoint (or from the first entry when there is none, when
    `full`, or when the checkpoint's entry no longer carries its hash) and move the checkpoint to
    the last entry that chains. The caller commits (or not: the answer holds either way)."""
    at = naive_utc(now)
    cp = checkpoint(s)
    start_id, start_hash, from_first = None, GENESIS, True
    broken: int | None = None
    if cp is not None and not full:
        e = s.get(AuditEntry, cp.entry_id)
        if (
            e is not None
            and e.hash == cp.hash
            and entry_hash(e.prev_hash, audit_content(e)) == e.hash
        ):
            start_id, start_hash, from_first = cp.entry_id, cp.hash, False
        else:  # the verified entry changed or went: that is where the chain breaks
            broken = cp.entry_id  # (its own content is re-hashed too: one hash)
    full_at = cp.full_at if cp is not None else None
    count = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
    if broken is not None:
        return ChainStatus(False, broken, None, count, 0, False, full_at, at)
    run = continue_chain(start_id, start_hash, _entries(s, start_id))
    if run.last_id is not None and (run.checked or from_first):
        full_at = at if from_first else full_at
        _store(s, run, at, full_at if full_at is not None else at)
    return ChainStatus(
        run.ok,
        run.broken_id,
        run.last_id,
        count,
        run.checked,
        from_first,
        full_at,
        at,
    )


def _store(s: Session, run: ChainRun, at: datetime, full_at: datetime) -> None:
    """Move the checkpoint forward to `run`'s last entry (never back: two checks at once)."""
    assert run.last_id is not None
    cp = checkpoint(s)
    if cp is None:
        try:
            with s.begin_nested():
                s.add(
                    AuditCheckpoint(
                        id=CHECKPOINT_ID,
                        entry_id=run.last_id,
                        hash=run.last_hash,
                        verified_at=at,
                        full_at=full_at,
                    )
                )
            return
        except IntegrityError:  # another check stored it first: update theirs below
            pass
    s.execute(
        update(AuditCheckpoint)
        .where(AuditCheckpoint.id == CHECKPOINT_ID, AuditCheckpoint.entry_id <= run.last_id)
        .values(entry_id=run.last_id, hash=run.last_hash, verified_at=at, full_at=full_at)
    )


# --- reading ------------------------------------------------------------------------------------


def _filtered(f: AuditFilter) -> Any:
    q = select(AuditEntry)
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        if f.action.endswith(".*"):
            prefix = f.action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(AuditEntry.action.like(prefix + "%", escape="\\"))
        else:
            q = q.where(AuditEntry.action == f.action)
    if f.trainee:
        q = q.where(AuditEntry.target == f"user:{f.trainee}")
    if f.since:
        q = q.where(AuditEntry.at >= f.since)
    if f.until:
        q = q.where(AuditEntry.at < f.until)
    return q


def count(s: Session, f: AuditFilter) -> int:
    """Entries the filter matches."""
    return s.scalar(select(func.count()).select_from(_filtered(f).subquery())) or 0


def search(s: Session, f: AuditFilter, offset: int = 0, limit: int = 25) -> list[AuditEntry]:
    """Entries the filter matches, newest first."""
    q = _filtered(f).order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
    return list(s.scalars(q))


def actions(s: Session) -> list[str]:
    """Every action the log has, sorted (for the filter's choices)."""
    return sorted(s.scalars(select(AuditEntry.action).distinct()))


def actors(s: Session) -> list[str]:
    """Everyone who has acted, sorted."""
    return sorted(s.scalars(select(AuditEntry.actor).distinct()))


def decision_trail(s: Session, sel: Selection) -> list[AuditEntry]:
    """The entries of one selection, oldest first: its preview, confirm, apply and rollback
    (target `selection:ID`), its overrides and the stage moves it made (the trainees' entries
    that name it)."""
    people = {f"user:{o.username}" for o in sel.overrides}
    people |= {f"user:{m['username']}" for m in sel.moved or []}
    q = select(AuditEntry).where(
        or_(
            AuditEntry.target == f"selection:{sel.id}",
            AuditEntry.target.in_(sorted(people))
            & AuditEntry.action.in_(["selection.override", "trainee.move_stage"]),
        ),
        AuditEntry.at >= sel.created_at,
    )
    out = []
    tag = re.compile(rf"#{sel.id}\b")  # the moves' reason: "선발 #ID / selection #ID"
    for e in s.scalars(q.order_by(AuditEntry.id)):
        if e.action == "selection.override" and (e.details or {}).get("selection") != sel.id:
            continue
        if e.action == "trainee.move_stage" and not tag.search(e.reason or ""):
            continue
        out.append(e)
    return out
