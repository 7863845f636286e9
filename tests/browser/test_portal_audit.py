"""The vendor portal and the auditor's pages in Chromium: the vendor sees its settled payment with
its timeline and downloads its statement as CSV; the auditor finds that payment and opens it, and
verifies the chain."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from ledger.roles import Role
from testkit.api import build_world, post
from testkit.api import expect as answered
from testkit.browser import LiveServer
from tests.browser.conftest import sign_in_as

SHOTS = os.environ.get("KASDA_SCREENSHOTS")  # a folder: the pages' screenshots go there


def _shot(page: Page, name: str) -> None:
    if not SHOTS:
        return
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    wide = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.screenshot(path=str(Path(SHOTS) / f"{name}-390.png"), full_page=True)
    if wide is not None:
        page.set_viewport_size(wide)


def _settled_payment(server: LiveServer) -> str:
    """The world of ``testkit.api.build_world``, its vendor's SPP-1 taken to settled."""
    with httpx.Client(base_url=server.url) as client:
        made = build_world(client, server.config)
        d = made["disbursement_id"]
        for role, step, body in (
            (Role.PPK, "verify", {}),
            (Role.PA_KPA, "approve", {"spm_number": "SPM-1"}),
            (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-1"}),
            (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-1"}),
            (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-1"}),
        ):
            answered(post(client, server.config, role, f"/disbursements/{d}/{step}", body), 200)
    return d


def test_the_vendor_sees_it_paid_and_the_auditor_finds_it(page: Page, server: LiveServer) -> None:
    d = _settled_payment(server)

    sign_in_as(page, server, "Penyedia", "vendor.prb")
    expect(page.locator(".card", has_text="Berhasil masuk rekening bulan")).to_contain_text("1")
    page.get_by_role("link", name="Pembayaran saya").click()
    settled = page.locator(".payment", has_text="SPP SPP-1")
    expect(settled.locator(".badge")).to_have_text("Berhasil (masuk rekening)")
    expect(settled.locator(".step")).to_have_count(6)
    expect(settled.locator(".step-now")).to_contain_text("Berhasil (masuk rekening)")
    expect(settled.locator(".step").first).to_contain_text("WIB")
    expect(settled).to_contain_text("PPh 23")
    expect(settled).to_contain_text("Rp 98.000.000")
    expect(page.locator(".payment", has_text="SPP-2")).to_have_count(0)  # another vendor's
    expect(settled.get_by_role("link", name="SPP SPP-1")).to_have_attribute(
        "href", f"/pembayaran/{d}"
    )
    _shot(page, "portal")
    page.get_by_role("link", name="Rekening koran", exact=True).first.click()
    expect(page.get_by_role("heading", name="Rekening koran")).to_be_visible()
    _shot(page, "portal-rekening-koran")
    with page.expect_download() as started:
        page.get_by_role("link", name="Unduh CSV").click()
    content = Path(started.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [(r["no_spp"], int(r["netto"]), r["status"]) for r in rows] == [
        ("SPP-1", 98_000_000, "settled")
    ]
    page.get_by_role("button", name="Keluar").click()

    sign_in_as(page, server, "Auditor / Inspektorat", "auditor.fajar")
    page.get_by_role("link", name="Cari pembayaran").click()
    page.get_by_label("Nomor SPP / SPM / SP2D").fill("SP2D-1")
    page.get_by_role("button", name="Cari").click()
    found = page.locator("a.found")
    expect(found).to_have_count(1)
    expect(page.locator("tbody tr").first).to_contain_text("Berhasil (masuk rekening)")
    _shot(page, "audit")
    found.click()
    expect(page).to_have_url(f"{server.url}/pembayaran/{d}")

    page.goto(f"{server.url}/audit/integritas")
    expect(page.get_by_text("Belum diverifikasi sejak server ini dijalankan")).to_be_visible()
    page.get_by_role("button", name="Verifikasi sekarang").click()
    expect(page.locator(".integrity-ok")).to_contain_text("Rantai hash utuh")
    expect(page.locator("dl.facts").first).to_contain_text("oleh auditor.fajar")
    _shot(page, "audit-integritas")
