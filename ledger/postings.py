"""Double entry: every money event as balanced postings.

Two ledgers are kept side by side, as Indonesian government accounting does (SAP, PP 71/2010): the
budgetary one (how much of the pagu is available, committed, realised) and the financial one (what
is owed and what left the RKUD). Every event's postings balance on their own: sum(debits) ==
sum(credits). Account names are ``kind:qualifier``:

    apbd                       control account of the adopted APBD (debit-normal)
    appropriation:<line>       pagu not yet used (credit balance == available)
    commitment:<line>          pagu committed by SPP, not yet realised (credit balance == committed)
    realisation:<line>         pagu realised at SP2D (credit balance == realised)
    shift_clearing             a pergeseran's two halves meet here; nets to zero per decree
    expenditure:<line>         belanja recognised at SP2D (debit balance)
    vendor_payable:<vendor>    owed to a vendor, net of tax (credit balance)
    taxes_payable:<code>       withheld tax owed to the state treasury (credit balance)
    cash_in_transit            sent to the gateway / bank, not yet confirmed (credit balance)
    cash:rkud                  the RKUD bank account (debit-normal; credits are payments out)
    revenue:<line>             income recognised when a receipt settles (credit balance)
    gateway_fees               the gateway's fee kept from a receipt (debit balance, a belanja jasa)
    advance_cash:<advance>     the bendahara pengeluaran's cash of the UP/GU/TU (debit-normal)
    spj_accounted:<advance>    spending from the advance accounted for (SPJ), awaiting its GU
    kkpd_payable:<advance>:<card>  card purchases owed to the issuing bank (credit balance)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledger.disbursement import SP2D_WITHOUT_TRANSFER
from ledger.money import MAX_TOTAL, Rupiah

# One leg moves at most what a whole APBD holds (an APBD-P may take a line's whole pagu).
MAX_LEG = MAX_TOTAL


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a journal entry: ``side`` is "D" (debit) or "C" (credit)."""

    account: str
    side: str
    amount: Rupiah


def debit(account: str, amount: Rupiah) -> Leg:
    return Leg(account, "D", amount)


def credit(account: str, amount: Rupiah) -> Leg:
    return Leg(account, "C", amount)


_SP2D_REVERSIBLE = frozenset(s.value for s in SP2D_WITHOUT_TRANSFER)
CASH = "cash:rkud"
IN_TRANSIT = "cash_in_transit"
APBD = "apbd"
SHIFT = "shift_clearing"


def _move(source: str, target: str, amount: Rupiah) -> list[Leg]:
    """Debit ``source``, credit ``target``."""
    return [debit(source, amount), credit(target, amount)]


def _sp2d(event: Any, *, reverse: bool = False) -> list[Leg]:
    """Expenditure recognised at SP2D: gross to the vendor (net) and the state treasury (taxes)."""
    legs = [debit(f"expenditure:{event.line_id}", event.gross)]
    legs.append(credit(f"vendor_payable:{event.vendor_id}", event.net))
    legs += [credit(f"taxes_payable:{d['code']}", d["amount"]) for d in event.deductions]
    return _reversed(legs) if reverse else legs


def _account(kind: str, event: Any) -> str:
    """The account of kind ``kind`` of the budget line an event belongs to."""
    return f"{kind}:{event.originator_id}"


def _amended(event: Any) -> list[Leg]:
    appropriation = _account("appropriation", event)
    if event.delta >= 0:
        return _move(APBD, appropriation, event.delta)
    return _move(appropriation, APBD, -event.delta)


def _cancelled(event: Any) -> list[Leg]:
    """A cancelled SP2D is undone; a payment cancelled before its SP2D never reached the books."""
    return _sp2d(event, reverse=True) if event.previous_status in _SP2D_REVERSIBLE else []


def _spent(event: Any) -> list[Leg]:
    """An SPJ entry: accounted for out of the bendahara's cash, or owed to the card's bank."""
    if event.channel == "kkpd":
        paid_by = f"kkpd_payable:{event.originator_id}:{event.card}"
    else:
        paid_by = _account("advance_cash", event)
    return _move(_account("spj_accounted", event), paid_by, event.amount)


def _accounted(event: Any) -> list[Leg]:
    """The SP2D of a GU (or GU nihil): each SPJ entry becomes belanja of its line."""
    legs = [debit(f"expenditure:{entry['line_id']}", entry["amount"]) for entry in event.entries]
    return [*legs, credit(_account("spj_accounted", event), event.amount)]


def _reversed(legs: list[Leg]) -> list[Leg]:
    return [Leg(leg.account, "C" if leg.side == "D" else "D", leg.amount) for leg in legs]


def _receipt(event: Any) -> list[Leg]:
    """Income recognised gross; the gateway's fee is an expense, the net reaches the RKUD."""
    legs = [debit(CASH, event.net), credit(f"revenue:{event.line_id}", event.gross)]
    if event.fee:
        legs.insert(1, debit("gateway_fees", event.fee))
    return legs


# The journal entry of each event that moves money, by its class's qualified name (event classes
# are made by the library's @event decorator). Events not named here move no money.
_ENTRIES: dict[str, Callable[[Any], list[Leg]]] = {
    "BudgetLine.Allocated": lambda e: _move(APBD, _account("appropriation", e), e.pagu),
    "BudgetLine.Amended": _amended,
    "BudgetLine.ShiftedOut": lambda e: _move(_account("appropriation", e), SHIFT, e.amount),
    "BudgetLine.ShiftedIn": lambda e: _move(SHIFT, _account("appropriation", e), e.amount),
    "BudgetLine.Committed": lambda e: _move(
        _account("appropriation", e), _account("commitment", e), e.amount
    ),
    "BudgetLine.CommitmentReleased": lambda e: _move(
        _account("commitment", e), _account("appropriation", e), e.amount
    ),
    "BudgetLine.Realised": lambda e: _move(
        _account("commitment", e), _account("realisation", e), e.amount
    ),
    "BudgetLine.RealisationReversed": lambda e: _move(
        _account("realisation", e), _account("appropriation", e), e.amount
    ),
    "Disbursement.Authorised": _sp2d,
    "Disbursement.Cancelled": _cancelled,
    "Disbursement.Sent": lambda e: _move(f"vendor_payable:{e.vendor_id}", IN_TRANSIT, e.amount),
    "Disbursement.Settled": lambda e: _move(IN_TRANSIT, CASH, e.amount),
    "Disbursement.Failed": lambda e: _move(IN_TRANSIT, f"vendor_payable:{e.vendor_id}", e.amount),
    "Disbursement.Returned": lambda e: _move(CASH, f"vendor_payable:{e.vendor_id}", e.amount),
    # Disbursement.TransferRejected: refused by the gateway before sending, nothing left the RKUD.
    # The bendahara's advance (ledger.advance): its cash is an asset of the pemda held by the
    # bendahara pengeluaran; an SPJ entry waits in spj_accounted until its GU realises it.
    "Advance.Received": lambda e: _move(_account("advance_cash", e), CASH, e.amount),
    "Advance.Spent": _spent,
    "Advance.Withdrawn": lambda e: _reversed(_spent(e)),
    "Advance.CardBillPaid": lambda e: _move(
        f"kkpd_payable:{e.originator_id}:{e.card}", _account("advance_cash", e), e.amount
    ),
    "Advance.CashReturned": lambda e: _move(CASH, _account("advance_cash", e), e.amount),
    "Advance.Accounted": _accounted,
    # Disbursement.Reissued: a returned transfer authorised again; Returned reopened the payable.
    "Revenue.Received": _receipt,
    "Revenue.Reversed": lambda e: _reversed(_receipt(e)),
}


def postings_for(event: Any) -> list[Leg]:
    """The journal entry of one domain event (empty for events that move no money)."""
    entry = _ENTRIES.get(type(event).__qualname__)
    return entry(event) if entry is not None else []


def entry_problem(legs: Iterable[Leg]) -> str | None:
    """What is wrong with a journal entry, or None: every leg a debit or a credit of a positive
    integer number of rupiah within ``MAX_LEG``, and debits equal to credits. The one statement of a
    sound entry; the write path (``ledger.invariants``) and the tests both ask it."""
    total = 0
    for leg in legs:
        if leg.side not in ("D", "C"):
            return f"leg {leg} is neither debit nor credit"
        # bool is an int: True must never pass as Rp 1.
        if type(leg.amount) is not int or not 1 <= leg.amount <= MAX_LEG:
            return f"leg {leg.account} {leg.amount!r} is outside 1..{MAX_LEG}"
        total += leg.amount if leg.side == "D" else -leg.amount
    if total != 0:
        return f"journal entry does not balance (debits - credits = {total})"
    return None


def is_balanced(legs: Iterable[Leg]) -> bool:
    """Debits equal credits, and every leg is a positive integer number of rupiah."""
    return entry_problem(legs) is None


def trial_balance(events: Iterable[Any]) -> dict[str, Rupiah]:
    """Debit-minus-credit balance of every account over ``events`` (credit balances are negative)."""
    balance: dict[str, Rupiah] = defaultdict(int)
    for event in events:
        for leg in postings_for(event):
            balance[leg.account] += leg.amount if leg.side == "D" else -leg.amount
    return dict(balance)
