"""The write path of issue 17: receipts and number claims kept apart from the log of facts (still
exactly once, still found by a retry), and a large APBD adopted on PostgreSQL in one command."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.connections import BoundedConnection
from ledger.errors import AlreadyExists, IdempotencyKeyReused
from ledger.verify import verify
from tests import factory as f
from tests.refusals import all_events, event_names, last_notification_id

APBD_LINES = 10_000


def _through_spm(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(f.request("SPP-1"))
    ledger.execute(f.verify("SPP-1"))
    ledger.execute(f.approve("SPP-1", spm="SPM-1"))


def test_the_log_holds_facts_and_the_receipts_are_kept_apart(ledger: Ledger) -> None:
    _through_spm(ledger)
    names = event_names(all_events(ledger))
    assert "CommandReceipt.Recorded" not in names and "DocumentNumber.Claimed" not in names
    kept = [type(e).__qualname__ for e in ledger.receipts()]
    assert kept.count("CommandReceipt.Recorded") == 5  # adopt, vendor, request, verify, approve
    assert kept.count("DocumentNumber.Claimed") == 1  # the SPM number
    if not ledger.url.startswith("memory"):  # the in-memory store keeps no chain
        assert verify(ledger).ok


def test_a_retry_still_finds_the_first_result_and_a_reused_key_is_still_refused(
    ledger: Ledger,
) -> None:
    _through_spm(ledger)
    command = f.request("SPP-2", idempotency_key="spp-two")
    first = ledger.execute(command)
    before = last_notification_id(ledger)
    again = ledger.execute(dataclasses.replace(command))
    assert again.replayed and again.data == first.data
    reused = ledger.execute_batch([f.request("SPP-3", idempotency_key="spp-two")])
    assert isinstance(reused[0], IdempotencyKeyReused)
    assert last_notification_id(ledger) == before
    # The receipt is read back from its own table by id, as any aggregate.
    assert ledger.history(ids.receipt_id(f.PEMDA, "spp-two"))


def test_a_number_is_still_claimed_once(ledger: Ledger) -> None:
    _through_spm(ledger)
    ledger.execute(f.request("SPP-2"))
    ledger.execute(f.verify("SPP-2"))
    before = last_notification_id(ledger)
    [outcome] = ledger.execute_batch([f.approve("SPP-2", spm="SPM-1")])
    assert isinstance(outcome, AlreadyExists)
    assert last_notification_id(ledger) == before


def test_a_receipt_in_a_batch_that_lost_its_race_is_not_recorded(ledger: Ledger) -> None:
    """Two ledgers on one store: the second runs a command the first recorded meanwhile (same key);
    the store's unique key refuses the second receipt and the retry replays the first result."""
    _through_spm(ledger)
    # One process for the in-memory store, which cannot be shared.
    other = ledger if ledger.url.startswith("memory") else Ledger(ledger.url)
    try:
        command = f.request("SPP-9", idempotency_key="raced")
        first = ledger.execute(command)
        second = other.execute(dataclasses.replace(command))
        assert second.data == first.data
        kept = [e.idempotency_key for e in other.receipts() if hasattr(e, "idempotency_key")]
        assert kept.count("raced") == 1
    finally:
        if other is not ledger:
            other.close()


def _big_apbd() -> c.AdoptBudget:
    lines = tuple(
        f.line_spec(sub_kegiatan=f"1.01.02.2.{n // 9000 + 1:02d}.{n % 9000 + 1:04d}", pagu=10**9)
        for n in range(APBD_LINES)
    )
    return c.AdoptBudget(
        idempotency_key="adopt-big",
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-1-2025",
        lines=lines,
    )


def test_an_apbd_of_ten_thousand_lines_is_adopted_in_one_command_on_postgres(
    pg_schema_url: str,
) -> None:
    """The library's pipelined insert of ~10k events took longer than the 10 s answer bound and
    the connection was closed mid-write ("the connection is closed")."""
    ledger = Ledger(pg_schema_url)
    try:
        result = ledger.execute(_big_apbd())
        assert not result.replayed
        assert last_notification_id(ledger) == 1 + APBD_LINES
        assert len(ledger.budget(f.PEMDA, f.YEAR).line_ids) == APBD_LINES
        report = verify(ledger)
        assert report.ok and report.events == 1 + APBD_LINES
        again = ledger.execute(_big_apbd())
        assert again.replayed and again.data == result.data
    finally:
        ledger.close()


def test_a_small_batch_on_postgres_takes_few_round_trips(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of one command waited 17 times for the server (each of its two prefetch rounds a
    transaction of four round trips, the write six): most of its CPU was psycopg's. Now each
    prefetch round is one simple query and the write three round trips: 8 waits (a simple query
    of several statements is waited for twice). The rows stored are the same
    (test_stored_bytes)."""
    waits = 0
    wait = BoundedConnection.wait

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal waits
        waits += 1
        return wait(self, *args, **kwargs)

    monkeypatch.setattr(BoundedConnection, "wait", counted)
    ledger = Ledger(pg_schema_url)
    try:
        _through_spm(ledger)
        sent = (f.request("SPP-2"), f.verify("SPP-2"), f.approve("SPP-2", spm="SPM-2"))
        for command in sent:
            waits = 0
            assert not ledger.execute(command).replayed
            assert waits <= 8, (command.command_name, waits)
        waits = 0
        assert ledger.execute(dataclasses.replace(sent[1])).replayed  # a retry: read only
        assert waits <= 4, waits  # was 8
        assert verify(ledger).ok
    finally:
        ledger.close()
