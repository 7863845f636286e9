"""The refusals, in Chromium: an SPP above the available pagu refused on the form with the input
kept, a vendor opening another vendor's payment by its address, a form posted without its CSRF
token, and a stored name with ``<script>`` shown as text and never run."""

from __future__ import annotations

import httpx
from playwright.sync_api import Dialog, Page, expect

from ledger.roles import Role
from testkit.api import build_world, post, vendor_body
from testkit.api import expect as answered
from testkit.browser import LiveServer
from tests.browser.conftest import sign_in_as

SCRIPT_NAME = "PT <script>alert('xss')</script> Media"
SCRIPT_NPWP = "031234567890000"


def _world(server: LiveServer) -> dict[str, str]:
    with httpx.Client(base_url=server.url) as api:
        made = build_world(api, server.config)
        body = vendor_body(SCRIPT_NPWP, SCRIPT_NAME)
        answered(post(api, server.config, Role.BPKAD_ADMIN, "/vendors", body), 201)
    return made


def test_what_must_be_refused_is_refused_in_the_browser(page: Page, server: LiveServer) -> None:
    made = _world(server)
    alerts: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    # Above the available pagu (Rp 800.000.000 left): refused in plain words, input kept.
    sign_in_as(page, server, "PPTK", "pptk.ani")
    page.goto(f"{server.url}/spp/baru")
    page.get_by_label("Nomor SPP").fill("SPP-TERLALU-BESAR")
    page.get_by_label("Rincian anggaran").select_option(made["line_id"])
    page.get_by_label("Penyedia").select_option(
        label="PT Pikiran Rakyat Bandung · NPWP 012345678901000"
    )
    page.get_by_label("Nilai bruto (Rp)").fill("900.000.000")
    page.get_by_label("Uraian").fill("Terlalu besar")
    page.get_by_role("button", name="Ajukan SPP").click()
    expect(page.locator(".alert-error").first).to_contain_text("Melebihi sisa pagu")
    expect(page.get_by_label("Nomor SPP")).to_have_value("SPP-TERLALU-BESAR")
    page.goto(f"{server.url}/spp")
    expect(page.get_by_text("SPP-TERLALU-BESAR")).to_have_count(0)  # nothing recorded

    # A stored name with a script: shown as text in the vendor picker, never run.
    page.goto(f"{server.url}/spp/baru")
    options = page.get_by_label("Penyedia").locator("option")
    expect(options.filter(has_text="<script>")).to_have_count(1)

    # A form posted without its CSRF token (a forged request from this signed-in browser).
    forged = page.request.post(f"{server.url}/keluar", form={"csrf": "forged"}, max_redirects=0)
    assert forged.status == 403
    page.goto(f"{server.url}/beranda")
    expect(page.locator(".who-name")).to_have_text("pptk.ani")  # still signed in

    # The vendor opens another vendor's payment by its address: the API's 404, nothing shown.
    sign_in_as(page, server, "Penyedia", "vendor.prb")
    theirs = made["other_vendor_disbursement_id"]
    answer = page.goto(f"{server.url}/pembayaran/{theirs}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Tidak ditemukan")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("SPP-2")
    mine = page.goto(f"{server.url}/pembayaran/{made['disbursement_id']}")
    assert mine is not None and mine.status == 200

    # The officials' vendor registry shows the name as text too.
    sign_in_as(page, server, "Admin BPKAD", "bpkad.admin")
    page.goto(f"{server.url}/penyedia")
    expect(page.get_by_text(SCRIPT_NAME)).to_be_visible()
    assert alerts == []
