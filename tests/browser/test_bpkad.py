"""BPKAD in Chromium: upload a day's RKUD statement and Midtrans payout report, run the
reconciliation, find the exception it leaves and resolve it with a reason."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from ledger.application import Ledger
from testkit.browser import LiveServer
from testkit.clock import FixedClock
from tests import factory as f
from tests.browser.conftest import sign_in_as

# SPP-1 was paid through Iris in batch PB-0000001 (the world's clock pays it on 2 Jan 2026); the
# RKUD shows that batch and a transfer kasda knows nothing of.
STATEMENT = (
    "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"
    "02/01/2026;PB-0000001 MIDTRANS PAYOUT;98.000.000,00;0,00;;FTPB-0000001;;\n"
    "02/01/2026;TRF 0099887766 TANPA SP2D;5.000.000,00;0,00;;FT2;0099887766;008\n"
)
PAYOUTS = (
    "reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at\n"
    "IRIS-SPP-1,PB-0000001,completed,bjb,0012345678,98000000.00,0.00,2026-01-02 10:00:00\n"
)
DAY = "2026-01-02"


def a_paid_day(server: LiveServer, folder: Path) -> tuple[Path, Path]:
    """SPP-1 paid in the server's store, and the day's files as the bank and Midtrans send them."""
    ledger = Ledger(server.config.database_url, clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        f.pay_in_full(ledger, "SPP-1")
    finally:
        ledger.close()
    bank, payouts = folder / f"rkud-{DAY}.csv", folder / f"payouts-{DAY}.csv"
    bank.write_text(STATEMENT, encoding="utf-8")
    payouts.write_text(PAYOUTS, encoding="utf-8")
    return bank, payouts


def test_bpkad_reconciles_a_day_and_resolves_an_exception(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    bank, payouts = a_paid_day(server, tmp_path)
    sign_in_as(page, server, "Admin BPKAD", "bpkad.admin")
    page.get_by_role("link", name="Rekonsiliasi", exact=True).click()
    page.get_by_label("Tanggal rekening koran").fill(DAY)
    page.get_by_label("Rekening koran (RKUD)").set_input_files(bank)
    page.get_by_label("Laporan gateway").set_input_files(payouts)
    page.get_by_role("button", name="Jalankan dan catat").click()
    expect(page.get_by_text("Rekonsiliasi dijalankan dan dicatat.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rekonsiliasi 2 Jan 2026")
    expect(page.get_by_role("cell", name="Cocok").first).to_be_visible()
    page.screenshot(path="/tmp/kasda-bpkad-run.png", full_page=True)
    page.get_by_role("link", name="lihat pengecualian").click()
    row = page.get_by_role("row").filter(has_text=f"rkud-{DAY}.csv:3")
    expect(row).to_contain_text("Tidak ada di kasda")
    expect(row).to_contain_text("Rp 5.000.000")
    row.get_by_label("Penyelesaian").select_option("explained")
    row.get_by_label("Keterangan").fill("dana BOS ke rekening sekolah, nota dinas 12/2026")
    page.screenshot(path="/tmp/kasda-bpkad-worklist.png", full_page=True)
    row.get_by_role("button", name="Selesaikan").click()
    expect(page.get_by_text("Pengecualian diselesaikan.")).to_be_visible()
    expect(page.get_by_text("Belum ada data.")).to_be_visible()  # nothing left open
    page.get_by_label("Keadaan").select_option("resolved")
    page.get_by_role("button", name="Saring").click()
    expect(page.get_by_text("nota dinas 12/2026")).to_be_visible()
