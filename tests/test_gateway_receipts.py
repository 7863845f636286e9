"""Income through the real ``midtransclient`` SDK (Snap and Core API) talking HTTP to the simulator,
and gateway configuration from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateways.config import ConfigError, GatewaySettings
from gateways.port import GatewayRejected, GatewayTimeout, GatewayUnavailable, ReceiptStatus
from gateways.receipts import MidtransReceipts, OrderNotFound, ReceiptService, revenue_command
from gateways.simulator import Simulator
from kasda.settings import Settings
from ledger import ids
from ledger.application import Ledger
from ledger.revenue import Revenue
from tests import factory as f
from tests.gateway_support import INCOME_LINE, ledger_with_income, receipt_order


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=5) as running:
        running.faults.hang_seconds = 0.6
        yield running


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = ledger_with_income()
    yield app
    app.close()


def gateway(sim: Simulator, timeout: float = 2.0) -> MidtransReceipts:
    return MidtransReceipts(GatewaySettings.for_simulator(sim.url, timeout_seconds=timeout))


def test_snap_token_and_payment_through_the_sdk(ledger: Ledger, sim: Simulator) -> None:
    service = ReceiptService(ledger, gateway(sim))
    charge = service.bill(receipt_order("RETRIBUSI-PASAR-17", 75_000), "snap")
    assert charge.token and charge.redirect_url.startswith(sim.url)
    order = sim.state.orders["RETRIBUSI-PASAR-17"]
    assert order.custom[0] == f"kasda|{f.PEMDA}|{f.YEAR}"
    assert service.record("RETRIBUSI-PASAR-17") is None  # pending: nothing to record
    sim.pay("RETRIBUSI-PASAR-17", "bank_transfer")
    result = service.record("RETRIBUSI-PASAR-17")
    assert result is not None and result.data["net"] == 71_000
    again = service.record("RETRIBUSI-PASAR-17")
    assert again is not None and again.replayed
    revenue = ledger.aggregate(
        ids.revenue_id(f.PEMDA, f.YEAR, "midtrans:bank_transfer", "RETRIBUSI-PASAR-17"), Revenue
    )
    assert (revenue.gross, revenue.fee, revenue.net) == (75_000, 4_000, 71_000)


def test_core_api_virtual_account_and_qris(sim: Simulator) -> None:
    midtrans = gateway(sim)
    va = midtrans.charge_virtual_account(receipt_order("PBB-2026-0001", 1_500_000), "bni")
    assert va.va_number.isdigit() and len(va.va_number) >= 10
    qris = midtrans.charge_qris(receipt_order("PBB-2026-0002", 30_000))
    assert qris.qr_string
    state = midtrans.status("PBB-2026-0001")
    assert (state.status, state.gross, state.payment_type) == (
        ReceiptStatus.PENDING,
        1_500_000,
        "bank_transfer",
    )
    sim.pay("PBB-2026-0002")
    paid = midtrans.status("PBB-2026-0002")
    assert paid.status is ReceiptStatus.SETTLEMENT and paid.fee == 210  # 0.7 % of 30,000
    command = revenue_command(paid)
    assert command.line.rekening == INCOME_LINE.rekening
    assert command.line.sub_kegiatan is None
    assert command.idempotency_key == "midtrans:PBB-2026-0002:settled"


def test_sdk_errors_become_typed_gateway_errors(sim: Simulator) -> None:
    midtrans = gateway(sim, timeout=0.2)
    midtrans.charge_qris(receipt_order("DUP-1"))
    with pytest.raises(GatewayRejected):
        midtrans.charge_qris(receipt_order("DUP-1"))  # an order id is used once
    with pytest.raises(GatewayRejected):
        midtrans.snap(receipt_order("DUP-1"))
    with pytest.raises(OrderNotFound):
        midtrans.status("NOPE-1")
    sim.faults.plan("GET", "/v2/DUP-1/status", "503")
    with pytest.raises(GatewayUnavailable):
        midtrans.status("DUP-1")
    sim.faults.plan("GET", "/v2/DUP-1/status", "hang")
    with pytest.raises(GatewayTimeout):
        midtrans.status("DUP-1")
    sim.wait_idle()
    with pytest.raises(ValueError, match="order id"):
        midtrans.snap(receipt_order("spaces are not allowed"))


def test_wrong_server_key_is_refused(sim: Simulator) -> None:
    settings = GatewaySettings.for_simulator(sim.url)
    wrong = GatewaySettings(
        server_key="SB-Mid-server-wrong",
        iris_creator_key="a",
        iris_approver_key="b",
        iris_merchant_key="c",
        core_base_url=settings.core_base_url,
        snap_base_url=settings.snap_base_url,
    )
    with pytest.raises(GatewayRejected):
        MidtransReceipts(wrong).charge_qris(receipt_order("X-1"))


def test_settings_from_env() -> None:
    sandbox = Settings.from_env(
        {"KASDA_IRIS_CREATOR_KEY": "SECRET-CREATOR", "KASDA_IRIS_APPROVER_KEY": "SECRET-APPROVER"}
    ).gateways()
    assert not sandbox.production
    assert sandbox.iris_base_url == "https://app.sandbox.midtrans.com/iris"
    assert "SECRET" not in repr(sandbox)
    production = {
        "KASDA_MIDTRANS_PRODUCTION": "true",
        "KASDA_MIDTRANS_SERVER_KEY": "Mid-server-x",
        "KASDA_IRIS_CREATOR_KEY": "creator",
        "KASDA_IRIS_APPROVER_KEY": "approver",
        "KASDA_IRIS_MERCHANT_KEY": "merchant",
    }
    live = Settings.from_env(production).gateways()
    assert live.production and live.core_base_url == "https://api.midtrans.com"
    with pytest.raises(ConfigError, match="KASDA_IRIS_MERCHANT_KEY"):
        Settings.from_env({**production, "KASDA_IRIS_MERCHANT_KEY": ""}).gateways()
    with pytest.raises(ConfigError, match="https"):
        Settings.from_env({**production, "KASDA_IRIS_URL": "http://127.0.0.1:9/iris"}).gateways()
    with pytest.raises(ConfigError, match="different"):
        Settings.from_env({**production, "KASDA_IRIS_APPROVER_KEY": "creator"}).gateways()
    with pytest.raises(ConfigError, match="true or false"):
        Settings.from_env({"KASDA_MIDTRANS_PRODUCTION": "maybe"}).gateways()
