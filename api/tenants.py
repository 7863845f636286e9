"""Which store serves a request's pemda: the one place the API and the web pages route a pemda.

``tenancy`` shared (the default; every single-pemda deployment and the demo): one ``Ledger``, one
``BatchWriter`` and one ``ReadModels`` serve every pemda, as kasda always did, and the route guard
(``api.auth.Allow``) keeps each token to its own pemda.

``tenancy`` schema: each pemda has a store of its own beside ``database_url``
(``ledger.store.tenant_url``: a PostgreSQL schema, or a SQLite file), so its own hash chain, and on
PostgreSQL its own events table, table lock and notification sequence: pemda writing at once no
longer wait on each other. A pemda's ``Tenant`` is opened on its first request (in a worker thread,
one opening at a time), then kept, with its projector thread, until shutdown. A pemda whose store
was never made (``kasda tenant-add --pemda``) is not served: 404, the answer a token of another
pemda gets, so that no request makes a store. At most ``limit`` pemda are open in a process: each
holds a pool of connections (``POSTGRES_POOL_SIZE``) and the read models' own, and
``limit`` x that, x the worker processes, must fit the server's ``max_connections``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread
from starlette.requests import Request

from api.auth import PRINCIPAL_KEY, Principal
from api.problems import ProblemError
from api.readmodels import ReadModels
from api.settings import SHARED, ApiSettings
from api.writer import BatchWriter
from ledger.application import Ledger
from ledger.store import store_exists, tenant_url

# The most pemda one process keeps open (a province has at most 39 pemda, kabupaten/kota and
# itself). Past it, a new pemda's request is a 503: serve the rest from another process.
MAX_TENANTS = 64
OPEN_WAIT = 30.0  # seconds a request waits for another pemda's store to finish opening
# A pemda found not served is answered from memory for this long: the gateway paths
# (``/webhooks/{pemda}/...``) take no sign-in, and a stream of requests naming pemda that are not
# served must not each take the opening lock and a round trip to the database.
ABSENT_FOR = 30.0  # seconds
MAX_ABSENT = 1_024  # pemda remembered as not served (the Kemendagri codes are ~550)


@dataclass(frozen=True, slots=True)
class Tenant:
    """What serves one pemda (or, shared, every pemda): its store and what writes and reads it."""

    ledger: Ledger
    writer: BatchWriter
    read_models: ReadModels

    @classmethod
    def over(cls, ledger: Ledger, timezone: str) -> Tenant:
        # The read models live in the same store as the events (projections/db.py) and carry
        # their position: nothing is replayed here, the projector thread catches up.
        models = ReadModels(ledger, timezone=timezone)
        # A read after a position this process's writes returned need not ask the log's head.
        return cls(ledger, BatchWriter(ledger, recorded=models.recorded), models)

    def close(self) -> None:
        self.read_models.close()
        self.ledger.close()


def not_served(pemda: str) -> ProblemError:
    # The same answer as a token of another pemda (api.auth.Allow): whether a pemda is served
    # here is not told to those who may not use it.
    return ProblemError(404, "tenant_scope", f"no pemda {pemda} for this user")


class Tenants:
    """The pemda this process serves (see the module's description)."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        shared: Tenant | None = None,
        limit: int = MAX_TENANTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert limit >= 1, limit
        self.settings = settings
        # Shared tenancy: the one tenant of every pemda (set at start-up, or given by a test).
        self.shared = shared
        self.limit = limit
        self.per_pemda = settings.tenancy != SHARED
        self._open: dict[str, Tenant] = {}
        self._absent: dict[str, float] = {}  # pemda not served -> until when that is trusted
        self._clock = clock
        self._lock = threading.Lock()  # held while a store opens
        self._closed = False

    def opened(self) -> dict[str, Tenant]:
        """The pemda open now (schema tenancy), by code."""
        return dict(self._open)

    async def of(self, pemda: str) -> Tenant:
        """The tenant of ``pemda``, opened in a worker thread on its first request."""
        found = self.shared if not self.per_pemda else self._open.get(pemda)
        if found is not None:
            return found
        if not self.per_pemda:
            raise ProblemError(503, "starting", "kasda is starting", headers={"Retry-After": "1"})
        if self._absent.get(pemda, 0.0) > self._clock():
            raise not_served(pemda)
        return await to_thread.run_sync(self.open, pemda)

    def open(self, pemda: str) -> Tenant:
        """The tenant of ``pemda``, its store opened now if it is not yet (blocking)."""
        if not self._lock.acquire(timeout=OPEN_WAIT):
            raise ProblemError(503, "tenant_opening", "pemda stores are opening; retry",
                               headers={"Retry-After": "5"})  # fmt: skip
        try:
            found = self._open.get(pemda)
            if found is not None:
                return found
            if self._closed:
                raise ProblemError(503, "stopping", "kasda is stopping")
            if len(self._open) >= self.limit:
                raise ProblemError(503, "too_many_pemda",
                                   f"this process serves {self.limit} pemda already")  # fmt: skip
            tenant = self._made(pemda)
            self._open[pemda] = tenant
            return tenant
        finally:
            self._lock.release()

    def _made(self, pemda: str) -> Tenant:
        url = tenant_url(self.settings.database_url, pemda)
        if not store_exists(url):
            if len(self._absent) >= MAX_ABSENT:
                self._absent.clear()
            # Until then a request for it is answered without the lock (``kasda tenant-add``
            # takes effect here at most ABSENT_FOR later).
            self._absent[pemda] = self._clock() + ABSENT_FOR
            raise not_served(pemda)
        tenant = Tenant.over(Ledger(url, env=self.settings.ledger_env or None),
                             self.settings.timezone)  # fmt: skip
        tenant.read_models.start()
        return tenant

    def start(self) -> None:
        if self.shared is not None:
            self.shared.read_models.start()

    def stop(self) -> None:
        """Stop the shared tenant's projector thread (a tenant given by a test stays open)."""
        if self.shared is not None:
            self.shared.read_models.stop()

    def close(self) -> None:
        """Close every store opened here: the shared one, every pemda's."""
        # An opening in progress ends first (its waits are bounded by the store's timeouts).
        locked = self._lock.acquire(timeout=OPEN_WAIT)
        try:
            self._closed = True
            opened = list(self._open.values())
            self._open.clear()
        finally:
            if locked:
                self._lock.release()
        if self.shared is not None:
            opened.append(self.shared)
        for tenant in opened:
            tenant.close()


async def tenant_of(request: Request, pemda: str | None) -> Tenant:
    """The tenant that serves ``pemda`` for ``request``: the API's path pemda, a page's session
    pemda. A principal of another pemda gets 404 before any store is looked at."""
    tenants: Tenants = request.app.state.tenants
    if tenants.per_pemda:
        who = request.scope.get(PRINCIPAL_KEY)
        if pemda is None or (isinstance(who, Principal) and who.pemda != pemda):
            raise not_served(str(pemda))
    return await tenants.of(str(pemda))


async def request_tenant(request: Request) -> Tenant:
    """The tenant of an API request: the pemda of its path (``/pemda/{pemda}/...``)."""
    return await tenant_of(request, request.path_params.get("pemda"))
