"""Handlers of the bendahara's advance: UP / GU / TU orders, SPJ entries, KKPD cards and bills.

Registered with ``ledger.handlers.handles`` like every other handler (``ledger.handlers`` imports
this module last). The aggregates are ``ledger.advance``; an SPJ entry commits its line's pagu and
charges its SKPD's SPD exactly as an SPP-LS does, and the SP2D of the GU (or GU nihil) that accounts
for it is what realises it, on the line and on the SPD.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from ledger import commands as c
from ledger import ids, roles
from ledger.advance import Advance, AdvanceOrder, Channel, Mechanism
from ledger.budget import BudgetLine
from ledger.cashplan import WIB, CashPlan, fiscal_month
from ledger.codes import normalise_skpd
from ledger.errors import AdvanceRule, AlreadyExists, InvalidInput, NotFound
from ledger.fields import document_number, fiscal_year, iso_date, name, text
from ledger.handlers import (
    Loaded,
    Result,
    cash_plan_for,
    documents_of,
    get_line,
    handles,
    line_id_of,
    stamp_of,
)
from ledger.money import require_non_negative_rupiah, require_rupiah
from ledger.receipts import DocumentNumber
from ledger.stamp import Stamp
from ledger.steps import Status
from ledger.unit_of_work import UnitOfWork
from ledger.vendor import BankAccount

MAX_CARD_ID = 32


def card_id(value: Any) -> str:
    """A card as kasda keys it: the number as printed, masked or not, without spaces or dashes,
    upper case ("5264-xxxx-xxxx-1234" -> "5264XXXXXXXX1234"). The KKPD reconciliation keys both
    this and the bank's lines by the issuer's code and the last four digits
    (``reconciliation.kkpd.card_key``)."""
    raw = name(value, "card number", max_length=MAX_CARD_ID + 8)
    key = raw.replace(" ", "").replace("-", "").upper()
    # ASCII digits only (str.isdigit also takes superscripts and Arabic-Indic digits), and the last
    # four never masked: they are what the bank's statement and the reconciliation know a card by.
    if (
        not 8 <= len(key) <= MAX_CARD_ID
        or not all(ch in "0123456789X*" for ch in key)
        or not all(ch in "0123456789" for ch in key[-4:])
    ):
        raise InvalidInput(
            f"card number {raw!r} must be 8..{MAX_CARD_ID} digits, masked with x but for the "
            "last four"
        )
    return key


def _scope(cmd: Any) -> tuple[int, str]:
    """The year and SKPD a command of the advance names; an SKPD's official acts for their own."""
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    cmd.actor.require_skpd(skpd, "the advance")
    return year, skpd


def _get_advance(uow: UnitOfWork, pemda: str, year: int, skpd: str) -> Advance:
    advance = uow.find(ids.advance_id(pemda, year, skpd), Advance)
    if advance is None:
        raise NotFound(f"no UP is set for SKPD {skpd} in {year}")
    return advance


def _the_advance(cmd: Any, _: Loaded) -> list[UUID]:
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    return [ids.advance_id(cmd.pemda, year, skpd)]


def _today(uow: UnitOfWork) -> date:
    return uow.at.astimezone(WIB).date()


# -- setting up --------------------------------------------------------------------------------
@handles(c.SetAdvance, _the_advance)
def set_advance(cmd: c.SetAdvance, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "set an SKPD's UP")
    year, skpd = _scope(cmd)
    document = document_number(cmd.document, "UP decision number")
    limits = {
        "ceiling": require_rupiah(cmd.ceiling, "UP ceiling"),
        "kkpd_ceiling": require_non_negative_rupiah(cmd.kkpd_ceiling, "UP KKPD ceiling"),
        "tu_ceiling": require_non_negative_rupiah(cmd.tu_ceiling, "TU ceiling"),
    }
    account = BankAccount.parse(cmd.bank_code, cmd.account_number, cmd.account_holder)
    if uow.exists(ids.advance_id(cmd.pemda, year, skpd)):
        raise AlreadyExists(f"the UP {year} of SKPD {skpd} is set already")
    advance = Advance.set_up(
        cmd.pemda, year, skpd, document, limits, account.as_dict(), stamp_of(cmd, uow)
    )
    uow.add(advance)
    return {"id": str(advance.id), "ceiling": advance.ceiling}


@handles(c.RegisterCard, _the_advance)
def register_card(cmd: c.RegisterCard, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.BUDGET_ADMIN, "register a KKPD")
    year, skpd = _scope(cmd)
    card = card_id(cmd.card)
    holder = name(cmd.holder, "card holder")
    limit = require_rupiah(cmd.limit, "card limit")
    advance = _get_advance(uow, cmd.pemda, year, skpd)
    advance.register_card(card, holder, limit, stamp_of(cmd, uow))
    return {"id": str(advance.id), "card": card}


# -- SPJ ---------------------------------------------------------------------------------------
def _spj_reads(cmd: c.RecordSpj, loaded: Loaded) -> list[UUID]:
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    return [
        *_the_advance(cmd, loaded),
        line_id_of(cmd.pemda, year, cmd.line),
        ids.budget_id(cmd.pemda, year),
        ids.cash_plan_id(cmd.pemda, year, skpd),
    ]


def _spj_entry(cmd: c.RecordSpj, year: int, today: date) -> dict[str, Any]:
    """The entry a RecordSpj describes, parsed; its line is added by the handler."""
    try:
        channel = Channel(cmd.channel)
    except ValueError:
        raise InvalidInput(f"an SPJ is paid tunai or kkpd, got {cmd.channel!r}") from None
    if channel == Channel.CASH and cmd.card is not None:
        raise InvalidInput("a cash purchase names no card")
    spent_on = iso_date(cmd.spent_on, "purchase date")
    if spent_on.year != year or spent_on > today:
        raise InvalidInput(f"purchase date {spent_on} must lie in {year}, not after {today}")
    evidence = documents_of(cmd.evidence)
    if not evidence:
        raise InvalidInput("an SPJ entry needs its evidence (kuitansi, nota or faktur number)")
    return {
        "number": document_number(cmd.spj_number, "SPJ number"),
        "amount": require_rupiah(cmd.amount, "SPJ amount"),
        "channel": channel.value,
        "card": card_id(cmd.card) if channel == Channel.CARD else None,
        "tu": None if cmd.tu is None else document_number(cmd.tu, "TU number"),
        "merchant": name(cmd.merchant, "payee"),
        "spent_on": spent_on.isoformat(),
        "evidence": evidence,
    }


@handles(c.RecordSpj, _spj_reads)
def record_spj(cmd: c.RecordSpj, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.KEEP_ADVANCE, "record an SPJ entry")
    year, skpd = _scope(cmd)
    today = _today(uow)
    spj = _spj_entry(cmd, year, today)
    advance = _get_advance(uow, cmd.pemda, year, skpd)
    line = get_line(uow, cmd.pemda, year, cmd.line)
    if line.skpd != skpd:
        raise InvalidInput(f"line {line.key} is not a line of SKPD {skpd}")
    line.check_spending()
    line.check_commit(spj["amount"])
    commitment = ids.spj_id(cmd.pemda, year, skpd, spj["number"])
    plan, month = cash_plan_for(uow, cmd.pemda, year, skpd), fiscal_month(uow.at, year)
    if plan is not None:
        plan.check_commit(commitment, spj["amount"], month)
    spj["line_id"] = str(line.id)
    advance.check_spend(spj, today)
    by = stamp_of(cmd, uow)
    line.commit(commitment, spj["amount"], by)
    if plan is not None:
        plan.commit(commitment, spj["amount"], month, by)
    advance.spend(spj, today, by)
    return {"id": str(advance.id), "spj": spj["number"], "cash": advance.cash}


def _withdrawn_reads(cmd: c.WithdrawSpj, loaded: Loaded) -> list[UUID]:
    year, skpd = fiscal_year(cmd.year), normalise_skpd(cmd.skpd)
    return [*_the_advance(cmd, loaded), ids.cash_plan_id(cmd.pemda, year, skpd)]


@handles(c.WithdrawSpj, _withdrawn_reads)
def withdraw_spj(cmd: c.WithdrawSpj, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.KEEP_ADVANCE, "withdraw an SPJ entry")
    year, skpd = _scope(cmd)
    number = document_number(cmd.spj_number, "SPJ number")
    reason = text(cmd.reason, "reason")
    advance = _get_advance(uow, cmd.pemda, year, skpd)
    line = uow.get(UUID(advance.entry(number)["line_id"]), BudgetLine)
    commitment = ids.spj_id(cmd.pemda, year, skpd, number)
    plan = uow.find(ids.cash_plan_id(cmd.pemda, year, skpd), CashPlan)
    by = stamp_of(cmd, uow)
    advance.withdraw(number, reason, by)
    line.release(commitment, by)
    if plan is not None and plan.holds(commitment):
        plan.release(commitment, by)
    return {"id": str(advance.id), "spj": number, "cash": advance.cash}


@handles(c.PayCardBill, _the_advance)
def pay_card_bill(cmd: c.PayCardBill, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.KEEP_ADVANCE, "pay a KKPD bill")
    year, skpd = _scope(cmd)
    card = card_id(cmd.card)
    amount = require_rupiah(cmd.amount, "bill amount")
    reference = document_number(cmd.reference, "bill reference")
    advance = _get_advance(uow, cmd.pemda, year, skpd)
    advance.pay_bill(card, amount, reference, stamp_of(cmd, uow))
    return {"id": str(advance.id), "card": card, "cash": advance.cash}


@handles(c.ReturnAdvance, _the_advance)
def return_advance(cmd: c.ReturnAdvance, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.KEEP_ADVANCE, "return the advance's cash (setoran sisa UP/TU)")
    year, skpd = _scope(cmd)
    amount = require_rupiah(cmd.amount, "returned amount")
    reference = document_number(cmd.reference, "deposit reference")
    tu = None if cmd.tu is None else document_number(cmd.tu, "TU number")
    advance = _get_advance(uow, cmd.pemda, year, skpd)
    advance.return_cash(amount, tu, reference, stamp_of(cmd, uow))
    return {"id": str(advance.id), "cash": advance.cash, "outstanding": advance.outstanding}


# -- orders: SPP-UP / GU / TU / GU nihil -> SPM -> SP2D ------------------------------------------
def _requested_order(cmd: c.RequestAdvance, loaded: Loaded) -> list[UUID]:
    year, number = fiscal_year(cmd.year), str(cmd.spp_number).strip()
    return [
        *_the_advance(cmd, loaded),
        ids.advance_order_id(cmd.pemda, year, number),
        ids.disbursement_id(cmd.pemda, year, number),
    ]


def _order_request(
    cmd: c.RequestAdvance, advance: Advance, mechanism: Mechanism, spp: str, today: date
) -> tuple[int, list[str], str | None]:
    """The amount, SPJ entries and TU of the order ``cmd`` asks for; raise if it may not."""
    if mechanism in (Mechanism.UP, Mechanism.TU):
        if cmd.spj_numbers or cmd.tu is not None:
            raise InvalidInput(f"an SPP-{mechanism.value.upper()} names an amount, not SPJ entries")
        amount = require_rupiah(cmd.amount, f"SPP-{mechanism.value.upper()} amount")
        if mechanism == Mechanism.UP:
            advance.check_up(amount)
        else:
            advance.check_tu(spp, amount, iso_date(cmd.deadline, "TU deadline"), today)
        return amount, [], None
    if cmd.amount is not None:
        raise InvalidInput("a GU's amount is the total of the SPJ entries it accounts for")
    numbers = [document_number(n, "SPJ number") for n in _tuple(cmd.spj_numbers)]
    tu = None if cmd.tu is None else document_number(cmd.tu, "TU number")
    if tu is not None and mechanism == Mechanism.GU:
        raise AdvanceRule("a TU is accounted for by GU nihil, once what is left of it is returned")
    if tu is not None:
        left = advance.tu.get(tu, {})
        if left.get("given", 0) - left.get("spent", 0) - left.get("returned", 0) != 0:
            raise AdvanceRule(f"TU {tu}: return what is left of it before its GU nihil")
    return advance.check_claim(numbers, tu), numbers, tu


def _tuple(raw: Any) -> tuple[Any, ...]:
    if not isinstance(raw, tuple):
        raise InvalidInput("SPJ numbers are a list")
    return raw


@handles(c.RequestAdvance, _requested_order)
def request_advance(cmd: c.RequestAdvance, uow: UnitOfWork) -> Result:
    cmd.actor.require(roles.KEEP_ADVANCE, "request an advance (SPP-UP/GU/TU)")
    year, skpd = _scope(cmd)
    try:
        mechanism = Mechanism(cmd.mechanism)
    except ValueError:
        allowed = ", ".join(m.value for m in Mechanism)
        raise InvalidInput(f"mechanism must be one of {allowed}, got {cmd.mechanism!r}") from None
    spp = document_number(cmd.spp_number, "SPP number")
    description = text(cmd.description, "description")
    advance = _get_advance(uow, cmd.pemda, year, skpd)
    today = _today(uow)
    amount, numbers, tu = _order_request(cmd, advance, mechanism, spp, today)
    for taken in (ids.advance_order_id, ids.disbursement_id):
        if uow.exists(taken(cmd.pemda, year, spp)):
            raise AlreadyExists(f"SPP number {spp} is already used in {year}")
    by = stamp_of(cmd, uow)
    order = AdvanceOrder.request(advance, spp, mechanism, amount, numbers, tu, description, by)
    uow.add(order)
    if mechanism == Mechanism.UP:
        advance.request_up(spp, amount, by)
    elif mechanism == Mechanism.TU:
        advance.request_tu(spp, amount, iso_date(cmd.deadline, "TU deadline"), today, by)
    else:
        advance.claim(spp, numbers, tu, by)
    return _order_done(order)


def _order_done(order: AdvanceOrder) -> Result:
    return {
        "id": str(order.id),
        "status": Status(order.status).value,
        "amount": order.amount,
    }


def _the_order(cmd: c.AdvanceOrderCommand, _: Loaded) -> list[UUID]:
    return [cmd.order_id] if isinstance(cmd.order_id, UUID) else []


def _its_advance(cmd: c.AdvanceOrderCommand, loaded: Loaded) -> list[UUID]:
    order = loaded(cmd.order_id) if isinstance(cmd.order_id, UUID) else None
    if not isinstance(order, AdvanceOrder):
        return []
    return [
        ids.advance_id(order.pemda, order.year, order.skpd),
        ids.cash_plan_id(order.pemda, order.year, order.skpd),
        ids.budget_id(order.pemda, order.year),
    ]


def _its_lines(cmd: c.AdvanceOrderCommand, loaded: Loaded) -> list[UUID]:
    """The lines of the SPJ entries a GU accounts for, once the advance is loaded."""
    order = loaded(cmd.order_id) if isinstance(cmd.order_id, UUID) else None
    if not isinstance(order, AdvanceOrder):
        return []
    advance = loaded(ids.advance_id(order.pemda, order.year, order.skpd))
    if not isinstance(advance, Advance):
        return []
    return [UUID(advance.spj[n]["line_id"]) for n in order.spj_numbers if n in advance.spj]


_ORDER = (_the_order, _its_advance)


def _get_order(uow: UnitOfWork, cmd: c.AdvanceOrderCommand) -> tuple[AdvanceOrder, Advance]:
    if not isinstance(cmd.order_id, UUID):
        raise InvalidInput("order id must be a UUID")
    order = uow.find(cmd.order_id, AdvanceOrder)
    if order is None or order.pemda != cmd.pemda:
        raise NotFound(f"no advance order {cmd.order_id} in pemda {cmd.pemda}")
    cmd.actor.require_skpd(order.skpd, f"advance order {cmd.order_id}")
    return order, _get_advance(uow, order.pemda, order.year, order.skpd)


def _claim_number(uow: UnitOfWork, order: AdvanceOrder, kind: str, number: str, by: Stamp) -> None:
    claim = ids.document_number_id(order.pemda, order.year, kind, number)
    if uow.exists(claim):
        raise AlreadyExists(f"{kind} number {number} is already issued in {order.year}")
    uow.add(DocumentNumber.claim(order.pemda, order.year, kind, number, order.id, by))


@handles(c.VerifyAdvance, *_ORDER)
def verify_advance(cmd: c.VerifyAdvance, uow: UnitOfWork) -> Result:
    order, _ = _get_order(uow, cmd)
    order.verify(stamp_of(cmd, uow))
    return _order_done(order)


@handles(c.ApproveAdvance, *_ORDER)
def approve_advance(cmd: c.ApproveAdvance, uow: UnitOfWork) -> Result:
    order, _ = _get_order(uow, cmd)
    order.check_approve(cmd.actor)
    number = document_number(cmd.spm_number, "SPM number")
    by = stamp_of(cmd, uow)
    _claim_number(uow, order, "SPM", number, by)
    order.approve(number, by)
    return _order_done(order)


def _realise_entries(
    uow: UnitOfWork, order: AdvanceOrder, advance: Advance, by: Stamp | None
) -> None:
    """Ask (``by`` None) or realise (a stamp) every SPJ entry a GU accounts for: on its line and
    on its SKPD's SPD, in the SP2D's month."""
    plan = cash_plan_for(uow, order.pemda, order.year, order.skpd)
    month = fiscal_month(uow.at, order.year)
    for number in order.spj_numbers:
        entry = advance.entry(number)
        commitment = ids.spj_id(order.pemda, order.year, order.skpd, number)
        line = uow.get(UUID(entry["line_id"]), BudgetLine)
        if by is None:
            line.check_realise(commitment)
            if plan is not None:
                plan.check_pay(commitment, entry["amount"], month)
            continue
        line.realise(commitment, by)
        if plan is not None:
            plan.pay(commitment, entry["amount"], month, by)


@handles(c.AuthoriseAdvance, *_ORDER, _its_lines)
def authorise_advance(cmd: c.AuthoriseAdvance, uow: UnitOfWork) -> Result:
    """The Kuasa BUD's SP2D: UP and TU go to the bendahara's account; a GU's SPJ is realised on
    its lines and its money restores the UP; a GU nihil realises the SPJ with no money moving."""
    order, advance = _get_order(uow, cmd)
    order.check_authorise(cmd.actor)
    number = document_number(cmd.sp2d_number, "SP2D number")
    accounts_spj = order.mechanism in (Mechanism.GU, Mechanism.GU_NIHIL)
    if accounts_spj:
        _realise_entries(uow, order, advance, None)
    by = stamp_of(cmd, uow)
    _claim_number(uow, order, "SP2D", number, by)
    if accounts_spj:
        _realise_entries(uow, order, advance, by)
        advance.account_for(order, by)
    order.authorise(number, advance.account, by)
    return _order_done(order)


@handles(c.RejectAdvance, *_ORDER)
def reject_advance(cmd: c.RejectAdvance, uow: UnitOfWork) -> Result:
    order, advance = _get_order(uow, cmd)
    order.check_reject(cmd.actor)
    reason = text(cmd.reason, "rejection reason")
    by = stamp_of(cmd, uow)
    advance.unclaim(order.spp_number, Mechanism(order.mechanism), by)
    order.reject(reason, by)
    return _order_done(order)


@handles(c.CancelAdvance, *_ORDER)
def cancel_advance(cmd: c.CancelAdvance, uow: UnitOfWork) -> Result:
    order, advance = _get_order(uow, cmd)
    order.check_cancel(cmd.actor)
    reason = text(cmd.reason, "cancellation reason")
    by = stamp_of(cmd, uow)
    advance.unclaim(order.spp_number, Mechanism(order.mechanism), by)
    order.cancel(reason, by)
    return _order_done(order)


@handles(c.RecordAdvanceSettled, *_ORDER)
def record_advance_settled(cmd: c.RecordAdvanceSettled, uow: UnitOfWork) -> Result:
    order, advance = _get_order(uow, cmd)
    order.check_settle(cmd.actor)
    reference = document_number(cmd.bank_reference, "bank reference")
    by = stamp_of(cmd, uow)
    order.record_settled(reference, by)
    advance.receive(order, by)
    return _order_done(order)
