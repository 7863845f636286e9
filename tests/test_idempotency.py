"""A retried command returns the first result and appends nothing; a key reused for another command
is refused; retries survive a restart of the process."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.disbursement import Status
from ledger.errors import IdempotencyKeyReused, InvalidInput, PaguExceeded
from ledger.handlers import line_id_of
from ledger.receipts import CommandReceipt
from ledger.roles import Role
from testkit.clock import FixedClock
from tests import factory as f
from tests.refusals import last_notification_id, refused

REUSED_RULE = "idempotency_key_reused_with_other_command"
LINE_ID = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)


def setup(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)


def test_retried_request_replays_the_first_result_and_appends_nothing(ledger: Ledger) -> None:
    setup(ledger)
    command = f.request("SPP-1", idempotency_key="spp-key-1")
    first = ledger.execute(command)
    assert not first.replayed
    before = last_notification_id(ledger)
    line_history = len(ledger.history(LINE_ID))
    for _ in range(3):
        again = ledger.execute(f.request("SPP-1", idempotency_key="spp-key-1"))
        assert again.replayed
        assert again.data == first.data
        assert again.id == first.id
        assert (again.command, again.idempotency_key) == ("RequestDisbursement", "spp-key-1")
    assert last_notification_id(ledger) == before
    line = ledger.budget_line(LINE_ID)
    assert line.committed == 100_000_000
    assert list(line.open_commitments) == [first.id]
    assert len(ledger.history(LINE_ID)) == line_history
    assert len(ledger.history(f.disbursement_id("SPP-1"))) == 1


def test_replay_returns_the_first_result_even_after_the_state_moved_on(ledger: Ledger) -> None:
    setup(ledger)
    request = f.request("SPP-1", idempotency_key="spp-key")
    verify = f.verify("SPP-1", idempotency_key="verify-key")
    ledger.execute(request)
    first_verify = ledger.execute(verify)
    ledger.execute(f.approve("SPP-1"))
    before = last_notification_id(ledger)
    # A verification retried after the SPM: not an invalid transition, the first result.
    again = ledger.execute(verify)
    assert again.replayed
    assert again.data == first_verify.data
    assert again.data["status"] == "verified"
    assert ledger.execute(request).data["status"] == "requested"
    assert last_notification_id(ledger) == before
    assert ledger.disbursement(f.disbursement_id("SPP-1")).status == Status.APPROVED


def test_same_key_with_a_different_body_is_refused(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-1", 100_000_000, idempotency_key="spp-key"))
    different = [
        f.request("SPP-1", 100_000_001, idempotency_key="spp-key"),
        f.request("SPP-2", 100_000_000, idempotency_key="spp-key"),
        f.request("SPP-1", 100_000_000, idempotency_key="spp-key", deductions=()),
        f.request("SPP-1", 100_000_000, idempotency_key="spp-key", actor=f.ADMIN),
        f.request(
            "SPP-1", 100_000_000, idempotency_key="spp-key", actor=f.actor("pptk.lain", Role.PPTK)
        ),
        dataclasses.replace(f.request("SPP-1", idempotency_key="spp-key"), description="lain"),
        f.verify("SPP-1", idempotency_key="spp-key"),
    ]
    for command in different:
        error = refused(ledger, command, IdempotencyKeyReused, REUSED_RULE)
        assert "'spp-key'" in error.message
    assert not ledger.recorder.select_events(f.disbursement_id("SPP-2"))
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert (d.status, d.gross) == (Status.REQUESTED, 100_000_000)


def test_retried_request_never_makes_a_second_disbursement_or_commitment(ledger: Ledger) -> None:
    setup(ledger)
    for _ in range(2):
        ledger.execute(f.request("SPP-1", 600_000_000, idempotency_key="spp-600"))
    line = ledger.budget_line(LINE_ID)
    assert (line.committed, line.available) == (600_000_000, 400_000_000)
    committed = [
        e for e in ledger.history(LINE_ID) if type(e).__qualname__ == "BudgetLine.Committed"
    ]
    assert len(committed) == 1
    # The retry of a request that would now overspend still replays: it is the same request.
    again = ledger.execute(f.request("SPP-1", 600_000_000, idempotency_key="spp-600"))
    assert again.replayed


def test_a_refused_command_leaves_no_receipt_and_may_be_retried(ledger: Ledger) -> None:
    setup(ledger)
    ledger.execute(f.request("SPP-1", 900_000_000))
    command = f.request("SPP-2", 200_000_000, idempotency_key="spp-2")
    refused(ledger, command, PaguExceeded, "committed_plus_realised_within_pagu")
    assert not ledger.recorder.select_events(ids.receipt_id(f.PEMDA, "spp-2"))
    ledger.execute(f.reject("SPP-1", f.PPK))
    result = ledger.execute(command)
    assert not result.replayed
    assert ledger.disbursement(f.disbursement_id("SPP-2")).gross == 200_000_000


def test_the_receipt_records_the_command_and_its_result(ledger: Ledger) -> None:
    setup(ledger)
    command = f.request("SPP-1", idempotency_key="spp-receipt")
    result = ledger.execute(command)
    receipt = ledger.aggregate(ids.receipt_id(f.PEMDA, "spp-receipt"), CommandReceipt)
    assert (receipt.command, receipt.fingerprint) == ("RequestDisbursement", command.fingerprint())
    assert receipt.result == result.data
    assert receipt.pemda == f.PEMDA


def test_blanks_around_a_key_name_the_same_key(ledger: Ledger) -> None:
    setup(ledger)
    first = ledger.execute(f.request("SPP-1", idempotency_key="spp-blank"))
    again = ledger.execute(f.request("SPP-1", idempotency_key="  spp-blank "))
    assert again.replayed
    assert again.data == first.data


def test_the_same_key_in_another_pemda_is_another_command(ledger: Ledger) -> None:
    setup(ledger)
    f.adopt(ledger, pemda="32")
    f.register_vendor(ledger, pemda="32")
    first = ledger.execute(f.request("SPP-1", idempotency_key="shared"))
    other = ledger.execute(f.request("SPP-1", idempotency_key="shared", pemda="32"))
    assert not other.replayed
    assert other.id != first.id
    assert ledger.disbursement(f.disbursement_id("SPP-1", "32")).pemda == "32"


@pytest.mark.parametrize("key", ["", "   ", "x" * 129, "a\x00b", None])
def test_an_idempotency_key_is_required_text(ledger: Ledger, key: Any) -> None:
    setup(ledger)
    command = dataclasses.replace(f.request("SPP-1"), idempotency_key=key)
    refused(ledger, command, InvalidInput, "invalid_input")


@pytest.mark.parametrize("pemda", ["", "3", "32.7", "32.73.01", "32.73\n", "AB", None])
def test_a_command_needs_a_valid_pemda_code(ledger: Ledger, pemda: Any) -> None:
    setup(ledger)
    command = dataclasses.replace(f.request("SPP-1"), pemda=pemda)
    refused(ledger, command, InvalidInput, "invalid_input")


# Only stores that outlive a process can be restarted.
@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
def test_retries_replay_after_a_restart(ledger_url: str) -> None:
    first_ledger = Ledger(ledger_url, clock=FixedClock())
    try:
        setup(first_ledger)
        request = f.request("SPP-1", idempotency_key="restart-spp")
        verify = f.verify("SPP-1", idempotency_key="restart-verify")
        first = first_ledger.execute(request)
        first_verify = first_ledger.execute(verify)
    finally:
        first_ledger.close()
    restarted = Ledger(ledger_url, clock=FixedClock())
    try:
        before = last_notification_id(restarted)
        again = restarted.execute(request)
        assert again.replayed
        assert again.data == first.data
        assert restarted.execute(verify).data == first_verify.data
        assert last_notification_id(restarted) == before
        line = restarted.budget_line(LINE_ID)
        assert (line.committed, len(line.open_commitments)) == (100_000_000, 1)
        refused(
            restarted,
            f.request("SPP-1", 5, idempotency_key="restart-spp", deductions=()),
            IdempotencyKeyReused,
            REUSED_RULE,
        )
        # New work goes on as usual after the restart.
        restarted.execute(f.approve("SPP-1"))
    finally:
        restarted.close()


def test_replays_are_served_from_a_warm_ledger_too(ledger: Ledger) -> None:
    """The aggregate cache must not make a replay skip its receipt."""
    setup(ledger)
    command = c.RegisterVendor(
        idempotency_key="vendor-warm",  # not a key tests.factory.key() makes
        actor=f.ADMIN,
        pemda=f.PEMDA,
        npwp="3273010101800001",
        name="CV Media Priangan",
        kind="media",
        bank_code="008",
        account_number="1234567",
        account_holder="CV Media Priangan",
    )
    first = ledger.execute(command)
    before = last_notification_id(ledger)
    assert ledger.execute(command).replayed
    assert ledger.execute_batch([command, command]) == [
        dataclasses.replace(first, replayed=True),
        dataclasses.replace(first, replayed=True),
    ]
    assert last_notification_id(ledger) == before


def _fingerprint_as_main(command: c.Command) -> str:
    """The fingerprint as main computed it (issue 17 part 3 keeps one encoder and the field
    names): a receipt recorded then must replay, and be refused for another command, as before."""
    import hashlib
    import json

    from ledger.commands import plain_value

    body = {
        field.name: plain_value(getattr(command, field.name))
        for field in dataclasses.fields(command)
        if field.name != "idempotency_key"
    }
    raw = json.dumps([command.command_name, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


@given(
    st.text(max_size=30), st.integers(), st.dictionaries(st.text(max_size=8), st.text(max_size=8))
)
def test_a_fingerprint_is_what_main_computed(text: str, number: int, documents: Any) -> None:
    from tests import stored_v1 as v1

    commands = [
        *v1.scenario(),
        dataclasses.replace(
            f.request("SPP-1"), description=text, gross=number, documents=documents
        ),
        dataclasses.replace(f.request("SPP-2"), spp_number=text, deductions=({text: number},)),
    ]
    for command in commands:
        assert command.fingerprint() == _fingerprint_as_main(command)
