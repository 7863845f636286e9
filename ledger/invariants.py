"""Assertions on every write, run before its transaction commits (TigerBeetle style).

The rules refuse bad input before any event is triggered (a ``DomainError``). These assertions are
the second line: cheap checks over exactly what is about to be stored, which make a corrupt write
impossible rather than merely detectable later. Each journal entry balances (``ledger.postings``);
every amount an event carries, and every leg of its entry, lies within its explicit limit
(``ledger.money``); the amounts an event repeats agree (net = gross - deductions, or - fee); and every
budget line written keeps 0 <= committed, 0 <= realised, committed + realised <= pagu, and every
SPD register (``ledger.cashplan``) keeps what is charged to it within the SPD issued. A failure
raises ``InvariantViolation`` and the whole transaction is abandoned: nothing of it is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.advance import Advance
from ledger.budget import Budget, BudgetLine
from ledger.cashplan import CashPlan
from ledger.errors import InvariantViolation
from ledger.money import MAX_AMOUNT, MAX_TOTAL
from ledger.postings import Leg, entry_problem, postings_for

# Each money attribute an event may carry, and the range it must lie in.
AMOUNT_LIMITS: dict[str, tuple[int, int]] = {
    "amount": (1, MAX_AMOUNT),  # a commitment, a pergeseran, a transfer
    "gross": (1, MAX_AMOUNT),
    "net": (1, MAX_AMOUNT),
    "fee": (0, MAX_AMOUNT),
    "pagu": (0, MAX_AMOUNT),  # as an APBD or APBD-P document sets it
    "total_pagu": (0, MAX_TOTAL),
    "delta": (-MAX_TOTAL, MAX_TOTAL),  # a line's pagu may have grown by pergeseran
    "pagu_delta": (-MAX_TOTAL, MAX_TOTAL),
    "ceiling": (1, MAX_AMOUNT),  # an SKPD's UP
    "kkpd_ceiling": (0, MAX_AMOUNT),
    "tu_ceiling": (0, MAX_AMOUNT),
    "limit": (1, MAX_AMOUNT),  # a KKPD's credit limit
}


def check_write(aggregates: Iterable[Aggregate]) -> None:
    """Assert the invariants over the pending events of ``aggregates`` and their new state."""
    for aggregate in aggregates:
        for pending in aggregate.pending_events:
            check_amounts(pending)
            check_entry(pending, postings_for(pending))
        if isinstance(aggregate, BudgetLine):
            check_line(aggregate)
        elif isinstance(aggregate, Budget):
            _within(aggregate, "total_pagu", aggregate.total_pagu, 0, MAX_TOTAL)
        elif isinstance(aggregate, CashPlan):
            check_cash_plan(aggregate)
        elif isinstance(aggregate, Advance):
            check_advance(aggregate)


def check_amounts(event: Any) -> None:
    """Every money attribute of ``event`` is an integer within its limit, and they agree."""
    attributes = vars(event)
    for attribute, (low, high) in AMOUNT_LIMITS.items():
        if attribute in attributes:
            _within(event, attribute, attributes[attribute], low, high)
    withheld = 0
    for deduction in attributes.get("deductions", ()):
        _within(event, "deduction", deduction["amount"], 1, MAX_AMOUNT)
        withheld += deduction["amount"]
    if "net" in attributes and "gross" in attributes:
        kept = attributes.get("fee", 0) + withheld
        if attributes["net"] != attributes["gross"] - kept:
            raise InvariantViolation(
                f"{_name(event)}: net {attributes['net']} is not gross {attributes['gross']} "
                f"less {kept} withheld"
            )


def check_entry(event: Any, legs: list[Leg]) -> None:
    """The journal entry of ``event`` is sound (``ledger.postings.entry_problem``)."""
    problem = entry_problem(legs)
    if problem is not None:
        raise InvariantViolation(f"{_name(event)}: {problem}: {legs}")


def check_line(line: BudgetLine) -> None:
    """0 <= committed, 0 <= realised, committed + realised <= pagu, each commitment counted once."""
    _within(line, "pagu", line.pagu, 0, MAX_TOTAL)
    _within(line, "committed", line.committed, 0, line.pagu)
    _within(line, "realised", line.realised, 0, line.pagu - line.committed)
    if line.committed != sum(line.open_commitments.values()):
        raise InvariantViolation(
            f"line {line.id}: committed {line.committed} is not the sum of its open commitments"
        )


def check_cash_plan(plan: CashPlan) -> None:
    """0 <= committed, 0 <= realised, used <= SPD issued <= MAX_TOTAL, each charge counted once."""
    _within(plan, "issued", plan.issued, 0, MAX_TOTAL)
    _within(plan, "committed", plan.committed, 0, plan.issued)
    _within(plan, "realised", plan.realised, 0, plan.issued - plan.committed)
    if plan.committed != sum(plan.open.values()) or plan.realised != sum(plan.paid.values()):
        raise InvariantViolation(f"SPD register {plan.id}: totals differ from its charges")


def check_advance(advance: Advance) -> None:
    """Nothing negative, no card beyond its limit, the UP within its ceiling, and what the RKUD
    entrusted equal to what the bendahara holds, has accounted for and is owed (``ledger.advance``)."""
    _within(advance, "cash", advance.cash, 0, MAX_TOTAL)
    _within(advance, "replenishing", advance.replenishing, 0, MAX_TOTAL)
    _within(advance, "owed on cards", advance.owed_on_cards, 0, advance.kkpd_ceiling)
    for card in advance.cards.values():
        _within(advance, "owed on a card", card["owed"], 0, card["limit"])
        _within(advance, "paid on a card", card["paid"], 0, MAX_TOTAL)
    cash_up = advance.ceiling - advance.kkpd_ceiling
    _within(advance, "UP given", advance.up_given + advance.up_requested, 0, cash_up)
    held = advance.cash + advance.accounted - advance.owed_on_cards + advance.replenishing
    if advance.entrusted != held:
        raise InvariantViolation(
            f"advance {advance.id}: entrusted {advance.entrusted} is not cash + SPJ - card debt "
            f"+ replenishing = {held}"
        )


def _within(subject: Any, what: str, value: Any, low: int, high: int) -> None:
    # bool is an int: True must never pass as Rp 1.
    if type(value) is not int or not low <= value <= high:
        raise InvariantViolation(f"{_name(subject)}: {what} {value!r} is outside {low}..{high}")


def _name(subject: Any) -> str:
    return type(subject).__qualname__
