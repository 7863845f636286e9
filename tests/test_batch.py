"""Batches: each command gets its own result or error, good ones are recorded together, nothing of
a bad one is appended, and later commands see earlier ones."""

from __future__ import annotations

import dataclasses
import logging
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import commands as c
from ledger import ids
from ledger.application import MAX_ATTEMPTS, MAX_BATCH, CommandResult, Ledger
from ledger.disbursement import Status
from ledger.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    LineBlocked,
    NotFound,
    PaguExceeded,
    SeparationOfDuties,
    VendorNotPayable,
)
from ledger.handlers import HANDLERS, line_id_of
from ledger.roles import Role
from tests import factory as f
from tests.refusals import event_names, last_notification_id

LINE_ID = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)


def setup(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)


def exists(ledger: Ledger, spp: str) -> bool:
    return bool(ledger.recorder.select_events(f.disbursement_id(spp)))


def has_receipt(ledger: Ledger, command: c.Command) -> bool:
    return bool(
        ledger.recorder.select_events(ids.receipt_id(command.pemda, command.idempotency_key))
    )


def test_good_commands_are_recorded_and_bad_ones_get_their_error(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-0", 100_000_000))
    before = last_notification_id(ledger)
    batch: list[c.Command] = [
        f.request("SPP-1", 500_000_000),  # good
        f.request("SPP-2", 400_000_001, deductions=()),  # over the pagu left after SPP-1
        f.verify("SPP-0", f.actor(f.PPTK.user_id, Role.PPK)),  # the maker verifying
        f.request("SPP-3", 1_000, npwp="3273010101800001", deductions=()),  # unknown vendor
        f.request("SPP-4", 400_000_000, deductions=()),  # good: exactly what is left
        f.approve("SPP-9"),  # no such disbursement
        f.verify("SPP-0"),  # good
    ]
    outcomes = ledger.execute_batch(batch)
    assert [type(o) for o in outcomes] == [
        CommandResult,
        PaguExceeded,
        SeparationOfDuties,
        VendorNotPayable,
        CommandResult,
        NotFound,
        CommandResult,
    ]
    errors = [o for o in outcomes if isinstance(o, DomainError)]
    assert [e.rule for e in errors] == [
        "committed_plus_realised_within_pagu",
        "separation_of_duties",
        "payment_to_registered_vendor_only",
        "not_found",
    ]
    assert exists(ledger, "SPP-1")
    assert exists(ledger, "SPP-4")
    assert not exists(ledger, "SPP-2")
    assert not exists(ledger, "SPP-3")
    for command, outcome in zip(batch, outcomes, strict=True):
        assert has_receipt(ledger, command) == isinstance(outcome, CommandResult)
    # Exactly the good ones: two requests (request + commitment), one verification; their
    # receipts are kept apart from the log (ledger.chained).
    assert last_notification_id(ledger) == before + 2 + 2 + 1
    line = ledger.budget_line(LINE_ID)
    assert (line.committed, line.available) == (1_000_000_000, 0)
    assert ledger.disbursement(f.disbursement_id("SPP-0")).status == Status.VERIFIED


def test_a_batch_of_only_bad_commands_appends_nothing(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-0"))
    before = last_notification_id(ledger)
    outcomes = ledger.execute_batch(
        [
            f.request("SPP-0", 5, deductions=()),
            f.approve("SPP-0"),
            f.request("SPP-1", 2_000_000_000, deductions=()),
            dataclasses.replace(f.verify("SPP-0"), pemda="bad"),
        ]
    )
    assert [o.rule for o in outcomes if isinstance(o, DomainError)] == [
        "unique_identity",
        "disbursement_lifecycle",
        "committed_plus_realised_within_pagu",
        "invalid_input",
    ]
    assert last_notification_id(ledger) == before


def test_a_request_and_its_verification_travel_together(ledger: Ledger) -> None:
    setup(ledger)
    outcomes = ledger.execute_batch([f.request("SPP-1"), f.verify("SPP-1")])
    assert all(isinstance(o, CommandResult) for o in outcomes)
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert (d.status, d.version) == (Status.VERIFIED, 2)


def test_a_whole_lifecycle_in_one_batch(ledger: Ledger) -> None:
    setup(ledger)
    spp = "SPP-1"
    batch = [
        f.request(spp),
        f.verify(spp),
        f.approve(spp),
        f.authorise(spp),
        f.send(spp),
        f.settle(spp),
    ]
    outcomes = ledger.execute_batch(batch)
    assert [o.data["status"] for o in outcomes if isinstance(o, CommandResult)] == [
        "requested",
        "verified",
        "approved",
        "authorised",
        "sent",
        "settled",
    ]
    assert event_names(ledger.history(f.disbursement_id(spp)))[-1] == "Disbursement.Settled"
    line = ledger.budget_line(LINE_ID)
    assert (line.committed, line.realised) == (0, 100_000_000)


def test_later_commands_see_the_failure_of_earlier_ones(ledger: Ledger) -> None:
    setup(ledger)
    outcomes = ledger.execute_batch(
        [
            f.request("SPP-1", 2_000_000_000),
            f.verify("SPP-1"),
            f.request("SPP-2"),
            f.verify("SPP-2"),
        ]
    )
    assert [type(o) for o in outcomes] == [PaguExceeded, NotFound, CommandResult, CommandResult]
    assert not exists(ledger, "SPP-1")


def test_rules_hold_across_commands_of_one_batch(ledger: Ledger) -> None:
    setup(ledger)
    block = c.BlockLine(
        idempotency_key=f.key("block"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        line=f.ref(f.MEDIA_LINE),
        reason="blokir",
    )
    outcomes = ledger.execute_batch(
        [
            f.request("SPP-1", 600_000_000),
            f.request("SPP-2", 600_000_000),  # the first already committed in this batch
            f.verify("SPP-1"),
            f.approve("SPP-1", f.actor(f.PPK.user_id, Role.PA_KPA)),  # the verifier approving
            block,
            f.request("SPP-3", 1_000, deductions=()),  # the line was blocked in this batch
        ]
    )
    assert [type(o) for o in outcomes] == [
        CommandResult,
        PaguExceeded,
        CommandResult,
        SeparationOfDuties,
        CommandResult,
        LineBlocked,
    ]
    line = ledger.budget_line(LINE_ID)
    assert (line.committed, line.blocked) == (600_000_000, True)
    assert ledger.disbursement(f.disbursement_id("SPP-1")).status == Status.VERIFIED


def test_many_refusals_on_a_line_changed_in_the_same_batch_do_not_sink_it(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler refusing a command on a line that an earlier command of the batch already changed
    has itself changed nothing: the batch must neither be rerun nor given up."""
    setup(ledger)
    bad = [f.request(f"SPP-B{i}", 600_000_000) for i in range(MAX_ATTEMPTS + 2)]
    with caplog.at_level(logging.INFO, logger="ledger.application"):
        outcomes = ledger.execute_batch([f.request("SPP-A", 600_000_000), *bad, f.request("SPP-C")])
    assert [type(o) for o in outcomes] == [CommandResult, *[PaguExceeded] * len(bad), CommandResult]
    assert not [r for r in caplog.records if r.name == "ledger.application"]
    line = ledger.budget_line(LINE_ID)
    assert line.committed == 700_000_000
    assert exists(ledger, "SPP-A")
    assert exists(ledger, "SPP-C")


def test_duplicate_key_in_one_batch_replays_the_first(ledger: Ledger) -> None:
    setup(ledger)
    command = f.request("SPP-1", idempotency_key="dup")
    outcomes = ledger.execute_batch([command, command, f.verify("SPP-1"), command])
    first, second, _, third = outcomes
    assert isinstance(first, CommandResult)
    assert isinstance(second, CommandResult)
    assert isinstance(third, CommandResult)
    assert (first.replayed, second.replayed, third.replayed) == (False, True, True)
    assert second.data == first.data == third.data
    line = ledger.budget_line(LINE_ID)
    assert (line.committed, len(line.open_commitments)) == (100_000_000, 1)
    assert len(ledger.history(f.disbursement_id("SPP-1"))) == 2


def test_duplicate_key_with_another_body_in_one_batch_is_refused(ledger: Ledger) -> None:
    setup(ledger)
    outcomes = ledger.execute_batch(
        [
            f.request("SPP-1", idempotency_key="dup"),
            f.request("SPP-2", idempotency_key="dup"),
        ]
    )
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], IdempotencyKeyReused)
    assert outcomes[1].rule == "idempotency_key_reused_with_other_command"
    assert not exists(ledger, "SPP-2")


def test_a_key_refused_earlier_in_the_batch_may_be_used_by_a_later_command(ledger: Ledger) -> None:
    setup(ledger)
    outcomes = ledger.execute_batch(
        [
            f.request("SPP-1", 2_000_000_000, idempotency_key="again"),
            f.request("SPP-1", 2_000_000_000, idempotency_key="again"),
            f.request("SPP-1", idempotency_key="again"),
        ]
    )
    assert [type(o) for o in outcomes] == [PaguExceeded, PaguExceeded, CommandResult]
    assert ledger.disbursement(f.disbursement_id("SPP-1")).gross == 100_000_000


def test_invalid_commands_in_a_batch_get_their_error(ledger: Ledger) -> None:
    setup(ledger)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Unknown(c.Command):
        pass

    outcomes = ledger.execute_batch(
        [
            Unknown(idempotency_key="u", actor=f.ADMIN, pemda=f.PEMDA),
            dataclasses.replace(f.request("SPP-1"), idempotency_key=""),
            f.request("SPP-2"),
        ]
    )
    assert isinstance(outcomes[0], InvalidInput)
    assert "unknown command" in outcomes[0].message
    assert isinstance(outcomes[1], InvalidInput)
    assert isinstance(outcomes[2], CommandResult)
    assert not exists(ledger, "SPP-1")


def test_batch_size_is_limited(ledger: Ledger) -> None:
    setup(ledger)
    before = last_notification_id(ledger)
    command = f.request("SPP-1")
    with pytest.raises(LimitExceeded) as caught:
        ledger.execute_batch([command] * (MAX_BATCH + 1))
    assert caught.value.rule == "explicit_limit"
    assert last_notification_id(ledger) == before
    assert ledger.execute_batch([]) == []


def test_refused_transition_in_a_batch_leaves_the_earlier_change(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-1"))
    outcomes = ledger.execute_batch(
        [f.verify("SPP-1"), f.verify("SPP-1", f.actor("ppk.2", Role.PPK))]
    )
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], InvalidTransition)
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert (d.status, d.performers["verify"]) == (Status.VERIFIED, f.PPK.user_id)


def test_every_command_has_one_handler() -> None:
    commands = {
        value
        for value in vars(c).values()
        if isinstance(value, type)
        and issubclass(value, c.Command)
        and value
        not in (c.Command, c.DisbursementCommand, c.AdvanceOrderCommand, c.FeedSubscriptionCommand)
    }
    assert commands == set(HANDLERS)


def test_a_batch_reads_what_its_handlers_declare_in_one_query_a_round(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each handler declares what it reads (``@handles``): a batch of 40 payments reads them in
    one query for what the commands name, and one for their lines and vendors, not 80 queries."""
    setup(ledger)
    spps = [f"SPP-{n}" for n in range(40)]
    ledger.execute_batch([f.request(spp, 10_000_000) for spp in spps])
    reads: list[int] = []
    select_newer = ledger.newer_events

    def counted(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        reads.append(len(pairs))
        return select_newer(pairs)

    monkeypatch.setattr(ledger, "newer_events", counted)
    outcomes = ledger.execute_batch([f.verify(spp) for spp in spps])
    assert all(isinstance(o, CommandResult) for o in outcomes)
    # 40 receipts and 40 disbursements, then the line and the vendor they share.
    assert reads == [80, 2]
