"""Gateway notifications, framework-agnostic: ``handle_iris`` and ``handle_midtrans`` take the RAW
request bytes and headers and return a status code and a JSON body (``api.webhooks`` mounts them).

* The signature is checked on the raw bytes before anything is parsed, in constant time; a missing
  or wrong one is 401 and logged as a forgery.
* A notification about a payout or order kasda does not know is 404 (logged); one whose facts
  disagree with the SP2D (amount) is 409 (logged as an error).
* Duplicates and out-of-order notifications change nothing twice: every ledger command carries an
  idempotency key derived from the notification, and a status that would move a disbursement
  backwards is acknowledged and ignored.
* When the ledger's store (or Midtrans, for the status query) is unavailable the answer is 503: the
  gateway retries later, and since nothing was recorded nothing is lost.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import PersistenceError

from gateways.config import GatewaySettings
from gateways.facts import GATEWAY_ACTOR, Verdict, apply
from gateways.iris import payout_from_json
from gateways.port import GatewayError, GatewayRejected, ReceiptGateway
from gateways.receipts import (
    REVERSED,
    SETTLED,
    FeeSchedule,
    NotKasdaOrder,
    OrderNotFound,
    ReceiptService,
)
from gateways.signatures import iris_signature, payment_signature, same
from ledger.application import Ledger
from ledger.errors import ConcurrencyConflict, DomainError

log = logging.getLogger(__name__)
security = logging.getLogger("kasda.security")

MAX_BODY = 64 * 1024


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


def handle_iris(
    ledger: Ledger, settings: GatewaySettings, raw: bytes, headers: Mapping[str, str]
) -> WebhookResponse:
    """``POST /webhooks/iris``: a payout changed status."""
    if len(raw) > MAX_BODY:
        return WebhookResponse(413, {"error": "body too large"})
    given = _header(headers, "Iris-Signature")
    if not settings.iris_merchant_key or not given:
        security.warning("iris notification without signature refused (%d bytes)", len(raw))
        return WebhookResponse(401, {"error": "missing signature"})
    if not same(iris_signature(raw, settings.iris_merchant_key), given):
        security.warning("forged iris notification refused: %r", raw[:200])
        return WebhookResponse(401, {"error": "invalid signature"})
    try:
        body = json.loads(raw)
        payout = payout_from_json(body)
    except (ValueError, GatewayError) as error:
        log.warning("iris notification not understood: %s", error)
        return WebhookResponse(400, {"error": "notification not understood"})

    def act() -> WebhookResponse:
        try:
            applied = apply(ledger, payout, GATEWAY_ACTOR)
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

    return _guard(act, f"iris notification {payout.reference}")


def handle_midtrans(
    ledger: Ledger,
    settings: GatewaySettings,
    raw: bytes,
    receipts: ReceiptGateway,
    fees: FeeSchedule | None = None,
) -> WebhookResponse:
    """``POST /webhooks/midtrans``: a payment changed status. The facts are confirmed with a status
    query (``receipts``) before anything is recorded."""
    if len(raw) > MAX_BODY:
        return WebhookResponse(413, {"error": "body too large"})
    try:
        body = json.loads(raw)
    except ValueError:
        security.warning("midtrans notification is not JSON: %r", raw[:200])
        return WebhookResponse(401, {"error": "invalid notification"})
    fields = ("order_id", "status_code", "gross_amount", "signature_key")
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in fields):
        security.warning("midtrans notification without signature fields: %r", raw[:200])
        return WebhookResponse(401, {"error": "missing signature"})
    expected = payment_signature(
        body["order_id"], body["status_code"], body["gross_amount"], settings.server_key
    )
    if not settings.server_key or not same(expected, body["signature_key"]):
        security.warning("forged midtrans notification refused: order %r", body["order_id"])
        return WebhookResponse(401, {"error": "invalid signature"})
    order_id = body["order_id"]
    service = ReceiptService(ledger, receipts, fees or FeeSchedule())

    def act() -> WebhookResponse:
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

    return _guard(act, f"midtrans notification {order_id}")
