"""Income through Midtrans Snap / Core API (QRIS, virtual accounts), with the official
``midtransclient`` SDK. A settled receipt becomes a ``RecordRevenue`` ledger command, which the LRA
shows as realised income on its 4.x line.

The ledger keeps no "order created" record: each order carries its pemda, year and income line in
Midtrans's ``custom_field1..3``, and the facts are always taken from a status query to Midtrans (the
authoritative source), never from a notification body alone (its signature covers only the order id,
status code and amount).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import midtransclient  # type: ignore[import-untyped]
import requests
from midtransclient.error_midtrans import (  # type: ignore[import-untyped]
    JSONDecodeError,
    MidtransAPIError,
)

from gateways.amounts import AmountError, parse_rupiah
from gateways.config import GatewaySettings
from gateways.port import (
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    ReceiptCharge,
    ReceiptGateway,
    ReceiptOrder,
    ReceiptState,
    ReceiptStatus,
)
from ledger import commands as c
from ledger.application import CommandResult, Ledger
from ledger.roles import Actor, Role

log = logging.getLogger(__name__)

MIDTRANS_ACTOR = Actor("gateway.midtrans", Role.GATEWAY)
TAG = "kasda"
_ORDER_ID = re.compile(r"^[A-Za-z0-9._-]{1,50}$")


class OrderNotFound(GatewayRejected):
    """Midtrans knows no such order."""


class NotKasdaOrder(Exception):
    """An order without kasda's tags (pemda, year, income line)."""


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """What Midtrans keeps from each receipt (MDR), per the merchant agreement."""

    qris_per_mille: int = 7  # 0.7 %, rounded half up to whole rupiah
    va_flat: int = 4_000
    other_percent: int = 2

    def fee(self, payment_type: str, gross: int) -> int:
        if payment_type == "qris":
            return (gross * self.qris_per_mille + 500) // 1000
        if payment_type in ("bank_transfer", "echannel"):
            return self.va_flat
        return (gross * self.other_percent + 99) // 100


class _TimeoutSession(requests.Session):
    """``requests`` with a default timeout: the SDK itself never sets one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def _point(client: Any, settings: GatewaySettings) -> None:
    """Point an SDK client at the configured base URLs (instance attributes shadow the class
    constants of ``ApiConfig``), and give it a timeout."""
    config = client.api_config
    config.CORE_SANDBOX_BASE_URL = settings.core_base_url
    config.CORE_PRODUCTION_BASE_URL = settings.core_base_url
    config.SNAP_SANDBOX_BASE_URL = settings.snap_base_url
    config.SNAP_PRODUCTION_BASE_URL = settings.snap_base_url
    client.http_client.http_client = _TimeoutSession(settings.timeout_seconds)


class MidtransReceipts:
    """Implements ``gateways.port.ReceiptGateway`` with ``midtransclient``."""

    name = "midtrans"

    def __init__(self, settings: GatewaySettings) -> None:
        options = {
            "is_production": settings.production,
            "server_key": settings.server_key,
            "client_key": settings.client_key,
        }
        self._snap = midtransclient.Snap(**options)
        self._core = midtransclient.CoreApi(**options)
        _point(self._snap, settings)
        _point(self._core, settings)

    def _call(self, what: str, action: Any, *args: Any) -> dict[str, Any]:
        try:
            answer = action(*args)
        except requests.Timeout as error:
            raise GatewayTimeout(f"Midtrans {what}: no answer in time") from error
        except requests.RequestException as error:
            raise GatewayUnavailable(f"Midtrans {what}: {error}") from error
        except JSONDecodeError as error:
            raise GatewayUnavailable(f"Midtrans {what}: answer is not JSON") from error
        except MidtransAPIError as error:
            status = int(error.http_status_code or 0)
            body = error.api_response_dict or {}
            api_status = str(body.get("status_code", "")) if isinstance(body, dict) else ""
            if status >= 500 or api_status.startswith("5"):
                raise GatewayUnavailable(f"Midtrans {what}: {error.message[:300]}") from error
            if status == 404 or api_status == "404":
                raise OrderNotFound(f"Midtrans {what}: no such order", 404) from error
            raise GatewayRejected(
                f"Midtrans {what}: {error.message[:300]}", status or 400, str(body)
            ) from error
        if not isinstance(answer, dict):
            raise GatewayUnavailable(f"Midtrans {what}: unexpected answer {answer!r}")
        return answer

    def _body(self, order: ReceiptOrder) -> dict[str, Any]:
        if not _ORDER_ID.match(order.order_id):
            raise ValueError(f"order id {order.order_id!r}: 1..50 letters, digits, '.', '_', '-'")
        if type(order.amount) is not int or order.amount < 1:
            raise ValueError(f"order amount must be whole rupiah, got {order.amount!r}")
        return {
            "transaction_details": {"order_id": order.order_id, "gross_amount": order.amount},
            "customer_details": {"first_name": order.payer[:255]},
            "custom_field1": f"{TAG}|{order.pemda}|{order.year}",
            "custom_field2": f"{order.skpd}|{order.sub_kegiatan or '-'}|{order.rekening}",
            "custom_field3": order.payer[:255],
        }

    def snap(self, order: ReceiptOrder) -> ReceiptCharge:
        body = self._body(order) | {
            "enabled_payments": ["other_qris", "bca_va", "bni_va", "bri_va"]
        }
        answer = self._call("snap", self._snap.create_transaction, body)
        return ReceiptCharge(
            order.order_id,
            "snap",
            token=str(answer.get("token", "")),
            redirect_url=str(answer.get("redirect_url", "")),
        )

    def charge_qris(self, order: ReceiptOrder) -> ReceiptCharge:
        body = self._body(order) | {"payment_type": "qris"}
        answer = self._call("charge", self._core.charge, body)
        return ReceiptCharge(order.order_id, "qris", qr_string=str(answer.get("qr_string", "")))

    def charge_virtual_account(self, order: ReceiptOrder, bank: str) -> ReceiptCharge:
        body = self._body(order) | {
            "payment_type": "bank_transfer",
            "bank_transfer": {"bank": bank},
        }
        answer = self._call("charge", self._core.charge, body)
        numbers = answer.get("va_numbers") or [{}]
        return ReceiptCharge(
            order.order_id, "bank_transfer", va_number=str(numbers[0].get("va_number", ""))
        )

    def refund(self, order_id: str, amount: int, reason: str) -> None:
        """A full refund of a settled payment; the notification (or ``record``) reverses it."""
        body = {"refund_key": f"{order_id}-refund", "amount": amount, "reason": reason[:255]}
        self._call("refund", self._core.transactions.refund, order_id, body)

    def status(self, order_id: str) -> ReceiptState:
        answer = self._call("status", self._core.transactions.status, order_id)
        return state_from_json(answer)


def state_from_json(doc: dict[str, Any], fees: FeeSchedule | None = None) -> ReceiptState:
    try:
        gross = parse_rupiah(doc["gross_amount"])
        status = ReceiptStatus(doc["transaction_status"])
    except (KeyError, ValueError, AmountError) as error:
        raise GatewayUnavailable(f"Midtrans transaction not understood: {error}") from error
    payment_type = str(doc.get("payment_type", ""))
    return ReceiptState(
        order_id=str(doc.get("order_id", "")),
        status=status,
        payment_type=payment_type,
        gross=gross,
        fee=(fees or FeeSchedule()).fee(payment_type, gross),
        settled_at=str(doc.get("settlement_time", "")),
        custom=(
            str(doc.get("custom_field1", "")),
            str(doc.get("custom_field2", "")),
            str(doc.get("custom_field3", "")),
        ),
    )


def revenue_command(state: ReceiptState, actor: Actor = MIDTRANS_ACTOR) -> c.RecordRevenue:
    """The ledger fact of a settled receipt. Its idempotency key comes from the order id alone, so
    the webhook, a poll and a retried notification all write the same command."""
    tag, _, rest = state.custom[0].partition("|")
    pemda, _, year = rest.partition("|")
    parts = state.custom[1].split("|")
    if tag != TAG or not pemda or not year.isdigit() or len(parts) != 3:
        raise NotKasdaOrder(f"order {state.order_id} carries no kasda income line")
    skpd, sub_kegiatan, rekening = parts
    return c.RecordRevenue(
        idempotency_key=f"midtrans:{state.order_id}:settled",
        actor=actor,
        pemda=pemda,
        year=int(year),
        line=c.LineRef(
            skpd=skpd, sub_kegiatan=None if sub_kegiatan == "-" else sub_kegiatan, rekening=rekening
        ),
        channel=f"midtrans:{state.payment_type or 'unknown'}"[:32],
        reference=state.order_id,
        payer=state.custom[2] or "tanpa nama",
        gross=state.gross,
        fee=state.fee,
    )


def reversal_command(state: ReceiptState, actor: Actor = MIDTRANS_ACTOR) -> c.ReverseRevenue:
    original = revenue_command(state, actor)
    return c.ReverseRevenue(
        idempotency_key=f"midtrans:{state.order_id}:{state.status.value}",
        actor=actor,
        pemda=original.pemda,
        year=original.year,
        channel=original.channel,
        reference=state.order_id,
        reason=f"midtrans: {state.status.value}",
    )


SETTLED = frozenset({ReceiptStatus.SETTLEMENT, ReceiptStatus.CAPTURE})
REVERSED = frozenset({ReceiptStatus.REFUND})


@dataclass
class ReceiptService:
    ledger: Ledger
    gateway: ReceiptGateway
    fees: FeeSchedule = FeeSchedule()
    actor: Actor = MIDTRANS_ACTOR

    def bill(self, order: ReceiptOrder, channel: str = "snap", bank: str = "bca") -> ReceiptCharge:
        if channel == "snap":
            return self.gateway.snap(order)
        if channel == "qris":
            return self.gateway.charge_qris(order)
        if channel == "bank_transfer":
            return self.gateway.charge_virtual_account(order, bank)
        raise ValueError(f"unknown channel {channel!r}")

    def record(self, order_id: str) -> CommandResult | None:
        """Ask Midtrans about ``order_id`` and record what it says (None when nothing to record)."""
        state = self.gateway.status(order_id)
        state = ReceiptState(
            state.order_id,
            state.status,
            state.payment_type,
            state.gross,
            self.fees.fee(state.payment_type, state.gross),
            state.settled_at,
            state.custom,
        )
        if state.status in SETTLED:
            return self.ledger.execute(revenue_command(state, self.actor))
        if state.status in REVERSED:
            self.ledger.execute(revenue_command(state, self.actor))  # first the receipt, if missed
            return self.ledger.execute(reversal_command(state, self.actor))
        return None
