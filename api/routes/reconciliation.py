"""Reconciliation runs of the RKUD as ledger facts (``ledger/reconciliation.py``): record a run,
list the runs, read one with its exceptions and their resolution, resolve an exception.

BPKAD records runs; BPKAD or a Kuasa BUD resolves exceptions (``ledger.roles``); the auditor reads
everything and writes nothing. The list comes from the catalog (a run's day, counts of exceptions
and of resolutions); one run is read from its aggregate, which holds every exception.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from api import auth
from api.auth import Principal
from api.deps import CatalogDep, IdempotencyKey, LedgerDep, Limit, Offset, WriterDep, page, run
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
from ledger import commands as c
from ledger import roles
from ledger.errors import NotFound
from ledger.fields import MAX_NUMBER
from ledger.reconciliation import ReconciliationRun
from ledger.roles import Role

router = APIRouter(
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


@router.get(
    "/runs", summary="The pemda's reconciliation runs, in recording order", openapi_extra=READ.doc
)
def list_runs(
    who: Reader,
    catalog: CatalogDep,
    state: State = None,
    business_date_from: Annotated[IsoDate | None, Query(description="from this day")] = None,
    business_date_to: Annotated[IsoDate | None, Query(description="up to this day")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ReconciliationRunSummaryOut]:
    rows = [
        ReconciliationRunSummaryOut(
            id=r.id,
            business_date=r.business_date,
            exceptions=r.exceptions,
            open=r.open,
            resolved=r.resolved,
            recorded_at=r.recorded_at,
            recorded_by=r.recorded_by,
        )
        for r in catalog.runs_of(who.pemda)
        if (state is None or (r.open > 0) == (state == "open"))
        # ISO dates compare as text.
        and (business_date_from is None or r.business_date >= business_date_from)
        and (business_date_to is None or r.business_date <= business_date_to)
    ]
    return page(rows, limit, offset)


@router.get(
    "/runs/{run_id}",
    summary="One run with its exceptions and their resolution (paged)",
    openapi_extra=READ.doc,
)
def get_run(
    run_id: RunId,
    who: Reader,
    ledger: LedgerDep,
    catalog: CatalogDep,
    state: State = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ReconciliationRunOut:
    row = catalog.run(who.pemda, run_id)
    if row is None:  # not a run, or another pemda's: the same answer
        raise NotFound(f"no reconciliation run {run_id} in pemda {who.pemda}")
    found = ledger.aggregate(run_id, ReconciliationRun)
    items = []
    for exception_id, e in found.exceptions.items():
        resolution = found.resolved.get(exception_id)
        if state is not None and (resolution is None) == (state == "resolved"):
            continue
        items.append(
            ReconciliationExceptionOut(
                id=exception_id,
                status=e["status"],
                amount=e["amount"],
                reference=e.get("reference"),
                detail=e.get("detail"),
                resolved=resolution is not None,
                resolution=ResolutionOut(**resolution) if resolution is not None else None,
            )
        )
    resolved = len(found.resolved)
    return ReconciliationRunOut(
        id=row.id,
        business_date=found.business_date,
        exceptions=len(found.exceptions),
        open=len(found.exceptions) - resolved,
        resolved=resolved,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        inputs=found.inputs,
        counts=found.counts,
        version=found.version,
        items=page(items, limit, offset),
    )
