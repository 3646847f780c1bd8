"""A trainee's standing in their cohort's newest visible selection, a decision about them that was
withdrawn (rolled back) since, and the cohort's pseudonymous leaderboard: what the selection API
(handlers/selection.py) and the trainee's page show."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sqlalchemy.orm import Session

from . import selection as workflow
from .store import repo
from .store import selection as db
from .store.models import Enrollment, Selection

WITHDRAWN = "rolled-back"


def _visible(
    s: Session, cohort_id: int, username: str | None
) -> tuple[Selection, dict[str, Any] | None] | None:
    """The newest selection of the cohort trainees may see (and `username`'s row in it)."""
    for sel in db.selections_of(s, cohort_id, workflow.VISIBLE):
        row = next((r for r in sel.rows if r["trainee"] == username), None)
        if username is None or row is not None:
            return sel, row
    return None


def _stage_name(e: Enrollment, slug: str) -> dict[str, str]:
    """The name ({ko, en}) of the stage `slug` of the enrollment's track (the slug if unknown)."""
    stage = next((x for x in e.track.stages if x.slug == slug), None)
    return {"ko": stage.name_ko, "en": stage.name_en} if stage else {"ko": slug, "en": slug}


def standing(s: Session, username: str) -> dict[str, Any]:
    """A trainee's own outcome in the newest visible selection of their cohort: rank, total and
    its parts, eligibility reasons, cutoff and gap, selected and why, the override in force; the
    stage it selects for by its slug and its name in the trainee's track ({ko, en})."""
    e = repo.active_enrollment(repo.member(s, username))
    found = _visible(s, e.cohort_id, username) if e else None
    if e is None or found is None or found[1] is None:
        return {"username": username, "selection": None}
    sel, row = found[0], found[1]
    o = db.effective_overrides(sel).get(username)
    parts = [
        {"component": c["id"], "kind": c["kind"]}
        | {
            f: row[f"{c['id']}:{f}"]
            for f in ("raw", "penalty", "percent", "normalised", "weight", "contribution")
        }
        for c in sel.policy["components"]
        if row.get(f"{c['id']}:weight") is not None
    ]
    return {
        "username": username,
        "selection": {
            "id": sel.id,
            "stage": sel.stage,
            "source": sel.source,
            "status": sel.status,
            "stage_name": _stage_name(e, sel.stage),
        },
        "pool": row["pool"],
        "pool_size": next((p["size"] for p in sel.pools if p["name"] == row["pool"]), None),
        "rank": row["rank"],
        "total": row["total"],
        "parts": parts,
        "eligible": row["eligible"],
        "reasons": [r for r in str(row["reasons"] or "").split("; ") if r],
        "cutoff": row["cutoff"],
        "gap": row["gap"],
        "selected": row["selected"],
        "why": row["why"],
        "override": {"action": o.action, "reason": o.reason} if o else None,
        "advances": workflow.final_advance(sel)[username],
    }


def withdrawn(s: Session, username: str, after: int = 0) -> dict[str, Any] | None:
    """The newest decision about `username` that was rolled back, when it is newer than selection
    `after` (the one their standing shows): which stage it was for, when and why it was withdrawn,
    whether it had advanced them and whether it moved them back (they are in the stage it had
    moved them from). None when there is none: the standing they see is the newest word."""
    e = repo.active_enrollment(repo.member(s, username))
    if e is None:
        return None
    for sel in db.selections_of(s, e.cohort_id, (WITHDRAWN,)):
        if sel.id <= after:
            return None
        if any(r["trainee"] == username for r in sel.rows):
            at = sel.rolled_back_at
            return {
                "id": sel.id,
                "stage": sel.stage,
                "stage_name": _stage_name(e, sel.stage),
                "at": at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at,
                "reason": sel.rollback_reason,
                "advanced": workflow.final_advance(sel)[username],
                "moved_back": any(
                    m["username"] == username and m["from"] == e.stage.slug for m in sel.moved
                ),
            }
    return None


def pseudonym(key: bytes, selection_id: int, username: str) -> str:
    """A stable pseudonym of a trainee within one selection (8 hex digits), keyed with a server
    secret: knowing the cohort's usernames is not enough to tell who is behind one."""
    return hmac.new(key, f"{selection_id}:{username}".encode(), hashlib.sha256).hexdigest()[:8]


def leaderboard(
    s: Session,
    cohort: str,
    username: str,
    *,
    staff: bool,
    key: bytes,
    top: int = 10,
    around: int = 2,
) -> dict[str, Any]:
    """The pseudonymous leaderboard of the cohort's newest visible selection: per pool the top
    `top` plus the caller's neighbours (+-`around`); trainees see only their own pool."""
    co = db.cohort_row(s, cohort)
    found = _visible(s, co.id, None if staff else username)
    if found is None:
        return {"cohort": cohort, "selection": None, "pools": []}
    sel, own = found
    if not staff and own is None:
        return {"cohort": cohort, "selection": None, "pools": []}
    by_pool: dict[str, list[Mapping[str, Any]]] = {}
    for row in sel.rows:
        by_pool.setdefault(row["pool"], []).append(row)
    pools = []
    for name, rows in sorted(by_pool.items()):
        if own is not None and name != own["pool"]:
            continue
        mine = own["rank"] if own is not None else None
        shown = [
            r
            for r in rows
            if r["rank"] <= top or (mine is not None and abs(r["rank"] - mine) <= around)
        ]
        pools.append(
            {
                "pool": name,
                "size": len(rows),
                "entries": [
                    {
                        "rank": r["rank"],
                        "pseudonym": pseudonym(key, sel.id, r["trainee"]),
                        "total": r["total"],
                        "eligible": r["eligible"],
                        "you": r["trainee"] == username,
                    }
                    for r in sorted(shown, key=lambda r: r["rank"])
                ],
            }
        )
    return {
        "cohort": cohort,
        "selection": {"id": sel.id, "stage": sel.stage, "status": sel.status},
        "pools": pools,
    }
