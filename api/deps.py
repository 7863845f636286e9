"""Dependencies shared by the routers: the ledger, the catalog, the Idempotency-Key, pagination,
and running a command into its HTTP answer."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Header, Query, Request, Response

from api.catalog import Catalog
from api.models import CommandOut, Page
from api.writer import BatchWriter
from ledger.application import Ledger
from ledger.commands import Command

T = TypeVar("T")

MAX_LIMIT = 500
REPLAYED_HEADER = "Idempotent-Replayed"


async def get_ledger(request: Request) -> Ledger:
    # async: FastAPI would run a plain function in the thread pool, a thread hop per request.
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    catalog.catch_up()
    return catalog


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]

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
    chosen = items[offset : offset + limit]
    after = offset + len(chosen)
    return Page[T](
        items=chosen,
        total=len(items),
        limit=limit,
        offset=offset,
        next_offset=after if after < len(items) else None,
    )


def get_writer(request: Request) -> BatchWriter:
    writer: BatchWriter = request.app.state.writer
    return writer


async def _writer(request: Request) -> BatchWriter:
    return get_writer(request)


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
