"""``kasda advance``: the advances of a year and one SKPD's register, read from the store; the KKPD
reconciliation's ledger inputs written as CSV in its contract; a year with none is a clear error."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from kasda.cli import main
from ledger.application import Ledger
from ledger.cashplan import WIB
from tests import advance_kit as k
from tests import factory as f

JT = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_kasda_advance_prints_the_balances_the_register_and_writes_the_kkpd_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    ledger = Ledger(url, clock=Clock())
    try:
        f.adopt(ledger)
        ledger.execute(k.set_advance())
        ledger.execute(k.register_card())
        run = k.Advancer(ledger)
        run.up("SPP-UP/1", 30 * JT)
        run.run(k.spj("SPJ/1", 5 * JT))
        run.run(k.spj("SPJ/2", 2 * JT, channel="kkpd", card=k.CARD))
        run.run(k.pay_bill(2 * JT))
    finally:
        ledger.close()
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    frames = tmp_path / "frames"
    argv = ["advance", "--pemda", f.PEMDA, "--year", str(f.YEAR), "--skpd", f.SKPD,
            "--kkpd-frames", str(frames)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"Uang persediaan pemda {f.PEMDA} TA {f.YEAR}" in printed
    assert "23.000.000" in printed  # the cash: 30 less 5 in cash and the 2 bill
    assert "card_bill" in printed and "up_received" in printed
    spj = pl.read_csv(frames / "kkpd-spj.csv", separator=";", infer_schema=False)
    assert spj.columns == ["spj_id", "skpd", "card", "spent_on", "amount", "merchant",
                           "reference", "line_id"]  # fmt: skip
    assert spj.select("card", "amount").rows() == [(k.CARD_KEY, str(2 * JT))]
    bills = pl.read_csv(frames / "kkpd-bill-payments.csv", separator=";", infer_schema=False)
    assert bills.columns == ["payment_id", "card", "paid_on", "amount"]
    assert main(["advance", "--year", str(f.YEAR + 1), "--pemda", f.PEMDA]) != 0
    assert "no UP set" in capsys.readouterr().err


def test_kasda_reconcile_kkpd_reads_the_spj_and_cards_from_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --spj/--cards: the card purchases the bendahara accounted for are the ledger's own; the
    statement's purchase with an SPJ matches, the one without is an exception once old enough."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    ledger = Ledger(url, clock=Clock())
    try:
        f.adopt(ledger)
        ledger.execute(k.set_advance())
        ledger.execute(k.register_card())
        run = k.Advancer(ledger)
        run.up("SPP-UP/1", 30 * JT)
        run.run(k.spj("SPJ/1", 2 * JT, channel="kkpd", card=k.CARD, spent_on="2026-01-02"))
    finally:
        ledger.close()
    statement = tmp_path / "kkpd.csv"
    statement.write_text(
        "tanggal_transaksi;tanggal_posting;nomor_kartu;nama_merchant;kode_otorisasi;uraian;"
        "debet;kredit\n"
        "02/01/2026;03/01/2026;5264-xxxx-xxxx-1234;TOKO SUMBER REJEKI;;ATK;2.000.000;\n"
        "05/01/2026;06/01/2026;5264-xxxx-xxxx-1234;TOKO LAIN;;TANPA SPJ;450.000;\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    argv = ["reconcile-kkpd", "--statement", str(statement), "--pemda", f.PEMDA,
            "--as-of", "2026-03-31", "--no-record"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "matched=1" in printed and "kkpd_no_spj=1" in printed, printed
    assert main([*argv, "--spj", str(statement)]) == 2
    assert "--spj and --cards together" in capsys.readouterr().err
