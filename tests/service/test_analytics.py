"""Analytics against a real database (SQLite and PostgreSQL): the workflow (hub/analytics.py)
reads graded, late, failed, manual and missing submissions, extensions and stages in a fixed
number of queries; the JSON and CSV endpoints and both pages answer instructors (a tornado app
with a stand-in for HubOAuth, no hub), refuse trainees, and say when the hub's activity is
unknown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from sadari.hub import analytics
from sadari.hub.core import permissions as perm
from sadari.hub.core.curriculum import Curriculum
from sadari.hub.core.roster import parse_roster
from sadari.hub.handlers import default_handlers
from sadari.hub.handlers.base import CSP, StaticHandler
from sadari.hub.hubapi import HubActivity, HubAPIError
from sadari.hub.service import STATIC, Context, page_templates
from sadari.hub.settings import SadariSettings
from sadari.hub.storage import LocalBlobStore
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import session_factory
from tests.support.service import FakeAuth

COHORT = "2026-seoul-1"
AID = "da-basics-check"  # 10 points, due +13d 18:00 KST, 10 %/hour late, cap 50 %
DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# username, track, stage, (q1 of 4, q2 of 6) | "failed" | "manual" | None (no submission), hours
# before (-) or after (+) the due instant
PEOPLE = [
    ("s01", "data-analysis", "basics", (4, 6), -30),
    ("s02", "data-analysis", "basics", (3, 5), -5),
    ("s03", "data-analysis", "basics", (2, 4), -3),
    ("s04", "data-analysis", "basics", (1, 2), -2),
    ("s05", "data-analysis", "basics", (0, 1), -1),
    ("s06", "data-analysis", "basics", (4, 6), 2),  # 2 hours late: 20 % off, final 8
    ("s07", "data-analysis", "basics", "failed", -4),
    ("s08", "data-analysis", "basics", None, 0),  # missed
    ("s09", "data-analysis", "basics", "manual", -6),
    ("s10", "data-analysis", "advanced", None, 0),  # advanced: nothing due yet
    ("s11", "vision-ai", "basics", None, 0),  # missed va-basics-check
    ("s12", "data-analysis", "basics", None, 0),  # extension to December: not missed
]


@dataclass
class Cell:
    notebook: str
    cell: str
    score: float | None
    max_score: float
    kind: str = "auto"


def build(engine: Any, cur: Curriculum) -> Any:
    sessions = session_factory(engine)
    lines = ["username,name,cohort,track,stage,role", "inst,강사,,,,instructor"]
    lines += [f"{u},교육생 {u},{COHORT},{t},{st},trainee" for u, t, st, _, _ in PEOPLE]
    lines.append(f"s13,=HYPERLINK(1),{COHORT},data-analysis,basics,trainee")  # missed too
    data = "\n".join(lines).encode()
    with sessions.begin() as s:
        repo.sync_curriculum(s, cur, NOW)
        repo.import_roster(
            s, parse_roster(data, "r.csv", cur), data=data, file="r.csv", actor="t", now=NOW
        )
        (a,) = ex.cohort_assessments(s, AID, COHORT)
        for u, _, _, what, hours in PEOPLE:
            if what is None:
                continue
            at = DUE + timedelta(hours=hours, minutes=-1 if hours <= 0 else 0)
            sub = ex.record_submission(
                s, repo.member(s, u), a, None, sha256="0" * 64, size=1, files=[], now=at
            )
            if what == "failed":
                ex.record_failure(s, sub, "kernel died", now=at)
            elif what == "manual":
                cells = [Cell("nb.ipynb", "q1", 2, 4), Cell("nb.ipynb", "q2", None, 6, "manual")]
                ex.record_grades(s, sub, cells, actor="grader", now=at)
            else:
                q1, q2 = what
                cells = [Cell("nb.ipynb", "q1", q1, 4), Cell("nb.ipynb", "q2", q2, 6)]
                ex.record_grades(s, sub, cells, actor="grader", now=at)
        ex.grant_extension(
            s, a, "s12", datetime(2026, 12, 5, tzinfo=UTC), actor="inst", reason="병가", now=NOW
        )
    return sessions


def count_queries(engine: Any) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_assessment_analytics(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = build(engine, curriculum)
    with sessions() as s:
        seen = count_queries(engine)
        d = analytics.assessment(s, AID, None, NOW)
    assert len(seen) <= 10, seen  # a fixed number, whatever the number of trainees
    assert d["cohort"]["id"] == COHORT  # the cohort with submissions, none asked for
    assert d["cohorts"] == ["2026-busan-1", COHORT]
    assert d["counts"] == {
        "trainees": 11,  # active in data-analysis basics (s10 and s11 are not)
        "submitted": 8,
        "submissions": 8,
        "scored": 6,
        "late": 1,
        "waiting": 0,
        "needs_manual": 1,
        "failed": 1,
    }
    assert [b["count"] for b in d["histogram"]] == [0, 1, 0, 1, 0, 0, 1, 0, 2, 1]
    assert d["summary"]["mean"] == pytest.approx((100 + 80 + 60 + 30 + 10 + 80) / 6)
    q1, q2 = d["questions"]
    assert (q1["label"], q1["max_points"], d["group_size"]) == ("q1", 4.0, 2)
    # upper by raw total: s01 and s06 (10 each); lower: s04 (3) and s05 (1)
    assert q1["discrimination"] == pytest.approx((4 - 0.5) / 4)
    assert q2["discrimination"] == pytest.approx((6 - 1.5) / 6)
    assert q1["mean"] == pytest.approx(14 / 6)
    line = d["timeline"]
    assert line["unit"] == "hour"  # from 30 hours before the due instant to 2 hours after
    assert len(line["points"]) == 34 and line["points"][0]["label"] == "11-28 11:00"  # KST
    last = line["points"][-1]
    assert (last["on_time"], last["late"]) == (7, 1)
    assert line["due_index"] is not None and line["due_at"] == DUE


def test_cohort_analytics(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = build(engine, curriculum)
    seen_at = {
        "s01": NOW - timedelta(hours=1),
        "s02": NOW - timedelta(days=10),
        "s03": None,
    }
    with sessions() as s:
        seen = count_queries(engine)
        d = analytics.cohort(s, COHORT, NOW, seen_at, 3, None, NOW - timedelta(seconds=20))
        unknown = analytics.cohort(s, COHORT, NOW, None, 3, "no hub API")
    assert len(seen) <= 2 * 10, seen
    funnel = {f["stage"]: (f["reached"], f["by_track"]) for f in d["funnel"]}
    assert funnel["basics"] == (13, {"data-analysis": 12, "vision-ai": 1})
    assert funnel["advanced"] == (1, {"data-analysis": 1, "vision-ai": 0})
    assert funnel["project"][0] == 0
    why = {
        r["username"]: [(x["kind"], x["assessment"]) for x in r["reasons"]] for r in d["at_risk"]
    }
    assert why["s07"][0] == ("failed", AID)
    assert why["s08"][0] == ("missed", AID) and why["s13"][0] == ("missed", AID)
    assert why["s11"][0] == ("missed", "va-basics-check")
    assert why["s04"][0][0] == "low" and why["s05"][0][0] == "low"  # 30 % and 10 % of six
    assert ("inactive", None) in why["s02"] and "s01" not in why
    assert "s12" not in {u for u, w in why.items() if ("missed", AID) in w}  # extended
    assert "s10" in why and why["s10"] == [("inactive", None)]  # never seen by the hub
    rows = {r["username"]: r for r in d["at_risk"]}
    assert rows["s07"]["link"].startswith("submissions/")
    assert rows["s08"]["link"] == f"assessments/{COHORT}/{AID}?show=not_submitted"
    assert rows["s04"]["reasons"][0]["limit"] == pytest.approx(30.0)
    assert d["activity"] == {"known": True, "note": None, "as_of": NOW - timedelta(seconds=20)}
    assert unknown["activity"] == {"known": False, "note": "no hub API", "as_of": None}
    assert {r["username"] for r in unknown["at_risk"]} == {"s04", "s05", "s07", "s08", "s11", "s13"}
    csv = analytics.chart_csv(d, "at_risk").decode("utf-8-sig")
    assert csv.splitlines()[0] == "username,name,track,stage,mean_percent,reasons"
    assert "'=HYPERLINK(1)" in csv  # not a formula in a spreadsheet


def test_empty_cohort_and_assessment(engine, curriculum: Curriculum) -> None:  # type: ignore[no-untyped-def]
    sessions = session_factory(engine)
    with sessions.begin() as s:
        repo.sync_curriculum(s, curriculum, NOW)
    with sessions() as s:
        d = analytics.assessment(s, AID, COHORT, NOW)
        c = analytics.cohort(s, COHORT, NOW, {}, 3)
    assert d["counts"]["submitted"] == 0 and d["questions"] == [] and d["summary"]["mean"] is None
    assert [(p["on_time"], p["late"]) for p in d["timeline"]["points"]] == [(0, 0)]
    assert c["at_risk"] == [] and [f["reached"] for f in c["funnel"]] == [0, 0, 0]
    header = analytics.chart_csv(d, "questions").decode("utf-8-sig").strip()
    assert header.startswith("notebook,cell,max_points")


# --- the endpoints and pages ---------------------------------------------------------------------


class FakeHub:
    """The hub API's user list: s01 active an hour ago, or the hub refusing; with the
    service's copy of it (the real HubActivity, reading this stand-in)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.activity = HubActivity(self)
        self.reads = 0

    async def users(self) -> list[dict[str, Any]]:
        self.reads += 1
        if self.fail:
            raise HubAPIError(503, "hub down")
        recent = (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        return [{"name": "s01", "last_activity": None, "servers": {"": {"last_activity": recent}}}]


async def test_endpoints_and_pages(engine, curriculum: Curriculum, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sessions = build(engine, curriculum)
    roles = {"inst": "instructor", "s01": "trainee"}
    ctx = Context(
        settings=SadariSettings(data_dir=str(tmp_path)),
        engine=engine,
        sessions=sessions,
        curriculum=curriculum,
        hub=FakeHub(),  # type: ignore[arg-type]
        hub_auth=FakeAuth({u: perm.ROLE_SCOPES[r] for u, r in roles.items()}),  # type: ignore[arg-type]
        templates=page_templates(),
        prefix="/services/sadari/",
        blobs=LocalBlobStore(tmp_path / "blobs"),
        now=lambda: NOW,
    )
    sock, port = bind_unused_port()
    app = Application(
        default_handlers,
        sadari=ctx,
        cookie_secret="x" * 32,
        static_path=str(STATIC),
        static_url_prefix="/static/",
        static_handler_class=StaticHandler,
    )
    server = HTTPServer(app)
    server.add_sockets([sock])
    client = AsyncHTTPClient()

    async def get(who: str, path: str) -> Any:
        return await client.fetch(
            f"http://127.0.0.1:{port}/{path}",
            headers={"Authorization": f"token {who}"},
            raise_error=False,
            follow_redirects=False,
        )

    api = "api/v1"
    try:
        r = await get("inst", f"{api}/assessments/{AID}/analytics?cohort={COHORT}")
        assert r.code == 200 and r.headers["Cache-Control"] == "no-store"
        body = json.loads(r.body)
        assert body["counts"]["scored"] == 6 and body["assessment"]["due_at"] == DUE.isoformat()
        r = await get("inst", f"{api}/assessments/{AID}/analytics?format=csv&chart=histogram")
        assert r.code == 200 and r.headers["Content-Type"].startswith("text/csv")
        assert r.body.decode("utf-8-sig").splitlines()[:2] == [
            "from_percent,to_percent,trainees",
            "0.0,10.0,0",
        ]
        assert f'"{COHORT}-{AID}-histogram.csv"' in r.headers["Content-Disposition"]
        for chart in ("questions", "timeline"):
            r = await get("inst", f"{api}/assessments/{AID}/analytics?format=csv&chart={chart}")
            assert r.code == 200, chart
        r = await get("inst", f"{api}/assessments/{AID}/analytics?format=csv&chart=funnel")
        assert r.code == 400 and "histogram, questions, timeline" in json.loads(r.body)["message"]
        r = await get("inst", f"{api}/assessments/nope-check/analytics")
        assert r.code == 404 and json.loads(r.body)["status"] == 404
        r = await get("s01", f"{api}/assessments/{AID}/analytics")
        assert r.code == 403

        r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?days=3")
        body = json.loads(r.body)
        assert r.code == 200 and body["activity"]["known"] is True
        assert datetime.fromisoformat(body["activity"]["as_of"]) <= NOW  # when the hub was read
        risky = {x["username"] for x in body["at_risk"]}
        assert "s01" not in risky and "s02" in risky  # the hub saw s01 an hour ago, not s02
        r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?format=csv&chart=funnel")
        lines = r.body.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("stage,position,reached") and lines[1].startswith("basics,1,13")
        total = body["counts"]["at_risk"]
        assert body["at_risk_page"]["total"] == total == len(body["at_risk"])
        r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?reason=failed&per_page=1")
        one = json.loads(r.body)
        assert [x["username"] for x in one["at_risk"]] == ["s07"]
        assert one["at_risk_page"]["total"] == one["counts"]["failed"] == 1
        r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?format=csv&chart=at_risk")
        assert len(r.body.decode("utf-8-sig").splitlines()) == total + 1
        assert '"2026-seoul-1-at_risk.csv"' in r.headers["Content-Disposition"]
        r = await get(
            "inst", f"{api}/cohorts/{COHORT}/analytics?format=csv&chart=at_risk&reason=missed"
        )
        assert r.body.decode("utf-8-sig").splitlines()[1].split(",")[0] in ("s08", "s11", "s13")
        for bad in ("reason=lazy", "page=0", "page=x", "per_page=5000"):
            r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?{bad}")
            assert r.code == 400, bad
        r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?format=csv&chart=at_risk&reason=x")
        assert r.code == 400
        for bad in ("days=0", "days=abc", "days=366"):
            r = await get("inst", f"{api}/cohorts/{COHORT}/analytics?{bad}")
            assert r.code == 400, bad
        assert (await get("inst", f"{api}/cohorts/2099-nowhere/analytics")).code == 404
        assert (await get("s01", f"{api}/cohorts/{COHORT}/analytics")).code == 403

        assert ctx.hub.reads == 1  # every request since answered from the service's copy

        ctx.hub = FakeHub(fail=True)  # the hub refuses: the rest still answers, with a note
        body = json.loads((await get("inst", f"{api}/cohorts/{COHORT}/analytics")).body)
        assert body["activity"] == {
            "known": False,
            "note": "HubAPIError: JupyterHub API error 503: hub down",
            "as_of": None,
        }
        await get("inst", f"{api}/cohorts/{COHORT}/analytics")
        assert ctx.hub.reads == 1  # a failed read is not tried again by every request

        page = await get("inst", f"assessments/{AID}/analytics?cohort={COHORT}&lang=en")
        assert page.code == 200 and page.headers["Content-Security-Policy"] == CSP
        html = page.body.decode()
        assert 'id="chart-histogram"' in html and "<caption" in html and "<script>" not in html
        assert "vendor/chart.js/chart.umd.min.js?v=" in html
        page = await get("inst", f"cohorts/{COHORT}/analytics?lang=ko")
        html = page.body.decode()
        assert page.code == 200 and 'data-reason="missed"' in html and "activity-note" in html
        assert "=HYPERLINK(1)" in html and "<script>" not in html
        page = await get("inst", f"cohorts/{COHORT}/analytics?lang=en&per_page=2&page=2")
        html = page.body.decode()
        assert page.code == 200 and 'rel="next"' in html and 'rel="prev"' in html
        assert html.count("<tr data-username=") == 2 and 'id="at-risk-reasons"' in html
        assert (await get("s01", f"cohorts/{COHORT}/analytics")).code == 403
        js = await get("inst", "vendor/chart.js/chart.umd.min.js")
        assert js.code == 200 and b"Chart.js v4" in js.body[:200]
        assert js.headers["Content-Security-Policy"] == CSP
        assert (await get("inst", "vendor/chart.js/chart.js")).code == 404  # that file only
    finally:
        server.stop()
