"""What the trainee's own page shows (GET /trainee): the assessments of their stage with the due
instant that applies to them (the instructor's deadline change, then their own extension) and how
long is left, their submissions with status, scores and feedback, their standing in the cohort's
newest confirmed selection and what it means for them (and a newer decision about them that was
rolled back, with why), and the pseudonymous leaderboard where the cohort has one. Only the
caller's own rows are read; the page renders times in the cohort's zone.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .core.audit import naive_utc
from .core.deadlines import effective_due
from .standing import leaderboard, standing, withdrawn
from .storage import BlobStore
from .store import exchange as ex
from .store import repo
from .store.models import Assessment, Extension, Release, Submission

FEEDBACK_TYPES = (".html",)


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _submission(sub: Submission) -> dict[str, Any]:
    r = sub.result
    return {
        "id": sub.id,
        "submitted_at": _aware(sub.submitted_at),
        "status": r.status if r else "waiting",
        "raw": r.raw_score if r else None,
        "max": r.max_score if r else None,
        "late_seconds": r.late_seconds if r else 0.0,
        "penalty": r.penalty if r else 0.0,
        "final": r.final_score if r else None,
        "feedback": sub.feedback is not None,
    }


def my_assessments(
    s: Session, member_id: int, stage_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The assessments of the trainee's stage: released or not, the due instant that applies to
    them, their extension, whether it is still open, and their submissions (newest first)."""
    assessments = s.scalars(
        select(Assessment).where(Assessment.stage_id == stage_id).order_by(Assessment.due_at)
    ).all()
    ids = [a.id for a in assessments]
    extensions = {
        e.assessment_id: e
        for e in s.scalars(
            select(Extension).where(
                Extension.member_id == member_id, Extension.assessment_id.in_(ids)
            )
        )
    }
    released = set(
        s.scalars(select(Release.assessment_id).where(Release.assessment_id.in_(ids))).all()
    )
    subs: dict[int, list[Submission]] = {}
    for sub in s.scalars(
        select(Submission)
        .where(Submission.member_id == member_id, Submission.assessment_id.in_(ids))
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    ):
        subs.setdefault(sub.assessment_id, []).append(sub)
    out = []
    for a in assessments:
        ext = extensions.get(a.id)
        due = effective_due(a.effective_due, ext.due_at if ext else None)
        mine = [_submission(x) for x in subs.get(a.id, [])]
        out.append(
            {
                "id": a.slug,
                "title": {"ko": a.title_ko, "en": a.title_en},
                "weight": a.weight,
                "points": a.points,
                "released": a.id in released,
                "due_at": _aware(due),
                "open": a.id in released and due >= naive_utc(now),
                "seconds_left": (due - naive_utc(now)).total_seconds(),
                "extension": (
                    {"due_at": _aware(ext.due_at), "reason": ext.reason} if ext else None
                ),
                "submissions": mine,
                "latest": mine[0] if mine else None,
            }
        )
    return out


def my_page(
    s: Session,
    username: str,
    now: datetime,
    *,
    leaderboard_cohorts: Collection[str],
    pseudonym_key: bytes,
) -> dict[str, Any]:
    """The page's data for `username` (empty parts when they are not enrolled)."""
    try:
        member = repo.member(s, username)
    except repo.NotFound:
        return {"assessments": [], "standing": None, "withdrawn": None, "leaderboard": None}
    e = repo.active_enrollment(member)
    if e is None:
        return {"assessments": [], "standing": None, "withdrawn": None, "leaderboard": None}
    view = standing(s, username)
    shown = view["selection"]["id"] if view.get("selection") else 0
    board = None
    if e.cohort.slug in leaderboard_cohorts and view.get("selection"):
        board = leaderboard(s, e.cohort.slug, username, staff=False, key=pseudonym_key)
    return {
        "assessments": my_assessments(s, member.id, e.stage_id, now),
        "standing": view if view.get("selection") else None,
        "withdrawn": withdrawn(s, username, after=shown),
        "leaderboard": board,
    }


def feedback_of(s: Session, blobs: BlobStore, username: str, sid: int) -> dict[str, bytes] | None:
    """The HTML files of the feedback released for the caller's own submission `sid` (name ->
    bytes), or None: not their submission, or no feedback released for it."""
    try:
        sub = ex.submission(s, sid)
    except LookupError:
        return None
    if sub.member.username != username or sub.feedback is None:
        return None
    with zipfile.ZipFile(io.BytesIO(blobs.get(sub.feedback.sha256))) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n.endswith(FEEDBACK_TYPES)}
