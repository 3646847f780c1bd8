"""The service's pages in a real browser: each page in Korean and in English (one language per
page), the language switch remembered, nobody without the right role sees a staff page or
runs a staff action, no serious or critical accessibility violation (axe-core), and a
screenshot of each page at 1280×800 in tests/browser/screenshots/.

The demo cohort: trainee001 (data-analysis) … trainee008, `instructor` and `admin`.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Page, expect

from tests.support.hub import ROOT, RunningHub

from .conftest import COHORT, SERVICE, NewPage, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-basics-check"
BOARD = f"board/{COHORT}/data-analysis/basics"
# (who, page, its heading in Korean, in English)
PAGES = [
    ("trainee001", "trainee", "내 학습", "My learning"),
    ("instructor", "instructor", "강사", "Instructor"),
    ("admin", "admin", "관리자", "Admin"),
    ("instructor", BOARD, "평가 현황판", "Assessment board"),
    ("instructor", f"assessments/{COHORT}/{AID}", "제출물", "Submissions"),
]
STAFF_PAGES = [
    "instructor",
    "admin",
    BOARD,
    f"assessments/{COHORT}/{AID}",
    "submissions/1",
]
API = f"{SERVICE}api/v1/assessments/{AID}"
STAFF_ACTIONS = [
    ("POST", f"{API}/release?cohort={COHORT}"),
    ("POST", f"{API}/autograde?cohort={COHORT}"),
    ("POST", f"{API}/feedback?cohort={COHORT}"),
    ("POST", f"{API}/due"),
    ("POST", f"{API}/extensions"),
    ("GET", f"{API}/grades?format=csv&cohort={COHORT}"),
    ("GET", f"{API}/grading?cohort={COHORT}"),
]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


@cache
def catalog() -> list[tuple[str, str]]:
    """(English, Korean) of every message of the pages' Korean catalog."""
    with (ROOT / "hub/locale/ko/LC_MESSAGES/sadari.po").open("rb") as f:
        po = read_po(f)
    return [(m.id, m.string) for m in po if m.id and isinstance(m.id, str) and m.string]


def fragments(message: str) -> list[str]:
    """The literal parts of a message (its placeholders taken out), stripped."""
    return [p.strip(" .:·()") for p in PLACEHOLDER.split(re.sub(r"<[^>]+>", "|", message))]


async def page_text(page: Page) -> str:
    """What a person (or a screen reader) gets from the page: its title, text and labels, less
    what is marked `translate="no"` (names of people)."""
    text: str = await page.evaluate(
        """() => {
        const out = [document.title];
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) {
          const el = walk.currentNode.parentElement;
          if (el && !el.closest('[translate=no], script, style, [hidden]'))
            out.push(walk.currentNode.textContent);
        }
        for (const el of document.querySelectorAll('[aria-label], [title], [alt]'))
          for (const a of ['aria-label', 'title', 'alt'])
            if (el.getAttribute(a)) out.push(el.getAttribute(a));
        return out.join('\\n');
      }"""
    )
    return text


def other_language(text: str, lang: str) -> list[str]:
    """The page's messages that show in the other language: Korean messages (3 letters or more)
    on an English page, English messages of two words or more on a Korean page."""
    found = []
    for english, korean in catalog():
        if english == korean:
            continue
        if lang == "en":
            found += [p for p in fragments(korean) if len(p) >= 3 and p in text]
        else:
            found += [p for p in fragments(english) if " " in p and p in text]
    return sorted(set(found))


async def check_page(page: Page, lang: str, heading: str, shot: str) -> None:
    """The page is in `lang`, headed `heading`, passes axe; its screenshot is taken."""
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    await expect(page.locator("h1")).to_contain_text(heading)
    assert other_language(await page_text(page), lang) == []
    await screenshot(page, shot)
    assert await axe(page) == []


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize(
    ("who", "path", "ko", "en"), PAGES, ids=[p[1].split("/")[0] for p in PAGES]
)
async def test_each_page_in_one_language(
    hub: RunningHub, new_page: NewPage, who: str, path: str, ko: str, en: str, lang: str
) -> None:
    page = await new_page()
    await login(page, hub, who)
    response = await page.goto(f"{hub.url}{SERVICE}{path}?lang={lang}")
    assert response is not None and response.status == 200
    await check_page(page, lang, ko if lang == "ko" else en, f"{path.split('/')[0]}-{lang}")


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_error_page_in_one_language(hub: RunningHub, new_page: NewPage, lang: str) -> None:
    page = await new_page()
    await login(page, hub, "instructor")
    response = await page.goto(f"{hub.url}{SERVICE}board/{COHORT}/no-such-track/basics?lang={lang}")
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_contain_text("404")
    message = await page.locator("#message").inner_text()
    assert ("없는 단계입니다" in message) == (lang == "ko"), message
    await check_page(page, lang, "404", f"error-404-{lang}")


async def test_the_language_switch_is_remembered(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "trainee001")
    await expect(page.locator("html")).to_have_attribute("lang", "ko")  # Korean by default
    await expect(page.locator("#lang-switch")).to_have_text("English")
    await page.locator("#lang-switch").click()
    await expect(page.locator("h1")).to_have_text("My learning")
    await page.goto(f"{hub.url}{SERVICE}")  # no ?lang: the cookie remembers
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#lang-switch")).to_have_text("한국어")
    await page.locator("#lang-switch").click()
    await expect(page.locator("h1")).to_have_text("내 학습")
    await page.goto(f"{hub.url}{SERVICE}trainee")
    await expect(page.locator("html")).to_have_attribute("lang", "ko")


async def test_times_are_shown_in_the_cohorts_zone(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}{BOARD}")
    await expect(page.locator("main")).to_contain_text("Asia/Seoul (GMT+09:00)")
    # the curriculum's deadline is 18:00 on the cohort's clock (09:00 UTC in the database)
    await expect(page.locator(f"#a-{AID} time.due")).to_have_text(re.compile(r" 18:00$"))


@pytest.mark.parametrize("path", STAFF_PAGES)
async def test_an_unauthenticated_browser_gets_the_login_page(
    hub: RunningHub, new_page: NewPage, path: str
) -> None:
    page = await new_page()
    await page.goto(f"{hub.url}{SERVICE}{path}")
    await expect(page).to_have_url(re.compile(r"/hub/login"))
    await expect(page.get_by_label("Username:")).to_be_visible()


async def test_an_unauthenticated_browser_runs_no_staff_action(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    await page.goto(f"{hub.url}/hub/login")
    for method, url in STAFF_ACTIONS:
        status = await page.evaluate(
            "([method, url]) => fetch(url, {method, headers: {'Content-Type': "
            "'application/json'}, body: method === 'POST' ? '{}' : undefined}).then(r => r.status)",
            [method, hub.url + url],
        )
        assert status == 401, (method, url, status)


async def test_a_trainee_gets_403_on_every_staff_page_and_action(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    await login(page, hub, "trainee001")
    for path in STAFF_PAGES:
        response = await page.goto(f"{hub.url}{SERVICE}{path}")
        assert response is not None and response.status == 403, path
        await expect(page.locator("h1")).to_contain_text("403")
        await expect(page.locator("h1")).to_contain_text("이 페이지를 볼 권한이 없습니다")
    await screenshot(page, "error-403-ko")
    await page.goto(f"{hub.url}{SERVICE}trainee")
    for method, url in STAFF_ACTIONS:
        # with the page's own XSRF token: the cookie counts, the role does not suffice
        status = await page.evaluate(
            "([method, url]) => fetch(url, {method, headers: {'X-XSRFToken': "
            "document.body.dataset.xsrf, 'Content-Type': 'application/json'}, body: method === "
            "'POST' ? JSON.stringify({due_at: '2030-01-01T00:00:00+09:00', reason: 'x', "
            "username: 'trainee001'}) : undefined}).then(r => r.status)",
            [method, hub.url + url],
        )
        assert status == 403, (method, url, status)


async def test_an_instructor_gets_403_on_the_admin_page(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor")
    response = await page.goto(f"{hub.url}{SERVICE}admin")
    assert response is not None and response.status == 403
