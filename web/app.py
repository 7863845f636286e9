"""Mount the web app on the API's FastAPI application (``install``, called by
``api.app.create_app``): its static files, its pages, and error pages for its paths.

The API and the pages share one process, one ledger, one writer and one set of read models. What
tells them apart is the path: the API lives under ``api.edge.API_PREFIXES``; every other path is a page.
A page's errors are pages (in Indonesian, with the rule that refused); the API's stay
``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.edge import is_page
from api.problems import ProblemError
from ledger.errors import DomainError
from web.deps import PageRefused, SignInRequired
from web.messages import Refusal
from web.pages import ROUTERS
from web.render import page

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
RETRY_AFTER_SECONDS = 2
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PageRefused, _refused)
    # The API's handlers answer problem+json; on a page's path the answer is a page.
    for kind in (DomainError, ProblemError, RequestValidationError, StarletteHTTPException,
                 PersistenceError, Exception):  # fmt: skip
        api_handler = app.exception_handlers.get(kind)
        if api_handler is not None:
            app.add_exception_handler(kind, _for_pages(api_handler))


def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/masuk?next={quote(exc.next_path, safe='/')}", status_code=303)


def error_page(request: Request, refusal: Refusal) -> Response:
    titles = {403: "Tidak berwenang", 404: "Tidak ditemukan", 503: "Sedang tidak tersedia"}
    title = titles.get(refusal.status, "Permintaan ditolak" if refusal.status < 500 else "Galat")
    response = page(request, "error.html", {"title": title, "refusal": refusal},
                    status=refusal.status)  # fmt: skip
    if refusal.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return error_page(request, exc.refusal)


def _as_refusal(exc: Exception) -> Refusal:
    if isinstance(exc, DomainError | ProblemError):
        return Refusal.of(exc)
    if isinstance(exc, RequestValidationError):
        first: dict[str, Any] = next(iter(exc.errors()), {})
        where = ".".join(str(part) for part in first.get("loc", ()))
        return Refusal("invalid_input", f"{where}: {first.get('msg', 'isian tidak valid')}", 422)
    if isinstance(exc, StarletteHTTPException):
        rule = "not_found" if exc.status_code == 404 else "http_error"
        return Refusal(rule, str(exc.detail), exc.status_code)
    if isinstance(exc, PersistenceError):
        return Refusal("store_unavailable", "basis data tidak dapat dihubungi", 503)
    log.exception("unexpected error on a page", exc_info=exc)
    return Refusal("internal", "Terjadi galat di server; sudah dicatat. Coba lagi.", 500)


def _for_pages(api_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not is_page(request.url.path):
            answer = api_handler(request, exc)
            return await answer if isinstance(answer, Awaitable) else answer
        return error_page(request, _as_refusal(exc))

    return handle
