"""Assertions on every write: a corrupt write is impossible, not merely detectable.

The rules refuse bad input with a ``DomainError``; these tests break kasda itself (a posting that
does not balance, a rule switched off, a parser that lets anything through) and expect the write
to be refused before it commits, with ``InvariantViolation``, and nothing of it stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger import handlers, postings
from ledger.application import CommandResult, Ledger
from ledger.budget import BudgetLine
from ledger.errors import InvariantViolation, PaguExceeded
from ledger.invariants import check_entry
from ledger.money import MAX_AMOUNT, MAX_TOTAL
from ledger.postings import Leg, credit, debit
from tests import factory as f
from tests.refusals import last_notification_id
from tests.test_rules_revenue import PAJAK_HOTEL, receipt


@pytest.fixture
def budgeted(ledger: Ledger) -> Ledger:
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, PAJAK_HOTEL)
    f.register_vendor(ledger)
    return ledger


@contextmanager
def skewed_postings(skew: int) -> Iterator[None]:
    """Every entry that moves an amount from one account to another credits ``skew`` too much."""

    def move(source: str, target: str, amount: int) -> list[Leg]:
        return [debit(source, amount), credit(target, amount + skew)]

    with mock.patch.object(postings, "_move", move):
        yield


def _refused_unstored(ledger: Ledger, commands: Sequence[c.Command]) -> InvariantViolation:
    before = last_notification_id(ledger)
    with pytest.raises(InvariantViolation) as caught:
        ledger.execute_batch(commands)
    assert last_notification_id(ledger) == before, "a corrupt write was stored"
    return caught.value


def test_an_entry_that_does_not_balance_is_never_stored(budgeted: Ledger) -> None:
    spp = f.request("SPP-1")
    with skewed_postings(1):
        error = _refused_unstored(budgeted, [spp])
    assert "BudgetLine.Committed" in str(error) and "does not balance" in str(error)
    # Nothing of the refused write stayed behind, in the store or in the ledger's cache.
    assert isinstance(budgeted.execute(spp), CommandResult)
    assert budgeted.budget_line(handlers.line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)).committed == (
        100_000_000
    )


def test_a_line_committed_beyond_its_pagu_is_never_stored(budgeted: Ledger) -> None:
    """With the pagu rule switched off, the line's own invariant still stops the write."""
    with mock.patch.object(BudgetLine, "check_commit", lambda self, amount: None):
        error = _refused_unstored(budgeted, [f.request("SPP-1", 1_000_000_001)])
    assert "committed" in str(error)


def test_an_amount_beyond_its_limit_is_never_stored(budgeted: Ledger) -> None:
    """A parser that lets any integer through cannot store an amount past ``MAX_AMOUNT``."""
    with mock.patch.object(handlers, "require_rupiah", lambda value, what: value):
        error = _refused_unstored(budgeted, [receipt(gross=MAX_AMOUNT + 1, fee=0)])
    assert "gross" in str(error)


def test_one_corrupt_command_abandons_its_whole_batch(budgeted: Ledger) -> None:
    batch = [f.request("SPP-1", 600_000_000), f.request("SPP-2", 600_000_000)]
    with mock.patch.object(BudgetLine, "check_commit", lambda self, amount: None):
        _refused_unstored(budgeted, batch)
    outcomes = budgeted.execute_batch(batch)
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], PaguExceeded)


@settings(max_examples=40, deadline=None)
@given(
    amounts=st.lists(st.integers(3_000_000, 250_000_000), min_size=1, max_size=4),
    skew=st.sampled_from([0, 0, 1, -1, 7, -1_000]),
)
def test_a_write_commits_exactly_when_its_entries_balance(amounts: list[int], skew: int) -> None:
    ledger = Ledger("memory://")
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        batch: list[c.Command] = [f.request(f"SPP-{n}", gross) for n, gross in enumerate(amounts)]
        before = last_notification_id(ledger)
        with skewed_postings(skew):
            if skew:
                with pytest.raises(InvariantViolation):
                    ledger.execute_batch(batch)
            else:
                outcomes = ledger.execute_batch(batch)
        if skew:
            assert last_notification_id(ledger) == before
        else:
            assert all(isinstance(o, CommandResult) for o in outcomes)
            # A request and its commitment each (receipts are kept apart from the log).
            assert last_notification_id(ledger) == before + 2 * len(amounts)
    finally:
        ledger.close()


_leg = st.builds(
    Leg,
    account=st.sampled_from(["cash:rkud", "apbd", "gateway_fees"]),
    side=st.sampled_from(["D", "C", "X"]),
    amount=st.one_of(st.integers(-5, 5 * 10**18), st.just(True), st.just(MAX_TOTAL)),
)


@given(legs=st.lists(_leg, max_size=6))
def test_an_entry_passes_exactly_when_it_balances_within_limits(legs: list[Leg]) -> None:
    sound = all(
        leg.side in ("D", "C") and type(leg.amount) is int and 1 <= leg.amount <= MAX_TOTAL
        for leg in legs
    )
    balance = sum(leg.amount if leg.side == "D" else -leg.amount for leg in legs if sound)
    event: Any = object()
    if sound and balance == 0:
        check_entry(event, legs)
    else:
        with pytest.raises(InvariantViolation):
            check_entry(event, legs)
