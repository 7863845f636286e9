"""Today's write path stores exactly the bytes main stored (``tests/stored_bytes.py``): every event
of every kind, every receipt and number claim, every chain link."""

from __future__ import annotations

import json
from pathlib import Path

from tests import stored_bytes


def test_every_stored_byte_is_what_main_stored(tmp_path: Path) -> None:
    expected = [json.loads(line) for line in stored_bytes.ROWS.read_text().splitlines()]
    found = stored_bytes.written(tmp_path)
    assert len(found) == len(expected)
    for today, before in zip(found, expected, strict=True):
        assert today == before


def test_postgres_stores_the_same_bytes(tmp_path: Path, pg_schema_url: str) -> None:
    """The same rows on PostgreSQL, where the write and the prefetch are sent as simple queries
    (the chain links as literals): positions, links, events and receipts byte for byte."""
    expected = [json.loads(line) for line in stored_bytes.ROWS.read_text().splitlines()]
    assert stored_bytes.written(tmp_path, pg_schema_url) == expected


def test_a_receipt_made_directly_is_the_event_its_aggregate_triggers() -> None:
    from datetime import UTC, datetime

    from ledger.application import Ledger
    from ledger.receipts import CommandReceipt, receipt_event
    from ledger.roles import Actor, Role
    from ledger.stamp import Stamp

    by = Stamp(Actor("kuasabud.dedi", Role.KUASA_BUD), datetime(2026, 3, 1, 9, tzinfo=UTC))
    said = ("32.73", "kunci-1", "AuthoriseSp2d", "ab" * 32, {"id": "x", "status": "authorised"})
    ledger = Ledger("memory://")
    try:
        with stored_bytes.counted_timestamps():
            [reference] = CommandReceipt.record(*said, by).collect_events()
        with stored_bytes.counted_timestamps():
            direct = receipt_event(CommandReceipt.create_id(*said[:2]), *said, by)
        assert type(direct) is type(reference)
        assert list(vars(direct).items()) == list(vars(reference).items())
        assert ledger.mapper.to_stored_event(direct) == ledger.mapper.to_stored_event(reference)
    finally:
        ledger.close()
