"""Income: a settled receipt is recorded once per channel and reference, only on an income line,
with integer rupiah and a fee below the gross; its postings balance and reach the RKUD net."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import (
    AlreadyExists,
    InvalidAmount,
    InvalidInput,
    NotFound,
    RoleNotPermitted,
)
from ledger.postings import is_balanced, postings_for, trial_balance
from tests import factory as f
from tests.refusals import all_events, event_names, refused

PAJAK_HOTEL = c.LineSpec(
    skpd="5.02.0.00.0.00.01.0000",
    sub_kegiatan=None,
    rekening="4.1.01.06.01.0001",
    uraian="Pajak Hotel",
    pagu=2_000_000_000,
)


def receipt(reference: str = "PBJT-2026-0001", **kw: Any) -> c.RecordRevenue:
    fields: dict[str, Any] = {
        "idempotency_key": f.key("rev"),
        "actor": f.GATEWAY,
        "pemda": f.PEMDA,
        "year": f.YEAR,
        "line": f.ref(PAJAK_HOTEL),
        "channel": "midtrans:qris",
        "reference": reference,
        "payer": "Hotel Savoy Homann",
        "gross": 15_000_000,
        "fee": 105_000,
    }
    fields.update(kw)
    return c.RecordRevenue(**fields)


@pytest.fixture
def budgeted(ledger: Ledger) -> Ledger:
    f.adopt(ledger, f.MEDIA_LINE, PAJAK_HOTEL)
    return ledger


def test_a_receipt_is_income_net_of_the_gateway_fee(budgeted: Ledger) -> None:
    result = budgeted.execute(receipt())
    assert result.data["net"] == 14_895_000
    events = [e for e in all_events(budgeted) if type(e).__qualname__.startswith("Revenue.")]
    assert event_names(events) == ["Revenue.Received"]
    legs = postings_for(events[0])
    assert is_balanced(legs)
    balance = trial_balance(all_events(budgeted))
    assert balance["cash:rkud"] == 14_895_000
    assert balance["gateway_fees"] == 105_000
    assert sum(v for k, v in balance.items() if k.startswith("revenue:")) == -15_000_000


def test_a_duplicate_notification_is_refused_and_counts_nothing_twice(budgeted: Ledger) -> None:
    budgeted.execute(receipt())
    refused(budgeted, receipt(), AlreadyExists, "unique_identity")


def test_a_retry_with_the_same_key_replays(budgeted: Ledger) -> None:
    command = receipt()
    first = budgeted.execute(command)
    again = budgeted.execute(command)
    assert again.replayed and again.data == first.data


def test_income_is_never_recorded_on_a_spending_line(budgeted: Ledger) -> None:
    refused(budgeted, receipt(line=f.ref(f.MEDIA_LINE)), InvalidInput, "invalid_input")


def test_income_needs_a_line_of_the_apbd(budgeted: Ledger) -> None:
    other = c.LineRef(skpd=PAJAK_HOTEL.skpd, sub_kegiatan=None, rekening="4.1.01.07.01.0001")
    refused(budgeted, receipt(line=other), NotFound, "not_found")


@pytest.mark.parametrize(
    ("gross", "fee"), [(0, 0), (10.5, 0), (1_000, 1_000), (1_000, -1), (1_000, 2.0), (True, 0)]
)
def test_amounts_are_integer_rupiah_and_the_fee_below_the_gross(
    budgeted: Ledger, gross: Any, fee: Any
) -> None:
    with pytest.raises((InvalidAmount, InvalidInput)):
        budgeted.execute(receipt(gross=gross, fee=fee))
    assert not [e for e in all_events(budgeted) if type(e).__qualname__.startswith("Revenue.")]


@pytest.mark.parametrize("actor", [f.PPTK, f.PPK, f.PA, f.BUD])
def test_only_the_gateway_or_bpkad_records_income(budgeted: Ledger, actor: Any) -> None:
    refused(budgeted, receipt(actor=actor), RoleNotPermitted, "step_requires_role")


def test_a_reversal_undoes_the_income_once(budgeted: Ledger) -> None:
    budgeted.execute(receipt())
    reverse = c.ReverseRevenue(
        idempotency_key=f.key("rev-x"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        channel="midtrans:qris",
        reference="PBJT-2026-0001",
        reason="chargeback bank penerbit",
    )
    budgeted.execute(reverse)
    balance = trial_balance(all_events(budgeted))
    assert balance.get("cash:rkud", 0) == 0
    assert all(v == 0 for k, v in balance.items() if k.startswith("revenue:"))
    again = c.ReverseRevenue(**{**reverse.__dict__, "idempotency_key": f.key("rev-y")})
    refused(budgeted, again, InvalidInput, "invalid_input")
    missing = c.ReverseRevenue(
        **{**reverse.__dict__, "idempotency_key": f.key("rev-z"), "reference": "NOPE"}
    )
    refused(budgeted, missing, NotFound, "not_found")
