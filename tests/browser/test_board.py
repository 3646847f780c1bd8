"""An instructor runs an assessment from the board, in the order of a real week (the tests of this
module build on each other): release; trainee001 submits; the deadline moves into the past (with
a reason); trainee005 submits late; trainee001 gets an extension (with a reason); both reasons
are in the audit log; grading queued elsewhere shows on the board, for two staff watching, and
ends by itself; a resubmission is graded from the board with live progress; feedback is
released; the grades export; the submissions table filters and sorts; one submission shows its
graded cells, logs and history. Screenshots of each page at each step, in Korean and English.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from tests.support.hub import ROOT, RunningHub, sadari

from .conftest import COHORT, SERVICE, NewPage, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-basics-check"
BOARD = f"{SERVICE}board/{COHORT}/data-analysis/basics"
SOURCE = ROOT / "labs/data-analysis/basics/assessments/da-basics-check/da-basics-check.ipynb"
EX = "/services/sadari/api/v1/exchange"
SEOUL = ZoneInfo("Asia/Seoul")
GRADING = 180_000  # ms: grading two notebooks in the sandbox, with room to spare


def notebook(solved: bool) -> bytes:
    """The assessment's notebook answered (the instructor's solutions) or not (the stubs)."""
    nb = json.loads(SOURCE.read_text(encoding="utf-8"))
    if not solved:
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = "# YOUR CODE HERE\nraise NotImplementedError()"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{AID}.ipynb", json.dumps(nb))
    return out.getvalue()


def submit(hub: RunningHub, user: str, solved: bool) -> int:
    """The trainee submits through the exchange, as nbgrader's Assignment List does."""
    r = hub.call(user, "POST", f"{EX}/assignments/{AID}/submissions", data=notebook(solved))
    assert r.status_code == 201, r.text
    sid: int = r.json()["submission"]["id"]
    return sid


def seoul(days: int) -> str:
    """A datetime-local value on the cohort's clock, `days` from now."""
    return (datetime.now(SEOUL) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def section(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(f"#a-{AID}")


async def state(page: Page, value: str | re.Pattern[str], timeout: float = 10_000) -> None:
    await expect(section(page).locator(".state")).to_have_attribute(
        "data-state", value, timeout=timeout
    )


async def count(page: Page, name: str) -> str:
    return (await section(page).locator(f"td.count-{name}").inner_text()).strip()


async def test_release_from_the_board(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    await state(page, "not_released")
    assert await axe(page) == []
    await screenshot(page, "board-not-released-ko")
    await section(page).get_by_role("button", name="배포", exact=True).click()
    await expect(page.locator("#notice")).to_contain_text("배포했습니다: 버전 1")
    # open, or past the deadline already (the demo's dates are fixed in the curriculum)
    await state(page, re.compile("^(released|collecting)$"))


async def test_deadline_and_extension_need_a_reason_and_reach_the_audit_log(
    hub: RunningHub, new_page: NewPage
) -> None:
    submit(hub, "trainee001", solved=True)
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    card = section(page)
    await card.get_by_text("마감 변경하기").click()
    await card.locator(f"#due-{AID}").fill(seoul(-1))
    await card.get_by_role("button", name="변경").click()  # no reason: the browser asks for one
    assert await card.locator(f"#due-reason-{AID}").evaluate("e => !e.validity.valid")
    await card.locator(f"#due-reason-{AID}").fill("서버 점검 / maintenance")
    await card.get_by_role("button", name="변경").click()
    await expect(page.locator("#notice")).to_contain_text("마감을")
    await expect(card.locator("time.due")).to_have_text(seoul(-1).replace("T", " "))

    submit(hub, "trainee005", solved=False)  # after the deadline: late
    await card.get_by_text("기한 연장하기").click()
    await card.locator(f"#ext-user-{AID}").select_option("trainee001")
    await card.locator(f"#ext-due-{AID}").fill(seoul(1))
    await card.locator(f"#ext-reason-{AID}").fill("병가 / sick leave")
    await card.get_by_role("button", name="연장", exact=True).click()
    await expect(page.locator("#notice")).to_contain_text("trainee001 님은")
    await expect(card.locator("table.extensions")).to_contain_text("병가 / sick leave")

    admin = await new_page()
    await login(admin, hub, "admin", f"{SERVICE}admin")
    audit = admin.locator("#audit")
    for action, reason in [
        ("assessment.set_due", "서버 점검 / maintenance"),
        ("assessment.extension", "병가 / sick leave"),
    ]:
        row = audit.locator("tr", has=admin.locator("code", has_text=action))
        await expect(row).to_contain_text(reason)


async def test_grading_queued_elsewhere_shows_on_the_board_and_ends_by_itself(
    hub: RunningHub, new_page: NewPage
) -> None:
    queued = sadari(hub.env, "assessment", "autograde", AID, "--cohort", COHORT, "--queue-only")
    assert queued.returncode == 0
    watchers = []
    for who in ("instructor", "admin"):  # two staff watching the same board
        page = await new_page()
        await login(page, hub, who, BOARD)
        await state(page, "grading")
        await expect(section(page).locator(".progress-area")).to_be_visible()
        await expect(section(page).locator(".progress-text")).to_contain_text("2건 중")
        watchers.append(page)
    await screenshot(watchers[0], "board-grading-ko")
    await asyncio.to_thread(sadari, hub.env, "grading", "work")
    for page in watchers:  # each page reloads itself when the queue is empty
        await state(page, "graded", timeout=GRADING)
    page = watchers[0]
    assert [await count(page, n) for n in ("submitted", "on-time", "late", "graded")] == [
        "2",
        "1",
        "1",
        "2",
    ]


async def test_autograde_from_the_board_with_live_progress(
    hub: RunningHub, new_page: NewPage
) -> None:
    submit(hub, "trainee005", solved=True)  # a better answer, still late
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    assert await count(page, "waiting") == "1"
    await section(page).get_by_role("button", name="수집 후 자동 채점").click()
    progress = section(page).locator(".progress-text")
    await expect(section(page).locator(".progress-area")).to_be_visible()
    await expect(progress).to_contain_text(re.compile(r"\d+건 중 \d+건 채점"))
    await expect(page.locator("#notice")).to_contain_text("채점을 마쳤습니다", timeout=GRADING)
    await state(page, "graded")
    assert await count(page, "waiting") == "0"


async def test_feedback_release_and_export(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    await section(page).get_by_role("button", name="피드백 배포").click()
    # the preview says who would get it and who is left out; only its confirmation releases
    await page.locator("#feedback-preview .preview-confirm").click()
    await expect(page.locator("#notice")).to_contain_text("피드백을", timeout=GRADING)
    await expect(section(page).locator(".state")).to_have_attribute(
        "data-state", re.compile("graded|feedback_released")
    )
    async with page.expect_download() as download:
        await section(page).get_by_role("link", name="CSV 내보내기").click()
    csv = (await (await download.value).path()).read_text(encoding="utf-8-sig")
    assert "trainee001" in csv and "trainee005" in csv
    for lang in ("ko", "en"):
        await page.goto(f"{hub.url}{BOARD}?lang={lang}")
        await screenshot(page, f"board-graded-{lang}")
        assert await axe(page) == []


async def test_the_submissions_table_filters_and_sorts(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    await section(page).get_by_role("link", name="제출물").click()
    rows = page.locator("#submissions tbody tr:not([hidden])")
    await expect(rows).to_have_count(2)
    await page.locator("a.filter", has_text="지각").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-username", "trainee005")
    await expect(page).to_have_url(re.compile(r"show=late"))
    await page.locator("a.filter", has_text="전체").click()
    final = page.locator("#submissions th", has_text="최종")
    await final.get_by_role("button").click()
    await expect(final).to_have_attribute("aria-sort", "ascending")
    assert [await r.get_attribute("data-username") for r in await rows.all()] == [
        "trainee005",  # 10 points less the 50 % late penalty
        "trainee001",
    ]
    await final.get_by_role("button").click()
    await expect(final).to_have_attribute("aria-sort", "descending")
    await expect(rows.first).to_have_attribute("data-username", "trainee001")
    for lang in ("ko", "en"):
        await page.goto(f"{hub.url}{SERVICE}assessments/{COHORT}/{AID}?lang={lang}")
        await screenshot(page, f"submissions-graded-{lang}")
        assert await axe(page) == []


async def test_one_submission_with_its_cells_logs_and_history(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}assessments/{COHORT}/{AID}")
    await page.locator("#submissions").get_by_role("link", name="trainee005").click()
    await expect(page.locator("#history tbody tr")).to_have_count(2)
    await expect(page.locator("#history")).to_contain_text("최신")
    cells = page.locator("#tests tr.grade")
    await expect(cells).to_have_count(5)
    await cells.first.get_by_text("보기").click()
    await expect(cells.first.locator("pre.log")).to_be_visible()
    await expect(page.locator("#final")).to_contain_text("5")
    await expect(page.locator(".nb-graded").first).to_be_visible()
    for lang in ("ko", "en"):
        await page.goto(f"{page.url.split('?')[0]}?lang={lang}")
        await screenshot(page, f"submission-{lang}")
        assert await axe(page) == []
