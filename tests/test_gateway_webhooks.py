"""POST /webhooks/iris and /webhooks/midtrans: signatures on the raw body, unknown and forged
notifications refused and logged, duplicates and out-of-order notifications applied once, and 503
(nothing lost) while the store is down."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from gateways.config import GatewaySettings
from gateways.payouts import Outcome, PayoutService
from gateways.receipts import MidtransReceipts, ReceiptService
from gateways.references import payout_reference
from gateways.signatures import iris_signature, payment_signature
from gateways.simulator import SIM_KEYS, Simulator
from ledger import ids
from ledger.application import Ledger
from ledger.application import Outcome as LedgerOutcome
from ledger.revenue import Revenue
from testkit.clock import FixedClock
from tests import factory as f
from tests.gateway_support import (
    VENDOR_B_NPWP,
    authorise,
    did,
    iris_client,
    ledger_with_income,
    receipt_order,
    serve,
    status_of,
    webhook_app,
)


class FlakyStoreLedger(Ledger):
    """A real ledger whose store can be switched off: every read and write then fails as a
    database outage does."""

    down = False

    def execute_batch(self, commands: Any) -> list[LedgerOutcome]:
        if self.down:
            raise OperationalError("could not connect to server: Connection refused")
        return super().execute_batch(commands)

    def aggregate(self, aggregate_id: Any, kind: Any, version: int | None = None) -> Any:
        if self.down:
            raise OperationalError("could not connect to server: Connection refused")
        return super().aggregate(aggregate_id, kind, version)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=11) as running:
        yield running


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    app = ledger_with_income()
    yield app
    app.close()


@pytest.fixture
def settings(sim: Simulator) -> GatewaySettings:
    return GatewaySettings.for_simulator(sim.url, timeout_seconds=2.0)


ACCOUNT = "0012345678"  # f.register_vendor's account, recorded at every SP2D here


def iris_note(
    reference: str, status: str, amount: int, error_code: str = "", account: str | None = ACCOUNT
) -> bytes:
    """An Iris notification as the simulator sends it (``account=None``: without the account)."""
    body: dict[str, Any] = {
        "reference_no": reference,
        "amount": f"{amount}.00",
        "status": status,
        "updated_at": "2026-01-02T09:00:00+07:00",
    }
    if account is not None:
        body["beneficiary_account_number"] = account
    if error_code:
        body["error_code"] = error_code
    return json.dumps(body).encode()


def post_iris(client: TestClient, raw: bytes, key: str = SIM_KEYS.merchant_key) -> httpx.Response:
    response: httpx.Response = client.post(
        "/webhooks/iris",
        content=raw,
        headers={"Iris-Signature": iris_signature(raw, key), "Content-Type": "application/json"},
    )
    return response


def kinds(ledger: Ledger, spp: str) -> list[str]:
    return [type(e).__name__ for e in ledger.history(did(spp))]


def test_iris_notifications_settle_a_processing_payout(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    sim.state.instant_payouts = False
    authorise(ledger, "S1")
    with serve(webhook_app(ledger, settings)) as base:
        sim.set_webhooks(iris=base + "/webhooks/iris")
        [result] = PayoutService(ledger, iris_client(sim)).pay_all()
        assert result.outcome is Outcome.SENT
        sim.gateway.process_payouts()  # the bank completes it; Iris notifies
        sim.flush()
    assert status_of(ledger, "S1") == "settled"
    delivered = [n.delivered_status for n in sim.gateway.notifications]
    assert delivered and all(code == 200 for code in delivered)
    # the poller, coming second, records nothing more
    assert [r.outcome for r in PayoutService(ledger, iris_client(sim)).sync()] == []
    assert kinds(ledger, "S1").count("Settled") == 1


def test_forged_and_unsigned_iris_notifications_are_refused_and_logged(
    ledger: Ledger, settings: GatewaySettings, caplog: pytest.LogCaptureFixture
) -> None:
    d = authorise(ledger, "S1")
    raw = iris_note(payout_reference(d.id, 1), "completed", d.net)
    client = TestClient(webhook_app(ledger, settings))
    with caplog.at_level(logging.WARNING, logger="kasda.security"):
        assert post_iris(client, raw, key="not-the-merchant-key").status_code == 401
        assert client.post("/webhooks/iris", content=raw).status_code == 401
        tampered = raw.replace(b"completed", b"failed")
        response = client.post(
            "/webhooks/iris",
            content=tampered,
            headers={"Iris-Signature": iris_signature(raw, SIM_KEYS.merchant_key)},
        )
        assert response.status_code == 401
    assert sum("iris notification" in r.getMessage() for r in caplog.records) == 3
    assert status_of(ledger, "S1") == "authorised"


def test_unknown_payout_is_refused(ledger: Ledger, settings: GatewaySettings) -> None:
    client = TestClient(webhook_app(ledger, settings))
    assert post_iris(client, iris_note("not-ours-123", "completed", 50_000)).status_code == 404
    nobody = payout_reference(did("NO-SUCH-SPP"), 1)
    assert post_iris(client, iris_note(nobody, "completed", 50_000)).status_code == 404


def test_amount_mismatch_is_refused(ledger: Ledger, settings: GatewaySettings) -> None:
    d = authorise(ledger, "S1")
    client = TestClient(webhook_app(ledger, settings))
    raw = iris_note(payout_reference(d.id, 1), "completed", d.net + 1)
    assert post_iris(client, raw).status_code == 409
    assert status_of(ledger, "S1") == "authorised"


def test_duplicates_and_out_of_order_change_nothing_twice(
    ledger: Ledger, settings: GatewaySettings
) -> None:
    d = authorise(ledger, "S1")
    ref = payout_reference(d.id, 1)
    client = TestClient(webhook_app(ledger, settings))
    # "completed" arrives first (the service crashed before recording Sent), then the older ones
    sequence = ["completed", "completed", "processed", "approved", "queued", "completed"]
    answers = [post_iris(client, iris_note(ref, s, d.net)).json()["result"] for s in sequence]
    assert answers[0] == "recorded"
    assert set(answers[1:]) == {"nothing_new"}
    assert kinds(ledger, "S1")[-2:] == ["Sent", "Settled"]
    assert kinds(ledger, "S1").count("Sent") == 1
    # a later bank return is a new fact, recorded once
    back = iris_note(ref, "failed", d.net, "returned")
    assert post_iris(client, back).json()["result"] == "recorded"
    assert post_iris(client, back).json()["result"] == "nothing_new"
    assert status_of(ledger, "S1") == "returned"


def test_failed_then_resent_ignores_notifications_of_the_old_attempt(
    ledger: Ledger, settings: GatewaySettings
) -> None:
    d = authorise(ledger, "S1")
    first = payout_reference(d.id, 1)
    client = TestClient(webhook_app(ledger, settings))
    assert post_iris(client, iris_note(first, "approved", d.net)).json()["result"] == "recorded"
    assert post_iris(client, iris_note(first, "failed", d.net, "account_closed")).status_code == 200
    assert status_of(ledger, "S1") == "failed"
    second = payout_reference(d.id, 2)
    assert post_iris(client, iris_note(second, "completed", d.net)).json()["result"] == "recorded"
    assert status_of(ledger, "S1") == "settled"
    late = post_iris(client, iris_note(first, "completed", d.net)).json()
    assert late["result"] == "stale"
    assert status_of(ledger, "S1") == "settled"


def test_rejected_payout_is_recorded_once_and_the_next_attempt_pays(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    d = authorise(ledger, "S1")
    first = payout_reference(d.id, 1)
    client = TestClient(webhook_app(ledger, settings))
    answer = post_iris(client, iris_note(first, "rejected", d.net)).json()
    assert (answer["result"], answer["recorded"]) == ("recorded", ["RecordTransferRejected"])
    assert answer["status"] == "authorised"
    for late in ("rejected", "queued"):  # a duplicate, an older status: nothing more
        assert post_iris(client, iris_note(first, late, d.net)).json()["result"] == "nothing_new"
    assert kinds(ledger, "S1")[-1] == "TransferRejected"
    assert ledger.disbursement(d.id).attempts == 1
    # The poller pays under the next attempt; a late notification of the first one is stale.
    [paid] = PayoutService(ledger, iris_client(sim)).pay_all()
    assert (paid.outcome, paid.reference) == (Outcome.SETTLED, payout_reference(d.id, 2))
    assert post_iris(client, iris_note(first, "rejected", d.net)).json()["result"] == "stale"
    assert kinds(ledger, "S1")[-3:] == ["TransferRejected", "Sent", "Settled"]


def test_approver_rejection_notified_while_the_poller_records_it_is_recorded_once(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    d = authorise(ledger, "S1")
    first = payout_reference(d.id, 1)
    sim.faults.reject_references.add(first)
    with serve(webhook_app(ledger, settings)) as base:
        sim.set_webhooks(iris=base + "/webhooks/iris")
        [result] = PayoutService(ledger, iris_client(sim)).pay_all()
        sim.flush()
    assert result.outcome is Outcome.REJECTED
    delivered = [n.delivered_status for n in sim.gateway.notifications]
    assert delivered and all(code == 200 for code in delivered)
    assert kinds(ledger, "S1").count("TransferRejected") == 1
    assert status_of(ledger, "S1") == "authorised"


def test_store_down_answers_503_and_loses_nothing(settings: GatewaySettings) -> None:
    ledger = FlakyStoreLedger("memory://", clock=FixedClock())
    f.adopt(ledger)
    f.register_vendor(ledger)
    d = authorise(ledger, "S1")
    raw = iris_note(payout_reference(d.id, 1), "completed", d.net)
    client = TestClient(webhook_app(ledger, settings))
    ledger.down = True
    response = post_iris(client, raw)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    ledger.down = False
    assert status_of(ledger, "S1") == "authorised"
    assert post_iris(client, raw).json()["result"] == "recorded"  # the gateway's retry
    assert status_of(ledger, "S1") == "settled"
    ledger.close()


def test_not_configured_app_answers_503(settings: GatewaySettings) -> None:
    from fastapi import FastAPI

    from api.webhooks import router

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    assert client.post("/webhooks/iris", content=b"{}").status_code == 503


# -- payments ----------------------------------------------------------------------------------
def revenue(ledger: Ledger, order_id: str, channel: str) -> Revenue:
    return ledger.aggregate(ids.revenue_id(f.PEMDA, f.YEAR, channel, order_id), Revenue)


def test_paid_qris_order_becomes_income_once(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    receipts = ReceiptService(ledger, MidtransReceipts(settings))
    receipts.bill(receipt_order("PAJAK-HOTEL-0001", 1_234_567), "qris")
    with serve(webhook_app(ledger, settings)) as base:
        sim.set_webhooks(payments=base + "/webhooks/midtrans")
        sim.pay("PAJAK-HOTEL-0001")
        sim.flush()
        [note] = sim.gateway.notifications
        assert note.delivered_status == 200
        # Midtrans sends it again: nothing new
        again = httpx.post(base + "/webhooks/midtrans", content=note.body, headers=note.headers)
        assert again.json()["result"] == "nothing_new"
    got = revenue(ledger, "PAJAK-HOTEL-0001", "midtrans:qris")
    assert (got.gross, got.fee, got.net) == (1_234_567, 8_642, 1_234_567 - 8_642)
    assert got.payer == "Hotel Savoy Homann"


def test_forged_unknown_and_foreign_payment_notifications(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(webhook_app(ledger, settings))
    receipts = ReceiptService(ledger, MidtransReceipts(settings))
    receipts.bill(receipt_order("PAJAK-1", 100_000), "bank_transfer")
    sim.pay("PAJAK-1")
    note = json.loads(sim.gateway.payment_notification(sim.state.orders["PAJAK-1"]))

    def signed(body: dict[str, Any], key: str = SIM_KEYS.server_key) -> bytes:
        body = dict(body)
        body["signature_key"] = payment_signature(
            body["order_id"], body["status_code"], body["gross_amount"], key
        )
        return json.dumps(body).encode()

    with caplog.at_level(logging.WARNING, logger="kasda.security"):
        forged = client.post("/webhooks/midtrans", content=signed(note, key="guess"))
        assert forged.status_code == 401
        inflated = dict(note, gross_amount="100000000.00")  # signature of the original
        inflated["signature_key"] = note["signature_key"]
        assert client.post("/webhooks/midtrans", content=json.dumps(inflated)).status_code == 401
        assert client.post("/webhooks/midtrans", content=b"not json").status_code == 401
        unknown = client.post("/webhooks/midtrans", content=signed(dict(note, order_id="NOPE")))
        assert unknown.status_code == 404
    assert len(caplog.records) >= 4
    # an order at Midtrans without kasda's tags (someone else's integration)
    import midtransclient  # type: ignore[import-untyped]

    core = midtransclient.CoreApi(server_key=SIM_KEYS.server_key)
    core.api_config.CORE_SANDBOX_BASE_URL = sim.url
    core.charge(
        {
            "payment_type": "qris",
            "transaction_details": {"order_id": "SHOP-9", "gross_amount": 5000},
        }
    )
    sim.pay("SHOP-9")
    foreign = sim.gateway.payment_notification(sim.state.orders["SHOP-9"])
    assert client.post("/webhooks/midtrans", content=foreign).status_code == 403
    # the genuine one is recorded
    genuine = client.post("/webhooks/midtrans", content=signed(note))
    assert genuine.json()["result"] == "recorded"
    assert revenue(ledger, "PAJAK-1", "midtrans:bank_transfer").fee == 4_000


def test_payment_notification_while_midtrans_status_fails_is_retried(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    client = TestClient(webhook_app(ledger, settings))
    ReceiptService(ledger, MidtransReceipts(settings)).bill(receipt_order("PAJAK-2"), "snap")
    sim.pay("PAJAK-2", "qris")
    raw = sim.gateway.payment_notification(sim.state.orders["PAJAK-2"])
    sim.faults.plan("GET", "/v2/PAJAK-2/status", "503")
    assert client.post("/webhooks/midtrans", content=raw).status_code == 503
    assert client.post("/webhooks/midtrans", content=raw).json()["result"] == "recorded"


def test_pending_and_expired_payments_record_nothing(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    client = TestClient(webhook_app(ledger, settings))
    ReceiptService(ledger, MidtransReceipts(settings)).bill(receipt_order("PAJAK-3"), "qris")
    pending = sim.gateway.payment_notification(sim.state.orders["PAJAK-3"])
    assert client.post("/webhooks/midtrans", content=pending).json()["result"] == (
        "nothing_to_record"
    )
    sim.gateway.expire("PAJAK-3")
    expired = sim.gateway.payment_notification(sim.state.orders["PAJAK-3"])
    assert client.post("/webhooks/midtrans", content=expired).status_code == 200
    with pytest.raises(Exception, match="no Revenue"):
        revenue(ledger, "PAJAK-3", "midtrans:qris")


@pytest.mark.parametrize("instant", [False, True])
def test_chaos_webhooks_and_poller_racing_with_gateway_errors(
    tmp_path: Any, settings: GatewaySettings, instant: bool
) -> None:
    """Random 503s (nothing done) and 500s after the work was done, payouts finishing at the bank
    while Iris notifies the webhook and the service polls at the same time: every disbursement is
    paid exactly once and ends settled (or failed for the closed account), with one fact each."""
    with Simulator(seed=99) as chaos:
        chaos.state.instant_payouts = instant
        ledger = ledger_with_income(f"sqlite:///{tmp_path / 'kasda.db'}")
        spps = [f"C{n}" for n in range(12)]
        for n, spp in enumerate(spps):
            authorise(ledger, spp, 10_000_000 + n, npwp=f.NPWP if n % 4 else VENDOR_B_NPWP)
        chaos.faults.fail_accounts.add("0098765432")
        chaos.faults.error_rate = 0.15
        chaos.faults.after_error_rate = 0.15
        webhook_settings = GatewaySettings.for_simulator(chaos.url)
        with serve(webhook_app(ledger, webhook_settings)) as base:
            chaos.set_webhooks(iris=base + "/webhooks/iris")
            service = PayoutService(ledger, iris_client(chaos), backoff_seconds=0.01)
            for _ in range(40):
                service.pay_all()
                chaos.gateway.process_payouts()
                service.sync()
                if {status_of(ledger, s) for s in spps} <= {"settled", "failed"}:
                    break
            chaos.faults.error_rate = chaos.faults.after_error_rate = 0.0
            chaos.flush()
            service.sync()
        assert chaos.faults.injected >= 10  # the chaos did happen
        delivered = [n.delivered_status for n in chaos.gateway.notifications]
        assert delivered.count(200) >= 12  # the webhook recorded or acknowledged them
        statuses = {s: status_of(ledger, s) for s in spps}
        assert {statuses[s] for s in spps[1:4] + spps[5:8]} == {"settled"}
        assert {statuses[s] for s in (spps[0], spps[4], spps[8])} == {"failed"}
        by_reference = {p.reference_no: p for p in chaos.payouts()}
        assert len(by_reference) == len(chaos.payouts()) == 12
        for spp in spps:
            history = kinds(ledger, spp)
            assert history.count("Sent") == 1
            assert history.count("Settled") + history.count("Failed") == 1
        ledger.close()


def test_refund_reverses_the_income_once(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    midtrans = MidtransReceipts(settings)
    ReceiptService(ledger, midtrans).bill(receipt_order("PAJAK-R", 500_000), "qris")
    with serve(webhook_app(ledger, settings)) as base:
        sim.set_webhooks(payments=base + "/webhooks/midtrans")
        sim.pay("PAJAK-R")
        sim.flush()
        midtrans.refund("PAJAK-R", 500_000, "salah bayar")
        sim.flush()
        refund_note = sim.gateway.notifications[-1]
        again = httpx.post(base + "/webhooks/midtrans", content=refund_note.body)
        assert again.json()["result"] == "nothing_new"
    assert [n.delivered_status for n in sim.gateway.notifications] == [200, 200]
    got = revenue(ledger, "PAJAK-R", "midtrans:qris")
    assert got.reversed
    assert [type(e).__name__ for e in ledger.history(got.id)] == ["Received", "Reversed"]


def test_notifications_lost_to_an_outage_are_recovered_by_the_poller(sim: Simulator) -> None:
    """Iris gives up after its retries while the store is down; the next ``sync`` asks Iris and
    records the settlement: nothing is lost."""
    ledger = FlakyStoreLedger("memory://", clock=FixedClock())
    f.adopt(ledger)
    f.register_vendor(ledger)
    authorise(ledger, "S1")
    sim.state.instant_payouts = False
    settings = GatewaySettings.for_simulator(sim.url)
    with serve(webhook_app(ledger, settings)) as base:
        sim.set_webhooks(iris=base + "/webhooks/iris")
        service = PayoutService(ledger, iris_client(sim), backoff_seconds=0.01)
        [sent] = service.pay_all()
        sim.flush()
        assert sent.outcome is Outcome.SENT
        ledger.down = True
        sim.gateway.process_payouts()
        sim.flush()
        ledger.down = False
    last = sim.gateway.notifications[-1]
    assert last.delivered_status == 503 and last.attempts == sim.gateway.notify_attempts
    assert status_of(ledger, "S1") == "sent"
    [synced] = service.sync()
    assert synced.outcome is Outcome.SETTLED
    ledger.close()


@pytest.mark.parametrize("account", [None, "", "   ", "0098765432"])
def test_a_completed_notification_without_the_sp2ds_account_settles_nothing(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings, account: str | None
) -> None:
    """Missing or empty, the account is asked of Iris (which knows no such payout here: 404);
    another account is a mismatch (409). Nothing is recorded either way."""
    d = authorise(ledger, "S1")
    client = TestClient(webhook_app(ledger, settings))
    ref = payout_reference(d.id, 1)
    for status in ("completed", "approved", "failed"):
        answer = post_iris(client, iris_note(ref, status, d.net, account=account))
        assert answer.status_code == (409 if (account or "").strip() else 404), answer.text
    assert status_of(ledger, "S1") == "authorised"
    assert kinds(ledger, "S1")[-1] == "Authorised"
    # The same notification with the SP2D's account is recorded.
    assert post_iris(client, iris_note(ref, "completed", d.net)).status_code == 200
    assert status_of(ledger, "S1") == "settled"


def test_a_notification_without_an_account_is_checked_against_iris(
    ledger: Ledger, sim: Simulator, settings: GatewaySettings
) -> None:
    """Iris holds the payout under our reference but to another account: the notification that
    names no account settles nothing (409), and neither does the poller."""
    sim.state.instant_payouts = False
    d = authorise(ledger, "S1")
    ref = payout_reference(d.id, 1)
    client = TestClient(webhook_app(ledger, settings))
    [sent] = PayoutService(ledger, iris_client(sim)).pay_all()
    assert sent.outcome is Outcome.SENT
    sim.state.payouts[ref].beneficiary_account = "0098765432"  # changed behind kasda's back
    sim.state.payouts[ref].status = "completed"
    answer = post_iris(client, iris_note(ref, "completed", d.net, account=None))
    assert answer.status_code == 409, answer.text
    assert status_of(ledger, "S1") == "sent"


def _deep(depth: int) -> bytes:
    return b'{"reference_no": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_BODIES = {
    "deep": _deep(20_000),
    "deep-but-parsable": _deep(900),
    "lone-surrogate": b'{"reference_no": "\\ud800", "order_id": "\\ud800", "status_code": "200", '
    b'"gross_amount": "1.00", "signature_key": "\\udfff", "status": "completed", "amount": "1"}',
    "raw-surrogate-bytes": b'{"order_id": "\xed\xa0\x80"}',
    "array": b"[1, 2, 3]",
    "string": b'"completed"',
    "number": b"12",
    "null": b"null",
    "nan": b'{"amount": NaN}',
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_are_refused_with_4xx_signed_or_not(
    ledger: Ledger, settings: GatewaySettings, name: str
) -> None:
    """Deep nesting, lone surrogates and JSON that is not an object: a 4xx, never a 500, whether
    the body is unsigned (Midtrans: the signature is inside) or correctly signed (Iris)."""
    raw = HOSTILE_BODIES[name]
    client = TestClient(webhook_app(ledger, settings), raise_server_exceptions=False)
    for answer in (
        client.post("/webhooks/midtrans", content=raw),
        client.post("/webhooks/iris", content=raw),
        post_iris(client, raw),
    ):
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
        answer.json()
