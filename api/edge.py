"""The outermost layer of every answer (``EdgeGuard``, an ASGI middleware around the whole app,
error pages included). In this order, before any route, model or dependency runs:

1. **Size.** A body declared larger than its route class allows (``Content-Length``) is a 413 at
   once, before a byte of it is read and before any token is checked.
2. **Authentication.** Every route under ``/pemda/`` needs a valid bearer token: without one the
   answer is 401, whatever else is wrong with the request (``api.auth.authenticate``). The
   principal is kept in the request's scope for the route guards (``api.auth.Allow``).
3. **Size, again, of a body sent without a length** (chunked): read up to the limit and no further
   (413 past it), then handed to the app.

And on the way out, **security headers** on every answer: ``X-Content-Type-Options: nosniff``, a
content security policy (nothing may be loaded by an API answer; the docs page loads only kasda's
own Swagger UI assets), ``Cache-Control: no-store`` (answers carry a tenant's data and errors;
only the versioned static assets of the docs may be cached), no framing, no referrer. The public
portal (``/publik``, no sign-in, no private data: ``web/pages/publik.py``) says itself how long a
page may be cached (``Cache-Control: public`` with an ETag); an answer of it that does not say so
(an error page) is ``no-store`` too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request

from api.auth import PRINCIPAL_KEY, authenticate
from api.problems import ProblemError, problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KiB = 1024
MiB = 1024 * KiB
# The largest legitimate bodies: an APBD of 20,000 lines (about 4 MiB) and a reconciliation run of
# 50,000 exceptions (about 10 MiB with typical details). Gateways' notifications are small.
MAX_API_BODY = 16 * MiB
MAX_WEBHOOK_BODY = 64 * KiB
MAX_OTHER_BODY = 0  # /healthz, /docs, /openapi.json take no body
# The web app's pages (``web/``): a form is a few KiB; a day's bank statement and gateway report
# uploaded for reconciliation are a few MiB for a large pemda.
MAX_FORM_BODY = 256 * KiB
MAX_UPLOAD_BODY = 64 * MiB

AUTHENTICATED_PREFIX = "/pemda/"
DOCS_ASSETS_PREFIX = "/docs/assets/"
# Every other path is a page of the web app (``web.app.is_page``).
API_PREFIXES = ("/pemda/", "/webhooks/", "/feed/", "/healthz", "/docs", "/openapi.json")
UPLOAD_PREFIX = "/rekonsiliasi/"
STATIC_PREFIX = "/static/"
PUBLIC_PAGES = "/publik"  # the transparency portal: its own Cache-Control (see above)

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI: its scripts and styles from kasda itself; it sets inline styles on elements, and
# draws the schema's images as data: URLs.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
# Pages: kasda's own scripts, styles and images only, no inline script or style; forms post to
# kasda only; no framing (clickjacking of an approval button).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def is_page(path: str) -> bool:
    """Whether ``path`` is the web app's (a page or its static files) rather than the API's."""
    return not path.startswith(API_PREFIXES)


def body_limit(path: str) -> int:
    """The largest body a route class accepts, in bytes."""
    if path.startswith(AUTHENTICATED_PREFIX):
        return MAX_API_BODY
    if path.startswith("/webhooks/"):
        return MAX_WEBHOOK_BODY
    if path.startswith(UPLOAD_PREFIX):
        return MAX_UPLOAD_BODY
    if is_page(path):
        return MAX_FORM_BODY
    return MAX_OTHER_BODY


def _headers(csp: str, cache: bytes) -> tuple[list[tuple[bytes, bytes]], frozenset[bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", cache),
    ]
    return headers, frozenset(name for name, _ in headers)


# Built once: every answer carries one of these (a list and its names per answer cost as much
# as the rest of the edge).
_NO_STORE = b"no-store"
_CACHED = b"public, max-age=86400"
_API, _DOCS, _PAGE = (_headers(csp, _NO_STORE) for csp in (API_CSP, DOCS_CSP, PAGE_CSP))
_DOCS_ASSETS, _STATIC = _headers(DOCS_CSP, _CACHED), _headers(PAGE_CSP, _CACHED)
# The portal's pages: the page's own Cache-Control is kept; without one, no-store is added.
_PUBLIC = (
    [(name, value) for name, value in _PAGE[0] if name != b"cache-control"],
    _PAGE[1] - {b"cache-control"},
)


def is_public(path: str) -> bool:
    """Whether ``path`` is the public portal's (``/publik`` and below)."""
    return path == PUBLIC_PAGES or path.startswith(PUBLIC_PAGES + "/")


def _security(path: str) -> tuple[list[tuple[bytes, bytes]], frozenset[bytes]]:
    if path.startswith(AUTHENTICATED_PREFIX):  # the API's answers: most of them
        return _API
    if is_public(path):
        return _PUBLIC
    if path.startswith(DOCS_ASSETS_PREFIX):
        return _DOCS_ASSETS
    if path == "/docs":
        return _DOCS
    if path.startswith(STATIC_PREFIX):
        return _STATIC
    return _PAGE if is_page(path) else _API


class _TooLarge(Exception):
    pass


class EdgeGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = _with_headers(send, *_security(path))
        limit = body_limit(path)
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, send, 413, "body_too_large", _too_large(limit))
            return
        if path.startswith(AUTHENTICATED_PREFIX):
            try:
                scope[PRINCIPAL_KEY] = await authenticate(scope["app"].state.verifier, headers)
            except ProblemError as error:
                await _refuse(scope, send, error.status, error.rule, error.detail, error.headers)
                return
        if declared is None and "chunked" in headers.get("transfer-encoding", "").lower():
            try:
                receive = await _buffered(receive, limit)
            except _TooLarge:
                await _refuse(scope, send, 413, "body_too_large", _too_large(limit))
                return
        await self.app(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"the body is larger than this route accepts ({limit} bytes)"


async def _buffered(receive: Receive, limit: int) -> Receive:
    """The whole body, read without ever holding more than ``limit`` bytes, replayed."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left: let the app hear it
            first = message
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    return replay


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]], names: frozenset[bytes]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            if b"cache-control" not in names and not any(
                k.lower() == b"cache-control" for k, _ in kept
            ):
                kept.append((b"cache-control", _NO_STORE))  # a public page that did not say
            message["headers"] = kept + extra
        await send(message)

    return sending


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    rule: str,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    response = problem_response(Request(scope), status, rule, detail, headers=headers)

    async def nothing() -> Message:  # the body is not read
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)
