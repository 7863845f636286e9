"""Tutup tahun in Chromium: the BPKAD admin opens Tutup Tahun from the menu, reads the preview (the
SPPs that lapse, the SiLPA), ticks the contract that carries over, confirms, and finds the LRA final."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ledger.application import Ledger
from testkit.browser import LiveServer
from tests import factory as f
from tests.browser.conftest import sign_in_as
from tests.test_year_close import a_year


def test_bpkad_closes_the_year_with_one_carry_over(page: Page, server: LiveServer) -> None:
    ledger = Ledger(server.config.database_url)
    try:
        a_year(ledger)
    finally:
        ledger.close()
    sign_in_as(page, server, "Admin BPKAD", "bpkad.admin")
    page.get_by_role("link", name="Tutup Tahun", exact=True).click()
    page.goto(f"{server.url}/tutup-tahun?tahun={f.YEAR}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Tutup Tahun Anggaran {f.YEAR}")
    expect(page.get_by_role("cell", name="Rp 510.000.000")).to_be_visible()  # the SiLPA
    page.get_by_label("Luncurkan SPP-3").check()
    page.get_by_label("Nomor keputusan PPKD").fill("900/KEP.PPKD/2026")
    page.get_by_role("button", name=f"Tutup tahun anggaran {f.YEAR}").click()
    expect(
        page.get_by_text(f"Tahun anggaran {f.YEAR} telah ditutup. LRA-nya final.")
    ).to_be_visible()
    page.goto(f"{server.url}/lra?tahun={f.YEAR}")
    expect(page.locator(".badge-final")).to_have_text("Final")
