"""The analytics of the instructor pages, read from the database of record: one assessment
(score distribution, questions, submissions over time) and one cohort (stage funnel, trainees at
risk), as JSON-ready dicts, plus the CSV of each chart's data.

A thin workflow: each view is a handful of aggregate queries returning plain tuples (no query
per trainee, no ORM objects per submission); the numbers come from core/analytics.py. The
trainees' last server activity comes from the service's copy of the hub's user list (hubapi.py
`HubActivity`, read in the background; the view says how old it is) and is optional: when
nothing could be read from the hub yet, the cohort view says so and leaves the `inactive`
reason out.

Times stay naive UTC in the database and become aware UTC here; labels of time buckets are in
the cohort's time zone.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .core import analytics as core
from .core.audit import naive_utc
from .hubapi import HubAPI, Snapshot
from .store.models import (
    Assessment,
    Cohort,
    Enrollment,
    Extension,
    Grade,
    Member,
    Result,
    Stage,
    Submission,
    Track,
)
from .store.repo import Invalid, NotFound
from .store.selection import cohort_row

UNSCORED = (None, "needs-manual", "failed")  # result statuses without a final percent
ASSESSMENT_CHARTS = ("histogram", "questions", "timeline")
COHORT_CHARTS = ("funnel", "at_risk")
MAX_INACTIVE_DAYS = 365
PAGE_ROWS = 100  # trainees at risk per page (JSON and page); the CSV holds them all
MAX_PAGE_ROWS = 1000
EMPTY_COLUMNS = {  # the CSV header of a chart without rows
    "histogram": ("from_percent", "to_percent", "trainees"),
    "questions": ("notebook", "cell", "max_points", "trainees", "mean_points", "mean_share",
                  "upper_mean", "lower_mean", "discrimination"),
    "timeline": ("bucket_start", "on_time_cumulative", "late_cumulative", "on_time_new",
                 "late_new"),
    "funnel": ("stage", "position", "reached", "share_of_previous", "share_of_enrolled"),
    "at_risk": ("username", "name", "track", "stage", "mean_percent", "reasons"),
}  # fmt: skip


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _named(slug: str, ko: str, en: str) -> dict[str, Any]:
    return {"id": slug, "name": {"ko": ko, "en": en}}


def _percent(status: str | None, final: float | None, top: float | None, points: float) -> Any:
    if status in UNSCORED or final is None:
        return None
    return core.percent(final, top if top and top > 0 else points)


# --- one assessment ------------------------------------------------------------------------


def assessment(s: Session, aid: str, cohort: str | None, now: datetime) -> dict[str, Any]:
    """The analytics of assessment `aid` in `cohort` (None: the cohort with the most
    submissions of it; `cohorts` lists every cohort that has it): counts, summary, histogram
    of final percents, questions with their discrimination, cumulative submissions over time
    against the due instant."""
    q = (
        select(Assessment, Stage, Track, Cohort)
        .join(Stage, Assessment.stage_id == Stage.id)
        .join(Track, Stage.track_id == Track.id)
        .join(Cohort, Track.cohort_id == Cohort.id)
        .where(Assessment.slug == aid)
        .order_by(Cohort.slug)
    )
    found = s.execute(q).all()
    chosen = [row for row in found if cohort in (None, row[3].slug)]
    if not chosen:
        where = f" in cohort {cohort!r}" if cohort else ""
        raise NotFound(f"no assessment {aid!r}{where} / 없는 평가입니다")
    if len(chosen) > 1:  # no cohort asked: the one with the most submissions
        counts = dict(
            s.execute(
                select(Submission.assessment_id, func.count(Submission.id))
                .where(Submission.assessment_id.in_([row[0].id for row in chosen]))
                .group_by(Submission.assessment_id)
            ).all()
        )
        chosen.sort(key=lambda row: -counts.get(row[0].id, 0))
    a, st, tr, co = chosen[0]
    enrolled = s.scalar(
        select(func.count(Enrollment.id)).where(
            Enrollment.stage_id == st.id, Enrollment.status == "active"
        )
    )
    extended: dict[int, datetime] = {
        m: due
        for m, due in s.execute(
            select(Extension.member_id, Extension.due_at).where(Extension.assessment_id == a.id)
        )
    }
    due = a.effective_due
    history = s.execute(
        select(Submission.member_id, Submission.submitted_at).where(
            Submission.assessment_id == a.id
        )
    ).all()
    submitted = [(_utc(t), t > max(due, extended.get(m, due))) for m, t in history]
    latest = (
        select(func.max(Submission.id).label("id"))
        .where(Submission.assessment_id == a.id)
        .group_by(Submission.member_id)
        .subquery()
    )
    results = s.execute(
        select(Submission.id, Result.status, Result.max_score, Result.final_score)
        .select_from(latest)
        .join(Submission, Submission.id == latest.c.id)
        .outerjoin(Result, Result.submission_id == Submission.id)
    ).all()
    percents: dict[int, float] = {}
    statuses: Counter[str] = Counter()
    for sid, status, top, final in results:
        statuses[status or "waiting"] += 1
        if (p := _percent(status, final, top, a.points)) is not None:
            percents[sid] = p
    points: dict[int, dict[str, float]] = {sid: {} for sid in percents}
    maxima: dict[str, float] = {}
    cells: dict[str, tuple[str, str]] = {}
    for sid, notebook, cell, score, top in s.execute(
        select(Grade.submission_id, Grade.notebook, Grade.cell, Grade.score, Grade.max_score)
        .join(latest, Grade.submission_id == latest.c.id)
        .order_by(Grade.notebook, Grade.id)
    ):
        q = f"{notebook}:{cell}"
        if q not in maxima:
            maxima[q], cells[q] = top, (notebook, cell)
        maxima[q] = max(maxima[q], top)
        if sid in points:
            points[sid][q] = score or 0.0
    values = list(percents.values())
    notebooks = {nb for nb, _ in cells.values()}
    stats = core.questions([core.Sheet(k, v) for k, v in points.items()], maxima)
    line = core.timeline(submitted, _utc(due), co.timezone)
    return {
        "cohort": _named(co.slug, co.name_ko, co.name_en),
        "cohorts": [row[3].slug for row in found],
        "track": _named(tr.slug, tr.name_ko, tr.name_en),
        "stage": {**_named(st.slug, st.name_ko, st.name_en), "position": st.position},
        "zone": co.timezone,
        "assessment": {
            "id": a.slug,
            "title": {"ko": a.title_ko, "en": a.title_en},
            "points": a.points,
            "due_at": _utc(due),
        },
        "computed_at": _utc(naive_utc(now)),
        "counts": {
            "trainees": enrolled or 0,
            "submitted": len(results),
            "submissions": len(history),
            "scored": len(values),
            "late": sum(1 for _, late in submitted if late),
            "waiting": statuses["waiting"],
            "needs_manual": statuses["needs-manual"],
            "failed": statuses["failed"],
        },
        "summary": core.summary(values),
        "histogram": [{**vars(b)} for b in core.histogram(values)],
        "group_size": core.group_size(len(points)),
        "questions": [
            {
                **vars(q),
                "notebook": cells[q.question][0],
                "cell": cells[q.question][1],
                "label": cells[q.question][1] if len(notebooks) < 2 else q.question,
            }
            for q in stats
        ],
        "timeline": {
            "unit": line.unit,
            "due_at": line.due,
            "due_index": line.due_index,
            "earlier": line.cut,
            "points": [
                {
                    **vars(p),
                    "label": p.start.strftime("%m-%d %H:00" if line.unit == "hour" else "%m-%d"),
                }
                for p in line.points
            ],
        },
    }


# --- one cohort ----------------------------------------------------------------------------


async def activity(hub: HubAPI | None) -> tuple[Snapshot | None, str | None]:
    """The service's last read of each hub user's last activity (their own or any server's, the
    later: `Snapshot.seen`), or None and why not (no hub API, nothing could be read yet)."""
    if hub is None:
        return None, "no hub API token (not running under a hub)"
    snapshot, problem = await hub.activity.current()
    return snapshot, None if snapshot is not None else problem


@dataclass
class _CohortFacts:
    """What a cohort's views share: read once, in a few aggregate queries (plain tuples)."""

    co: Any
    now: datetime
    known: bool
    stage_rows: list[Any]
    enrolled: int
    active: int
    funnel_people: list[tuple[str, int]]  # (track, position of the current stage)
    assessments: list[Any]
    trainees: dict[str, tuple[int, str, str, list[core.Fact], int]]
    ranking: core.Ranking

    def slugs(self, stage_id: int) -> list[str]:
        """The slugs of the assessments of a stage, in the order of a trainee's facts."""
        return [r[1] for r in self.assessments if r[2] == stage_id]


def _cohort_facts(
    s: Session,
    slug: str,
    now: datetime,
    last_activity: Mapping[str, datetime | None] | None,
    inactive_days: float,
) -> _CohortFacts:
    """Read cohort `slug` and rank its trainees at risk (core.rank): per active trainee
    (member id, track, stage, their stage's assessments as core.Fact, the stage's id) by
    username."""
    if not 0 < inactive_days <= MAX_INACTIVE_DAYS:
        raise Invalid(f"days must be from 1 to {MAX_INACTIVE_DAYS} / 일수는 1~365입니다")
    co = cohort_row(s, slug)
    now_utc = _utc(naive_utc(now))
    stage_rows = s.execute(
        select(
            Stage.id, Stage.slug, Stage.position, Stage.name_ko, Stage.name_en, Track.slug,
            Track.name_ko, Track.name_en,
        )
        .join(Track, Stage.track_id == Track.id)
        .where(Track.cohort_id == co.id)
    ).all()  # fmt: skip
    stage_of = {r[0]: (r[1], r[2]) for r in stage_rows}
    track_of = dict(s.execute(select(Track.id, Track.slug).where(Track.cohort_id == co.id)).all())
    people = s.execute(
        select(
            Enrollment.member_id, Member.username, Enrollment.track_id, Enrollment.stage_id,
            Enrollment.status,
        )
        .join(Member, Enrollment.member_id == Member.id)
        .where(Enrollment.cohort_id == co.id)
    ).all()  # fmt: skip
    rows = s.execute(
        select(
            Assessment.id, Assessment.slug, Assessment.stage_id, Assessment.due_at,
            Assessment.due_override_at, Assessment.title_ko, Assessment.title_en,
            Assessment.points,
        )
        .join(Stage, Assessment.stage_id == Stage.id)
        .join(Track, Stage.track_id == Track.id)
        .where(Track.cohort_id == co.id)
        .order_by(Assessment.due_at, Assessment.slug)
    ).all()  # fmt: skip
    by_stage: dict[int, list[Any]] = {}
    for r in rows:
        by_stage.setdefault(r[2], []).append(r)
    extended = {
        (aid, mid): _utc(due)
        for aid, mid, due in s.execute(
            select(Extension.assessment_id, Extension.member_id, Extension.due_at)
            .join(Assessment, Extension.assessment_id == Assessment.id)
            .join(Stage, Assessment.stage_id == Stage.id)
            .join(Track, Stage.track_id == Track.id)
            .where(Track.cohort_id == co.id)
        )
    }
    points = {r[0]: r[7] for r in rows}
    outcomes: dict[tuple[int, int], tuple[int, str | None, float | None]] = {}
    if rows:
        latest = (
            select(func.max(Submission.id).label("id"))
            .join(Assessment, Submission.assessment_id == Assessment.id)
            .join(Stage, Assessment.stage_id == Stage.id)
            .join(Track, Stage.track_id == Track.id)
            .where(Track.cohort_id == co.id)
            .group_by(Submission.member_id, Submission.assessment_id)
            .subquery()
        )
        for mid, aid, sid, status, top, final in s.execute(
            select(
                Submission.member_id, Submission.assessment_id, Submission.id, Result.status,
                Result.max_score, Result.final_score,
            )
            .select_from(latest)
            .join(Submission, Submission.id == latest.c.id)
            .outerjoin(Result, Result.submission_id == Submission.id)
        ):  # fmt: skip
            outcomes[(mid, aid)] = (sid, status, _percent(status, final, top, points[aid]))
    # due instants made aware once per assessment, not once per trainee
    due_utc = {r[0]: _utc(r[4] or r[3]) for r in rows}
    none = (None, None, None)
    seen_at = last_activity or {}
    trainees: dict[str, tuple[int, str, str, list[core.Fact], int]] = {}
    ranked = []
    for mid, username, track_id, stage_id, status in people:
        if status != "active":
            continue
        facts: list[core.Fact] = []
        for r in by_stage.get(stage_id, ()):
            aid = r[0]
            d = due_utc[aid]
            later = extended.get((aid, mid)) if extended else None
            if later is not None and later > d:
                d = later
            facts.append((d, *outcomes.get((mid, aid), none)))
        stage = stage_of[stage_id][0]
        trainees[username] = (mid, track_of[track_id], stage, facts, stage_id)
        ranked.append((username, stage, facts, seen_at.get(username)))
    ranking = core.rank(ranked, now_utc, inactive_days, last_activity is not None)
    return _CohortFacts(
        co=co,
        now=now_utc,
        known=last_activity is not None,
        stage_rows=list(stage_rows),
        enrolled=len(people),
        active=len(trainees),
        funnel_people=[(track_of[t], stage_of[st][1]) for _, _, t, st, _ in people],
        assessments=list(rows),
        trainees=trainees,
        ranking=ranking,
    )


def _described(
    s: Session, f: _CohortFacts, usernames: Sequence[str], inactive_days: float, seen_at: Any
) -> list[dict[str, Any]]:
    """The at-risk rows of `usernames` (a page of the ranking) with every reason described."""
    if not usernames:
        return []
    names: dict[str, str] = {}
    for chunk in range(0, len(usernames), 500):
        part = list(usernames[chunk : chunk + 500])
        names.update(
            s.execute(select(Member.username, Member.name).where(Member.username.in_(part))).all()
        )
    people = []
    latest: dict[str, int | None] = {}
    for u in usernames:
        mid, track, stage, facts, stage_id = f.trainees[u]
        mine = [
            core.Outcome(a, d, sid, status, p)
            for a, (d, sid, status, p) in zip(f.slugs(stage_id), facts, strict=True)
        ]
        people.append(core.Trainee(u, track, stage, mine, (seen_at or {}).get(u)))
        latest[u] = max((o.submission for o in mine if o.submission), default=None)
    risky = core.at_risk(people, f.now, inactive_days, f.known, f.ranking.cutoffs)
    titles = {r[1]: {"ko": r[5], "en": r[6]} for r in f.assessments}
    track_names = {r[5]: {"ko": r[6], "en": r[7]} for r in f.stage_rows}
    stage_texts = {r[1]: {"ko": r[3], "en": r[4]} for r in f.stage_rows}
    return [
        {
            **_risk_row(f.co.slug, r, names.get(r.username, ""), latest[r.username], titles),
            "track_name": track_names[r.track],
            "stage_name": stage_texts[r.stage],
        }
        for r in risky
    ]


def cohort(
    s: Session,
    slug: str,
    now: datetime,
    last_activity: Mapping[str, datetime | None] | None = None,
    inactive_days: float = 3,
    activity_note: str | None = None,
    activity_at: datetime | None = None,
    reason: str | None = None,
    page: int = 1,
    per_page: int = PAGE_ROWS,
) -> dict[str, Any]:
    """The analytics of cohort `slug`: the stage funnel (all enrollments, by their current
    stage), how many active trainees are at risk for each reason, and one page (`page` from 1,
    `per_page` rows; `reason`: only the trainees with that reason) of the trainees at risk,
    most at risk first (`last_activity` None: the hub's activity is unknown, `activity_note`
    says why; `activity_at`: when the hub was read). Every count is over the whole cohort."""
    if reason is not None and reason not in core.KINDS:
        raise Invalid(f"reason must be one of {', '.join(core.KINDS)} / 사유를 고르세요")
    if page < 1 or not 1 <= per_page <= MAX_PAGE_ROWS:
        raise Invalid(f"page from 1, per_page from 1 to {MAX_PAGE_ROWS} / 쪽 번호가 잘못됐습니다")
    f = _cohort_facts(s, slug, now, last_activity, inactive_days)
    co = f.co
    listed = f.ranking.having(reason)
    pages = max(1, -(-len(listed) // per_page))
    shown = [u for _, u, _ in listed[(page - 1) * per_page : page * per_page]]
    at_risk = _described(s, f, shown, inactive_days, last_activity)
    stage_names = {r[1]: (r[2], r[3], r[4]) for r in f.stage_rows}
    tracks = {r[5]: (r[6], r[7]) for r in f.stage_rows}
    steps = core.funnel(
        sorted({(r[1], r[2]) for r in f.stage_rows}, key=lambda x: x[1]), f.funnel_people
    )
    return {
        "cohort": _named(co.slug, co.name_ko, co.name_en),
        "zone": co.timezone,
        "computed_at": f.now,
        "days": inactive_days,
        "activity": {
            "known": f.known,
            "note": None if f.known else activity_note,
            "as_of": _utc(activity_at) if f.known and activity_at else None,
        },
        "tracks": [_named(t, *names) for t, names in sorted(tracks.items())],
        "funnel": [
            {
                **vars(step),
                "name": {"ko": stage_names[step.stage][1], "en": stage_names[step.stage][2]},
            }
            for step in steps
        ],
        "counts": {
            "enrolled": f.enrolled,
            "active": f.active,
            "at_risk": len(f.ranking.order),
            **f.ranking.kinds,
        },
        "low_cutoffs": f.ranking.cutoffs,
        "at_risk_page": {
            "reason": reason,
            "page": page,
            "per_page": per_page,
            "pages": pages,
            "total": len(listed),
            "first": (page - 1) * per_page + 1 if at_risk else 0,
            "last": (page - 1) * per_page + len(at_risk),
        },
        "at_risk": at_risk,
    }


def at_risk_csv(
    s: Session,
    slug: str,
    now: datetime,
    last_activity: Mapping[str, datetime | None] | None = None,
    inactive_days: float = 3,
    reason: str | None = None,
) -> bytes:
    """Every trainee at risk of cohort `slug` (`reason`: only those with it), most at risk
    first, as CSV (the columns of the `at_risk` chart; UTF-8 with BOM): described and written
    a page at a time, so no dict per trainee is kept."""
    if reason is not None and reason not in core.KINDS:
        raise Invalid(f"reason must be one of {', '.join(core.KINDS)} / 사유를 고르세요")
    f = _cohort_facts(s, slug, now, last_activity, inactive_days)
    listed = [u for _, u, _ in f.ranking.having(reason)]
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\r\n")
    w.writerow(EMPTY_COLUMNS["at_risk"])
    for start in range(0, len(listed), PAGE_ROWS):
        part = _described(s, f, listed[start : start + PAGE_ROWS], inactive_days, last_activity)
        w.writerows(_at_risk_line(r) for r in part)
    return text.getvalue().encode("utf-8-sig")


def _at_risk_line(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """One trainee at risk as a CSV row (EMPTY_COLUMNS['at_risk'])."""
    return (
        r["username"],
        _safe(r["name"]),
        r["track"],
        r["stage"],
        r["mean_percent"],
        "; ".join(
            x["kind"] + (f":{x['assessment']}" if x["assessment"] else "") for x in r["reasons"]
        ),
    )


def _risk_row(
    cohort_slug: str, r: core.AtRisk, name: str, latest: int | None, titles: Mapping[str, Any]
) -> dict[str, Any]:
    """One at-risk trainee for the page and the API: reasons with the link that shows each
    (a failed submission; the assessment's table of who did not submit); the trainee's link is
    their newest submission in the stage (it lists their history of that assessment), else
    the first reason's."""
    reasons = []
    for x in r.reasons:
        link = None
        if x.kind == "failed" and x.submission is not None:
            link = f"submissions/{x.submission}"
        elif x.kind == "missed" and x.assessment:
            link = f"assessments/{cohort_slug}/{x.assessment}?show=not_submitted"
        reasons.append(
            {
                **vars(x),
                "title": titles.get(x.assessment) if x.assessment else None,
                "link": link,
            }
        )
    first = next((x["link"] for x in reasons if x["link"]), None)
    if latest is not None:
        first = f"submissions/{latest}"
    return {
        "username": r.username,
        "name": name,
        "track": r.track,
        "stage": r.stage,
        "mean_percent": r.mean_percent,
        "reasons": reasons,
        "link": first,
    }


# --- CSV -----------------------------------------------------------------------------------


def _safe(text: Any) -> Any:
    """Text a spreadsheet would not run as a formula."""
    return "'" + text if isinstance(text, str) and text[:1] in ("=", "+", "-", "@") else text


def chart_rows(data: Mapping[str, Any], chart: str) -> list[dict[str, Any]]:
    """The rows of one chart's data table (`chart` one of ASSESSMENT_CHARTS or COHORT_CHARTS)."""
    if chart == "histogram":
        return [
            {"from_percent": b["lo"], "to_percent": b["hi"], "trainees": b["count"]}
            for b in data["histogram"]
        ]
    if chart == "questions":
        return [
            {
                "notebook": q["notebook"],
                "cell": q["cell"],
                "max_points": q["max_points"],
                "trainees": q["n"],
                "mean_points": q["mean"],
                "mean_share": q["mean_share"],
                "upper_mean": q["upper_mean"],
                "lower_mean": q["lower_mean"],
                "discrimination": q["discrimination"],
            }
            for q in data["questions"]
        ]
    if chart == "timeline":
        return [
            {
                "bucket_start": p["start"].isoformat(),
                "on_time_cumulative": p["on_time"],
                "late_cumulative": p["late"],
                "on_time_new": p["new_on_time"],
                "late_new": p["new_late"],
            }
            for p in data["timeline"]["points"]
        ]
    if chart == "funnel":
        tracks = [t["id"] for t in data["tracks"]]
        return [
            {
                "stage": f["stage"],
                "position": f["position"],
                "reached": f["reached"],
                "share_of_previous": f["of_previous"],
                "share_of_enrolled": f["of_enrolled"],
                **{f"track:{t}": f["by_track"].get(t, 0) for t in tracks},
            }
            for f in data["funnel"]
        ]
    if chart == "at_risk":  # the rows in `data` (one page: at_risk_csv has them all)
        return [dict(zip(EMPTY_COLUMNS["at_risk"], _at_risk_line(r), strict=True))
                for r in data["at_risk"]]  # fmt: skip
    raise Invalid(f"no chart {chart!r}: one of {', '.join(ASSESSMENT_CHARTS + COHORT_CHARTS)}")


def chart_csv(data: Mapping[str, Any], chart: str) -> bytes:
    """One chart's data as CSV (UTF-8 with BOM, for Excel); the header even with no rows."""
    rows = chart_rows(data, chart)
    columns = list(rows[0]) if rows else list(EMPTY_COLUMNS[chart])
    text = io.StringIO()
    w = csv.DictWriter(text, columns, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return text.getvalue().encode("utf-8-sig")
