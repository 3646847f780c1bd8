"""The instructors' analytics pages and their JSON/CSV endpoints, and the chart library.

- GET /assessments/AID/analytics?cohort=: an assessment's score distribution, questions
  (mean, discrimination) and submissions over time against the deadline;
- GET /cohorts/COHORT/analytics?days=3&reason=&page=: a cohort's stage funnel, how many
  trainees are at risk for each reason, and one page of them (most at risk first, `reason`
  one of missed, failed, low, inactive to list only those);
- GET /api/v1/assessments/AID/analytics?cohort=[&format=csv&chart=histogram|questions|timeline]
  and GET /api/v1/cohorts/COHORT/analytics?days=&reason=&page=&per_page=
  [&format=csv&chart=funnel|at_risk]: the same data as JSON (one page of the trainees at risk,
  100 by default), or one chart's data table as CSV (at_risk: every trainee at risk, or every
  one with `reason`);
- GET /vendor/chart.js/chart.umd.min.js: Chart.js from node_modules (package.json).

Charts are drawn by Chart.js (npm `chart.js`, vendored through package.json and served here, no
CDN). Why Chart.js: one self-contained file (its UMD build bundles its only dependency), it
draws on a canvas without `eval` or `new Function` and injects no style elements, so it runs
under the service's strict Content-Security-Policy (script-src 'self', style-src 'self') as it
is; it exports a chart as PNG with `toBase64Image()`. Vega-Lite would need `vega-interpreter`
to avoid `eval` under that policy, and several packages more. The data come from the service
(hub/analytics.py over core/analytics.py), embedded in the page as JSON (not executed) and
drawn by static/analytics.js; every chart has its data as a table under it, and a CSV link.

The pages only read. The cohort page takes the trainees' last activity from the service's copy
of the hub's user list (hub/hubapi.py `HubActivity` via hub/analytics.py `activity`) and says how
old it is; when nothing could be read from the hub yet it says so and shows the rest.
These routes come before the board's (`/assessments/COHORT/AID` would take
`/assessments/AID/analytics` for an assessment named "analytics").
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from tornado import web

from .. import analytics
from ..core import permissions as perm
from ..store.repo import Invalid
from .base import ApiError, ApiHandler, StaticHandler
from .exchange import AID
from .pages import PageHandler

SLUG = r"([a-z0-9][a-z0-9-]{0,63})"
CHART_JS = "chart.umd.min.js"
DEFAULT_DAYS = 3


def chart_js_dir(project_dir: str) -> Path:
    """Where npm put Chart.js's browser build."""
    return Path(project_dir) / "node_modules" / "chart.js" / "dist"


@cache
def chart_js_version(project_dir: str) -> str:
    """The installed Chart.js version (for the file's URL, so a new version is fetched anew)."""
    try:
        meta = json.loads((chart_js_dir(project_dir).parent / "package.json").read_text())
        return str(meta.get("version", "0"))
    except (OSError, ValueError):
        return "0"


def jsonable(value: Any) -> Any:
    """`value` with datetimes as ISO 8601 text (for JSON bodies and the pages' data)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _json_value(value: Any) -> Any:
    """What json.dumps cannot write itself: datetimes as ISO 8601 text (as `jsonable`)."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def days_argument(handler: web.RequestHandler) -> int:
    """`?days=`: whole days without server activity that make a trainee at risk (default 3)."""
    raw = handler.get_argument("days", str(DEFAULT_DAYS)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= analytics.MAX_INACTIVE_DAYS:
        raise Invalid(
            f"days must be a whole number from 1 to {analytics.MAX_INACTIVE_DAYS} "
            "/ 일수는 1~365 사이의 정수입니다"
        )
    return int(raw)


def paging_arguments(handler: web.RequestHandler) -> dict[str, Any]:
    """`?reason=missed|failed|low|inactive&page=1&per_page=100`: which page of the trainees at
    risk (the counts and the CSV are over the whole cohort)."""
    reason = handler.get_argument("reason", "").strip() or None
    page, per_page = (
        handler.get_argument(k, str(d)).strip()
        for k, d in (("page", 1), ("per_page", analytics.PAGE_ROWS))
    )
    if not page.isdigit() or not per_page.isdigit():
        raise Invalid("page and per_page must be whole numbers / 쪽 번호는 정수입니다")
    return {"reason": reason, "page": int(page), "per_page": int(per_page)}


class ChartJsStatic(StaticHandler):
    """GET /vendor/chart.js/chart.umd.min.js: Chart.js's UMD build from node_modules."""

    def initialize(self, path: str = "", **kwargs: Any) -> None:  # type: ignore[override]
        """Serve node_modules/chart.js/dist of the project folder."""
        project = self.settings["sadari"].settings.project_dir
        super().initialize(path or str(chart_js_dir(project)), **kwargs)


class _Analytics:
    """What the pages and the API share: reading the analytics off the event loop."""

    ctx: Any

    async def assessment_data(self, aid: str, cohort: str | None) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            with self.ctx.sessions() as s:
                return analytics.assessment(s, aid, cohort, self.ctx.now())

        return await asyncio.to_thread(read)

    async def cohort_data(
        self, cohort: str, days: int, paging: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        snapshot, note = await analytics.activity(self.ctx.hub)
        now = self.ctx.now()
        last = snapshot.seen if snapshot else None
        # when the hub was read, on the service clock
        at = now - timedelta(seconds=snapshot.age()) if snapshot else None

        def read() -> dict[str, Any]:
            with self.ctx.sessions() as s:
                return analytics.cohort(s, cohort, now, last, days, note, at, **(paging or {}))

        return await asyncio.to_thread(read)

    async def at_risk_csv(self, cohort: str, days: int, reason: str | None) -> bytes:
        snapshot, _ = await analytics.activity(self.ctx.hub)
        now = self.ctx.now()
        last = snapshot.seen if snapshot else None

        def read() -> bytes:
            with self.ctx.sessions() as s:
                return analytics.at_risk_csv(s, cohort, now, last, days, reason)

        return await asyncio.to_thread(read)

    def chart_js_url(self) -> str:
        """Where the pages load Chart.js from."""
        project = self.ctx.settings.project_dir
        return f"{self.ctx.prefix}vendor/chart.js/{CHART_JS}?v={chart_js_version(project)}"


class AssessmentAnalyticsPage(_Analytics, PageHandler):
    """GET /assessments/AID/analytics?cohort=: the charts of one assessment in one cohort."""

    @web.authenticated
    async def get(self, aid: str) -> None:
        """Render analytics_assessment.html."""
        who = self.caller(perm.INSTRUCT)
        cohort = self.get_query_argument("cohort", "") or None
        data = await self.assessment_data(aid, cohort)
        with self.ctx.sessions() as s:
            me = self.me(s, who)
        self.render_page(
            "analytics_assessment.html",
            me=me,
            data=data,
            payload=jsonable(data),
            zone=data["zone"],
            chart_js=self.chart_js_url(),
            api=f"{self.ctx.prefix}api/v1/assessments/{aid}/analytics?cohort="
            + data["cohort"]["id"],
        )


class CohortAnalyticsPage(_Analytics, PageHandler):
    """GET /cohorts/COHORT/analytics?days=3: the funnel and the trainees at risk."""

    @web.authenticated
    async def get(self, cohort: str) -> None:
        """Render analytics_cohort.html."""
        who = self.caller(perm.INSTRUCT)
        days = days_argument(self)
        paging = paging_arguments(self)
        data = await self.cohort_data(cohort, days, paging)
        per_page = paging["per_page"]
        sized = f"&per_page={per_page}" if per_page != analytics.PAGE_ROWS else ""
        with self.ctx.sessions() as s:
            me = self.me(s, who)
        self.render_page(
            "analytics_cohort.html",
            me=me,
            data=data,
            payload=jsonable({k: data[k] for k in ("cohort", "tracks", "funnel")}),
            kinds=analytics.core.KINDS,
            zone=data["zone"],
            chart_js=self.chart_js_url(),
            page_url=f"{self.ctx.prefix}cohorts/{cohort}/analytics?days={days}{sized}",
            api=f"{self.ctx.prefix}api/v1/cohorts/{cohort}/analytics?days={days}",
        )


class _AnalyticsApi(_Analytics, ApiHandler):
    charts: tuple[str, ...] = ()

    def answer(self, data: dict[str, Any], name: str) -> None:
        """JSON, or `?format=csv&chart=` one chart's data table."""
        fmt = self.get_argument("format", "json")
        if (
            fmt == "json"
        ):  # as write_json(jsonable(data)), without copying tens of thousands of rows
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(data, ensure_ascii=False, default=_json_value))
            return
        if fmt != "csv":
            raise ApiError(400, "format must be json or csv / 형식은 json 또는 csv입니다")
        chart = self.get_argument("chart", "")
        if chart not in self.charts:
            raise ApiError(400, f"chart must be one of {', '.join(self.charts)} / 차트를 고르세요")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}-{chart}.csv"')
        self.finish(analytics.chart_csv(data, chart))


class AssessmentAnalyticsApi(_AnalyticsApi):
    """GET /api/v1/assessments/AID/analytics?cohort=&format=json|csv&chart=: see the module."""

    charts = analytics.ASSESSMENT_CHARTS

    async def get(self, aid: str) -> None:
        """The assessment's analytics."""
        self.caller(perm.INSTRUCT)
        data = await self.assessment_data(aid, self.get_argument("cohort", "") or None)
        self.answer(data, f"{data['cohort']['id']}-{aid}")


class CohortAnalyticsApi(_AnalyticsApi):
    """GET /api/v1/cohorts/COHORT/analytics?days=&format=json|csv&chart=: see the module."""

    charts = analytics.COHORT_CHARTS

    async def get(self, cohort: str) -> None:
        """The cohort's analytics."""
        self.caller(perm.INSTRUCT)
        days, paging = days_argument(self), paging_arguments(self)
        if (
            self.get_argument("format", "json") == "csv"
            and self.get_argument("chart", "") == "at_risk"
        ):
            reason = paging["reason"]
            if reason is not None and reason not in analytics.core.KINDS:
                raise Invalid(
                    f"reason must be one of {', '.join(analytics.core.KINDS)} / 사유를 고르세요"
                )
            body = await self.at_risk_csv(cohort, days, reason)
            name = f"{cohort}-at_risk" + (f"-{reason}" if reason else "")
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{name}.csv"')
            self.finish(body)
            return
        data = await self.cohort_data(cohort, days, paging)
        self.answer(data, cohort)


analytics_handlers = [
    (f"/assessments/{AID}/analytics", AssessmentAnalyticsPage),
    (f"/cohorts/{SLUG}/analytics", CohortAnalyticsPage),
    (f"/api/v1/assessments/{AID}/analytics", AssessmentAnalyticsApi),
    (f"/api/v1/cohorts/{SLUG}/analytics", CohortAnalyticsApi),
    (r"/vendor/chart\.js/(chart\.umd\.min\.js)", ChartJsStatic),
]
