"""The open data's index page (``/publik/data/``) in Chromium over the demo year, signed out: no
axe-core violation, keyboard and reflow as every page (tests/browser/test_accessibility.py), and
its links download the files they name. ``KASDA_SCREENSHOTS_DIR=<folder>`` keeps a screenshot."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from playwright.sync_api import Browser

from kasda.demo.pemda import PEMDA, YEAR
from testkit.browser import LiveServer
from tests.browser.test_accessibility import DESKTOP, look_at, new_context, open_page

SHOTS = os.environ.get("KASDA_SCREENSHOTS_DIR")


def test_the_index_is_accessible_and_its_links_download(
    browser: Browser, demo_server: LiveServer, tmp_path: Path
) -> None:
    context = new_context(browser, None, DESKTOP)
    try:
        page = open_page(context.new_page(), f"{demo_server.url}/publik/data/")
        assert page.get_by_role("heading", name="Kamus data").is_visible()
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "publik-data.png"), full_page=True)
        assert look_at(page) == []
        link = page.locator(f'a[href="/publik/data/payments.csv?pemda={PEMDA}&tahun={YEAR}"]')
        with page.expect_download() as started:
            link.click()
        download = started.value
        assert download.suggested_filename == f"kasda-payments-{PEMDA.replace('.', '')}-{YEAR}.csv"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text("utf-8"))))
        assert rows and {r["status"] for r in rows} <= {"sp2d_terbit", "dibayar", "dikembalikan"}
    finally:
        context.close()
