"""Gateway notifications, framework-agnostic: ``handle_iris`` and ``handle_midtrans`` take the RAW
request bytes and headers and return a status code and a JSON body (``api.webhooks`` mounts them).

* The signature is checked on the raw bytes before anything is parsed, in constant time; a missing
  or wrong one is 401 and logged as a forgery.
* A notification about a payout or order kasda does not know is 404 (logged); one whose facts
  disagree with the SP2D (amount) is 409 (logged as an error).
* Duplicates and out-of-order notifications change nothing twice: every ledger command carries an
  idempotency key derived from the notification, and a status that would move a disbursement
  backwards is acknowledged and ignored.
* A body that is not one JSON object of plain text and numbers (malformed, nested deeper than
  ``MAX_DEPTH``, lone surrogates, a bare array or string) is refused before anything else looks at
  it (``notification_json``): 400 from Iris (after the signature), 401 to Midtrans (whose
  signature is inside the body). ``api.edge`` has refused a body larger than ``MAX_BODY`` unread.
* When the ledger's store (or Midtrans, for the status query) is unavailable the answer is 503: the
  gateway retries later, and since nothing was recorded nothing is lost.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from eventsourcing.persistence import PersistenceError

from gateways.config import GatewaySettings
from gateways.facts import GATEWAY_ACTOR, Verdict, apply
from gateways.iris import payout_from_json
from gateways.port import (
    GatewayError,
    GatewayRejected,
    Payout,
    PayoutGateway,
    PayoutNotFound,
    ReceiptGateway,
)
from gateways.receipts import (
    REVERSED,
    SETTLED,
    FeeSchedule,
    NotKasdaOrder,
    OrderNotFound,
    ReceiptService,
)
from gateways.references import parse_reference
from gateways.signatures import iris_signature, payment_signature, same
from ledger.application import Ledger
from ledger.errors import ConcurrencyConflict, DomainError

log = logging.getLogger(__name__)
security = logging.getLogger("kasda.security")

MAX_BODY = 64 * 1024
# Iris and Midtrans notifications are flat objects (Midtrans nests one level, e.g. va_numbers).
MAX_DEPTH = 8


class NotUnderstood(ValueError):
    """A notification body that is not a JSON object kasda can read."""


def notification_json(raw: bytes) -> dict[str, Any]:
    """The JSON object of a notification, or ``NotUnderstood``. orjson refuses invalid UTF-8, lone
    surrogates (escaped or not), NaN and nesting past 1024 without recursing in Python; the depth
    here is bounded much lower, so nothing that later prints or walks the document can recurse."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise NotUnderstood(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise NotUnderstood(f"a notification is a JSON object, not {type(body).__name__}")
    level: list[Any] = [body]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return body
    raise NotUnderstood(f"nested deeper than {MAX_DEPTH} levels")


def store_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the event store is unavailable": answer 503."""
    errors: list[type[BaseException]] = [PersistenceError, sqlite3.Error, OSError]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return tuple(errors)


STORE_ERRORS = store_errors()


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def _guard(action: Callable[[], WebhookResponse], what: str) -> WebhookResponse:
    try:
        return action()
    except STORE_ERRORS as error:
        log.error("%s: event store unavailable, asking the gateway to retry: %s", what, error)
        return WebhookResponse(503, {"error": "store unavailable, retry later"})
    except ConcurrencyConflict as error:
        log.warning("%s: %s", what, error)
        return WebhookResponse(503, {"error": "busy, retry later"})


class _Answer(Exception):
    """A notification answered before it is acted on (too large, unsigned, forged, unreadable)."""

    def __init__(self, response: WebhookResponse) -> None:
        super().__init__(response.status)
        self.response = response


def handle_iris(
    ledger: Ledger,
    settings: GatewaySettings,
    raw: bytes,
    headers: Mapping[str, str],
    payouts: PayoutGateway | None = None,
) -> WebhookResponse:
    """``POST /webhooks/iris``: a payout changed status. A notification that does not name the
    beneficiary account (Iris's own do not) is confirmed with ``payouts.get_payout`` first, and
    the confirmed payout is what is recorded: money is recorded as paid only to the account the
    SP2D names (``gateways.facts.payout_mismatch``), never on a notification's word alone."""
    try:
        payout = _signed_payout(settings, raw, headers)
    except _Answer as answer:
        return answer.response
    return _guard(
        lambda: _record_payout(ledger, payout, payouts), f"iris notification {payout.reference}"
    )


def _signed_payout(settings: GatewaySettings, raw: bytes, headers: Mapping[str, str]) -> Payout:
    """The payout of a notification Iris signed; its signature is checked on the raw bytes before
    anything is parsed."""
    if len(raw) > MAX_BODY:
        raise _Answer(WebhookResponse(413, {"error": "body too large"}))
    given = _header(headers, "Iris-Signature")
    if not settings.iris_merchant_key or not given:
        security.warning("iris notification without signature refused (%d bytes)", len(raw))
        raise _Answer(WebhookResponse(401, {"error": "missing signature"}))
    if not same(iris_signature(raw, settings.iris_merchant_key), given):
        security.warning("forged iris notification refused: %r", raw[:200])
        raise _Answer(WebhookResponse(401, {"error": "invalid signature"}))
    try:
        return payout_from_json(notification_json(raw))
    except (ValueError, GatewayError) as error:
        log.warning("iris notification not understood: %s", error)
        raise _Answer(WebhookResponse(400, {"error": "notification not understood"})) from None


def _record_payout(
    ledger: Ledger, payout: Payout, payouts: PayoutGateway | None
) -> WebhookResponse:
    """Record what the (confirmed) payout says about its disbursement."""
    confirmed = payout
    if not payout.beneficiary_account.strip() and parse_reference(payout.reference):
        try:
            confirmed = _confirm(payouts, payout)
        except PayoutNotFound:
            security.warning("iris notification for a payout iris does not know: %s", payout)
            return WebhookResponse(404, {"error": "unknown payout"})
        except GatewayError as error:
            log.warning("iris status of %s unavailable: %s", payout.reference, error)
            return WebhookResponse(503, {"error": "cannot confirm with iris, retry later"})
    try:
        applied = apply(ledger, confirmed, GATEWAY_ACTOR)
    except DomainError as error:
        log.error("iris notification %s refused by the ledger: %s", payout.reference, error)
        return WebhookResponse(409, {"error": error.rule, "detail": error.message})
    if applied.verdict is Verdict.UNKNOWN:
        security.warning("iris notification for unknown payout %s", payout.reference)
        return WebhookResponse(404, {"error": "unknown payout"})
    if applied.verdict is Verdict.MISMATCH:
        return WebhookResponse(409, {"error": "payout does not match the SP2D"})
    return WebhookResponse(
        200,
        {
            "result": applied.verdict.value,
            "recorded": list(applied.recorded),
            "status": applied.status,
        },
    )


def _confirm(payouts: PayoutGateway | None, payout: Payout) -> Payout:
    """The payout as Iris holds it (``GatewayError`` when it cannot be asked); without a payout
    gateway the notification stays unconfirmed, and its missing account is a mismatch."""
    if payouts is None:
        return payout
    found = payouts.get_payout(payout.reference)
    if found.reference != payout.reference:
        raise GatewayError(f"iris answered {found.reference} for {payout.reference}")
    return found


def handle_midtrans(
    ledger: Ledger,
    settings: GatewaySettings,
    raw: bytes,
    receipts: ReceiptGateway,
    fees: FeeSchedule | None = None,
) -> WebhookResponse:
    """``POST /webhooks/midtrans``: a payment changed status. The facts are confirmed with a status
    query (``receipts``) before anything is recorded."""
    try:
        order_id = _signed_order(settings, raw)
    except _Answer as answer:
        return answer.response
    service = ReceiptService(ledger, receipts, fees or FeeSchedule())
    return _guard(
        lambda: _record_payment(service, receipts, order_id), f"midtrans notification {order_id}"
    )


def _signed_order(settings: GatewaySettings, raw: bytes) -> str:
    """The order id of a notification Midtrans signed (its signature is inside the body)."""
    if len(raw) > MAX_BODY:
        raise _Answer(WebhookResponse(413, {"error": "body too large"}))
    try:
        body = notification_json(raw)
    except NotUnderstood as error:
        # Its signature is inside the body: a body that cannot be read carries none.
        security.warning("midtrans notification not understood (%s): %r", error, raw[:200])
        raise _Answer(WebhookResponse(401, {"error": "invalid notification"})) from None
    fields = ("order_id", "status_code", "gross_amount", "signature_key")
    if not all(isinstance(body.get(k), str) for k in fields):
        security.warning("midtrans notification without signature fields: %r", raw[:200])
        raise _Answer(WebhookResponse(401, {"error": "missing signature"}))
    expected = payment_signature(
        body["order_id"], body["status_code"], body["gross_amount"], settings.server_key
    )
    if not settings.server_key or not same(expected, body["signature_key"]):
        security.warning("forged midtrans notification refused: order %r", body["order_id"])
        raise _Answer(WebhookResponse(401, {"error": "invalid signature"}))
    order_id: str = body["order_id"]
    return order_id


def _record_payment(
    service: ReceiptService, receipts: ReceiptGateway, order_id: str
) -> WebhookResponse:
    """Ask Midtrans for the order's status and record a settled or reversed payment."""
    try:
        state = receipts.status(order_id)
    except OrderNotFound:
        security.warning("midtrans notification for unknown order %s", order_id)
        return WebhookResponse(404, {"error": "unknown order"})
    except GatewayRejected as error:
        log.error("midtrans status of %s refused: %s", order_id, error)
        return WebhookResponse(503, {"error": "cannot confirm with midtrans, retry later"})
    except GatewayError as error:
        log.warning("midtrans status of %s unavailable: %s", order_id, error)
        return WebhookResponse(503, {"error": "cannot confirm with midtrans, retry later"})
    if state.status not in SETTLED | REVERSED:
        return WebhookResponse(200, {"result": "nothing_to_record", "status": state.status})
    try:
        result = service.record(order_id)
    except NotKasdaOrder as error:
        security.warning("midtrans notification for a non-kasda order: %s", error)
        return WebhookResponse(403, {"error": "not a kasda order"})
    except DomainError as error:
        log.error("midtrans order %s refused by the ledger: %s", order_id, error)
        return WebhookResponse(409, {"error": error.rule, "detail": error.message})
    except GatewayError as error:
        log.warning("midtrans status of %s unavailable: %s", order_id, error)
        return WebhookResponse(503, {"error": "cannot confirm with midtrans, retry later"})
    replayed = result is not None and result.replayed
    return WebhookResponse(
        200,
        {"result": "nothing_new" if replayed else "recorded", "status": state.status.value},
    )
