"""The staff's trainees pages in a real browser (issue 17): an admin opens the table from the
admin page, searches and filters it (an attribute of the roster too), opens a trainee, moves
them to another stage with a reason and finds the audit entry on the trainee's page; a hostile
name stays text; the server buttons start and stop the trainee's server; trainees get 403 on
the table and on a trainee's page, an instructor who teaches no cohort sees no trainee. In
Korean and English, checked with axe-core; screenshots trainees.png and trainee-detail.png.

The demo cohort: trainee001 … trainee008, `instructor` and `admin`; imported here: a trainee
with a hostile name and one of 2026-busan-1, both with a campus.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from sadari.hub import locale as i18n
from tests.support.hub import RunningHub

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot
from .test_pages import other_language, page_text

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

API = f"{SERVICE}api/v1"
HOSTILE = '<img src=x onerror="alert(1)">박해커'
ROSTER = (
    "username,name,cohort,track,campus\n"
    f'hostile01,"{HOSTILE.replace(chr(34), chr(34) * 2)}",{COHORT},data-analysis,서울\n'
    "busan01,부산 교육생,2026-busan-1,vision-ai,부산\n"
).encode()


@pytest.fixture(scope="module")
def hub(hub: RunningHub) -> Iterator[RunningHub]:
    """The demo hub (conftest.py) with the two trainees of ROSTER imported."""
    r = hub.call("admin", "POST", f"{API}/roster?filename=more.csv", data=ROSTER)
    assert r.status_code == 200, r.text
    yield hub


def ko(message: str) -> str:
    """`message` as the Korean page shows it (the catalog the service loads)."""
    return i18n.gettext("ko", message)


async def quiet_in(page: Page, lang: str, shot: str, watch: Watch) -> None:
    """The page is in `lang`, quiet, passes axe; its screenshot."""
    watch.assert_quiet()
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    assert other_language(await page_text(page), lang) == []
    await screenshot(page, shot)
    assert await axe(page) == []
    watch.forget_harness()  # the screenshot's own inline style (Playwright hides the caret)


async def usernames(page: Page) -> list[str]:
    return await page.locator("#trainees tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.username)"
    )


async def test_an_admin_finds_a_trainee_and_moves_them(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "admin", f"{SERVICE}admin?lang=en")
    await page.locator("#trainees-link").click()
    await expect(page.locator("h1")).to_have_text("Trainees")
    await expect(page.locator("#trainees tbody tr")).to_have_count(10)
    hostile = page.locator("#trainees tr[data-username='hostile01'] td").nth(1)
    await expect(hostile).to_have_text(HOSTILE)  # shown as text, never run
    await expect(page.locator("#trainees tr[data-state='stopped']")).to_have_count(10)
    await quiet_in(page, "en", "trainees", watch)

    await page.locator("#f-q").fill("HOSTILE")
    await page.locator("#f-apply").click()
    assert await usernames(page) == ["hostile01"]
    await page.locator("#f-clear").click()
    await page.locator("#f-attr").fill("campus=부산")
    await page.locator("#f-apply").click()
    assert await usernames(page) == ["busan01"]
    await page.locator("#f-attr").fill("")
    await page.locator("#f-cohort").select_option(COHORT)
    await page.locator("#f-track").select_option("data-analysis")
    await page.locator("#f-apply").click()
    assert await usernames(page) == ["hostile01", "trainee001", "trainee005"]
    await page.locator("th a.sort-link", has_text="Username").click()  # again: descending
    assert await usernames(page) == ["trainee005", "trainee001", "hostile01"]
    await expect(page.locator("th[aria-sort='descending']")).to_have_count(1)
    await page.locator("#f-state").select_option("running")
    await page.locator("#f-apply").click()
    await expect(page.locator("#shown")).to_contain_text("No trainee matches.")
    await page.goto(f"{hub.url}{SERVICE}trainees?per_page=25&sort=name&order=desc&page=1")
    await expect(page.locator("#trainees tbody tr")).to_have_count(10)

    await page.locator("#trainees a[href$='/trainees/trainee001']").click()
    await expect(page.locator("h1 small")).to_have_text("trainee001")
    await expect(page.locator("#current-stage")).to_have_attribute("data-stage", "basics")
    await expect(page.locator("#server-state")).to_have_text("Stopped")
    await expect(page.locator("#scores tbody tr").first).to_have_attribute(
        "data-status", "not_submitted"
    )
    await page.locator("#move-stage").select_option("advanced")
    await page.locator("#move-submit").click()  # no reason: the form refuses
    await expect(page.locator("#move-reason:invalid")).to_have_count(1)
    await page.locator("#move-reason").fill("   ")  # blanks: the page refuses
    await page.locator("#move-submit").click()
    await expect(page.locator("#notice .alert-warning")).to_be_visible()
    await expect(page.locator("#current-stage")).to_have_attribute("data-stage", "basics")
    await page.locator("#move-reason").fill("프로젝트 우수 / strong project work")
    await page.locator("#move-submit").click()
    await expect(page.locator("#notice .alert-success")).to_contain_text("Moved to")
    await expect(page.locator("#current-stage")).to_have_attribute("data-stage", "advanced")
    entry = page.locator("#audit tr[data-action='trainee.move_stage']")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("프로젝트 우수 / strong project work")
    await expect(entry).to_contain_text("admin")
    await expect(page.locator("#history tbody tr").last).to_contain_text("admin")
    await quiet_in(page, "en", "trainee-detail", watch)
    (audit,) = hub.call("admin", "GET", f"{API}/audit?limit=1&target=user:trainee001").json()[
        "entries"
    ]
    assert (audit["action"], audit["details"]["to"]) == ("trainee.move_stage", "advanced")
    model = hub.call("admin", "GET", f"{API}/trainees/trainee001").json()
    assert model["enrollment"]["stage"]["id"] == "advanced"
    watch.assert_quiet()


async def test_staff_start_and_stop_a_trainees_server(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "admin", f"{SERVICE}trainees/trainee003?lang=en")
    await page.locator("#server-start").click()
    await expect(page.locator("#server-state")).to_have_text("Ready", timeout=120_000)
    await expect(page.locator("#server-stop")).to_be_enabled()
    await page.goto(f"{hub.url}{SERVICE}trainees?state=ready")
    assert await usernames(page) == ["trainee003"]
    await page.goto(f"{hub.url}{SERVICE}trainees/trainee003")
    await page.locator("#server-stop").click()
    await expect(page.locator("#server-state")).to_have_text("Stopped", timeout=60_000)
    actions = [
        e["action"]
        for e in hub.call("admin", "GET", f"{API}/audit?target=user:trainee003").json()["entries"]
    ]
    assert actions[:2] == ["trainee.server_stop", "trainee.server_start"]
    watch.assert_quiet()


@pytest.mark.parametrize("path", ["trainees", "trainees/hostile01"])
async def test_in_korean(hub: RunningHub, new_page: NewPage, path: str) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "admin", f"{SERVICE}{path}?lang=ko")
    await expect(page.locator("nav.navbar")).to_contain_text(ko("Trainees"))
    if path == "trainees":
        await expect(page.locator("h1")).to_have_text(ko("Trainees"))
        await expect(page.locator("#trainees thead")).to_contain_text(ko("Last activity"))
    else:
        await expect(page.locator("#history-title")).to_have_text(ko("Stage history"))
        await expect(page.locator("h1 span")).to_have_text(HOSTILE)
    await quiet_in(page, "ko", f"{path.replace('/', '-')}-ko", watch)


@pytest.mark.parametrize("path", ["trainees", "trainees/trainee002", "trainees/trainee001"])
async def test_trainees_may_not_open_the_pages(
    hub: RunningHub, new_page: NewPage, path: str
) -> None:
    page = await new_page()
    await login(page, hub, "trainee001")
    response = await page.goto(f"{hub.url}{SERVICE}{path}")
    assert response is not None and response.status == 403
    r = hub.call("trainee001", "POST", f"{API}/trainees/trainee002/server")
    assert r.status_code == 403


async def test_an_instructor_without_a_cohort_sees_no_trainee(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}instructor?lang=en")
    await page.locator("#trainees-link").click()
    await expect(page.locator("#scope")).to_contain_text("instructors:")
    await expect(page.locator("#trainees tbody tr")).to_have_count(0)
    response = await page.goto(f"{hub.url}{SERVICE}trainees/trainee001")
    assert response is not None and response.status == 403
