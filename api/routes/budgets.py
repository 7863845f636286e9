"""The APBD: adoption, APBD-P, pergeseran, blokir, and reading the budget and its lines.

The APBD itself (the Perda: documents and total) is read by every official; its lines are an SKPD's
DPA, so an official of one SKPD reads its own SKPD's lines only (another's by id: 403
``skpd_scope``). The lines come from the read models (``proj_lra_line``), as fresh as ``latest`` by
default; the APBD and its state at a past moment from its events."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Response

from api import auth
from api.auth import Principal
from api.deps import (
    After,
    IdempotencyKey,
    LedgerDep,
    Limit,
    ListFreshness,
    Offset,
    ReadModelsDep,
    WriterDep,
    listed,
    page,
    read,
    run,
)
from api.models import (
    AdoptIn,
    AmendmentIn,
    BudgetAsOfOut,
    BudgetOut,
    CommandOut,
    LineOut,
    LineReasonIn,
    LineRefIn,
    LineSpecIn,
    Page,
    ShiftIn,
)
from api.problems import responses
from api.routing import AreaRouter
from ledger import commands as c
from ledger import history as ledger_history
from ledger import ids
from ledger.budget import Budget, BudgetLine
from ledger.disbursement import Disbursement, Status
from ledger.errors import NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from projections import queries as q
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/budgets", tags=["budgets"], responses=responses(401, 403, 404, 422)
)

YearPath = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, examples=[2026])]
Admin = Annotated[Principal, Depends(auth.BUDGET_ADMIN)]
Reader = Annotated[Principal, Depends(auth.READ_BOOKS)]
WRITE = responses(409)


def _spec(line: LineSpecIn) -> c.LineSpec:
    return c.LineSpec(
        skpd=line.skpd,
        sub_kegiatan=line.sub_kegiatan,
        rekening=line.rekening,
        uraian=line.uraian,
        pagu=line.pagu,
    )


def line_ref(line: LineRefIn) -> c.LineRef:
    return c.LineRef(skpd=line.skpd, sub_kegiatan=line.sub_kegiatan, rekening=line.rekening)


@router.post(
    "",
    status_code=201,
    summary="Adopt the APBD of a fiscal year",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def adopt_budget(
    body: AdoptIn, who: Admin, key: IdempotencyKey, writer: WriterDep, response: Response
) -> CommandOut:
    command = c.AdoptBudget(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=body.year,
        document=body.document,
        lines=tuple(_spec(line) for line in body.lines),
    )
    return await run(writer, command, response)


@router.post(
    "/{year}/amendments",
    summary="APBD-P: set the pagu of lines and add new ones",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def amend_budget(
    year: YearPath,
    body: AmendmentIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.AmendBudget(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        document=body.document,
        lines=tuple(_spec(line) for line in body.lines),
    )
    return await run(writer, command, response)


@router.post(
    "/{year}/shifts",
    summary="Pergeseran: move pagu from one line to another",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def shift_budget(
    year: YearPath,
    body: ShiftIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.ShiftBudget(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        document=body.document,
        from_line=line_ref(body.from_line),
        to_line=line_ref(body.to_line),
        amount=body.amount,
    )
    return await run(writer, command, response)


@router.post(
    "/{year}/blocks",
    summary="Blokir: block a line (no new commitment, no SP2D)",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def block_line(
    year: YearPath,
    body: LineReasonIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.BlockLine(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        line=line_ref(body.line),
        reason=body.reason,
    )
    return await run(writer, command, response)


@router.post(
    "/{year}/unblocks",
    summary="Lift the blokir of a line",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def unblock_line(
    year: YearPath,
    body: LineReasonIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.UnblockLine(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        line=line_ref(body.line),
        reason=body.reason,
    )
    return await run(writer, command, response)


@router.get(
    "/{year}",
    summary="The APBD of a fiscal year: documents and totals",
    openapi_extra=auth.READ_BOOKS.doc,
)
def get_budget(year: YearPath, who: Reader, ledger: LedgerDep) -> BudgetOut:
    budget = ledger.budget(who.pemda, year)
    return BudgetOut(
        id=budget.id,
        pemda=budget.pemda,
        year=budget.year,
        documents=list(budget.documents),
        lines=len(budget.line_ids),
        total_pagu=budget.total_pagu,
        amendments=budget.amendments,
        shifts=budget.shifts,
    )


def line_out(line: BudgetLine) -> LineOut:
    return LineOut(
        id=line.id,
        skpd=line.skpd,
        sub_kegiatan=line.sub_kegiatan,
        rekening=line.rekening,
        uraian=line.uraian,
        pagu=line.pagu,
        committed=line.committed,
        realised=line.realised,
        available=line.available,
        blocked=line.blocked,
    )


def _line_row_out(row: dict[str, Any]) -> LineOut:
    return LineOut(
        id=row["line_id"],
        skpd=row["skpd"],
        sub_kegiatan=row["sub_kegiatan"],
        rekening=row["rekening"],
        uraian=row["uraian"],
        pagu=row["pagu"],
        committed=row["committed"],
        realised=row["realised"],
        available=row["pagu"] - row["committed"] - row["realised"],
        blocked=bool(row["blocked"]),
    )


@router.get(
    "/{year}/lines",
    summary="The lines of the APBD, with pagu, committed, realised and available",
    openapi_extra=auth.READ_BOOKS.doc,
)
async def list_lines(
    year: YearPath,
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
    skpd: Annotated[str | None, Query(max_length=64, description="exact SKPD code")] = None,
    rekening: Annotated[
        str | None, Query(max_length=64, description="kode rekening prefix, e.g. 5.1.02")
    ] = None,
    blocked: Annotated[bool | None, Query(description="only blocked / unblocked lines")] = None,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[LineOut]:
    def build(db: ReadDatabase) -> Page[LineOut]:
        rows = q.budget_lines(
            db,
            who.pemda,
            year,
            skpds=(who.skpd, skpd),  # an SKPD's official: its own SKPD's lines only
            rekening=rekening,
            blocked=blocked,
            limit=limit,
            offset=offset,
        )
        return listed(rows, limit, offset, _line_row_out)

    return await read(models, build, response, freshness=freshness, after=after)


@router.get("/{year}/lines/{line_id}", summary="One budget line", openapi_extra=auth.READ_BOOKS.doc)
async def get_line(
    year: YearPath,
    line_id: UUID,
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> LineOut:
    found = await read(
        models,
        lambda db: q.budget_line(db, who.pemda, str(line_id)),
        response,
        freshness=freshness,
        after=after,
    )
    if found is None or found["year"] != year:
        raise NotFound(f"no budget line {line_id} in APBD {year} of pemda {who.pemda}")
    who.require_skpd(found["skpd"], f"budget line {line_id}")
    return _line_row_out(found)


@router.get(
    "/{year}/as-of",
    summary="Time travel: the APBD and its lines as they stood at a moment or event position",
    openapi_extra=auth.READ_BOOKS.doc,
)
def get_budget_as_of(
    year: YearPath,
    who: Reader,
    ledger: LedgerDep,
    at: Annotated[
        datetime | None,
        Query(description="a moment with its zone, e.g. 2026-06-30T23:59:59+07:00"),
    ] = None,
    position: Annotated[
        int | None, Query(ge=0, le=2**62, description="a notification id of the event store")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> BudgetAsOfOut:
    """Replays the store up to then (as ``kasda replay`` does): seconds on a large store."""
    # ledger.history.budget_as_of, with lines looked up by .get: a position between Budget.Adopted
    # and its lines' Allocated events (one transaction) must not fail (it raises KeyError there).
    state = ledger_history.replay(ledger, as_of=at, position=position)
    budget = state.get(ids.budget_id(who.pemda, year))
    if not isinstance(budget, Budget):
        raise NotFound(f"APBD {year} of pemda {who.pemda} was not adopted as of {at or position}")
    lines = [
        line
        for line in (state.get(UUID(i)) for i in budget.line_ids)
        if isinstance(line, BudgetLine) and who.sees(line.skpd)
    ]
    visible = {str(line.id) for line in lines}  # a payment's SKPD is its line's
    statuses = Counter(
        str(Status(a.status))
        for a in state.values()
        if isinstance(a, Disbursement)
        and a.pemda == who.pemda
        and a.year == year
        and a.line_id in visible
    )
    return BudgetAsOfOut(
        as_of=at,
        position=position,
        budget=BudgetOut(
            id=budget.id,
            pemda=budget.pemda,
            year=budget.year,
            documents=list(budget.documents),
            lines=len(budget.line_ids),
            total_pagu=budget.total_pagu,
            amendments=budget.amendments,
            shifts=budget.shifts,
        ),
        disbursements_by_status=dict(sorted(statuses.items())),
        lines=page([line_out(line) for line in lines], limit, offset),
    )
