"""Changing an autograded cell's points from the submission's page (issue 16), in a real browser:
the cohort's instructor opens trainee001's graded da-basics-check, is told that a change needs a
reason when they give none, then gives 1 more point with a reason and sees the cell, who changed it,
when, why and the grading's own points, and the submission's new total, in place and after a
reload; a second tab that still shows the old version is refused and shows the grade stored now;
the trainee sees the new total on their page and, once feedback is released, the reason in it; a
trainee gets 403 for the page and the API, and an instructor of another cohort sees no form and
is refused (403) by the API. Korean and English, axe; screenshots adjust-points-en.png and
adjust-points-ko.png (1280x800).

The hub (its own): the demo cohort, `instructor` teaches 2026-seoul-1 (`instructor_cohorts`) and
`busanteach` (imported here) 2026-busan-1. trainee001 submits the assessment with one answer left
out, so one test cell scores 0.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.support.hub import ROOT, RunningHub, sadari

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-basics-check"
SOURCE = ROOT / f"labs/data-analysis/basics/assessments/{AID}/{AID}.ipynb"
API = f"{SERVICE}api/v1"
TRAINEE = "trainee001"
OTHER = "busanteach"
STAFF = f"username,name,role\n{OTHER},부산 강사,instructor\n".encode()
REASON = "The test compared with the wrong column <b>"


def archive() -> bytes:
    """The notebook answered with the instructor's solutions except the last solution cell."""
    nb = json.loads(SOURCE.read_text(encoding="utf-8"))
    solutions = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    solutions[-1]["source"] = "# YOUR CODE HERE\nraise NotImplementedError()"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{AID}.ipynb", json.dumps(nb))
    return out.getvalue()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub whose `instructor` teaches the demo cohort and `busanteach` another; trainee001's
    submission graded (`hub.sid`)."""
    data_dir = tmp_path_factory.mktemp("adjust-hub")
    running = RunningHub.start(
        data_dir,
        f"sqlite:///{data_dir}/sadari.sqlite",
        trainees=4,
        SADARI_INSTRUCTOR_COHORTS=f"instructor:{COHORT},{OTHER}:2026-busan-1",
    )
    try:
        r = running.call("admin", "POST", f"{API}/roster?filename=staff.csv", data=STAFF)
        assert r.status_code == 200, r.text
        sadari(running.env, "assessment", "release", AID, "--cohort", COHORT)
        r = running.call(
            TRAINEE, "POST", f"{API}/exchange/assignments/{AID}/submissions", data=archive()
        )
        assert r.status_code == 201, r.text
        running.sid = r.json()["submission"]["id"]  # type: ignore[attr-defined]
        sadari(running.env, "assessment", "autograde", AID, "--cohort", COHORT)
        yield running
    finally:
        running.stop()


def page_of(hub: RunningHub, lang: str) -> str:
    return f"{SERVICE}submissions/{hub.sid}?lang={lang}"  # type: ignore[attr-defined]


def zero_row(page: Page):  # type: ignore[no-untyped-def]
    """The row of the test cell that scored 0 (the unanswered one)."""
    return page.locator(
        "#tests tr.grade", has=page.locator("td.points", has_text=re.compile(r"^0 /"))
    )


async def raw_points(page: Page) -> float:
    return float((await page.locator("#raw").inner_text()).split("/")[0])


def grades_result(hub: RunningHub) -> dict:  # type: ignore[type-arg]
    """trainee001's row of the assessment's results."""
    r = hub.call("instructor", "GET", f"{API}/assessments/{AID}/grades?cohort={COHORT}")
    (mine,) = [row for row in r.json()["rows"] if row["username"] == TRAINEE]
    return mine  # type: ignore[no-any-return]


def grades(hub: RunningHub, who: str = "instructor") -> dict[str, dict]:  # type: ignore[type-arg]
    r = hub.call(who, "GET", f"{API}/assessments/{AID}/grades/{hub.sid}")  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return {g["cell"]: g for g in r.json()["grades"]}


async def test_adjust_with_a_reason_and_the_total_follows(
    hub: RunningHub, new_page: NewPage
) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(page, hub, "instructor", page_of(hub, "en"))
    raw_before = await raw_points(page)
    cell = await zero_row(page).first.get_attribute("data-cell")
    row = page.locator(f'#tests tr.grade[data-cell="{cell}"]')
    maximum = grades(hub)[cell]["max_score"]
    form = row.locator("form.adjust-form")
    await row.get_by_text("Adjust points").click()
    await expect(form).to_be_visible()

    # no reason: refused in the page with a message saying so; nothing sent
    await form.get_by_label("Points").fill("1")
    await form.get_by_role("button", name="Save points").click()
    alert = form.locator(".adjust-notice .alert")
    await expect(alert).to_contain_text("Give a reason")
    await expect(form.get_by_label("Reason")).to_be_focused()
    assert grades(hub)[cell]["version"] == 1
    # points over the cell's maximum: refused too
    await form.get_by_label("Points").fill(str(maximum + 1))
    await form.get_by_label("Reason").fill(REASON)
    await form.get_by_role("button", name="Save points").click()
    await expect(alert).to_contain_text("from 0 to")

    await form.get_by_label("Points").fill("1")
    await form.get_by_label("Comment").fill("Your answer was right; the test was not.")
    await form.get_by_role("button", name="Save points").click()
    await expect(alert).to_contain_text("Saved: 1 of")
    await expect(row.locator("td.points")).to_have_text(re.compile(r"^1 /"))
    info = row.locator(".adjusted")
    await expect(info).to_be_visible()
    await expect(info).to_contain_text("Changed by instructor at")
    await expect(info.locator(".adjusted-reason")).to_have_text(REASON)  # text, not markup
    await expect(info.locator(".adjusted-auto")).to_have_text(re.compile(r"^0 /"))
    await expect(page.locator("#raw")).to_have_text(re.compile(rf"^{raw_before + 1:g} /"))
    final_after = await page.locator("#final strong").inner_text()
    assert final_after == f"{grades_result(hub)['final_score']:g}"

    # after a reload, from the record
    await page.reload()
    row = page.locator(f'#tests tr.grade[data-cell="{cell}"]')
    await expect(row.locator("td.points")).to_have_text(re.compile(r"^1 /"))
    await expect(row.locator(".adjusted")).to_contain_text("Changed by instructor at")
    await expect(row.locator(".adjusted-auto")).to_have_text(re.compile(r"^0 /"))
    await expect(row.locator(".adjusted-comment")).to_have_text(
        "Your answer was right; the test was not."
    )
    await expect(page.locator("#final strong")).to_have_text(final_after)
    await row.get_by_text("Adjust points").click()
    await row.locator("form").get_by_label("Reason").fill(REASON)
    watch.assert_quiet()  # before the screenshot, whose own inline style the policy refuses
    await page.locator("#tests").scroll_into_view_if_needed()
    await screenshot(page, "adjust-points-en")
    assert await axe(page) == []

    r = hub.call("admin", "GET", f"{API}/audit?limit=20")
    (entry,) = [e for e in r.json()["entries"] if e["action"] == "grade.adjust"]
    assert (entry["actor"], entry["reason"], entry["details"]["from"]) == (
        "instructor",
        REASON,
        0.0,
    )


async def test_a_stale_second_tab_is_refused_and_shows_the_grade_now(
    hub: RunningHub, new_page: NewPage
) -> None:
    first, second = await new_page(), await new_page()
    await login(first, hub, "instructor", page_of(hub, "en"))
    await login(second, hub, "admin", page_of(hub, "en"))
    cell = next(c for c, g in grades(hub).items() if g["origin"] == "sadari")
    rows = [p.locator(f'#tests tr.grade[data-cell="{cell}"]') for p in (first, second)]
    for row in rows:
        await row.get_by_text("Adjust points").click()
    mine, theirs = (row.locator("form") for row in rows)
    await expect(theirs).to_have_attribute("data-version", "2")

    await mine.get_by_label("Points").fill("0.5")
    await mine.get_by_label("Reason").fill("half: the plot has no labels")
    await mine.get_by_role("button", name="Save points").click()
    await expect(mine.locator(".alert-success")).to_be_visible()

    await theirs.get_by_label("Points").fill("2")
    await theirs.get_by_label("Reason").fill("admin's look")
    await theirs.get_by_role("button", name="Save points").click()
    alert = theirs.locator(".alert-danger")
    await expect(alert).to_contain_text("instructor changed these points meanwhile")
    await expect(theirs.get_by_label("Points")).to_have_value("0.5")  # the grade stored now
    await expect(theirs).to_have_attribute("data-version", "3")
    await expect(rows[1].locator("td.points")).to_have_text(re.compile(r"^0\.5 /"))
    await expect(rows[1].locator(".adjusted-reason")).to_have_text("half: the plot has no labels")
    await expect(rows[1].locator(".adjusted-auto")).to_have_text(re.compile(r"^0 /"))
    await expect(second.locator("#final strong")).to_have_text(
        await first.locator("#final strong").inner_text()
    )
    assert grades(hub)[cell]["score"] == 0.5  # nothing of the admin's was written

    await theirs.get_by_label("Points").fill("2")  # now over what is stored
    await theirs.get_by_role("button", name="Save points").click()
    await expect(theirs.locator(".alert-success")).to_contain_text("Saved: 2 of")
    assert (grades(hub)[cell]["score"], grades(hub)[cell]["graded_by"]) == (2.0, "admin")


async def test_the_trainee_sees_the_new_total_and_the_reason_in_the_feedback(
    hub: RunningHub, new_page: NewPage
) -> None:
    mine = grades_result(hub)
    r = hub.call("instructor", "POST", f"{API}/assessments/{AID}/feedback?cohort={COHORT}")
    assert r.status_code == 200, r.text
    page = await new_page()
    await login(page, hub, TRAINEE, f"{SERVICE}trainee?lang=en")
    row = page.locator(f"#a-{AID} table.submissions tbody tr").first
    await expect(row.locator(".score")).to_contain_text(
        f"{mine['final_score']:g} / {mine['max_score']:g}"
    )
    await row.get_by_role("link", name="Feedback").click()
    summary = page.locator("#by-hand")
    await expect(summary).to_contain_text("admin's look")
    await expect(summary).to_contain_text("2 / ")
    await expect(page.locator("#final")).to_contain_text(f"{mine['final_score']:g}")


async def test_trainees_and_other_cohorts_instructors_cannot_adjust(
    hub: RunningHub, new_page: NewPage
) -> None:
    sid = hub.sid  # type: ignore[attr-defined]
    cell = next(c for c, g in grades(hub).items() if g["origin"] == "sadari")
    put = f"{API}/assessments/{AID}/grades/{sid}/{AID}/{cell}"
    body = {"points": 0, "version": 4, "reason": "mine"}
    page = await new_page()
    await login(page, hub, TRAINEE, f"{SERVICE}trainee")
    response = await page.goto(hub.url + page_of(hub, "en"))
    assert response is not None and response.status == 403
    assert hub.call(TRAINEE, "PUT", put, json=body).status_code == 403
    assert hub.call(TRAINEE, "GET", f"{API}/assessments/{AID}/grades/{sid}").status_code == 403

    other = await new_page()
    await login(other, hub, OTHER, page_of(hub, "en"))
    await expect(other.locator("#tests tr.grade").first).to_be_visible()
    await expect(other.locator("#tests .adjusted:not([hidden])")).to_have_count(1)  # read only
    await other.wait_for_load_state("networkidle")
    assert await other.locator("details.adjust:visible").count() == 0
    r = hub.call(OTHER, "PUT", put, json=body)
    assert r.status_code == 403 and "only its instructors and admins" in r.json()["message"]
    assert grades(hub)[cell]["version"] == 4


async def test_the_page_in_korean(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", page_of(hub, "ko"))
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    row = page.locator("#tests tr.grade", has=page.locator(".adjusted:visible")).first
    await expect(row.locator("details.adjust")).to_be_visible()
    await row.locator("details.adjust summary").click()
    await row.locator("form").get_by_role("button").click()
    await expect(row.locator(".adjust-notice .alert")).to_be_visible()
    await page.locator("#tests").scroll_into_view_if_needed()
    await screenshot(page, "adjust-points-ko")
    assert await axe(page) == []
