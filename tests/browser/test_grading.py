"""Grading by hand in the browser: trainee005 and trainee001 (moved to the project stage) submit
the data-analysis project, it is autograded (its six rubric criteria wait for a person), and an
instructor grades the written question from the board's link — a rubric level by key, a comment,
Enter — while the trainees stay pseudonyms; j/k move between answers; a second grader's page
that still shows the old version is refused (409) and shows the grade now stored; the result and
the audit log follow. axe on both pages; screenshots grading-queue.png and grading-answer.png.
The tests of this module build on each other."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.async_api import Page, expect

from tests.support.hub import ROOT, RunningHub, sadari

from .conftest import COHORT, SERVICE, NewPage, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-project"
CELL = "da-project-question"
KEY = quote(f"{AID}:{CELL}", safe="")
BOARD = f"{SERVICE}board/{COHORT}/data-analysis/project"
QUEUE = f"{SERVICE}assessments/{COHORT}/{AID}/grading"
ANSWER = f"{QUEUE}/{KEY}"
SOURCE = ROOT / f"labs/data-analysis/project/assessments/{AID}/{AID}.ipynb"
EX = "/services/sadari/api/v1/exchange"
API = "/services/sadari/api/v1"


def archive() -> bytes:
    """The project notebook as the instructor wrote it (its example answers filled in)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{AID}.ipynb", SOURCE.read_text(encoding="utf-8"))
    return out.getvalue()


@pytest.fixture(scope="module")
def graded(hub: RunningHub) -> Iterator[dict[str, int]]:
    """Both trainees in the project stage, the project released, submitted (trainee005 first)
    and autograded; their submission ids."""
    subs = {}
    for user in ("trainee005", "trainee001"):
        r = hub.call(
            "admin",
            "POST",
            f"{API}/trainees/{user}/stage",
            json={"stage": "project", "reason": "project week / 프로젝트 주간"},
        )
        assert r.status_code == 200, r.text
    sadari(hub.env, "assessment", "release", AID, "--cohort", COHORT)
    for user in ("trainee005", "trainee001"):
        r = hub.call(user, "POST", f"{EX}/assignments/{AID}/submissions", data=archive())
        assert r.status_code == 201, r.text
        subs[user] = r.json()["submission"]["id"]
    sadari(hub.env, "assessment", "autograde", AID, "--cohort", COHORT)
    yield subs


async def keys_ready(page: Page) -> None:
    """Wait until the page's script listens to the keys (it runs after the page is shown)."""
    await expect(page.locator("body")).to_have_attribute("data-keys", "ready")


async def open_answer(page: Page, hub: RunningHub, who: str, n: int, lang: str = "ko") -> None:
    await login(page, hub, who, f"{ANSWER}?n={n}&lang={lang}")
    await expect(page.locator("#grade-form")).to_be_visible()
    await keys_ready(page)


async def test_grade_a_written_answer_with_a_rubric_level_by_keyboard(
    hub: RunningHub, new_page: NewPage, graded: dict[str, int]
) -> None:
    page = await new_page()
    await login(page, hub, "instructor", BOARD)
    link = page.locator(f"section#a-{AID} a.grade-by-hand")
    await expect(link).to_contain_text("2")  # two submissions wait for a person
    await link.click()
    rows = page.locator("#questions tbody tr")
    await expect(rows).to_have_count(6)  # the rubric's six criteria, in its order
    first = rows.first
    await expect(first).to_have_attribute("data-key", f"{AID}:{CELL}")
    await expect(first).to_contain_text("질문과 가설")  # the criterion's title, in Korean
    await expect(first).to_have_attribute("data-graded", "0")
    assert await axe(page) == []
    await first.locator("a.grade-link").click()

    # answer 1: trainee005 submitted first, shown only as a number
    await expect(page.locator("#trainee")).to_contain_text("#1")
    assert "trainee005" not in await page.locator("main").inner_text()
    await expect(page.locator("#answer-cell")).to_contain_text("예시 답안")
    await expect(page.locator("fieldset.levels")).to_contain_text("의사결정")  # levels in Korean
    await keys_ready(page)
    await page.keyboard.press("1")
    await expect(page.locator("#level-1")).to_be_checked()
    await expect(page.locator("#points")).to_have_value("3")
    await page.locator("#comment").fill("가설이 분명합니다 / clear hypotheses")
    await page.locator("#level-1").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice .alert-success")).to_be_visible()
    await expect(page.locator("#graded-by")).to_contain_text("instructor")

    await page.keyboard.press("j")  # answer 2: trainee001
    await expect(page).to_have_url(f"{hub.url}{ANSWER}?n=2")
    await expect(page.locator("#trainee")).to_contain_text("#2")
    await keys_ready(page)
    await page.keyboard.press("3")  # the third level: 1 point
    await expect(page.locator("#points")).to_have_value("1")
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice .alert-success")).to_be_visible()
    await page.keyboard.press("k")  # back to answer 1: its level and comment are kept
    await expect(page).to_have_url(f"{hub.url}{ANSWER}?n=1")
    await expect(page.locator("#level-1")).to_be_checked()
    await expect(page.locator("#comment")).to_have_value("가설이 분명합니다 / clear hypotheses")
    assert await axe(page) == []

    # the results count the points given by hand
    r = hub.call("instructor", "GET", f"{API}/assessments/{AID}/grades?cohort={COHORT}&cells=1")
    rows_ = {row["username"]: row for row in r.json()["rows"]}
    cells = {c["cell"]: c for c in rows_["trainee005"]["cells"]}
    assert (cells[CELL]["score"], cells[CELL]["origin"], cells[CELL]["version"]) == (
        3.0,
        "sadari",
        2,
    )
    assert cells[CELL]["comment"] == "가설이 분명합니다 / clear hypotheses"
    assert rows_["trainee001"]["status"] == "needs-manual"  # five criteria still wait


async def test_a_second_graders_stale_write_is_refused(
    hub: RunningHub, new_page: NewPage, graded: dict[str, int]
) -> None:
    mine, theirs = await new_page(), await new_page()
    await open_answer(mine, hub, "instructor", 1)
    await open_answer(theirs, hub, "admin", 1)
    await expect(mine.locator("#grade-form")).to_have_attribute("data-version", "2")
    await theirs.keyboard.press("2")
    await theirs.keyboard.press("Enter")
    await expect(theirs.locator("#notice .alert-success")).to_be_visible()

    await mine.keyboard.press("4")  # mine still shows version 2
    await mine.keyboard.press("Enter")
    await expect(mine.locator("#notice .alert-danger")).to_be_visible()
    await expect(mine.locator("#points")).to_have_value("2")  # the grade stored now: admin's
    await expect(mine.locator("#level-2")).to_be_checked()
    await expect(mine.locator("#graded-by")).to_contain_text("admin")
    await expect(mine.locator("#grade-form")).to_have_attribute("data-version", "3")
    await mine.keyboard.press("1")  # now that it shows what is stored, saving works
    await mine.keyboard.press("Enter")
    await expect(mine.locator("#notice .alert-success")).to_be_visible()

    # over the API: 409 with the stored grade, nothing written
    url = f"{API}/assessments/{AID}/grades/{graded['trainee005']}/{AID}/{CELL}"
    r = hub.call("admin", "PUT", url, json={"points": 0, "comment": "", "version": 3})
    assert r.status_code == 409, r.text
    assert (r.json()["current"]["version"], r.json()["current"]["score"]) == (4, 3.0)
    r = hub.call(
        "admin",
        "PUT",
        f"{API}/assessments/{AID}/grades/{graded['trainee005']}/{AID}/dap-intro",
        json={"points": 0, "version": 1},
    )
    assert r.status_code == 404, r.text
    await mine.goto(f"{hub.url}{ANSWER}?n=1&lang=en")
    await expect(mine.locator("#level-1")).to_be_checked()
    await screenshot(mine, "grading-answer")
    assert await axe(mine) == []


async def test_names_on_request_progress_and_the_audit_log(
    hub: RunningHub, new_page: NewPage, graded: dict[str, int]
) -> None:
    page = await new_page()
    await open_answer(page, hub, "instructor", 2)
    await page.locator("#names-toggle").click()
    await expect(page.locator("#trainee")).to_contain_text("trainee001")
    await page.goto(f"{hub.url}{ANSWER}?n=1")  # remembered for this grader
    await expect(page.locator("#trainee")).to_contain_text("trainee005")
    await page.locator("#names-toggle").click()
    await expect(page.locator("#trainee")).to_contain_text("#1")

    await page.goto(f"{hub.url}{QUEUE}?lang=en")
    first = page.locator("#questions tbody tr").first
    await expect(first).to_have_attribute("data-graded", "2")
    await expect(first.locator(".count")).to_contain_text("2 of 2")
    # the grades standing now, by who gave them (admin's was replaced by the instructor's)
    await expect(page.locator("#graders tbody tr")).to_have_count(1)
    await expect(page.locator("#graders tbody tr")).to_contain_text("instructor2")
    await screenshot(page, "grading-queue")
    assert await axe(page) == []

    r = hub.call("admin", "GET", f"{API}/audit?limit=50")
    entries = [e for e in r.json()["entries"] if e["action"] == "grade.manual"]
    assert len(entries) == 4 and {e["actor"] for e in entries} == {"instructor", "admin"}
    assert all(e["details"]["assessment"] == AID for e in entries)
