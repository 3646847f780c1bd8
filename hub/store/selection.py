"""The database side of stage selection: candidates read from the gradebook of record, and the rows
of selections, overrides, participation inputs and teams.

Candidates are read as a selection Sheet from the trainees' scorecards (store/scorecards.py):
three queries and numpy, no per-trainee round trips and no per-submission Python objects. The rules live in
core/selection.py and core/teams.py, the workflow (preview, override, confirm, apply, rollback,
teams) in hub/selection.py.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, selectinload

from ..core.selection import Candidate, SelectionPolicy, Sheet, Submission
from . import scorecards
from .models import (
    Assessment,
    Cohort,
    Enrollment,
    Member,
    ParticipationInput,
    Scorecard,
    Selection,
    SelectionOverride,
    Stage,
    Team,
    Track,
)
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


@functools.lru_cache(maxsize=4096)  # a cohort repeats a handful of majors
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

    sheet: Sheet
    member_ids: dict[str, int]
    pending: int = 0  # latest submissions not graded yet (left out: counted as absent)
    irregular: int = 0  # latest submissions graded as timed out, crashed, rejected or failed
    warnings: list[str] = field(default_factory=list)


def candidates(s: Session, cohort: str, policy: SelectionPolicy) -> Gathered:
    """The trainees with an active enrollment in `cohort` at `policy.source`, as the selection
    Sheet: the latest submission of every assessment the policy scores (score = the result's raw
    points, its late penalty, the server's submission time), the participation inputs it names,
    and the attributes `track` and `major` (see normalise_major).

    Three queries: the trainees with their scorecards (store/scorecards.py: one packed row per
    trainee), the policy's assessments in the cohort, the inputs; the cells are placed with numpy.
    """
    co = cohort_row(s, cohort)
    comps = policy.components
    people = s.execute(
        _people(co.id, policy.source, Scorecard.cells).outerjoin(
            Scorecard, Scorecard.member_id == Member.id
        )
    ).all()
    n, m = len(people), len(comps)
    member_ids = [p[0] for p in people]
    tracks = [p[4] for p in people]
    pending = irregular = 0
    present, raw, penalty = np.zeros((n, m), dtype=bool), np.zeros((n, m)), np.zeros((n, m))
    final_at = np.full(n, -np.inf)
    column = {c.id: j for j, c in enumerate(comps) if c.kind == "assessment"}
    scored = s.execute(_assessments(co.id, list(column))).all()
    if scored and n:
        # per assessment id: its policy column and its track; per trainee row: their track
        size = max(a for a, _, _ in scored) + 1
        col_of, track_of = np.full(size, -1), np.full(size, -1)
        for aid, slug, track_id in scored:
            col_of[aid], track_of[aid] = column[slug], track_id
        row_track = np.array([p[3] for p in people], dtype=np.int64)
        track_ids = sorted(set(row_track.tolist()))
        slug_of_track = dict(zip(row_track.tolist(), tracks, strict=True))
        applies = np.array(
            [[c.applies_to(slug_of_track[t]) for c in comps] for t in track_ids], dtype=bool
        )
        row_kind = np.searchsorted(track_ids, row_track)
        cell, row = scorecards.cells([p[6] for p in people])
        aid = np.minimum(cell["assessment"], size - 1)
        col = np.where(cell["assessment"] < size, col_of[aid], -1)
        mine = (col >= 0) & (track_of[aid] == row_track[row])
        mine[mine] = applies[row_kind[row[mine]], col[mine]]
        status = cell["status"]
        waiting = mine & ((status == scorecards.UNGRADED) | (status == scorecards.NEEDS_MANUAL))
        use = mine & ~waiting
        r, c = row[use], col[use]
        present[r, c] = True
        raw[r, c], penalty[r, c] = cell["score"][use], cell["penalty"][use]
        np.maximum.at(final_at, r, cell["submitted"][use])
        pending = int(waiting.sum())
        irregular = int((use & (status == scorecards.IRREGULAR)).sum())
    final_at[np.isneginf(final_at)] = np.inf
    names = {c.id: j for j, c in enumerate(comps) if c.kind == "input"}
    if names and n:
        row_of = {mid: i for i, mid in enumerate(member_ids)}
        for member_id, name, value in s.execute(_inputs(co.id, policy.source, list(names))):
            i, j = row_of[member_id], names[name]
            present[i, j], raw[i, j] = True, value
    attributes = [_attributes(p[4], p[2], p[5]) for p in people]
    sheet = Sheet(
        comps,
        [p[1] for p in people],
        [cohort] * n,
        tracks,
        attributes,
        present,
        raw,
        penalty,
        final_at,
    )
    gathered = Gathered(sheet, {p[1]: p[0] for p in people}, pending, irregular)
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


def candidates_from_history(s: Session, cohort: str, policy: SelectionPolicy) -> list[Candidate]:
    """What `candidates` reads, as Candidates built straight from the history (each trainee's
    latest submission per assessment joined with its result) instead of their scorecards: the
    slow, plain reader that tests and benchmarks/selection.py hold the fast one to (same
    decision hash)."""
    co = cohort_row(s, cohort)
    people = s.execute(_people(co.id, policy.source)).all()
    wanted = [c.id for c in policy.components if c.kind == "assessment"]
    slug_track = {aid: (slug, track) for aid, slug, track in s.execute(_assessments(co.id, wanted))}
    track_of = {p[0]: p[3] for p in people}
    subs: dict[int, dict[str, Submission]] = {p[0]: {} for p in people}
    for member_id, aid, _, status, raw, penalty, at in scorecards.latest(s, list(subs)):
        slug, track = slug_track.get(aid, (None, None))
        if slug is None or track != track_of[member_id] or status in (None, "needs-manual"):
            continue
        subs[member_id][slug] = Submission(raw, penalty, at)
    names = [c.id for c in policy.components if c.kind == "input"]
    inputs: dict[int, dict[str, float]] = {p[0]: {} for p in people}
    if names and people:
        for member_id, name, value in s.execute(_inputs(co.id, policy.source, names)):
            inputs[member_id][name] = value
    return [
        Candidate(username, cohort, track, subs[mid], inputs[mid], _attributes(track, major, more))
        for mid, username, major, _, track, more in people
    ]


def _people(cohort_id: int, stage: str, *more: Any) -> Select[Any]:
    """(member id, username, major, track id, track slug, roster attributes, *more) of the
    trainees with an active enrollment in the cohort at `stage`."""
    return (
        select(
            Member.id, Member.username, Member.major, Track.id, Track.slug, Member.attributes, *more
        )
        .select_from(Enrollment)
        .join(Member, Enrollment.member_id == Member.id)
        .join(Track, Enrollment.track_id == Track.id)
        .join(Stage, Enrollment.stage_id == Stage.id)
        .where(
            Enrollment.cohort_id == cohort_id,
            Enrollment.status == "active",
            Stage.slug == stage,
        )
    )


def _assessments(cohort_id: int, slugs: list[str]) -> Select[Any]:
    """(assessment id, slug, track id) of the cohort's assessments named `slugs`."""
    return (
        select(Assessment.id, Assessment.slug, Stage.track_id)
        .join(Stage, Assessment.stage_id == Stage.id)
        .join(Track, Stage.track_id == Track.id)
        .where(Track.cohort_id == cohort_id, Assessment.slug.in_(slugs))
    )


def _inputs(cohort_id: int, stage: str, names: list[str]) -> Select[Any]:
    """(member id, name, value) of the participation inputs `names` of the trainees of
    `_people(cohort_id, stage)`."""
    ids = _people(cohort_id, stage).with_only_columns(Member.id)
    return select(
        ParticipationInput.member_id, ParticipationInput.name, ParticipationInput.value
    ).where(ParticipationInput.name.in_(names), ParticipationInput.member_id.in_(ids))


def _attributes(
    track: str, major: str | None, stored: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The selection attributes of a trainee: the roster's attributes (campus, …), `track`, and
    `major` when the roster has one (these two win over attributes of the same name)."""
    attributes = {**(stored or {}), "track": track}
    if (normalised := normalise_major(major)) is not None:
        attributes["major"] = normalised
    return attributes


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
