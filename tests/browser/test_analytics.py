"""The analytics pages in a real browser, as the instructor, in Korean and in English: the
assessment page (score distribution, questions, submissions over time) and the cohort page
(stage funnel, trainees at risk with their reasons as words); each chart drawn by Chart.js served
by the service, each with its data table; no console error (a script or style the
Content-Security-Policy refused would log one), the policy on the page's response, no serious or
critical accessibility violation (axe-core), a chart downloads as PNG; screenshots
analytics-assessment.png and analytics-cohort.png (Korean) and their -en twins.

The data: twelve more trainees in the demo cohort's data-analysis basics, graded, late, failed and
missing submissions of da-basics-check written straight into the hub's database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from sadari.hub.core.roster import parse_roster
from sadari.hub.handlers.base import CSP
from sadari.hub.service import load_curriculum_file
from sadari.hub.store import exchange as ex
from sadari.hub.store import repo
from sadari.hub.store.db import make_engine, session_factory
from tests.support.hub import ROOT, RunningHub

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-basics-check"
ASSESSMENT = f"{SERVICE}assessments/{AID}/analytics?cohort={COHORT}"
COHORT_PAGE = f"{SERVICE}cohorts/{COHORT}/analytics"
NOW = datetime.now(UTC)
# points of q1 (of 4) and q2 (of 6), hours after the due instant; None: no submission
SCORES = [
    (4, 6, -50),
    (4, 5, -30),
    (3, 6, -26),
    (3, 4, -20),
    (2, 5, -8),
    (2, 3, -5),
    (1, 4, -3),
    (2, 1, -1),
    (0, 2, -0.5),
    (3, 3, 1.5),
    (1, 0, 3),
    None,
]


@dataclass
class Cell:
    notebook: str
    cell: str
    score: float | None
    max_score: float
    kind: str = "auto"


@pytest.fixture(scope="module")
def data(hub: RunningHub) -> None:
    """Trainees and results of da-basics-check in the hub's database (the service reads it)."""
    cur = load_curriculum_file(ROOT / "labs" / "curriculum.yaml")
    engine = make_engine(hub.env["SADARI_DB_URL"])
    sessions = session_factory(engine)
    names = [f"an{k:02d}" for k in range(1, len(SCORES) + 1)]
    lines = ["username,name,cohort,track,stage"]
    lines += [  # the first three went on to the advanced stage
        f"{u},분석 {u},{COHORT},data-analysis,{'advanced' if k < 3 else 'basics'}"
        for k, u in enumerate(names)
    ]
    roster = "\n".join(lines).encode()
    try:
        with sessions.begin() as s:
            rows = parse_roster(roster, "r.csv", cur)
            repo.import_roster(s, rows, data=roster, file="r.csv", actor="test", now=NOW)
            (a,) = ex.cohort_assessments(s, AID, COHORT)
            ex.record_release(
                s, a, sha256="0" * 64, size=1, notebooks=[f"{AID}.ipynb"], actor="test", now=NOW
            )
            due = a.effective_due
            for u, score in zip(names, SCORES, strict=True):
                if score is None:
                    continue
                q1, q2, hours = score
                at = due + timedelta(hours=hours)
                sub = ex.record_submission(
                    s, repo.member(s, u), a, None, sha256="0" * 64, size=1, files=[], now=at
                )
                if u == "an08":
                    ex.record_failure(s, sub, "kernel died", now=at)
                    continue
                cells = [
                    Cell(f"{AID}.ipynb", "tidy", q1, 4),
                    Cell(f"{AID}.ipynb", "groupby", q2, 6),
                ]
                ex.record_grades(s, sub, cells, actor="grader", now=at)
    finally:
        engine.dispose()


async def open_page(page: Page, hub: RunningHub, url: str) -> None:
    """Log in as the instructor and open `url`; the page's response keeps the policy."""
    await login(page, hub, "instructor", f"{SERVICE}instructor")
    response = await page.goto(hub.url + url)
    assert response is not None and response.ok, url
    assert response.headers["content-security-policy"] == CSP


@pytest.mark.parametrize(("lang", "title"), [("ko", "분석"), ("en", "Analytics")])
async def test_assessment_analytics(
    hub: RunningHub, data: None, new_page: NewPage, lang: str, title: str
) -> None:
    page = await new_page(accept_downloads=True)
    watch = Watch(hub.url).attach(page)
    await open_page(page, hub, f"{ASSESSMENT}&lang={lang}")
    assert await page.locator("html").get_attribute("lang") == lang
    await expect(page.locator("h1")).to_contain_text(title if lang == "en" else "")
    for chart in ("histogram", "questions", "timeline"):
        await expect(page.locator(f"#chart-{chart}[data-drawn='1']")).to_have_count(1)
    assert await page.locator("table.data-table caption").count() == 3
    assert await page.locator("#count-scored").inner_text() == "10"
    rows = page.locator("#histogram tbody tr")
    assert await rows.count() == 10
    questions = page.locator("#questions tbody tr")
    await expect(questions).to_have_count(2)
    await expect(page.locator("#timeline tr.due-row")).to_have_count(1)
    drawn = await page.evaluate(
        "[...document.querySelectorAll('canvas')].every(c => Chart.getChart(c) && c.width > 0)"
    )
    assert drawn
    if lang == "ko":
        async with page.expect_download() as info:
            await page.locator("button.png[data-chart='histogram']").click()
        png = await (await info.value).path()
        assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        csv = await page.request.get(
            hub.url + await page.locator("#histogram a[download]").get_attribute("href")  # type: ignore[operator]
        )
        assert csv.ok and (await csv.text()).startswith("\ufefffrom_percent,to_percent,trainees")
    watch.assert_quiet()  # before axe, whose own checks add style elements the policy refuses
    assert await axe(page) == []
    await page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    await screenshot(page, "analytics-assessment" + ("" if lang == "ko" else "-en"))


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_cohort_analytics(hub: RunningHub, data: None, new_page: NewPage, lang: str) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await open_page(page, hub, f"{COHORT_PAGE}?lang={lang}")
    await expect(page.locator("#chart-funnel[data-drawn='1']")).to_have_count(1)
    await expect(page.locator("#funnel tbody tr")).to_have_count(3)
    table = page.locator("#at-risk-table")
    await expect(table.locator("caption")).to_have_count(1)
    missed = table.locator("tr[data-username='an12'] li[data-reason='missed']")
    await expect(missed).to_have_count(1)
    failed = table.locator("tr[data-username='an08'] li[data-reason='failed'] a")
    assert (await failed.get_attribute("href") or "").startswith(f"{SERVICE}submissions/")
    low = table.locator("tr[data-username='an11'] li[data-reason='low']")
    await expect(low).to_have_count(1)
    # every reason says what it is in words, not by its colour alone
    for chip in await table.locator("li.chip").all():
        assert len((await chip.inner_text()).strip()) > 3
    # the days asked for are kept in the form and the links
    await page.locator("#days").fill("30")
    async with page.expect_navigation():
        await page.get_by_role("button", name="보기" if lang == "ko" else "Show").click()
    assert "days=30" in page.url
    watch.assert_quiet()
    assert await axe(page) == []
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "analytics-cohort" + ("" if lang == "ko" else "-en"))

    # the count of each reason filters the list by it; the list comes a page at a time
    watch.forget_harness()  # the policy refuses axe-core's own inline styles: not the page's
    total = int(await page.locator("#at-risk-count").inner_text())
    failed_link = page.locator("#at-risk-reasons a[data-reason='failed']")
    n_failed = int(await failed_link.locator(".badge").inner_text())
    assert 0 < n_failed < total
    async with page.expect_navigation():
        await failed_link.click()
    assert "reason=failed" in page.url and "days=30" in page.url
    await expect(failed_link).to_have_attribute("aria-current", "page")
    await expect(table.locator("tbody tr")).to_have_count(n_failed)
    await expect(table.locator("tbody tr:not(:has(li[data-reason='failed']))")).to_have_count(0)
    csv_link = page.locator("#at-risk a[download]")
    assert "chart=at_risk&reason=failed" in (await csv_link.get_attribute("href") or "")
    await page.goto(f"{hub.url}{COHORT_PAGE}?lang={lang}&per_page=4")
    await expect(table.locator("tbody tr")).to_have_count(4)
    first = await table.locator("tbody tr").first.get_attribute("data-username")
    async with page.expect_navigation():
        await page.locator("#at-risk-pages a[rel='next']").click()
    assert "page=2" in page.url
    await expect(table.locator("tbody tr")).to_have_count(min(4, total - 4))
    assert await table.locator("tbody tr").first.get_attribute("data-username") != first
    await expect(page.locator("#at-risk-shown")).to_contain_text(f"5–{min(8, total)}")
    watch.assert_quiet()
    assert await axe(page) == []
    await page.evaluate("document.getElementById('at-risk').scrollIntoView({behavior: 'instant'})")
    await screenshot(page, "analytics-cohort-paged" + ("" if lang == "ko" else "-en"))


async def test_linked_from_the_board_and_the_instructor_page(
    hub: RunningHub, data: None, new_page: NewPage
) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}instructor?lang=en")
    link = page.locator("#cohort-analytics a").first
    assert (await link.get_attribute("href") or "").endswith("/analytics")
    await page.goto(f"{hub.url}{SERVICE}board/{COHORT}/data-analysis/basics?lang=en")
    board_link = page.locator(f"#a-{AID} a.analytics")  # shown once it is released
    assert await board_link.get_attribute("href") == ASSESSMENT
    async with page.expect_navigation():
        await board_link.click()
    await expect(page.locator("#chart-histogram[data-drawn='1']")).to_have_count(1)
