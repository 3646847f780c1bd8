"""JSON-ready views shared by the API and the pages (one place that shapes what people see)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..core.curriculum import Curriculum, Text
from ..core.policy import Placement, spawn_plan
from ..store import repo
from ..store.audit import verify
from ..trainee_home import my_assessments


def text(t: Text | Any) -> dict[str, str]:
    """A bilingual text as {ko, en}."""
    return {"ko": t.ko, "en": t.en}


def named(row: Any) -> dict[str, Any]:
    """A cohort/track/stage row as {id, name}."""
    return {"id": row.slug, "name": {"ko": row.name_ko, "en": row.name_en}}


def member_view(
    s: Session, curriculum: Curriculum, username: str, now: datetime, role: str | None
) -> dict[str, Any]:
    """Who someone is, where they are in the program and what is next for them."""
    view: dict[str, Any] = {
        "username": username,
        "role": role,
        "name": None,
        "enrollment": None,
        "labs": [],
        "next": [],
    }
    try:
        m = repo.member(s, username)
    except repo.NotFound:
        return view
    view.update(name=m.name, email=m.email, role=role or m.role)
    e = repo.active_enrollment(m)
    if e is None:
        return view
    nxt = curriculum.next_stage(e.stage.slug)
    view["enrollment"] = {
        "cohort": named(e.cohort),
        "track": named(e.track),
        "stage": {**named(e.stage), "position": e.stage.position},
        "next_stage": {"id": nxt.id, "name": text(nxt.name)} if nxt else None,
        "since": e.updated_at,
    }
    plan = spawn_plan(curriculum, Placement(e.cohort.slug, e.track.slug, e.stage.slug))
    view["labs"] = [lab.dest for lab in plan.labs]
    zone = ZoneInfo(e.cohort.timezone)
    # the due instant that applies to them: the instructor's deadline change, then their extension
    view["next"] = [
        {
            "id": a["id"],
            "title": a["title"],
            "due_at": a["due_at"],
            "due_local": a["due_at"].astimezone(zone),
            "weight": a["weight"],
            "points": a["points"],
        }
        for a in my_assessments(s, m.id, e.stage_id, now)
        if a["seconds_left"] >= 0
    ]
    return view


def trainee_row(e: Any) -> dict[str, Any]:
    """One enrollment as a table row."""
    return {
        "username": e.member.username,
        "name": e.member.name,
        "email": e.member.email,
        "cohort": e.cohort.slug,
        "track": e.track.slug,
        "stage": e.stage.slug,
        "major": e.member.major,
        "since": e.updated_at,
    }


def counts(s: Session) -> dict[str, Any]:
    """Trainees per track and stage."""
    c = Counter((e.track.slug, e.stage.slug) for e in repo.trainees(s))
    return {
        "total": sum(c.values()),
        "by_track_stage": [
            {"track": t, "stage": st, "trainees": n} for (t, st), n in sorted(c.items())
        ],
    }


def audit_view(s: Session, limit: int, target: str | None, now: datetime) -> dict[str, Any]:
    """Recent audit entries and whether the chain verifies — from the last verified checkpoint
    (store/audit.py `verify`: only the entries appended since are re-hashed; commit `s` to move
    the checkpoint)."""
    entries = repo.audit_entries(s, limit=limit, target=target)
    return {
        "chain_ok": verify(s, now).ok,
        "entries": [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "details": e.details,
                "reason": e.reason,
                "hash": e.hash,
            }
            for e in entries
        ],
    }
