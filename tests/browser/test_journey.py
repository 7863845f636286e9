"""One payment's whole life in Chromium, every person on their own page: the PPTK requests it in
the form, the PPK verifies, the PA/KPA approves the SPM, the Kuasa BUD issues the SP2D; the payout
goes out through the Midtrans-compatible simulator (the real Iris client over HTTP); the vendor
sees it settled; the auditor finds it and reads its timeline; BPKAD uploads the day's RKUD
statement and Iris payout report, runs the reconciliation and resolves the exception it leaves."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from gateways.payouts import Outcome, PayoutService
from gateways.simulator import Simulator
from ledger.application import Ledger
from testkit.api import build_world
from testkit.browser import LiveServer
from tests.browser.conftest import sign_in_as
from tests.browser.test_approvals import create_spp, open_from_queue
from tests.gateway_support import iris_client
from web.format import WIB

SPP = "SPP-WEB-1"
# A debit the RKUD shows and kasda has no SP2D for: the exception BPKAD must explain.
STRANGER = "{day};TRF 0099887766 TANPA SP2D;5.000.000,00;0,00;;FT2;0099887766;008\n"
HEADER = "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"


def _decide(page: Page, server: LiveServer) -> None:
    for label, user, field, number, button, done in (
        ("PPK-SKPD", "ppk.budi", None, None, "Verifikasi", "SPP telah diverifikasi."),
        ("PA/KPA", "kadis.citra", "Nomor SPM", "SPM-WEB-1", "Setujui SPM", "SPM telah disetujui."),
        ("Kuasa BUD", "kuasabud.dedi", "Nomor SP2D", "SP2D-WEB-1", "Terbitkan SP2D",
         "SP2D telah diterbitkan."),
    ):  # fmt: skip
        sign_in_as(page, server, label, user)
        open_from_queue(page, server, SPP)
        if field is not None and number is not None:
            page.get_by_label(field).fill(number)
        page.get_by_role("button", name=button, exact=True).click()
        expect(page.get_by_text(done)).to_be_visible()


def _pay_out(server: LiveServer, sim: Simulator) -> None:
    """The payment adapter's run: every authorised SP2D out through Iris, exactly once."""
    ledger = Ledger(server.config.database_url)
    try:
        results = PayoutService(ledger, iris_client(sim)).pay_all()
    finally:
        ledger.close()
    assert [r.outcome for r in results] == [Outcome.SETTLED]


def _day_files(sim: Simulator, folder: Path) -> tuple[Path, Path, str]:
    """The day's Iris payout report as the simulator sends it, and an RKUD statement (the BPD's
    CSV) with that batch's debit and one debit kasda cannot explain."""
    day = datetime.now(WIB).date()
    report = sim.payout_report(day)
    rows = list(csv.DictReader(io.StringIO(report)))
    assert len(rows) == 1, report
    batch, amount, fee = rows[0]["batch_id"], rows[0]["amount"], rows[0]["fee"]
    debit = int(amount.split(".")[0]) + int(fee.split(".")[0])
    written = f"{debit:,}".replace(",", ".") + ",00"
    shown = day.strftime("%d/%m/%Y")
    statement = (
        HEADER
        + f"{shown};{batch} MIDTRANS PAYOUT;{written};0,00;;FT{batch};;\n"
        + STRANGER.format(day=shown)
    )
    bank, payouts = folder / f"rkud-{day}.csv", folder / f"payouts-{day}.csv"
    bank.write_text(statement, encoding="utf-8")
    payouts.write_text(report, encoding="utf-8")
    return bank, payouts, day.isoformat()


def test_one_payment_from_the_spp_form_to_the_reconciled_day(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url) as api:
        world = build_world(api, server.config)
    create_spp(page, server, world["line_id"])
    _decide(page, server)

    with Simulator(seed=14) as sim:
        _pay_out(server, sim)
        bank, payouts, day = _day_files(sim, tmp_path)

    sign_in_as(page, server, "Penyedia", "vendor.prb")
    page.get_by_role("link", name="Pembayaran saya").click()
    paid = page.locator(".payment", has_text=f"SPP {SPP}")
    expect(paid.locator(".badge")).to_have_text("Berhasil (masuk rekening)")
    expect(paid).to_contain_text("Rp 98.000.000")

    sign_in_as(page, server, "Auditor / Inspektorat", "auditor.fajar")
    page.get_by_role("link", name="Cari pembayaran").click()
    page.get_by_label("Nomor SPP / SPM / SP2D").fill("SP2D-WEB-1")
    page.get_by_role("button", name="Cari").click()
    page.locator("a.found").click()
    timeline = page.locator("ol.timeline")
    for step in ("SPP diajukan", "SPM disetujui", "SP2D diterbitkan", "kuasabud.dedi"):
        expect(timeline).to_contain_text(step)
    expect(timeline).to_contain_text("gateway")  # the adapter's facts, with their positions

    sign_in_as(page, server, "Admin BPKAD", "bpkad.admin")
    page.get_by_role("link", name="Rekonsiliasi", exact=True).click()
    page.get_by_label("Tanggal rekening koran").fill(day)
    page.get_by_label("Rekening koran (RKUD)").set_input_files(bank)
    page.get_by_label("Laporan gateway").set_input_files(payouts)
    page.get_by_role("button", name="Jalankan dan catat").click()
    expect(page.get_by_text("Rekonsiliasi dijalankan dan dicatat.")).to_be_visible()
    page.get_by_role("link", name="lihat pengecualian").click()
    row = page.get_by_role("row").filter(has_text=f"rkud-{day}.csv:3")
    expect(row).to_contain_text("Rp 5.000.000")
    row.get_by_label("Penyelesaian").select_option("explained")
    row.get_by_label("Keterangan").fill("dana BOS ke rekening sekolah, nota dinas 12/2026")
    row.get_by_role("button", name="Selesaikan").click()
    expect(page.get_by_text("Pengecualian diselesaikan.")).to_be_visible()
    expect(page.get_by_text("Belum ada data.")).to_be_visible()  # the payout matched: none left
