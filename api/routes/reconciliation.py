"""Reconciliation runs of the RKUD as ledger facts (``ledger/reconciliation.py``): record a run,
list the runs, read one with its exceptions and their resolution, resolve an exception.

BPKAD records runs; BPKAD or a Kuasa BUD resolves exceptions (``ledger.roles``); the auditor reads
everything and writes nothing. The list and one run with its exceptions come from the read models
(``proj_run``, ``proj_run_exception``), as fresh as ``latest`` by default.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Path, Query, Response

from api import auth
from api.auth import Principal
from api.deps import (
    After,
    IdempotencyKey,
    Limit,
    ListFreshness,
    Offset,
    ReadModelsDep,
    WriterDep,
    listed,
    read,
    run,
)
from api.models import (
    CommandOut,
    IsoDate,
    Page,
    ReconciliationExceptionOut,
    ReconciliationRunOut,
    ReconciliationRunSummaryOut,
    RecordReconciliationIn,
    ResolutionOut,
    ResolveExceptionIn,
)
from api.problems import responses
from api.routing import AreaRouter
from ledger import commands as c
from ledger import roles
from ledger.errors import NotFound
from ledger.fields import MAX_NUMBER
from ledger.roles import Role
from projections import queries as q
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/reconciliation",
    tags=["reconciliation"],
    responses=responses(401, 403, 404, 422),
)

RECORD = auth.Allow(*roles.RECONCILE)
RESOLVE = auth.Allow(*roles.RESOLVE_EXCEPTION)
READ = auth.Allow(*roles.RECONCILE, *roles.RESOLVE_EXCEPTION, Role.AUDITOR)
Recorder = Annotated[Principal, Depends(RECORD)]
Resolver = Annotated[Principal, Depends(RESOLVE)]
Reader = Annotated[Principal, Depends(READ)]
WRITE = responses(409)

RunId = Annotated[UUID, Path(description="the run's id, as recording it answered")]
ExceptionId = Annotated[str, Path(min_length=1, max_length=MAX_NUMBER)]
State = Annotated[
    Literal["open", "resolved"] | None,
    Query(description="only runs / exceptions that are still open, or fully resolved"),
]


@router.post(
    "/runs",
    status_code=201,
    summary="Record a reconciliation run: inputs' hashes, counts and every exception",
    openapi_extra=RECORD.doc,
    responses=WRITE,
)
async def record_run(
    body: RecordReconciliationIn,
    who: Recorder,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.RecordReconciliation(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        business_date=body.business_date,
        inputs=tuple(i.model_dump() for i in body.inputs),
        counts=dict(body.counts),
        exceptions=tuple(e.model_dump() for e in body.exceptions),
    )
    return await run(writer, command, response)


@router.post(
    "/runs/{run_id}/exceptions/{exception_id}/resolve",
    summary="Resolve one exception of a run, with a resolution and a reason",
    openapi_extra=RESOLVE.doc,
    responses=WRITE,
)
async def resolve_exception(
    run_id: RunId,
    exception_id: ExceptionId,
    body: ResolveExceptionIn,
    who: Resolver,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.ResolveReconciliationException(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        run_id=run_id,
        exception_id=exception_id,
        resolution=body.resolution,
        reason=body.reason,
    )
    return await run(writer, command, response)


def _run_summary(row: dict[str, Any]) -> ReconciliationRunSummaryOut:
    return ReconciliationRunSummaryOut(
        id=row["run_id"],
        business_date=row["business_date"],
        exceptions=row["exceptions"],
        open=row["exceptions"] - row["resolved"],
        resolved=row["resolved"],
        recorded_at=row["recorded_at"],
        recorded_by=row["recorded_by"],
    )


def _exception_out(row: dict[str, Any]) -> ReconciliationExceptionOut:
    resolved = row["resolution"] is not None
    return ReconciliationExceptionOut(
        id=row["exception_id"],
        status=row["status"],
        amount=row["amount"],
        reference=row["reference"],
        detail=row["detail"],
        resolved=resolved,
        resolution=ResolutionOut(
            resolution=row["resolution"], reason=row["reason"], by=row["resolved_by"]
        )
        if resolved
        else None,
    )


@router.get(
    "/runs", summary="The pemda's reconciliation runs, in recording order", openapi_extra=READ.doc
)
async def list_runs(
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    state: State = None,
    business_date_from: Annotated[IsoDate | None, Query(description="from this day")] = None,
    business_date_to: Annotated[IsoDate | None, Query(description="up to this day")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[ReconciliationRunSummaryOut]:
    def build(db: ReadDatabase) -> Page[ReconciliationRunSummaryOut]:
        rows = q.runs(
            db,
            who.pemda,
            state=state,
            business_date_from=business_date_from,
            business_date_to=business_date_to,
            limit=limit,
            offset=offset,
        )
        return listed(rows, limit, offset, _run_summary)

    return await read(models, build, response, freshness=freshness, after=after)


@router.get(
    "/runs/{run_id}",
    summary="One run with its exceptions and their resolution (paged)",
    openapi_extra=READ.doc,
)
async def get_run(
    run_id: RunId,
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    state: State = None,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> ReconciliationRunOut:
    def build(db: ReadDatabase) -> ReconciliationRunOut:
        found = q.run(db, who.pemda, str(run_id), state=state, limit=limit, offset=offset)
        if found is None:  # not a run, or another pemda's: the same answer
            raise NotFound(f"no reconciliation run {run_id} in pemda {who.pemda}")
        row = found.run
        return ReconciliationRunOut(
            **_run_summary(row).model_dump(),
            inputs=json.loads(row["inputs"]),
            counts=json.loads(row["counts"]),
            version=row["version"],
            items=listed(found.exceptions, limit, offset, _exception_out),
        )

    return await read(models, build, response, freshness=freshness, after=after)
