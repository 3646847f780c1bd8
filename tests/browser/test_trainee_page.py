"""The trainee's own page in a real browser: an open assessment with the due instant that applies
to them (the cohort's deadline change, then their extension) and its countdown, their submission
with its grade once graded, in Korean and English, readable on a phone; another trainee's
feedback is out of reach; axe finds nothing serious; screenshots trainee-home(-en|-phone).png.

The demo cohort: trainee001 and trainee005 are in data-analysis, stage basics.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.service.test_exchange_client import exchange_of
from tests.support.hub import RunningHub, sadari

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-basics-check"


@pytest.fixture(scope="module")
def graded(hub: RunningHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, datetime]:
    """da-basics-check released and open for three more days; trainee001 fetched and submitted
    it unchanged and it was graded; trainee001 has an extension of two more days."""
    sadari(hub.env, "assessment", "release", AID, "--cohort", COHORT)
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    extended = due + timedelta(days=2)
    sadari(hub.env, "deadline", "set", AID, due.isoformat(), "--reason", "test")
    home = tmp_path_factory.mktemp("trainee001")
    ex = exchange_of(hub, "trainee001", "FetchAssignment", home=home, assignment_id=AID)
    ex.start()
    exchange_of(hub, "trainee001", "Submit", home=home, assignment_id=AID).start()
    sadari(hub.env, "assessment", "autograde", AID, "--cohort", COHORT)
    sadari(
        hub.env, "deadline", "extend", AID, extended.isoformat(), "--user", "trainee001",
        "--reason", "병원 진료 / hospital visit",
    )  # fmt: skip
    return {"due": due, "extended": extended}


async def test_an_open_assessment_its_countdown_and_the_grade(
    hub: RunningHub, new_page: NewPage, graded: dict[str, datetime]
) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "trainee001", f"{SERVICE}trainee?lang=ko")
    card = page.locator(f"#a-{AID}")
    await expect(card.locator(".badge")).to_have_text("응시 중")
    # the extension applies: two days beyond the cohort's deadline, about five days left
    await expect(card.locator(".extension")).to_contain_text("hospital visit")
    await expect(card.locator(".countdown")).to_contain_text("남음")
    await expect(card.locator(".countdown")).to_contain_text(re.compile("[45]일"))
    due = await card.locator("time.due").get_attribute("datetime")
    assert due is not None and datetime.fromisoformat(due) == graded["extended"]
    row = card.locator("table.submissions tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator(".status")).to_have_text("채점 완료")
    await expect(row.locator(".score")).to_contain_text("/ 10")
    # the page itself did nothing it should not (axe below injects its own script and styles)
    assert watch.dialogs == [] and watch.errors == [] and watch.elsewhere == []
    assert await axe(page) == []
    await screenshot(page, "trainee-home")

    await page.goto(f"{hub.url}{SERVICE}trainee?lang=en")
    await expect(card.locator(".badge")).to_have_text("open")
    await expect(card.locator(".countdown")).to_contain_text("left")
    await expect(row.locator(".status")).to_have_text("graded")
    assert await axe(page) == []
    await screenshot(page, "trainee-home-en")

    # on a phone: nothing wider than the screen
    await page.set_viewport_size({"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    await screenshot(page, "trainee-home-phone")


async def test_another_trainees_feedback_is_out_of_reach(
    hub: RunningHub, new_page: NewPage, graded: dict[str, datetime]
) -> None:
    page = await new_page()
    await login(page, hub, "trainee005", f"{SERVICE}trainee")
    card = page.locator(f"#a-{AID}")
    await expect(card.locator(".extension")).to_have_count(0)
    await expect(card).to_contain_text("아직 제출하지 않았습니다")
    for sid in (1, 2, 3):
        r = await page.request.get(f"{hub.url}{SERVICE}trainee/feedback/{sid}/sadari-summary.html")
        assert r.status == 404
