"""A returned LS transfer paid again (issue 16): the same SP2D, after the vendor's account was
changed, to the new account, once per return, by a Kuasa BUD who did no other step of it nor the
account change; every refusal appends nothing; the history shows both attempts; the books end with
the vendor paid once."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.disbursement import MAX_REISSUES, Disbursement, Status
from ledger.errors import (
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    NotFound,
    ReturnedToSameAccount,
    RoleNotPermitted,
    SeparationOfDuties,
    VendorNotPayable,
)
from ledger.handlers import line_id_of
from ledger.postings import trial_balance
from ledger.roles import Role
from tests import factory as f
from tests.refusals import all_events, event_names, refused

GROSS = 100_000_000
NET = 98_000_000
VENDOR_ID = ids.vendor_id(f.PEMDA, f.NPWP_DIGITS)
LINE_ID = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)
FIRST_ACCOUNT = "0012345678"  # the account tests.factory registers the vendor with
NEW_ACCOUNT = "9876543210"


def returned(ledger: Ledger, spp: str = "SPP-1") -> Disbursement:
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, spp, GROSS)
    ledger.execute(f.return_(spp))
    return ledger.disbursement(f.disbursement_id(spp))


def deactivate() -> c.DeactivateVendor:
    return c.DeactivateVendor(
        idempotency_key=f.key("off"), actor=f.ADMIN, pemda=f.PEMDA, npwp=f.NPWP, reason="tutup"
    )


def unchanged(ledger: Ledger, command: c.Command, error: type[Any], rule: str) -> None:
    before = ledger.disbursement(f.disbursement_id("SPP-1"))
    refused(ledger, command, error, rule)
    after = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert (after.status, after.version) == (before.status, before.version)


def test_a_returned_transfer_is_paid_again_to_the_new_account(ledger: Ledger) -> None:
    first = returned(ledger)
    realised = ledger.budget_line(LINE_ID).realised
    ledger.execute(f.change_account(NEW_ACCOUNT))
    result = ledger.execute(f.reissue("SPP-1"))
    assert result.data["status"] == "authorised"
    assert result.data["reissue"] == 1
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert d.status == Status.AUTHORISED
    assert d.bank_account is not None and d.bank_account["number"] == NEW_ACCOUNT
    assert d.vendor_version == ledger.vendor(VENDOR_ID).version
    assert (d.sp2d_number, d.spp_number, d.reissues) == (first.sp2d_number, "SPP-1", 1)
    assert ledger.budget_line(LINE_ID).realised == realised  # the SP2D realised it once
    event = ledger.history(d.id)[-1]
    assert type(event).__qualname__ == "Disbursement.Reissued"
    assert event.previous_account["number"] == FIRST_ACCOUNT
    assert event.bank_account["number"] == NEW_ACCOUNT
    assert event.returned_reference == "IRIS-SPP-1"
    assert event.previous_vendor_version == first.vendor_version
    # The second transfer: a new reference (the gateway's rule), to the new account.
    with pytest.raises(InvalidTransition):
        d.check_new_reference("IRIS-SPP-1")
    d.check_payee(ledger.vendor(VENDOR_ID))
    ledger.execute(f.send("SPP-1", reference="IRIS-SPP-1-02"))
    ledger.execute(f.settle("SPP-1"))
    names = event_names(ledger.history(d.id))
    assert names[-6:] == [
        "Disbursement.Sent",
        "Disbursement.Settled",
        "Disbursement.Returned",
        "Disbursement.Reissued",
        "Disbursement.Sent",
        "Disbursement.Settled",
    ]
    assert ledger.disbursement(d.id).status == Status.SETTLED


def test_the_whole_cycle_pays_the_vendor_once(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    ledger.execute(f.reissue("SPP-1"))
    ledger.execute(f.send("SPP-1", reference="IRIS-SPP-1-02"))
    ledger.execute(f.settle("SPP-1"))
    events = all_events(ledger)
    reissued = [e for e in events if type(e).__qualname__ == "Disbursement.Reissued"]
    assert len(reissued) == 1
    balance = trial_balance(events)
    assert balance.get(f"vendor_payable:{VENDOR_ID}", 0) == 0
    assert balance.get("cash_in_transit", 0) == 0
    assert balance["cash:rkud"] == -NET  # out, back, out again: one net payment
    assert balance[f"expenditure:{LINE_ID}"] == GROSS


def test_only_a_returned_transfer_may_be_paid_again(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-1", GROSS)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    unchanged(ledger, f.reissue("SPP-1"), InvalidTransition, "disbursement_lifecycle")


def test_paying_the_dead_account_again_is_refused(ledger: Ledger) -> None:
    returned(ledger)
    unchanged(ledger, f.reissue("SPP-1"), ReturnedToSameAccount, "repay_only_to_changed_account")
    # Changed and changed back: still the account the transfer bounced from.
    ledger.execute(f.change_account(NEW_ACCOUNT))
    ledger.execute(f.change_account(FIRST_ACCOUNT, bank_code="110"))
    unchanged(ledger, f.reissue("SPP-1"), ReturnedToSameAccount, "repay_only_to_changed_account")


def test_the_vendor_must_be_payable(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    ledger.execute(deactivate())
    unchanged(ledger, f.reissue("SPP-1"), VendorNotPayable, "payment_to_registered_vendor_only")


def test_only_a_kuasa_bud_pays_again(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    for role in (Role.PPTK, Role.PPK, Role.PA_KPA, Role.BPKAD_ADMIN, Role.GATEWAY):
        command = f.reissue("SPP-1", f.actor("orang.lain", role))
        unchanged(ledger, command, RoleNotPermitted, "step_requires_role")


@pytest.mark.parametrize("user", ["bud", "bud-spelt-otherwise"])
def test_whoever_issued_the_sp2d_may_not_pay_it_again(ledger: Ledger, user: str) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    who = f.BUD if user == "bud" else f.actor(f" {f.BUD.user_id.upper()} ", Role.KUASA_BUD)
    unchanged(ledger, f.reissue("SPP-1", who), SeparationOfDuties, "separation_of_duties")


def test_whoever_changed_the_account_may_not_pay_to_it(ledger: Ledger) -> None:
    returned(ledger)
    # A Kuasa BUD may not also be the vendor admin: the changer is known by user id alone.
    ledger.execute(f.change_account(NEW_ACCOUNT, actor=f.actor("kuasabud.lain", Role.BPKAD_ADMIN)))
    unchanged(ledger, f.reissue("SPP-1"), SeparationOfDuties, "separation_of_duties")
    ledger.execute(f.reissue("SPP-1", f.actor("kuasabud.ketiga", Role.KUASA_BUD)))


def test_one_return_is_paid_again_once(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    ledger.execute(f.reissue("SPP-1"))
    unchanged(ledger, f.reissue("SPP-1"), InvalidTransition, "disbursement_lifecycle")
    ledger.execute(f.send("SPP-1", reference="IRIS-SPP-1-02"))
    ledger.execute(f.settle("SPP-1"))
    ledger.execute(f.return_("SPP-1"))
    # The new account bounced too: another change is needed before another payment.
    unchanged(ledger, f.reissue("SPP-1"), ReturnedToSameAccount, "repay_only_to_changed_account")
    ledger.execute(f.change_account("5555566666"))
    ledger.execute(f.reissue("SPP-1"))
    assert ledger.disbursement(f.disbursement_id("SPP-1")).reissues == 2


def test_a_payment_is_paid_again_at_most_the_limit(ledger: Ledger) -> None:
    returned(ledger)
    for n in range(MAX_REISSUES):
        ledger.execute(f.change_account(f"77777000{n:02d}"))
        ledger.execute(f.reissue("SPP-1"))
        ledger.execute(f.send("SPP-1", reference=f"IRIS-SPP-1-R{n}"))
        ledger.execute(f.settle("SPP-1"))
        ledger.execute(f.return_("SPP-1"))
    ledger.execute(f.change_account("8888800000"))
    unchanged(ledger, f.reissue("SPP-1"), LimitExceeded, "explicit_limit")


def test_a_retry_returns_the_first_result_and_pays_once(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    command = f.reissue("SPP-1")
    first = ledger.execute(command)
    before = len(all_events(ledger))
    again = ledger.execute(command)
    assert again.data == first.data
    assert len(all_events(ledger)) == before


def test_another_pemda_cannot_pay_it_again(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    foreign = dataclasses.replace(f.reissue("SPP-1"), pemda="32.04")
    unchanged(ledger, foreign, NotFound, "not_found")


def test_the_reason_is_required(ledger: Ledger) -> None:
    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    unchanged(ledger, f.reissue("SPP-1", reason="  "), InvalidInput, "invalid_input")


@pytest.mark.parametrize("batch", [1, 1000])
def test_read_models_show_both_attempts(ledger: Ledger, batch: int) -> None:
    from projections.runner import Projector
    from tests.projection_oracle import assert_models_match

    returned(ledger)
    ledger.execute(f.change_account(NEW_ACCOUNT))
    ledger.execute(f.reissue("SPP-1"))
    projector = Projector(ledger, batch=batch)
    key = str(f.disbursement_id("SPP-1"))

    def payment() -> tuple[Any, ...]:
        with projector.db.transaction(write=False) as cursor:
            rows = cursor.fetchall(
                "SELECT status, account_number, reissues, attempts, gateway_reference"
                " FROM proj_payment WHERE disbursement_id = ?",
                (key,),
            )
        return tuple(rows[0])

    def queue() -> list[tuple[Any, ...]]:
        with projector.db.transaction(write=False) as cursor:
            rows = cursor.fetchall(
                "SELECT status, role FROM proj_queue WHERE disbursement_id = ?", (key,)
            )
        return [tuple(r) for r in rows]

    try:
        projector.catch_up()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        assert payment() == ("authorised", NEW_ACCOUNT, 1, 1, "IRIS-SPP-1")
        assert queue() == [("authorised", "gateway")]
        ledger.execute(f.send("SPP-1", reference="IRIS-SPP-1-02"))
        ledger.execute(f.settle("SPP-1"))
        projector.catch_up()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        assert payment() == ("settled", NEW_ACCOUNT, 1, 2, "IRIS-SPP-1-02")
        assert queue() == []
        with projector.db.transaction(write=False) as cursor:
            events = [
                r[0]
                for r in cursor.fetchall(
                    "SELECT event FROM proj_history WHERE aggregate_id = ? ORDER BY position",
                    (key,),
                )
            ]
            cash = cursor.fetchall("SELECT SUM(payments_out) - SUM(returns_in) FROM proj_cash_day")
        assert events[-6:] == [
            "Disbursement.Sent",
            "Disbursement.Settled",
            "Disbursement.Returned",
            "Disbursement.Reissued",
            "Disbursement.Sent",
            "Disbursement.Settled",
        ]
        assert int(cash[0][0]) == NET
    finally:
        projector.close()
