"""Stage selection end to end: read the candidates from the database, then rank and select.

Builds a temporary SQLite database (migrated to head) with one cohort of N trainees over 4 tracks,
each with one graded submission (a Result row: raw score, late penalty, server time) of each of
A assessments of their track's first stage, bulk-inserted, and the trainees' scorecards. Then
times what `sadari select preview` spends on its inputs and its decision:
store/selection.candidates (the scorecards, three queries and numpy) followed by
core/selection.select under a policy with A components and the top N per track. Storing the
preview's rows is not timed.

No other tool ranks and selects, so the reference measured in the same run is the plain reader:
store/selection.candidates_from_history (the latest submissions joined with their results, as
Candidate objects) followed by the same select; both must give the same inputs hash and the same
selection. The time is also set against the issue's target (0.5 s for 10,000 trainees x 30
assessments) as `ratio_to_target` (< 1: faster).

    python benchmarks/selection.py [-n 10000] [--assessments 30] [--repeat 3] [--top 500]

Ends with one line: RESULT select n=... assessments=... seconds=... rows_per_s=... history_s=...
ratio_to_history=... target_s=0.5 ratio_to_target=...
"""

from __future__ import annotations

import os
import sys

# this file's name shadows the standard library's `select` module: drop its folder from the path
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
sys.path.insert(0, os.path.dirname(HERE))

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import insert  # noqa: E402

from sadari.hub.core.selection import (  # noqa: E402
    Capacity,
    Component,
    Decision,
    SelectionPolicy,
    select,
)
from sadari.hub.store import scorecards  # noqa: E402
from sadari.hub.store import selection as db  # noqa: E402
from sadari.hub.store.db import make_engine, session_factory, upgrade  # noqa: E402
from sadari.hub.store.models import (  # noqa: E402
    Assessment,
    Cohort,
    Enrollment,
    Member,
    Program,
    Result,
    Stage,
    Submission,
    Track,
)

TARGET_S = 0.5
TRACKS = ("data-analysis", "product-manager", "azure-ai", "vision-ai")
COHORT = "bench-1"


def build(url: str, n: int, assessments: int, seed: int = 42) -> None:
    """The cohort, its tracks, stages and assessments, N trainees and their graded submissions."""
    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    at = datetime(2026, 11, 20, 9, 0)
    with engine.begin() as c:
        c.execute(insert(Program), [{"id": 1, "slug": "bench", "name_ko": "벤치", "name_en": "b"}])
        c.execute(
            insert(Cohort),
            [{"id": 1, "program_id": 1, "slug": COHORT, "name_ko": "벤치", "name_en": "bench",
              "starts_on": date(2026, 11, 16), "timezone": "Asia/Seoul"}],
        )  # fmt: skip
        c.execute(
            insert(Track),
            [{"id": t + 1, "cohort_id": 1, "slug": s, "name_ko": s, "name_en": s}
             for t, s in enumerate(TRACKS)],
        )  # fmt: skip
        c.execute(
            insert(Stage),
            [{"id": t + 1, "track_id": t + 1, "slug": "basics", "name_ko": "기초",
              "name_en": "Basics", "position": 1} for t in range(len(TRACKS))],
        )  # fmt: skip
        aid = {}
        rows = []
        for t in range(len(TRACKS)):
            for j in range(assessments):
                aid[t, j] = len(rows) + 1
                rows.append(
                    {"id": len(rows) + 1, "stage_id": t + 1, "slug": f"a{j:02d}", "title_ko": "평가",
                     "title_en": "test", "weight": 1 / assessments, "points": 100.0,
                     "due_at": at, "late_policy": {}}
                )  # fmt: skip
        c.execute(insert(Assessment), rows)
        c.execute(
            insert(Member),
            [{"id": i + 1, "username": f"t{i:05d}", "name": f"교육생{i}", "role": "trainee",
              "major": rng.choice(["비전공", "전공", "컴퓨터공학"]), "created_at": at}
             for i in range(n)],
        )  # fmt: skip
        c.execute(
            insert(Enrollment),
            [{"member_id": i + 1, "cohort_id": 1, "track_id": i % len(TRACKS) + 1,
              "stage_id": i % len(TRACKS) + 1, "status": "active", "updated_at": at}
             for i in range(n)],
        )  # fmt: skip
        subs, results = [], []
        for i in range(n):
            for j in range(assessments):
                sid = len(subs) + 1
                when = at + timedelta(minutes=rng.randrange(-3000, 120))
                subs.append(
                    {"id": sid, "assessment_id": aid[i % len(TRACKS), j], "member_id": i + 1,
                     "submitted_at": when, "sha256": "0" * 64, "size": 1, "files": []}
                )  # fmt: skip
                raw = float(rng.randrange(0, 101))
                penalty = 0.1 if when > at else 0.0
                results.append(
                    {"submission_id": sid, "status": "graded", "raw_score": raw,
                     "max_score": 100.0, "late_seconds": 0.0, "penalty": penalty,
                     "final_score": raw * (1 - penalty), "computed_at": at, "details": {}}
                )  # fmt: skip
        c.execute(insert(Submission), subs)
        c.execute(insert(Result), results)
    # what recording each submission and result leaves (store/exchange.py refreshes the
    # trainee's scorecard in the same transaction), for all of them at once
    with session_factory(engine).begin() as s:
        scorecards.rebuild(s, at)
    engine.dispose()


def main() -> None:
    """Build, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=10_000, help="trainees")
    ap.add_argument("--assessments", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (the median is reported)")
    ap.add_argument("--top", type=int, default=500, help="seats per track")
    args = ap.parse_args()
    policy = SelectionPolicy(
        stage="advanced",
        source="basics",
        components=tuple(
            Component(f"a{j:02d}", 1 / args.assessments) for j in range(args.assessments)
        ),
        capacity=Capacity(top_n=args.top),
        pool="track",
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        t0 = time.perf_counter()
        build(url, args.n, args.assessments)
        print(f"built: {args.n} trainees x {args.assessments} graded assessments in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        engine = make_engine(url)
        sessions = session_factory(engine)
        ours = timed(sessions, policy, db.candidates, args.repeat)
        history = timed(sessions, policy, db.candidates_from_history, args.repeat)
        engine.dispose()
    decision = ours.decision
    assert len(decision.outcomes) == args.n
    # the same inputs and the same decision either way
    assert decision.inputs_hash == history.decision.inputs_hash
    assert [o.trainee for o in decision.selected] == [o.trainee for o in history.decision.selected]
    cells = args.n * args.assessments
    for name, run in (("scorecards", ours), ("history", history)):
        print(
            f"{name:>10}: read {run.read:.3f} s + select {run.rank:.3f} s = {run.seconds:.3f} s "
            f"(median of {args.repeat})"
        )
    print(f"{len(decision.selected)} selected in {len(decision.pools)} pools; same inputs hash")
    print(
        f"RESULT select n={args.n} assessments={args.assessments} seconds={ours.seconds:.3f} "
        f"rows_per_s={cells / ours.seconds:.0f} history_s={history.seconds:.3f} "
        f"ratio_to_history={ours.seconds / history.seconds:.2f} target_s={TARGET_S} "
        f"ratio_to_target={ours.seconds / TARGET_S:.2f}"
    )


@dataclass
class Run:
    """Medians of the timed runs of one reader, and its last decision."""

    read: float
    rank: float
    seconds: float
    decision: Decision


def timed(sessions: Any, policy: SelectionPolicy, reader: Any, repeat: int) -> Run:
    """Read the candidates with `reader` and select, `repeat` times."""
    times: list[tuple[float, float, float]] = []
    for _ in range(repeat):
        with sessions() as s:
            t0 = time.perf_counter()
            got = reader(s, COHORT, policy)
            t1 = time.perf_counter()
            decision = select(policy, got.sheet if isinstance(got, db.Gathered) else got)
            t2 = time.perf_counter()
        times.append((t1 - t0, t2 - t1, t2 - t0))
    read, rank, total = (statistics.median(x) for x in zip(*times, strict=True))
    return Run(read, rank, total, decision)


if __name__ == "__main__":
    main()
