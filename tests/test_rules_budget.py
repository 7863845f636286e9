"""Rules of the APBD: adoption, committed + realised <= pagu, APBD-P, pergeseran and blokir."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.budget import BudgetLine
from ledger.disbursement import Status
from ledger.errors import (
    AlreadyExists,
    AmendmentBelowUsage,
    BudgetNotOpen,
    InvalidInput,
    LineBlocked,
    NotFound,
    PaguExceeded,
    RoleNotPermitted,
)
from ledger.handlers import line_id_of
from ledger.roles import Actor, Role
from tests import factory as f
from tests.refusals import event_names, last_notification_id, refused

PAGU_RULE = "committed_plus_realised_within_pagu"
ROLE_RULE = "step_requires_role"

PAGU = 1_000_000
SMALL = f.line_spec(pagu=PAGU)
OTHER = f.line_spec("5.1.02.01.01.0024", 500_000, uraian="Belanja Alat Tulis Kantor")
NEW = f.line_spec("5.1.02.02.01.0026", 300_000, uraian="Belanja Jasa Tenaga Ahli")


def line_id(spec: c.LineSpec) -> UUID:
    return line_id_of(f.PEMDA, f.YEAR, spec)


def line(ledger: Ledger, spec: c.LineSpec) -> BudgetLine:
    return ledger.budget_line(line_id(spec))


def usage(ledger: Ledger, spec: c.LineSpec) -> tuple[int, int, int, int]:
    found = line(ledger, spec)
    return found.pagu, found.committed, found.realised, found.available


def setup(ledger: Ledger) -> None:
    f.adopt(ledger, SMALL, OTHER)
    f.register_vendor(ledger)


def ask(spp: str, gross: int, spec: c.LineSpec = SMALL) -> c.RequestDisbursement:
    return f.request(spp, gross, spec, deductions=())


def to_sp2d(ledger: Ledger, spp: str, gross: int, spec: c.LineSpec = SMALL) -> None:
    for command in (ask(spp, gross, spec), f.verify(spp), f.approve(spp), f.authorise(spp)):
        ledger.execute(command)


def amend(*lines: c.LineSpec, actor: Actor = f.ADMIN) -> c.AmendBudget:
    return c.AmendBudget(
        idempotency_key=f.key("apbdp"),
        actor=actor,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-APBDP-2026",
        lines=lines,
    )


def shift(
    amount: int,
    source: c.LineSpec = SMALL,
    target: c.LineSpec = OTHER,
    actor: Actor = f.ADMIN,
) -> c.ShiftBudget:
    return c.ShiftBudget(
        idempotency_key=f.key("shift"),
        actor=actor,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="SK-PERGESERAN-7",
        from_line=f.ref(source),
        to_line=f.ref(target),
        amount=amount,
    )


def block(
    spec: c.LineSpec = SMALL, actor: Actor = f.ADMIN, reason: str = "blokir TAPD"
) -> c.BlockLine:
    return c.BlockLine(
        idempotency_key=f.key("block"),
        actor=actor,
        pemda=f.PEMDA,
        year=f.YEAR,
        line=f.ref(spec),
        reason=reason,
    )


def unblock(spec: c.LineSpec = SMALL, actor: Actor = f.ADMIN) -> c.UnblockLine:
    return c.UnblockLine(
        idempotency_key=f.key("unblock"),
        actor=actor,
        pemda=f.PEMDA,
        year=f.YEAR,
        line=f.ref(spec),
        reason="blokir dibuka",
    )


# -- adoption ----------------------------------------------------------------------------------
def test_adoption_creates_the_budget_and_its_lines(ledger: Ledger) -> None:
    result = f.adopt(ledger, SMALL, OTHER)
    assert result.data == {"id": result.id, "lines": 2, "total_pagu": 1_500_000}
    budget = ledger.budget(f.PEMDA, f.YEAR)
    assert budget.line_ids == [str(line_id(SMALL)), str(line_id(OTHER))]
    assert budget.total_pagu == 1_500_000
    assert usage(ledger, SMALL) == (PAGU, 0, 0, PAGU)
    assert event_names(ledger.history(budget.id)) == ["Budget.Adopted"]


def test_a_budget_is_adopted_once(ledger: Ledger) -> None:
    f.adopt(ledger, SMALL)
    command = c.AdoptBudget(
        idempotency_key=f.key("adopt"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-2-2025",
        lines=(OTHER,),
    )
    refused(ledger, command, AlreadyExists, "unique_identity")
    assert ledger.budget(f.PEMDA, f.YEAR).line_ids == [str(line_id(SMALL))]
    with pytest.raises(NotFound):
        line(ledger, OTHER)


def test_another_year_or_pemda_is_another_budget(ledger: Ledger) -> None:
    f.adopt(ledger, SMALL)
    f.adopt(ledger, SMALL, pemda="32")
    assert ledger.budget("32", f.YEAR).total_pagu == PAGU
    assert line_id_of("32", f.YEAR, SMALL) != line_id(SMALL)


@pytest.mark.parametrize("role", [Role.PPTK, Role.PPK, Role.PA_KPA, Role.KUASA_BUD, Role.AUDITOR])
def test_only_bpkad_admin_adopts_the_budget(ledger: Ledger, role: Role) -> None:
    command = c.AdoptBudget(
        idempotency_key=f.key("adopt"),
        actor=f.actor("someone", role),
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-1-2025",
        lines=(SMALL,),
    )
    refused(ledger, command, RoleNotPermitted, ROLE_RULE)
    assert last_notification_id(ledger) == 0


def test_a_budget_needs_lines(ledger: Ledger) -> None:
    command = c.AdoptBudget(
        idempotency_key=f.key("adopt"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-1-2025",
        lines=(),
    )
    refused(ledger, command, InvalidInput, "invalid_input")


def test_nothing_can_change_a_budget_that_was_not_adopted(ledger: Ledger) -> None:
    refused(ledger, amend(NEW), BudgetNotOpen, "budget_must_be_adopted")
    refused(ledger, shift(1), BudgetNotOpen, "budget_must_be_adopted")
    refused(ledger, block(), NotFound, "not_found")
    f.register_vendor(ledger)
    refused(ledger, ask("SPP-1", 1), NotFound, "not_found")


# -- pagu --------------------------------------------------------------------------------------
def test_commitment_may_reach_the_pagu_exactly(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(ask("SPP-1", PAGU))
    assert usage(ledger, SMALL) == (PAGU, PAGU, 0, 0)


def test_commitment_one_rupiah_over_the_pagu_is_refused(ledger: Ledger) -> None:
    setup(ledger)
    version = line(ledger, SMALL).version
    error = refused(ledger, ask("SPP-1", PAGU + 1), PaguExceeded, PAGU_RULE)
    assert "exceed the pagu" in error.message
    assert usage(ledger, SMALL) == (PAGU, 0, 0, PAGU)
    assert line(ledger, SMALL).version == version
    assert not ledger.recorder.select_events(f.disbursement_id("SPP-1"))


def test_committed_plus_realised_stays_within_the_pagu(ledger: Ledger) -> None:
    setup(ledger)
    to_sp2d(ledger, "SPP-1", 400_000)  # realised
    ledger.execute(ask("SPP-2", 350_000))  # committed
    assert usage(ledger, SMALL) == (PAGU, 350_000, 400_000, 250_000)
    refused(ledger, ask("SPP-3", 250_001), PaguExceeded, PAGU_RULE)
    ledger.execute(ask("SPP-3", 250_000))
    assert usage(ledger, SMALL) == (PAGU, 600_000, 400_000, 0)
    refused(ledger, ask("SPP-4", 1), PaguExceeded, PAGU_RULE)
    # Another line is not affected by this one being spent.
    ledger.execute(ask("SPP-5", 500_000, OTHER))


def test_released_commitment_is_available_again(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(ask("SPP-1", PAGU))
    ledger.execute(f.reject("SPP-1", f.PPK))
    assert usage(ledger, SMALL) == (PAGU, 0, 0, PAGU)
    ledger.execute(ask("SPP-2", PAGU))


# -- APBD-P ------------------------------------------------------------------------------------
def test_amendment_never_goes_below_committed_plus_realised(ledger: Ledger) -> None:
    setup(ledger)
    to_sp2d(ledger, "SPP-1", 300_000)
    ledger.execute(ask("SPP-2", 200_000))
    version = line(ledger, SMALL).version
    error = refused(
        ledger,
        amend(f.line_spec(pagu=499_999)),
        AmendmentBelowUsage,
        "pagu_not_below_committed_plus_realised",
    )
    assert "below committed 200000 + realised 300000" in error.message
    assert usage(ledger, SMALL) == (PAGU, 200_000, 300_000, 500_000)
    assert line(ledger, SMALL).version == version
    # An amendment naming a good and a bad line is refused as a whole.
    refused(
        ledger,
        amend(f.line_spec(pagu=499_999), NEW),
        AmendmentBelowUsage,
        "pagu_not_below_committed_plus_realised",
    )
    with pytest.raises(NotFound):
        line(ledger, NEW)
    # Exactly committed + realised is allowed.
    result = ledger.execute(amend(f.line_spec(pagu=500_000)))
    assert result.data["delta"] == -500_000
    assert usage(ledger, SMALL) == (500_000, 200_000, 300_000, 0)
    assert ledger.budget(f.PEMDA, f.YEAR).total_pagu == 1_000_000


def test_amendment_changes_pagu_and_adds_lines(ledger: Ledger) -> None:
    setup(ledger)
    result = ledger.execute(amend(f.line_spec(pagu=1_200_000), NEW, OTHER))
    assert result.data == {"id": result.id, "changed": 1, "added": 1, "delta": 500_000}
    budget = ledger.budget(f.PEMDA, f.YEAR)
    assert budget.line_ids == [str(line_id(SMALL)), str(line_id(OTHER)), str(line_id(NEW))]
    assert budget.total_pagu == 2_000_000
    assert budget.amendments == 1
    assert budget.documents == ["PERDA-1-2025", "PERDA-APBDP-2026"]
    assert usage(ledger, SMALL) == (1_200_000, 0, 0, 1_200_000)
    assert usage(ledger, NEW) == (300_000, 0, 0, 300_000)
    assert event_names(ledger.history(line_id(OTHER))) == ["BudgetLine.Allocated"]
    [allocated] = ledger.history(line_id(NEW))
    assert allocated.document == "PERDA-APBDP-2026"
    ledger.execute(ask("SPP-NEW", 300_000, NEW))


def test_amendment_may_zero_an_unused_line_but_a_new_line_needs_pagu(ledger: Ledger) -> None:
    setup(ledger)
    refused(ledger, amend(f.line_spec("5.1.02.02.01.0026", 0)), InvalidInput, "invalid_input")
    ledger.execute(amend(f.line_spec("5.1.02.01.01.0024", 0)))
    assert usage(ledger, OTHER) == (0, 0, 0, 0)
    refused(ledger, ask("SPP-1", 1, OTHER), PaguExceeded, PAGU_RULE)


def test_amendment_that_changes_nothing_is_refused(ledger: Ledger) -> None:
    setup(ledger)
    error = refused(ledger, amend(SMALL, OTHER), InvalidInput, "invalid_input")
    assert "changes no line" in error.message
    assert ledger.budget(f.PEMDA, f.YEAR).amendments == 0


@pytest.mark.parametrize("role", [Role.PPTK, Role.KUASA_BUD, Role.PA_KPA])
def test_only_bpkad_admin_amends_the_budget(ledger: Ledger, role: Role) -> None:
    setup(ledger)
    refused(ledger, amend(NEW, actor=f.actor("x", role)), RoleNotPermitted, ROLE_RULE)


# -- pergeseran --------------------------------------------------------------------------------
def test_shift_moves_pagu_between_lines_atomically(ledger: Ledger) -> None:
    setup(ledger)
    before = last_notification_id(ledger)
    result = ledger.execute(shift(300_000))
    assert result.data["amount"] == 300_000
    assert usage(ledger, SMALL) == (700_000, 0, 0, 700_000)
    assert usage(ledger, OTHER) == (800_000, 0, 0, 800_000)
    budget = ledger.budget(f.PEMDA, f.YEAR)
    assert (budget.total_pagu, budget.shifts) == (1_500_000, 1)
    # One transaction: out, in and the budget's record (the receipt is kept apart from the log).
    assert last_notification_id(ledger) == before + 3
    [out] = ledger.history(line_id(SMALL))[-1:]
    [into] = ledger.history(line_id(OTHER))[-1:]
    assert type(out).__qualname__ == "BudgetLine.ShiftedOut"
    assert (out.amount, out.to_line_id, out.document) == (
        300_000,
        str(line_id(OTHER)),
        "SK-PERGESERAN-7",
    )
    assert type(into).__qualname__ == "BudgetLine.ShiftedIn"
    assert (into.amount, into.from_line_id) == (300_000, str(line_id(SMALL)))


def test_shift_cannot_move_more_than_is_available(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(ask("SPP-1", 600_000))
    versions = (line(ledger, SMALL).version, line(ledger, OTHER).version)
    refused(ledger, shift(400_001), PaguExceeded, PAGU_RULE)
    assert (line(ledger, SMALL).version, line(ledger, OTHER).version) == versions
    assert usage(ledger, OTHER) == (500_000, 0, 0, 500_000)
    ledger.execute(shift(400_000))
    assert usage(ledger, SMALL) == (600_000, 600_000, 0, 0)
    assert usage(ledger, OTHER) == (900_000, 0, 0, 900_000)


def test_shift_needs_two_different_existing_lines(ledger: Ledger) -> None:
    setup(ledger)
    error = refused(ledger, shift(1, SMALL, SMALL), InvalidInput, "invalid_input")
    assert "two different lines" in error.message
    refused(ledger, shift(1, SMALL, f.line_spec("5.1.2.2.1.55")), InvalidInput, "invalid_input")
    refused(ledger, shift(1, SMALL, NEW), NotFound, "not_found")
    refused(ledger, shift(1, NEW, SMALL), NotFound, "not_found")


@pytest.mark.parametrize("role", [Role.PPTK, Role.PPK, Role.KUASA_BUD])
def test_only_bpkad_admin_shifts_pagu(ledger: Ledger, role: Role) -> None:
    setup(ledger)
    refused(ledger, shift(1, actor=f.actor("x", role)), RoleNotPermitted, ROLE_RULE)


# -- blokir ------------------------------------------------------------------------------------
def test_blocked_line_refuses_commitment(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(block())
    assert line(ledger, SMALL).blocked
    error = refused(ledger, ask("SPP-1", 1), LineBlocked, "no_commitment_on_blocked_line")
    assert "blocked" in error.message
    assert usage(ledger, SMALL) == (PAGU, 0, 0, PAGU)
    ledger.execute(ask("SPP-2", 1, OTHER))  # only that line is blocked


def test_blocked_line_refuses_sp2d_and_unblock_restores(ledger: Ledger) -> None:
    setup(ledger)
    for command in (ask("SPP-1", 400_000), f.verify("SPP-1"), f.approve("SPP-1")):
        ledger.execute(command)
    ledger.execute(block())
    d_version = ledger.disbursement(f.disbursement_id("SPP-1")).version
    refused(ledger, f.authorise("SPP-1"), LineBlocked, "no_commitment_on_blocked_line")
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert (d.status, d.version, d.sp2d_number) == (Status.APPROVED, d_version, None)
    assert usage(ledger, SMALL) == (PAGU, 400_000, 0, 600_000)
    ledger.execute(unblock())
    assert not line(ledger, SMALL).blocked
    ledger.execute(f.authorise("SPP-1"))
    ledger.execute(ask("SPP-2", 600_000))
    assert usage(ledger, SMALL) == (PAGU, 600_000, 400_000, 0)


def test_block_and_unblock_are_events_with_reason_and_actor(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(block(reason="menunggu evaluasi gubernur"))
    ledger.execute(unblock())
    blocked, unblocked = ledger.history(line_id(SMALL))[-2:]
    assert type(blocked).__qualname__ == "BudgetLine.Blocked"
    assert (blocked.reason, blocked.actor_id, blocked.actor_role) == (
        "menunggu evaluasi gubernur",
        f.ADMIN.user_id,
        "bpkad_admin",
    )
    assert type(unblocked).__qualname__ == "BudgetLine.Unblocked"
    assert unblocked.reason == "blokir dibuka"


def test_block_twice_unblock_unblocked_and_empty_reason_are_refused(ledger: Ledger) -> None:
    setup(ledger)
    refused(ledger, unblock(), InvalidInput, "invalid_input")
    refused(ledger, block(reason="  "), InvalidInput, "invalid_input")
    ledger.execute(block())
    refused(ledger, block(), InvalidInput, "invalid_input")


@pytest.mark.parametrize("role", [Role.PPTK, Role.PPK, Role.PA_KPA, Role.KUASA_BUD])
def test_only_bpkad_admin_blocks_and_unblocks(ledger: Ledger, role: Role) -> None:
    setup(ledger)
    refused(ledger, block(actor=f.actor("x", role)), RoleNotPermitted, ROLE_RULE)
    ledger.execute(block())
    refused(ledger, unblock(actor=f.actor("x", role)), RoleNotPermitted, ROLE_RULE)
    assert line(ledger, SMALL).blocked
