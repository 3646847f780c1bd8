"""The database side of stage selection: candidates read from the gradebook of record, and the rows
of selections, overrides, participation inputs and teams.

Reading candidates is a handful of set queries (no per-trainee round trips), so a cohort of
10,000 trainees with 30 assessments each is read in well under a second. The rules live in
core/selection.py and core/teams.py, the workflow (preview, override, confirm, apply, rollback,
teams) in hub/selection.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ClauseElement, String, delete, func, select, type_coerce
from sqlalchemy.orm import Session, aliased, selectinload

from ..core.selection import Candidate, SelectionPolicy, Submission
from .models import (
    Assessment,
    Cohort,
    Enrollment,
    Member,
    ParticipationInput,
    Result,
    Selection,
    SelectionOverride,
    Stage,
    Team,
    Track,
)
from .models import Submission as SubmissionRow
from .repo import NotFound

NON_MAJOR = "non-major"
MAJOR = "major"
_MAJOR_WORDS = {
    "비전공": NON_MAJOR,
    "비전공자": NON_MAJOR,
    "non-major": NON_MAJOR,
    "nonmajor": NON_MAJOR,
    "전공": MAJOR,
    "전공자": MAJOR,
    "major": MAJOR,
}


def normalise_major(text: str | None) -> str | None:
    """The roster's free-text major as a selection attribute: 비전공 / 비전공자 / non-major /
    nonmajor -> "non-major", 전공 / 전공자 / major -> "major" (case and spaces ignored), any other
    text as given (e.g. "컴퓨터공학"), None when empty."""
    if text is None or not text.strip():
        return None
    key = re.sub(r"\s+", "", text).lower()
    return _MAJOR_WORDS.get(key, text.strip())


def cohort_row(s: Session, slug: str) -> Cohort:
    """The cohort `slug` (NotFound if the curriculum has not been synced with it)."""
    row = s.scalars(select(Cohort).where(Cohort.slug == slug)).first()
    if row is None:
        known = ", ".join(s.scalars(select(Cohort.slug).order_by(Cohort.slug))) or "none"
        raise NotFound(f"no cohort {slug!r} (known: {known})")
    return row


@dataclass
class Gathered:
    """Candidates of one selection, with what the preview should warn about."""

    candidates: list[Candidate]
    member_ids: dict[str, int]
    pending: int = 0  # latest submissions not graded yet (left out: counted as absent)
    irregular: int = 0  # latest submissions graded as timed out, crashed, rejected or failed
    warnings: list[str] = field(default_factory=list)


def candidates(s: Session, cohort: str, policy: SelectionPolicy) -> Gathered:
    """The trainees with an active enrollment in `cohort` at `policy.source`, as selection
    Candidates: the latest submission of every assessment the policy scores (score = the result's
    raw points, its late penalty, the server's submission time), the participation inputs it
    names, and the attributes `track` and `major` (see normalise_major)."""
    co = cohort_row(s, cohort)
    enrolled = (
        select(Member.id, Member.username, Member.major, Track.slug)
        .select_from(Enrollment)
        .join(Member, Enrollment.member_id == Member.id)
        .join(Track, Enrollment.track_id == Track.id)
        .join(Stage, Enrollment.stage_id == Stage.id)
        .where(
            Enrollment.cohort_id == co.id,
            Enrollment.status == "active",
            Stage.slug == policy.source,
        )
    )
    people = s.execute(enrolled).all()
    member_ids = [p[0] for p in people]
    wanted = [c.id for c in policy.components if c.kind == "assessment"]
    slug_of: dict[int, str] = dict(
        s.execute(
            select(Assessment.id, Assessment.slug)
            .join(Stage, Assessment.stage_id == Stage.id)
            .join(Track, Stage.track_id == Track.id)
            .where(Track.cohort_id == co.id, Assessment.slug.in_(wanted))
        ).all()
    )
    subs: dict[int, dict[str, Submission]] = {m: {} for m in member_ids}
    gathered = Gathered([], {p[1]: p[0] for p in people})
    ids_of_cohort = enrolled.with_only_columns(Member.id)
    if slug_of and member_ids:
        # latest submission per (trainee, assessment of their track): one index seek per pair
        track_stage = aliased(Stage)
        latest = (
            select(func.max(SubmissionRow.id).label("id"))
            .select_from(Enrollment)
            .join(Stage, Enrollment.stage_id == Stage.id)
            .join(track_stage, track_stage.track_id == Enrollment.track_id)
            .join(Assessment, Assessment.stage_id == track_stage.id)
            .join(
                SubmissionRow,
                (SubmissionRow.member_id == Enrollment.member_id)
                & (SubmissionRow.assessment_id == Assessment.id),
            )
            .where(
                Enrollment.cohort_id == co.id,
                Enrollment.status == "active",
                Stage.slug == policy.source,
                Assessment.slug.in_(wanted),
            )
            .group_by(SubmissionRow.member_id, SubmissionRow.assessment_id)
            .subquery()
        )
        q = (
            select(
                SubmissionRow.member_id,
                SubmissionRow.assessment_id,
                type_coerce(SubmissionRow.submitted_at, String),  # see the loop
                Result.status,
                Result.raw_score,
                Result.penalty,
            )
            .select_from(latest)
            .join(SubmissionRow, SubmissionRow.id == latest.c.id)
            .outerjoin(Result, Result.submission_id == SubmissionRow.id)
        )
        pending = irregular = 0
        for member_id, aid, at, status, raw, penalty in _fetch_all(s, q):
            if status is None or status == "needs-manual":
                pending += 1
                continue
            if status != "graded":
                irregular += 1
            if at.__class__ is str:  # SQLite gives text: parsing it here is 5x faster
                at = datetime.fromisoformat(at)
            subs[member_id][slug_of[aid]] = Submission(raw, penalty, at)  # naive UTC
        gathered.pending, gathered.irregular = pending, irregular
    names = [c.id for c in policy.components if c.kind == "input"]
    inputs: dict[int, dict[str, float]] = {m: {} for m in member_ids}
    if names and member_ids:
        q2 = select(ParticipationInput.member_id, ParticipationInput.name, ParticipationInput.value)
        q2 = q2.where(
            ParticipationInput.name.in_(names), ParticipationInput.member_id.in_(ids_of_cohort)
        )
        for member_id, name, value in s.execute(q2):
            inputs[member_id][name] = value
    for member_id, username, major, track in people:
        attributes = {"track": track}
        normalised = normalise_major(major)
        if normalised is not None:
            attributes["major"] = normalised
        gathered.candidates.append(
            Candidate(username, cohort, track, subs[member_id], inputs[member_id], attributes)
        )
    if gathered.pending:
        gathered.warnings.append(
            f"채점되지 않은 제출 {gathered.pending}건 (미제출로 처리) / {gathered.pending} "
            "submissions not graded yet (treated as not submitted)"
        )
    if gathered.irregular:
        gathered.warnings.append(
            f"비정상 채점(시간 초과·오류·거부) 제출 {gathered.irregular}건, 기록된 점수로 처리 / "
            f"{gathered.irregular} submissions graded as timed out, crashed, rejected or failed "
            "count with their recorded score"
        )
    return gathered


def _fetch_all(s: Session, q: ClauseElement) -> Sequence[Any]:
    """The rows of `q` straight from the driver's cursor: for 300,000 rows twice as fast as
    building Rows. Literal binds are safe here: the query holds only ids and curriculum slugs."""
    conn = s.connection()
    sql = str(q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


# --- selections ---------------------------------------------------------------------------------


def selection(s: Session, selection_id: int, lock: bool = False) -> Selection:
    """One selection with its overrides (NotFound if none); `lock`: SELECT ... FOR UPDATE where the
    database has it, so two admins applying at once do not both move trainees."""
    q = (
        select(Selection)
        .where(Selection.id == selection_id)
        .options(selectinload(Selection.overrides), selectinload(Selection.cohort))
    )
    if lock:
        q = q.with_for_update()
    row = s.scalars(q).first()
    if row is None:
        raise NotFound(f"no selection {selection_id} / 선발 {selection_id}번이 없습니다")
    return row


def selections(
    s: Session, cohort: str | None = None, stage: str | None = None, limit: int = 100
) -> list[Selection]:
    """Newest first, optionally of one cohort and/or target stage."""
    q = select(Selection).join(Cohort).order_by(Selection.id.desc()).limit(limit)
    if cohort:
        q = q.where(Cohort.slug == cohort)
    if stage:
        q = q.where(Selection.stage == stage)
    return list(s.scalars(q.options(selectinload(Selection.cohort))))


def latest_for(
    s: Session, cohort_id: int, statuses: Iterable[str], stage: str | None = None
) -> Selection | None:
    """The newest selection of a cohort (and target stage) in one of `statuses`."""
    q = select(Selection).where(
        Selection.cohort_id == cohort_id, Selection.status.in_(list(statuses))
    )
    if stage:
        q = q.where(Selection.stage == stage)
    return s.scalars(q.order_by(Selection.id.desc()).limit(1)).first()


def selections_of(
    s: Session, cohort_id: int, statuses: Iterable[str], limit: int = 20
) -> list[Selection]:
    """The newest selections of a cohort in one of `statuses`, newest first."""
    q = select(Selection).where(
        Selection.cohort_id == cohort_id, Selection.status.in_(list(statuses))
    )
    return list(s.scalars(q.order_by(Selection.id.desc()).limit(limit)))


def effective_overrides(sel: Selection) -> dict[str, SelectionOverride]:
    """The override in force per trainee: their latest."""
    out: dict[str, SelectionOverride] = {}
    for o in sel.overrides:
        out[o.username] = o
    return out


# --- participation inputs -----------------------------------------------------------------------


def member_ids(s: Session, usernames: Iterable[str]) -> dict[str, int]:
    """username -> member id of those that exist."""
    names = sorted(set(usernames))
    out: dict[str, int] = {}
    for k in range(0, len(names), 5000):
        q = select(Member.username, Member.id).where(Member.username.in_(names[k : k + 5000]))
        out.update({u: i for u, i in s.execute(q)})
    return out


def store_inputs(
    s: Session,
    name: str,
    values: Mapping[int, float],
    *,
    source: str,
    actor: str,
    at: Any,
) -> tuple[int, int, int]:
    """Upsert `name` = value per member id; (created, updated, unchanged)."""
    existing = {
        row.member_id: row
        for row in s.scalars(
            select(ParticipationInput).where(
                ParticipationInput.name == name, ParticipationInput.member_id.in_(list(values))
            )
        )
    }
    created = updated = 0
    for member_id, value in values.items():
        row = existing.get(member_id)
        if row is None:
            s.add(
                ParticipationInput(
                    member_id=member_id,
                    name=name,
                    value=value,
                    source=source,
                    imported_by=actor,
                    imported_at=at,
                )
            )
            created += 1
        elif row.value != value:
            row.value, row.source, row.imported_by, row.imported_at = value, source, actor, at
            updated += 1
    s.flush()
    return created, updated, len(values) - created - updated


# --- teams --------------------------------------------------------------------------------------


def teams(s: Session, cohort_id: int, stage: str | None = None) -> list[Team]:
    """The teams of a cohort (one stage's, or all), by stage and number."""
    q = select(Team).where(Team.cohort_id == cohort_id)
    if stage:
        q = q.where(Team.stage == stage)
    return list(s.scalars(q.order_by(Team.stage, Team.number)))


def replace_teams(s: Session, cohort_id: int, stage: str, rows: list[Team]) -> None:
    """Delete the cohort's teams of `stage` and store `rows` instead."""
    s.execute(delete(Team).where(Team.cohort_id == cohort_id, Team.stage == stage))
    s.add_all(rows)
    s.flush()
