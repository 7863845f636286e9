"""Browser tests: Debian's Chromium driven by Playwright against a live kasda server
(``testkit.browser``). Without Chromium they skip, loudly; with ``CI=true`` they fail, as the
PostgreSQL tests do (``.ci/run`` installs Chromium)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api.settings import ApiSettings
from testkit.browser import CHROMIUM, LiveServer, live_server
from testkit.web import web_settings
from tests.browser.demo_site import demo_server  # noqa: F401 - the demo year, served
from tests.conftest import make_url


def _require_browser() -> None:
    if CHROMIUM is not None:
        return
    message = "browser tests need Chromium (/usr/bin/chromium); .ci/run installs it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# Per package (tests/browser/), not per session: Playwright's sync API keeps an event loop running
# in this thread while it is open, and a test outside this package that calls ``asyncio.run`` in
# the same xdist worker would fail. pytest closes a package's fixture before it runs a test of
# another package, and a worker runs its tests in collection order (xdist's default "load"
# scheduling), so the browser tests of a worker run one after the other: one Chromium per worker,
# not one per module (a launch costs about 0.9 s of CPU and 2.5 s of wall). No test here calls
# ``asyncio.run``.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    _require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="id-ID", timezone_id="Asia/Jakarta",
                                  viewport={"width": 1280, "height": 800})  # fmt: skip
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A live kasda with the demo's sign-in users, on a fresh store of each backend."""
    _require_browser()
    config: ApiSettings = web_settings(make_url(str(request.param), tmp_path, request))
    with live_server(config) as running:
        yield running


def sign_in_as(page: Page, server: LiveServer, role_label: str, user_id: str) -> None:
    """Sign in on the demo sign-in page by clicking the user's button."""
    page.goto(f"{server.url}/masuk")
    page.get_by_role("button", name=f"{role_label} {user_id}").first.click()
    page.wait_for_url(f"{server.url}/beranda")
