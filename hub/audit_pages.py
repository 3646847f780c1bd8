"""What the audit page shows (templates/audit.html): one page of the log under a filter, with the
chain's state verified from the stored checkpoint; `entry_view` is how every page shows an entry."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .core.audit_view import AuditFilter, paging
from .nbview import text as cut_text
from .store import audit as audit_store
from .store.models import AuditEntry

DETAILS_CHARS = 4000  # of an audit entry's details on a page (the log keeps everything)


def entry_view(e: AuditEntry) -> dict[str, Any]:
    """An audit entry as the pages show it (details as indented JSON, cut to DETAILS_CHARS)."""
    details, cut = cut_text(
        json.dumps(e.details, ensure_ascii=False, indent=1, default=str), DETAILS_CHARS
    )
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "reason": e.reason,
        "details": details,
        "details_cut": cut,
        "hash": e.hash,
    }


def audit_page(
    s: Session, f: AuditFilter, page: str | None, size: str | None, now: datetime
) -> dict[str, Any]:
    """One page of the audit log under a filter, with the chain's state (verified from the
    checkpoint: only entries appended since the last check are re-hashed)."""
    chain = audit_store.verify(s, now)
    total = audit_store.count(s, f)
    pg = paging(total, page, size)
    entries = audit_store.search(s, f, pg.offset, pg.size)
    actions = audit_store.actions(s)
    return {
        "chain": chain,
        "paging": pg,
        "entries": [entry_view(e) for e in entries],
        "actions": actions,
        "action_groups": sorted({a.split(".")[0] + ".*" for a in actions if "." in a}),
        "actors": audit_store.actors(s),
    }
