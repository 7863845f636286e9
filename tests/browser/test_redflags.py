"""The inspector's red-flag journey in Chromium over the demo year (whose flags a run recorded,
``demo_site.record_red_flags``): the list, one flag with its payments and evidence, a review
through its form; and the warning on a flagged payment's page, as the Kuasa BUD sees it. Each
page passes the accessibility checks of every page (``test_accessibility.look_at``)."""

from __future__ import annotations

from playwright.sync_api import Browser

from ledger.roles import Role
from testkit.browser import LiveServer
from tests.browser.demo_site import sign_in
from tests.browser.test_accessibility import DESKTOP, look_at, new_context

WARNING = "Perhatian: ada indikasi risiko terbuka pada pembayaran/penyedia ini"


def test_the_inspector_opens_reviews_a_flag_and_the_payment_warns(
    browser: Browser, demo_server: LiveServer
) -> None:
    context = new_context(browser, None, DESKTOP)
    try:
        page = context.new_page()
        sign_in(page, demo_server, Role.AUDITOR)
        page.get_by_role("link", name="Indikasi risiko").first.click()
        page.wait_for_url(f"{demo_server.url}/indikasi-risiko")
        assert "Indikasi, bukan tuduhan." in page.content()
        page.locator("a.flag-link").first.click()
        page.wait_for_url(f"{demo_server.url}/indikasi-risiko/*")
        flag_url = page.url
        assert look_at(page) == [], flag_url
        payment_link = page.locator('#pembayaran ~ * a[href^="/pembayaran/"]').first
        payment_path = payment_link.get_attribute("href")
        assert payment_path is not None

        page.get_by_label("Eskalasi ke APIP").check()
        page.get_by_role("textbox", name="Alasan").fill(
            "Diteruskan ke APIP: faktur yang sama pada dua SP2D."
        )
        page.get_by_role("button", name="Catat tinjauan").click()
        page.wait_for_url(f"{flag_url}?pesan=ditinjau")
        shown = page.content()
        assert "Tinjauan dicatat." in shown and "Dieskalasi ke APIP" in shown
        assert "Diteruskan ke APIP: faktur yang sama pada dua SP2D." in shown

        page.goto(f"{demo_server.url}{payment_path}")
        assert WARNING in page.content()
        # The warning links back to the flag just reviewed (it names this payment).
        flag_path = flag_url.removeprefix(demo_server.url).split("?")[0]
        page.locator(f'.flag-warnings a[href="{flag_path}"]').first.click()
        page.wait_for_url(f"{demo_server.url}{flag_path}")
    finally:
        context.close()

    context = new_context(browser, None, DESKTOP)
    try:
        page = context.new_page()
        sign_in(page, demo_server, Role.KUASA_BUD)
        answer = page.goto(f"{demo_server.url}{payment_path}")
        assert answer is not None and answer.status == 200
        assert WARNING in page.content()
        assert page.locator(".flag-warnings a").count() == 0  # the flag's page is not theirs
        assert look_at(page) == []
    finally:
        context.close()
