"""Anggaran Kas & SPD in Chromium: the Kuasa BUD opens the page from the menu, issues an SPD in the
form (a refusal first, said in Indonesian with the input kept), and sees it in the register and the
month table; the PPTK then sees the SKPD's Sisa SPD beside the remaining pagu on the SPP form."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from ledger.roles import Role
from testkit.api import build_world, line, post
from testkit.api import expect as answered
from testkit.browser import LiveServer
from testkit.world import GOODS, MEDIA, SKPD, YEAR
from tests.browser.conftest import sign_in_as

QUARTER = 250_000_000


def _world(server: LiveServer) -> dict[str, str]:
    with httpx.Client(base_url=server.url) as api:
        made = build_world(api, server.config)
        plan = {
            "skpd": SKPD,
            "document": "PERKADA-AK-1-2026",
            "lines": [{"line": line(r), "months": [QUARTER] * 4} for r in (MEDIA, GOODS)],
        }
        answered(
            post(api, server.config, Role.BPKAD_ADMIN, f"/budgets/{YEAR}/cash-plans", plan), 201
        )
    return made


def test_the_kuasa_bud_issues_an_spd_and_the_pptk_sees_it(page: Page, server: LiveServer) -> None:
    made = _world(server)
    sign_in_as(page, server, "Kuasa BUD", "kuasabud.dedi")
    page.get_by_role("link", name="Anggaran Kas & SPD").click()
    expect(page.get_by_role("heading", name="Anggaran Kas & SPD")).to_be_visible()
    months = page.locator("#anggaran-kas-bulan")
    expect(months.locator("tbody tr")).to_have_count(12)
    expect(months.locator("tbody tr").first).to_contain_text("Rp 500.000.000")

    page.get_by_label("Nomor SPD").fill("SPD-TW1")
    page.get_by_label("Bulan awal").select_option(label="Januari")
    page.get_by_label("Bulan akhir").select_option(label="Maret")
    page.get_by_label("Jumlah (Rp)").fill("1.600.000.000")
    page.get_by_role("button", name="Terbitkan SPD").click()
    expect(page.locator(".alert-error")).to_contain_text("Melebihi sisa SPD")
    expect(page.get_by_label("Nomor SPD")).to_have_value("SPD-TW1")

    page.get_by_label("Jumlah (Rp)").fill("300.000.000")
    page.get_by_role("button", name="Terbitkan SPD").click()
    expect(page.locator(".alert-ok")).to_contain_text("SPD diterbitkan.")
    expect(page.locator("#daftar-spd")).to_contain_text("SPD-TW1")
    expect(page.locator("#daftar-spd")).to_contain_text("Januari \u2013 Maret")
    expect(months.locator("tbody tr").first).to_contain_text("Rp 300.000.000")
    shot = Path(os.environ.get("KASDA_SHOT_DIR", "/tmp")) / "anggaran-kas.png"
    page.screenshot(path=str(shot), full_page=True)

    sign_in_as(page, server, "PPTK", "pptk.ani")
    page.goto(f"{server.url}/spp/baru")
    page.get_by_label("Rincian anggaran").select_option(made["line_id"])
    page.get_by_label("Nilai bruto (Rp)").fill("350.000.000")
    expect(page.locator("#sisa-spd")).to_contain_text("Rp 300.000.000")
    expect(page.locator("#ringkasan")).to_contain_text("Melebihi sisa SPD SKPD ini bulan ini.")
