"""Fixtures of the browser tests, after JupyterHub's own jupyterhub/tests/browser: Playwright's
async API driving Debian's Chromium, one browser per module, a fresh context per test, a login
helper. Each module sets `pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope=
"module")]` (its tests share the browser's event loop).

- `hub` (module): a real JupyterHub with the sadari service and the demo cohort (8 trainees), on
  SQLite only (the pages read the same queries on both databases; tests/integration covers
  PostgreSQL), started by tests.support.hub.RunningHub.
- `chromium` (module): the browser (`/usr/bin/chromium`, or $SADARI_CHROMIUM).
- `new_page` (per test): a factory of pages, each in a fresh context (1280×800, no cookies);
  every context is closed when the test ends.
- `login(page, hub, username)`: the hub's login form, as a person fills it.
- `axe(page)`: axe-core (node_modules/axe-core, from package.json) run on the page; the
  violations of impact serious or critical.
- `screenshot(page, name)`: the page at 1280×800 in SCREENSHOTS (tests/browser/screenshots/,
  git-ignored), named `<name>.png`.
- `Watch`: what a page did that it should not (dialogs, console errors, page errors, requests
  to anywhere but the hub).

The service's pages keep their Content-Security-Policy in these tests (no `bypass_csp`): axe is
evaluated through the DevTools protocol, which the policy does not govern.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.support.hub import PASSWORD, ROOT, RunningHub

CHROMIUM = os.environ.get("SADARI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).with_name("screenshots")
SERVICE = "/services/sadari/"
COHORT = "2026-seoul-1"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A real hub for the module (SQLite)."""
    data_dir = tmp_path_factory.mktemp("browser-hub")
    running = RunningHub.start(data_dir, f"sqlite:///{data_dir}/sadari.sqlite", trainees=8)
    try:
        yield running
    finally:
        running.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, one per module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make system-deps` installs Debian's chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


NewPage = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="module")
async def new_page(chromium: Browser, request: pytest.FixtureRequest) -> AsyncIterator[NewPage]:
    """Pages in fresh contexts (no cookies, 1280×800); on failure the last page's HTML is printed,
    as JupyterHub's tests do."""
    contexts = []
    pages: list[Page] = []
    expect.set_options(timeout=30_000)  # the contexts' default too (a release runs nbgrader)

    async def make(**options: Any) -> Page:
        context = await chromium.new_context(viewport=VIEWPORT, **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = await context.new_page()
        pages.append(page)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed and pages:
        page = pages[-1]
        print(f"page.url={page.url}\n----- Page HTML -----")
        print(await page.content())
        print("----- End Page HTML -----")
    for context in contexts:
        await context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item (for `new_page`'s print on failure)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


async def login(page: Page, hub: RunningHub, username: str, next_url: str = SERVICE) -> None:
    """Log in through the hub's form, then open `next_url` (the service's pages by default)."""
    await page.goto(f"{hub.url}/hub/login?next={quote(next_url, safe='/')}")  # keeps its query
    await page.get_by_label("Username:").fill(username)
    await page.get_by_label("Password:").fill(PASSWORD)
    async with page.expect_navigation(wait_until="load"):
        await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("load")
    if SERVICE not in page.url:
        await page.goto(hub.url + next_url)


async def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


async def screenshot(page: Page, name: str) -> Path:
    """The page's viewport (1280×800) as SCREENSHOTS/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9._-]+', '-', name.lower())}.png"
    await page.screenshot(path=str(path))
    return path


@dataclass
class Watch:
    """Everything a page did that a staff page must never do because of what it shows: open a
    dialog, log a console error (a Content-Security-Policy refusal is one), throw, or ask
    anything of a host other than the hub's."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    # errors the harness itself caused (the policy refusing the inline style a screenshot or axe
    # adds): each message names the refused style's hash, so an identical message arriving later
    # (console messages come asynchronously, sometimes after `forget_harness`) is the same style
    harness: set[str] = field(default_factory=set)

    def forget_harness(self) -> None:
        """The errors so far were the harness's own (a screenshot's, axe's): forget them, and
        the same messages from now on."""
        self.harness.update(self.errors)
        self.errors.clear()

    def attach(self, page: Page) -> Watch:
        """Start listening on `page`."""

        async def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {m.type}: {m.text}")
                if m.type == "error" and f"console {m.type}: {m.text}" not in self.harness
                else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(self.origin) or r.url.startswith("data:")
                else self.elsewhere.append(r.url)
            ),
        )
        return self

    def assert_quiet(self) -> None:
        """Nothing happened."""
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors
        assert self.elsewhere == [], self.elsewhere
