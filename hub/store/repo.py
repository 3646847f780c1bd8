"""Repository functions: the only code that reads and writes sadari's tables.

Every function takes a Session and the service's `now`; changes that affect people (roster imports,
stage moves) append an audit entry in the same transaction, so either both land or neither does.
Domain errors (`NotFound`, `Invalid`) instead of raw database errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..core import curriculum as cur
from ..core.audit import GENESIS, EntryContent, entry_hash, naive_utc
from ..core.limits import check_text
from ..core.membership import desired_groups
from ..core.roster import Parsed, RosterRow
from ..core.roster_mapping import MappingError, RosterMapping
from ..core.roster_preview import (
    UNCHANGED,
    Current,
    Preview,
    compare,
    member_values,
    merged_attributes,
    preview,
)
from .models import (
    Assessment,
    AuditEntry,
    Cohort,
    Enrollment,
    Member,
    Program,
    RosterMappingRecord,
    Stage,
    Team,
    Track,
)


class NotFound(LookupError):
    """A named thing does not exist."""


class Invalid(ValueError):
    """A request that cannot be carried out as asked."""


def append_audit(
    session: Session,
    *,
    now: datetime,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any],
    reason: str | None = None,
) -> AuditEntry:
    """Append one hash-chained entry (the caller commits). A reason over the limit raises
    FieldProblem before anything is written: every audited reason, from the API or the CLI,
    passes here."""
    if reason:
        check_text("reason", reason)
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev = last.hash if last else GENESIS
    at = naive_utc(now)
    content = EntryContent(
        at=at,
        actor=actor,
        action=action,
        target=target,
        details={**details, **({"reason": reason} if reason else {})},
    )
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        target=target,
        details=details,
        reason=reason,
        prev_hash=prev,
        hash=entry_hash(prev, content),
    )
    session.add(entry)
    session.flush()
    return entry


def audit_content(entry: AuditEntry) -> EntryContent:
    """The hashed content of a stored entry (for verification)."""
    details = {**entry.details, **({"reason": entry.reason} if entry.reason else {})}
    return EntryContent(entry.at, entry.actor, entry.action, entry.target, details)


def audit_entries(
    session: Session, limit: int = 100, target: str | None = None
) -> list[AuditEntry]:
    """Newest entries first, optionally only those about `target`."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target:
        q = q.where(AuditEntry.target == target)
    return list(session.scalars(q))


# --- curriculum --------------------------------------------------------------------------------


def sync_curriculum(session: Session, curriculum: cur.Curriculum, now: datetime) -> int:
    """Instantiate the curriculum for every cohort it declares; returns the number of rows changed.

    Idempotent: rows are found by slug and updated only when they differ. Nothing is deleted (a
    cohort's past stages and assessments stay on record). Audited when anything changed.
    """
    changes = 0

    def upsert(model: Any, where: dict[str, Any], values: dict[str, Any]) -> Any:
        nonlocal changes
        row = session.scalars(select(model).filter_by(**where)).first()
        if row is None:
            row = model(**where, **values)
            session.add(row)
            session.flush()
            changes += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            changes += 1
        return row

    program = upsert(
        Program,
        {"slug": curriculum.program_id},
        {"name_ko": curriculum.program_name.ko, "name_en": curriculum.program_name.en},
    )
    for c in curriculum.cohorts:
        cohort = upsert(
            Cohort,
            {"slug": c.id},
            {
                "program_id": program.id,
                "name_ko": c.name.ko,
                "name_en": c.name.en,
                "starts_on": c.starts,
                "timezone": c.timezone,
            },
        )
        for t in curriculum.tracks:
            track = upsert(
                Track,
                {"cohort_id": cohort.id, "slug": t.id},
                {"name_ko": t.name.ko, "name_en": t.name.en},
            )
            for s in curriculum.stages:
                stage = upsert(
                    Stage,
                    {"track_id": track.id, "slug": s.id},
                    {"name_ko": s.name.ko, "name_en": s.name.en, "position": s.position},
                )
                plan = t.stages.get(s.id)
                for a in plan.assessments if plan else ():
                    upsert(
                        Assessment,
                        {"stage_id": stage.id, "slug": a.id},
                        {
                            "title_ko": a.title.ko,
                            "title_en": a.title.en,
                            "weight": a.weight,
                            "points": a.points,
                            "due_at": naive_utc(a.due.resolve(c)),
                            "late_policy": a.late.as_dict(),
                        },
                    )
    if changes:
        append_audit(
            session,
            now=now,
            actor="system",
            action="curriculum.sync",
            target=f"program:{curriculum.program_id}",
            details={"rows_changed": changes},
        )
    return changes


def _stage_row(session: Session, cohort_slug: str, track_slug: str, stage_slug: str) -> Stage:
    row = session.scalars(
        select(Stage)
        .join(Track)
        .join(Cohort)
        .where(Cohort.slug == cohort_slug, Track.slug == track_slug, Stage.slug == stage_slug)
    ).first()
    if row is None:
        raise NotFound(
            f"no stage {stage_slug!r} in track {track_slug!r} of cohort {cohort_slug!r}"
            " (is the curriculum synced?)"
        )
    return row


# --- roster ------------------------------------------------------------------------------------

MAPPING_NAME = "default"  # the remembered mapping every import starts from
CHUNK = 500  # usernames per IN (...) when reading current members


@dataclass
class ImportReport:
    """What a roster import did."""

    file: str
    sha256: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "created": self.created,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
        }


def current_members(session: Session, usernames: Iterable[str]) -> dict[str, Current]:
    """The members named `usernames` as plain data for the roster preview (with their
    enrollments: cohort -> (track, stage)); a few queries however many names."""
    names = sorted(set(usernames))
    out: dict[str, Current] = {}
    for i in range(0, len(names), CHUNK):
        q = (
            select(Member)
            .where(Member.username.in_(names[i : i + CHUNK]))
            .options(
                selectinload(Member.enrollments).selectinload(Enrollment.cohort),
                selectinload(Member.enrollments).selectinload(Enrollment.track),
                selectinload(Member.enrollments).selectinload(Enrollment.stage),
            )
        )
        for m in session.scalars(q):
            out[m.username] = Current(
                username=m.username,
                name=m.name,
                email=m.email,
                role=m.role,
                major=m.major,
                attributes=dict(m.attributes or {}),
                enrollments={e.cohort.slug: (e.track.slug, e.stage.slug) for e in m.enrollments},
            )
    return out


def preview_roster(session: Session, parsed: Parsed) -> Preview:
    """What importing `parsed` would change (reads only)."""
    return preview(parsed, current_members(session, (r.username for r in parsed.rows)))


def remembered_mapping(session: Session) -> RosterMapping:
    """The mapping remembered from the last imports (empty before the first)."""
    row = session.scalars(
        select(RosterMappingRecord).where(RosterMappingRecord.name == MAPPING_NAME)
    ).first()
    if row is None:
        return RosterMapping()
    try:
        return RosterMapping.from_dict(row.mapping)
    except MappingError:  # written by an older version: start afresh rather than fail
        return RosterMapping()


def remember_mapping(
    session: Session, mapping: RosterMapping, *, actor: str, now: datetime
) -> None:
    """Lay `mapping` (its columns and values; never its cohort) over the remembered one."""
    merged = mapping.over(remembered_mapping(session))
    doc = {**merged.as_dict(), "cohort": None}
    row = session.scalars(
        select(RosterMappingRecord).where(RosterMappingRecord.name == MAPPING_NAME)
    ).first()
    if row is None:
        session.add(
            RosterMappingRecord(
                name=MAPPING_NAME, mapping=doc, updated_by=actor, updated_at=naive_utc(now)
            )
        )
    elif row.mapping != doc:
        row.mapping, row.updated_by, row.updated_at = doc, actor, naive_utc(now)
    session.flush()


def import_roster(
    session: Session,
    rows: Sequence[RosterRow],
    *,
    data: bytes,
    file: str,
    actor: str,
    now: datetime,
    mapping: RosterMapping | None = None,
) -> ImportReport:
    """Create or update members and enrollments from validated rows (the caller commits): what
    `core.roster_preview.compare` says of each row against the record, nothing else.

    All or nothing: a row naming another track in a cohort the trainee is enrolled in raises
    Invalid listing every such row, before anything is written. Re-importing the same rows
    changes nothing and writes no audit entry. A row never moves an enrolled trainee to another
    stage: stage changes go through `move_stage` (and selection), so a stale roster cannot undo
    a promotion. The `mapping` used (admin's columns and values) is remembered for the next
    import and recorded in the audit entry.
    """
    report = ImportReport(file=file, sha256=hashlib.sha256(data).hexdigest())
    at = naive_utc(now)
    current = current_members(session, (r.username for r in rows))
    compared = [compare(row, current.get(row.username)) for row in rows]
    conflicts = [p.at(file) for c in compared for p in c.problems]
    if conflicts:
        raise Invalid("\n".join(str(p) for p in conflicts))
    stages: dict[tuple[str, str, str], Stage] = {}
    members = (
        {
            m.username: m
            for m in session.scalars(select(Member).where(Member.username.in_(list(current))))
        }
        if current
        else {}
    )
    for row, result in zip(rows, compared, strict=True):
        if result.status == UNCHANGED:
            report.unchanged.append(row.username)
            continue
        values = member_values(row)
        member = members.get(row.username)
        if member is None:
            member = Member(
                username=row.username,
                created_at=at,
                attributes=merged_attributes({}, row.attributes),
                **values,
            )
            session.add(member)
            session.flush()
            members[row.username] = member
            report.created.append(row.username)
        else:
            for k, v in values.items():
                setattr(member, k, v)
            member.attributes = merged_attributes(member.attributes or {}, row.attributes)
            report.updated.append(row.username)
        if any(c.field == "enrollment" for c in result.changes):
            assert row.cohort and row.track and row.stage  # compare enrolls only such rows
            where = (row.cohort, row.track, row.stage)
            if where not in stages:
                stages[where] = _stage_row(session, *where)
            stage = stages[where]
            session.add(
                Enrollment(
                    member_id=member.id,
                    cohort_id=stage.track.cohort_id,
                    track_id=stage.track_id,
                    stage_id=stage.id,
                    status="active",
                    updated_at=at,
                )
            )
    if mapping is not None and (mapping.columns or mapping.values):
        remember_mapping(session, mapping, actor=actor, now=now)
    if report.created or report.updated:
        details = report.as_dict()
        if mapping is not None and not mapping.empty:
            details["mapping"] = mapping.as_dict()
        append_audit(
            session,
            now=now,
            actor=actor,
            action="roster.import",
            target=f"file:{file}",
            details=details,
        )
    session.flush()
    return report


# --- trainees ----------------------------------------------------------------------------------


def member(session: Session, username: str) -> Member:
    """The member `username` with enrollments loaded (NotFound if unknown)."""
    row = session.scalars(
        select(Member)
        .where(Member.username == username)
        .options(
            selectinload(Member.enrollments)
            .selectinload(Enrollment.stage)
            .selectinload(Stage.assessments)
        )
    ).first()
    if row is None:
        raise NotFound(f"no member {username!r}")
    return row


def active_enrollment(m: Member) -> Enrollment | None:
    """The member's active enrollment (the newest if several)."""
    active = [e for e in m.enrollments if e.status == "active"]
    return max(active, key=lambda e: e.id) if active else None


def move_stage(
    session: Session, username: str, stage_slug: str, *, actor: str, reason: str, now: datetime
) -> tuple[Enrollment, bool]:
    """Move a trainee's active enrollment to `stage_slug`; (enrollment, changed). Audited."""
    if not reason.strip():
        raise Invalid("a reason is required / 사유를 입력하세요")
    m = member(session, username)
    enrollment = active_enrollment(m)
    if enrollment is None:
        raise Invalid(f"{username} has no active enrollment")
    if enrollment.stage.slug == stage_slug:
        return enrollment, False
    target = _stage_row(session, enrollment.cohort.slug, enrollment.track.slug, stage_slug)
    old = enrollment.stage.slug
    enrollment.stage_id, enrollment.stage = target.id, target
    enrollment.updated_at = naive_utc(now)
    append_audit(
        session,
        now=now,
        actor=actor,
        action="trainee.move_stage",
        target=f"user:{username}",
        details={"from": old, "to": stage_slug, "cohort": enrollment.cohort.slug},
        reason=reason,
    )
    session.flush()
    return enrollment, True


def trainees(
    session: Session, cohort: str | None = None, track: str | None = None, stage: str | None = None
) -> list[Enrollment]:
    """Active enrollments, filtered by cohort/track/stage slugs, ordered by username."""
    q = (
        select(Enrollment)
        .join(Member)
        .join(Cohort, Enrollment.cohort_id == Cohort.id)
        .join(Track, Enrollment.track_id == Track.id)
        .join(Stage, Enrollment.stage_id == Stage.id)
        .where(Enrollment.status == "active")
        .order_by(Member.username)
    )
    if cohort:
        q = q.where(Cohort.slug == cohort)
    if track:
        q = q.where(Track.slug == track)
    if stage:
        q = q.where(Stage.slug == stage)
    return list(session.scalars(q))


def wanted_membership(
    session: Session, usernames: Iterable[str] | None = None
) -> dict[str, set[str]]:
    """Hub groups every member (or the given ones) should be in (teams: see models.Team)."""
    q = select(Member).options(selectinload(Member.enrollments).selectinload(Enrollment.stage))
    if usernames is not None:
        q = q.where(Member.username.in_(list(usernames)))
    teams: dict[tuple[int, str, str], str] = {}  # (cohort id, stage, username) -> team group
    for cohort_id, stage, name, people in session.execute(
        select(Team.cohort_id, Team.stage, Team.name, Team.members)
    ):
        for person in people:
            teams[(cohort_id, stage, person["username"])] = name
    out = {}
    for m in session.scalars(q):
        e = active_enrollment(m)
        out[m.username] = desired_groups(
            m.role,
            e.cohort.slug if e else None,
            e.track.slug if e else None,
            e.stage.slug if e else None,
        )
        team = teams.get((e.cohort_id, e.stage.slug, m.username)) if e else None
        if team:  # a project team's group, while the trainee is in the team's stage
            out[m.username].add(team)
    return out
