"""One handler per command, registered with ``@handles``, which also declares what it reads.

A handler parses the command, loads what it needs through the unit of work, checks what spans
several aggregates (scope, uniqueness, a vendor that must be payable, an account that must not have
changed) and calls the aggregates' command methods, each of which checks its own rules and then
triggers its event (``ledger.budget`` says how). A handler that raises has changed nothing: when a
command changes several aggregates, the handler asks each one first (its ``check_*`` methods, the
same ones its command method runs) so that no event is triggered until every rule has agreed, and
the rules are asked in one fixed order, which decides the error a command with several faults gets.
The application refuses to record a half-applied command all the same.

``@handles(Command, *reads)`` registers a handler. ``reads`` are what the command will read, in
rounds: functions of the command (and of what earlier rounds loaded) returning aggregate ids. The
ledger reads each round for a whole batch in one query, so that a thousand commands do not make a
thousand round trips; a handler finds anything it did not declare on its own, one query each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import commands as c
from ledger import ids, roles
from ledger.budget import Budget, BudgetLine
from ledger.cashplan import MONTHS, CashPlan, check_plan_total, fiscal_month, months_of
from ledger.codes import LineKey, is_spending, normalise_skpd
from ledger.disbursement import Disbursement, Status
from ledger.errors import (
    AlreadyExists,
    BudgetNotOpen,
    InvalidInput,
    LimitExceeded,
    NotFound,
    SpdExceeded,
    VendorNotPayable,
)
from ledger.fields import MAX_NUMBER, document_number, fiscal_year, iso_date, name, text
from ledger.money import parse_deductions, require_non_negative_rupiah, require_rupiah
from ledger.receipts import DocumentNumber
from ledger.reconciliation import ReconciliationRun, inputs_digest
from ledger.redflags import MAX_FLAGS_PER_RUN, RedFlag, RedFlagRun, checked_flag
from ledger.revenue import Revenue
from ledger.stamp import Stamp
from ledger.unit_of_work import UnitOfWork
from ledger.vendor import BankAccount, Vendor, VendorKind, normalise_npwp

MAX_LINES_PER_COMMAND = 20_000
MAX_DOCUMENTS = 16

C = TypeVar("C", bound=c.Command)
Result = dict[str, Any]
# An aggregate a batch has read already, or None (for a later round of reads).
Loaded = Callable[[UUID], Aggregate | None]
Reads = Callable[[Any, Loaded], Iterable[UUID]]


@dataclass(frozen=True, slots=True)
class Handler:
    run: Callable[[Any, UnitOfWork], Result]
    reads: tuple[Reads, ...] = ()


HANDLERS: dict[type[c.Command], Handler] = {}


def handles(
    command: type[C], *reads: Reads
) -> Callable[[Callable[[C, UnitOfWork], Result]], Callable[[C, UnitOfWork], Result]]:
    """Register the decorated function as the handler of ``command``, reading ``reads``."""

    def register(run: Callable[[C, UnitOfWork], Result]) -> Callable[[C, UnitOfWork], Result]:
        assert command not in HANDLERS, f"two handlers for {command.__name__}"
        HANDLERS[command] = Handler(run, reads)
        return run

    return register


def stamp_of(cmd: c.Command, uow: UnitOfWork) -> Stamp:
    return Stamp(cmd.actor, uow.at)


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


def get_line(uow: UnitOfWork, pemda: str, year: int, ref: c.LineRef) -> BudgetLine:
    key = _line_key(ref)
    line = uow.find(_line_id(pemda, year, key), BudgetLine)
    if line is None:
        raise NotFound(f"no budget line {key} in APBD {year} of pemda {pemda}")
    return line


def _budget_read(cmd: c.AdoptBudget | c.AmendBudget | c.ShiftBudget, _: Loaded) -> list[UUID]:
    return [ids.budget_id(cmd.pemda, fiscal_year(cmd.year))]


def _amended_lines(cmd: c.AmendBudget, _: Loaded) -> list[UUID]:
    year = fiscal_year(cmd.year)
    return [ids.budget_id(cmd.pemda, year), *(line_id_of(cmd.pemda, year, s) for s in cmd.lines)]


def _shifted_lines(cmd: c.ShiftBudget, loaded: Loaded) -> list[UUID]:
    year = fiscal_year(cmd.year)
    return [
        *_budget_read(cmd, loaded),
        line_id_of(cmd.pemda, year, cmd.from_line),
        line_id_of(cmd.pemda, year, cmd.to_line),
    ]


def _the_line(cmd: c.BlockLine | c.UnblockLine, _: Loaded) -> list[UUID]:
    return [line_id_of(cmd.pemda, fiscal_year(cmd.year), cmd.line)]


@handles(c.AdoptBudget, _budget_read)
def adopt_budget(cmd: c.AdoptBudget, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "adopt the APBD")
    year = fiscal_year(cmd.year)
    document = document_number(cmd.document, "Perda APBD number")
    lines = _parse_lines(cmd.lines, allow_zero=False)
    if uow.exists(ids.budget_id(cmd.pemda, year)):
        raise AlreadyExists(
            f"APBD {year} of pemda {cmd.pemda} is already adopted; amend it instead"
        )
    by = stamp_of(cmd, uow)
    created = [
        BudgetLine.allocate(cmd.pemda, year, key, uraian, pagu, document, by)
        for key, uraian, pagu in lines
    ]
    budget = Budget.adopt(cmd.pemda, year, document, created, by)
    for aggregate in (budget, *created):
        uow.add(aggregate)
    return {"id": str(budget.id), "lines": len(created), "total_pagu": budget.total_pagu}


def _amendment(
    uow: UnitOfWork, pemda: str, year: int, lines: list[tuple[LineKey, str, int]]
) -> tuple[list[tuple[BudgetLine, int]], list[tuple[LineKey, str, int]]]:
    """The lines an APBD-P changes and those it adds, each line asked first whether it may."""
    changes: list[tuple[BudgetLine, int]] = []
    additions: list[tuple[LineKey, str, int]] = []
    for key, uraian, pagu in lines:
        line = uow.find(_line_id(pemda, year, key), BudgetLine)
        if line is None:
            if pagu == 0:
                raise InvalidInput(f"new line {key} needs a pagu greater than zero")
            additions.append((key, uraian, pagu))
            continue
        line.check_amend(pagu)
        if pagu != line.pagu:
            changes.append((line, pagu))
    if not changes and not additions:
        raise InvalidInput("the amendment changes no line")
    return changes, additions


@handles(c.AmendBudget, _amended_lines)
def amend_budget(cmd: c.AmendBudget, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "amend the APBD (APBD-P)")
    year = fiscal_year(cmd.year)
    document = document_number(cmd.document, "Perda APBD-P number")
    lines = _parse_lines(cmd.lines, allow_zero=True)
    budget = _get_budget(uow, cmd.pemda, year)
    changes, additions = _amendment(uow, cmd.pemda, year, lines)
    by = stamp_of(cmd, uow)
    delta = sum(pagu - line.pagu for line, pagu in changes) + sum(p for _, _, p in additions)
    # The budget first: its total is the one rule left to ask, and it asks before it triggers.
    budget.amend(
        document=document,
        new_line_ids=[str(_line_id(cmd.pemda, year, key)) for key, _, _ in additions],
        changed_line_ids=[str(line.id) for line, _ in changes],
        pagu_delta=delta,
        by=by,
    )
    for line, pagu in changes:
        line.amend(pagu, document, by)
    for key, uraian, pagu in additions:
        uow.add(BudgetLine.allocate(cmd.pemda, year, key, uraian, pagu, document, by))
    return {"id": str(budget.id), "changed": len(changes), "added": len(additions), "delta": delta}


@handles(c.ShiftBudget, _shifted_lines)
def shift_budget(cmd: c.ShiftBudget, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "shift pagu (pergeseran)")
    year = fiscal_year(cmd.year)
    document = document_number(cmd.document, "pergeseran decree number")
    amount = require_rupiah(cmd.amount, "shifted amount")
    budget = _get_budget(uow, cmd.pemda, year)
    source = get_line(uow, cmd.pemda, year, cmd.from_line)
    target = get_line(uow, cmd.pemda, year, cmd.to_line)
    if source.id == target.id:
        raise InvalidInput("a pergeseran needs two different lines")
    if is_spending(source.rekening) != is_spending(target.rekening):
        raise InvalidInput(
            f"a pergeseran moves pagu between spending lines or between income lines, "
            f"not from {source.rekening} to {target.rekening}"
        )
    by = stamp_of(cmd, uow)
    source.shift_out(amount, target.id, document, by)  # the one that may refuse: first
    target.shift_in(amount, source.id, document, by)
    budget.shift(document, source.id, target.id, amount, by)
    return {"id": str(budget.id), "from": str(source.id), "to": str(target.id), "amount": amount}


@handles(c.BlockLine, _the_line)
def block_line(cmd: c.BlockLine, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "block a line (blokir)")
    line = get_line(uow, cmd.pemda, fiscal_year(cmd.year), cmd.line)
    line.block(text(cmd.reason, "reason"), stamp_of(cmd, uow))
    return {"id": str(line.id), "blocked": True}


@handles(c.UnblockLine, _the_line)
def unblock_line(cmd: c.UnblockLine, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "unblock a line")
    line = get_line(uow, cmd.pemda, fiscal_year(cmd.year), cmd.line)
    line.unblock(text(cmd.reason, "reason"), stamp_of(cmd, uow))
    return {"id": str(line.id), "blocked": False}


# -- anggaran kas and SPD ----------------------------------------------------------------------


def _cash_plan_reads(cmd: c.AdoptCashPlan | c.AmendCashPlan | c.IssueSpd, _: Loaded) -> list[UUID]:
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    found = [ids.budget_id(cmd.pemda, year), ids.cash_plan_id(cmd.pemda, year, skpd)]
    if isinstance(cmd, c.IssueSpd):
        return [*found, ids.document_number_id(cmd.pemda, year, "SPD", str(cmd.spd_number).strip())]
    return [*found, *(line_id_of(cmd.pemda, year, p.line) for p in cmd.lines)]


def cash_plan_for(uow: UnitOfWork, pemda: str, year: int, skpd: str) -> CashPlan | None:
    """The SKPD's anggaran kas and SPD, or None in a year that does not run on SPD (no anggaran kas
    adopted for any SKPD yet). Once one is, an SKPD without its own has nothing to spend."""
    plan = uow.find(ids.cash_plan_id(pemda, year, skpd), CashPlan)
    if plan is None:
        budget = uow.find(ids.budget_id(pemda, year), Budget)
        if budget is not None and budget.cash_plan_required:
            raise SpdExceeded(
                f"SKPD {skpd} has no anggaran kas and no SPD for {year}; nothing may be spent"
            )
    return plan


def _line_plans(
    cmd: c.AdoptCashPlan | c.AmendCashPlan, uow: UnitOfWork, year: int, skpd: str
) -> dict[str, list[int]]:
    if not isinstance(cmd.lines, tuple) or not cmd.lines:
        raise InvalidInput("an anggaran kas names at least one line")
    if len(cmd.lines) > MAX_LINES_PER_COMMAND:
        raise LimitExceeded(f"at most {MAX_LINES_PER_COMMAND} lines per command")
    plans: dict[str, list[int]] = {}
    for item in cmd.lines:
        if not isinstance(item, c.LinePlan) or not isinstance(item.months, tuple):
            raise InvalidInput(f"a line's plan is its line and its amounts, got {item!r}")
        line = get_line(uow, cmd.pemda, year, item.line)
        if line.skpd != skpd:
            raise InvalidInput(f"line {line.key} is not a line of SKPD {skpd}")
        line.check_spending()
        if str(line.id) in plans:
            raise InvalidInput(f"line {line.key} appears twice in one anggaran kas")
        months = months_of(item.months)
        for month, amount in enumerate(months, 1):
            require_non_negative_rupiah(amount, f"plan of line {line.key} for month {month}")
        check_plan_total(str(line.key), months, line.pagu)
        plans[str(line.id)] = months
    return plans


@handles(c.AdoptCashPlan, _cash_plan_reads)
def adopt_cash_plan(cmd: c.AdoptCashPlan, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "adopt an anggaran kas")
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    document = document_number(cmd.document, "anggaran kas decision number")
    budget = _get_budget(uow, cmd.pemda, year)
    plans = _line_plans(cmd, uow, year, skpd)
    if uow.exists(ids.cash_plan_id(cmd.pemda, year, skpd)):
        raise AlreadyExists(f"the anggaran kas {year} of SKPD {skpd} is adopted; amend it instead")
    by = stamp_of(cmd, uow)
    budget.require_cash_plan(by)
    plan = CashPlan.adopt(cmd.pemda, year, skpd, document, plans, by)
    uow.add(plan)
    return {"id": str(plan.id), "lines": len(plans), "planned": plan.planned_through(MONTHS)}


def _get_cash_plan(uow: UnitOfWork, pemda: str, year: int, skpd: str) -> CashPlan:
    plan = uow.find(ids.cash_plan_id(pemda, year, skpd), CashPlan)
    if plan is None:
        raise NotFound(f"no anggaran kas {year} is adopted for SKPD {skpd}")
    return plan


@handles(c.AmendCashPlan, _cash_plan_reads)
def amend_cash_plan(cmd: c.AmendCashPlan, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "amend an anggaran kas")
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    document = document_number(cmd.document, "anggaran kas decision number")
    plan = _get_cash_plan(uow, cmd.pemda, year, skpd)
    plans = _line_plans(cmd, uow, year, skpd)
    plan.amend(document, plans, stamp_of(cmd, uow))
    return {"id": str(plan.id), "lines": len(plans), "planned": plan.planned_through(MONTHS)}


def _month(value: Any, what: str) -> int:
    if type(value) is not int or not 1 <= value <= MONTHS:
        raise InvalidInput(f"{what} must be a month 1..12, got {value!r}")
    return value


@handles(c.IssueSpd, _cash_plan_reads)
def issue_spd(cmd: c.IssueSpd, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.AUTHORISE, "issue an SPD")
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    number = document_number(cmd.spd_number, "SPD number")
    first, last = _month(cmd.first_month, "first month"), _month(cmd.last_month, "last month")
    amount = require_rupiah(cmd.amount, "SPD amount")
    plan = _get_cash_plan(uow, cmd.pemda, year, skpd)
    plan.check_spd(number, first, last, amount)
    if uow.exists(ids.document_number_id(cmd.pemda, year, "SPD", number)):
        raise AlreadyExists(f"SPD number {number} is already issued in {year}")
    by = stamp_of(cmd, uow)
    uow.add(DocumentNumber.claim(cmd.pemda, year, "SPD", number, plan.id, by))
    plan.issue_spd(number, first, last, amount, by)
    return {"id": str(plan.id), "issued": plan.issued, "available": plan.available(last)}


# -- vendors -----------------------------------------------------------------------------------
def _the_vendor(cmd: Any, _: Loaded) -> list[UUID]:
    return [ids.vendor_id(cmd.pemda, normalise_npwp(cmd.npwp))]


def _get_vendor(uow: UnitOfWork, pemda: str, npwp: Any) -> Vendor:
    number = normalise_npwp(npwp)
    vendor = uow.find(ids.vendor_id(pemda, number), Vendor)
    if vendor is None:
        # Nothing to change: the vendor named is not there (404). Paying an unregistered vendor
        # is another matter, a conflict with the registry (``_payable_vendor``, 409).
        raise NotFound(f"no vendor with NPWP {number} is registered in pemda {pemda}")
    return vendor


def _payable_vendor(uow: UnitOfWork, vendor_id: UUID, missing: str) -> Vendor:
    vendor = uow.find(vendor_id, Vendor)
    if vendor is None:
        raise VendorNotPayable(missing)
    vendor.check_payable()
    return vendor


@handles(c.RegisterVendor, _the_vendor)
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
    if uow.exists(ids.vendor_id(cmd.pemda, npwp)):
        raise AlreadyExists(f"a vendor with NPWP {npwp} is already registered")
    vendor = Vendor.register(cmd.pemda, npwp, vendor_name, kind, account, stamp_of(cmd, uow))
    uow.add(vendor)
    return {"id": str(vendor.id), "npwp": npwp}


@handles(c.ChangeVendorBankAccount, _the_vendor)
def change_vendor_bank_account(cmd: c.ChangeVendorBankAccount, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "change a vendor's bank account")
    account = BankAccount.parse(cmd.bank_code, cmd.account_number, cmd.account_holder)
    reason = text(cmd.reason, "reason")
    vendor = _get_vendor(uow, cmd.pemda, cmd.npwp)
    vendor.change_bank_account(account, reason, stamp_of(cmd, uow))
    return {"id": str(vendor.id), "version": vendor.version}


@handles(c.DeactivateVendor, _the_vendor)
def deactivate_vendor(cmd: c.DeactivateVendor, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "deactivate a vendor")
    reason = text(cmd.reason, "reason")
    vendor = _get_vendor(uow, cmd.pemda, cmd.npwp)
    vendor.deactivate(reason, stamp_of(cmd, uow))
    return {"id": str(vendor.id), "active": False}


@handles(c.ReactivateVendor, _the_vendor)
def reactivate_vendor(cmd: c.ReactivateVendor, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.VENDOR_ADMIN, "reactivate a vendor")
    reason = text(cmd.reason, "reason")
    vendor = _get_vendor(uow, cmd.pemda, cmd.npwp)
    vendor.reactivate(reason, stamp_of(cmd, uow))
    return {"id": str(vendor.id), "active": True}


# -- disbursements -----------------------------------------------------------------------------
def documents_of(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidInput("documents must map a document kind to its number")
    if len(raw) > MAX_DOCUMENTS:
        raise LimitExceeded(f"at most {MAX_DOCUMENTS} supporting documents")
    return {
        name(k, "document kind", max_length=32): document_number(v, f"document {k}")
        for k, v in raw.items()
    }


def _requested(cmd: c.RequestDisbursement, _: Loaded) -> list[UUID]:
    return [
        line_id_of(cmd.pemda, cmd.year, cmd.line),
        ids.vendor_id(cmd.pemda, normalise_npwp(cmd.vendor_npwp)),
        ids.disbursement_id(cmd.pemda, cmd.year, str(cmd.spp_number).strip()),
        ids.budget_id(cmd.pemda, cmd.year),
        ids.cash_plan_id(cmd.pemda, cmd.year, _line_key(cmd.line).skpd),
        ids.advance_order_id(cmd.pemda, cmd.year, str(cmd.spp_number).strip()),
    ]


def _the_disbursement(cmd: c.DisbursementCommand, _: Loaded) -> list[UUID]:
    # A malformed id (not a UUID, maybe not even hashable) is the handler's to refuse.
    return [cmd.disbursement_id] if isinstance(cmd.disbursement_id, UUID) else []


def _its_parties(cmd: c.DisbursementCommand, loaded: Loaded) -> list[UUID]:
    """The line and the vendor of the disbursement, once it is loaded."""
    d = loaded(cmd.disbursement_id) if isinstance(cmd.disbursement_id, UUID) else None
    return [UUID(d.line_id), UUID(d.vendor_id)] if isinstance(d, Disbursement) else []


def _its_parties_and(kind: str, number_field: str) -> Reads:
    """``_its_parties`` and the claim of the SPM or SP2D number the command issues."""

    def reads(cmd: c.DisbursementCommand, loaded: Loaded) -> list[UUID]:
        parties = _its_parties(cmd, loaded)
        number = getattr(cmd, number_field)
        if not parties or not isinstance(number, str):
            return parties
        d = loaded(cmd.disbursement_id)
        assert isinstance(d, Disbursement)  # its parties were found
        return [*parties, ids.document_number_id(d.pemda, d.year, kind, number.strip())]

    return reads


def _its_cash_plan(cmd: c.DisbursementCommand, loaded: Loaded) -> list[UUID]:
    """The budget and the anggaran kas / SPD of the disbursement's SKPD, once its line is loaded."""
    d = loaded(cmd.disbursement_id) if isinstance(cmd.disbursement_id, UUID) else None
    line = loaded(UUID(d.line_id)) if isinstance(d, Disbursement) else None
    if not isinstance(d, Disbursement) or not isinstance(line, BudgetLine):
        return []
    return [ids.budget_id(d.pemda, d.year), ids.cash_plan_id(d.pemda, d.year, line.skpd)]


_DISBURSEMENT = (_the_disbursement, _its_parties)
# Steps that charge, pay or give back SPD: they also read the SKPD's anggaran kas.
_SPENDING = (*_DISBURSEMENT, _its_cash_plan)


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


@handles(c.RequestDisbursement, _requested)
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
    documents = documents_of(cmd.documents)
    line = get_line(uow, cmd.pemda, year, cmd.line)
    line.check_spending()
    npwp = normalise_npwp(cmd.vendor_npwp)
    vendor = _payable_vendor(
        uow,
        ids.vendor_id(cmd.pemda, npwp),
        f"no vendor with NPWP {npwp} is registered in pemda {cmd.pemda}",
    )
    line.check_commit(gross)
    disbursement_id = ids.disbursement_id(cmd.pemda, year, spp_number)
    # A number used before is refused as such (unique_identity), before the SPD is asked: the SPD
    # would otherwise answer for it ("already charged"), with another rule and status.
    if uow.exists(disbursement_id) or uow.exists(ids.advance_order_id(cmd.pemda, year, spp_number)):
        raise AlreadyExists(f"SPP number {spp_number} is already used in {year}")
    plan = cash_plan_for(uow, cmd.pemda, year, line.skpd)
    month = fiscal_month(uow.at, year)
    if plan is not None:
        plan.check_commit(disbursement_id, gross, month)
    by = stamp_of(cmd, uow)
    line.commit(disbursement_id, gross, by)
    if plan is not None:
        plan.commit(disbursement_id, gross, month, by)
    disbursement = Disbursement.request(
        pemda=cmd.pemda,
        year=year,
        spp_number=spp_number,
        line_id=line.id,
        vendor_id=vendor.id,
        gross=gross,
        deductions=deductions,
        description=description,
        documents=documents,
        by=by,
    )
    uow.add(disbursement)
    return {
        "id": str(disbursement.id),
        "status": Status(disbursement.status).value,
        "net": disbursement.net,
    }


def _unclaimed(uow: UnitOfWork, d: Disbursement, kind: str, number: str) -> UUID:
    """The id an SPM or SP2D number is claimed under; raise if it is issued already."""
    claim_id = ids.document_number_id(d.pemda, d.year, kind, number)
    if uow.exists(claim_id):
        raise AlreadyExists(f"{kind} number {number} is already issued in {d.year}")
    return claim_id


def _done(d: Disbursement) -> Result:
    return {"id": str(d.id), "status": Status(d.status).value, "version": d.version}


@handles(c.VerifyDisbursement, *_DISBURSEMENT)
def verify_disbursement(cmd: c.VerifyDisbursement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.verify(stamp_of(cmd, uow))
    return _done(d)


@handles(c.ApproveSpm, _the_disbursement, _its_parties_and("SPM", "spm_number"))
def approve_spm(cmd: c.ApproveSpm, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_approve(cmd.actor)
    number = document_number(cmd.spm_number, "SPM number")
    _unclaimed(uow, d, "SPM", number)
    by = stamp_of(cmd, uow)
    uow.add(DocumentNumber.claim(d.pemda, d.year, "SPM", number, d.id, by))
    d.approve(number, by)
    return _done(d)


@handles(
    c.AuthoriseSp2d, _the_disbursement, _its_parties_and("SP2D", "sp2d_number"), _its_cash_plan
)
def authorise_sp2d(cmd: c.AuthoriseSp2d, uow: UnitOfWork) -> Result:
    """Kuasa BUD issues the SP2D: spending is realised and the beneficiary account is fixed."""
    d = _get_disbursement(uow, cmd)
    d.check_authorise(cmd.actor)
    number = document_number(cmd.sp2d_number, "SP2D number")
    vendor = _payable_vendor(uow, UUID(d.vendor_id), f"vendor {d.vendor_id} is not registered")
    line = uow.get(UUID(d.line_id), BudgetLine)
    line.check_realise(d.id)
    plan = cash_plan_for(uow, d.pemda, d.year, line.skpd)
    month = fiscal_month(uow.at, d.year)
    if plan is not None:
        plan.check_pay(d.id, d.gross, month)
    _unclaimed(uow, d, "SP2D", number)
    by = stamp_of(cmd, uow)
    uow.add(DocumentNumber.claim(d.pemda, d.year, "SP2D", number, d.id, by))
    line.realise(d.id, by)
    if plan is not None:
        plan.pay(d.id, d.gross, month, by)
    d.authorise(number, vendor.bank_account, vendor.version, by)
    return _done(d)


def _spd_of(uow: UnitOfWork, d: Disbursement, line: BudgetLine) -> CashPlan | None:
    """The SPD register that holds a charge of ``d``, if any (none in a year without SPD, or for
    an SPP requested before its year began to run on SPD)."""
    plan = uow.find(ids.cash_plan_id(d.pemda, d.year, line.skpd), CashPlan)
    return plan if plan is not None and (plan.holds(d.id) or plan.was_realised(d.id)) else None


@handles(c.RejectDisbursement, *_SPENDING)
def reject_disbursement(cmd: c.RejectDisbursement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_reject(cmd.actor)
    reason = text(cmd.reason, "rejection reason")
    line = uow.get(UUID(d.line_id), BudgetLine)
    plan = _spd_of(uow, d, line)
    by = stamp_of(cmd, uow)
    line.release(d.id, by)
    if plan is not None:
        plan.release(d.id, by)
    d.reject(reason, by)
    return _done(d)


@handles(c.CancelDisbursement, *_SPENDING)
def cancel_disbursement(cmd: c.CancelDisbursement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_cancel(cmd.actor)
    reason = text(cmd.reason, "cancellation reason")
    line = uow.get(UUID(d.line_id), BudgetLine)
    plan = _spd_of(uow, d, line)
    by = stamp_of(cmd, uow)
    if d.commitment_open:
        line.release(d.id, by)
        if plan is not None:
            plan.release(d.id, by)
    else:  # authorised or failed: the SP2D is withdrawn, no money reached the vendor
        line.reverse_realisation(d.id, d.gross, by)
        if plan is not None:
            plan.reverse(d.id, by)
    d.cancel(reason, by)
    return _done(d)


@handles(c.RecordTransferSent, *_DISBURSEMENT)
def record_transfer_sent(cmd: c.RecordTransferSent, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_send(cmd.actor)
    gateway = name(cmd.gateway, "gateway", max_length=32)
    reference = document_number(cmd.reference, "gateway reference")
    vendor = uow.find(UUID(d.vendor_id), Vendor)
    if vendor is None:
        raise VendorNotPayable(f"vendor {d.vendor_id} is not registered")
    d.check_payee(vendor)
    d.record_sent(gateway, reference, stamp_of(cmd, uow))
    return _done(d)


@handles(c.RecordSettlement, *_DISBURSEMENT)
def record_settlement(cmd: c.RecordSettlement, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_settle(cmd.actor)
    reference = document_number(cmd.bank_reference, "bank reference")
    d.record_settled(reference, stamp_of(cmd, uow))
    return _done(d)


@handles(c.RecordTransferFailed, *_DISBURSEMENT)
def record_transfer_failed(cmd: c.RecordTransferFailed, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_fail(cmd.actor)
    reason = text(cmd.reason, "failure reason")
    d.record_failed(reason, stamp_of(cmd, uow))
    return _done(d)


@handles(c.RecordTransferReturned, *_DISBURSEMENT)
def record_transfer_returned(cmd: c.RecordTransferReturned, uow: UnitOfWork) -> Result:
    d = _get_disbursement(uow, cmd)
    d.check_return(cmd.actor)
    reason = text(cmd.reason, "return reason")
    d.record_returned(reason, stamp_of(cmd, uow))
    return _done(d)


@handles(c.RecordTransferRejected, *_DISBURSEMENT)
def record_transfer_rejected(cmd: c.RecordTransferRejected, uow: UnitOfWork) -> Result:
    """The gateway refused an attempt before sending it: a fact with no money in it (no postings);
    the SP2D stays authorised (or failed) and the attempt number moves on."""
    d = _get_disbursement(uow, cmd)
    d.check_transfer_rejected(cmd.actor)
    gateway = name(cmd.gateway, "gateway", max_length=32)
    reference = document_number(cmd.reference, "gateway reference")
    reason = text(cmd.reason, "rejection reason")
    d.record_transfer_rejected(gateway, reference, reason, stamp_of(cmd, uow))
    return _done(d)


# -- a returned transfer paid again (issue 16) -----------------------------------------------------
@handles(c.ReissueReturnedTransfer, *_DISBURSEMENT)
def reissue_returned_transfer(cmd: c.ReissueReturnedTransfer, uow: UnitOfWork) -> Result:
    """The same SP2D, authorised again to the vendor's corrected account: no new SPP, SP2D number
    or realisation (the SP2D realised the spending already), and no postings (``Returned`` reopened
    the payable; the next transfer moves it as any other)."""
    d = _get_disbursement(uow, cmd)
    d.check_reissue(cmd.actor)
    reason = text(cmd.reason, "reason")
    vendor = _payable_vendor(uow, UUID(d.vendor_id), f"vendor {d.vendor_id} is not registered")
    d.reissue(vendor, reason, Stamp(cmd.actor, uow.at))
    return {**_done(d), "reissue": d.reissues}


# -- income ------------------------------------------------------------------------------------
def _receipt_key(cmd: c.RecordRevenue | c.ReverseRevenue) -> tuple[int, str, str]:
    """The year, channel and reference that name a receipt."""
    return (
        fiscal_year(cmd.year),
        name(cmd.channel, "channel", max_length=32),
        document_number(cmd.reference, "receipt reference"),
    )


def _the_receipt(cmd: c.RecordRevenue | c.ReverseRevenue, _: Loaded) -> list[UUID]:
    return [ids.revenue_id(cmd.pemda, *_receipt_key(cmd))]


def _received(cmd: c.RecordRevenue, loaded: Loaded) -> list[UUID]:
    return [line_id_of(cmd.pemda, fiscal_year(cmd.year), cmd.line), *_the_receipt(cmd, loaded)]


@handles(c.RecordRevenue, _received)
def record_revenue(cmd: c.RecordRevenue, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.REVENUE, "record income")
    year, channel, reference = _receipt_key(cmd)
    payer = name(cmd.payer, "payer")
    gross = require_rupiah(cmd.gross, "gross amount")
    fee = require_non_negative_rupiah(cmd.fee, "fee")
    if fee >= gross:
        raise InvalidInput(f"fee {fee} must be less than the gross {gross}")
    line = get_line(uow, cmd.pemda, year, cmd.line)
    line.check_income()
    revenue_id = ids.revenue_id(cmd.pemda, year, channel, reference)
    if uow.exists(revenue_id):
        raise AlreadyExists(f"receipt {channel}/{reference} is already recorded in {year}")
    by = stamp_of(cmd, uow)
    revenue = Revenue.receive(cmd.pemda, year, line.id, channel, reference, payer, gross, fee, by)
    line.record_income(revenue.id, gross, by)
    uow.add(revenue)
    return {"id": str(revenue.id), "net": revenue.net}


def _its_line(cmd: c.ReverseRevenue, loaded: Loaded) -> list[UUID]:
    found = [loaded(i) for i in _the_receipt(cmd, loaded)]
    return [UUID(r.line_id) for r in found if isinstance(r, Revenue)]


@handles(c.ReverseRevenue, _the_receipt, _its_line)
def reverse_revenue(cmd: c.ReverseRevenue, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.REVENUE, "reverse a receipt")
    year, channel, reference = _receipt_key(cmd)
    reason = text(cmd.reason, "reversal reason")
    revenue = uow.find(ids.revenue_id(cmd.pemda, year, channel, reference), Revenue)
    if revenue is None:
        raise NotFound(f"no receipt {channel}/{reference} in {year}")
    line = uow.get(UUID(revenue.line_id), BudgetLine)
    line.check_open("reverse a receipt")
    by = stamp_of(cmd, uow)
    revenue.reverse(reason, by)
    line.reverse_income(revenue.id, revenue.gross, by)
    return {"id": str(revenue.id), "version": revenue.version}


# -- reconciliation ----------------------------------------------------------------------------
# A year of daily files, three a day (statement, payout and settlement reports), plus the ledger
# and the parameters: ``kasda reconcile --since`` over a month or a quarter of daily files.
MAX_RECONCILIATION_INPUTS = 1_200
MAX_RECONCILIATION_EXCEPTIONS = 50_000
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _business_date(value: Any) -> str:
    return iso_date(value, "business date").isoformat()


def _reconciliation_input(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInput(f"an input is described by name, kind, sha256 and rows, got {item!r}")
    digest = item.get("sha256")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise InvalidInput(f"input {item.get('name')!r}: sha256 must be 64 lowercase hex digits")
    return {
        "name": name(item.get("name"), "input name"),
        "kind": name(item.get("kind"), "input kind", max_length=32),
        "sha256": digest,
        "rows": require_non_negative_rupiah(item.get("rows"), "input rows"),
    }


def _reconciliation_inputs(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, (tuple, list)) or not 1 <= len(raw) <= MAX_RECONCILIATION_INPUTS:
        raise InvalidInput(f"a run names 1..{MAX_RECONCILIATION_INPUTS} input files")
    return [_reconciliation_input(item) for item in raw]


def _reconciliation_exception(item: Any, seen: set[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidInput(f"an exception is a mapping, got {item!r}")
    exception_id = name(item.get("id"), "exception id", max_length=MAX_NUMBER)
    if exception_id in seen:
        raise InvalidInput(f"exception id {exception_id} appears twice")
    seen.add(exception_id)
    return {
        "id": exception_id,
        "status": name(item.get("status"), "exception status", max_length=32),
        "amount": require_non_negative_rupiah(item.get("amount"), "exception amount"),
        "reference": name(item.get("reference"), "reference", required=False),
        "detail": text(item.get("detail"), "detail", required=False),
    }


def _reconciliation_exceptions(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, (tuple, list)):
        raise InvalidInput("exceptions must be a list")
    if len(raw) > MAX_RECONCILIATION_EXCEPTIONS:
        raise LimitExceeded(
            f"at most {MAX_RECONCILIATION_EXCEPTIONS} exceptions per run, got {len(raw)}"
        )
    seen: set[str] = set()
    return [_reconciliation_exception(item, seen) for item in raw]


def _reconciliation_counts(raw: Any) -> dict[str, int]:
    return {name(k, "status", max_length=32): v for k, v in _counts(raw).items()}


@handles(c.RecordReconciliation)  # its id hangs on a digest of every input: found when parsed
def record_reconciliation(cmd: c.RecordReconciliation, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.RECONCILE, "record a reconciliation run")
    business_date = _business_date(cmd.business_date)
    inputs = _reconciliation_inputs(cmd.inputs)
    counts = _reconciliation_counts(cmd.counts)
    exceptions = _reconciliation_exceptions(cmd.exceptions)
    digest = inputs_digest(inputs)
    if uow.exists(ids.reconciliation_run_id(cmd.pemda, business_date, digest)):
        raise AlreadyExists(
            f"the reconciliation of {business_date} over these inputs is already recorded"
        )
    run = ReconciliationRun.record(
        cmd.pemda, business_date, inputs, digest, counts, exceptions, stamp_of(cmd, uow)
    )
    uow.add(run)
    return {"id": str(run.id), "exceptions": len(exceptions)}


def _the_run(cmd: c.ResolveReconciliationException, _: Loaded) -> list[UUID]:
    return [cmd.run_id] if isinstance(cmd.run_id, UUID) else []


@handles(c.ResolveReconciliationException, _the_run)
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
    run.resolve(exception_id, cmd.resolution, reason, stamp_of(cmd, uow))
    return {"id": str(run.id), "open": len(run.open_exceptions)}


# -- red flags ---------------------------------------------------------------------------------
_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_THRESHOLDS_BYTES = 64 * 1024


def _raised_flags(cmd: c.RecordRedFlagRun, _: Loaded) -> list[UUID]:
    # Every flag the run names, read in one round: most were raised by an earlier run.
    found = []
    for item in cmd.flags[:MAX_FLAGS_PER_RUN] if isinstance(cmd.flags, tuple) else ():
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            try:
                found.append(ids.red_flag_id(cmd.pemda, str(UUID(item["id"]))))
            except ValueError:
                continue
    return found


def _run_thresholds(cmd: c.RecordRedFlagRun) -> dict[str, Any]:
    if not isinstance(cmd.thresholds, dict) or len(repr(cmd.thresholds)) > MAX_THRESHOLDS_BYTES:
        raise InvalidInput(f"thresholds are a table of at most {MAX_THRESHOLDS_BYTES} bytes")
    if not isinstance(cmd.thresholds_digest, str) or not _DIGEST.fullmatch(cmd.thresholds_digest):
        raise InvalidInput("the thresholds' digest must be 64 lowercase hex digits")
    return cmd.thresholds


def _run_rules(cmd: c.RecordRedFlagRun, flags: list[dict[str, Any]]) -> list[str]:
    rules = sorted({name(r, "rule", max_length=48) for r in cmd.rules})
    if not rules:
        raise InvalidInput("a red-flag run names the rules it ran")
    stray = {f["rule"] for f in flags} - set(rules)
    if stray:
        raise InvalidInput(f"flags of rules the run did not run: {', '.join(sorted(stray))}")
    return rules


@handles(c.RecordRedFlagRun, _raised_flags)
def record_red_flag_run(cmd: c.RecordRedFlagRun, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.RECORD_RED_FLAGS, "record a red-flag run")
    if type(cmd.position) is not int or cmd.position < 0:
        raise InvalidInput(f"position must be a non-negative integer, got {cmd.position!r}")
    as_of = None if cmd.as_of is None else _business_date(cmd.as_of)
    if not isinstance(cmd.flags, tuple) or len(cmd.flags) > MAX_FLAGS_PER_RUN:
        raise LimitExceeded(f"a red-flag run records at most {MAX_FLAGS_PER_RUN} flags")
    flags = [checked_flag(item) for item in cmd.flags]
    if len({f["id"] for f in flags}) != len(flags):
        raise InvalidInput("a red-flag run names each flag once")
    thresholds, rules = _run_thresholds(cmd), _run_rules(cmd, flags)
    truncated = {name(k, "rule", max_length=48): v for k, v in _counts(cmd.truncated).items()}
    run_id = ids.red_flag_run_id(cmd.pemda, cmd.position, as_of, cmd.thresholds_digest, rules)
    if uow.exists(run_id):
        raise AlreadyExists(
            "this red-flag run (the same log position, thresholds and rules) is already recorded"
        )
    by = stamp_of(cmd, uow)
    run = RedFlagRun.record(
        cmd.pemda, cmd.position, as_of, thresholds, cmd.thresholds_digest, rules,
        [f["id"] for f in flags], truncated, by,
    )  # fmt: skip
    uow.add(run)
    raised = 0
    for flag in flags:
        if not uow.exists(ids.red_flag_id(cmd.pemda, flag["id"])):
            uow.add(RedFlag.raise_(cmd.pemda, run.id, flag, by))
            raised += 1
    return {"id": str(run.id), "flags": len(flags), "raised": raised}


def _counts(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in raw.items()
    ):
        raise InvalidInput("counts must map a name to a non-negative integer")
    return raw


def _the_flag(cmd: c.ReviewRedFlag, _: Loaded) -> list[UUID]:
    return [ids.red_flag_id(cmd.pemda, str(cmd.flag_id))] if isinstance(cmd.flag_id, UUID) else []


@handles(c.ReviewRedFlag, _the_flag)
def review_red_flag(cmd: c.ReviewRedFlag, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.REVIEW_RED_FLAG, "review a red flag")
    if not isinstance(cmd.flag_id, UUID):
        raise InvalidInput(f"flag id must be a UUID, got {cmd.flag_id!r}")
    flag = uow.find(ids.red_flag_id(cmd.pemda, str(cmd.flag_id)), RedFlag)
    if flag is None:
        raise NotFound(f"no red flag {cmd.flag_id} in pemda {cmd.pemda}")
    reason = text(cmd.reason, "review reason")
    flag.review(cmd.decision, reason, stamp_of(cmd, uow))
    return {"id": str(cmd.flag_id), "status": flag.status}


# The bendahara's advance (UP/GU/TU, SPJ, KKPD) and the tutup tahun (``ledger.yearend``) register
# their handlers from modules of their own (they import this module's ``handles``).
from ledger import advance_handlers, feed, yearend  # noqa: E402, F401
