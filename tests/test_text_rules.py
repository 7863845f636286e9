"""Text at the ledger's door (``ledger.fields``): lone surrogates, control, bidirectional and
invisible characters are refused, text is kept in NFC; and a command whose events cannot be stored
is refused alone, never failing the other commands of its batch."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger import fields, ids
from ledger.application import MAX_ATTEMPTS, CommandResult, Ledger
from ledger.errors import InvalidInput
from ledger.roles import Actor, Role
from testkit.clock import FixedClock
from tests import factory as f
from tests.refusals import last_notification_id, refused

SURROGATE = "\ud800"
BIDI_OVERRIDE = "\u202e"  # right-to-left override
ZERO_WIDTH = "\u200b"
C1_CONTROL = "\x85"


@pytest.fixture
def mem() -> Iterator[Ledger]:
    """The text rules do not depend on the store: the matrix runs on the in-memory one."""
    app = Ledger("memory://", clock=FixedClock())
    yield app
    app.close()


def _vendor(**changes: Any) -> c.RegisterVendor:
    return dataclasses.replace(
        c.RegisterVendor(
            idempotency_key=f.key("vendor"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            npwp="019876543210000",
            name="CV Media Priangan",
            kind="media",
            bank_code="110",
            account_number="0098765432",
            account_holder="CV Media Priangan",
        ),
        **changes,
    )


def _request(**changes: Any) -> c.RequestDisbursement:
    return dataclasses.replace(f.request("SPP-T1"), **changes)


def _reconciliation(**changes: Any) -> c.RecordReconciliation:
    return dataclasses.replace(
        c.RecordReconciliation(
            idempotency_key=f.key("recon"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            business_date="2026-03-02",
            inputs=({"name": "rkud.sta", "kind": "mt940", "sha256": "a" * 64, "rows": 3},),
            counts={"matched": 3},
            exceptions=(),
        ),
        **changes,
    )


def _exception(**item: Any) -> dict[str, Any]:
    return {"id": "X-1", "status": "unmatched_bank", "amount": 5, **item}


# Every kind of text a command carries: (what, the command with ``bad`` in that place, strict)
# where strict means a name, number or reference (no invisible characters either).
PLACES: list[tuple[str, Any, bool]] = [
    ("vendor name", lambda bad: _vendor(name=f"CV Media{bad} Priangan"), True),
    ("account holder", lambda bad: _vendor(account_holder=f"CV{bad} Media"), True),
    ("idempotency key", lambda bad: _vendor(idempotency_key=f"k{bad}-1"), True),
    ("SPP number", lambda bad: _request(spp_number=f"SPP{bad}-1"), True),
    ("document kind", lambda bad: _request(documents={f"kon{bad}trak": "K/1"}), True),
    ("document number", lambda bad: _request(documents={"contract": f"K/{bad}1"}), True),
    ("description", lambda bad: _request(description=f"Publikasi{bad} kegiatan"), False),
    (
        "input name",
        lambda bad: _reconciliation(
            inputs=({"name": f"r{bad}.sta", "kind": "mt940", "sha256": "a" * 64, "rows": 3},)
        ),
        True,
    ),
    ("counts status", lambda bad: _reconciliation(counts={f"match{bad}ed": 3}), True),
    (
        "exception detail",
        lambda bad: _reconciliation(exceptions=(_exception(detail=f"d{bad}x"),)),
        False,
    ),
    (
        "exception reference",
        lambda bad: _reconciliation(exceptions=(_exception(reference=f"R{bad}1"),)),
        True,
    ),
]


@pytest.mark.parametrize("bad", [SURROGATE, BIDI_OVERRIDE, C1_CONTROL, "\x00", "\x1b"])
@pytest.mark.parametrize(("what", "build", "strict"), PLACES, ids=[p[0] for p in PLACES])
def test_every_text_refuses_surrogates_controls_and_bidi_overrides(
    mem: Ledger, what: str, build: Any, strict: bool, bad: str
) -> None:
    ledger = mem
    f.adopt(ledger)
    f.register_vendor(ledger)
    refused(ledger, build(bad), InvalidInput, "invalid_input")


@pytest.mark.parametrize("bad", [ZERO_WIDTH, "\u200d", "\ufeff", "\u00ad", "\u200f", "\u2028"])
@pytest.mark.parametrize(("what", "build", "strict"), PLACES, ids=[p[0] for p in PLACES])
def test_names_numbers_and_references_refuse_invisible_characters(
    mem: Ledger, what: str, build: Any, strict: bool, bad: str
) -> None:
    ledger = mem
    f.adopt(ledger)
    f.register_vendor(ledger)
    if strict:
        refused(ledger, build(bad), InvalidInput, "invalid_input")
    else:  # free text may hold a zero-width joiner (scripts need them), a line separator...
        assert isinstance(ledger.execute(build(bad)), CommandResult)


def test_text_is_kept_in_nfc(mem: Ledger) -> None:
    ledger = mem
    decomposed = "Kafe\u0301 Priangan"  # "e" + combining acute accent
    result = ledger.execute(_vendor(name=decomposed, account_holder=decomposed))
    vendor = ledger.vendor(ids.vendor_id(f.PEMDA, "019876543210000"))
    assert vendor.name == unicodedata.normalize("NFC", decomposed) == "Kaf\u00e9 Priangan"
    assert vendor.bank_account["holder"] == "Kaf\u00e9 Priangan"
    assert result.data["npwp"] == "019876543210000"


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(st.characters(codec=None), max_size=30))
def test_any_text_is_refused_or_kept_storable_and_normal(raw: str) -> None:
    """Whatever a caller sends, ``fields`` either refuses it with ``InvalidInput`` or returns NFC
    text that encodes to UTF-8 (so it can be stored)."""
    for check in (fields.text, fields.name):
        try:
            kept = check(raw, "text", required=False)
        except InvalidInput:
            continue
        kept.encode("utf-8")
        assert unicodedata.is_normalized("NFC", kept)
        assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in kept)
        if check is fields.name:
            assert not any(unicodedata.category(ch) == "Cf" for ch in kept)


def test_a_huge_text_is_refused_by_its_length_first() -> None:
    with pytest.raises(InvalidInput, match="longer than 1000"):
        fields.text("x" * 10_000_000 + SURROGATE, "description")


# -- a command that cannot be stored fails alone ---------------------------------------------
def _unstorable_actor(name: str = "ppk") -> Actor:
    # The actor's user id reaches the events without passing ``fields`` (it comes from a token):
    # the ledger must still refuse this one command rather than fail its whole batch.
    return f.actor(f"{name}{SURROGATE}", Role.PPTK)


def test_a_command_whose_events_cannot_be_stored_fails_alone(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    before = last_notification_id(ledger)
    batch: list[c.Command] = [
        f.request("SPP-A", 1_000_000, deductions=()),
        f.request("SPP-B", 1_000_000, deductions=(), actor=_unstorable_actor()),
        f.request("SPP-C", 1_000_000, deductions=()),
    ]
    outcomes = ledger.execute_batch(batch)
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], InvalidInput)
    assert "cannot be stored" in outcomes[1].message
    assert isinstance(outcomes[2], CommandResult)
    assert ledger.disbursement(f.disbursement_id("SPP-A")).gross == 1_000_000
    assert ledger.disbursement(f.disbursement_id("SPP-C")).gross == 1_000_000
    assert not ledger.recorder.select_events(f.disbursement_id("SPP-B"))
    assert last_notification_id(ledger) > before
    # The refused command stored nothing, so its key is free: the same command by a storable
    # user succeeds.
    again = dataclasses.replace(batch[1], actor=f.PPTK)
    assert isinstance(ledger.execute(again), CommandResult)


def test_many_unstorable_commands_do_not_exhaust_the_batch_attempts(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    batch: list[c.Command] = []
    for n in range(MAX_ATTEMPTS * 2):
        batch.append(f.request(f"SPP-G{n}", 1_000, deductions=()))
        batch.append(f.request(f"SPP-X{n}", 1_000, deductions=(), actor=_unstorable_actor(f"u{n}")))
    outcomes = ledger.execute_batch(batch)
    assert [type(o) for o in outcomes] == [CommandResult, InvalidInput] * (MAX_ATTEMPTS * 2)
