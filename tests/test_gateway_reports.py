"""The simulator's daily files: the Iris payout report, the Midtrans settlement report and the RKUD
statement (MT940 and the BPD's CSV), with fees and batching; read back by the ``mt940`` package and by
kasda's own reconciliation readers."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import mt940
import pytest

from gateways.config import GatewaySettings
from gateways.payouts import PayoutService
from gateways.receipts import MidtransReceipts, ReceiptService
from gateways.simulator import WIB, Simulator
from gateways.simulator.reports import MONTHLY_ADMIN_FEE
from ledger.application import Ledger
from tests.gateway_support import (
    VENDOR_B_NPWP,
    authorise,
    did,
    iris_client,
    ledger_with_income,
    receipt_order,
)

DAY = date(2026, 3, 31)  # a month end: interest and the admin fee are booked too


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 31, 9, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def world() -> Iterator[tuple[Simulator, Ledger]]:
    clock = Clock()
    with Simulator(seed=3, clock=clock, opening_balance=10_000_000_000) as sim:
        ledger = ledger_with_income()
        settings = GatewaySettings.for_simulator(sim.url)
        # day D-1: two receipts, settled to the RKUD on D
        clock.now = datetime(2026, 3, 30, 10, 0, tzinfo=WIB)
        receipts = ReceiptService(ledger, MidtransReceipts(settings))
        receipts.bill(receipt_order("PAJAK-A", 1_000_000), "qris")
        receipts.bill(receipt_order("PAJAK-B", 2_500_000), "bank_transfer")
        sim.pay("PAJAK-A")
        sim.pay("PAJAK-B")
        # day D: three payouts, one of them returned by the bank
        clock.now = datetime(2026, 3, 31, 9, 0, tzinfo=WIB)
        d1 = authorise(ledger, "S1", 100_000_000)
        authorise(ledger, "S2", 50_000_000)
        d3 = authorise(ledger, "S3", 20_000_000, npwp=VENDOR_B_NPWP)
        sim.faults.return_accounts.add((d3.bank_account or {})["number"])
        PayoutService(ledger, iris_client(sim)).pay_all()
        assert d1.sp2d_number
        yield sim, ledger
        ledger.close()


def test_payout_report_lists_the_days_completed_payouts(world: tuple[Simulator, Ledger]) -> None:
    sim, _ = world
    lines = sim.payout_report(DAY).splitlines()
    assert lines[0] == (
        "reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at"
    )
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 3
    assert {r[1] for r in rows} == {"IRIS20260331"}
    assert sorted(r[5] for r in rows) == ["18000000.00", "48000000.00", "98000000.00"]
    assert {r[6] for r in rows} == {"2500.00"}
    assert sim.payout_report(DAY - timedelta(days=1)).count("\n") == 1  # header only


def test_settlement_report_has_fees_and_the_batch(world: tuple[Simulator, Ledger]) -> None:
    """The report of a day is the batch Midtrans pays into the RKUD that day: the receipts settled
    at the gateway the day before (``settlement_time``), under the batch id of the payout day."""
    sim, _ = world
    lines = sim.settlement_report(DAY).splitlines()
    assert lines[0] == "order_id,batch_id,settlement_time,payment_type,gross_amount,fee,net_amount"
    rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert rows["PAJAK-A"][3:] == ["qris", "1000000.00", "7000.00", "993000.00"]
    assert rows["PAJAK-B"][3:] == ["bank_transfer", "2500000.00", "4000.00", "2496000.00"]
    assert {r[1] for r in rows.values()} == {"STL20260331"}
    assert {r[2][:10] for r in rows.values()} == {"2026-03-30"}
    assert sim.settlement_report(DAY - timedelta(days=1)).count("\n") == 1  # header only


def test_mt940_statement_parses_and_balances(world: tuple[Simulator, Ledger]) -> None:
    sim, _ = world
    text = sim.rkud_statement(DAY, "mt940")
    statement = mt940.parse(text)
    transactions = list(statement)
    amounts = [t.data["amount"].amount for t in transactions]
    payouts = Decimal(98_000_000 + 48_000_000 + 18_000_000 + 3 * 2_500)
    settlement = Decimal(993_000 + 2_496_000)
    assert -payouts in amounts  # one debit for the whole payout batch, fees included
    assert Decimal(settlement) in amounts  # one credit for the settlement batch, net of fees
    assert Decimal(18_000_000) in amounts  # the return
    assert -Decimal(MONTHLY_ADMIN_FEE) in amounts
    opening = statement.data["final_opening_balance"].amount.amount
    closing = statement.data["final_closing_balance"].amount.amount
    assert opening + sum(amounts) == closing
    details = " ".join(str(t.data.get("transaction_details", "")) for t in transactions)
    assert "IRIS20260331" in details and "STL20260331" in details and "RETUR ksd" in details


def reader(module: str, name: str) -> Any:
    """A reconciliation reader, loaded by name: another engineer's module, not type-checked here."""
    return getattr(importlib.import_module(f"reconciliation.readers.{module}"), name)


def _write(sim: Simulator, tmp_path: Path) -> dict[str, Path]:
    files = {
        "rkud.sta": sim.rkud_statement(DAY, "mt940"),
        "rkud.csv": sim.rkud_statement(DAY, "csv"),
        "payouts.csv": sim.payout_report(DAY),
        "settlements.csv": sim.settlement_report(DAY),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return {name: tmp_path / name for name in files}


def test_mt940_feeds_the_reconciliation_reader(
    world: tuple[Simulator, Ledger], tmp_path: Path
) -> None:
    read_mt940 = reader("mt940", "read_mt940")
    sim, _ = world
    frame = read_mt940(_write(sim, tmp_path)["rkud.sta"])
    assert frame.height == 5
    assert set(frame["kind"].to_list()) >= {"return", "fee", "interest", "transfer"}
    references = set(frame["reference"].drop_nulls().to_list())
    assert {"IRIS20260331", "STL20260331"} <= references


def test_csv_files_feed_the_reconciliation_readers(
    world: tuple[Simulator, Ledger], tmp_path: Path
) -> None:
    read_bank_csv = reader("csv_profiles", "read_bank_csv")
    read_midtrans = reader("midtrans", "read_midtrans")
    sim, _ = world
    paths = _write(sim, tmp_path)
    from_csv = read_bank_csv(paths["rkud.csv"])
    assert from_csv.height == 5
    assert set(from_csv["kind"].to_list()) >= {"return", "fee", "interest", "transfer"}
    payouts = read_midtrans(paths["payouts.csv"])
    settlements = read_midtrans(paths["settlements.csv"])
    assert payouts.height == 3 and settlements.height == 2
    batch_debit = sum(payouts["amount"].to_list()) + sum(payouts["fee"].to_list())
    assert batch_debit in from_csv["amount"].to_list()


def test_unknown_statement_format_is_refused(world: tuple[Simulator, Ledger]) -> None:
    sim, _ = world
    with pytest.raises(ValueError, match="mt940 or csv"):
        sim.rkud_statement(DAY, "camt")


def test_unbatched_statement_names_each_sp2d(
    world: tuple[Simulator, Ledger], tmp_path: Path
) -> None:
    sim, ledger = world
    sim.state.batch_payouts = False
    text = sim.rkud_statement(DAY, "mt940")
    statement = mt940.parse(text)
    amounts = [t.data["amount"].amount for t in statement]
    assert sorted(a for a in amounts if a < 0)[:3] == [
        Decimal(-98_000_000),
        Decimal(-48_000_000),
        Decimal(-18_000_000),
    ]
    assert -Decimal(3 * 2_500) in amounts  # the day's transfer fees, one line
    d1 = ledger.disbursement(did("S1"))
    details = [str(t.data.get("transaction_details", "")) for t in statement]
    line = next(x for x in details if (d1.gateway_reference or "-") in x)
    assert d1.sp2d_number is not None and d1.sp2d_number in line
    frame = reader("mt940", "read_mt940")(_write(sim, tmp_path)["rkud.sta"])
    assert (d1.gateway_reference or "").upper() in set(frame["reference"].drop_nulls().to_list())
