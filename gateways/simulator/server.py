"""A Midtrans-compatible HTTP server on 127.0.0.1: Iris (``/iris/api/v1/...``), Snap
(``/snap/v1/transactions``) and the Core API (``/v2/charge``, ``/v2/{order_id}/status``), plus
``/sim/...`` endpoints that play the customer and the bank. Runs in-process (``Simulator`` is a
context manager on port 0) or as ``kasda gateway-sim --port N``.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from gateways.amounts import AmountError, parse_rupiah
from gateways.signatures import iris_signature, payment_signature
from gateways.simulator.state import (
    SIM_KEYS,
    Faults,
    Notification,
    SimCredit,
    SimKeys,
    SimOrder,
    SimPayout,
    SimState,
    wib_now,
)

log = logging.getLogger(__name__)

_REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ORDER_ID = re.compile(r"^[A-Za-z0-9._~-]{1,50}$")
_ACCOUNT = re.compile(r"^[0-9]{6,20}$")
_REPORT = re.compile(
    r"/sim/reports/(payouts|settlements|rkud)/(\d{4}-\d{2}-\d{2})(?:\.(mt940|csv))?"
)


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass
class Reply:
    status: int
    body: Any
    text: str | None = None  # a file (CSV, MT940) instead of JSON


class Gateway:
    """The simulated Midtrans and its notifications. All business logic, no HTTP."""

    def __init__(self, state: SimState, keys: SimKeys, base_url: Callable[[], str]) -> None:
        self.state = state
        self.keys = keys
        self._base_url = base_url
        self.payment_webhook_url: str | None = None
        self.iris_webhook_url: str | None = None
        self.notifications: list[Notification] = []
        self.notify_attempts = 3
        self._outbox: queue.Queue[Notification | None] = queue.Queue()
        self._worker = threading.Thread(target=self._deliver_loop, daemon=True, name="sim-notify")
        self._worker.start()

    # -- auth ----------------------------------------------------------------------------------
    def who(self, authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Basic "):
            raise ApiError(401, {"error_message": "Unauthorized: basic auth required"})
        try:
            user = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            raise ApiError(401, {"error_message": "Unauthorized"}) from None
        roles = {
            self.keys.creator_key: "creator",
            self.keys.approver_key: "approver",
            self.keys.server_key: "merchant",
        }
        if user not in roles:
            raise ApiError(401, {"error_message": "Unauthorized: unknown key"})
        return roles[user]

    # -- Iris ----------------------------------------------------------------------------------
    def iris(
        self, method: str, path: str, role: str, body: Any, query: dict[str, str], idem: str
    ) -> Reply:
        s = self.state
        if role == "merchant":
            raise ApiError(401, {"error_message": "Iris needs an Iris key"})
        if method == "POST" and path == "/payouts":
            self._need(role, "creator")
            return self.create_payouts(body, idem)
        if method == "POST" and path == "/payouts/approve":
            self._need(role, "approver")
            return self.approve(body)
        if method == "POST" and path == "/payouts/reject":
            self._need(role, "approver")
            return self.reject(body)
        if method == "GET" and path.startswith("/payouts/"):
            reference = unquote(path.removeprefix("/payouts/"))
            with s.lock:
                payout = s.payouts.get(reference)
                if payout is None:
                    raise ApiError(404, {"error_message": f"Payout {reference} not found"})
                return Reply(200, payout.document())
        if method == "GET" and path == "/account_validation":
            self._need(role, "creator")
            return self.validate(query.get("bank", ""), query.get("account", ""))
        if method == "GET" and path == "/beneficiaries":
            with s.lock:
                return Reply(200, [dict(b) for b in s.beneficiaries.values()])
        if method == "POST" and path == "/beneficiaries":
            self._need(role, "creator")
            return self.save_beneficiary(body, None)
        if method == "PATCH" and path.startswith("/beneficiaries/"):
            self._need(role, "creator")
            return self.save_beneficiary(body, unquote(path.removeprefix("/beneficiaries/")))
        if method == "GET" and path == "/balance":
            with s.lock:
                return Reply(200, {"balance": f"{s.iris_balance}.00"})
        raise ApiError(404, {"error_message": f"no Iris endpoint {method} {path}"})

    @staticmethod
    def _need(role: str, wanted: str) -> None:
        if role != wanted:
            raise ApiError(
                401, {"error_message": f"this action needs the {wanted} key, not the {role} key"}
            )

    def create_payouts(self, body: Any, idem: str) -> Reply:
        items = body.get("payouts") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ApiError(400, {"error_message": "payouts must be a non-empty list"})
        s = self.state
        answers = []
        with s.lock:
            parsed = [self._payout_item(item, idem if len(items) == 1 else "") for item in items]
            s.create_calls += len(parsed)
            for payout in parsed:
                existing = s.payouts.get(payout.reference_no)
                if existing is not None:
                    same = (existing.amount, existing.beneficiary_account) == (
                        payout.amount,
                        payout.beneficiary_account,
                    )
                    if not same:
                        raise ApiError(
                            409,
                            {
                                "error_message": f"reference_no {payout.reference_no} already used "
                                "for another payout"
                            },
                        )
            for payout in parsed:
                existing = s.payouts.get(payout.reference_no)
                if existing is None:
                    s.payouts[payout.reference_no] = payout
                    s.create_requests += 1
                    existing = payout
                answers.append({"status": existing.status, "reference_no": existing.reference_no})
        return Reply(201, {"payouts": answers})

    def _payout_item(self, item: Any, idem: str) -> SimPayout:
        if not isinstance(item, dict):
            raise ApiError(400, {"error_message": "each payout must be an object"})
        errors = []
        for name in ("beneficiary_name", "beneficiary_account", "beneficiary_bank", "amount"):
            if not item.get(name):
                errors.append(f"{name} is required")
        try:
            amount = parse_rupiah(item.get("amount", ""))
        except AmountError as error:
            errors.append(str(error))
            amount = 0
        if amount < 10_000 and not errors:
            errors.append("amount must be at least 10000")
        account = str(item.get("beneficiary_account", ""))
        if account and not _ACCOUNT.match(account):
            errors.append("beneficiary_account must be 6 to 20 digits")
        reference = str(item.get("reference_no") or idem or "")
        if not reference:
            reference = self.state.new_id().replace("-", "")[:20]
        if not _REFERENCE.match(reference):
            errors.append("reference_no must be 1..64 letters, digits, '-' or '_'")
        if len(str(item.get("notes", ""))) > 100:
            errors.append("notes must be at most 100 characters")
        if errors:
            raise ApiError(
                400, {"error_message": "An error occured when creating payouts", "errors": errors}
            )
        return SimPayout(
            reference_no=reference,
            idempotency_key=idem,
            beneficiary_name=str(item["beneficiary_name"]),
            beneficiary_account=account,
            beneficiary_bank=str(item["beneficiary_bank"]),
            beneficiary_email=str(item.get("beneficiary_email", "")),
            amount=amount,
            notes=str(item.get("notes", "")),
            created_by="creator",
            created_at=self.state.now(),
        )

    def _references(self, body: Any) -> list[str]:
        refs = body.get("reference_nos") if isinstance(body, dict) else None
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise ApiError(400, {"error_message": "reference_nos must be a non-empty list"})
        return list(refs)

    def approve(self, body: Any) -> Reply:
        s = self.state
        refs = self._references(body)
        with s.lock:
            for ref in refs:
                payout = s.payouts.get(ref)
                if payout is None:
                    raise ApiError(404, {"error_message": f"Payout {ref} not found"})
                if payout.status not in ("queued", "approved", "processed", "completed", "failed"):
                    raise ApiError(400, {"error_message": f"Payout {ref} is {payout.status}"})
            for ref in refs:
                payout = s.payouts[ref]
                if payout.status != "queued":
                    continue  # approving twice changes nothing
                if ref in s.faults.reject_references:
                    self._move(payout, "rejected")  # the checker said no instead
                    continue
                payout.approved_by = "approver"
                payout.fee = s.payout_fee
                s.iris_balance -= payout.amount + payout.fee
                self._move(payout, "approved")
                self._move(payout, "processed")
                if s.instant_payouts:
                    self._finish(payout)
        return Reply(202, {"status": "ok"})

    def reject(self, body: Any) -> Reply:
        s = self.state
        refs = self._references(body)
        with s.lock:
            for ref in refs:
                payout = s.payouts.get(ref)
                if payout is None:
                    raise ApiError(404, {"error_message": f"Payout {ref} not found"})
                if payout.status not in ("queued", "rejected"):
                    raise ApiError(400, {"error_message": f"Payout {ref} is {payout.status}"})
            for ref in refs:
                if s.payouts[ref].status == "queued":
                    self._move(s.payouts[ref], "rejected")
        return Reply(202, {"status": "ok"})

    def _finish(self, payout: SimPayout) -> None:
        s = self.state
        if (
            payout.beneficiary_account in s.faults.fail_accounts
            or payout.reference_no in s.faults.fail_references
        ):
            payout.error_code = "account_closed"
            s.iris_balance += payout.amount + payout.fee  # nothing moved, nothing charged
            payout.fee = 0
            self._move(payout, "failed")
            return
        payout.completed_at = s.now()
        self._move(payout, "completed")
        if payout.beneficiary_account in s.faults.return_accounts:
            self.bank_return(payout.reference_no)

    def bank_return(self, reference: str, code: str = "returned") -> None:
        """The beneficiary bank sends a completed payout back (wrong name, closed account)."""
        s = self.state
        with s.lock:
            payout = s.payouts[reference]
            if payout.status != "completed":
                raise ValueError(f"payout {reference} is {payout.status}, not completed")
            payout.error_code = code
            payout.returned_at = s.now()
            s.iris_balance += payout.amount
            self._move(payout, "failed")

    def process_payouts(self) -> int:
        """Finish every processed payout (when ``instant_payouts`` is off)."""
        with self.state.lock:
            waiting = [p for p in self.state.payouts.values() if p.status == "processed"]
            for payout in waiting:
                self._finish(payout)
        return len(waiting)

    def _move(self, payout: SimPayout, status: str) -> None:
        payout.status = status
        payout.updated_at = self.state.now()
        if self.iris_webhook_url:
            body = {
                "reference_no": payout.reference_no,
                "amount": f"{payout.amount}.00",
                "status": status,
                "updated_at": payout.updated_at.isoformat(timespec="seconds"),
            }
            if payout.error_code:
                body["error_code"] = payout.error_code
            raw = json.dumps(body).encode()
            self.notify(
                self.iris_webhook_url,
                raw,
                {"Iris-Signature": iris_signature(raw, self.keys.merchant_key)},
            )

    def validate(self, bank: str, account: str) -> Reply:
        s = self.state
        if not bank or not _ACCOUNT.match(account) or account in s.faults.invalid_accounts:
            raise ApiError(
                400,
                {"error_message": "Account validation failed", "errors": ["account not found"]},
            )
        with s.lock:
            s.validations += 1
        name = s.faults.account_names.get(account, f"REKENING {account}")
        return Reply(200, {"account_name": name, "account_no": account, "bank_name": bank})

    def save_beneficiary(self, body: Any, alias: str | None) -> Reply:
        if not isinstance(body, dict):
            raise ApiError(400, {"error_message": "body must be an object"})
        fields = {
            k: str(body.get(k, "")) for k in ("name", "account", "bank", "alias_name", "email")
        }
        if not fields["name"] or not _ACCOUNT.match(fields["account"]) or not fields["bank"]:
            raise ApiError(400, {"error_message": "name, bank and a valid account are required"})
        with self.state.lock:
            beneficiaries = self.state.beneficiaries
            if alias is None:
                if not fields["alias_name"] or fields["alias_name"] in beneficiaries:
                    raise ApiError(400, {"error_message": "alias_name missing or already used"})
                beneficiaries[fields["alias_name"]] = fields
                return Reply(201, {"status": "created"})
            if alias not in beneficiaries:
                raise ApiError(404, {"error_message": f"beneficiary {alias} not found"})
            fields["alias_name"] = alias
            beneficiaries[alias] = fields
            return Reply(200, {"status": "updated"})

    # -- Snap and Core API ---------------------------------------------------------------------
    def _order(self, body: Any, kind: str) -> SimOrder:
        details = body.get("transaction_details") if isinstance(body, dict) else None
        if not isinstance(details, dict):
            raise ApiError(400, {"error_messages": ["transaction_details is required"]})
        order_id = str(details.get("order_id", ""))
        if not _ORDER_ID.match(order_id):
            raise ApiError(400, {"error_messages": ["transaction_details.order_id is invalid"]})
        try:
            gross = parse_rupiah(details.get("gross_amount"))
        except AmountError:
            raise ApiError(
                400, {"error_messages": ["transaction_details.gross_amount must be whole rupiah"]}
            ) from None
        if gross < 1:
            raise ApiError(400, {"error_messages": ["gross_amount must be at least 1"]})
        customer = body.get("customer_details") or {}
        name = " ".join(
            str(customer.get(k, "")) for k in ("first_name", "last_name") if customer.get(k)
        )
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
            customer=name,
        )

    def snap(self, role: str, body: Any) -> Reply:
        if role != "merchant":
            raise ApiError(401, {"error_messages": ["Snap needs the server key"]})
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

    def charge(self, role: str, body: Any) -> Reply:
        if role != "merchant":
            raise ApiError(401, {"status_code": "401", "status_message": "server key required"})
        payment_type = str(body.get("payment_type", "")) if isinstance(body, dict) else ""
        if payment_type not in ("qris", "bank_transfer"):
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
                return Reply(
                    200,
                    {
                        "status_code": "406",
                        "status_message": "The request could not be completed due to "
                        "a conflict with the current state of the target resource, "
                        "please try again",
                    },
                )
            if payment_type == "bank_transfer":
                bank = str((body.get("bank_transfer") or {}).get("bank", "bca"))
                order.bank = bank
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

    def status(self, role: str, order_id: str) -> Reply:
        if role != "merchant":
            raise ApiError(401, {"status_code": "401", "status_message": "server key required"})
        with self.state.lock:
            order = self.state.orders.get(order_id)
            if order is None:
                raise ApiError(
                    404, {"status_code": "404", "status_message": "Transaction doesn't exist."}
                )
            return Reply(200, order.document())

    def pay(self, order_id: str, payment_type: str = "") -> Reply:
        """The customer pays (scans the QRIS, transfers to the VA, completes Snap)."""
        s = self.state
        with s.lock:
            order = s.orders.get(order_id)
            if order is None:
                raise ApiError(404, {"error": f"no order {order_id}"})
            if order.status == "settlement":
                return Reply(200, order.document())
            if order.status != "pending":
                raise ApiError(409, {"error": f"order {order_id} is {order.status}"})
            if order.kind == "snap":
                order.payment_type = payment_type or "qris"
            order.status = "settlement"
            order.settled_at = s.now()
            order.fee = s.receipt_fee(order)
            self._notify_payment(order)
            return Reply(200, order.document())

    def refund(self, role: str, order_id: str, body: dict[str, Any]) -> Reply:
        """A full refund of a settled payment (partial refunds are not simulated)."""
        if role != "merchant":
            raise ApiError(401, {"status_code": "401", "status_message": "server key required"})
        s = self.state
        with s.lock:
            order = s.orders.get(order_id)
            if order is None:
                raise ApiError(
                    404, {"status_code": "404", "status_message": "Transaction doesn't exist."}
                )
            if order.status == "refund":
                return Reply(200, order.document())
            if order.status != "settlement":
                return Reply(
                    200, {"status_code": "412", "status_message": f"Transaction is {order.status}"}
                )
            if "amount" in body:
                try:
                    amount = parse_rupiah(body["amount"])
                except AmountError:
                    amount = -1
                if amount != order.gross:
                    return Reply(
                        200,
                        {"status_code": "413", "status_message": "only full refunds are simulated"},
                    )
            order.status = "refund"
            self._notify_payment(order)
            doc = order.document()
            doc["status_code"] = "200"
            doc["refund_amount"] = f"{order.gross}.00"
            doc["refund_key"] = str(body.get("refund_key", ""))
            return Reply(200, doc)

    def expire(self, order_id: str) -> Reply:
        s = self.state
        with s.lock:
            order = s.orders.get(order_id)
            if order is None:
                raise ApiError(404, {"error": f"no order {order_id}"})
            if order.status != "pending":
                raise ApiError(409, {"error": f"order {order_id} is {order.status}"})
            order.status = "expire"
            self._notify_payment(order)
            return Reply(200, order.document())

    def payment_notification(self, order: SimOrder) -> bytes:
        doc = order.document()
        doc["status_message"] = "midtrans payment notification"
        doc["signature_key"] = payment_signature(
            doc["order_id"], doc["status_code"], doc["gross_amount"], self.keys.server_key
        )
        return json.dumps(doc).encode()

    def _notify_payment(self, order: SimOrder) -> None:
        if self.payment_webhook_url:
            self.notify(self.payment_webhook_url, self.payment_notification(order), {})

    # -- notifications -------------------------------------------------------------------------
    def notify(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        note = Notification(url, {"Content-Type": "application/json", **headers}, body)
        self.notifications.append(note)
        self._outbox.put(note)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued notification was delivered or given up."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while True:
                note = self._outbox.get()
                try:
                    if note is None:
                        return
                    self._deliver(client, note)
                finally:
                    self._outbox.task_done()

    def _deliver(self, client: httpx.Client, note: Notification) -> None:
        for attempt in range(1, self.notify_attempts + 1):
            note.attempts = attempt
            try:
                response = client.post(note.url, content=note.body, headers=note.headers)
            except httpx.HTTPError as error:
                log.info("notification to %s failed: %s", note.url, error)
                time.sleep(0.01 * attempt)
                continue
            note.delivered_status = response.status_code
            if response.status_code < 500:
                return
            time.sleep(0.01 * attempt)

    def close(self) -> None:
        self._outbox.put(None)
        self._worker.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sim %s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        gateway = self.server.gateway
        state = gateway.state
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        is_api = not path.startswith("/sim/")
        with state.lock:
            state.inflight += 1
        try:
            self._serve_counted(method, path, query, raw, is_api)
        finally:
            with state.lock:
                state.inflight -= 1

    def _serve_counted(
        self, method: str, path: str, query: dict[str, str], raw: bytes, is_api: bool
    ) -> None:
        state = self.server.gateway.state
        fault = None
        if is_api:
            with state.lock:
                fault = state.faults.take(method, path, state.rng)
                delay = state.faults.delay_seconds
                hang = state.faults.hang_seconds
            if delay:
                time.sleep(delay)
            if fault in ("500", "502", "503"):
                self._send(int(fault), {"error_message": "simulated gateway error"})
                return
            if fault == "late":
                time.sleep(hang)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"error_message": "body is not JSON"})
            return
        try:
            reply = self._route(method, path, body, query)
        except ApiError as error:
            reply = Reply(error.status, error.body)
        if fault == "hang":
            time.sleep(hang)
        if fault == "done-500":
            reply = Reply(500, {"error_message": "simulated error after processing"})
        self._send(reply.status, reply.body, reply.text)

    def _route(self, method: str, path: str, body: Any, query: dict[str, str]) -> Reply:
        gateway = self.server.gateway
        if path.startswith("/sim/"):
            return self._sim(method, path, body or {})
        role = gateway.who(self.headers.get("Authorization"))
        if path.startswith("/iris/api/v1/"):
            idem = self.headers.get("X-Idempotency-Key", "")
            return gateway.iris(method, path.removeprefix("/iris/api/v1"), role, body, query, idem)
        if method == "POST" and path == "/snap/v1/transactions":
            return gateway.snap(role, body)
        if method == "POST" and path == "/v2/charge":
            return gateway.charge(role, body)
        match = re.fullmatch(r"/v2/([^/]+)/status", path)
        if method == "GET" and match:
            return gateway.status(role, unquote(match.group(1)))
        refund = re.fullmatch(r"/v2/([^/]+)/refund", path)
        if method == "POST" and refund:
            return gateway.refund(role, unquote(refund.group(1)), body or {})
        raise ApiError(404, {"status_code": "404", "status_message": f"no endpoint {path}"})

    def _sim(self, method: str, path: str, body: dict[str, Any]) -> Reply:
        gateway = self.server.gateway
        report = re.fullmatch(
            r"/sim/reports/(payouts|settlements|rkud)/(\d{4}-\d{2}-\d{2})(?:\.(mt940|csv))?", path
        )
        if method == "GET" and report:
            return self._report(report.group(1), report.group(2), report.group(3) or "csv")
        if method != "POST":
            raise ApiError(405, {"error": "POST only"})
        pay = re.fullmatch(r"/sim/pay/([^/]+)", path)
        if pay:
            return gateway.pay(unquote(pay.group(1)), str(body.get("payment_type", "")))
        expire = re.fullmatch(r"/sim/expire/([^/]+)", path)
        if expire:
            return gateway.expire(unquote(expire.group(1)))
        back = re.fullmatch(r"/sim/payouts/([^/]+)/return", path)
        if back:
            try:
                gateway.bank_return(unquote(back.group(1)))
            except (KeyError, ValueError) as error:
                raise ApiError(409, {"error": str(error)}) from None
            return Reply(200, {"status": "returned"})
        if path == "/sim/payouts/process":
            return Reply(200, {"processed": gateway.process_payouts()})
        if path == "/sim/faults":
            kinds = body.get("kinds")
            if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
                raise ApiError(400, {"error": "kinds must be a list of fault names"})
            with gateway.state.lock:
                try:
                    gateway.state.faults.plan(
                        str(body.get("method", "")), str(body.get("path", "/")), *kinds
                    )
                except ValueError as error:
                    raise ApiError(400, {"error": str(error)}) from None
                return Reply(200, {"planned": gateway.state.faults.pending})
        raise ApiError(404, {"error": f"no simulator endpoint {path}"})

    def _report(self, kind: str, day_text: str, fmt: str) -> Reply:
        from gateways.simulator import reports

        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise ApiError(400, {"error": f"not a date: {day_text}"}) from None
        state = self.server.gateway.state
        if kind == "payouts":
            return Reply(200, None, reports.payout_report(state, day))
        if kind == "settlements":
            return Reply(200, None, reports.settlement_report(state, day))
        return Reply(200, None, reports.rkud_statement(state, day, fmt))

    def _send(self, status: int, body: Any, text: str | None = None) -> None:
        raw = json.dumps(body).encode() if text is None else text.encode()
        kind = "application/json" if text is None else "text/plain; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gateway: Gateway


class Simulator:
    """The simulator in-process: ``with Simulator() as sim: sim.url ...``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 2026,
        clock: Callable[[], datetime] = wib_now,
        keys: SimKeys = SIM_KEYS,
        faults: Faults | None = None,
        **state_options: Any,
    ) -> None:
        self.state = SimState(clock=clock, seed=seed, faults=faults or Faults(), **state_options)
        self.keys = keys
        self._server = _Server((host, port), _Handler)
        self.host, self.port = (
            str(self._server.server_address[0]),
            int(self._server.server_address[1]),
        )
        self.gateway = Gateway(self.state, keys, lambda: self.url)
        self._server.gateway = self.gateway
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.state.faults

    def start(self) -> Simulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="gateway-sim",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.gateway.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()
            self.gateway.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences for tests and the demo ---------------------------------------------------
    def set_webhooks(self, *, payments: str | None = None, iris: str | None = None) -> None:
        self.gateway.payment_webhook_url = payments
        self.gateway.iris_webhook_url = iris

    def pay(self, order_id: str, payment_type: str = "") -> dict[str, Any]:
        reply = self.gateway.pay(order_id, payment_type)
        return dict(reply.body)

    def bank_credit(
        self, reference: str, amount: int, remark: str, *, account: str = "", bank: str = ""
    ) -> SimCredit:
        """Money paid into the RKUD at the bank now, outside the gateway (a teller deposit, a
        transfer from the centre): a credit on the day's statement whose remark starts with
        ``reference`` (after a lead word such as ``TRF``)."""
        if type(amount) is not int or amount <= 0:
            raise ValueError(f"a credit is a positive integer number of rupiah, got {amount!r}")
        credit = SimCredit(self.state.now(), amount, reference, remark, account, bank)
        with self.state.lock:
            self.state.credits.append(credit)
        return credit

    def payouts(self) -> list[SimPayout]:
        with self.state.lock:
            return list(self.state.payouts.values())

    def payout(self, reference: str) -> SimPayout:
        with self.state.lock:
            return self.state.payouts[reference]

    def flush(self, timeout: float = 10.0) -> None:
        self.gateway.flush(timeout)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no API request is being served (e.g. a late one still sleeping)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if self.state.inflight == 0:
                    return
            time.sleep(0.01)

    def payout_report(self, day: date) -> str:
        from gateways.simulator.reports import payout_report

        return payout_report(self.state, day)

    def settlement_report(self, day: date) -> str:
        from gateways.simulator.reports import settlement_report

        return settlement_report(self.state, day)

    def rkud_statement(self, day: date, fmt: str = "mt940") -> str:
        from gateways.simulator.reports import rkud_statement

        return rkud_statement(self.state, day, fmt)
