"""The bendahara's advance on the RKUD statement: the SP2D of an UP, GU or TU debits the RKUD to the
bendahara's account and a setoran credits it back; the nightly match expects both (SP2D number or
deposit reference in the remark, the exact amount), through the real ``kasda reconcile``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from kasda.cli import main
from ledger.application import Ledger
from ledger.cashplan import WIB
from reconciliation.readers.ledger import ledger_frame
from tests import advance_kit as k
from tests import factory as f

JT = 1_000_000
DAY = date(f.YEAR, 1, 2)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _advance_day(url: str) -> None:
    """UP of Rp 30 juta settled, an SPJ, a GU authorised (its transfer not confirmed yet), a GU
    nihil (no money) and a setoran of Rp 5 juta, all on 2 January."""
    ledger = Ledger(url, clock=Clock())
    try:
        f.adopt(ledger)
        ledger.execute(k.set_advance())
        run = k.Advancer(ledger)
        run.up("SPP-UP/1", 30 * JT)
        run.run(k.spj("SPJ/1", 4 * JT))
        run.run(k.order("SPP-GU/1", "gu", spj_numbers=("SPJ/1",)))
        run.steps("SPP-GU/1", settle=False)
        run.run(k.spj("SPJ/2", 1 * JT))
        run.run(k.order("SPP-NIHIL/1", "gu_nihil", spj_numbers=("SPJ/2",)))
        run.steps("SPP-NIHIL/1", settle=False)
        run.run(k.give_back(5 * JT, reference="STS/UP/01"))
    finally:
        ledger.close()


def test_the_ledger_frame_holds_the_advances_sp2d_and_setoran(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    _advance_day(url)
    ledger = Ledger(url)
    try:
        frame = ledger_frame(ledger, f.PEMDA)
    finally:
        ledger.close()
    rows = {
        r["sp2d_number"] or r["order_id"]: (r["kind"], r["direction"], r["net"], r["status"])
        for r in frame.iter_rows(named=True)
    }
    assert rows == {
        "SP2D/SPP-UP/1": ("disbursement", "D", 30 * JT, "settled"),
        "SP2D/SPP-GU/1": ("disbursement", "D", 4 * JT, "authorised"),
        "STS/UP/01": ("receipt", "C", 5 * JT, "received"),
    }
    up = frame.filter(pl.col("sp2d_number") == "SP2D/SPP-UP/1").row(0, named=True)
    assert (up["beneficiary_bank"], up["beneficiary_account"]) == ("110", "0099887766")
    assert up["settled_on"] == DAY


def test_the_nightly_match_expects_the_advances_money(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    _advance_day(url)
    stamp = DAY.strftime("%d/%m/%Y")
    bank = tmp_path / "rkud.csv"
    bank.write_text(
        "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"
        f"{stamp};SP2D/SPP-UP/1 UP DISKOMINFO;30.000.000,00;0,00;;FT1;0099887766;110\n"
        f"{stamp};SP2D/SPP-GU/1 GU DISKOMINFO;4.000.000,00;0,00;;FT2;0099887766;110\n"
        f"{stamp};STS/UP/01 SETORAN SISA UP;0,00;5.000.000,00;;FT3;0099887766;110\n"
        f"{stamp};TRF 0099887766 TANPA SP2D;2.000.000,00;0,00;;FT4;0099887766;110\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    out = tmp_path / "out"
    command = ["reconcile", "--date", DAY.isoformat(), "--bank", str(bank), "--out", str(out),
               "--no-record"]  # fmt: skip
    assert main(command) == 0
    capsys.readouterr()
    report = pl.read_parquet(out / "statement.parquet")
    assert report["status"].cast(pl.String).to_list() == [
        "matched", "matched", "matched", "unmatched_bank",
    ]  # fmt: skip
    ledger = pl.read_parquet(out / "ledger.parquet")
    assert set(ledger["status"].cast(pl.String).to_list()) == {"matched"}
