"""Anggaran kas and SPD: BPKAD adopts and amends an SKPD's cash plan, the Kuasa BUD issues SPD
within it, and every official reads them (``ledger.cashplan``, ``projections.spd``).

An official of one SKPD reads its own SKPD's plan and SPD only (another's: 403 ``skpd_scope``).
Once a year runs on SPD, an SPP or SP2D beyond the SKPD's SPD for the month is refused with 409
``spending_within_spd`` (``api/routes/disbursements.py`` answers it like the pagu rule)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Response
from pydantic import BaseModel, Field, StrictInt

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
from api.models import SKPD, Body, Code, CommandOut, LineRefIn, Number, Page, Rupiah, RupiahOrZero
from api.problems import responses
from api.routes.budgets import line_ref
from api.routing import AreaRouter
from ledger import commands as c
from ledger.codes import normalise_skpd
from ledger.errors import NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from projections import spd as s
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/budgets/{year}",
    tags=["anggaran kas & SPD"],
    responses=responses(401, 403, 404, 422),
)

YearPath = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, examples=[2026])]
SkpdPath = Annotated[str, Path(max_length=40, examples=[SKPD], description="the SKPD's code")]
Admin = Annotated[Principal, Depends(auth.BUDGET_ADMIN)]
KuasaBud = Annotated[Principal, Depends(auth.AUTHORISE)]
Reader = Annotated[Principal, Depends(auth.READ_BOOKS)]
WRITE = responses(409)
Month = Annotated[StrictInt, Field(ge=1, le=12, examples=[1])]


# -- bodies and documents ------------------------------------------------------------------------
class LinePlanIn(Body):
    line: LineRefIn
    months: list[RupiahOrZero] = Field(
        min_length=4,
        max_length=12,
        description="12 monthly or 4 quarterly amounts (a quarter's in its first month) that add "
        "up to the line's pagu",
        examples=[[250_000_000, 250_000_000, 250_000_000, 250_000_000]],
    )


class CashPlanAmendIn(Body):
    """The decision and the lines whose plan it sets (the others keep theirs)."""

    document: Number = Field(examples=["PERKADA-AK-1-2026"])
    lines: list[LinePlanIn] = Field(min_length=1, max_length=500)


class CashPlanIn(CashPlanAmendIn):
    """An SKPD's anggaran kas: the decision and every spending line's plan."""

    skpd: Code = Field(examples=[SKPD])


class SpdIn(Body):
    """An SPD: its number, the months it releases money for, and how much."""

    spd_number: Number = Field(examples=["SPD/1.01/001/2026"])
    first_month: Month
    last_month: Month
    amount: Rupiah


class CashPlanSummaryOut(BaseModel):
    skpd: str
    planned: int = Field(description="the anggaran kas of the year (every line's pagu)")
    issued: int = Field(description="SPD issued")
    committed: int = Field(description="SPP not yet paid, charged to the SPD")
    realised: int = Field(description="SP2D paid")
    decisions: list[str]


class LinePlanOut(BaseModel):
    line_id: str
    sub_kegiatan: str | None
    rekening: str
    uraian: str
    pagu: int
    planned: int
    months: list[int]


class SpdOut(BaseModel):
    number: str
    skpd: str
    year: int
    first_month: int
    last_month: int
    amount: int
    actor_id: str = Field(description="who issued it")
    actor_role: str
    at: datetime


class MonthOut(BaseModel):
    month: int
    planned: int
    spd: int = Field(description="SPD whose period begins this month")
    realised: int
    planned_through: int
    spd_through: int
    available: int = Field(description="SPD begun by this month - committed - realised (now)")


class CashPlanOut(BaseModel):
    skpd: str
    year: int
    as_of: date | None
    decisions: list[str]
    planned: int
    issued: int
    committed: int
    realised: int
    lines: list[LinePlanOut]
    months: list[MonthOut]
    spd: list[SpdOut]


def _plans(lines: list[LinePlanIn]) -> tuple[c.LinePlan, ...]:
    return tuple(c.LinePlan(line=line_ref(p.line), months=tuple(p.months)) for p in lines)


# -- writes --------------------------------------------------------------------------------------
@router.post(
    "/cash-plans",
    status_code=201,
    summary="Adopt an SKPD's anggaran kas (from then on the year runs on SPD)",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def adopt_cash_plan(
    year: YearPath,
    body: CashPlanIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.AdoptCashPlan(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        skpd=body.skpd,
        document=body.document,
        lines=_plans(body.lines),
    )
    return await run(writer, command, response)


@router.post(
    "/cash-plans/{skpd}/amendments",
    summary="Amend an SKPD's anggaran kas (after an APBD-P or a pergeseran)",
    openapi_extra=auth.BUDGET_ADMIN.doc,
    responses=WRITE,
)
async def amend_cash_plan(
    year: YearPath,
    skpd: SkpdPath,
    body: CashPlanAmendIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.AmendCashPlan(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        skpd=skpd,
        document=body.document,
        lines=_plans(body.lines),
    )
    return await run(writer, command, response)


@router.post(
    "/cash-plans/{skpd}/spd",
    status_code=201,
    summary="Issue an SPD to an SKPD within its anggaran kas",
    openapi_extra=auth.AUTHORISE.doc,
    responses=WRITE,
)
async def issue_spd(
    year: YearPath,
    skpd: SkpdPath,
    body: SpdIn,
    who: KuasaBud,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.IssueSpd(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=year,
        skpd=skpd,
        spd_number=body.spd_number,
        first_month=body.first_month,
        last_month=body.last_month,
        amount=body.amount,
    )
    return await run(writer, command, response)


# -- reads ---------------------------------------------------------------------------------------
@router.get(
    "/cash-plans",
    summary="The SKPDs with an anggaran kas: plan, SPD issued, committed and realised",
    openapi_extra=auth.READ_BOOKS.doc,
)
async def list_cash_plans(
    year: YearPath,
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> list[CashPlanSummaryOut]:
    def build(db: ReadDatabase) -> list[CashPlanSummaryOut]:
        rows = s.cash_plans(db, who.pemda, year, skpd=who.skpd)
        return [CashPlanSummaryOut(**row) for row in rows]

    return await read(models, build, response, freshness=freshness, after=after)


@router.get(
    "/cash-plans/{skpd}",
    summary="An SKPD's anggaran kas by line and month, its SPD, and what is available per month",
    openapi_extra=auth.READ_BOOKS.doc,
)
async def get_cash_plan(
    year: YearPath,
    skpd: SkpdPath,
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    as_of: Annotated[
        date | None, Query(description="end of this day in the pemda's time zone; absent: now")
    ] = None,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> CashPlanOut:
    unit = normalise_skpd(skpd)  # a bad code: 422 before any read
    who.require_skpd(unit, "the anggaran kas asked for")

    def build(db: ReadDatabase) -> CashPlanOut | None:
        view = s.cash_plan(db, who.pemda, year, unit, as_of)
        return None if view is None else _plan_out(view, as_of)

    found = await read(models, build, response, freshness=freshness, after=after)
    if found is None:
        when = f" as of {as_of}" if as_of else ""
        raise NotFound(f"no anggaran kas {year} of SKPD {unit} in pemda {who.pemda}{when}")
    return found


def _plan_out(view: s.CashPlanView, as_of: date | None) -> CashPlanOut:
    return CashPlanOut(
        skpd=view.skpd,
        year=view.year,
        as_of=as_of,
        decisions=view.decisions,
        planned=view.planned,
        issued=view.issued,
        committed=view.committed,
        realised=view.realised,
        lines=[LinePlanOut(**line) for line in view.lines],
        months=[_month_out(m) for m in view.months],
        spd=[_spd_out(row) for row in view.spd],
    )


def _month_out(m: s.Month) -> MonthOut:
    return MonthOut(
        month=m.month,
        planned=m.planned,
        spd=m.spd,
        realised=m.realised,
        planned_through=m.planned_through,
        spd_through=m.spd_through,
        available=m.available,
    )


def _spd_out(row: dict[str, object]) -> SpdOut:
    return SpdOut.model_validate({k: row[k] for k in SpdOut.model_fields})


@router.get(
    "/spd",
    summary="The SPD register of the year, in the order issued",
    openapi_extra=auth.READ_BOOKS.doc,
)
async def list_spd(
    year: YearPath,
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    skpd: Annotated[str | None, Query(max_length=40, description="only this SKPD's SPD")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[SpdOut]:
    unit = None if skpd is None else normalise_skpd(skpd)

    def build(db: ReadDatabase) -> Page[SpdOut]:
        rows = s.spd_register(
            db, who.pemda, year, skpds=(who.skpd, unit), limit=limit, offset=offset
        )
        return listed(rows, limit, offset, _spd_out)

    return await read(models, build, response, freshness=freshness, after=after)
