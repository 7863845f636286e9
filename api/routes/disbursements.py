"""LS disbursements: the SPP -> verify -> SPM -> SP2D steps, rejection and cancellation, the
gateway's transfer facts, and reading payments and their history.

A vendor user sees only the payments to its own NPWP; a payment of another vendor (or another
pemda) does not exist for it (404). An official of one SKPD sees and acts on its own SKPD's payments
only: the list leaves the others out, and one named by id is a 403 (``skpd_scope``), the refusal the
ledger gives a write. The list and who may see a payment come from the read models
(``projections/queries.py``), as fresh as ``latest`` by default; the payment itself and its
history come from its events.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Request, Response

from api import auth, threads
from api.auth import Principal
from api.deps import (
    After,
    IdempotencyKey,
    Limit,
    ListFreshness,
    Offset,
    ReadModelsDep,
    Serve,
    Served,
    WriterDep,
    listed,
    page,
    read,
    run,
)
from api.models import (
    ApproveIn,
    AuthorisedOut,
    AuthoriseIn,
    BankAccountOut,
    CommandOut,
    DeductionOut,
    DisbursementOut,
    DisbursementRowOut,
    FlagWarningOut,
    HistoryEntryOut,
    Page,
    ReasonIn,
    RequestDisbursementIn,
    SettlementIn,
    TransferRejectedIn,
    TransferSentIn,
)
from api.problems import responses
from api.readmodels import ReadModels
from api.routes.budgets import line_ref
from api.routes.redflags import pemda_thresholds, warnings_out
from api.routing import AreaRouter
from audit import service as redflag_service
from audit.frames import secret_of
from ledger import commands as c
from ledger import history as ledger_history
from ledger import ids
from ledger.application import Ledger
from ledger.disbursement import Disbursement, Status
from ledger.errors import InvalidInput, NotFound
from ledger.vendor import normalise_npwp
from projections import queries as q
from projections.db import ReadDatabase

log = logging.getLogger(__name__)

router = AreaRouter(
    prefix="/pemda/{pemda}/disbursements",
    tags=["disbursements"],
    responses=responses(401, 403, 404, 422),
)

Reader = Annotated[Principal, Depends(auth.READ_PAYMENTS)]
# The busiest routes take the guard and the tenant as one dependency (``api.deps.Serve``).
ServedReader = Annotated[Served, Depends(Serve(auth.READ_PAYMENTS))]
WRITE = responses(409)


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
    served: Annotated[Served, Depends(Serve(auth.REQUEST))],
    key: IdempotencyKey,
    response: Response,
) -> CommandOut:
    who = served.who
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
    return await run(served.tenant.writer, command, response)


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
    models: ReadModelsDep,
    request: Request,
    response: Response,
) -> AuthorisedOut:
    """The SP2D, with the red flags open on this payment or its vendor as ``warnings``: the
    recorded ones, and what the live rules find now in the vendor's history (an account changed
    three days ago). They never block: the SP2D is issued either way."""
    command = _step(who, key, disbursement_id, c.AuthoriseSp2d, sp2d_number=body.sp2d_number)
    done = await run(writer, command, response)
    found = await _warnings(request, models, who.pemda, disbursement_id, done.position)
    return AuthorisedOut(**done.model_dump(), warnings=found)


async def _warnings(
    request: Request, models: ReadModels, pemda: str, disbursement_id: UUID, position: int
) -> list[FlagWarningOut]:
    """The warnings of a payment just decided, read with the decision in the read models. The
    decision is recorded whatever happens here: a warning that cannot be computed is logged and
    left out, never an error of the request."""
    try:
        limits = pemda_thresholds(request, pemda)

        def build(db: ReadDatabase) -> list[dict[str, Any]]:
            found = q.owner(db, str(disbursement_id))
            vendor = None if found is None else found.vendor_id
            return redflag_service.warnings(
                db, pemda, str(disbursement_id), vendor, limits, secret_of(db)
            )

        answer, _ = await models.read(build, latest=False, after=position)
    except Exception:  # advice only: the SP2D stands
        log.exception("red-flag warnings of disbursement %s could not be computed", disbursement_id)
        return []
    return warnings_out(pemda, answer)


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


@router.post(
    "/{disbursement_id}/reissue",
    summary="Kuasa BUD pays a returned transfer again, to the vendor's changed account (same SP2D)",
    openapi_extra=auth.AUTHORISE.doc,
    responses=WRITE,
)
async def reissue_returned_transfer(
    disbursement_id: UUID,
    body: ReasonIn,
    who: Annotated[Principal, Depends(auth.AUTHORISE)],
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    """Only a returned transfer, once per return, after the vendor's account was changed, by a
    Kuasa BUD who did no step of the payment nor the account change; no new SPP or SP2D number.
    The gateway then sends it under a new reference, to the new account."""
    command = _step(who, key, disbursement_id, c.ReissueReturnedTransfer, reason=body.reason)
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
def _row_out(row: dict[str, Any]) -> DisbursementRowOut:
    return DisbursementRowOut(
        id=row["disbursement_id"],
        year=row["year"],
        spp_number=row["spp_number"],
        status=row["status"],
        skpd=row["skpd"],
        line_id=row["line_id"],
        vendor_id=row["vendor_id"],
        vendor_npwp=row["npwp_sealed"],
        gross=row["gross"],
        net=row["net"],
        requested_at=row["requested_at"],
    )


@router.get(
    "",
    summary="Payments of the pemda, oldest request first (a vendor sees only its own)",
    openapi_extra=auth.READ_PAYMENTS.doc,
)
async def list_disbursements(
    who: Reader,
    models: ReadModelsDep,
    response: Response,
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
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[DisbursementRowOut]:
    for bound in (requested_from, requested_to):
        if bound is not None and bound.tzinfo is None:
            raise InvalidInput("requested_from / requested_to need a time zone, e.g. +07:00")
    # A vendor user sees its own payments only, an SKPD's official its own SKPD's only: each a
    # condition beside the filter of the same column.
    own = None if who.vendor_id is None else str(who.vendor_id)
    wanted = None if vendor is None else str(ids.vendor_id(who.pemda, normalise_npwp(vendor)))

    def build(db: ReadDatabase) -> Page[DisbursementRowOut]:
        rows = q.disbursements(
            db,
            who.pemda,
            vendor_ids=(own, wanted),
            skpds=(who.skpd, skpd),
            status=None if status is None else status.value,
            year=year,
            requested_from=requested_from,
            requested_to=requested_to,
            limit=limit,
            offset=offset,
        )
        return listed(rows, limit, offset, _row_out)

    return await read(models, build, response, freshness=freshness, after=after)


async def require_visible(models: ReadModels, who: Principal, disbursement_id: UUID) -> None:
    """Whether ``who`` may see the disbursement (``check_visible``), from who owns it."""
    check_visible(await models.owner(str(disbursement_id)), who, disbursement_id)


def check_visible(found: q.Owner | None, who: Principal, disbursement_id: UUID) -> None:
    """Whether ``who`` may see the disbursement owned as ``found`` (``q.owner``): another pemda's,
    another vendor's or none at all is NotFound (never 'forbidden'); another SKPD's (a payment's
    SKPD is its line's) is a 403 ``skpd_scope``, the refusal the ledger gives a write. The web
    app's payment page asks the same."""
    if (
        found is None
        or found.kind != "Disbursement"
        or found.pemda != who.pemda
        or (who.vendor_id is not None and found.vendor_id != str(who.vendor_id))
    ):
        raise NotFound(f"no disbursement {disbursement_id} in pemda {who.pemda}")
    who.require_skpd(found.skpd or "", f"disbursement {disbursement_id}")


@router.get(
    "/{disbursement_id}",
    summary="One payment as it is now, or as it was at a past moment",
    openapi_extra=auth.READ_PAYMENTS.doc,
)
async def get_disbursement(
    disbursement_id: UUID,
    served: ServedReader,
    at: Annotated[
        datetime | None,
        Query(description="time travel: the payment as it was then (ISO 8601 with zone)"),
    ] = None,
) -> DisbursementOut:
    tenant = served.tenant
    await require_visible(tenant.read_models, served.who, disbursement_id)
    return await threads.run(_disbursement_out, tenant.ledger, disbursement_id, at)


def _disbursement_out(
    ledger: Ledger, disbursement_id: UUID, at: datetime | None
) -> DisbursementOut:
    """The disbursement as it is, or as it was ``at`` (its aggregate, replayed)."""
    if at is None:
        d = ledger.disbursement(disbursement_id)
    else:
        d = ledger_history.aggregate_as_of(ledger, disbursement_id, Disbursement, as_of=at)
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
        reissues=d.reissues,
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
async def get_history(
    disbursement_id: UUID,
    served: ServedReader,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[HistoryEntryOut]:
    tenant = served.tenant
    await require_visible(tenant.read_models, served.who, disbursement_id)
    return await threads.run(_history_out, tenant.ledger, disbursement_id, limit, offset)


def _history_out(
    ledger: Ledger, disbursement_id: UUID, limit: int, offset: int
) -> Page[HistoryEntryOut]:
    entries = ledger_history.history(ledger, disbursement_id)
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
