"""Snap and the Core API, Midtrans's payment products: bill an order (a Snap token, a QRIS code,
a virtual account), read its status, refund it in full; and the customer's side (pay, or let it
expire). Every change of an order is notified to ``webhook_url`` with Midtrans's signature.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from gateways.amounts import AmountError, parse_rupiah
from gateways.signatures import payment_signature
from gateways.simulator.notifications import Notifier
from gateways.simulator.replies import ApiError, Reply
from gateways.simulator.state import SimKeys, SimOrder, SimState

ORDER_ID = re.compile(r"^[A-Za-z0-9._~-]{1,50}$")
CHARGE_TYPES = ("qris", "bank_transfer")
NOT_FOUND = {"status_code": "404", "status_message": "Transaction doesn't exist."}
ORDER_ID_TAKEN = {
    "status_code": "406",
    "status_message": "The request could not be completed due to a conflict with the current "
    "state of the target resource, please try again",
}


class Receipts:
    def __init__(
        self, state: SimState, keys: SimKeys, notifier: Notifier, base_url: Callable[[], str]
    ) -> None:
        self.state = state
        self.keys = keys
        self.notifier = notifier
        self.webhook_url: str | None = None
        self._base_url = base_url

    # -- Snap ----------------------------------------------------------------------------------
    def snap(self, body: Any) -> Reply:
        order = self._order(body, "snap")
        s = self.state
        with s.lock:
            if order.order_id in s.orders:
                raise ApiError(
                    400,
                    {"error_messages": ["transaction_details.order_id sudah digunakan"]},
                )
            order.token = s.new_id()
            s.orders[order.order_id] = order
            s.tokens[order.token] = order.order_id
        return Reply(
            201,
            {
                "token": order.token,
                "redirect_url": f"{self._base_url()}/snap/v4/redirection/{order.token}",
            },
        )

    # -- Core API ------------------------------------------------------------------------------
    def charge(self, body: Any) -> Reply:
        """A QRIS code or a bank-transfer virtual account; Midtrans answers HTTP 200 with the
        outcome in ``status_code``."""
        payment_type = str(body.get("payment_type", "")) if isinstance(body, dict) else ""
        if payment_type not in CHARGE_TYPES:
            return Reply(
                200,
                {
                    "status_code": "400",
                    "status_message": f"payment_type {payment_type!r} not supported",
                },
            )
        order = self._order(body, payment_type)
        order.payment_type = payment_type
        s = self.state
        with s.lock:
            if order.order_id in s.orders:
                return Reply(200, ORDER_ID_TAKEN)
            if payment_type == "bank_transfer":
                order.bank = str((body.get("bank_transfer") or {}).get("bank", "bca"))
                order.va_number = f"{s.rng.randrange(10**10, 10**11)}"
            s.orders[order.order_id] = order
            doc = order.document()
        doc["status_code"] = "201"
        doc["status_message"] = "Success, transaction is created"
        if payment_type == "qris":
            doc["qr_string"] = f"00020101021226620014COM.MIDTRANS.WWW{order.order_id}5303360"
            doc["actions"] = [
                {
                    "name": "generate-qr-code",
                    "method": "GET",
                    "url": f"{self._base_url()}/v2/qris/{order.transaction_id}/qr-code",
                }
            ]
        return Reply(200, doc)

    def status(self, order_id: str) -> Reply:
        with self.state.lock:
            return Reply(200, self._known(order_id).document())

    def refund(self, order_id: str, body: dict[str, Any]) -> Reply:
        """A full refund of a settled payment (partial refunds are not simulated)."""
        with self.state.lock:
            order = self._known(order_id)
            if order.status == "refund":
                return Reply(200, order.document())
            if order.status != "settlement":
                return Reply(
                    200, {"status_code": "412", "status_message": f"Transaction is {order.status}"}
                )
            if "amount" in body and _rupiah_or_none(body["amount"]) != order.gross:
                return Reply(
                    200,
                    {"status_code": "413", "status_message": "only full refunds are simulated"},
                )
            order.status = "refund"
            self._notify(order)
            doc = order.document()
        doc["status_code"] = "200"
        doc["refund_amount"] = f"{order.gross}.00"
        doc["refund_key"] = str(body.get("refund_key", ""))
        return Reply(200, doc)

    def _known(self, order_id: str) -> SimOrder:
        order = self.state.orders.get(order_id)
        if order is None:
            raise ApiError(404, NOT_FOUND)
        return order

    # -- the customer --------------------------------------------------------------------------
    def pay(self, order_id: str, payment_type: str = "") -> Reply:
        """The customer pays (scans the QRIS, transfers to the VA, completes Snap)."""
        s = self.state
        with s.lock:
            order = self._pending(order_id, done="settlement")
            if order.status == "settlement":
                return Reply(200, order.document())
            if order.kind == "snap":
                order.payment_type = payment_type or "qris"
            order.status = "settlement"
            order.settled_at = s.now()
            order.fee = s.receipt_fee(order)
            self._notify(order)
            return Reply(200, order.document())

    def expire(self, order_id: str) -> Reply:
        with self.state.lock:
            order = self._pending(order_id)
            order.status = "expire"
            self._notify(order)
            return Reply(200, order.document())

    def _pending(self, order_id: str, done: str = "") -> SimOrder:
        """The order, pending (or already ``done``: a customer's step repeated)."""
        order = self.state.orders.get(order_id)
        if order is None:
            raise ApiError(404, {"error": f"no order {order_id}"})
        if order.status not in ("pending", done):
            raise ApiError(409, {"error": f"order {order_id} is {order.status}"})
        return order

    # -- notifications -------------------------------------------------------------------------
    def payment_notification(self, order: SimOrder) -> bytes:
        """Midtrans's signed HTTP notification of the order as it is now."""
        doc = order.document()
        doc["status_message"] = "midtrans payment notification"
        doc["signature_key"] = payment_signature(
            doc["order_id"], doc["status_code"], doc["gross_amount"], self.keys.server_key
        )
        return json.dumps(doc).encode()

    def _notify(self, order: SimOrder) -> None:
        if self.webhook_url:
            self.notifier.send(self.webhook_url, self.payment_notification(order), {})

    # -- parsing -------------------------------------------------------------------------------
    def _order(self, body: Any, kind: str) -> SimOrder:
        details = body.get("transaction_details") if isinstance(body, dict) else None
        if not isinstance(details, dict):
            raise ApiError(400, {"error_messages": ["transaction_details is required"]})
        order_id = str(details.get("order_id", ""))
        if not ORDER_ID.match(order_id):
            raise ApiError(400, {"error_messages": ["transaction_details.order_id is invalid"]})
        gross = _rupiah_or_none(details.get("gross_amount"))
        if gross is None:
            raise ApiError(
                400, {"error_messages": ["transaction_details.gross_amount must be whole rupiah"]}
            )
        if gross < 1:
            raise ApiError(400, {"error_messages": ["gross_amount must be at least 1"]})
        assert isinstance(body, dict)
        s = self.state
        return SimOrder(
            order_id=order_id,
            gross=gross,
            kind=kind,
            bank="",
            transaction_id=s.new_id(),
            created_at=s.now(),
            custom=(
                str(body.get("custom_field1", "")),
                str(body.get("custom_field2", "")),
                str(body.get("custom_field3", "")),
            ),
            customer=_customer_name(body.get("customer_details") or {}),
        )


def _customer_name(customer: dict[str, Any]) -> str:
    return " ".join(
        str(customer.get(k, "")) for k in ("first_name", "last_name") if customer.get(k)
    )


def _rupiah_or_none(value: Any) -> int | None:
    try:
        return parse_rupiah(value)
    except AmountError:
        return None
