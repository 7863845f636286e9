"""The simulator's routes, one router per product at Midtrans's paths: Iris (``/iris/api/v1``),
Snap (``/snap/v1``), the Core API (``/v2``); then the simulator's own, which need no key: the daily
files (``/sim/reports``) and the controls (``/sim/...``: the customer, the bank, the fault plan).
A path no route serves gets the product's own 404 (``no Iris endpoint ...``, ``no endpoint ...``)
from the catch-all routes at the end.

Every request is answered in Midtrans's order: the body must be JSON (an app-wide dependency),
then the key must be known (HTTP Basic, the key as user name), then the route's own key rule
(Iris: the creator makes, the approver checks; Snap and the Core API: the server key), then the
product.

The routes are ``async``: the products work in memory under one lock, quicker than the thread hop
FastAPI would make for a plain function.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from starlette.types import Scope

from gateways.simulator import reports
from gateways.simulator.gateway import Gateway
from gateways.simulator.replies import ApiError, Reply

IRIS_PREFIX = "/iris/api/v1"
SERVED_METHODS = ["GET", "POST", "PATCH"]
REPORT_FILE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:\.(mt940|csv))?")
REPORT_KINDS = frozenset({"payouts", "settlements", "rkud"})


def answer(reply: Reply) -> Response:
    """The reply on the wire: JSON as Python's ``json`` writes it, or a text file."""
    if reply.text is not None:
        return Response(reply.text, reply.status, media_type="text/plain")
    return Response(json.dumps(reply.body), reply.status, media_type="application/json")


def raw_path(scope: Scope) -> str:
    """The path as the client wrote it (not percent-decoded): what faults and 404s name."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    return raw.decode("latin-1")


# -- dependencies -------------------------------------------------------------------------------
async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise ApiError(400, {"error_message": "body is not JSON"}) from None


async def json_object(body: Annotated[Any, Depends(json_body)]) -> dict[str, Any]:
    """The body of a route that reads fields from it: an object, or nothing (``{}``)."""
    if not body:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, {"error_message": "body must be a JSON object"})
    return body


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
JsonBody = Annotated[Any, Depends(json_body)]
JsonObject = Annotated[dict[str, Any], Depends(json_object)]


async def role(request: Request, gateway: GatewayDep) -> str:
    """Who calls, by the key given as the Basic-auth user name."""
    authorization = request.headers.get("Authorization")
    if not authorization or not authorization.startswith("Basic "):
        raise ApiError(401, {"error_message": "Unauthorized: basic auth required"})
    try:
        user = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        raise ApiError(401, {"error_message": "Unauthorized"}) from None
    keys = gateway.keys
    roles = {
        keys.creator_key: "creator",
        keys.approver_key: "approver",
        keys.server_key: "merchant",
    }
    if user not in roles:
        raise ApiError(401, {"error_message": "Unauthorized: unknown key"})
    return roles[user]


Role = Annotated[str, Depends(role)]


# -- Iris ---------------------------------------------------------------------------------------
async def iris_role(who: Role) -> str:
    if who == "merchant":
        raise ApiError(401, {"error_message": "Iris needs an Iris key"})
    return who


def _iris_key(wanted: str) -> Callable[[str], Awaitable[None]]:
    async def check(who: Annotated[str, Depends(iris_role)]) -> None:
        if who != wanted:
            raise ApiError(
                401, {"error_message": f"this action needs the {wanted} key, not the {who} key"}
            )

    return check


Creator = Depends(_iris_key("creator"))
Approver = Depends(_iris_key("approver"))
iris = APIRouter(prefix=IRIS_PREFIX, dependencies=[Depends(iris_role)])


@iris.post("/payouts", dependencies=[Creator])
async def create_payouts(
    gateway: GatewayDep,
    body: JsonBody,
    idempotency_key: Annotated[str, Header(alias="X-Idempotency-Key")] = "",
) -> Response:
    return answer(gateway.iris.create_payouts(body, idempotency_key))


@iris.post("/payouts/approve", dependencies=[Approver])
async def approve_payouts(gateway: GatewayDep, body: JsonBody) -> Response:
    return answer(gateway.iris.approve(body))


@iris.post("/payouts/reject", dependencies=[Approver])
async def reject_payouts(gateway: GatewayDep, body: JsonBody) -> Response:
    return answer(gateway.iris.reject(body))


@iris.get("/payouts/{reference:path}")
async def payout(gateway: GatewayDep, reference: str) -> Response:
    return answer(gateway.iris.payout(reference))


@iris.get("/account_validation", dependencies=[Creator])
async def validate_account(gateway: GatewayDep, bank: str = "", account: str = "") -> Response:
    return answer(gateway.iris.validate(bank, account))


@iris.get("/beneficiaries")
async def beneficiaries(gateway: GatewayDep) -> Response:
    return answer(gateway.iris.beneficiaries())


@iris.post("/beneficiaries", dependencies=[Creator])
async def add_beneficiary(gateway: GatewayDep, body: JsonBody) -> Response:
    return answer(gateway.iris.save_beneficiary(body, None))


@iris.patch("/beneficiaries/{alias:path}", dependencies=[Creator])
async def update_beneficiary(gateway: GatewayDep, body: JsonBody, alias: str) -> Response:
    return answer(gateway.iris.save_beneficiary(body, alias))


@iris.get("/balance")
async def balance(gateway: GatewayDep) -> Response:
    return answer(gateway.iris.balance())


@iris.api_route("/{rest:path}", methods=SERVED_METHODS)
async def no_iris_endpoint(request: Request) -> Response:
    path = raw_path(request.scope).removeprefix(IRIS_PREFIX)
    raise ApiError(404, {"error_message": f"no Iris endpoint {request.method} {path}"})


# -- Snap and the Core API ----------------------------------------------------------------------
async def snap_key(who: Role) -> None:
    if who != "merchant":
        raise ApiError(401, {"error_messages": ["Snap needs the server key"]})


async def core_key(who: Role) -> None:
    if who != "merchant":
        raise ApiError(401, {"status_code": "401", "status_message": "server key required"})


snap = APIRouter(prefix="/snap/v1", dependencies=[Depends(snap_key)])
core = APIRouter(prefix="/v2", dependencies=[Depends(core_key)])


@snap.post("/transactions")
async def snap_transaction(gateway: GatewayDep, body: JsonBody) -> Response:
    return answer(gateway.receipts.snap(body))


@core.post("/charge")
async def charge(gateway: GatewayDep, body: JsonBody) -> Response:
    return answer(gateway.receipts.charge(body))


@core.get("/{order_id}/status")
async def status(gateway: GatewayDep, order_id: str) -> Response:
    return answer(gateway.receipts.status(order_id))


@core.post("/{order_id}/refund")
async def refund(gateway: GatewayDep, order_id: str, body: JsonObject) -> Response:
    return answer(gateway.receipts.refund(order_id, body))


# -- the daily files: the gateway's reports and the bank's statement -----------------------------
daily_files = APIRouter(prefix="/sim/reports")


@daily_files.get("/{kind}/{name}")
async def report(gateway: GatewayDep, request: Request, kind: str, name: str) -> Response:
    """``/sim/reports/{payouts|settlements|rkud}/YYYY-MM-DD[.mt940|.csv]``: a day's file."""
    found = REPORT_FILE.fullmatch(name)
    if kind not in REPORT_KINDS or found is None:
        raise _not_simulated(request)
    try:
        day = date.fromisoformat(found.group(1))
    except ValueError:
        raise ApiError(400, {"error": f"not a date: {found.group(1)}"}) from None
    text = reports.report(gateway.state, kind, day, found.group(2) or "csv")
    return answer(Reply(200, None, text))


# -- the simulator's controls: the customer, the bank, faults -----------------------------------
control = APIRouter(prefix="/sim")


@control.post("/pay/{order_id}")
async def pay(gateway: GatewayDep, order_id: str, body: JsonObject) -> Response:
    return answer(gateway.receipts.pay(order_id, str(body.get("payment_type", ""))))


@control.post("/expire/{order_id}")
async def expire(gateway: GatewayDep, order_id: str) -> Response:
    return answer(gateway.receipts.expire(order_id))


@control.post("/payouts/process")
async def process_payouts(gateway: GatewayDep) -> Response:
    return answer(Reply(200, {"processed": gateway.iris.process_payouts()}))


@control.post("/payouts/{reference}/return")
async def bank_return(gateway: GatewayDep, reference: str) -> Response:
    try:
        gateway.iris.bank_return(reference)
    except (KeyError, ValueError) as error:
        raise ApiError(409, {"error": str(error)}) from None
    return answer(Reply(200, {"status": "returned"}))


@control.post("/faults")
async def plan_faults(gateway: GatewayDep, body: JsonObject) -> Response:
    """Plan faults for the next matching requests: ``{"method", "path" (a prefix), "kinds"}``."""
    kinds = body.get("kinds")
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ApiError(400, {"error": "kinds must be a list of fault names"})
    state = gateway.state
    with state.lock:
        try:
            state.faults.plan(str(body.get("method", "")), str(body.get("path", "/")), *kinds)
        except ValueError as error:
            raise ApiError(400, {"error": str(error)}) from None
        return answer(Reply(200, {"planned": state.faults.pending}))


@control.api_route("/{rest:path}", methods=SERVED_METHODS)
async def no_control_endpoint(request: Request) -> Response:
    raise _not_simulated(request)


def _not_simulated(request: Request) -> ApiError:
    if request.method != "POST":
        return ApiError(405, {"error": "POST only"})
    return ApiError(404, {"error": f"no simulator endpoint {raw_path(request.scope)}"})


# -- anything else ------------------------------------------------------------------------------
fallback = APIRouter()


@fallback.api_route("/{rest:path}", methods=SERVED_METHODS, dependencies=[Depends(role)])
async def no_endpoint(request: Request) -> Response:
    raise ApiError(
        404, {"status_code": "404", "status_message": f"no endpoint {raw_path(request.scope)}"}
    )


ROUTERS = (iris, snap, core, daily_files, control, fallback)  # the catch-alls last
