"""Signing in and out in Chromium: the demo sign-in page, Beranda, the menu by keyboard, sign-out."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from testkit.browser import LiveServer
from tests.browser.conftest import sign_in_as


def test_sign_in_see_home_and_sign_out(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/beranda")
    expect(page).to_have_url(f"{server.url}/masuk?next=/beranda")
    expect(page.get_by_role("heading", name="Masuk ke kasda")).to_be_visible()
    sign_in_as(page, server, "Auditor / Inspektorat", "auditor.fajar")
    expect(page.get_by_role("heading", name="Beranda")).to_be_visible()
    expect(page.locator(".who-name")).to_have_text("auditor.fajar")
    page.keyboard.press("Tab")  # the first stop is the skip link, for keyboard users
    expect(page.get_by_role("link", name="Langsung ke isi")).to_be_focused()
    page.get_by_role("button", name="Keluar").click()
    expect(page).to_have_url(f"{server.url}/masuk")
    page.goto(f"{server.url}/beranda")
    expect(page).to_have_url(f"{server.url}/masuk?next=/beranda")
