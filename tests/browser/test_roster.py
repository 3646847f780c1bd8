"""Roster import in a real browser (issue 17): an admin imports the roster a campus really
exported — CP949, `id` for the username, no cohort column, Y/N majors, a campus — by mapping
its columns and values on the page; a file with several bad rows and a broken byte sequence
shows every problem and changes nothing; non-admins cannot open the page. Each page in Korean
and English, checked with axe-core, screenshots in tests/browser/screenshots/.

The demo cohort: trainee001 … trainee008, `instructor` and `admin`.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.hub import RunningHub

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot
from .test_pages import other_language, page_text

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ISSUE = (
    "id,name,email,track,major,campus\r\n"
    "kimminjun,김민준,minjun@example.kr,data-analysis,Y,서울\r\n"
    "leeseoyeon,이서연,,vision-ai,N,부산\r\n"
    "parkjiho,박지호,jiho@example.kr,azure-ai,N,서울\r\n"
).encode("cp949")
BAD = (
    "id,name,email,track,major,campus\r\n".encode("cp949")
    + "ok01,정상,,data-analysis,Y,서울\r\n".encode("cp949")
    + ",이름만,,data-analysis,N,서울\r\n".encode("cp949")
    + b"broken1,\xff\xfe,,data-analysis,Y,\xbc\xad\xbf\xef\r\n"
    + "Bad User,김,,vision,Y,부산\r\n".encode("cp949")
    + "noname,,bad-mail,azure-ai,N,\r\n".encode("cp949")
)
API = f"{SERVICE}api/v1"


async def upload(page: Page, name: str, data: bytes) -> None:
    """Choose the file and ask for its preview."""
    await page.locator("#roster-file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    await page.locator("#roster-preview").click()
    await expect(page.locator("#preview")).to_be_visible()


async def in_one_language(page: Page, lang: str, shot: str, watch: Watch) -> None:
    """The page is quiet so far and in `lang`; its screenshot; axe finds nothing serious."""
    watch.assert_quiet()
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    assert other_language(await page_text(page), lang) == []
    await screenshot(page, shot)
    assert await axe(page) == []
    watch.forget_harness()  # the screenshot's own inline style (Playwright hides the caret)


def trainees(hub: RunningHub) -> set[str]:
    r = hub.call("admin", "GET", f"{API}/trainees")
    assert r.status_code == 200, r.text
    return {t["username"] for t in r.json()["trainees"]}


async def test_an_admin_imports_the_campus_roster_by_mapping_it(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "admin", f"{SERVICE}admin?lang=ko")
    await page.locator("#roster-link").click()
    await expect(page.locator("h1")).to_have_text("명단 가져오기")
    await in_one_language(page, "ko", "roster-empty-ko", watch)

    await upload(page, "명단.csv", ISSUE)
    # no cohort column and no default cohort yet: one problem, nothing to import
    await expect(page.locator("#problems li")).to_have_count(1)
    await expect(page.locator("#problems li")).to_contain_text("기본 기수를 고르세요")
    await expect(page.locator("#roster-confirm")).to_be_disabled()
    await expect(page.locator("#columns tr[data-header='campus'] select")).to_have_value("attr")

    await page.locator("#columns tr[data-header='id'] select").select_option("username")
    await page.locator("#roster-cohort").select_option(COHORT)  # previews again by itself
    await expect(page.locator("#problems-area")).to_be_hidden()
    await expect(page.locator("#rows tbody tr")).to_have_count(3)
    await page.locator("input.value-map[data-name='major'][data-raw='Y']").fill("major")
    await page.locator("input.value-map[data-name='major'][data-raw='N']").fill("non-major")
    await page.locator("#roster-again").click()
    kim = page.locator("#rows tbody tr").nth(0)
    await expect(kim).to_contain_text("전공: — → major")
    await expect(kim).to_contain_text("campus: — → 서울")
    await expect(page.locator("#rows tbody tr[data-status='new']")).to_have_count(3)
    await expect(page.locator("#counts")).to_have_text("새로 3명, 변경 0명, 그대로 0명, 문제 0건")
    assert "kimminjun" not in trainees(hub)  # a preview writes nothing
    await in_one_language(page, "ko", "roster-preview-ko", watch)

    await page.locator("#roster-confirm").click()
    await expect(page.locator("#notice .alert-success")).to_have_text(
        "가져왔습니다: 새로 3명, 변경 0명, 그대로 0명."
    )
    assert {"kimminjun", "leeseoyeon", "parkjiho"} <= trainees(hub)
    lee = hub.call("admin", "GET", f"{API}/trainees/leeseoyeon").json()
    assert lee["enrollment"]["cohort"]["id"] == COHORT
    (entry,) = hub.call("admin", "GET", f"{API}/audit?limit=1").json()["entries"]
    assert entry["action"] == "roster.import" and entry["actor"] == "admin"
    assert entry["details"]["mapping"]["values"]["major"] == {"y": "major", "n": "non-major"}

    # the mapping is remembered: the same file next time needs only its cohort
    page = await new_page()
    watch.attach(page)
    await login(page, hub, "admin", f"{SERVICE}roster?lang=en")
    await expect(page.locator("h1")).to_have_text("Import a roster")
    await page.locator("#roster-cohort").select_option(COHORT)
    await upload(page, "roster.csv", ISSUE)
    await expect(page.locator("#rows tbody tr[data-status='unchanged']")).to_have_count(3)
    await expect(page.locator("input.value-map[data-raw='Y']")).to_have_value("major")
    await expect(page.locator("#counts")).to_have_text(
        "0 new, 0 updated, 3 unchanged, 0 with problems"
    )
    await in_one_language(page, "en", "roster-unchanged-en", watch)
    watch.assert_quiet()


@pytest.mark.parametrize("lang", ["en", "ko"])
async def test_every_problem_is_shown_and_nothing_changes(
    hub: RunningHub, new_page: NewPage, lang: str
) -> None:
    before = trainees(hub)
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "admin", f"{SERVICE}roster?lang={lang}")
    await page.locator("#roster-cohort").select_option(COHORT)
    await upload(page, "bad.csv", BAD)
    problems = page.locator("#problems li")
    await expect(problems).to_have_count(6)
    texts = await problems.all_inner_texts()
    line = "{}행" if lang == "ko" else "line {}"
    assert [t.split(" · ")[0] for t in texts] == [line.format(n) for n in (3, 4, 5, 5, 6, 6)]
    assert "undecodable byte 0xff" in texts[1] and '"broken1,' in texts[1]
    assert texts[2].startswith(f"{line.format(5)} · id (username): 'Bad User'")
    assert texts[3].startswith(f"{line.format(5)} · track: unknown track 'vision'")
    assert ("비어 있습니다" in texts[4]) == (lang == "ko"), texts[4]
    await expect(page.locator("#rows tbody tr[data-status='problem']")).to_have_count(4)
    await expect(page.locator("#rows tbody tr[data-status='new']")).to_have_count(1)
    await expect(page.locator("#roster-confirm")).to_be_disabled()
    await page.locator("#preview").scroll_into_view_if_needed()
    await in_one_language(page, lang, f"roster-problems-{lang}", watch)
    # even sent anyway, the import refuses the whole file
    status = await page.evaluate(
        """async ([url, bytes]) => (await fetch(url, {method: 'POST',
             body: new Uint8Array(bytes),
             headers: {'X-XSRFToken': document.body.dataset.xsrf}})).status""",
        [f"{hub.url}{API}/roster?filename=bad.csv&cohort={COHORT}", list(BAD)],
    )
    assert status == 400
    assert trainees(hub) == before and "ok01" not in trainees(hub)
    watch.errors = [e for e in watch.errors if "400" not in e]  # the refused request's log line
    watch.assert_quiet()


@pytest.mark.parametrize("who", ["instructor", "trainee001"])
async def test_only_admins_open_the_roster_page(
    hub: RunningHub, new_page: NewPage, who: str
) -> None:
    page = await new_page()
    await login(page, hub, who)
    response = await page.goto(f"{hub.url}{SERVICE}roster")
    assert response is not None and response.status == 403
    r = hub.call(who, "POST", f"{API}/roster/preview?filename=r.csv", data=ISSUE)
    assert r.status_code == 403
