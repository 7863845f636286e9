"""``kasda gateway-sim`` as a process, and the demo hook that pays through the simulator."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx

from gateways.config import GatewaySettings
from gateways.receipts import MidtransReceipts
from kasda.demo.gateway import pay_all
from tests.gateway_support import (
    VENDOR_B_NPWP,
    authorise,
    ledger_with_vendors,
    receipt_order,
    status_of,
)

ROOT = Path(__file__).resolve().parent.parent


def test_gateway_sim_command_serves_the_sdk(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from kasda.cli import main; raise SystemExit(main())",
            "gateway-sim",
            "--port",
            "0",
            "--seed",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("gateway simulator on http://127.0.0.1:")
        url = first.split()[-1]
        midtrans = MidtransReceipts(GatewaySettings.for_simulator(url))
        midtrans.charge_qris(receipt_order("CLI-1", 10_000))
        assert httpx.post(f"{url}/sim/pay/CLI-1").status_code == 200
        assert midtrans.status("CLI-1").status.value == "settlement"
        # Midtrans pays it into the RKUD the next day: that day's settlement report lists it.
        report = httpx.get(f"{url}/sim/reports/settlements/{_payout_day(midtrans, 'CLI-1')}")
        assert "CLI-1,STL" in report.text
        planned = httpx.post(
            f"{url}/sim/faults", json={"method": "GET", "path": "/v2/", "kinds": ["503"]}
        )
        assert planned.json() == {"planned": 1}
        assert httpx.get(f"{url}/v2/CLI-1/status").status_code == 503
        bad = httpx.post(f"{url}/sim/faults", json={"method": "GET", "kinds": ["explode"]})
        assert bad.status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=10)


def _payout_day(midtrans: MidtransReceipts, order_id: str) -> str:
    settled = date.fromisoformat(midtrans.status(order_id).settled_at[:10])
    return (settled + timedelta(days=1)).isoformat()


def test_the_demo_gateway_pays_everything_and_writes_the_files(tmp_path: Path) -> None:
    ledger = ledger_with_vendors()
    authorise(ledger, "S1")
    authorise(ledger, "S2", 40_000_000)
    bad = authorise(ledger, "S3", 20_000_000, npwp=VENDOR_B_NPWP)
    paid = pay_all(
        ledger,
        fail_accounts=frozenset({(bad.bank_account or {})["number"]}),
        report_dir=tmp_path,
    )
    assert paid.outcomes == {"settled": 2, "failed": 1}
    assert paid.total_paid == 98_000_000 + 38_000_000
    assert [status_of(ledger, s) for s in ("S1", "S2", "S3")] == ["settled", "settled", "failed"]
    names = {p.name for p in paid.files}
    day = "2026-01-02"  # the ledger's (test) clock: the simulator runs on it
    assert {f"payouts-{day}.csv", f"rkud-{day}.sta", f"rkud-{day}.csv"} <= names
    assert "IRIS" in (tmp_path / f"rkud-{day}.sta").read_text()
    assert pay_all(ledger).results == []  # nothing left to pay
    ledger.close()


def test_demo_gateway_pays_and_collects_on_one_simulator(tmp_path: Path) -> None:
    from kasda.demo.gateway import DemoGateway
    from tests.gateway_support import ledger_with_income

    ledger = ledger_with_income()
    authorise(ledger, "S1")
    orders = [receipt_order(f"PAJAK-{n}", 100_000 * (n + 1)) for n in range(3)]
    with DemoGateway(ledger) as gateway:
        paid = gateway.pay_all()
        recorded = gateway.collect(orders)
        files = gateway.write_daily_files(tmp_path)
    assert paid.outcomes == {"settled": 1}
    assert [r.data["net"] for r in recorded] == [
        100_000 - 700,  # QRIS 0.7 %
        200_000 - 4_000,  # VA flat fee
        300_000 - 2_100,  # Snap paid by QRIS
    ]
    # Paid into the RKUD the next day: that day's settlement report and statement show the batch.
    settlements = next(p for p in files if p.name == "settlements-2026-01-03.csv").read_text()
    assert settlements.count("STL20260103") == 3 and settlements.count("2026-01-02 ") == 3
    credit = next(p for p in files if p.name == "rkud-2026-01-03.csv").read_text()
    assert "STL20260103" in credit and "593.200,00" in credit  # one batch, net of fees
    ledger.close()
