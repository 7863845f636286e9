"""Income (pendapatan): receipts reported by the payment adapter or entered by BPKAD."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Response

from api import auth
from api.auth import Principal
from api.deps import IdempotencyKey, WriterDep, run
from api.models import CommandOut, RevenueIn, ReverseRevenueIn
from api.problems import responses
from api.routes.budgets import line_ref
from api.routing import AreaRouter
from ledger import commands as c

router = AreaRouter(
    prefix="/pemda/{pemda}/revenues",
    tags=["revenue"],
    responses=responses(401, 403, 404, 409, 422),
)

Recorder = Annotated[Principal, Depends(auth.REVENUE)]


@router.post(
    "",
    status_code=201,
    summary="Record a settled receipt of income on an income line",
    openapi_extra=auth.REVENUE.doc,
)
async def record_revenue(
    body: RevenueIn, who: Recorder, key: IdempotencyKey, writer: WriterDep, response: Response
) -> CommandOut:
    command = c.RecordRevenue(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=body.year,
        line=line_ref(body.line),
        channel=body.channel,
        reference=body.reference,
        payer=body.payer,
        gross=body.gross,
        fee=body.fee,
    )
    return await run(writer, command, response)


@router.post(
    "/reversals",
    summary="Reverse a receipt (refund or chargeback)",
    openapi_extra=auth.REVENUE.doc,
)
async def reverse_revenue(
    body: ReverseRevenueIn,
    who: Recorder,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.ReverseRevenue(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=body.year,
        channel=body.channel,
        reference=body.reference,
        reason=body.reason,
    )
    return await run(writer, command, response)
