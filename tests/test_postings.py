"""Double entry: every event of every path of a disbursement balances on its own, and the trial
balance agrees with the aggregates (budget lines) and with what left the RKUD."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.disbursement import Disbursement, Status
from ledger.handlers import line_id_of
from ledger.postings import Leg, credit, debit, is_balanced, postings_for, trial_balance
from ledger.roles import Role
from tests import factory as f
from tests.refusals import all_events

VENDOR_ID = ids.vendor_id(f.PEMDA, f.NPWP_DIGITS)
SECOND_NPWP = "3273010101800001"
NEW_LINE = f.line_spec("5.1.02.02.01.0026", 50_000_000, uraian="Belanja Jasa Tenaga Ahli")
INCOME = f.line_spec("4.1.01.01.01.0001", 9_000_000_000, sub_kegiatan=None, uraian="Pajak Hotel")
TWO_TAXES = ({"code": "PPN", "amount": 1_100_000}, {"code": "PPH23", "amount": 200_000})

# How each disbursement of the scenario ends.
ENDINGS = {
    "SPP-PAID": Status.SETTLED,
    "SPP-REJ-V": Status.REJECTED,
    "SPP-REJ-A": Status.REJECTED,
    "SPP-REJ-S": Status.REJECTED,
    "SPP-CAN-R": Status.CANCELLED,
    "SPP-CAN-S": Status.CANCELLED,
    "SPP-FAIL": Status.SETTLED,
    "SPP-FAILED": Status.FAILED,
    "SPP-RET": Status.RETURNED,
    "SPP-AUTH": Status.AUTHORISED,
    "SPP-SENT": Status.SENT,
    "SPP-OPEN": Status.VERIFIED,
    "SPP-GOODS": Status.SETTLED,
}


def run(ledger: Ledger, *commands: c.Command) -> None:
    for command in commands:
        ledger.execute(command)


def through(
    spp: str, gross: int, last: str, spec: c.LineSpec = f.MEDIA_LINE, npwp: str = f.NPWP
) -> list[c.Command]:
    chain: list[tuple[str, c.Command]] = [
        ("request", f.request(spp, gross, spec, npwp=npwp, deductions=TWO_TAXES)),
        ("verify", f.verify(spp)),
        ("approve", f.approve(spp)),
        ("authorise", f.authorise(spp)),
        ("send", f.send(spp)),
        ("settle", f.settle(spp)),
    ]
    out = []
    for name, command in chain:
        out.append(command)
        if name == last:
            break
    return out


def scenario(ledger: Ledger) -> None:
    """Every path a disbursement can take, plus APBD-P and pergeseran."""
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, INCOME)
    f.register_vendor(ledger)
    f.register_vendor(ledger, SECOND_NPWP, "CV Alat Kantor", "company", "7654321")
    run(
        ledger,
        c.AmendBudget(
            idempotency_key=f.key("apbdp"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="PERDA-APBDP-2026",
            lines=(
                f.line_spec(pagu=1_200_000_000),
                f.line_spec("5.1.02.01.01.0024", 400_000_000),
                NEW_LINE,
            ),
        ),
        c.ShiftBudget(
            idempotency_key=f.key("shift"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="SK-GESER-1",
            from_line=f.ref(f.GOODS_LINE),
            to_line=f.ref(NEW_LINE),
            amount=25_000_000,
        ),
    )
    run(ledger, *through("SPP-PAID", 100_000_000, "settle"))
    run(ledger, *through("SPP-REJ-V", 11_000_000, "request"), f.reject("SPP-REJ-V", f.PPK))
    run(ledger, *through("SPP-REJ-A", 12_000_000, "verify"), f.reject("SPP-REJ-A", f.PA))
    run(
        ledger,
        *through("SPP-REJ-S", 13_000_000, "approve"),
        f.reject("SPP-REJ-S", f.actor("kb.2", Role.KUASA_BUD)),
    )
    run(ledger, *through("SPP-CAN-R", 14_000_000, "request"), f.cancel("SPP-CAN-R"))
    run(ledger, *through("SPP-CAN-S", 15_000_000, "authorise"), f.cancel("SPP-CAN-S"))
    run(ledger, *through("SPP-FAIL", 16_000_000, "send"), f.fail("SPP-FAIL"))
    run(ledger, f.send("SPP-FAIL", reference="IRIS-2"), f.settle("SPP-FAIL"))
    run(ledger, *through("SPP-FAILED", 17_000_000, "send"), f.fail("SPP-FAILED"))
    run(ledger, *through("SPP-RET", 18_000_000, "settle"), f.return_("SPP-RET"))
    run(ledger, *through("SPP-AUTH", 19_000_000, "authorise"))
    run(ledger, *through("SPP-SENT", 20_000_000, "send"))
    run(ledger, *through("SPP-OPEN", 21_000_000, "verify"))
    run(ledger, *through("SPP-GOODS", 22_000_000, "settle", f.GOODS_LINE, SECOND_NPWP))


def disbursements(ledger: Ledger) -> dict[str, Disbursement]:
    found = {spp: ledger.disbursement(f.disbursement_id(spp)) for spp in ENDINGS}
    assert {spp: d.status for spp, d in found.items()} == ENDINGS
    return found


@pytest.fixture
def events(ledger: Ledger) -> list[Any]:
    scenario(ledger)
    return all_events(ledger)


def test_every_event_balances_on_its_own(ledger: Ledger, events: list[Any]) -> None:
    names = Counter(type(e).__qualname__ for e in events)
    # The scenario really went down every path.
    for name in (
        "BudgetLine.Allocated",
        "BudgetLine.Amended",
        "BudgetLine.ShiftedOut",
        "BudgetLine.ShiftedIn",
        "BudgetLine.Committed",
        "BudgetLine.CommitmentReleased",
        "BudgetLine.Realised",
        "BudgetLine.RealisationReversed",
        "Disbursement.Authorised",
        "Disbursement.Cancelled",
        "Disbursement.Sent",
        "Disbursement.Settled",
        "Disbursement.Failed",
        "Disbursement.Returned",
        "Disbursement.Rejected",
    ):
        assert names[name] > 0, name
    for event in events:
        legs = postings_for(event)
        assert is_balanced(legs), (type(event).__qualname__, legs)
    posting = {type(e).__qualname__ for e in events if postings_for(e)}
    assert posting == {
        "BudgetLine.Allocated",
        "BudgetLine.Amended",
        "BudgetLine.ShiftedOut",
        "BudgetLine.ShiftedIn",
        "BudgetLine.Committed",
        "BudgetLine.CommitmentReleased",
        "BudgetLine.Realised",
        "BudgetLine.RealisationReversed",
        "Disbursement.Authorised",
        "Disbursement.Cancelled",
        "Disbursement.Sent",
        "Disbursement.Settled",
        "Disbursement.Failed",
        "Disbursement.Returned",
    }


def test_events_that_move_no_money_post_nothing(events: list[Any]) -> None:
    silent = {
        "Budget.Adopted",
        "Budget.Amended",
        "Budget.Shifted",
        "Vendor.Registered",
        "Disbursement.Requested",
        "Disbursement.Verified",
        "Disbursement.Approved",
        "Disbursement.Rejected",
        "CommandReceipt.Recorded",
        "DocumentNumber.Claimed",
    }
    for event in events:
        name = type(event).__qualname__
        if name in silent:
            assert postings_for(event) == [], name
        if name == "Disbursement.Cancelled" and event.previous_status != "authorised":
            assert postings_for(event) == [], name


def test_budgetary_accounts_equal_the_budget_lines(ledger: Ledger, events: list[Any]) -> None:
    balance = trial_balance(events)
    lines = ledger.budget_lines(f.PEMDA, f.YEAR)
    assert len(lines) == 4
    for line in lines:
        assert balance.get(f"appropriation:{line.id}", 0) == -line.available, line.key
        assert balance.get(f"commitment:{line.id}", 0) == -line.committed, line.key
        assert balance.get(f"realisation:{line.id}", 0) == -line.realised, line.key
        realised = balance.get(f"expenditure:{line.id}", 0)
        assert realised == line.realised, line.key
    media = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE))
    # Realised: PAID, FAIL, FAILED, RET, AUTH, SENT; committed: OPEN.
    assert (
        media.realised
        == 100_000_000 + 16_000_000 + 17_000_000 + 18_000_000 + 19_000_000 + 20_000_000
    )
    assert media.committed == 21_000_000
    assert media.pagu == 1_200_000_000
    budget = ledger.budget(f.PEMDA, f.YEAR)
    assert (
        balance["apbd"]
        == budget.total_pagu
        == 1_200_000_000 + 400_000_000 + 50_000_000 + 9_000_000_000
    )
    assert balance.get("shift_clearing", 0) == 0


def test_cash_left_the_rkud_only_for_settled_transfers(ledger: Ledger, events: list[Any]) -> None:
    found = disbursements(ledger)
    balance = trial_balance(events)
    settled_net = sum(e.amount for e in events if type(e).__qualname__ == "Disbursement.Settled")
    returned_net = sum(e.amount for e in events if type(e).__qualname__ == "Disbursement.Returned")
    assert settled_net == sum(
        found[s].net for s in ("SPP-PAID", "SPP-FAIL", "SPP-RET", "SPP-GOODS")
    )
    assert returned_net == found["SPP-RET"].net
    assert balance["cash:rkud"] == -settled_net + returned_net
    assert balance["cash:rkud"] == -(98_700_000 + 14_700_000 + 20_700_000)
    # Sent but not yet confirmed.
    assert balance["cash_in_transit"] == -found["SPP-SENT"].net


def test_payables_and_taxes(ledger: Ledger, events: list[Any]) -> None:
    found = disbursements(ledger)
    balance = trial_balance(events)
    # Owed to the vendor: SP2D issued and not (successfully) transferred, or bounced back.
    owed = sum(found[s].net for s in ("SPP-AUTH", "SPP-FAILED", "SPP-RET"))
    assert balance[f"vendor_payable:{VENDOR_ID}"] == -owed
    assert balance[f"vendor_payable:{ids.vendor_id(f.PEMDA, SECOND_NPWP)}"] == 0
    # Taxes withheld by every SP2D still standing: PAID, FAIL, FAILED, RET, AUTH, SENT, GOODS.
    assert balance["taxes_payable:PPN"] == -1_100_000 * 7
    assert balance["taxes_payable:PPH23"] == -200_000 * 7
    assert sum(balance.values()) == 0


def test_cancelled_sp2d_reverses_its_expenditure_exactly(ledger: Ledger, events: list[Any]) -> None:
    cancelled_id = f.disbursement_id("SPP-CAN-S")
    own = [e for e in events if e.originator_id == cancelled_id]
    assert trial_balance(own) == {
        f"expenditure:{line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)}": 0,
        f"vendor_payable:{VENDOR_ID}": 0,
        "taxes_payable:PPN": 0,
        "taxes_payable:PPH23": 0,
    }
    authorised = next(e for e in own if type(e).__qualname__ == "Disbursement.Authorised")
    assert postings_for(authorised) == [
        debit(f"expenditure:{authorised.line_id}", 15_000_000),
        credit(f"vendor_payable:{VENDOR_ID}", 13_700_000),
        credit("taxes_payable:PPN", 1_100_000),
        credit("taxes_payable:PPH23", 200_000),
    ]


def test_is_balanced_refuses_broken_entries() -> None:
    assert is_balanced([debit("a", 5), credit("b", 5)])
    assert not is_balanced([debit("a", 5), credit("b", 4)])
    assert not is_balanced([debit("a", 0), credit("b", 0)])
    assert not is_balanced([debit("a", -5), credit("b", -5)])
    assert not is_balanced([Leg("a", "X", 5), credit("b", 5)])
    assert not is_balanced([Leg("a", "D", True), credit("b", 1)])
    assert not is_balanced([Leg("a", "D", 5.0), credit("b", 5)])  # type: ignore[arg-type]


def test_a_returned_transfer_paid_again_leaves_the_vendor_paid_once(ledger: Ledger) -> None:
    """Authorise, send, settle, return, pay again to a changed account, send, settle: the vendor
    is owed nothing, nothing is in transit, and the RKUD is down by exactly one net."""
    f.adopt(ledger)
    f.register_vendor(ledger)
    run(ledger, *through("SPP-REPAY", 100_000_000, "settle"), f.return_("SPP-REPAY"))
    run(ledger, f.change_account("5551234567"), f.reissue("SPP-REPAY"))
    run(ledger, f.send("SPP-REPAY", reference="IRIS-REPAY-2"), f.settle("SPP-REPAY"))
    events = all_events(ledger)
    for event in events:
        assert is_balanced(postings_for(event)) or not postings_for(event)
    reissued = [e for e in events if type(e).__qualname__ == "Disbursement.Reissued"]
    assert len(reissued) == 1 and postings_for(reissued[0]) == []
    balance = trial_balance(events)
    line = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)
    net = 100_000_000 - 1_100_000 - 200_000
    assert balance[f"vendor_payable:{VENDOR_ID}"] == 0
    assert balance["cash_in_transit"] == 0
    assert balance["cash:rkud"] == -net
    assert balance[f"expenditure:{line}"] == 100_000_000
    assert balance[f"realisation:{line}"] == -100_000_000
    assert (balance["taxes_payable:PPN"], balance["taxes_payable:PPH23"]) == (-1_100_000, -200_000)
    assert sum(balance.values()) == 0
