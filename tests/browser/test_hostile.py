"""What a trainee controls runs nothing in a staff browser.

A trainee whose name carries `<script>`, `<img onerror>` and SVG payloads submits a notebook whose
markdown and outputs carry more (script, event handlers, SVG, javascript: links, iframes, a
JavaScript output, an image pointing at the hub's logout). The instructor opens the board, the
submissions table and the rendered submission, in Korean and English: no dialog opens, no
console error is logged (a script or style the Content-Security-Policy refused would log one),
no page error is thrown, no request leaves for anywhere but the hub, and the payloads show as
text where they are text.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import time
import zipfile

import pytest
import requests
from playwright.async_api import expect

from tests.support.hub import ROOT, RunningHub

from .conftest import COHORT, SERVICE, NewPage, Watch, axe, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AID = "da-basics-check"
SOURCE = ROOT / "labs/data-analysis/basics/assessments/da-basics-check/da-basics-check.ipynb"
API = "/services/sadari/api/v1"
EVIL = "evil01"
EVIL_NAME = (
    '<script>window.pwned="name";alert("name")</script>'
    "<img src=x onerror=\"window.pwned='img';alert(1)\">"
    "<svg onload=\"window.pwned='svg';alert(2)\"></svg>"
)
MARKDOWN = """# Answer <script>window.pwned='md';alert('md')</script>

<img src=x onerror="window.pwned='md-img';alert('md-img')">
<svg onload="window.pwned='md-svg';alert('md-svg')"><script>alert('in-svg')</script></svg>
[click me](javascript:alert('link')) <iframe src="javascript:alert('frame')"></iframe>
<img src="/hub/logout"> <img src="https://example.invalid/track.png">
<style>body { display: none }</style>
<a href="https://example.org/" onclick="alert('click')">a plain link</a>
"""
OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": "<script>alert('stream')</script>\n"},
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "text/html": "<b>bold</b><script>alert('html')</script>"
            "<img src=x onerror=\"window.pwned='out';alert('out')\">",
            "text/plain": "<fallback>",
        },
    },
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {"image/svg+xml": "<svg onload=\"alert('svg-out')\"></svg>"},
    },
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {"application/javascript": "window.pwned='js';alert('js')"},
    },
    {
        "output_type": "error",
        "ename": "ValueError",
        "evalue": "<img src=x onerror=alert('tb')>",
        "traceback": ["\u001b[31mValueError\u001b[0m: <img src=x onerror=alert('tb')>"],
    },
    {"output_type": "stream", "name": "stdout", "text": "x" * 200_000},
]


def hostile_notebook() -> bytes:
    """The assessment's notebook with payloads in a markdown cell and a code cell's outputs."""
    nb = json.loads(SOURCE.read_text(encoding="utf-8"))
    cells = nb["cells"]
    cells.insert(1, {"cell_type": "markdown", "metadata": {}, "source": MARKDOWN, "id": "evil-md"})
    code = copy.deepcopy(next(c for c in cells if c["cell_type"] == "code"))
    code.update(id="evil-code", source="print('<script>')", outputs=OUTPUTS, execution_count=1)
    code["metadata"] = {}
    cells.insert(2, code)
    return json.dumps(nb).encode("utf-8")


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def graded(hub: RunningHub) -> int:
    """The hostile trainee on the roster, the assessment released, their submission graded: its
    id."""
    roster = io.StringIO()
    w = csv.writer(roster)
    w.writerow(["username", "name", "cohort", "track", "stage"])
    w.writerow([EVIL, EVIL_NAME, COHORT, "data-analysis", "basics"])
    admin = {"Authorization": f"token {hub.env['SADARI_AUTOMATION_TOKEN']}"}
    r = requests.post(
        f"{hub.url}{API}/roster?filename=evil.csv",
        headers=admin,
        data=roster.getvalue().encode(),
        timeout=60,
    )
    assert r.status_code == 200, r.text
    r = hub.call("instructor", "POST", f"{API}/assessments/{AID}/release?cohort={COHORT}")
    assert r.status_code == 200, r.text
    r = hub.call(
        EVIL,
        "POST",
        f"{API}/exchange/assignments/{AID}/submissions",
        data=zip_of({f"{AID}.ipynb": hostile_notebook()}),
    )
    assert r.status_code == 201, r.text
    sid: int = r.json()["submission"]["id"]
    r = hub.call("instructor", "POST", f"{API}/assessments/{AID}/autograde?cohort={COHORT}")
    assert r.status_code == 202, r.text  # queued: the service's worker grades it
    progress = r.headers["Location"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        jobs = hub.call("instructor", "GET", progress).json()["jobs"]
        if jobs["queued"] + jobs["running"] == 0 and jobs["done"] + jobs["failed"] > 0:
            break
        time.sleep(0.5)
    else:
        raise TimeoutError(f"the hostile submission was not graded: {jobs}")
    return sid


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_hostile_names_and_answers_run_nothing(
    hub: RunningHub, graded: int, new_page: NewPage, lang: str
) -> None:
    page = await new_page()
    watch = Watch(hub.url).attach(page)
    await login(
        page, hub, "instructor", f"{SERVICE}board/{COHORT}/data-analysis/basics?lang={lang}"
    )
    await expect(page.locator(f"#a-{AID} .state")).to_have_attribute("data-state", "graded")

    await page.goto(f"{hub.url}{SERVICE}assessments/{COHORT}/{AID}")
    row = page.locator(f'#submissions tr[data-username="{EVIL}"]')
    await expect(row).to_contain_text('<script>window.pwned="name"')  # shown, as text
    await screenshot(page, f"hostile-submissions-{lang}")

    await row.get_by_role("link", name=EVIL).click()
    await expect(page.locator("h1")).to_contain_text("<svg onload=")
    notebook = page.locator("#notebooks")
    await expect(notebook).to_contain_text("a plain link")
    await expect(notebook).to_contain_text("<script>alert('stream')</script>")
    await expect(notebook.locator("b", has_text="bold")).to_be_visible()
    for selector in ("script", "svg", "iframe", "style", "[onerror]", "[onload]", "[onclick]"):
        assert await notebook.locator(selector).count() == 0, selector
    assert await notebook.locator('a[href^="javascript"]').count() == 0
    assert await notebook.locator("img:not([src^='data:image/'])").count() == 0
    assert (await notebook.inner_text()).count("x" * 5000) == 1  # 200,000 x cut to 5,000
    await screenshot(page, f"hostile-submission-{lang}")

    assert await page.evaluate("window.pwned") is None
    watch.assert_quiet()
    assert await axe(page) == []


async def test_the_page_still_names_the_trainees_graded_cells(
    hub: RunningHub, graded: int, new_page: NewPage
) -> None:
    page = await new_page()
    await login(page, hub, "instructor", f"{SERVICE}submissions/{graded}?lang=en")
    tests = page.locator("#tests tr.grade")
    await expect(tests.first).to_be_visible()
    assert await tests.count() == 5  # the five test cells of da-basics-check
    await expect(page.locator("#history")).to_contain_text("latest")
