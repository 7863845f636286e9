"""The bendahara's advance in Chromium: with an UP received, the bendahara records an SPJ and asks
an SPP-GU choosing it on the Uang Persediaan page; the PPK, the PA/KPA and the Kuasa BUD each find it
in their queue and take it to its SP2D on its own page."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from ledger.roles import Role
from testkit.api import adopt_body, get, post
from testkit.api import expect as answered
from testkit.browser import LiveServer
from testkit.world import GOODS, SKPD, YEAR
from tests.browser.conftest import sign_in_as

SHOTS = os.environ.get("KASDA_SCREENSHOTS_DIR")
JT = 1_000_000


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _up_received(api: httpx.Client, server: LiveServer) -> str:
    config, admin = server.config, Role.BPKAD_ADMIN
    answered(post(api, config, admin, "/budgets", adopt_body()), 201)
    body = {"year": YEAR, "skpd": SKPD, "document": "KEP-UP/01", "ceiling": 50 * JT,
            "kkpd_ceiling": 20 * JT, "tu_ceiling": 10 * JT, "bank_code": "110",
            "account_number": "0099887766", "account_holder": "Bendahara"}  # fmt: skip
    answered(post(api, config, admin, "/advances", body), 201)
    up = {"spp_number": "SPP-UP/1", "mechanism": "up", "amount": 30 * JT, "description": "UP"}
    oid = answered(post(api, config, Role.BENDAHARA, f"/advances/{YEAR}/{SKPD}/orders", up), 201)
    for role, step, payload in [
        (Role.PPK, "verify", None), (Role.PA_KPA, "approve", {"spm_number": "SPM-UP/1"}),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-UP/1"}),
        (Role.GATEWAY, "settled", {"bank_reference": "BANK-1"}),
    ]:  # fmt: skip
        answered(post(api, config, role, f"/advances/orders/{oid['id']}/{step}", payload), 200)
    lines = answered(get(api, config, admin, f"/budgets/{YEAR}/lines"), 200)["items"]
    return str(next(x["id"] for x in lines if x["rekening"] == GOODS))


def _decide(page: Page, server: LiveServer, who: tuple[str, str], fill: dict[str, str],
            button: str, done: str) -> None:  # fmt: skip
    sign_in_as(page, server, *who)
    page.goto(f"{server.url}/antrean")
    page.get_by_role("link", name="SPP-GU/WEB/1").click()
    expect(page.get_by_role("heading", name="SPP-GU SPP-GU/WEB/1")).to_be_visible()
    for label, value in fill.items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_text(done)).to_be_visible()


def test_spj_to_spp_gu_to_its_sp2d(page: Page, server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as api:
        line_id = _up_received(api, server)
    sign_in_as(page, server, "Bendahara Pengeluaran", "bendahara.eka")
    page.get_by_role("link", name="Uang Persediaan").click()
    expect(page.locator("#kas")).to_have_text("Rp 30.000.000")
    form = page.locator("#form-spj")
    form.get_by_label("Nomor SPJ").fill("SPJ/WEB/1")
    form.get_by_label("Rincian anggaran").select_option(line_id)
    form.get_by_label("Jumlah (Rp)").fill("4.000.000")
    form.get_by_label("Penerima pembayaran").fill("Toko Rejeki")
    form.get_by_label("Tanggal belanja").fill(f"{YEAR}-01-15")
    form.get_by_label("Nomor bukti").fill("KW/1")
    form.get_by_role("button", name="Catat SPJ").click()
    expect(page.get_by_text("SPJ dicatat.")).to_be_visible()
    expect(page.locator("#kas")).to_have_text("Rp 26.000.000")

    order = page.locator("#form-spp")
    order.get_by_label("Jenis").select_option("gu")
    order.get_by_label("Nomor SPP").fill("SPP-GU/WEB/1")
    order.get_by_label("SPJ/WEB/1").check()
    order.get_by_label("Uraian").fill("GU pertama")
    _shot(page, "uang-persediaan")
    order.get_by_role("button", name="Ajukan SPP").click()
    expect(page.get_by_text("SPP diajukan.")).to_be_visible()

    _decide(page, server, ("PPK-SKPD", "ppk.budi"), {}, "Verifikasi", "SPP diverifikasi.")
    _decide(page, server, ("PA/KPA", "kadis.citra"), {"Nomor SPM": "SPM-GU/WEB/1"},
            "Setujui SPM", "SPM disetujui.")  # fmt: skip
    _decide(page, server, ("Kuasa BUD", "kuasabud.dedi"), {"Nomor SP2D": "SP2D-GU/WEB/1"},
            "Terbitkan SP2D", "SP2D diterbitkan.")  # fmt: skip
    _shot(page, "uang-persediaan-sp2d")
    expect(page.get_by_text("SP2D-GU/WEB/1")).to_be_visible()
