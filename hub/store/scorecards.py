"""Scorecards: each trainee's latest submission of every assessment, packed for bulk reads.

Stage selection reads every trainee of a cohort at once (10,000 trainees x 30 assessments). Read
from the history (the latest of each trainee's submissions per assessment, joined with its
result) that is 300,000 rows through the database driver, over a second on this project's
machines before any ranking starts. A scorecard is the same facts as one row per trainee: a
packed array of fixed-size cells (CELL), so the whole cohort is 10,000 rows and one numpy view.

Submissions and results stay the record; a scorecard is derived from them and rewritten in the
same transaction whenever one of the trainee's submissions or results is written
(store/exchange.py calls `refresh`). `rebuild` rewrites all of them from the history and `stale`
lists the trainees whose scorecard differs from it (`sadari db scorecards [--rebuild]`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..core.audit import naive_utc
from .models import Member, Result, Scorecard, Submission

# one cell: the assessment, the latest submission, its result's status (STATUS), the raw points,
# the late penalty share and the server's submission time (POSIX seconds, UTC)
CELL = np.dtype(
    [
        ("assessment", "<i8"),
        ("submission", "<i8"),
        ("status", "<i8"),
        ("score", "<f8"),
        ("penalty", "<f8"),
        ("submitted", "<f8"),
    ]
)
UNGRADED, GRADED, NEEDS_MANUAL, IRREGULAR = 0, 1, 2, 3  # IRREGULAR: timed out, crashed, failed...
STATUS: dict[str | None, int] = {None: UNGRADED, "graded": GRADED, "needs-manual": NEEDS_MANUAL}


def latest(s: Session, member_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    """From the history: (member id, assessment id, submission id, result status or None, raw
    score, penalty, submitted_at) of the latest submission of every (trainee, assessment), for
    `member_ids` (None: everybody), ordered by trainee and assessment."""
    newest = select(func.max(Submission.id).label("id")).group_by(
        Submission.member_id, Submission.assessment_id
    )
    if member_ids is not None:
        newest = newest.where(Submission.member_id.in_(list(member_ids)))
    ids = newest.subquery()
    q = (
        select(
            Submission.member_id,
            Submission.assessment_id,
            Submission.id,
            Result.status,
            Result.raw_score,
            Result.penalty,
            Submission.submitted_at,
        )
        .select_from(ids)
        .join(Submission, Submission.id == ids.c.id)
        .outerjoin(Result, Result.submission_id == Submission.id)
        .order_by(Submission.member_id, Submission.assessment_id)
    )
    return [tuple(r) for r in s.execute(q)]


def pack(rows: Iterable[tuple[Any, ...]]) -> dict[int, bytes]:
    """Rows of `latest` as packed cells per member id."""
    cells: dict[int, list[tuple[int, int, int, float, float, float]]] = {}
    for member_id, aid, sid, status, raw, penalty, at in rows:
        when = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
        code = STATUS.get(status, IRREGULAR)
        cells.setdefault(member_id, []).append((aid, sid, code, raw or 0.0, penalty or 0.0, when))
    return {m: np.array(c, dtype=CELL).tobytes() for m, c in cells.items()}


def refresh(s: Session, member_ids: Iterable[int], now: datetime) -> None:
    """Rewrite the scorecards of `member_ids` from the history, in the caller's transaction.

    The trainees' member rows are locked first (SELECT ... FOR UPDATE on PostgreSQL; SQLite has a
    single writer), so two graders recording results of one trainee at once cannot leave the
    scorecard of whichever committed first: the second reads the history after the first's
    commit.
    """
    ids = sorted(set(member_ids))
    if not ids:
        return
    s.flush()
    s.execute(select(Member.id).where(Member.id.in_(ids)).with_for_update()).all()
    _write(s, ids, pack(latest(s, ids)), now)


def rebuild(s: Session, now: datetime) -> int:
    """Rewrite every scorecard from the history; the number of trainees with one."""
    cards = pack(latest(s))
    s.execute(delete(Scorecard))
    _write(s, None, cards, now)
    return len(cards)


def stale(s: Session) -> list[int]:
    """Member ids whose stored scorecard differs from the history (empty when all agree)."""
    want = pack(latest(s))
    have = {m: c for m, c in s.execute(select(Scorecard.member_id, Scorecard.cells))}
    return sorted(m for m in want.keys() | have.keys() if want.get(m) != have.get(m))


def _write(s: Session, ids: list[int] | None, cards: dict[int, bytes], now: datetime) -> None:
    if ids is not None:
        s.execute(delete(Scorecard).where(Scorecard.member_id.in_(ids)))
    if cards:
        at = naive_utc(now)
        s.execute(
            insert(Scorecard),
            [{"member_id": m, "cells": c, "updated_at": at} for m, c in sorted(cards.items())],
        )


def cells(blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """The cells of many scorecards as one array, with the index into `blobs` of each cell."""
    sizes = np.fromiter((len(b) if b else 0 for b in blobs), dtype=np.int64, count=len(blobs))
    if (sizes % CELL.itemsize).any():
        raise ValueError("a scorecard is not a whole number of cells: rebuild the scorecards")
    packed = np.frombuffer(b"".join(b for b in blobs if b), dtype=CELL)
    return packed, np.repeat(np.arange(len(blobs)), sizes // CELL.itemsize)
