"""The cohort analytics of a large cohort (3,000 trainees, seeded with core inserts as the pages
benchmark does): the counts per reason are over everybody, the trainees at risk come a page at a
time (most reasons first, then by username, filtered by reason), the CSV holds them all, and the
reading takes a fixed number of queries."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from sadari.hub import analytics
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory
from sadari.hub.store.models import (
    Assessment,
    Cohort,
    Enrollment,
    Member,
    Result,
    Stage,
    Submission,
    Track,
)
from sadari.hub.store.repo import Invalid

COHORT = "2026-seoul-1"
AID = "da-basics-check"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
N = 3000


def naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def seed(engine: Any, cur: Curriculum) -> tuple[Any, dict[str, datetime | None], int]:
    """N trainees in data-analysis/basics: t0000.. ; i % 10 == 0 never submitted AID, i % 10 == 1
    their grading failed, the others scored i % 100 percent; the hub saw i % 3 == 1 an hour ago,
    i % 3 == 2 ten days ago, i % 3 == 0 never. Also how many other assessments of the stage
    were due before NOW (everybody missed them)."""
    sessions = session_factory(engine)
    with sessions.begin() as s:
        repo.sync_curriculum(s, cur, NOW)
        cohort_id = s.scalar(select(Cohort.id).where(Cohort.slug == COHORT))
        track_id, stage_id = s.execute(
            select(Track.id, Stage.id)
            .join(Stage, Stage.track_id == Track.id)
            .where(Track.cohort_id == cohort_id, Track.slug == "data-analysis")
            .where(Stage.slug == "basics")
        ).one()
        due = {
            slug: (aid, moved or at)
            for aid, slug, at, moved in s.execute(
                select(Assessment.id, Assessment.slug, Assessment.due_at, Assessment.due_override_at)
                .where(Assessment.stage_id == stage_id)
            )
        }  # fmt: skip
        others = sum(1 for slug, (_, at) in due.items() if slug != AID and at < naive(NOW))
        aid = due[AID][0]
        s.execute(
            insert(Member),
            [{"username": f"t{i:04d}", "name": f"교육생 {i}", "role": "trainee", "attributes": {},
              "created_at": naive(NOW)} for i in range(N)],
        )  # fmt: skip
        ids = dict(
            s.execute(select(Member.username, Member.id).where(Member.username.like("t%"))).all()
        )
        s.execute(
            insert(Enrollment),
            [{"member_id": ids[f"t{i:04d}"], "cohort_id": cohort_id, "track_id": track_id,
              "stage_id": stage_id, "status": "active", "updated_at": naive(NOW)}
             for i in range(N)],
        )  # fmt: skip
        at = naive(NOW - timedelta(days=2))
        subs = [i for i in range(N) if i % 10]
        s.execute(
            insert(Submission),
            [{"id": 10_000 + i, "assessment_id": aid, "member_id": ids[f"t{i:04d}"],
              "submitted_at": at, "sha256": "0" * 64, "size": 1, "files": []} for i in subs],
        )  # fmt: skip
        s.execute(
            insert(Result),
            [{"submission_id": 10_000 + i, "status": "failed" if i % 10 == 1 else "graded",
              "raw_score": i % 100, "max_score": 100.0, "late_seconds": 0, "penalty": 0.0,
              "final_score": i % 100, "computed_at": at, "details": {}} for i in subs],
        )  # fmt: skip
    seen: dict[str, datetime | None] = {}
    for i in range(N):
        if i % 3 == 1:
            seen[f"t{i:04d}"] = NOW - timedelta(hours=1)
        elif i % 3 == 2:
            seen[f"t{i:04d}"] = NOW - timedelta(days=10)
    return sessions, seen, others


def expected(others: int) -> dict[str, set[str]]:
    """Who has each reason, by the rules of core/analytics.py, worked out from the seed."""
    scored = sorted(i % 100 for i in range(N) if i % 10 > 1)
    cut = scored[max(1, math.ceil(0.2 * len(scored))) - 1]
    users = [f"t{i:04d}" for i in range(N)]
    return {
        "missed": set(users) if others else {u for i, u in enumerate(users) if i % 10 == 0},
        "failed": {u for i, u in enumerate(users) if i % 10 == 1},
        "low": {u for i, u in enumerate(users) if i % 10 > 1 and i % 100 <= cut},
        "inactive": {u for i, u in enumerate(users) if i % 3 != 1},
    }


def test_large_cohort_counts_and_pages(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions, seen, others = seed(engine, curriculum)
    want = expected(others)
    everybody = set().union(*want.values())
    queries: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    with sessions() as s:
        first = analytics.cohort(s, COHORT, NOW, seen, 3, None, NOW)
        assert len(queries) <= 10, queries  # no query per trainee
        assert first["counts"]["enrolled"] == first["counts"]["active"] == N
        assert first["counts"]["at_risk"] == len(everybody)
        for kind, who in want.items():
            assert first["counts"].get(kind, 0) == len(who), kind
        assert sum(f["reached"] for f in first["funnel"][:1]) == N  # the funnel counts everybody
        page = first["at_risk_page"]
        assert page == {"reason": None, "page": 1, "per_page": analytics.PAGE_ROWS,
                        "pages": math.ceil(len(everybody) / analytics.PAGE_ROWS),
                        "total": len(everybody), "first": 1, "last": analytics.PAGE_ROWS}  # fmt: skip
        assert len(first["at_risk"]) == analytics.PAGE_ROWS

        # every page in turn: each trainee once, most reasons first, then by username
        listed: list[dict[str, Any]] = []
        for p in range(1, page["pages"] + 1):
            listed += analytics.cohort(s, COHORT, NOW, seen, 3, page=p, per_page=700)["at_risk"]
        assert [r["username"] for r in listed[: analytics.PAGE_ROWS]] == [
            r["username"] for r in first["at_risk"]
        ]
        assert {r["username"] for r in listed} == everybody and len(listed) == len(everybody)
        keys = [(-len(r["reasons"]), r["username"]) for r in listed]
        assert keys == sorted(keys)
        for r in listed:
            kinds = {x["kind"] for x in r["reasons"]}
            assert kinds == {k for k, who in want.items() if r["username"] in who}, r
        beyond = analytics.cohort(s, COHORT, NOW, seen, 3, page=99, per_page=700)
        assert beyond["at_risk"] == [] and beyond["at_risk_page"]["first"] == 0

        # filtered by reason: only those, in the same order
        failed = analytics.cohort(s, COHORT, NOW, seen, 3, reason="failed", per_page=1000)
        assert [r["username"] for r in failed["at_risk"]] == [
            r["username"] for r in listed if r["username"] in want["failed"]
        ]
        assert failed["counts"] == first["counts"]  # the counts stay the cohort's

        # the CSV: everybody at risk in the same order, or those with one reason
        text = analytics.at_risk_csv(s, COHORT, NOW, seen, 3).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["username"] for r in rows] == [r["username"] for r in listed]
        assert rows[0]["name"].startswith("교육생") and rows[0]["reasons"]
        low = analytics.at_risk_csv(s, COHORT, NOW, seen, 3, reason="low").decode("utf-8-sig")
        assert {r["username"] for r in csv.DictReader(io.StringIO(low))} == want["low"]

        # the hub not read: nobody is inactive, the rest as before
        unknown = analytics.cohort(s, COHORT, NOW, None, 3, "no hub API")
        assert "inactive" not in unknown["counts"]
        assert unknown["counts"]["failed"] == len(want["failed"])

        for bad in ({"reason": "lazy"}, {"page": 0}, {"per_page": 0}, {"per_page": 5000}):
            with pytest.raises(Invalid):
                analytics.cohort(s, COHORT, NOW, seen, 3, **bad)
