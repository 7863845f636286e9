"""Dependencies shared by the routers: the ledger, the read models and how fresh a read is, the
Idempotency-Key, pagination, and running a command into its HTTP answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from api.auth import Allow, PemdaPath, Principal, bearer
from api.models import CommandOut, Page
from api.readmodels import POSITION_HEADER, ReadModels
from api.tenants import Tenant, request_tenant
from api.writer import BatchWriter
from ledger.application import Ledger
from ledger.commands import Command
from projections.db import ReadDatabase
from projections.queries import Listing

T = TypeVar("T")

MAX_LIMIT = 500
REPLAYED_HEADER = "Idempotent-Replayed"


async def get_ledger(request: Request) -> Ledger:
    # async: FastAPI would run a plain function in the thread pool, a thread hop per request.
    # The path's pemda's (api/tenants.py: one store for all, or one per pemda).
    return (await request_tenant(request)).ledger


async def get_read_models(request: Request) -> ReadModels:
    # async, as get_ledger: no thread hop to hand over an object.
    return (await request_tenant(request)).read_models


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ReadModelsDep = Annotated[ReadModels, Depends(get_read_models)]


@dataclass(frozen=True, slots=True)
class Served:
    """Who asks, and what serves the path's pemda (its ledger, writer and read models)."""

    who: Principal
    tenant: Tenant


class Serve:
    """Dependency of the busiest routes: ``allow``'s guard, then the tenant of the path's pemda,
    as one dependency instead of the guard plus ``LedgerDep``/``ReadModelsDep``/``WriterDep``.
    FastAPI solves each dependency with its own bookkeeping (about 30 µs of CPU each on a loaded
    2-core machine, ``benchmarks/bench_api.py``). The same checks in the same order: the guard's
    401/404/403 first, then the tenant's 404/503; the same parameters (so the same OpenAPI)."""

    def __init__(self, allow: Allow) -> None:
        self.allow = allow

    async def __call__(
        self,
        request: Request,
        pemda: PemdaPath,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Served:
        who = await self.allow(request, pemda, credentials)
        return Served(who, await request_tenant(request))


# How fresh a read is (api/readmodels.py). Reports answer ``recent`` by default: a report is a
# summary, and it names the position it reflects. Lists and single things answer ``latest`` by
# default: what a client wrote before it asked is in the answer, by whichever worker wrote it.
_FRESHNESS = (
    "recent: what the read models hold now, at most about 0.5 s behind, without waiting; "
    "latest: include everything recorded before this request (waits for the projection to "
    "reach the log's head; with `after` too, latest wins as the stronger). The answer names its "
    "position either way (header X-Kasda-Projection-Position). A wait that does not end within "
    "a few seconds answers 503 with Retry-After."
)
Freshness = Annotated[
    Literal["latest", "recent"], Query(description=f"default recent. {_FRESHNESS}")
]
ListFreshness = Annotated[
    Literal["latest", "recent"], Query(description=f"default latest. {_FRESHNESS}")
]
MAX_POSITION = 2**62
After = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="read-your-writes: include at least everything up to this position of the "
        "event log (the `position` a write returned, or a report's), waiting for the projection "
        "if it is not there yet. A position beyond the log's head is a 422 "
        "(`position_not_recorded`).",
        examples=[48213],
    ),
]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="Required on every POST. The same key and body returns the first response; "
        "the same key with another body is a 422 (idempotency_key_reused_with_other_command).",
        examples=["4f9c1e52-7b7e-4d5c-9a55-2f0b6f2f7a11"],
    ),
]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size, 1..{MAX_LIMIT}")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="items to skip")]


def page(items: list[T], limit: int, offset: int) -> Page[T]:
    """A page of a list held in memory."""
    return _page_of(items[offset : offset + limit], len(items), limit, offset)


def listed(rows: Listing, limit: int, offset: int, out: Callable[[dict[str, Any]], T]) -> Page[T]:
    """A page the read models gave (``projections.queries``), each row made into ``out``."""
    return _page_of([out(row) for row in rows.rows], rows.total, limit, offset)


def _page_of(items: list[T], total: int, limit: int, offset: int) -> Page[T]:
    following = offset + len(items)
    return Page[T](
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=following if following < total else None,
    )


async def read(
    models: ReadModels,
    query: Callable[[ReadDatabase], T],
    response: Response,
    *,
    freshness: str = "latest",
    after: int | None = None,
) -> T:
    """``query``'s answer from the read models, as fresh as asked; the position it reflects is
    in the header ``X-Kasda-Projection-Position``. Build the response models inside ``query``:
    it runs in a worker thread, off the event loop."""
    answer, position = await models.read(query, latest=freshness == "latest", after=after)
    response.headers[POSITION_HEADER] = str(position)
    return answer


async def _writer(request: Request) -> BatchWriter:
    return (await request_tenant(request)).writer


WriterDep = Annotated[BatchWriter, Depends(_writer)]


async def run(writer: BatchWriter, command: Command, response: Response) -> CommandOut:
    """Execute ``command`` (group-committed with others waiting). The body is built only from what
    the receipt holds (command name, key, result), so a retry answers exactly as the first call
    did, but for ``position`` (the log's head after this call's batch, at or after the first call's
    events); it only adds a header."""
    written = await writer.execute(command)
    result = written.result
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return CommandOut(
        command=result.command,
        idempotency_key=result.idempotency_key,
        id=result.id,
        result=result.data,
        position=written.position,
    )
