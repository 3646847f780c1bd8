"""An assessment's week end to end, as the people do it in their browsers (the tests of this module
build on each other): the instructor releases pm-basics-check from the board; trainee002 fetches
and submits it from nbgrader's Assignment List in JupyterLab (on their own server); trainee006's
submission lacks the notebook; the instructor grades from the board with live progress and reads
the failed submission's reason; grades the written answer by hand with the rubric's levels;
moves the deadline into the past and releases the feedback from the board, after its preview of
who gets it; trainee002 sees the grade on their page and fetches the feedback in JupyterLab's
Assignment List. The instructor works only in the browser (deadlines with their reasons too).
Screenshots walk-*.png.

The demo cohort: trainee002 and trainee006 are in the product-manager track (pm-basics-check: late
submissions score zero, so once its deadline has passed nobody can gain by resubmitting and its
feedback, which shows hidden tests, may be released).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, expect

from tests.support.hub import ROOT, RunningHub

from .conftest import COHORT, SERVICE, NewPage, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "pm-basics-check"
TRAINEE, BROKEN = "trainee002", "trainee006"
BOARD = f"{SERVICE}board/{COHORT}/product-manager/basics"
SOURCE = ROOT / f"labs/product-manager/basics/assessments/{AID}/{AID}.ipynb"
LAB_LOAD = 120_000  # ms: a trainee's server and JupyterLab on a busy machine
GRADING = 180_000
SEOUL = ZoneInfo("Asia/Seoul")  # the demo cohort's clock


def section(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(f"#a-{AID}")


def answered(released: dict) -> dict:  # type: ignore[type-arg]
    """The released notebook with the instructor's answers typed into its solution cells."""
    source = {
        c["metadata"]["nbgrader"]["grade_id"]: c["source"]
        for c in json.loads(SOURCE.read_text(encoding="utf-8"))["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    nb = json.loads(json.dumps(released))
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in source:
            cell["source"] = source[gid]
    return nb


async def assignment_list(page: Page) -> None:
    """Open nbgrader's Assignment List from JupyterLab's command palette (again until it opens:
    while JupyterLab restores its layout the shortcut may do nothing, or the palette may close
    before it is typed into)."""
    palette = page.locator(".lm-CommandPalette-input")
    listing = page.locator("#released_assignments_list")
    for _ in range(10):
        await page.locator("#jp-main-dock-panel").click()
        await page.keyboard.press("Control+Shift+C")
        try:
            await expect(palette).to_be_visible(timeout=3_000)
            await palette.fill("Assignment List", timeout=3_000)
            await palette.press("Enter", timeout=3_000)
            await expect(listing).to_be_attached(timeout=10_000)
            return
        except (AssertionError, PlaywrightError):
            continue
    await expect(listing).to_be_attached(timeout=30_000)


async def set_deadline(page: Page, at: datetime, reason: str) -> None:
    """Move the assessment's deadline from the board (minutes on the cohort's clock)."""
    card = section(page)
    local = at.astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M")
    await card.get_by_text("마감 변경하기").click()
    await card.locator(f"#due-{AID}").fill(local)
    await card.locator(f"#due-reason-{AID}").fill(reason)
    await card.locator("form.due-form").get_by_role("button").click()
    await expect(card.locator("time.due")).to_have_text(local.replace("T", " "))


async def open_lab(page: Page, hub: RunningHub) -> None:
    await page.goto(f"{hub.url}/user/{TRAINEE}/lab")
    await expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=LAB_LOAD)


async def test_release_from_the_board(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    await section(page).get_by_role("button", name="배포", exact=True).click()
    await expect(section(page).locator(".state")).to_have_attribute(
        "data-state",
        re.compile("^(released|collecting)$"),  # not not_released
    )
    # open for an hour: submissions are on time
    await set_deadline(page, datetime.now(UTC) + timedelta(hours=1), "walkthrough")


async def test_a_trainee_fetches_and_submits_in_jupyterlab(
    hub: RunningHub, new_page: NewPage
) -> None:
    hub.start_server(TRAINEE, timeout=LAB_LOAD / 1000)
    page = await new_page()
    await login(page, hub, TRAINEE, f"/user/{TRAINEE}/lab")
    await open_lab(page, hub)
    await assignment_list(page)
    released = page.locator("#released_assignments_list").locator(
        ".list_item:not(.nested_list_item)", has_text=AID
    )
    await released.get_by_role("button", name="Fetch").click()
    fetched = page.locator("#fetched_assignments_list").locator(
        ".list_item:not(.nested_list_item)", has_text=AID
    )
    await expect(fetched).to_be_visible(timeout=30_000)
    await screenshot(page, "walk-assignment-list")

    # the trainee's answers, saved into the fetched notebook as JupyterLab saves it
    path = f"/user/{TRAINEE}/api/contents/{AID}/{AID}.ipynb"
    model = hub.call(TRAINEE, "GET", path).json()
    r = hub.call(
        TRAINEE,
        "PUT",
        path,
        json={"type": "notebook", "format": "json", "content": answered(model["content"])},
    )
    assert r.status_code == 200, r.text

    await fetched.get_by_role("button", name="Submit").click()
    submitted = page.locator("#submitted_assignments_list").locator(
        ".list_item:not(.nested_list_item)", has_text=AID
    )
    await expect(submitted).to_be_visible(timeout=60_000)
    await screenshot(page, "walk-submitted")


async def test_grading_from_the_board_shows_a_failed_submissions_reason(
    hub: RunningHub, new_page: NewPage
) -> None:
    # trainee006 hands in a folder without the assessment's notebook
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("my-draft.ipynb", SOURCE.read_text(encoding="utf-8"))
    r = hub.call(
        BROKEN, "POST", f"{SERVICE}api/v1/exchange/assignments/{AID}/submissions",
        data=out.getvalue(),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    await section(page).get_by_role("button", name="수집 후 자동 채점").click()
    await expect(section(page).locator(".state")).to_have_attribute(
        "data-state", re.compile("graded|grading"), timeout=GRADING
    )
    # trainee002's written answer waits for a human; trainee006's submission scores 0, rejected
    await expect(section(page).locator("td.count-needs-manual")).to_have_text("1", timeout=GRADING)
    await expect(section(page).locator("td.count-graded")).to_have_text("1", timeout=GRADING)
    await section(page).get_by_role("link", name="제출물").click()
    await page.locator("#submissions").get_by_role("link", name=BROKEN).click()
    await expect(page.locator("main")).to_contain_text(f"{AID}.ipynb was not submitted")
    await screenshot(page, "walk-failed-reason")


async def test_the_written_answer_is_graded_by_hand(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}assessments/{COHORT}/{AID}/grading")
    await page.locator("main a[href*='/grading/']").first.click()
    await expect(page.locator("#points")).to_be_visible()
    # the answers in turn until trainee002's (pseudonymous: the first to submit is #1)
    await page.locator("#points").fill("1")
    await page.locator("#comment").fill(
        "핵심은 맞지만 근거가 부족합니다 / right idea, thin evidence"
    )
    await page.get_by_role("button", name=re.compile("저장")).click()
    await expect(page.locator("main")).to_contain_text(re.compile("저장|버전 2"))
    await screenshot(page, "walk-manual-grade")


async def test_feedback_after_the_deadline_and_the_trainee_sees_it(
    hub: RunningHub, new_page: NewPage
) -> None:
    # the deadline passes: set to a minute (the form's precision) after the last submission
    r = hub.call("instructor", "GET", f"{SERVICE}api/v1/assessments/{AID}/grades?cohort={COHORT}")
    last = max(datetime.fromisoformat(row["submitted_at"]) for row in r.json()["rows"])
    last = last.replace(tzinfo=last.tzinfo or UTC)
    wait = (last + timedelta(seconds=61) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, wait))
    staff = await new_page()
    await login(staff, hub, "instructor", BOARD)
    await set_deadline(staff, datetime.now(UTC), "walkthrough: time is up")

    # the preview says who gets the feedback before anything is released
    await section(staff).get_by_role("button", name="피드백 배포", exact=True).click()
    dialog = staff.locator("#feedback-preview")
    await expect(dialog).to_be_visible()
    released = dialog.locator('.preview-group[data-category="release"] li')
    # both: trainee006's rejected submission gets its summary (0 points, and why)
    await expect(released).to_have_count(2)
    assert sorted(await released.evaluate_all("lis => lis.map(li => li.dataset.username)")) == [
        TRAINEE,
        BROKEN,
    ]
    await expect(dialog.locator(".preview-group:not([hidden])")).to_have_count(1)
    await screenshot(staff, "walk-feedback-preview")
    await dialog.get_by_role("button", name="2명에게 피드백 배포").click()
    await expect(staff.locator("#notice")).to_contain_text(
        "피드백을 2명에게 배포했습니다", timeout=GRADING
    )

    page = await new_page()
    await login(page, hub, TRAINEE, f"{SERVICE}trainee")
    row = page.locator(f"#a-{AID} table.submissions tbody tr").first
    await expect(row.locator(".score")).to_contain_text("/")
    await expect(row.get_by_role("link", name="피드백")).to_be_visible()
    await screenshot(page, "walk-trainee-grade")

    await open_lab(page, hub)
    await assignment_list(page)
    submitted = page.locator("#submitted_assignments_list").locator(
        ".list_item:not(.nested_list_item)", has_text=AID
    )
    await submitted.get_by_role("button", name="Fetch Feedback").click()
    # nbgrader's list then links the fetched feedback (it was "available to fetch" before)
    await expect(submitted.get_by_text("(view feedback)")).to_be_visible(timeout=60_000)
    await screenshot(page, "walk-feedback-in-lab")
