"""Rules of one LS disbursement: separation of duties (one person, however their id is spelt), the
role of each step, the SKPD of each official, rejection and cancellation, the lifecycle, unique
document numbers and tenant isolation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.budget import BudgetLine
from ledger.disbursement import Disbursement, Status
from ledger.errors import (
    AlreadyExists,
    DomainError,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RoleNotPermitted,
    SeparationOfDuties,
    SkpdScope,
    VendorNotPayable,
)
from ledger.handlers import line_id_of
from ledger.roles import REQUEST, SKPD_BOUND, Actor, Role, identity
from tests import factory as f
from tests.refusals import all_events, event_names, last_notification_id, refused

SOD_RULE = "separation_of_duties"
ROLE_RULE = "step_requires_role"
LIFECYCLE_RULE = "disbursement_lifecycle"
GROSS = 100_000_000
NET = 98_000_000
LINE_ID = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)


def setup(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)


def disbursement(ledger: Ledger, spp: str) -> Disbursement:
    return ledger.disbursement(f.disbursement_id(spp))


def budget_line(ledger: Ledger) -> BudgetLine:
    return ledger.budget_line(LINE_ID)


def steps(spp: str) -> dict[str, c.Command]:
    return {
        "request": f.request(spp, GROSS),
        "verify": f.verify(spp),
        "approve": f.approve(spp),
        "authorise": f.authorise(spp),
        "send": f.send(spp),
        "settle": f.settle(spp),
    }


def run_to(ledger: Ledger, spp: str, last: str) -> Disbursement:
    """Run the disbursement through its normal steps up to and including ``last``."""
    for name, command in steps(spp).items():
        ledger.execute(command)
        if name == last:
            break
    return disbursement(ledger, spp)


def refused_unchanged(
    ledger: Ledger, spp: str, command: c.Command, error: type[DomainError], rule: str
) -> None:
    """Refused with ``error``; the disbursement and its line keep their status and versions."""
    d = disbursement(ledger, spp)
    line = budget_line(ledger)
    refused(ledger, command, error, rule)
    after = disbursement(ledger, spp)
    assert (after.status, after.version) == (d.status, d.version)
    assert (budget_line(ledger).version, budget_line(ledger).used) == (line.version, line.used)


# -- separation of duties ----------------------------------------------------------------------
ROLE_OF_STEP = {
    "request": Role.PPTK,
    "verify": Role.PPK,
    "approve": Role.PA_KPA,
    "authorise": Role.KUASA_BUD,
}


def command_for(step: str, spp: str, actor: Actor) -> c.Command:
    if step == "verify":
        return f.verify(spp, actor)
    if step == "approve":
        return f.approve(spp, actor)
    if step == "authorise":
        return f.authorise(spp, actor)
    raise AssertionError(step)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("request", "verify"),
        ("request", "approve"),
        ("request", "authorise"),
        ("verify", "approve"),
        ("verify", "authorise"),
        ("approve", "authorise"),
    ],
)
def test_one_user_never_performs_two_steps(ledger: Ledger, first: str, second: str) -> None:
    setup(ledger)
    spp = "SPP-SOD"
    user = "dual.hat"
    order = list(ROLE_OF_STEP)
    # Run every step before ``second``, with ``user`` (in the step's role) doing ``first``.
    for step in order[: order.index(second)]:
        if step == "request":
            actor = f.actor(user, Role.PPTK) if first == "request" else f.PPTK
            ledger.execute(f.request(spp, GROSS, actor=actor))
        else:
            default = {"verify": f.PPK, "approve": f.PA, "authorise": f.BUD}[step]
            actor = f.actor(user, ROLE_OF_STEP[step]) if step == first else default
            ledger.execute(command_for(step, spp, actor))
    error_command = command_for(second, spp, f.actor(user, ROLE_OF_STEP[second]))
    refused_unchanged(ledger, spp, error_command, SeparationOfDuties, SOD_RULE)
    # Someone else may take the step.
    default = {"verify": f.PPK, "approve": f.PA, "authorise": f.BUD}[second]
    ledger.execute(command_for(second, spp, default))
    assert disbursement(ledger, spp).performers[first] == user


@pytest.mark.parametrize(
    ("done", "status_before", "reject_role"),
    [
        ("request", "requested", Role.PPK),
        ("verify", "verified", Role.PA_KPA),
        ("request", "verified", Role.PA_KPA),
        ("approve", "approved", Role.KUASA_BUD),
        ("verify", "approved", Role.KUASA_BUD),
    ],
)
def test_one_user_may_not_perform_a_step_and_reject(
    ledger: Ledger, done: str, status_before: str, reject_role: Role
) -> None:
    setup(ledger)
    spp = "SPP-SODR"
    user = "dual.hat"
    ledger.execute(
        f.request(spp, GROSS, actor=f.actor(user, Role.PPTK) if done == "request" else f.PPTK)
    )
    if status_before in ("verified", "approved"):
        ledger.execute(f.verify(spp, f.actor(user, Role.PPK) if done == "verify" else f.PPK))
    if status_before == "approved":
        ledger.execute(f.approve(spp, f.actor(user, Role.PA_KPA) if done == "approve" else f.PA))
    assert disbursement(ledger, spp).status == status_before
    refused_unchanged(
        ledger, spp, f.reject(spp, f.actor(user, reject_role)), SeparationOfDuties, SOD_RULE
    )


# One person, several spellings: the identity provider's subject with a space, in capitals, with
# look-alike dots (fullwidth full stop, one dot leader, small full stop), a zero-width space, a
# soft hyphen, fullwidth letters.
SPELLINGS_OF_ANI = (
    " pptk.ani",
    "pptk.ani\t",
    "PPTK.ANI",
    "Pptk.Ani",
    "pptk\uff0eani",
    "pptk\u2024ani",
    "pptk\ufe52ani",
    "pptk.a\u200bni",
    "pptk.\u00adani",
    "\uff50\uff50\uff54\uff4b.ani",
)


def test_identity_is_nfkc_casefolded_and_trimmed() -> None:
    assert {identity(x) for x in (*SPELLINGS_OF_ANI, "pptk.ani")} == {"pptk.ani"}
    assert identity("Straße") == identity("STRASSE") == "strasse"
    # different people stay different
    assert len({identity(x) for x in ("pptk.ani", "pptk.ani2", "pptk_ani", "pptkani")}) == 4


@pytest.mark.parametrize("spelling", SPELLINGS_OF_ANI)
def test_separation_of_duties_knows_a_person_by_any_spelling(ledger: Ledger, spelling: str) -> None:
    """The maker (``pptk.ani``) comes back as PPK, PA/KPA and Kuasa BUD under another spelling of
    her id: every step, and the rejection, is refused; a checker under another spelling may not
    cancel what they checked."""
    setup(ledger)
    spp = "SPP-SPELL"
    ledger.execute(f.request(spp, GROSS))  # by f.PPTK, "pptk.ani"
    for command in (
        f.verify(spp, f.actor(spelling, Role.PPK)),
        f.reject(spp, f.actor(spelling, Role.PPK)),
    ):
        refused_unchanged(ledger, spp, command, SeparationOfDuties, SOD_RULE)
    ledger.execute(f.verify(spp))
    refused_unchanged(
        ledger, spp, f.approve(spp, f.actor(spelling, Role.PA_KPA)), SeparationOfDuties, SOD_RULE
    )
    ledger.execute(f.approve(spp))
    refused_unchanged(
        ledger,
        spp,
        f.authorise(spp, f.actor(spelling, Role.KUASA_BUD)),
        SeparationOfDuties,
        SOD_RULE,
    )
    # the verifier ("ppk.budi"), spelt otherwise, as a Kuasa BUD or BPKAD cancelling
    for role in (Role.KUASA_BUD, Role.BPKAD_ADMIN):
        refused_unchanged(
            ledger, spp, f.cancel(spp, f.actor(" PPK.BUDI", role)), SeparationOfDuties, SOD_RULE
        )
    # the maker herself, spelt otherwise, may still withdraw her request
    ledger.execute(f.cancel(spp, f.actor(spelling, Role.PPTK)))
    assert disbursement(ledger, spp).status == Status.CANCELLED


# -- the SKPD of each official -----------------------------------------------------------------
OTHER_LINE = f.line_spec(skpd=f.OTHER_SKPD, sub_kegiatan="1.02.02.2.01.0004")


def _foreign(role: Role) -> Actor:
    """An official of another SKPD (Dinas Kesehatan) in ``role``."""
    return f.actor(f"dinkes.{role.value}", role, f.OTHER_SKPD)


def _scope_refused(ledger: Ledger, spp: str, command: c.Command) -> None:
    """Refused for its SKPD, before anything else of the payment is looked at; nothing changes
    and the refusal does not name the payment's SKPD."""
    d = disbursement(ledger, spp)
    line = budget_line(ledger)
    error = refused(ledger, command, SkpdScope, "skpd_scope")
    assert f.SKPD not in error.message
    after = disbursement(ledger, spp)
    assert (after.status, after.version) == (d.status, d.version)
    assert (budget_line(ledger).version, budget_line(ledger).used) == (line.version, line.used)


@pytest.mark.parametrize("status", ["requested", "verified", "approved", "authorised", "failed"])
def test_an_official_of_another_skpd_touches_nothing_of_this_one(
    ledger: Ledger, status: str
) -> None:
    """PPTK, bendahara, PPK and PA/KPA act for their own SKPD: every step they could take on a
    payment of another SKPD is refused (skpd_scope), in every status, whether or not their role
    would be the step's (the SKPD is checked first: no status or performer leaks)."""
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, OTHER_LINE)
    f.register_vendor(ledger)
    spp = "SPP-DISDIK"
    ledger.execute(f.request(spp, GROSS))
    if status != "requested":
        ledger.execute(f.verify(spp))
    if status in ("approved", "authorised", "failed"):
        ledger.execute(f.approve(spp))
    if status in ("authorised", "failed"):
        ledger.execute(f.authorise(spp))
    if status == "failed":
        ledger.execute(f.send(spp))
        ledger.execute(f.fail(spp))
    assert disbursement(ledger, spp).status == status
    for role in sorted(SKPD_BOUND):
        other = _foreign(role)
        for command in (
            f.verify(spp, other),
            f.approve(spp, other, spm="SPM-X"),
            f.reject(spp, other),
            f.cancel(spp, other),
            *([f.request("SPP-DINKES-X", GROSS, actor=other)] if role in REQUEST else []),
        ):  # (a request names this SKPD's line)
            if isinstance(command, c.RequestDisbursement):
                before = last_notification_id(ledger)
                error = refused(ledger, command, SkpdScope, "skpd_scope")
                assert f.SKPD not in error.message
                assert last_notification_id(ledger) == before
            else:
                _scope_refused(ledger, spp, command)
    # pemda-wide roles are not bound: the Kuasa BUD and the gateway carry on
    if status == "approved":
        ledger.execute(f.authorise(spp))
    # and the officials of the other SKPD do their own SKPD's work
    other_spp = "SPP-DINKES"
    ledger.execute(f.request(other_spp, GROSS, OTHER_LINE, actor=_foreign(Role.BENDAHARA)))
    ledger.execute(f.verify(other_spp, _foreign(Role.PPK)))
    ledger.execute(f.approve(other_spp, _foreign(Role.PA_KPA)))
    assert disbursement(ledger, other_spp).status == Status.APPROVED
    # ... but not this SKPD's officials on it
    refused(ledger, f.cancel(other_spp, f.PPTK), SkpdScope, "skpd_scope")
    refused(
        ledger, f.reject(other_spp, f.actor("kadis.citra", Role.PA_KPA)), SkpdScope, "skpd_scope"
    )


def test_a_pptk_of_another_skpd_cannot_cancel_an_spp(ledger: Ledger) -> None:
    """The finding: a PPTK of one SKPD cancelled another SKPD's SPP."""
    f.adopt(ledger, f.MEDIA_LINE, OTHER_LINE)
    f.register_vendor(ledger)
    ledger.execute(f.request("SPP-1", GROSS))
    _scope_refused(ledger, "SPP-1", f.cancel("SPP-1", _foreign(Role.PPTK)))
    ledger.execute(f.cancel("SPP-1", f.PPTK))  # its own PPTK may


def test_an_actor_of_an_skpd_bound_role_carries_its_skpd() -> None:
    for role in SKPD_BOUND:
        with pytest.raises(InvalidInput):
            Actor("x", role)  # an official of no SKPD
        with pytest.raises(InvalidInput):
            Actor("x", role, "Dinas Pendidikan")
        assert Actor("x", role, "1.1.0.0.0.0.1.0").skpd == f.SKPD  # normalised like a line's
    for role in set(Role) - SKPD_BOUND:
        with pytest.raises(InvalidInput):
            Actor("x", role, f.SKPD)  # pemda-wide roles act for no single SKPD
        assert Actor("x", role).skpd is None


@pytest.mark.parametrize("actor", [None, "ppk.budi", {"user_id": "ppk.budi", "role": "ppk"}])
def test_a_command_without_an_actor_is_refused_by_a_rule(ledger: Ledger, actor: Any) -> None:
    """Every rule reads the actor (the SKPD first): anything but an Actor is bad input, never a
    crash, whatever the payment's status."""
    setup(ledger)
    ledger.execute(f.request("SPP-1", GROSS))
    for command in (f.verify("SPP-1"), f.cancel("SPP-1"), f.request("SPP-2", GROSS)):
        refused(ledger, dataclasses.replace(command, actor=actor), InvalidInput, "invalid_input")


def test_the_skpd_is_not_part_of_a_commands_fingerprint() -> None:
    """Receipts recorded before actors carried an SKPD replay as before: the fingerprint names the
    user and role, as it always did."""
    command = f.verify("SPP-1")
    bare = dataclasses.replace(command, actor=Actor.__new__(Actor))
    object.__setattr__(bare.actor, "user_id", command.actor.user_id)
    object.__setattr__(bare.actor, "role", command.actor.role)
    object.__setattr__(bare.actor, "skpd", None)
    assert bare.fingerprint() == command.fingerprint()
    assert f.verify("SPP-1", f.actor("ppk.lain", Role.PPK)).fingerprint() != command.fingerprint()


# -- roles -------------------------------------------------------------------------------------
def test_each_step_needs_its_role(ledger: Ledger) -> None:
    setup(ledger)
    spp = "SPP-ROLE"
    for role in (
        Role.PPK,
        Role.PA_KPA,
        Role.KUASA_BUD,
        Role.BPKAD_ADMIN,
        Role.AUDITOR,
        Role.VENDOR,
        Role.GATEWAY,
    ):
        refused(
            ledger, f.request(spp, GROSS, actor=f.actor("x", role)), RoleNotPermitted, ROLE_RULE
        )
    assert not ledger.recorder.select_events(f.disbursement_id(spp))
    ledger.execute(f.request(spp, GROSS, actor=f.actor("bendahara.eka", Role.BENDAHARA)))
    wrong: dict[str, list[Role]] = {
        "verify": [Role.PPTK, Role.BENDAHARA, Role.PA_KPA, Role.KUASA_BUD, Role.AUDITOR],
        "approve": [Role.PPK, Role.KUASA_BUD, Role.BPKAD_ADMIN],
        "authorise": [Role.PA_KPA, Role.PPK, Role.BPKAD_ADMIN, Role.GATEWAY],
    }
    for step, roles in wrong.items():
        for role in roles:
            refused_unchanged(
                ledger, spp, command_for(step, spp, f.actor("x", role)), RoleNotPermitted, ROLE_RULE
            )
        ledger.execute(
            command_for(step, spp, {"verify": f.PPK, "approve": f.PA, "authorise": f.BUD}[step])
        )
    for actor in (f.BUD, f.ADMIN, f.actor("x", Role.AUDITOR)):
        refused_unchanged(ledger, spp, f.send(spp, actor), RoleNotPermitted, ROLE_RULE)
    ledger.execute(f.send(spp))
    refused_unchanged(ledger, spp, f.settle(spp, f.BUD), RoleNotPermitted, ROLE_RULE)
    ledger.execute(f.settle(spp))
    assert disbursement(ledger, spp).status == Status.SETTLED


@pytest.mark.parametrize(
    ("at", "wrong", "right"),
    [
        ("requested", Role.PA_KPA, Role.PPK),
        ("verified", Role.PPK, Role.PA_KPA),
        ("approved", Role.PA_KPA, Role.KUASA_BUD),
    ],
)
def test_rejection_belongs_to_the_role_of_the_pending_step(
    ledger: Ledger, at: str, wrong: Role, right: Role
) -> None:
    setup(ledger)
    last = {"requested": "request", "verified": "verify", "approved": "approve"}[at]
    run_to(ledger, "SPP-R", last)
    refused_unchanged(
        ledger, "SPP-R", f.reject("SPP-R", f.actor("x", wrong)), RoleNotPermitted, ROLE_RULE
    )
    ledger.execute(f.reject("SPP-R", f.actor("y", right)))
    rejected = ledger.history(f.disbursement_id("SPP-R"))[-1]
    assert type(rejected).__qualname__ == "Disbursement.Rejected"
    assert (
        rejected.step == {"requested": "verify", "verified": "approve", "approved": "authorise"}[at]
    )


# -- rejection ---------------------------------------------------------------------------------
def test_rejection_needs_a_reason_records_it_and_releases_the_commitment(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "verify")
    assert budget_line(ledger).committed == GROSS
    for reason in ("", "   "):
        refused_unchanged(
            ledger, "SPP-1", f.reject("SPP-1", f.PA, reason), InvalidInput, "invalid_input"
        )
    ledger.execute(f.reject("SPP-1", f.PA, "BAST belum ditandatangani"))
    d = disbursement(ledger, "SPP-1")
    assert d.status == Status.REJECTED
    assert d.performers["reject"] == f.PA.user_id
    rejected = ledger.history(d.id)[-1]
    assert (rejected.reason, rejected.step, rejected.actor_id, rejected.actor_role) == (
        "BAST belum ditandatangani",
        "approve",
        f.PA.user_id,
        "pa_kpa",
    )
    line = budget_line(ledger)
    assert (line.committed, line.realised, line.available) == (0, 0, line.pagu)
    assert line.open_commitments == {}
    released = ledger.history(LINE_ID)[-1]
    assert type(released).__qualname__ == "BudgetLine.CommitmentReleased"
    assert (released.amount, released.disbursement_id) == (GROSS, str(d.id))


# -- cancellation ------------------------------------------------------------------------------
def test_a_checker_may_not_cancel_what_they_checked(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "authorise")
    # A PPK or PA/KPA has no cancel role at all.
    refused_unchanged(ledger, "SPP-1", f.cancel("SPP-1", f.PPK), RoleNotPermitted, ROLE_RULE)
    refused_unchanged(ledger, "SPP-1", f.cancel("SPP-1", f.PA), RoleNotPermitted, ROLE_RULE)
    # Whoever issued the SP2D, or verified, may not withdraw it under another hat.
    refused_unchanged(ledger, "SPP-1", f.cancel("SPP-1", f.BUD), SeparationOfDuties, SOD_RULE)
    verifier_as_bendahara = f.actor(f.PPK.user_id, Role.BENDAHARA)
    refused_unchanged(
        ledger, "SPP-1", f.cancel("SPP-1", verifier_as_bendahara), SeparationOfDuties, SOD_RULE
    )
    assert disbursement(ledger, "SPP-1").status == Status.AUTHORISED


def test_the_maker_may_withdraw_a_request_and_the_commitment_is_released(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "approve")
    refused_unchanged(ledger, "SPP-1", f.cancel("SPP-1", reason=""), InvalidInput, "invalid_input")
    ledger.execute(f.cancel("SPP-1"))
    d = disbursement(ledger, "SPP-1")
    assert d.status == Status.CANCELLED
    cancelled = ledger.history(d.id)[-1]
    assert (cancelled.previous_status, cancelled.reason, cancelled.actor_id) == (
        "approved",
        "kontrak dibatalkan",
        f.PPTK.user_id,
    )
    line = budget_line(ledger)
    assert (line.committed, line.realised, line.open_commitments) == (0, 0, {})


def test_an_uninvolved_bpkad_admin_may_cancel(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "verify")
    ledger.execute(f.cancel("SPP-1", f.ADMIN))
    assert disbursement(ledger, "SPP-1").status == Status.CANCELLED


def test_cancel_after_sp2d_reverses_the_realisation(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "authorise")
    line = budget_line(ledger)
    assert (line.committed, line.realised) == (0, GROSS)
    ledger.execute(f.cancel("SPP-1", f.actor("kuasabud.lain", Role.KUASA_BUD)))
    line = budget_line(ledger)
    assert (line.committed, line.realised, line.available) == (0, 0, line.pagu)
    reversed_ = ledger.history(LINE_ID)[-1]
    assert type(reversed_).__qualname__ == "BudgetLine.RealisationReversed"
    assert reversed_.amount == GROSS
    cancelled = ledger.history(f.disbursement_id("SPP-1"))[-1]
    assert (cancelled.previous_status, cancelled.gross, cancelled.net) == ("authorised", GROSS, NET)
    # The pagu is free again; the SP2D number stays used.
    ledger.execute(f.request("SPP-2", line.pagu))
    for command in (f.verify("SPP-2"), f.approve("SPP-2")):
        ledger.execute(command)
    refused(ledger, f.authorise("SPP-2", sp2d="SP2D/SPP-1"), AlreadyExists, "unique_identity")


def test_no_cancel_once_money_moved(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "send")
    refused_unchanged(ledger, "SPP-1", f.cancel("SPP-1"), InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.settle("SPP-1"))
    refused_unchanged(ledger, "SPP-1", f.cancel("SPP-1"), InvalidTransition, LIFECYCLE_RULE)


def test_a_failed_transfer_may_be_cancelled_and_its_sp2d_reversed(ledger: Ledger) -> None:
    """A failed transfer never reached the vendor: withdrawing it frees the pagu and the payable."""
    from ledger.postings import is_balanced, postings_for, trial_balance

    setup(ledger)
    run_to(ledger, "SPP-1", "send")
    ledger.execute(f.fail("SPP-1"))
    # The vendor changed account: the failed payment cannot be resent, so BPKAD withdraws it.
    ledger.execute(
        f.change_account(
            "9988776655",
            bank_code="002",
            holder="PT Pikiran Rakyat",
            reason="rekening lama ditutup",
        )
    )
    ledger.execute(f.cancel("SPP-1", f.actor("bpkad.lain", Role.BPKAD_ADMIN)))
    d = disbursement(ledger, "SPP-1")
    assert d.status == Status.CANCELLED
    line = budget_line(ledger)
    assert (line.committed, line.realised, line.available) == (0, 0, line.pagu)
    cancelled = ledger.history(d.id)[-1]
    assert (cancelled.previous_status, cancelled.gross) == ("failed", GROSS)
    events = all_events(ledger)
    assert all(is_balanced(postings_for(e)) for e in events)
    balance = trial_balance(events)
    assert balance[f"vendor_payable:{d.vendor_id}"] == 0
    assert balance["cash_in_transit"] == 0
    assert balance.get("cash:rkud", 0) == 0
    assert balance[f"expenditure:{d.line_id}"] == 0


# -- lifecycle ---------------------------------------------------------------------------------
def test_steps_out_of_order_are_invalid_transitions(ledger: Ledger) -> None:
    command: c.Command
    setup(ledger)
    spp = "SPP-1"
    ledger.execute(f.request(spp, GROSS))
    for command in (
        f.approve(spp),
        f.authorise(spp),
        f.send(spp),
        f.settle(spp),
        f.fail(spp),
        f.return_(spp),
    ):
        refused_unchanged(ledger, spp, command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.verify(spp))
    for command in (f.verify(spp, f.actor("ppk.lain", Role.PPK)), f.authorise(spp), f.send(spp)):
        refused_unchanged(ledger, spp, command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.approve(spp))
    for command in (f.approve(spp, f.actor("pa.lain", Role.PA_KPA), spm="SPM-X"), f.settle(spp)):
        refused_unchanged(ledger, spp, command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.authorise(spp))
    for command in (
        f.reject(spp, f.BUD),
        f.reject(spp, f.actor("kuasabud.lain", Role.KUASA_BUD)),
        f.authorise(spp, f.actor("kuasabud.lain", Role.KUASA_BUD), sp2d="SP2D-X"),
        f.settle(spp),
        f.fail(spp),
        f.return_(spp),
    ):
        refused_unchanged(ledger, spp, command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.send(spp))
    for command in (f.send(spp), f.return_(spp), f.reject(spp, f.PPK)):
        refused_unchanged(ledger, spp, command, InvalidTransition, LIFECYCLE_RULE)


def test_a_failed_transfer_may_be_sent_again(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "send")
    ledger.execute(f.fail("SPP-1"))
    d = disbursement(ledger, "SPP-1")
    assert (d.status, d.attempts) == (Status.FAILED, 1)
    for command in (f.settle("SPP-1"), f.fail("SPP-1"), f.return_("SPP-1")):
        refused_unchanged(ledger, "SPP-1", command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.send("SPP-1", reference="IRIS-RETRY"))
    ledger.execute(f.settle("SPP-1"))
    d = disbursement(ledger, "SPP-1")
    assert (d.status, d.attempts, d.gateway_reference) == (Status.SETTLED, 2, "IRIS-RETRY")
    assert event_names(ledger.history(d.id)) == [
        "Disbursement.Requested",
        "Disbursement.Verified",
        "Disbursement.Approved",
        "Disbursement.Authorised",
        "Disbursement.Sent",
        "Disbursement.Failed",
        "Disbursement.Sent",
        "Disbursement.Settled",
    ]


def test_settled_may_be_returned_and_returned_is_terminal(ledger: Ledger) -> None:
    command: c.Command
    setup(ledger)
    run_to(ledger, "SPP-1", "settle")
    for command in (f.send("SPP-1"), f.settle("SPP-1"), f.fail("SPP-1"), f.cancel("SPP-1")):
        refused_unchanged(ledger, "SPP-1", command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(f.return_("SPP-1"))
    returned = ledger.history(f.disbursement_id("SPP-1"))[-1]
    assert (returned.reason, returned.amount) == ("nama rekening tidak sesuai", NET)
    assert disbursement(ledger, "SPP-1").status == Status.RETURNED
    for command in (
        f.return_("SPP-1"),
        f.send("SPP-1"),
        f.settle("SPP-1"),
        f.fail("SPP-1"),
        f.cancel("SPP-1"),
        f.reject("SPP-1", f.actor("y", Role.PPK)),
    ):
        refused_unchanged(ledger, "SPP-1", command, InvalidTransition, LIFECYCLE_RULE)


@pytest.mark.parametrize("end", ["rejected", "cancelled"])
def test_rejected_and_cancelled_are_terminal(ledger: Ledger, end: str) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "request")
    ledger.execute(f.reject("SPP-1", f.PPK) if end == "rejected" else f.cancel("SPP-1"))
    other_ppk = f.actor("ppk.lain", Role.PPK)
    for command in (
        f.verify("SPP-1", other_ppk),
        f.approve("SPP-1"),
        f.authorise("SPP-1"),
        f.reject("SPP-1", other_ppk),
        f.cancel("SPP-1"),
        f.send("SPP-1"),
    ):
        refused_unchanged(ledger, "SPP-1", command, InvalidTransition, LIFECYCLE_RULE)


# -- a transfer the gateway refused before sending (TransferRejected) -----------------------------
def transfer_rejected(
    spp: str,
    reference: str,
    actor: Actor = f.GATEWAY,
    key: str | None = None,
    reason: str = "iris: payout rejected by the approver",
) -> c.RecordTransferRejected:
    return c.RecordTransferRejected(
        idempotency_key=key or f.key("rejected"),
        actor=actor,
        pemda=f.PEMDA,
        disbursement_id=f.disbursement_id(spp),
        gateway="iris",
        reference=reference,
        reason=reason,
    )


def test_a_refused_transfer_leaves_the_sp2d_payable_and_moves_the_attempt_on(
    ledger: Ledger,
) -> None:
    from ledger.postings import postings_for, trial_balance

    setup(ledger)
    before = run_to(ledger, "SPP-1", "authorise")
    balance_before = trial_balance(all_events(ledger))
    line_before = budget_line(ledger)
    ledger.execute(transfer_rejected("SPP-1", "IRIS-SPP-1-01"))
    d = disbursement(ledger, "SPP-1")
    assert (d.status, d.attempts, d.gateway_reference) == (Status.AUTHORISED, 1, None)
    assert d.version == before.version + 1
    fact = ledger.history(d.id)[-1]
    assert type(fact).__qualname__ == "Disbursement.TransferRejected"
    assert (fact.gateway, fact.reference, fact.reason) == (
        "iris",
        "IRIS-SPP-1-01",
        "iris: payout rejected by the approver",
    )
    assert (fact.actor_id, fact.actor_role) == (f.GATEWAY.user_id, "gateway")
    # Nothing left the RKUD: no postings, the trial balance and the line are as they were.
    assert postings_for(fact) == []
    assert trial_balance(all_events(ledger)) == balance_before
    line = budget_line(ledger)
    assert (line.version, line.realised, line.committed) == (
        line_before.version,
        line_before.realised,
        line_before.committed,
    )
    # The next attempt is a new one, and pays.
    ledger.execute(f.send("SPP-1", reference="IRIS-SPP-1-02"))
    ledger.execute(f.settle("SPP-1"))
    d = disbursement(ledger, "SPP-1")
    assert (d.status, d.attempts, d.gateway_reference) == (Status.SETTLED, 2, "IRIS-SPP-1-02")
    assert event_names(ledger.history(d.id))[3:] == [
        "Disbursement.Authorised",
        "Disbursement.TransferRejected",
        "Disbursement.Sent",
        "Disbursement.Settled",
    ]


def test_a_refused_resend_leaves_the_failed_transfer_failed_and_cancellable(
    ledger: Ledger,
) -> None:
    from ledger.postings import is_balanced, postings_for, trial_balance

    setup(ledger)
    run_to(ledger, "SPP-1", "send")
    ledger.execute(f.fail("SPP-1"))
    ledger.execute(transfer_rejected("SPP-1", "IRIS-SPP-1-02"))
    d = disbursement(ledger, "SPP-1")
    assert (d.status, d.attempts, d.gateway_reference) == (Status.FAILED, 2, "IRIS-SPP-1")
    ledger.execute(f.cancel("SPP-1"))
    assert disbursement(ledger, "SPP-1").status == Status.CANCELLED
    events = all_events(ledger)
    assert all(is_balanced(postings_for(e)) for e in events if postings_for(e))
    balance = trial_balance(events)
    assert balance[f"vendor_payable:{d.vendor_id}"] == 0
    assert balance["cash_in_transit"] == 0
    assert balance[f"expenditure:{d.line_id}"] == 0


def test_only_the_gateway_records_a_refused_transfer(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "authorise")
    for actor in (f.BUD, f.PPK, f.ADMIN, f.actor("auditor", Role.AUDITOR)):
        command = transfer_rejected("SPP-1", "IRIS-SPP-1-01", actor)
        refused_unchanged(ledger, "SPP-1", command, RoleNotPermitted, ROLE_RULE)


def test_a_refused_transfer_only_while_no_transfer_is_under_way(ledger: Ledger) -> None:
    setup(ledger)
    spp = "SPP-1"

    def refused_here(target: str = spp) -> None:
        command = transfer_rejected(target, "IRIS-X")
        refused_unchanged(ledger, target, command, InvalidTransition, LIFECYCLE_RULE)

    for name, command in steps(spp).items():
        ledger.execute(command)
        if name != "authorise":  # requested, verified, approved; sent, settled
            refused_here()
    ledger.execute(f.return_(spp))
    refused_here()
    for end in ("rejected", "cancelled"):
        other = f"SPP-{end}"
        ledger.execute(f.request(other, GROSS))
        ledger.execute(f.reject(other, f.PPK) if end == "rejected" else f.cancel(other))
        refused_here(other)


def test_a_refused_transfer_is_a_new_attempt_with_its_own_reference(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "send")  # sent as IRIS-SPP-1
    ledger.execute(f.fail("SPP-1"))
    command = transfer_rejected("SPP-1", "IRIS-SPP-1")  # the reference that was sent
    refused_unchanged(ledger, "SPP-1", command, InvalidTransition, LIFECYCLE_RULE)
    ledger.execute(transfer_rejected("SPP-1", "IRIS-SPP-1-02"))
    again = transfer_rejected("SPP-1", "IRIS-SPP-1-02")  # the same refusal under another key
    refused_unchanged(ledger, "SPP-1", again, InvalidTransition, LIFECYCLE_RULE)
    for bad in (
        transfer_rejected("SPP-1", "IRIS-SPP-1-03", reason="  "),
        transfer_rejected("SPP-1", ""),
    ):
        refused_unchanged(ledger, "SPP-1", bad, InvalidInput, "invalid_input")
    assert disbursement(ledger, "SPP-1").attempts == 2


def test_a_refused_transfer_replayed_returns_the_first_result_and_appends_nothing(
    ledger: Ledger,
) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "authorise")
    command = transfer_rejected("SPP-1", "IRIS-SPP-1-01", key="iris:IRIS-SPP-1-01:rejected")
    first = ledger.execute(command)
    assert not first.replayed
    after_first = last_notification_id(ledger)
    again = ledger.execute(command)
    assert again.replayed and again.data == first.data
    assert last_notification_id(ledger) == after_first
    d = disbursement(ledger, "SPP-1")
    assert (d.status, d.attempts) == (Status.AUTHORISED, 1)
    # The key belongs to that command: another command under it is refused.
    other = dataclasses.replace(command, reason="another reason")
    refused(ledger, other, IdempotencyKeyReused, "idempotency_key_reused_with_other_command")


def test_another_pemda_cannot_record_a_refused_transfer(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "authorise")
    command = dataclasses.replace(transfer_rejected("SPP-1", "IRIS-SPP-1-01"), pemda="32.04")
    refused_unchanged(ledger, "SPP-1", command, NotFound, NotFound.rule)


def test_read_models_keep_a_refused_transfer_payable_and_count_the_attempt(
    ledger: Ledger,
) -> None:
    from projections.runner import Projector
    from tests.projection_oracle import assert_models_match

    setup(ledger)
    run_to(ledger, "SPP-1", "authorise")
    ledger.execute(transfer_rejected("SPP-1", "IRIS-SPP-1-01"))
    projector = Projector(ledger, batch=5)
    key = str(f.disbursement_id("SPP-1"))
    try:
        projector.catch_up()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        with projector.db.transaction(write=False) as cursor:
            payment = cursor.fetchall(
                "SELECT status, attempts, gateway_reference FROM proj_payment"
                " WHERE disbursement_id = ?",
                (key,),
            )
            queue = cursor.fetchall(
                "SELECT status, role FROM proj_queue WHERE disbursement_id = ?", (key,)
            )
        assert [tuple(r) for r in payment] == [("authorised", 1, None)]
        assert [tuple(r) for r in queue] == [("authorised", "gateway")]
        ledger.execute(f.send("SPP-1", reference="IRIS-SPP-1-02"))
        ledger.execute(f.settle("SPP-1"))
        projector.catch_up()
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
        with projector.db.transaction(write=False) as cursor:
            payment = cursor.fetchall(
                "SELECT status, attempts, gateway_reference FROM proj_payment"
                " WHERE disbursement_id = ?",
                (key,),
            )
        assert [tuple(r) for r in payment] == [("settled", 2, "IRIS-SPP-1-02")]
    finally:
        projector.close()


# -- unique numbers ----------------------------------------------------------------------------
def test_spp_number_is_unique(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-1", GROSS))
    line_before = budget_line(ledger)
    error = refused(
        ledger, f.request("SPP-1", 5_000_000, deductions=()), AlreadyExists, "unique_identity"
    )
    assert "SPP number SPP-1" in error.message
    line = budget_line(ledger)
    assert (line.committed, line.version) == (GROSS, line_before.version)
    assert disbursement(ledger, "SPP-1").gross == GROSS
    # Surrounding blanks do not make another number.
    refused(
        ledger, f.request(" SPP-1 ", 5_000_000, deductions=()), AlreadyExists, "unique_identity"
    )


def test_spm_number_is_unique_per_pemda_and_year(ledger: Ledger) -> None:
    setup(ledger)
    for spp in ("SPP-1", "SPP-2"):
        run_to(ledger, spp, "verify")
    ledger.execute(f.approve("SPP-1", spm="SPM-001"))
    error = refused(ledger, f.approve("SPP-2", spm="SPM-001"), AlreadyExists, "unique_identity")
    assert "SPM number SPM-001" in error.message
    d = disbursement(ledger, "SPP-2")
    assert (d.status, d.spm_number) == (Status.VERIFIED, None)
    refused(ledger, f.approve("SPP-2", spm=" SPM-001 "), AlreadyExists, "unique_identity")
    ledger.execute(f.approve("SPP-2", spm="SPM-002"))
    # SPM and SP2D numbers are separate series.
    ledger.execute(f.authorise("SPP-1", sp2d="SPM-001"))


def test_sp2d_number_is_unique_per_pemda_and_year(ledger: Ledger) -> None:
    setup(ledger)
    for spp in ("SPP-1", "SPP-2"):
        run_to(ledger, spp, "approve")
    ledger.execute(f.authorise("SPP-1", sp2d="SP2D-001"))
    line = budget_line(ledger)
    refused(ledger, f.authorise("SPP-2", sp2d="SP2D-001"), AlreadyExists, "unique_identity")
    d = disbursement(ledger, "SPP-2")
    assert (d.status, d.sp2d_number, d.bank_account) == (Status.APPROVED, None, None)
    after = budget_line(ledger)
    assert (after.committed, after.realised, after.version) == (
        line.committed,
        line.realised,
        line.version,
    )


def test_numbers_of_another_pemda_do_not_collide(ledger: Ledger) -> None:
    setup(ledger)
    f.adopt(ledger, pemda="32")
    f.register_vendor(ledger, pemda="32")
    ledger.execute(f.request("SPP-1", GROSS))
    ledger.execute(f.request("SPP-1", GROSS, pemda="32"))
    for pemda in (f.PEMDA, "32"):
        ledger.execute(f.verify("SPP-1", pemda=pemda))
        ledger.execute(f.approve("SPP-1", spm="SPM-1", pemda=pemda))
        ledger.execute(f.authorise("SPP-1", sp2d="SP2D-1", pemda=pemda))
    assert f.disbursement_id("SPP-1") != f.disbursement_id("SPP-1", "32")
    for pemda in (f.PEMDA, "32"):
        d = ledger.disbursement(f.disbursement_id("SPP-1", pemda))
        assert (d.pemda, d.status, d.sp2d_number) == (pemda, Status.AUTHORISED, "SP2D-1")


# -- tenants -----------------------------------------------------------------------------------
def test_another_pemda_cannot_see_or_touch_a_disbursement(ledger: Ledger) -> None:
    setup(ledger)
    f.adopt(ledger, pemda="32")
    run_to(ledger, "SPP-1", "request")
    make: list[Callable[[], c.Command]] = [
        lambda: f.verify("SPP-1"),
        lambda: f.reject("SPP-1", f.PPK),
        lambda: f.cancel("SPP-1"),
    ]
    for build in make:
        command = dataclasses.replace(build(), pemda="32")
        refused_unchanged(ledger, "SPP-1", command, NotFound, "not_found")
    ledger.execute(f.verify("SPP-1"))
    ledger.execute(f.approve("SPP-1"))
    for command in (f.authorise("SPP-1"), f.cancel("SPP-1", f.ADMIN)):
        refused_unchanged(
            ledger, "SPP-1", dataclasses.replace(command, pemda="32"), NotFound, "not_found"
        )
    ledger.execute(f.authorise("SPP-1"))
    for command in (f.send("SPP-1"), f.settle("SPP-1"), f.fail("SPP-1"), f.return_("SPP-1")):
        refused_unchanged(
            ledger, "SPP-1", dataclasses.replace(command, pemda="32"), NotFound, "not_found"
        )


def test_a_disbursement_command_must_name_a_disbursement(ledger: Ledger) -> None:
    setup(ledger)
    # The id of an aggregate of another kind is no disbursement.
    command = dataclasses.replace(f.verify("SPP-1"), disbursement_id=LINE_ID)
    refused(ledger, command, NotFound, "not_found")
    refused(ledger, f.verify("SPP-NONE"), NotFound, "not_found")
    assert budget_line(ledger).version == 1


def test_sp2d_only_for_a_vendor_still_active(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "approve")
    ledger.execute(
        c.DeactivateVendor(
            idempotency_key=f.key("deact"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            npwp=f.NPWP,
            reason="blacklist LKPP",
        )
    )
    refused_unchanged(
        ledger, "SPP-1", f.authorise("SPP-1"), VendorNotPayable, "payment_to_registered_vendor_only"
    )


# -- who and when ------------------------------------------------------------------------------
def test_every_event_records_actor_role_and_time(ledger: Ledger) -> None:
    setup(ledger)
    run_to(ledger, "SPP-1", "settle")
    ledger.execute(f.return_("SPP-1"))
    run_to(ledger, "SPP-2", "verify")
    ledger.execute(f.reject("SPP-2", f.PA))
    run_to(ledger, "SPP-3", "authorise")
    ledger.execute(f.cancel("SPP-3"))
    events = all_events(ledger)
    assert len(events) == last_notification_id(ledger) > 15
    # The receipts and number claims (kept apart from the log) record who and when too.
    receipts = sorted(ledger.receipts(), key=lambda e: e.at)
    known = {a.user_id: a.role.value for a in (f.ADMIN, f.PPTK, f.PPK, f.PA, f.BUD, f.GATEWAY)}
    for stream in (events, receipts):
        previous = None
        for event in stream:
            name = type(event).__qualname__
            assert event.actor_id in known, name
            assert event.actor_role == known[event.actor_id], name
            assert event.at.tzinfo is not None, name
            assert event.at.year == 2026, name
            if previous is not None:
                assert event.at >= previous, name
            previous = event.at
    by_name = {type(e).__qualname__: e for e in [*events, *receipts]}
    assert by_name["Disbursement.Verified"].actor_id == f.PPK.user_id
    assert by_name["Disbursement.Approved"].actor_role == "pa_kpa"
    assert by_name["Disbursement.Authorised"].actor_role == "kuasa_bud"
    assert by_name["Disbursement.Settled"].actor_role == "gateway"
    assert by_name["Disbursement.Rejected"].actor_id == f.PA.user_id
    assert by_name["BudgetLine.RealisationReversed"].actor_id == f.PPTK.user_id
    assert by_name["CommandReceipt.Recorded"].actor_id in known
    assert by_name["DocumentNumber.Claimed"].actor_role == "kuasa_bud"


def test_events_of_one_command_share_one_time(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-1", GROSS))
    requested = ledger.history(f.disbursement_id("SPP-1"))[0]
    committed = ledger.history(LINE_ID)[-1]
    assert requested.at == committed.at
    ledger.execute(f.verify("SPP-1"))
    verified = ledger.history(f.disbursement_id("SPP-1"))[-1]
    assert verified.at > requested.at


def test_ids_are_natural_keys() -> None:
    assert f.disbursement_id("SPP-1") == f.disbursement_id("SPP-1")
    assert f.disbursement_id("SPP-1") != f.disbursement_id("SPP-2")
    assert isinstance(LINE_ID, UUID)


@pytest.mark.parametrize(
    ("user_id", "role"),
    [("", Role.PPTK), ("   ", Role.PPK), ("x" * 129, Role.PPK), (None, Role.PPK), ("x", "ppk")],
)
def test_an_actor_is_a_named_user_in_a_known_role(user_id: Any, role: Any) -> None:
    with pytest.raises(InvalidInput):
        Actor(user_id, role, f.SKPD)
    assert Actor("x" * 128, Role.PPK, f.SKPD).user_id == "x" * 128


def test_a_payment_runs_from_spp_to_settlement(ledger: Ledger) -> None:
    """The whole path on every store: SPP, verification, SPM, SP2D, transfer, settlement, paid net
    of the PPh withheld."""
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-0001")
    d = ledger.disbursement(f.disbursement_id("SPP-0001"))
    assert d.status == Status.SETTLED
    assert d.net == 98_000_000
