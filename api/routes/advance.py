"""The bendahara's advance (uang persediaan): BPKAD sets an SKPD's UP and registers its KKPD; the
bendahara records SPJ, pays card bills, returns cash and asks SPP-UP/GU/TU/GU nihil; the same PPK,
PA/KPA and Kuasa BUD as for LS verify, approve and authorise; the bank's confirmation settles.

Thin as ``disbursements``: each write is one ledger command (which checks roles, separation of
duties and every rule); each read one query of the read models (``projections.advance_queries``).
An official of one SKPD sees and acts on its own SKPD's advance only (403 ``skpd_scope``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Response

from api import auth
from api.advance_models import (
    AdvanceOrderOut,
    AdvanceOut,
    CardOut,
    PayCardBillIn,
    RecordSpjIn,
    RegisterCardIn,
    RegisterRowOut,
    RequestAdvanceIn,
    ReturnIn,
    SetAdvanceIn,
    SpjOut,
    TuOut,
    WithdrawSpjIn,
    pick,
)
from api.auth import Principal
from api.deps import (
    After,
    IdempotencyKey,
    Limit,
    ListFreshness,
    Offset,
    ReadModelsDep,
    WriterDep,
    read,
    run,
)
from api.models import ApproveIn, AuthoriseIn, CommandOut, ReasonIn, SettlementIn
from api.problems import responses
from api.routes.budgets import line_ref
from api.routing import AreaRouter
from ledger import commands as c
from ledger import roles
from ledger.codes import normalise_skpd
from ledger.errors import NotFound
from ledger.fields import fiscal_year
from projections import advance_queries as aq
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/advances", tags=["advances"], responses=responses(401, 403, 404, 422)
)

KEEP_ADVANCE = auth.Allow(*roles.KEEP_ADVANCE)
Reader = Annotated[Principal, Depends(auth.READ_BOOKS)]
Keeper = Annotated[Principal, Depends(KEEP_ADVANCE)]
WRITE = responses(409)
YearPath = Annotated[int, Path(ge=2000, le=2100, description="fiscal year")]
SkpdPath = Annotated[str, Path(max_length=64, description="SKPD code")]


def _scoped(who: Principal, year: int, skpd: str) -> tuple[int, str]:
    """The year and SKPD named, in normal form; 403 for another SKPD's official."""
    year, code = fiscal_year(year), normalise_skpd(skpd)
    who.require_skpd(code, "this advance")  # whose it is, is not said
    return year, code


def _base(who: Principal, key: str, year: int, skpd: str) -> dict[str, Any]:
    return {"idempotency_key": key, "actor": who.actor, "pemda": who.pemda, "year": year,
            "skpd": skpd}  # fmt: skip


# -- writes: BPKAD ---------------------------------------------------------------------------------
@router.post("", status_code=201, summary="Set an SKPD's UP (BPKAD)", responses=WRITE,
             openapi_extra=auth.BUDGET_ADMIN.doc)  # fmt: skip
async def set_advance(
    body: SetAdvanceIn,
    who: Annotated[Principal, Depends(auth.BUDGET_ADMIN)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.SetAdvance(
        **_base(who, key, body.year, body.skpd), **body.model_dump(exclude={"year", "skpd"})
    )
    return await run(writer, command, response)


@router.post("/{year}/{skpd}/cards", status_code=201, summary="Register a KKPD (BPKAD)",
             responses=WRITE, openapi_extra=auth.BUDGET_ADMIN.doc)  # fmt: skip
async def register_card(
    year: YearPath,
    skpd: SkpdPath,
    body: RegisterCardIn,
    who: Annotated[Principal, Depends(auth.BUDGET_ADMIN)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.RegisterCard(**_base(who, key, year, skpd), **body.model_dump())
    return await run(writer, command, response)


# -- writes: the bendahara -------------------------------------------------------------------------
@router.post("/{year}/{skpd}/spj", status_code=201, summary="Record an SPJ entry (cash or KKPD)",
             responses=WRITE, openapi_extra=KEEP_ADVANCE.doc)  # fmt: skip
async def record_spj(
    year: YearPath, skpd: SkpdPath, body: RecordSpjIn, who: Keeper, key: IdempotencyKey,
    writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    fields = body.model_dump(exclude={"line", "evidence"})
    command = c.RecordSpj(**_base(who, key, year, skpd), line=line_ref(body.line),
                          evidence=dict(body.evidence), **fields)  # fmt: skip
    return await run(writer, command, response)


@router.post("/{year}/{skpd}/spj/withdraw", summary="Withdraw an SPJ entry not yet claimed",
             responses=WRITE, openapi_extra=KEEP_ADVANCE.doc)  # fmt: skip
async def withdraw_spj(
    year: YearPath, skpd: SkpdPath, body: WithdrawSpjIn, who: Keeper, key: IdempotencyKey,
    writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = c.WithdrawSpj(**_base(who, key, year, skpd), **body.model_dump())
    return await run(writer, command, response)


@router.post("/{year}/{skpd}/card-bills", status_code=201,
             summary="Pay a KKPD bill from the UP cash", responses=WRITE,
             openapi_extra=KEEP_ADVANCE.doc)  # fmt: skip
async def pay_card_bill(
    year: YearPath, skpd: SkpdPath, body: PayCardBillIn, who: Keeper, key: IdempotencyKey,
    writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = c.PayCardBill(**_base(who, key, year, skpd), **body.model_dump())
    return await run(writer, command, response)


@router.post("/{year}/{skpd}/returns", status_code=201,
             summary="Setoran sisa UP/TU into the RKUD", responses=WRITE,
             openapi_extra=KEEP_ADVANCE.doc)  # fmt: skip
async def return_advance(
    year: YearPath, skpd: SkpdPath, body: ReturnIn, who: Keeper, key: IdempotencyKey,
    writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = c.ReturnAdvance(**_base(who, key, year, skpd), **body.model_dump())
    return await run(writer, command, response)


@router.post("/{year}/{skpd}/orders", status_code=201,
             summary="Request an SPP-UP, SPP-GU, SPP-TU or SPP-GU nihil", responses=WRITE,
             openapi_extra=KEEP_ADVANCE.doc)  # fmt: skip
async def request_advance(
    year: YearPath, skpd: SkpdPath, body: RequestAdvanceIn, who: Keeper, key: IdempotencyKey,
    writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    fields = body.model_dump(exclude={"spj_numbers"})
    command = c.RequestAdvance(**_base(who, key, year, skpd), spj_numbers=tuple(body.spj_numbers),
                               **fields)  # fmt: skip
    return await run(writer, command, response)


# -- writes: the order's steps ---------------------------------------------------------------------
def _step(who: Principal, key: str, order_id: UUID, kind: type[c.AdvanceOrderCommand],
          **kw: Any) -> c.AdvanceOrderCommand:  # fmt: skip
    return kind(idempotency_key=key, actor=who.actor, pemda=who.pemda, order_id=order_id, **kw)


@router.post("/orders/{order_id}/verify", summary="PPK verifies the SPP", responses=WRITE,
             openapi_extra=auth.VERIFY.doc)  # fmt: skip
async def verify_advance(
    order_id: UUID, who: Annotated[Principal, Depends(auth.VERIFY)], key: IdempotencyKey,
    writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    return await run(writer, _step(who, key, order_id, c.VerifyAdvance), response)


@router.post("/orders/{order_id}/approve", summary="PA/KPA signs the SPM", responses=WRITE,
             openapi_extra=auth.APPROVE.doc)  # fmt: skip
async def approve_advance(
    order_id: UUID, body: ApproveIn, who: Annotated[Principal, Depends(auth.APPROVE)],
    key: IdempotencyKey, writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = _step(who, key, order_id, c.ApproveAdvance, spm_number=body.spm_number)
    return await run(writer, command, response)


@router.post("/orders/{order_id}/authorise",
             summary="Kuasa BUD issues the SP2D (a GU's or GU nihil's SPJ is realised)",
             responses=WRITE, openapi_extra=auth.AUTHORISE.doc)  # fmt: skip
async def authorise_advance(
    order_id: UUID, body: AuthoriseIn, who: Annotated[Principal, Depends(auth.AUTHORISE)],
    key: IdempotencyKey, writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = _step(who, key, order_id, c.AuthoriseAdvance, sp2d_number=body.sp2d_number)
    return await run(writer, command, response)


@router.post("/orders/{order_id}/reject", summary="Reject at the current step, with a reason",
             responses=WRITE, openapi_extra=auth.REJECT.doc)  # fmt: skip
async def reject_advance(
    order_id: UUID, body: ReasonIn, who: Annotated[Principal, Depends(auth.REJECT)],
    key: IdempotencyKey, writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = _step(who, key, order_id, c.RejectAdvance, reason=body.reason)
    return await run(writer, command, response)


@router.post("/orders/{order_id}/cancel", summary="Cancel before the SP2D, with a reason",
             responses=WRITE, openapi_extra=auth.CANCEL.doc)  # fmt: skip
async def cancel_advance(
    order_id: UUID, body: ReasonIn, who: Annotated[Principal, Depends(auth.CANCEL)],
    key: IdempotencyKey, writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = _step(who, key, order_id, c.CancelAdvance, reason=body.reason)
    return await run(writer, command, response)


@router.post("/orders/{order_id}/settled",
             summary="The bank paid the SP2D into the bendahara's account", responses=WRITE,
             openapi_extra=auth.GATEWAY.doc)  # fmt: skip
async def advance_settled(
    order_id: UUID, body: SettlementIn, who: Annotated[Principal, Depends(auth.GATEWAY)],
    key: IdempotencyKey, writer: WriterDep, response: Response,
) -> CommandOut:  # fmt: skip
    command = _step(who, key, order_id, c.RecordAdvanceSettled, bank_reference=body.bank_reference)
    return await run(writer, command, response)


# -- reads -----------------------------------------------------------------------------------------
# Before /{year}/{skpd}: "orders" is no year.
@router.get("/orders/{order_id}", summary="One advance order with its numbers and performers",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_order(
    order_id: UUID, who: Reader, models: ReadModelsDep, response: Response,
    freshness: ListFreshness = "latest", after: After = None,
) -> AdvanceOrderOut:  # fmt: skip
    def build(db: ReadDatabase) -> AdvanceOrderOut:
        found = aq.order(db, who.pemda, str(order_id))
        if found is None:
            raise NotFound(f"no advance order {order_id} in pemda {who.pemda}")
        who.require_skpd(found["skpd"], f"advance order {order_id}")
        return pick(AdvanceOrderOut, found)

    return await read(models, build, response, freshness=freshness, after=after)


@router.get("", summary="The advances of the pemda (an SKPD's official: its own)",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def list_advances(
    who: Reader, models: ReadModelsDep, response: Response,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="fiscal year")] = None,
    freshness: ListFreshness = "latest", after: After = None,
) -> list[AdvanceOut]:  # fmt: skip
    def build(db: ReadDatabase) -> list[AdvanceOut]:
        rows = aq.advances(db, who.pemda, year=year, skpd=who.skpd)
        return [pick(AdvanceOut, r) for r in rows]

    return await read(models, build, response, freshness=freshness, after=after)


def _found(db: ReadDatabase, who: Principal, year: int, skpd: str) -> dict[str, Any]:
    found = aq.advance(db, who.pemda, year, skpd)
    if found is None:
        raise NotFound(f"no UP is set for SKPD {skpd} in {year}")
    return found


@router.get("/{year}/{skpd}", summary="One SKPD's advance and its balances",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_advance(
    year: YearPath, skpd: SkpdPath, who: Reader, models: ReadModelsDep, response: Response,
    freshness: ListFreshness = "latest", after: After = None,
) -> AdvanceOut:  # fmt: skip
    year, code = _scoped(who, year, skpd)
    return await read(models, lambda db: pick(AdvanceOut, _found(db, who, year, code)), response,
                      freshness=freshness, after=after)  # fmt: skip


@router.get("/{year}/{skpd}/register", summary="The advance's register (BKU) with its balance",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_register(
    year: YearPath, skpd: SkpdPath, who: Reader, models: ReadModelsDep, response: Response,
    limit: Limit = 100, offset: Offset = 0, freshness: ListFreshness = "latest",
    after: After = None,
) -> list[RegisterRowOut]:  # fmt: skip
    year, code = _scoped(who, year, skpd)

    def build(db: ReadDatabase) -> list[RegisterRowOut]:
        found = _found(db, who, year, code)
        rows = aq.register(db, found["advance_id"], limit=limit, offset=offset)
        return [pick(RegisterRowOut, r) for r in rows]

    return await read(models, build, response, freshness=freshness, after=after)


@router.get("/{year}/{skpd}/spj", summary="The advance's SPJ entries",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_spj(
    year: YearPath, skpd: SkpdPath, who: Reader, models: ReadModelsDep, response: Response,
    status: Annotated[str | None, Query(pattern="^(open|claimed|accounted|withdrawn)$")] = None,
    freshness: ListFreshness = "latest", after: After = None,
) -> list[SpjOut]:  # fmt: skip
    year, code = _scoped(who, year, skpd)

    def build(db: ReadDatabase) -> list[SpjOut]:
        found = _found(db, who, year, code)
        return [pick(SpjOut, r) for r in aq.spj_entries(db, found["advance_id"], status=status)]

    return await read(models, build, response, freshness=freshness, after=after)


@router.get("/{year}/{skpd}/cards", summary="The SKPD's KKPD: limit, owed, paid",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_cards(
    year: YearPath, skpd: SkpdPath, who: Reader, models: ReadModelsDep, response: Response,
    freshness: ListFreshness = "latest", after: After = None,
) -> list[CardOut]:  # fmt: skip
    year, code = _scoped(who, year, skpd)

    def build(db: ReadDatabase) -> list[CardOut]:
        return [pick(CardOut, r) for r in aq.cards(db, _found(db, who, year, code)["advance_id"])]

    return await read(models, build, response, freshness=freshness, after=after)


@router.get("/{year}/{skpd}/tu", summary="The SKPD's TU: given, spent, returned, overdue",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_tu(
    year: YearPath, skpd: SkpdPath, who: Reader, models: ReadModelsDep, response: Response,
    freshness: ListFreshness = "latest", after: After = None,
) -> list[TuOut]:  # fmt: skip
    year, code = _scoped(who, year, skpd)
    today = datetime.now(aq.WIB).date()

    def build(db: ReadDatabase) -> list[TuOut]:
        found = _found(db, who, year, code)
        return [pick(TuOut, r) for r in aq.tus(db, found["advance_id"], today)]

    return await read(models, build, response, freshness=freshness, after=after)


@router.get("/{year}/{skpd}/orders", summary="The SKPD's SPP-UP/GU/TU/GU nihil, oldest first",
            openapi_extra=auth.READ_BOOKS.doc)  # fmt: skip
async def get_orders(
    year: YearPath, skpd: SkpdPath, who: Reader, models: ReadModelsDep, response: Response,
    freshness: ListFreshness = "latest", after: After = None,
) -> list[AdvanceOrderOut]:  # fmt: skip
    year, code = _scoped(who, year, skpd)

    def build(db: ReadDatabase) -> list[AdvanceOrderOut]:
        return [pick(AdvanceOrderOut, r) for r in aq.orders(db, who.pemda, year=year, skpd=code)]

    return await read(models, build, response, freshness=freshness, after=after)
