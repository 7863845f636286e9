"""The vendor registry: registration, bank account changes, (de)activation, reading. The list comes
from the read models (``proj_vendor``), as fresh as ``latest`` by default; one vendor with its bank
account from its events."""

from __future__ import annotations

from typing import Annotated, Any

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
    read,
    run,
)
from api.models import (
    BankAccountOut,
    ChangeBankAccountIn,
    CommandOut,
    Page,
    ReasonIn,
    RegisterVendorIn,
    VendorOut,
)
from api.problems import responses
from api.routing import AreaRouter
from ledger import commands as c
from ledger import ids
from ledger.errors import NotFound
from ledger.roles import Role
from ledger.vendor import normalise_npwp
from projections import queries as q
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}/vendors", tags=["vendors"], responses=responses(401, 403, 404, 422)
)

Admin = Annotated[Principal, Depends(auth.VENDOR_ADMIN)]
Reader = Annotated[Principal, Depends(auth.READ_BOOKS)]
VENDOR_OR_READER = auth.Allow(*auth.OFFICIALS, Role.VENDOR)
ReaderOrSelf = Annotated[Principal, Depends(VENDOR_OR_READER)]
NpwpPath = Annotated[
    str, Path(max_length=32, description="NPWP, 15 or 16 digits", examples=["012345678901000"])
]
WRITE = responses(409)


@router.post(
    "",
    status_code=201,
    summary="Register a vendor and its bank account",
    openapi_extra=auth.VENDOR_ADMIN.doc,
    responses=WRITE,
)
async def register_vendor(
    body: RegisterVendorIn, who: Admin, key: IdempotencyKey, writer: WriterDep, response: Response
) -> CommandOut:
    command = c.RegisterVendor(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        npwp=body.npwp,
        name=body.name,
        kind=body.kind,
        bank_code=body.bank_code,
        account_number=body.account_number,
        account_holder=body.account_holder,
    )
    return await run(writer, command, response)


@router.post(
    "/{npwp}/bank-account",
    summary="Change a vendor's bank account (with a reason)",
    openapi_extra=auth.VENDOR_ADMIN.doc,
    responses=WRITE,
)
async def change_bank_account(
    npwp: NpwpPath,
    body: ChangeBankAccountIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.ChangeVendorBankAccount(
        idempotency_key=key,
        actor=who.actor,
        pemda=who.pemda,
        npwp=npwp,
        bank_code=body.bank_code,
        account_number=body.account_number,
        account_holder=body.account_holder,
        reason=body.reason,
    )
    return await run(writer, command, response)


@router.post(
    "/{npwp}/deactivate",
    summary="Deactivate a vendor (no new payments)",
    openapi_extra=auth.VENDOR_ADMIN.doc,
    responses=WRITE,
)
async def deactivate_vendor(
    npwp: NpwpPath,
    body: ReasonIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.DeactivateVendor(
        idempotency_key=key, actor=who.actor, pemda=who.pemda, npwp=npwp, reason=body.reason
    )
    return await run(writer, command, response)


@router.post(
    "/{npwp}/reactivate",
    summary="Reactivate a vendor",
    openapi_extra=auth.VENDOR_ADMIN.doc,
    responses=WRITE,
)
async def reactivate_vendor(
    npwp: NpwpPath,
    body: ReasonIn,
    who: Admin,
    key: IdempotencyKey,
    writer: WriterDep,
    response: Response,
) -> CommandOut:
    command = c.ReactivateVendor(
        idempotency_key=key, actor=who.actor, pemda=who.pemda, npwp=npwp, reason=body.reason
    )
    return await run(writer, command, response)


def _vendor_row_out(row: dict[str, Any]) -> VendorOut:
    return VendorOut(
        id=row["vendor_id"],
        npwp=row["npwp"],
        name=row["name"],
        kind=row["kind"],
        active=bool(row["active"]),
    )


@router.get("", summary="The vendors of the pemda", openapi_extra=auth.READ_BOOKS.doc)
async def list_vendors(
    who: Reader,
    models: ReadModelsDep,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
    active: Annotated[bool | None, Query(description="only active / inactive vendors")] = None,
    kind: Annotated[
        str | None, Query(max_length=16, description="company, media, individual")
    ] = None,
    name: Annotated[
        str | None, Query(max_length=200, description="name contains (any case)")
    ] = None,
    freshness: ListFreshness = "latest",
    after: After = None,
) -> Page[VendorOut]:
    def build(db: ReadDatabase) -> Page[VendorOut]:
        rows = q.vendors(
            db, who.pemda, active=active, kind=kind, name=name, limit=limit, offset=offset
        )
        return listed(rows, limit, offset, _vendor_row_out)

    return await read(models, build, response, freshness=freshness, after=after)


@router.get(
    "/{npwp}",
    summary="One vendor with its current bank account (a vendor sees only itself)",
    openapi_extra=VENDOR_OR_READER.doc,
)
def get_vendor(npwp: NpwpPath, who: ReaderOrSelf, ledger: LedgerDep) -> VendorOut:
    number = normalise_npwp(npwp)
    if who.role is Role.VENDOR and who.npwp != number:
        raise NotFound(f"no vendor with NPWP {number} in pemda {who.pemda}")
    vendor = ledger.vendor(ids.vendor_id(who.pemda, number))
    return VendorOut(
        id=vendor.id,
        npwp=vendor.npwp,
        name=vendor.name,
        kind=vendor.kind,
        active=vendor.active,
        bank_account=BankAccountOut(**vendor.bank_account),
        version=vendor.version,
    )
