"""LS disbursements: the SPP -> verify -> SPM -> SP2D steps, rejection and cancellation, the
gateway's transfer facts, and reading payments and their history.

A vendor user sees only the payments to its own NPWP; a payment of another vendor (or another
pemda) does not exist for it (404). An official of one SKPD sees and acts on its own SKPD's payments
only: the list leaves the others out, and one named by id is a 403 (``skpd_scope``), the refusal the
ledger gives a write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from api import auth
from api.auth import Principal
from api.catalog import DisbursementRow
from api.deps import CatalogDep, IdempotencyKey, LedgerDep, Limit, Offset, WriterDep, page, run
from api.models import (
    ApproveIn,
    AuthoriseIn,
    BankAccountOut,
    CommandOut,
    DeductionOut,
    DisbursementOut,
    DisbursementRowOut,
    HistoryEntryOut,
    Page,
    ReasonIn,
    RequestDisbursementIn,
    SettlementIn,
    TransferRejectedIn,
    TransferSentIn,
)
from api.problems import responses
from api.routes.budgets import line_ref
from ledger import commands as c
from ledger import history as ledger_history
from ledger import ids
from ledger.application import Ledger
from ledger.disbursement import Disbursement, Status
from ledger.errors import InvalidInput, NotFound
from ledger.vendor import normalise_npwp

router = APIRouter(
    prefix="/pemda/{pemda}/disbursements",
    tags=["disbursements"],
    responses=responses(401, 403, 404, 422),
)

Reader = Annotated[Principal, Depends(auth.READ_PAYMENTS)]
WRITE = responses(409)
_DISBURSEMENT_TOPIC = "ledger.disbursement:Disbursement"


def _step(
    who: Principal, key: str, disbursement_id: UUID, kind: type[c.DisbursementCommand], **kw: Any
) -> c.DisbursementCommand:
    return kind(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        disbursement_id=disbursement_id,
        **kw,
    )


@router.post(
    "",
    status_code=201,
    summary="Request a payment (SPP-LS); commits the gross on the line",
    openapi_extra=auth.REQUEST.doc,
    responses=WRITE,
)
async def request_disbursement(
    body: RequestDisbursementIn,
    who: Annotated[Principal, Depends(auth.REQUEST)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.RequestDisbursement(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        year=body.year,
        spp_number=body.spp_number,
        line=line_ref(body.line),
        vendor_npwp=body.vendor_npwp,
        gross=body.gross,
        deductions=tuple({"code": d.code, "amount": d.amount} for d in body.deductions),
        description=body.description,
        documents=dict(body.documents),
    )
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/verify",
    summary="PPK verifies the SPP",
    openapi_extra=auth.VERIFY.doc,
    responses=WRITE,
)
async def verify_disbursement(
    disbursement_id: UUID,
    who: Annotated[Principal, Depends(auth.VERIFY)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    return await run(writer, _step(who, key, disbursement_id, c.VerifyDisbursement), response)


@router.post(
    "/{disbursement_id}/approve",
    summary="PA/KPA signs the SPM",
    openapi_extra=auth.APPROVE.doc,
    responses=WRITE,
)
async def approve_spm(
    disbursement_id: UUID,
    body: ApproveIn,
    who: Annotated[Principal, Depends(auth.APPROVE)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(who, key, disbursement_id, c.ApproveSpm, spm_number=body.spm_number)
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/authorise",
    summary="Kuasa BUD issues the SP2D; realises the spending and fixes the bank account",
    openapi_extra=auth.AUTHORISE.doc,
    responses=WRITE,
)
async def authorise_sp2d(
    disbursement_id: UUID,
    body: AuthoriseIn,
    who: Annotated[Principal, Depends(auth.AUTHORISE)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(who, key, disbursement_id, c.AuthoriseSp2d, sp2d_number=body.sp2d_number)
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/reject",
    summary="Reject at the current step, with a reason (the step's own role); releases the pagu",
    openapi_extra=auth.REJECT.doc,
    responses=WRITE,
)
async def reject_disbursement(
    disbursement_id: UUID,
    body: ReasonIn,
    who: Annotated[Principal, Depends(auth.REJECT)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(who, key, disbursement_id, c.RejectDisbursement, reason=body.reason)
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/cancel",
    summary="Cancel while no money is with the vendor, with a reason",
    openapi_extra=auth.CANCEL.doc,
    responses=WRITE,
)
async def cancel_disbursement(
    disbursement_id: UUID,
    body: ReasonIn,
    who: Annotated[Principal, Depends(auth.CANCEL)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(who, key, disbursement_id, c.CancelDisbursement, reason=body.reason)
    return await run(writer, command, response)


Gateway = Annotated[Principal, Depends(auth.GATEWAY)]


@router.post(
    "/{disbursement_id}/transfer/sent",
    summary="The payment adapter sent the transfer",
    openapi_extra=auth.GATEWAY.doc,
    responses=WRITE,
)
async def transfer_sent(
    disbursement_id: UUID,
    body: TransferSentIn,
    who: Gateway,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(
        who,
        key,
        disbursement_id,
        c.RecordTransferSent,
        gateway=body.gateway,
        reference=body.reference,
    )
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/transfer/settled",
    summary="The bank settled the transfer",
    openapi_extra=auth.GATEWAY.doc,
    responses=WRITE,
)
async def transfer_settled(
    disbursement_id: UUID,
    body: SettlementIn,
    who: Gateway,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(
        who, key, disbursement_id, c.RecordSettlement, bank_reference=body.bank_reference
    )
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/transfer/failed",
    summary="The transfer failed (it may be sent again)",
    openapi_extra=auth.GATEWAY.doc,
    responses=WRITE,
)
async def transfer_failed(
    disbursement_id: UUID,
    body: ReasonIn,
    who: Gateway,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(who, key, disbursement_id, c.RecordTransferFailed, reason=body.reason)
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/transfer/returned",
    summary="A settled transfer came back",
    openapi_extra=auth.GATEWAY.doc,
    responses=WRITE,
)
async def transfer_returned(
    disbursement_id: UUID,
    body: ReasonIn,
    who: Gateway,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(who, key, disbursement_id, c.RecordTransferReturned, reason=body.reason)
    return await run(writer, command, response)


@router.post(
    "/{disbursement_id}/transfer/rejected",
    summary="The gateway refused this attempt before any money moved (the SP2D stays payable)",
    openapi_extra=auth.GATEWAY.doc,
    responses=WRITE,
)
async def transfer_rejected(
    disbursement_id: UUID,
    body: TransferRejectedIn,
    who: Gateway,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = _step(
        who,
        key,
        disbursement_id,
        c.RecordTransferRejected,
        gateway=body.gateway,
        reference=body.reference,
        reason=body.reason,
    )
    return await run(writer, command, response)


# -- reading -----------------------------------------------------------------------------------
def _row_out(row: DisbursementRow, npwp: str | None) -> DisbursementRowOut:
    return DisbursementRowOut(
        id=row.id,
        year=row.year,
        spp_number=row.spp_number,
        status=row.status,
        skpd=row.skpd,
        line_id=row.line_id,
        vendor_id=row.vendor_id,
        vendor_npwp=npwp,
        gross=row.gross,
        net=row.net,
        requested_at=row.requested_at,
    )


@router.get(
    "",
    summary="Payments of the pemda, oldest request first (a vendor sees only its own)",
    openapi_extra=auth.READ_PAYMENTS.doc,
)
def list_disbursements(
    who: Reader,
    catalog: CatalogDep,
    limit: Limit = 100,
    offset: Offset = 0,
    status: Annotated[Status | None, Query(description="lifecycle status")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="fiscal year")] = None,
    skpd: Annotated[str | None, Query(max_length=64, description="SKPD code")] = None,
    vendor: Annotated[str | None, Query(max_length=32, description="vendor NPWP")] = None,
    requested_from: Annotated[
        datetime | None, Query(description="requested at or after (ISO 8601 with zone)")
    ] = None,
    requested_to: Annotated[
        datetime | None, Query(description="requested before (ISO 8601 with zone)")
    ] = None,
) -> Page[DisbursementRowOut]:
    for bound in (requested_from, requested_to):
        if bound is not None and bound.tzinfo is None:
            raise InvalidInput("requested_from / requested_to need a time zone, e.g. +07:00")
    rows = catalog.disbursements_of(who.pemda)
    if who.vendor_id is not None:  # a vendor user: its own payments only
        rows = [r for r in rows if r.vendor_id == who.vendor_id]
    if who.skpd is not None:  # an SKPD's official: its own SKPD's payments only
        rows = [r for r in rows if who.sees(r.skpd)]
    if vendor is not None:
        wanted = ids.vendor_id(who.pemda, normalise_npwp(vendor))
        rows = [r for r in rows if r.vendor_id == wanted]
    rows = [
        row
        for row in rows
        if (status is None or row.status == status.value)
        and (year is None or row.year == year)
        and (skpd is None or row.skpd == skpd)
        and (requested_from is None or row.requested_at >= requested_from)
        and (requested_to is None or row.requested_at < requested_to)
    ]
    chosen = page(rows, limit, offset)
    return Page[DisbursementRowOut](
        items=[_row_out(r, catalog.npwp_of(who.pemda, r.vendor_id)) for r in chosen.items],
        total=chosen.total,
        limit=chosen.limit,
        offset=chosen.offset,
        next_offset=chosen.next_offset,
    )


def visible_disbursement(
    ledger: Ledger, who: Principal, disbursement_id: UUID, at: datetime | None = None
) -> Disbursement:
    """The disbursement (as it is, or as it was ``at``), if this user may see it; otherwise
    NotFound (never 'forbidden')."""
    if at is None:
        d = ledger.disbursement(disbursement_id)
    else:
        d = ledger_history.aggregate_as_of(ledger, disbursement_id, Disbursement, as_of=at)
    if d.pemda != who.pemda or (who.vendor_id is not None and d.vendor_id != str(who.vendor_id)):
        raise NotFound(f"no disbursement {disbursement_id} in pemda {who.pemda}")
    require_skpd_of_line(ledger, who, d.line_id, f"disbursement {disbursement_id}")
    return d


def require_skpd_of_line(ledger: Ledger, who: Principal, line_id: str, what: str) -> None:
    """403 ``skpd_scope`` if ``who`` is an official of another SKPD than the line's (a payment's
    SKPD is its line's). Reads the line only for an SKPD-bound user."""
    if who.skpd is not None:
        who.require_skpd(ledger.budget_line(UUID(line_id)).skpd, what)


@router.get(
    "/{disbursement_id}",
    summary="One payment as it is now, or as it was at a past moment",
    openapi_extra=auth.READ_PAYMENTS.doc,
)
def get_disbursement(
    disbursement_id: UUID,
    who: Reader,
    ledger: LedgerDep,
    at: Annotated[
        datetime | None,
        Query(description="time travel: the payment as it was then (ISO 8601 with zone)"),
    ] = None,
) -> DisbursementOut:
    d = visible_disbursement(ledger, who, disbursement_id, at)
    return DisbursementOut(
        id=d.id,
        pemda=d.pemda,
        year=d.year,
        spp_number=d.spp_number,
        status=Status(d.status).value,
        line_id=UUID(d.line_id),
        vendor_id=UUID(d.vendor_id),
        gross=d.gross,
        deductions=[DeductionOut(**x) for x in d.deductions],
        net=d.net,
        description=d.description,
        documents=dict(d.documents),
        spm_number=d.spm_number,
        sp2d_number=d.sp2d_number,
        bank_account=BankAccountOut(**d.bank_account) if d.bank_account else None,
        performers=dict(d.performers),
        attempts=d.attempts,
        requested_at=d.requested_at,
        authorised_at=d.authorised_at,
        settled_at=d.settled_at,
        version=d.version,
    )


@router.get(
    "/{disbursement_id}/history",
    summary="Who did what, when and why, for one payment",
    openapi_extra=auth.READ_PAYMENTS.doc,
)
def get_history(
    disbursement_id: UUID,
    who: Reader,
    ledger: LedgerDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[HistoryEntryOut]:
    entries = ledger_history.history(ledger, disbursement_id)
    first = entries[0].details
    vendor_id = who.vendor_id
    if (
        first.get("originator_topic") != _DISBURSEMENT_TOPIC
        or first.get("pemda") != who.pemda
        or (vendor_id is not None and first.get("vendor_id") != str(vendor_id))
    ):
        raise NotFound(f"no disbursement {disbursement_id} in pemda {who.pemda}")
    require_skpd_of_line(ledger, who, str(first["line_id"]), f"disbursement {disbursement_id}")
    out = [
        HistoryEntryOut(
            version=e.version,
            event=e.event,
            at=e.at,
            actor_id=e.actor_id,
            actor_role=e.actor_role,
            details={k: v for k, v in e.details.items() if k != "originator_topic"},
        )
        for e in entries
    ]
    return page(out, limit, offset)
