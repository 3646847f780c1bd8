"""The board's two actions in the browser, against a real hub whose service grades what is queued
(every second here) with nbgrader: an instructor regrades one submission from its page with a
reason (a grading that failed) and sees the new result arrive in place; then opens the preview
of releasing feedback and sees who would get it, who is held back, who waits for a regrade and who
has no submission, before confirming. Screenshots: regrade.png and feedback-preview.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from sadari.hub.store import exchange as ex
from sadari.hub.store import grading
from sadari.hub.store.db import make_engine, session_factory
from tests.support.hub import RunningHub, sadari

from .conftest import COHORT, SERVICE, NewPage, axe, login, screenshot
from .test_board import AID, BOARD, submit

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

GRADING = 180_000  # ms: the service's loop takes the job within a second or two, nbgrader grades


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub with four data-analysis trainees (trainee001, 005, 009, 013) whose service grades the
    queue every second with nbgrader; da-basics-check released, three submissions graded (001
    and 009 solved, 005 not), the deadline moved just past them; 013 submitted nothing."""
    data_dir = tmp_path_factory.mktemp("board-actions-hub")
    running = RunningHub.start(
        data_dir,
        f"sqlite:///{data_dir}/sadari.sqlite",
        trainees=16,
        SADARI_GRADER="nbgrader",
        SADARI_GRADING_POLL_SECONDS="1",
    )
    try:
        sadari(running.env, "assessment", "release", AID, "--cohort", COHORT)
        ids = {
            u: submit(running, u, solved=u != "trainee005") for u in ("trainee001", "trainee005")
        }
        ids["trainee009"] = submit(running, "trainee009", solved=True)
        closed = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
        sadari(running.env, "assessment", "autograde", AID, "--cohort", COHORT)
        time.sleep(max(0.0, (closed - datetime.now(UTC)).total_seconds() + 0.1))
        # every submission on time; the deadline passed: feedback may go to whoever cannot gain
        sadari(
            running.env, "deadline", "set", AID, closed.isoformat(), "--reason", "closed",
            "--cohort", COHORT,
        )  # fmt: skip
        running.ids = ids  # type: ignore[attr-defined]
        yield running
    finally:
        running.stop()


def record(hub: RunningHub):  # type: ignore[no-untyped-def]
    """Sessions on the hub's database (the test's own writes, as another process would make)."""
    return session_factory(make_engine(hub.env["SADARI_DB_URL"]))


async def test_regrade_one_submission_from_its_page(hub: RunningHub, new_page: NewPage) -> None:
    sid = hub.ids["trainee001"]  # type: ignore[attr-defined]
    sessions = record(hub)
    with sessions.begin() as s:  # the grading failed (say the grader's image was broken)
        ex.record_failure(
            s, ex.submission(s, sid), "the grader stopped 3 times / 채점기가 3번 중단되었습니다",
            now=datetime.now(UTC),
        )  # fmt: skip
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}submissions/{sid}?lang=en")
    await expect(page.locator("#status")).to_contain_text("Grading failed")
    await expect(page.locator("#final")).to_contain_text("0")
    await page.get_by_text("Regrade this submission").click()
    area = page.locator("#regrade-area")
    await area.get_by_role("button", name="Regrade").click()  # no reason: the browser asks for one
    assert await page.locator("#regrade-reason").evaluate("e => !e.validity.valid")
    await page.locator("#regrade-reason").fill("grader image fixed <b>v2</b>")
    await area.get_by_role("button", name="Regrade").click()
    await expect(area.locator(".regrade-progress")).to_be_visible()
    await expect(area.locator(".regrade-notice")).to_contain_text("Regraded", timeout=GRADING)
    await expect(page.locator("#status")).to_contain_text("Graded")
    await expect(page.locator("#final")).to_contain_text("10")
    await expect(page.locator("#tests tr.grade td.points").first).not_to_contain_text("waiting")
    await screenshot(page, "regrade")
    assert await axe(page) == []
    with sessions() as s:
        assert grading.statuses(s, [sid]) == {sid: "done"}
        assert ex.submission(s, sid).result.status == "graded"

    admin = await new_page()
    await login(admin, hub, "admin", f"{SERVICE}admin")
    row = admin.locator("#audit tr", has=admin.locator("code", has_text="grading.regrade"))
    await expect(row).to_contain_text("grader image fixed <b>v2</b>")  # shown as text


async def test_the_feedback_preview_lists_who_gets_it_and_who_is_left_out(
    hub: RunningHub, new_page: NewPage
) -> None:
    sessions = record(hub)
    sid = hub.ids["trainee009"]  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with sessions.begin() as s:  # a regrade running on another worker, not finished yet
        grading.regrade(s, ex.submission(s, sid), actor="instructor", reason="memo", now=now)
        assert grading.claim(s, "another-worker", now, 3600, only=[sid]) is not None
    page = await new_page()
    await login(page, hub, "instructor", f"{BOARD}?lang=en")
    card = page.locator(f"#a-{AID}")
    await card.get_by_role("button", name="Release feedback").click()
    dialog = page.locator("#feedback-preview")
    await expect(dialog).to_be_visible()
    group = lambda c: dialog.locator(f'.preview-group[data-category="{c}"]')  # noqa: E731
    await expect(group("release")).to_be_visible()
    for category, who in [
        ("release", "trainee001"),
        ("held", "trainee005"),
        ("waiting", "trainee009"),
        ("no_submission", "trainee013"),
    ]:
        await expect(group(category).locator("li")).to_have_count(1)
        await expect(group(category).locator("li")).to_have_attribute("data-username", who)
        await expect(group(category).locator(".preview-count")).to_have_text("1")
    await expect(group("held")).to_contain_text("late submissions are accepted without end")
    await expect(group("waiting")).to_contain_text("regrading")
    for category in ("manual", "not_graded", "failed"):
        await expect(group(category)).to_be_hidden()
    await expect(dialog.locator(".preview-summary")).to_contain_text("1 of 4 trainees")
    confirm = dialog.get_by_role("button", name="Release feedback to 1")
    await expect(confirm).to_be_enabled()
    assert await axe(page) == []
    await screenshot(page, "feedback-preview")
    with sessions() as s:  # nothing released by looking
        assert all(x.feedback is None for x in ex.submissions_for(s, ex.cohort_assessments(s, AID)))

    await confirm.click()
    notice = page.locator("#notice")
    await expect(notice).to_contain_text(
        "Feedback released to 1; held back from 1.", timeout=GRADING
    )
    await expect(notice).to_contain_text("Left out: Waiting for a regrade 1, No submission 1.")
    with sessions() as s:
        got = {
            x.member.username: x.feedback is not None
            for x in ex.submissions_for(s, ex.cohort_assessments(s, AID))
        }
    assert got == {"trainee001": True, "trainee005": False, "trainee009": False}


async def test_regrade_from_the_submissions_table(hub: RunningHub, new_page: NewPage) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}assessments/{COHORT}/{AID}?lang=en")
    row = page.locator('#submissions tr[data-username="trainee005"]')
    before = await row.locator("td.final").inner_text()
    await row.get_by_role("button", name="Regrade trainee005").click()
    dialog = page.locator("#regrade-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#regrade-title")).to_have_text(
        "Regrade the submission of trainee005"
    )
    assert await axe(page) == []
    await dialog.locator("#regrade-reason").fill("checking the unanswered cells")
    await dialog.get_by_role("button", name="Regrade").click()
    await expect(dialog).to_be_hidden()
    await expect(row.locator(".regrade-badge")).to_be_visible()
    notice = page.locator(".regrade-notice")
    await expect(notice).to_contain_text("trainee005: Regraded", timeout=GRADING)
    await expect(row.locator(".regrade-badge")).to_be_hidden()
    await expect(row.locator("td.final")).to_have_text(before.strip())  # the same answers
    await expect(row.locator("button.regrade")).to_be_enabled()
