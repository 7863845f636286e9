"""The simulator's routes, at Midtrans's paths, one table per product: Iris (``/iris/api/v1``),
Snap (``/snap/v1``) and the Core API (``/v2``); then the simulator's own, which need no key: the
daily files (``/sim/reports``) and the controls (``/sim/...``: the customer, the bank, the fault
plan). A path no route serves gets a catch-all's 404 in its product's words (``no Iris endpoint
...``, ``no simulator endpoint ...``, and ``no endpoint ...`` for any other path).

Every route answers in Midtrans's order (``route``): the body must be JSON, then the key must be
known (HTTP Basic, the key as user name) and pass the route's rule (Iris: the creator makes, the
approver checks; Snap and the Core API: the server key), then the product answers. To add an
endpoint: a method on the product (``iris.IrisPayouts``, ``receipts.Receipts``) and one line in
its table here.

Plain Starlette routes, ``async``: the products work in memory under one lock, so a request costs
a route lookup and a call, with no thread hop. (FastAPI's dependency resolution made every request
about 0.3 ms slower than the old ``http.server``, some 1.5 s over the demo's 5,000 calls.)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from gateways.simulator import reports
from gateways.simulator.gateway import Gateway
from gateways.simulator.iris import IrisPayouts
from gateways.simulator.receipts import Receipts
from gateways.simulator.replies import ApiError, Reply

SERVED_METHODS = ("GET", "POST", "PATCH")
GET, POST, PATCH = ("GET",), ("POST",), ("PATCH",)
IRIS = "/iris/api/v1"
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


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a product sees it: its JSON body, path parameters and query."""

    gateway: Gateway
    request: Request
    body: Any

    @property
    def iris(self) -> IrisPayouts:
        return self.gateway.iris

    @property
    def receipts(self) -> Receipts:
        return self.gateway.receipts

    def param(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    def query(self, name: str) -> str:
        """The first non-empty value of a query parameter, or ``""``."""
        return next((v for v in self.request.query_params.getlist(name) if v), "")

    def header(self, name: str) -> str:
        return self.request.headers.get(name, "")

    def object(self) -> dict[str, Any]:
        """The body of a route that reads fields from it: an object, or nothing (``{}``)."""
        if not self.body:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, {"error_message": "body must be a JSON object"})
        return self.body


Handler = Callable[[Call], Reply]
KeyRule = Callable[[str], None]  # refuses a caller's role with the product's own 401


def route(path: str, methods: tuple[str, ...], key: KeyRule | None, handler: Handler) -> Route:
    """A route that parses the body, checks the key (``key`` None: none asked), then calls
    ``handler`` and answers its ``Reply``; an ``ApiError`` on the way is the answer."""

    async def endpoint(request: Request) -> Response:
        body = await _json_body(request)
        if key is not None:
            key(_role(request))
        return answer(handler(Call(request.app.state.gateway, request, body)))

    return Route(path, endpoint, methods=list(methods))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise ApiError(400, {"error_message": "body is not JSON"}) from None


def _role(request: Request) -> str:
    """Who calls, by the key given as the Basic-auth user name."""
    authorization = request.headers.get("Authorization")
    if not authorization or not authorization.startswith("Basic "):
        raise ApiError(401, {"error_message": "Unauthorized: basic auth required"})
    try:
        user = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        raise ApiError(401, {"error_message": "Unauthorized"}) from None
    keys = request.app.state.gateway.keys
    roles = {
        keys.creator_key: "creator",
        keys.approver_key: "approver",
        keys.server_key: "merchant",
    }
    if user not in roles:
        raise ApiError(401, {"error_message": "Unauthorized: unknown key"})
    return roles[user]


# -- key rules ----------------------------------------------------------------------------------
def any_key(who: str) -> None:
    """Any known key (an unknown one was refused already)."""


def iris_key(who: str) -> None:
    if who == "merchant":
        raise ApiError(401, {"error_message": "Iris needs an Iris key"})


def _iris_only(wanted: str) -> KeyRule:
    def rule(who: str) -> None:
        iris_key(who)
        if who != wanted:
            raise ApiError(
                401, {"error_message": f"this action needs the {wanted} key, not the {who} key"}
            )

    return rule


creator, approver = _iris_only("creator"), _iris_only("approver")


def snap_key(who: str) -> None:
    if who != "merchant":
        raise ApiError(401, {"error_messages": ["Snap needs the server key"]})


def core_key(who: str) -> None:
    if who != "merchant":
        raise ApiError(401, {"status_code": "401", "status_message": "server key required"})


# -- Iris ---------------------------------------------------------------------------------------
def _no_iris_endpoint(c: Call) -> Reply:
    path = raw_path(c.request.scope).removeprefix(IRIS)
    raise ApiError(404, {"error_message": f"no Iris endpoint {c.request.method} {path}"})


IRIS_ROUTES = [
    route(
        IRIS + "/payouts",
        POST,
        creator,
        lambda c: c.iris.create_payouts(c.body, c.header("X-Idempotency-Key")),
    ),
    route(IRIS + "/payouts/approve", POST, approver, lambda c: c.iris.approve(c.body)),
    route(IRIS + "/payouts/reject", POST, approver, lambda c: c.iris.reject(c.body)),
    route(IRIS + "/payouts/{ref:path}", GET, iris_key, lambda c: c.iris.payout(c.param("ref"))),
    route(
        IRIS + "/account_validation",
        GET,
        creator,
        lambda c: c.iris.validate(c.query("bank"), c.query("account")),
    ),
    route(IRIS + "/beneficiaries", GET, iris_key, lambda c: c.iris.beneficiaries()),
    route(IRIS + "/beneficiaries", POST, creator, lambda c: c.iris.save_beneficiary(c.body, None)),
    route(
        IRIS + "/beneficiaries/{alias:path}",
        PATCH,
        creator,
        lambda c: c.iris.save_beneficiary(c.body, c.param("alias")),
    ),
    route(IRIS + "/balance", GET, iris_key, lambda c: c.iris.balance()),
    route(IRIS + "/{rest:path}", SERVED_METHODS, iris_key, _no_iris_endpoint),
]

# -- Snap and the Core API ----------------------------------------------------------------------
RECEIPT_ROUTES = [
    route("/snap/v1/transactions", POST, snap_key, lambda c: c.receipts.snap(c.body)),
    route("/v2/charge", POST, core_key, lambda c: c.receipts.charge(c.body)),
    route("/v2/{id}/status", GET, core_key, lambda c: c.receipts.status(c.param("id"))),
    route(
        "/v2/{id}/refund", POST, core_key, lambda c: c.receipts.refund(c.param("id"), c.object())
    ),
]


# -- the daily files: the gateway's reports and the bank's statement -----------------------------
def _report(c: Call) -> Reply:
    """``/sim/reports/{payouts|settlements|rkud}/YYYY-MM-DD[.mt940|.csv]``: a day's file."""
    found = REPORT_FILE.fullmatch(c.param("name"))
    if c.param("kind") not in REPORT_KINDS or found is None:
        return _no_control_endpoint(c)
    try:
        day = date.fromisoformat(found.group(1))
    except ValueError:
        raise ApiError(400, {"error": f"not a date: {found.group(1)}"}) from None
    text = reports.report(c.gateway.state, c.param("kind"), day, found.group(2) or "csv")
    return Reply(200, None, text)


REPORT_ROUTES = [route("/sim/reports/{kind}/{name}", GET, None, _report)]


# -- the simulator's controls: the customer, the bank, faults -----------------------------------
def _bank_return(c: Call) -> Reply:
    try:
        c.iris.bank_return(c.param("ref"))
    except (KeyError, ValueError) as error:
        raise ApiError(409, {"error": str(error)}) from None
    return Reply(200, {"status": "returned"})


def _plan_faults(c: Call) -> Reply:
    """Plan faults for the next matching requests: ``{"method", "path" (a prefix), "kinds"}``."""
    body = c.object()
    kinds = body.get("kinds")
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ApiError(400, {"error": "kinds must be a list of fault names"})
    state = c.gateway.state
    with state.lock:
        try:
            state.faults.plan(str(body.get("method", "")), str(body.get("path", "/")), *kinds)
        except ValueError as error:
            raise ApiError(400, {"error": str(error)}) from None
        return Reply(200, {"planned": state.faults.pending})


def _no_control_endpoint(c: Call) -> Reply:
    if c.request.method != "POST":
        raise ApiError(405, {"error": "POST only"})
    raise ApiError(404, {"error": f"no simulator endpoint {raw_path(c.request.scope)}"})


CONTROL_ROUTES = [
    route(
        "/sim/pay/{id}",
        POST,
        None,
        lambda c: c.receipts.pay(c.param("id"), str(c.object().get("payment_type", ""))),
    ),
    route("/sim/expire/{id}", POST, None, lambda c: c.receipts.expire(c.param("id"))),
    route(
        "/sim/payouts/process",
        POST,
        None,
        lambda c: Reply(200, {"processed": c.iris.process_payouts()}),
    ),
    route("/sim/payouts/{ref}/return", POST, None, _bank_return),
    route("/sim/faults", POST, None, _plan_faults),
    route("/sim/{rest:path}", SERVED_METHODS, None, _no_control_endpoint),
]


# -- anything else ------------------------------------------------------------------------------
def _no_endpoint(c: Call) -> Reply:
    path = raw_path(c.request.scope)
    raise ApiError(404, {"status_code": "404", "status_message": f"no endpoint {path}"})


ROUTES: list[BaseRoute] = [
    *IRIS_ROUTES,
    *RECEIPT_ROUTES,
    *REPORT_ROUTES,
    *CONTROL_ROUTES,
    route("/{rest:path}", SERVED_METHODS, any_key, _no_endpoint),
]
