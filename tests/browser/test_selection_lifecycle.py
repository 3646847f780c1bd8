"""A stage selection's whole life in the browser, as the people who live it (the tests of this
module build on each other, on one hub): an admin makes the preview of basics -> advanced and
advances a trainee the ranking left out, with a reason; an instructor sees that preview but has
no confirm or apply control and is refused (403) when posting; the admin confirms, each step
showing first what it will do; the trainees read their standing and what the confirmed decision
means for them on their own page (Korean and English); a trainee is refused the selection page
and another trainee's page; the admin applies; the advanced trainee stops and starts their server
through the hub and finds the advanced labs in JupyterLab's file browser, while a trainee not
advanced still has only the basics labs; the admin rolls back with a reason, and the trainees read
on their page that the decision was withdrawn and why; the audit page lists the override, confirm,
apply and rollback with who and why. axe finds nothing serious on any of these pages; screenshots
selection-lifecycle-trainee.png (Korean) and -en.png after confirm, -withdrawn-en.png after the
rollback.

The hub and its grades are those of test_selection_pages.py (the 12-trainee demo cohort, three
per track; one pool for the cohort, 4 seats, one reserved for a non-major): trainee003, 006, 009
advance on merit, trainee001 on the reserved seat; trainee012 (vision-ai), ranked 4th, is left
out and advanced here by an override; trainee005 (data-analysis) is not selected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.support.hub import RunningHub

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot
from .test_selection_pages import demo_labs, grade

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PAGE = f"{SERVICE}selection?cohort={COHORT}&to=advanced"
API = f"{SERVICE}api/v1"
ADVANCED = "trainee012"  # vision-ai, left out by the ranking, advanced by the admin's override
STAYS = "trainee005"  # data-analysis, not selected
REASON = "프로젝트 포트폴리오 우수 / strong portfolio"
ROLLBACK = "입력 오류 / wrong inputs"
LAB_LOAD = 120_000  # ms: a trainee's server and JupyterLab on a busy machine


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    tmp = tmp_path_factory.mktemp("selection-lifecycle")
    labs = demo_labs(tmp)
    (tmp / "data").mkdir()
    running = RunningHub.start(
        tmp / "data", f"sqlite:///{tmp / 'sadari.sqlite'}", trainees=12, SADARI_LABS_DIR=str(labs)
    )
    try:
        grade(running)
        yield running
    finally:
        running.stop()


def names(listing: dict[str, object]) -> set[str]:
    """The names in a contents API listing."""
    return {str(item["name"]) for item in listing["content"]}  # type: ignore[index, union-attr]


def row(page: Page, trainee: str):  # type: ignore[no-untyped-def]
    return page.locator(f'tr.trainee-row[data-trainee="{trainee}"]')


async def quiet_and_accessible(page: Page, watch: Watch) -> None:
    """The page did nothing it should not so far, and axe finds nothing serious (axe's own
    script and styles are refused by the page's policy: those errors are forgotten)."""
    watch.assert_quiet()
    assert await axe(page) == []
    watch.forget_harness()


async def post(page: Page, path: str, body: str = "{}") -> int:
    """The status of a POST the page's own script could make (cookie, XSRF token, JSON)."""
    status: int = await page.evaluate(
        """async ([url, xsrf, body]) => (await fetch(url, {method: "POST",
            credentials: "same-origin", body,
            headers: {"X-XSRFToken": xsrf, "Content-Type": "application/json"}})).status""",
        [path, await page.locator("body").get_attribute("data-xsrf"), body],
    )
    return status


async def logged_in(new_page: NewPage, hub: RunningHub, who: str, path: str) -> tuple[Page, Watch]:
    """A fresh page of `who`, watched, at `path` (whose query the login's `next` would cut)."""
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, who)
    await page.goto(hub.url + path)
    return page, watch


async def admin_page(new_page: NewPage, hub: RunningHub) -> tuple[Page, Watch]:
    return await logged_in(new_page, hub, "admin", f"{PAGE}&lang=en")


async def open_step(page: Page, name: str) -> None:
    """Open a step's plan (what it will do) and check that it can be done."""
    await page.locator(f"#step-{name}").click()
    await expect(page.locator("#plan")).to_have_attribute("data-step", name)
    await expect(page.locator("#plan")).to_have_attribute("data-ok", "true")


def stage_of(hub: RunningHub, username: str) -> str:
    me = hub.call(username, "GET", f"{API}/me").json()
    return str(me["enrollment"]["stage"]["id"])


async def test_the_trainee_works_in_the_basics_labs_meanwhile(hub: RunningHub) -> None:
    hub.start_server(ADVANCED)
    assert "1-basics" in names(hub.contents(ADVANCED))
    assert "2-advanced" not in names(hub.contents(ADVANCED))


async def test_an_admin_makes_the_preview_and_advances_a_trainee_with_a_reason(
    hub: RunningHub, new_page: NewPage
) -> None:
    page, watch = await admin_page(new_page, hub)
    await expect(page.locator("#no-selection")).to_be_visible()
    await page.locator("#make-preview").click()
    await expect(page.locator("#decision")).to_have_attribute("data-status", "preview")
    await expect(row(page, ADVANCED)).to_have_attribute("data-advances", "false")
    await expect(row(page, STAYS)).to_have_attribute("data-advances", "false")
    await quiet_and_accessible(page, watch)

    await row(page, ADVANCED).get_by_role("button", name="Why").click()
    why = page.locator(
        f"#{await row(page, ADVANCED).get_by_role('button').get_attribute('aria-controls')}"
    )
    await expect(why.locator("p.why")).to_contain_text("below the cutoff")
    await why.get_by_label(f"Why should {ADVANCED} advance? (required)").fill(REASON)
    await why.get_by_role("button", name="Advance this trainee").click()
    await expect(page.locator("#notice")).to_contain_text("The override is recorded.")
    await expect(row(page, ADVANCED)).to_have_attribute("data-advances", "true")
    await expect(page.locator("#overrides")).to_contain_text(REASON)
    await quiet_and_accessible(page, watch)


async def test_an_instructor_sees_the_preview_but_cannot_confirm_or_apply(
    hub: RunningHub, new_page: NewPage
) -> None:
    page, watch = await logged_in(new_page, hub, "instructor", f"{PAGE}&lang=en")
    decision = page.locator("#decision")
    await expect(decision).to_have_attribute("data-status", "preview")
    await expect(row(page, ADVANCED)).to_have_attribute("data-advances", "true")
    await expect(page.locator("#step-confirm")).to_have_count(0)
    await expect(page.locator("#step-apply")).to_have_count(0)
    await expect(page.get_by_role("button", name="Confirm the selection")).to_have_count(0)
    await expect(page.locator("#admin-only")).to_be_visible()
    await quiet_and_accessible(page, watch)
    sid = await decision.get_attribute("data-selection")
    for action in ("confirm", "apply"):
        assert await post(page, f"{API}/selections/{sid}/{action}") == 403
        response = await page.goto(f"{hub.url}{PAGE}&id={sid}&step={action}")
        assert response is not None and response.status == 403
    assert stage_of(hub, ADVANCED) == "basics"
    assert hub.call("admin", "GET", f"{API}/selections/{sid}").json()["status"] == "preview"


async def test_an_admin_confirms_after_seeing_what_it_means(
    hub: RunningHub, new_page: NewPage
) -> None:
    page, watch = await admin_page(new_page, hub)
    await open_step(page, "confirm")
    plan = page.locator("#plan")
    await expect(plan).to_contain_text("5 trainees will advance and 7 stay")
    await expect(plan).to_contain_text("selection.confirm")
    await quiet_and_accessible(page, watch)
    await page.get_by_role("button", name="Confirm the selection").click()
    await expect(page.locator("#decision")).to_have_attribute("data-status", "confirmed")
    await expect(page.locator("#notice")).to_contain_text("The selection is confirmed.")
    await expect(page.locator(".override-form")).to_have_count(0)
    assert stage_of(hub, ADVANCED) == "basics"  # confirmed, not applied: nobody moved
    await quiet_and_accessible(page, watch)


async def test_the_trainees_read_their_standing_and_what_the_decision_means(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, ADVANCED, f"{SERVICE}trainee?lang=ko")
    standing = page.locator("#standing")
    await expect(standing.locator("#decision")).to_contain_text("진급합니다")
    await expect(standing.locator("#decision")).to_contain_text("심화")  # the stage by its name
    await expect(standing).to_contain_text("결정이 확정되었습니다")  # moves once applied
    await expect(standing).to_contain_text(REASON)  # the override's reason
    await expect(standing.locator("#why")).to_contain_text("미선발")
    await expect(standing.locator("#why")).not_to_contain_text("not selected")
    await expect(standing.locator("#rank")).to_contain_text("12")
    await quiet_and_accessible(page, watch)
    await screenshot(page, "selection-lifecycle-trainee")

    await page.goto(f"{hub.url}{SERVICE}trainee?lang=en")
    await expect(standing.locator("#decision")).to_contain_text(
        "You advance to the next stage (Advanced)"
    )
    await expect(standing).to_contain_text("you move when it is applied")
    await expect(standing.locator("#why")).to_contain_text("below the cutoff")
    await expect(standing.locator("#why")).not_to_contain_text("미선발")
    await quiet_and_accessible(page, watch)
    await screenshot(page, "selection-lifecycle-trainee-en")

    other = await new_page()
    other_watch = Watch(hub.url).attach(other)
    await login(other, hub, STAYS, f"{SERVICE}trainee?lang=en")
    standing = other.locator("#standing")
    await expect(standing.locator("#decision")).to_contain_text("not selected for the next stage")
    await expect(standing).to_contain_text("Your labs and your work stay available")
    await expect(standing.locator("#why")).to_contain_text("not selected")
    await expect(standing).not_to_contain_text(REASON)
    await quiet_and_accessible(other, other_watch)


async def test_a_trainee_cannot_open_the_selection_or_another_trainees_page(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    await login(page, hub, STAYS, f"{SERVICE}trainee")
    for path in (PAGE, f"{SERVICE}selection", f"{SERVICE}trainees/{ADVANCED}", f"{SERVICE}audit"):
        response = await page.goto(hub.url + path)
        assert response is not None and response.status == 403, path
    (sel,) = hub.call("admin", "GET", f"{API}/selections?cohort={COHORT}").json()["selections"]
    await page.goto(f"{hub.url}{SERVICE}trainee")
    for path in ("", f"/{sel['id']}/overrides", f"/{sel['id']}/apply"):
        assert await post(page, f"{API}/selections{path}") == 403, path
    for path in (f"selections/{sel['id']}", f"trainees/{ADVANCED}"):
        r = hub.call(STAYS, "GET", f"{API}/{path}")
        assert r.status_code == 403, r.text


async def test_an_admin_applies_after_seeing_who_moves_and_which_labs(
    hub: RunningHub, new_page: NewPage
) -> None:
    page, watch = await admin_page(new_page, hub)
    await open_step(page, "apply")
    moves = page.locator("#plan-moves tbody tr")
    await expect(moves).to_have_count(5)
    await expect(moves.filter(has_text=ADVANCED)).to_have_count(1)
    await expect(moves.filter(has_text=STAYS)).to_have_count(0)
    await expect(page.locator("#plan-labs")).to_contain_text("2-advanced/")
    assert stage_of(hub, ADVANCED) == "basics"  # the plan moved nobody
    await quiet_and_accessible(page, watch)
    await page.get_by_role("button", name="Apply: move the trainees").click()
    await expect(page.locator("#decision")).to_have_attribute("data-status", "applied")
    await expect(page.locator("#notice")).to_contain_text("the trainees moved")
    assert stage_of(hub, ADVANCED) == "advanced"
    assert stage_of(hub, STAYS) == "basics"
    await quiet_and_accessible(page, watch)


async def test_the_advanced_trainees_next_start_has_the_advanced_labs(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, ADVANCED, f"{SERVICE}trainee?lang=en")
    await expect(page.locator("#stage")).to_have_attribute("data-id", "advanced")
    await expect(page.locator("#standing")).to_contain_text("Your next server start has")
    await expect(page.locator("#labs")).to_contain_text("2-advanced/")
    await quiet_and_accessible(page, watch)

    # the server still runs with the basics labs: stop it and start it again at the hub
    await page.goto(f"{hub.url}/hub/home")
    await page.locator("#stop").click()
    await expect(page.locator("#stop")).to_be_hidden(timeout=60_000)
    await page.goto(f"{hub.url}{SERVICE}trainee?lang=en")
    await page.get_by_role("link", name="Open my server").click()
    await page.wait_for_url(f"**/user/{ADVANCED}/lab**", timeout=LAB_LOAD)
    listing = page.locator(".jp-DirListing-content")
    await expect(listing.get_by_text("2-advanced", exact=True)).to_be_visible(timeout=LAB_LOAD)
    await expect(listing.get_by_text("1-basics", exact=True)).to_be_visible()  # work stays
    labs = [
        lab.removeprefix("2-advanced/")
        for lab in hub.call(ADVANCED, "GET", f"{API}/me").json()["labs"]
        if lab.startswith("2-advanced/")
    ]
    assert labs  # vision-ai's advanced notebooks, as the curriculum gives them
    await listing.get_by_text("2-advanced", exact=True).dblclick()
    for lab in labs:
        await expect(listing.get_by_text(lab, exact=True)).to_be_visible()
    # and the server's contents API, with the trainee's own login
    assert set(labs) <= names(hub.contents(ADVANCED, "2-advanced"))
    hub.stop_server(ADVANCED)

    # a trainee not advanced still has the basics labs on their next start, and nothing more
    hub.start_server(STAYS)
    assert "2-advanced" not in names(hub.contents(STAYS))
    assert "01-pandas-first-steps.ipynb" in names(hub.contents(STAYS, "1-basics"))
    hub.stop_server(STAYS)


async def test_an_admin_rolls_back_with_a_reason(hub: RunningHub, new_page: NewPage) -> None:
    page, watch = await admin_page(new_page, hub)
    await open_step(page, "rollback")
    await expect(page.locator("#plan-moves tbody tr")).to_have_count(5)
    await expect(page.locator("#plan")).to_contain_text("back to Basics")
    await quiet_and_accessible(page, watch)
    await page.get_by_label("Why roll it back? (required, recorded in the audit log)").fill(
        ROLLBACK
    )
    await page.get_by_role("button", name="Roll back the selection").click()
    await expect(page.locator("#decision")).to_have_attribute("data-status", "rolled-back")
    await expect(page.locator("#decision")).to_contain_text(ROLLBACK)
    assert stage_of(hub, ADVANCED) == "basics"
    await quiet_and_accessible(page, watch)


async def test_after_the_rollback_the_trainee_reads_that_the_decision_was_withdrawn(
    hub: RunningHub, new_page: NewPage
) -> None:
    page, watch = await logged_in(new_page, hub, ADVANCED, f"{SERVICE}trainee?lang=en")
    await expect(page.locator("#stage")).to_have_attribute("data-id", "basics")
    notice = page.locator("#withdrawn")
    await expect(notice).to_contain_text("The decision on the next stage (Advanced) was withdrawn")
    await expect(notice.locator("#withdrawn-reason")).to_have_text(ROLLBACK)
    await expect(notice).to_contain_text("You are back in Basics.")
    await expect(page.locator("#decision")).to_have_count(0)  # no standing from a withdrawn one
    await quiet_and_accessible(page, watch)
    await screenshot(page, "selection-lifecycle-withdrawn-en")
    await page.goto(f"{hub.url}{SERVICE}trainee?lang=ko")
    await expect(notice.locator("#withdrawn-reason")).to_have_text(ROLLBACK)
    await quiet_and_accessible(page, watch)

    other, other_watch = await logged_in(new_page, hub, STAYS, f"{SERVICE}trainee?lang=en")
    await expect(other.locator("#withdrawn")).to_contain_text("was withdrawn")
    await expect(other.locator("#withdrawn")).not_to_contain_text("You are back in")
    await quiet_and_accessible(other, other_watch)


@pytest.mark.parametrize("lang", ["en", "ko"])
async def test_the_audit_page_lists_who_did_what_and_why(
    hub: RunningHub, new_page: NewPage, lang: str
) -> None:
    page, watch = await logged_in(
        new_page, hub, "admin", f"{SERVICE}audit?action=selection.*&lang={lang}"
    )
    await expect(page.locator("#chain-status")).to_have_attribute("data-chain", "verified")
    entries = page.locator("#audit-entries tbody tr")

    async def entry(action: str):  # type: ignore[no-untyped-def]
        found = entries.filter(has=page.locator(f'xpath=self::tr[@data-action="{action}"]'))
        await expect(found).to_have_count(1)
        return found

    override = await entry("selection.override")
    await expect(override.locator("td").nth(2)).to_have_text("admin")
    await expect(override.locator("td.target")).to_have_text(f"user:{ADVANCED}")
    await expect(override.locator("td.reason")).to_have_text(REASON)
    for action in ("selection.confirm", "selection.apply"):
        await expect((await entry(action)).locator("td").nth(2)).to_have_text("admin")
    rollback = await entry("selection.rollback")
    await expect(rollback.locator("td").nth(2)).to_have_text("admin")
    await expect(rollback.locator("td.reason")).to_have_text(ROLLBACK)
    await quiet_and_accessible(page, watch)
