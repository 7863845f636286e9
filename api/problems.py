"""RFC 9457 problem documents (``application/problem+json``) for every refusal.

Every problem names the rule that was broken (``rule``): the ledger's ``DomainError.rule`` for domain
refusals, or one of the edge's own rules (``authentication_required``, ``tenant_scope``,
``role_not_permitted``, ``request_validation``, ...).
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger import errors

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 1

# Rule families -> HTTP status. Anything not named here is a 422 (the request cannot be applied).
_FORBIDDEN: frozenset[type[errors.DomainError]] = frozenset(
    {errors.RoleNotPermitted, errors.SeparationOfDuties, errors.SkpdScope}
)
_CONFLICT: frozenset[type[errors.DomainError]] = frozenset(
    {
        errors.InvalidTransition,
        errors.PaguExceeded,
        errors.SpdExceeded,
        errors.AmendmentBelowUsage,
        errors.LineBlocked,
        errors.YearClosed,
        errors.AlreadyExists,
        errors.BankAccountChanged,
        errors.ReturnedToSameAccount,
        errors.VendorNotPayable,
        errors.BudgetNotOpen,
        errors.ConcurrencyConflict,
        errors.SubscriptionLifecycle,
    }
)
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemModel(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:kasda:rule:separation_of_duties"])
    title: str = Field(examples=["Forbidden"])
    status: int = Field(examples=[403])
    detail: str = Field(
        examples=["SPP 001: pptk.ani already performed 'request' and may not also 'verify'"]
    )
    rule: str = Field(examples=["separation_of_duties"])
    instance: str | None = Field(default=None, examples=["/pemda/32.73/disbursements"])
    errors: list[dict[str, Any]] | None = None


class ProblemError(Exception):
    """A refusal decided at the HTTP edge (authentication, tenancy, role, input)."""

    def __init__(
        self,
        status: int,
        rule: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.rule = rule
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def status_for(error: errors.DomainError) -> int:
    kind = type(error)
    if kind in _FORBIDDEN:
        return 403
    if kind is errors.NotFound:
        return 404
    if kind in _CONFLICT:
        return 409
    return 422


def problem_response(
    request: Request,
    status: int,
    rule: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:kasda:rule:{rule}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "rule": rule,
        "instance": request.url.path,
    }
    body.update(extra or {})
    return JSONResponse(
        _encodable(jsonable_encoder(body)),
        status_code=status,
        headers=headers,
        media_type=MEDIA_TYPE,
    )


def _encodable(value: Any) -> Any:
    """``value`` with every lone surrogate replaced by U+FFFD: a refusal may quote the bad input
    (a key, a name) and must still encode as UTF-8, or the refusal itself would be a 500."""
    if isinstance(value, str):
        if value.isascii():
            return value
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    status = status_for(exc)
    headers = {}
    if isinstance(exc, errors.ConcurrencyConflict):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return problem_response(request, status, exc.rule, exc.message, headers=headers)


def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request, exc.status, exc.rule, exc.detail, headers=exc.headers, extra=exc.extra
    )


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in exc.errors()
    ]
    first = found[0] if found else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return problem_response(
        request,
        422,
        "request_validation",
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        extra={"errors": found},
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (e.g. not UTF-8): the same answer as bad JSON.
        return problem_response(
            request, 422, "request_validation", f"body: {exc.detail}", extra={"errors": []}
        )
    rule = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem_response(
        request, exc.status_code, rule, str(exc.detail), headers=dict(exc.headers or {})
    )


def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("event store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request,
        503,
        "store_unavailable",
        "the event store is unavailable; retry later with the same Idempotency-Key",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "internal_error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PersistenceError, _store_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given problem statuses (``app.openapi`` later files them
    under ``application/problem+json``)."""
    return {status: {"model": ProblemModel, "description": _TITLES[status]} for status in statuses}


def fix_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """File every 4xx/5xx response under ``application/problem+json`` with ``ProblemModel``
    (FastAPI documents them as ``application/json`` and its own 422 shape)."""
    ref = {"$ref": "#/components/schemas/ProblemModel"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {MEDIA_TYPE: {"schema": ref}}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
