"""One handler per command. Each loads what it needs through the unit of work, runs every check
(raising a typed ``DomainError``), and only then triggers events. A handler that raises has therefore
changed nothing; the application verifies that and refuses to record a half-applied command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import commands as c
from ledger import ids, roles
from ledger.budget import Budget, BudgetLine
from ledger.codes import LineKey, is_spending
from ledger.disbursement import Disbursement, Status
from ledger.errors import (
    AlreadyExists,
    AmendmentBelowUsage,
    BankAccountChanged,
    BudgetNotOpen,
    InvalidInput,
    LimitExceeded,
    LineBlocked,
    NotFound,
    PaguExceeded,
    VendorNotPayable,
)
from ledger.fields import MAX_NUMBER, document_number, fiscal_year, name, text
from ledger.money import parse_deductions, require_non_negative_rupiah, require_rupiah
from ledger.receipts import DocumentNumber
from ledger.reconciliation import ReconciliationRun, inputs_digest
from ledger.revenue import Revenue
from ledger.roles import Actor
from ledger.vendor import BankAccount, Vendor, VendorKind, normalise_npwp

MAX_LINES_PER_COMMAND = 20_000
MAX_DOCUMENTS = 16

A = TypeVar("A", bound=Aggregate)
Result = dict[str, Any]


class UnitOfWork(Protocol):
    """What a handler may do with the store: read fresh aggregates and add new ones."""

    at: datetime

    def get(self, aggregate_id: UUID, kind: type[A]) -> A: ...

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...

    def add(self, aggregate: Aggregate) -> None: ...

    def exists(self, aggregate_id: UUID) -> bool: ...


def stamp(actor: Actor, at: datetime) -> dict[str, Any]:
    """The who and when recorded in every event."""
    return {"actor_id": actor.user_id, "actor_role": actor.role.value, "at": at}


# -- budget ------------------------------------------------------------------------------------
def _line_key(ref: c.LineRef | c.LineSpec) -> LineKey:
    if not isinstance(ref, (c.LineRef, c.LineSpec)):
        raise InvalidInput(
            f"a budget line is named by SKPD, sub kegiatan and rekening, got {ref!r}"
        )
    return LineKey.parse(ref.skpd, ref.sub_kegiatan, ref.rekening)


def _line_id(pemda: str, year: int, key: LineKey) -> UUID:
    return ids.budget_line_id(pemda, year, key.skpd, key.sub_kegiatan, key.rekening)


def _parse_lines(
    specs: tuple[c.LineSpec, ...], *, allow_zero: bool
) -> list[tuple[LineKey, str, int]]:
    if not isinstance(specs, tuple) or not specs:
        raise InvalidInput("a budget document needs at least one line")
    if len(specs) > MAX_LINES_PER_COMMAND:
        raise LimitExceeded(f"at most {MAX_LINES_PER_COMMAND} lines per command, got {len(specs)}")
    parsed: list[tuple[LineKey, str, int]] = []
    seen: set[LineKey] = set()
    for spec in specs:
        key = _line_key(spec)
        if key in seen:
            raise InvalidInput(f"line {key} appears twice in one document")
        seen.add(key)
        uraian = name(spec.uraian, f"uraian of line {key}")
        pagu = (
            require_non_negative_rupiah(spec.pagu, f"pagu of line {key}")
            if allow_zero
            else require_rupiah(spec.pagu, f"pagu of line {key}")
        )
        parsed.append((key, uraian, pagu))
    return parsed


def line_id_of(pemda: str, year: int, ref: c.LineRef | c.LineSpec) -> UUID:
    """The id of the line ``ref`` names in the APBD of ``pemda`` and ``year``."""
    return _line_id(pemda, year, _line_key(ref))


def _get_budget(uow: UnitOfWork, pemda: str, year: int) -> Budget:
    budget = uow.find(ids.budget_id(pemda, year), Budget)
    if budget is None:
        raise BudgetNotOpen(f"no APBD {year} has been adopted for pemda {pemda}")
    return budget


def _get_line(uow: UnitOfWork, pemda: str, year: int, ref: c.LineRef) -> BudgetLine:
    key = _line_key(ref)
    line = uow.find(_line_id(pemda, year, key), BudgetLine)
    if line is None:
        raise NotFound(f"no budget line {key} in APBD {year} of pemda {pemda}")
    return line


def adopt_budget(cmd: c.AdoptBudget, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "adopt the APBD")
    year = fiscal_year(cmd.year)
    document = document_number(cmd.document, "Perda APBD number")
    lines = _parse_lines(cmd.lines, allow_zero=False)
    budget_id = ids.budget_id(cmd.pemda, year)
    if uow.exists(budget_id):
        raise AlreadyExists(
            f"APBD {year} of pemda {cmd.pemda} is already adopted; amend it instead"
        )
    who = stamp(cmd.actor, uow.at)
    created = [
        BudgetLine(
            pemda=cmd.pemda,
            year=year,
            skpd=key.skpd,
            sub_kegiatan=key.sub_kegiatan,
            rekening=key.rekening,
            uraian=uraian,
            pagu=pagu,
            document=document,
            **who,
        )
        for key, uraian, pagu in lines
    ]
    budget = Budget(
        pemda=cmd.pemda,
        year=year,
        document=document,
        line_ids=[str(line.id) for line in created],
        total_pagu=sum(line.pagu for line in created),
        **who,
    )
    for aggregate in (budget, *created):
        uow.add(aggregate)
    return {"id": str(budget.id), "lines": len(created), "total_pagu": budget.total_pagu}


def amend_budget(cmd: c.AmendBudget, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "amend the APBD (APBD-P)")
    year = fiscal_year(cmd.year)
    document = document_number(cmd.document, "Perda APBD-P number")
    lines = _parse_lines(cmd.lines, allow_zero=True)
    budget = _get_budget(uow, cmd.pemda, year)
    changes: list[tuple[BudgetLine, int]] = []
    additions: list[tuple[LineKey, str, int]] = []
    for key, uraian, pagu in lines:
        line = uow.find(_line_id(cmd.pemda, year, key), BudgetLine)
        if line is None:
            if pagu == 0:
                raise InvalidInput(f"new line {key} needs a pagu greater than zero")
            additions.append((key, uraian, pagu))
        elif pagu < line.used:
            raise AmendmentBelowUsage(
                f"line {key}: new pagu {pagu} is below committed {line.committed} "
                f"+ realised {line.realised}"
            )
        elif pagu != line.pagu:
            changes.append((line, pagu))
    if not changes and not additions:
        raise InvalidInput("the amendment changes no line")
    who = stamp(cmd.actor, uow.at)
    delta = 0
    for line, pagu in changes:
        delta += pagu - line.pagu
        line.amend(pagu, document, who)
    created = []
    for key, uraian, pagu in additions:
        line = BudgetLine(
            pemda=cmd.pemda,
            year=year,
            skpd=key.skpd,
            sub_kegiatan=key.sub_kegiatan,
            rekening=key.rekening,
            uraian=uraian,
            pagu=pagu,
            document=document,
            **who,
        )
        uow.add(line)
        created.append(line)
        delta += pagu
    budget.record_amendment(
        document=document,
        new_line_ids=[str(line.id) for line in created],
        changed_line_ids=[str(line.id) for line, _ in changes],
        pagu_delta=delta,
        **who,
    )
    return {"id": str(budget.id), "changed": len(changes), "added": len(created), "delta": delta}


def shift_budget(cmd: c.ShiftBudget, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "shift pagu (pergeseran)")
    year = fiscal_year(cmd.year)
    document = document_number(cmd.document, "pergeseran decree number")
    amount = require_rupiah(cmd.amount, "shifted amount")
    budget = _get_budget(uow, cmd.pemda, year)
    source = _get_line(uow, cmd.pemda, year, cmd.from_line)
    target = _get_line(uow, cmd.pemda, year, cmd.to_line)
    if source.id == target.id:
        raise InvalidInput("a pergeseran needs two different lines")
    if is_spending(source.rekening) != is_spending(target.rekening):
        raise InvalidInput(
            f"a pergeseran moves pagu between spending lines or between income lines, "
            f"not from {source.rekening} to {target.rekening}"
        )
    if amount > source.available:
        raise PaguExceeded(
            f"line {source.key}: cannot shift {amount} out, only {source.available} is available"
        )
    who = stamp(cmd.actor, uow.at)
    source.shift_out(amount, target.id, document, who)
    target.shift_in(amount, source.id, document, who)
    budget.record_shift(
        document=document,
        from_line_id=str(source.id),
        to_line_id=str(target.id),
        amount=amount,
        **who,
    )
    return {"id": str(budget.id), "from": str(source.id), "to": str(target.id), "amount": amount}


def block_line(cmd: c.BlockLine, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "block a line (blokir)")
    line = _get_line(uow, cmd.pemda, fiscal_year(cmd.year), cmd.line)
    line.block(text(cmd.reason, "reason"), stamp(cmd.actor, uow.at))
    return {"id": str(line.id), "blocked": True}


def unblock_line(cmd: c.UnblockLine, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "unblock a line")
    line = _get_line(uow, cmd.pemda, fiscal_year(cmd.year), cmd.line)
    line.unblock(text(cmd.reason, "reason"), stamp(cmd.actor, uow.at))
    return {"id": str(line.id), "blocked": False}


# -- vendors -----------------------------------------------------------------------------------
def _get_vendor(uow: UnitOfWork, pemda: str, npwp: Any) -> Vendor:
    number = normalise_npwp(npwp)
    vendor = uow.find(ids.vendor_id(pemda, number), Vendor)
    if vendor is None:
        # Nothing to change: the vendor named is not there (404). Paying an unregistered vendor
        # is another matter, a conflict with the registry (``_payable_vendor``, 409).
        raise NotFound(f"no vendor with NPWP {number} is registered in pemda {pemda}")
    return vendor


def register_vendor(cmd: c.RegisterVendor, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "register a vendor")
    npwp = normalise_npwp(cmd.npwp)
    vendor_name = name(cmd.name, "vendor name")
    try:
        kind = VendorKind(cmd.kind)
    except ValueError:
        allowed = ", ".join(k.value for k in VendorKind)
        raise InvalidInput(f"vendor kind must be one of {allowed}, got {cmd.kind!r}") from None
    account = BankAccount.parse(cmd.bank_code, cmd.account_number, cmd.account_holder)
    vendor_id = ids.vendor_id(cmd.pemda, npwp)
    if uow.exists(vendor_id):
        raise AlreadyExists(f"a vendor with NPWP {npwp} is already registered")
    vendor = Vendor(
        pemda=cmd.pemda,
        npwp=npwp,
        name=vendor_name,
        kind=kind.value,
        bank_account=account.as_dict(),
        **stamp(cmd.actor, uow.at),
    )
    uow.add(vendor)
    return {"id": str(vendor.id), "npwp": npwp}


def change_vendor_bank_account(cmd: c.ChangeVendorBankAccount, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "change a vendor's bank account")
    account = BankAccount.parse(cmd.bank_code, cmd.account_number, cmd.account_holder)
    reason = text(cmd.reason, "reason")
    vendor = _get_vendor(uow, cmd.pemda, cmd.npwp)
    vendor.change_bank_account(account, reason, stamp(cmd.actor, uow.at))
    return {"id": str(vendor.id), "version": vendor.version}


def deactivate_vendor(cmd: c.DeactivateVendor, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "deactivate a vendor")
    reason = text(cmd.reason, "reason")
    vendor = _get_vendor(uow, cmd.pemda, cmd.npwp)
    vendor.deactivate(reason, stamp(cmd.actor, uow.at))
    return {"id": str(vendor.id), "active": False}


def reactivate_vendor(cmd: c.ReactivateVendor, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "reactivate a vendor")
    reason = text(cmd.reason, "reason")
    vendor = _get_vendor(uow, cmd.pemda, cmd.npwp)
    vendor.reactivate(reason, stamp(cmd.actor, uow.at))
    return {"id": str(vendor.id), "active": True}


# -- disbursements -----------------------------------------------------------------------------
def _documents(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidInput("documents must map a document kind to its number")
    if len(raw) > MAX_DOCUMENTS:
        raise LimitExceeded(f"at most {MAX_DOCUMENTS} supporting documents")
    return {
        name(k, "document kind", max_length=32): document_number(v, f"document {k}")
        for k, v in raw.items()
    }


def _get_disbursement(uow: UnitOfWork, cmd: c.DisbursementCommand) -> Disbursement:
    if not isinstance(cmd.disbursement_id, UUID):
        raise InvalidInput("disbursement id must be a UUID")
    found = uow.find(cmd.disbursement_id, Disbursement)
    # A disbursement of another pemda does not exist for this one: no cross-tenant reach.
    if found is None or found.pemda != cmd.pemda:
        raise NotFound(f"no disbursement {cmd.disbursement_id} in pemda {cmd.pemda}")
    if cmd.actor.skpd is not None:
        # An SKPD's officials act on their own SKPD's payments only; checked before anything else
        # of the payment (its status, its performers) is looked at, so nothing of it leaks.
        skpd = uow.get(UUID(found.line_id), BudgetLine).skpd
        cmd.actor.require_skpd(skpd, f"disbursement {cmd.disbursement_id}")
    return found


def _payable_vendor(uow: UnitOfWork, vendor_id: str) -> Vendor:
    vendor = uow.find(UUID(vendor_id), Vendor)
    if vendor is None:
        raise VendorNotPayable(f"vendor {vendor_id} is not registered")
    if not vendor.active:
        raise VendorNotPayable(f"vendor {vendor.name} ({vendor.npwp}) is deactivated")
    return vendor


def request_disbursement(cmd: c.RequestDisbursement, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.REQUEST, "request a payment (SPP)")
    # The SKPD is part of the line's key: another SKPD's line is refused first, before the rest
    # of the request is read and before the line is looked up.
    cmd.actor.require_skpd(_line_key(cmd.line).skpd, "the budget line")
    year = fiscal_year(cmd.year)
    spp_number = document_number(cmd.spp_number, "SPP number")
    gross = require_rupiah(cmd.gross, "gross amount")
    deductions = parse_deductions(cmd.deductions, gross)
    description = text(cmd.description, "description")
    documents = _documents(cmd.documents)
    line = _get_line(uow, cmd.pemda, year, cmd.line)
    if not is_spending(line.rekening):
        raise InvalidInput(f"line {line.key} is an income line; nothing is paid out of it")
    npwp = normalise_npwp(cmd.vendor_npwp)
    vendor_id = ids.vendor_id(cmd.pemda, npwp)
    if not uow.exists(vendor_id):
        raise VendorNotPayable(f"no vendor with NPWP {npwp} is registered in pemda {cmd.pemda}")
    vendor = _payable_vendor(uow, str(vendor_id))
    line.check_commit(gross)
    disbursement_id = ids.disbursement_id(cmd.pemda, year, spp_number)
    if uow.exists(disbursement_id):
        raise AlreadyExists(f"SPP number {spp_number} is already used in {year}")
    who = stamp(cmd.actor, uow.at)
    net = gross - sum(d.amount for d in deductions)
    disbursement = Disbursement(
        pemda=cmd.pemda,
        year=year,
        spp_number=spp_number,
        line_id=str(line.id),
        vendor_id=str(vendor.id),
        gross=gross,
        deductions=[d.as_dict() for d in deductions],
        net=net,
        description=description,
        documents=documents,
        **who,
    )
    line.commit(disbursement.id, gross, who)
    uow.add(disbursement)
    return {"id": str(disbursement.id), "status": Status(disbursement.status).value, "net": net}


def _claim_number(
    uow: UnitOfWork, d: Disbursement, kind: str, number: str, who: dict[str, Any]
) -> None:
    claim_id = ids.document_number_id(d.pemda, d.year, kind, number)
    if uow.exists(claim_id):
        raise AlreadyExists(f"{kind} number {number} is already issued in {d.year}")
    uow.add(
        DocumentNumber(
            pemda=d.pemda,
            year=d.year,
            kind=kind,
            number=number,
            disbursement_id=str(d.id),
            **who,
        )
    )


def _done(d: Disbursement) -> Result:
    return {"id": str(d.id), "status": Status(d.status).value, "version": d.version}


def verify_disbursement(cmd: c.VerifyDisbursement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_verify(cmd.actor)
    d.verify(**stamp(cmd.actor, uow.at))
    return _done(d)


def approve_spm(cmd: c.ApproveSpm, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_approve(cmd.actor)
    number = document_number(cmd.spm_number, "SPM number")
    who = stamp(cmd.actor, uow.at)
    _claim_number(uow, d, "SPM", number, who)
    d.approve(spm_number=number, **who)
    return _done(d)


def authorise_sp2d(cmd: c.AuthoriseSp2d, uow: UnitOfWork) -> Result:
    """Kuasa BUD issues the SP2D: spending is realised and the beneficiary account is fixed."""
    d = _get_disbursement(uow, cmd)
    d.check_authorise(cmd.actor)
    number = document_number(cmd.sp2d_number, "SP2D number")
    vendor = _payable_vendor(uow, d.vendor_id)
    line = uow.get(UUID(d.line_id), BudgetLine)
    if line.blocked:
        raise LineBlocked(f"line {line.key} is blocked (blokir); no SP2D may be issued on it")
    line.check_open(d.id)
    who = stamp(cmd.actor, uow.at)
    _claim_number(uow, d, "SP2D", number, who)
    line.realise(d.id, who)
    d.authorise_sp2d(
        sp2d_number=number,
        bank_account=vendor.bank_account,
        vendor_version=vendor.version,
        **d.money(),
        **who,
    )
    return _done(d)


def reject_disbursement(cmd: c.RejectDisbursement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_reject(cmd.actor)
    reason = text(cmd.reason, "rejection reason")
    line = uow.get(UUID(d.line_id), BudgetLine)
    who = stamp(cmd.actor, uow.at)
    step = {Status.REQUESTED: "verify", Status.VERIFIED: "approve", Status.APPROVED: "authorise"}
    line.check_open(d.id)
    line.release(d.id, who)
    d.reject(step=step[Status(d.status)], reason=reason, **who)
    return _done(d)


def cancel_disbursement(cmd: c.CancelDisbursement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_cancel(cmd.actor)
    reason = text(cmd.reason, "cancellation reason")
    line = uow.get(UUID(d.line_id), BudgetLine)
    who = stamp(cmd.actor, uow.at)
    previous = Status(d.status)
    if d.commitment_open:
        line.release(d.id, who)
    else:  # authorised or failed: the SP2D is withdrawn, no money reached the vendor
        line.reverse_realisation(d.id, d.gross, who)
    d.cancel(previous_status=previous.value, reason=reason, **d.money(), **who)
    return _done(d)


def record_transfer_sent(cmd: c.RecordTransferSent, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_send(cmd.actor)
    gateway = name(cmd.gateway, "gateway", max_length=32)
    reference = document_number(cmd.reference, "gateway reference")
    vendor = _payable_vendor(uow, d.vendor_id)
    if vendor.bank_account != d.bank_account:
        raise BankAccountChanged(
            f"SPP {d.spp_number}: vendor {vendor.name} changed bank account after SP2D "
            f"{d.sp2d_number}; the transfer may only go to the account authorised then"
        )
    d.record_sent(gateway=gateway, reference=reference, **d.transfer(), **stamp(cmd.actor, uow.at))
    return _done(d)


def record_settlement(cmd: c.RecordSettlement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_settle(cmd.actor)
    reference = document_number(cmd.bank_reference, "bank reference")
    d.record_settled(bank_reference=reference, **d.transfer(), **stamp(cmd.actor, uow.at))
    return _done(d)


def record_transfer_failed(cmd: c.RecordTransferFailed, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_fail(cmd.actor)
    reason = text(cmd.reason, "failure reason")
    d.record_failed(reason=reason, **d.transfer(), **stamp(cmd.actor, uow.at))
    return _done(d)


def record_transfer_returned(cmd: c.RecordTransferReturned, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_return(cmd.actor)
    reason = text(cmd.reason, "return reason")
    d.record_returned(reason=reason, **d.transfer(), **stamp(cmd.actor, uow.at))
    return _done(d)


def record_transfer_rejected(cmd: c.RecordTransferRejected, uow: UnitOfWork) -> Result:
    """The gateway refused an attempt before sending it: a fact with no money in it (no postings);
    the SP2D stays authorised (or failed) and the attempt number moves on."""
    d = _get_disbursement(uow, cmd)
    d.check_transfer_rejected(cmd.actor)
    gateway = name(cmd.gateway, "gateway", max_length=32)
    reference = document_number(cmd.reference, "gateway reference")
    reason = text(cmd.reason, "rejection reason")
    d.check_new_reference(reference)
    d.record_transfer_rejected(
        gateway=gateway, reference=reference, reason=reason, **stamp(cmd.actor, uow.at)
    )
    return _done(d)


# -- income ------------------------------------------------------------------------------------
def record_revenue(cmd: c.RecordRevenue, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.REVENUE, "record income")
    year = fiscal_year(cmd.year)
    channel = name(cmd.channel, "channel", max_length=32)
    reference = document_number(cmd.reference, "receipt reference")
    payer = name(cmd.payer, "payer")
    gross = require_rupiah(cmd.gross, "gross amount")
    fee = require_non_negative_rupiah(cmd.fee, "fee")
    if fee >= gross:
        raise InvalidInput(f"fee {fee} must be less than the gross {gross}")
    line = _get_line(uow, cmd.pemda, year, cmd.line)
    if is_spending(line.rekening):
        raise InvalidInput(f"line {line.key} is a spending line; income is recorded on 4.x lines")
    revenue_id = ids.revenue_id(cmd.pemda, year, channel, reference)
    if uow.exists(revenue_id):
        raise AlreadyExists(f"receipt {channel}/{reference} is already recorded in {year}")
    revenue = Revenue(
        pemda=cmd.pemda,
        year=year,
        line_id=str(line.id),
        channel=channel,
        reference=reference,
        payer=payer,
        gross=gross,
        fee=fee,
        net=gross - fee,
        **stamp(cmd.actor, uow.at),
    )
    uow.add(revenue)
    return {"id": str(revenue.id), "net": revenue.net}


def reverse_revenue(cmd: c.ReverseRevenue, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.REVENUE, "reverse a receipt")
    year = fiscal_year(cmd.year)
    channel = name(cmd.channel, "channel", max_length=32)
    reference = document_number(cmd.reference, "receipt reference")
    reason = text(cmd.reason, "reversal reason")
    revenue = uow.find(ids.revenue_id(cmd.pemda, year, channel, reference), Revenue)
    if revenue is None:
        raise NotFound(f"no receipt {channel}/{reference} in {year}")
    revenue.reverse(reason, **stamp(cmd.actor, uow.at))
    return {"id": str(revenue.id), "version": revenue.version}


# -- reconciliation ----------------------------------------------------------------------------
# A year of daily files, three a day (statement, payout and settlement reports), plus the ledger
# and the parameters: ``kasda reconcile --since`` over a month or a quarter of daily files.
MAX_RECONCILIATION_INPUTS = 1_200
MAX_RECONCILIATION_EXCEPTIONS = 50_000
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _business_date(value: Any) -> str:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidInput(f"business date must be an ISO date (YYYY-MM-DD), got {value!r}")


def _reconciliation_inputs(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, (tuple, list)) or not 1 <= len(raw) <= MAX_RECONCILIATION_INPUTS:
        raise InvalidInput(f"a run names 1..{MAX_RECONCILIATION_INPUTS} input files")
    inputs = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidInput(
                f"an input is described by name, kind, sha256 and rows, got {item!r}"
            )
        digest = item.get("sha256")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise InvalidInput(
                f"input {item.get('name')!r}: sha256 must be 64 lowercase hex digits"
            )
        inputs.append(
            {
                "name": name(item.get("name"), "input name"),
                "kind": name(item.get("kind"), "input kind", max_length=32),
                "sha256": digest,
                "rows": require_non_negative_rupiah(item.get("rows"), "input rows"),
            }
        )
    return inputs


def _reconciliation_exceptions(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, (tuple, list)):
        raise InvalidInput("exceptions must be a list")
    if len(raw) > MAX_RECONCILIATION_EXCEPTIONS:
        raise LimitExceeded(
            f"at most {MAX_RECONCILIATION_EXCEPTIONS} exceptions per run, got {len(raw)}"
        )
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidInput(f"an exception is a mapping, got {item!r}")
        exception_id = name(item.get("id"), "exception id", max_length=MAX_NUMBER)
        if exception_id in seen:
            raise InvalidInput(f"exception id {exception_id} appears twice")
        seen.add(exception_id)
        found.append(
            {
                "id": exception_id,
                "status": name(item.get("status"), "exception status", max_length=32),
                "amount": require_non_negative_rupiah(item.get("amount"), "exception amount"),
                "reference": name(item.get("reference"), "reference", required=False),
                "detail": text(item.get("detail"), "detail", required=False),
            }
        )
    return found


def record_reconciliation(cmd: c.RecordReconciliation, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.RECONCILE, "record a reconciliation run")
    business_date = _business_date(cmd.business_date)
    inputs = _reconciliation_inputs(cmd.inputs)
    if not isinstance(cmd.counts, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in cmd.counts.items()
    ):
        raise InvalidInput("counts must map a status to a non-negative integer")
    counts = {name(k, "status", max_length=32): v for k, v in cmd.counts.items()}
    exceptions = _reconciliation_exceptions(cmd.exceptions)
    digest = inputs_digest(inputs)
    run_id = ids.reconciliation_run_id(cmd.pemda, business_date, digest)
    if uow.exists(run_id):
        raise AlreadyExists(
            f"the reconciliation of {business_date} over these inputs is already recorded"
        )
    run = ReconciliationRun(
        pemda=cmd.pemda,
        business_date=business_date,
        inputs=inputs,
        inputs_digest=digest,
        counts=counts,
        exceptions=exceptions,
        **stamp(cmd.actor, uow.at),
    )
    uow.add(run)
    return {"id": str(run.id), "exceptions": len(exceptions)}


def resolve_reconciliation_exception(
    cmd: c.ResolveReconciliationException, uow: UnitOfWork
) -> Result:
    cmd.actor.require(roles.RESOLVE_EXCEPTION, "resolve a reconciliation exception")
    if not isinstance(cmd.run_id, UUID):
        raise InvalidInput(f"run id must be a UUID, got {cmd.run_id!r}")
    run = uow.find(cmd.run_id, ReconciliationRun)
    if run is None or run.pemda != cmd.pemda:
        raise NotFound(f"no reconciliation run {cmd.run_id}")
    exception_id = name(cmd.exception_id, "exception id", max_length=MAX_NUMBER)
    reason = text(cmd.reason, "resolution reason")
    run.resolve(exception_id, cmd.resolution, reason, stamp(cmd.actor, uow.at))
    return {"id": str(run.id), "open": len(run.open_exceptions)}


Handler = Callable[[Any, UnitOfWork], Result]

HANDLERS: dict[type[c.Command], Handler] = {
    c.AdoptBudget: adopt_budget,
    c.AmendBudget: amend_budget,
    c.ShiftBudget: shift_budget,
    c.BlockLine: block_line,
    c.UnblockLine: unblock_line,
    c.RegisterVendor: register_vendor,
    c.ChangeVendorBankAccount: change_vendor_bank_account,
    c.DeactivateVendor: deactivate_vendor,
    c.ReactivateVendor: reactivate_vendor,
    c.RequestDisbursement: request_disbursement,
    c.VerifyDisbursement: verify_disbursement,
    c.ApproveSpm: approve_spm,
    c.AuthoriseSp2d: authorise_sp2d,
    c.RejectDisbursement: reject_disbursement,
    c.CancelDisbursement: cancel_disbursement,
    c.RecordTransferSent: record_transfer_sent,
    c.RecordSettlement: record_settlement,
    c.RecordTransferFailed: record_transfer_failed,
    c.RecordTransferReturned: record_transfer_returned,
    c.RecordTransferRejected: record_transfer_rejected,
    c.RecordRevenue: record_revenue,
    c.ReverseRevenue: reverse_revenue,
    c.RecordReconciliation: record_reconciliation,
    c.ResolveReconciliationException: resolve_reconciliation_exception,
}
