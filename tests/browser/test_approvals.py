"""An SPP-LS from the form to its SP2D in Chromium, each official signing in on the demo page: the
PPTK creates it (seeing the line's available pagu and the net after the taxes computed live), the
PPK verifies, the PPK acting as PA/KPA is refused in plain words (separation of duties), the PA/KPA
approves the SPM and the Kuasa BUD issues the SP2D."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from testkit.api import build_world
from testkit.browser import LiveServer
from tests.browser.conftest import sign_in_as

# Where a run leaves its screenshots, to look at the pages (none unless asked).
SHOTS = os.environ.get("KASDA_SCREENSHOTS_DIR")


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def open_from_queue(page: Page, server: LiveServer, spp: str) -> None:
    page.goto(f"{server.url}/antrean")
    page.get_by_role("link", name=spp).click()
    expect(page.get_by_role("heading", name=f"SPP-LS {spp}")).to_be_visible()


def create_spp(page: Page, server: LiveServer, line_id: str) -> None:
    sign_in_as(page, server, "PPTK", "pptk.ani")
    page.get_by_role("link", name="Ajukan SPP").click()
    page.get_by_label("Nomor SPP").fill("SPP-WEB-1")
    page.get_by_label("Rincian anggaran").select_option(line_id)
    # Pagu 1.000.000.000 less SPP-1 and SPP-2 (Rp 100.000.000 each), shown live.
    expect(page.locator("#sisa-pagu")).to_have_text("Rp 800.000.000")
    page.get_by_label("Penyedia").select_option(
        label="PT Pikiran Rakyat Bandung · NPWP 012345678901000"
    )
    page.get_by_label("Nilai bruto (Rp)").fill("111.000.000")
    page.get_by_label("PPN").check()
    page.get_by_label("PPH23").check()
    # DPP = 111.000.000 x 100/111; PPN 11% and PPh 23 2% of it withheld.
    expect(page.locator("#netto")).to_have_text("Rp 98.000.000")
    page.get_by_label("Uraian").fill("Publikasi kegiatan di koran")
    page.get_by_label("Jenis dokumen 1").fill("kontrak")
    page.get_by_label("Nomor dokumen 1").fill("KONTRAK/07/2026")
    _shot(page, "spp-baru")
    page.get_by_role("button", name="Ajukan SPP").click()
    expect(page.get_by_text("SPP telah diajukan")).to_be_visible()


def test_an_spp_from_the_form_to_its_sp2d(page: Page, server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as api:
        world = build_world(api, server.config)
    create_spp(page, server, world["line_id"])

    sign_in_as(page, server, "PPK-SKPD", "ppk.budi")
    open_from_queue(page, server, "SPP-WEB-1")
    expect(page.get_by_text("Sisa pagu (tersedia)")).to_be_visible()
    page.get_by_role("button", name="Verifikasi", exact=True).click()
    expect(page.get_by_text("SPP telah diverifikasi.")).to_be_visible()

    # The PPK, acting as PA/KPA, may not approve what he verified: refused, explained.
    sign_in_as(page, server, "PA/KPA", "ppk.budi")
    open_from_queue(page, server, "SPP-WEB-1")
    page.get_by_label("Nomor SPM").fill("SPM-WEB-1")
    page.get_by_role("button", name="Setujui SPM").click()
    expect(
        page.get_by_text("Satu orang tidak boleh melakukan dua tahap pada satu pembayaran.")
    ).to_be_visible()
    expect(page.get_by_label("Nomor SPM")).to_have_value("SPM-WEB-1")
    _shot(page, "pembayaran-ditolak-aturan")

    sign_in_as(page, server, "PA/KPA", "kadis.citra")
    open_from_queue(page, server, "SPP-WEB-1")
    page.get_by_label("Nomor SPM").fill("SPM-WEB-1")
    page.get_by_role("button", name="Setujui SPM").click()
    expect(page.get_by_text("SPM telah disetujui.")).to_be_visible()

    sign_in_as(page, server, "Kuasa BUD", "kuasabud.dedi")
    open_from_queue(page, server, "SPP-WEB-1")
    page.get_by_label("Nomor SP2D").fill("SP2D-WEB-1")
    page.get_by_role("button", name="Terbitkan SP2D").click()
    expect(page.get_by_text("SP2D telah diterbitkan.")).to_be_visible()
    history = page.locator("ol.timeline")
    for what in ("SPP diajukan", "Diverifikasi PPK-SKPD", "SPM disetujui", "SP2D diterbitkan"):
        expect(history).to_contain_text(what)
    expect(history).to_contain_text("kadis.citra")
    _shot(page, "pembayaran")
