"""``POST /webhooks/midtrans`` (payments) and ``POST /webhooks/iris`` (payouts).

The app puts the ``Ledger`` at ``app.state.ledger`` and a ``gateways.config.GatewaySettings`` at
``app.state.gateway_settings``; ``app.state.receipt_gateway`` may hold a ``ReceiptGateway`` (else a
``MidtransReceipts`` on those settings is made once), and ``app.state.payout_gateway`` a
``PayoutGateway`` (else an ``IrisClient``), which confirms an Iris notification that does not name
the beneficiary account. Signatures are verified on the raw body; the
work (ledger, status query) runs in the thread pool. See ``gateways.webhooks`` for the answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.tenants import Tenants
from gateways.config import GatewaySettings
from gateways.iris import IrisClient
from gateways.port import PayoutGateway, ReceiptGateway
from gateways.receipts import MidtransReceipts
from gateways.webhooks import WebhookResponse, handle_iris, handle_midtrans
from ledger.application import Ledger

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


async def _parts(
    request: Request, pemda: str | None = None
) -> tuple[Ledger, GatewaySettings] | None:
    """The ledger a notification is for, and the gateway settings: the app's one ledger, or with
    a store per pemda (``api.tenants``) the store of the pemda its path names (404 if not served;
    the legacy path names none, so it is not ready)."""
    state: Any = request.app.state
    ledger = getattr(state, "ledger", None)
    tenants: Tenants | None = getattr(state, "tenants", None)
    if pemda is not None and tenants is not None:
        ledger = (await tenants.of(pemda)).ledger
    settings = getattr(state, "gateway_settings", None)
    if not isinstance(ledger, Ledger) or not isinstance(settings, GatewaySettings):
        return None
    return ledger, settings


def _receipts(request: Request, settings: GatewaySettings) -> ReceiptGateway:
    state: Any = request.app.state
    found = getattr(state, "receipt_gateway", None)
    if found is None:
        found = MidtransReceipts(settings)
        state.receipt_gateway = found
    gateway: ReceiptGateway = found
    return gateway


def _payouts(request: Request, settings: GatewaySettings) -> PayoutGateway | None:
    """Iris, to confirm a notification (``app.state.payout_gateway``, else one made once from the
    settings); None without Iris keys."""
    state: Any = request.app.state
    found = getattr(state, "payout_gateway", None)
    if found is None and settings.iris_creator_key:
        found = IrisClient(
            settings.iris_base_url,
            settings.iris_creator_key,
            settings.iris_approver_key,
            timeout_seconds=settings.timeout_seconds,
        )
        state.payout_gateway = found
    gateway: PayoutGateway | None = found
    return gateway


def _json(response: WebhookResponse) -> JSONResponse:
    headers = {"Retry-After": "30"} if response.status == 503 else None
    return JSONResponse(response.body, status_code=response.status, headers=headers)


_NOT_READY = WebhookResponse(
    503, {"error": "ledger or gateway settings not configured yet, retry later"}
)


async def _iris(request: Request, pemda: str | None) -> JSONResponse:
    raw = await request.body()
    parts = await _parts(request, pemda)
    if parts is None:
        return _json(_NOT_READY)
    ledger, settings = parts
    headers = dict(request.headers)
    payouts = _payouts(request, settings)
    return _json(await run_in_threadpool(handle_iris, ledger, settings, raw, headers, payouts))


async def _midtrans(request: Request, pemda: str | None) -> JSONResponse:
    raw = await request.body()
    parts = await _parts(request, pemda)
    if parts is None:
        return _json(_NOT_READY)
    ledger, settings = parts
    receipts = _receipts(request, settings)
    return _json(await run_in_threadpool(handle_midtrans, ledger, settings, raw, receipts))


@router.post("/iris", summary="Iris payout notification (Iris-Signature)")
async def iris_notification(request: Request) -> JSONResponse:
    return await _iris(request, None)


@router.post("/midtrans", summary="Midtrans payment notification (signature_key)")
async def midtrans_notification(request: Request) -> JSONResponse:
    return await _midtrans(request, None)


# With a store per pemda (KASDA_TENANCY=schema) the gateway is given each pemda's own
# notification URL: the path names the store, the signature still proves the sender.
@router.post("/{pemda}/iris", summary="Iris payout notification for one pemda's store")
async def pemda_iris_notification(request: Request, pemda: str) -> JSONResponse:
    return await _iris(request, pemda)


@router.post("/{pemda}/midtrans", summary="Midtrans payment notification for one pemda's store")
async def pemda_midtrans_notification(request: Request, pemda: str) -> JSONResponse:
    return await _midtrans(request, pemda)
