"""The kasda HTTP API: one FastAPI application per process.

``create_app(settings)`` builds it; ``app.state.tenants`` (``api/tenants.py``) says which store
serves a request's pemda. With one store for all (the default) the ``Ledger`` is opened once at
start-up (lifespan) and kept on ``app.state.ledger``, with the read models that serve every list,
report and ownership check (``app.state.read_models``, kept current by a projector thread;
start-up reads no event); with a store per pemda, a pemda's are opened on its first request. The
token verifier (``app.state.verifier``) and the gateway settings (``app.state.gateway_settings``) that
the webhooks router reads. ``kasda serve`` runs ``kasda.serve:create_app_from_env`` under uvicorn.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from api import docs, problems, threads
from api.auth import TokenVerifier
from api.edge import EdgeGuard
from api.routes import DIRECT_READS, ROUTERS, feed
from api.routing import DirectReads
from api.settings import SHARED, ApiSettings
from api.tenants import Tenant, Tenants
from feed.dispatcher import Dispatcher
from ledger.application import Ledger
from web import app as web_app

DESCRIPTION = """
kasda: the cashless payment and e-budgeting ledger of a pemda.

* **Authentication**: `Authorization: Bearer <JWT>` with claims `sub`, `role`, `pemda` (and `npwp`
  for vendors). Each route names the roles that may call it in `x-kasda-roles`.
* **Tenants**: every route is under `/pemda/{pemda}`; another pemda's routes answer 404.
* **Idempotency**: every POST needs an `Idempotency-Key` header. The same key and body returns the
  first response (with `Idempotent-Replayed: true`); the same key with another body is a 422.
* **Errors**: RFC 9457 `application/problem+json` with the broken `rule`.
"""


def _webhooks_router() -> APIRouter | None:
    """The gateway webhooks (``api/webhooks.py``, written separately), if present."""
    try:
        module = importlib.import_module("api.webhooks")
    except ModuleNotFoundError as error:
        if error.name != "api.webhooks":
            raise
        return None
    router = getattr(module, "router", None)
    return router if isinstance(router, APIRouter) else None


def create_app(settings: ApiSettings, *, ledger: Ledger | None = None) -> FastAPI:
    """The application. ``ledger`` (tests) is used instead of opening ``settings.database_url``;
    the caller then closes it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Fewer threads than anyio's 40: routes are short and CPU-bound between two queries, and
        # a crowd of threads starves the event loop (and the requests waiting in it) of the GIL.
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        threads.configure(settings.threads)  # the busiest routes' hop (api/threads.py)
        tenants: Tenants = app.state.tenants
        if ledger is not None:  # given by the caller, who closes it
            # Reads catch up on demand even without the follower, so the app keeps answering
            # (e.g. to schemathesis over ASGI) after this lifespan ends.
            tenants.start()
            try:
                yield
            finally:
                tenants.stop()
            return
        if settings.tenancy == SHARED:
            _attach(app, Ledger(settings.database_url, env=settings.ledger_env or None))
        tenants.start()  # with a store per pemda, each opens on its first request
        dispatcher = _dispatcher(app)
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()
            tenants.close()

    app = FastAPI(
        title="kasda",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI from kasda itself (api/docs.py); FastAPI's pages would load it from a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)
    app.state.gateway_settings = settings.gateway_settings
    app.state.tenants = Tenants(settings)  # which store serves which pemda (api/tenants.py)
    if ledger is not None:
        _attach(app, ledger)
    problems.install(app)

    @app.get("/healthz", tags=["session"], summary="Liveness (no authentication)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    # The busiest reads, when plainly asked, without FastAPI's routing and dependencies.
    app.router.routes.insert(0, DirectReads(DIRECT_READS))
    app.include_router(feed.pull_router)  # the subscribers' own route, outside /pemda/
    webhooks = _webhooks_router()
    if webhooks is not None:
        app.include_router(webhooks)
    app.include_router(docs.router)
    web_app.install(app)  # the pages (``web/``), on the same ledger, writer and read models
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    _guard(app)
    return app


def _guard(app: FastAPI) -> None:
    """``EdgeGuard`` around the whole middleware stack, error pages included (``add_middleware``
    would put it inside Starlette's handler of unexpected errors)."""
    build = app.build_middleware_stack

    def guarded() -> Any:
        return EdgeGuard(build())

    app.build_middleware_stack = guarded  # type: ignore[method-assign]


def _dispatcher(app: FastAPI) -> Dispatcher | None:
    """The event feed's dispatcher (``feed/dispatcher.py``), started when the settings ask for it
    and one store serves every pemda (with a store per pemda, ``kasda feed-dispatch --pemda``
    serves each); the projector thread keeps the feed it reads current. An in-memory store has no
    second connection to hold the delivery state on: no dispatcher."""
    settings: ApiSettings = app.state.settings
    ledger: Ledger | None = getattr(app.state, "ledger", None)
    if not settings.events.dispatch or ledger is None:
        return None
    if ledger.env.get("PERSISTENCE_MODULE", "").endswith("popo"):
        return None
    dispatcher = Dispatcher(ledger, settings.events)
    dispatcher.start()
    return dispatcher


def _attach(app: FastAPI, ledger: Ledger) -> None:
    """The one store of shared tenancy; also on ``app.state`` for the gateway webhooks."""
    shared = Tenant.over(ledger, app.state.settings.timezone)
    app.state.tenants.shared = shared
    app.state.ledger = shared.ledger
    app.state.writer = shared.writer
    app.state.read_models = shared.read_models


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = problems.fix_openapi(schema)
        return app.openapi_schema

    return build
