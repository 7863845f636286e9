"""Someone with database access alters, deletes, inserts or reorders rows with plain SQL; ``verify``
names the first bad event every time. Runs on a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from ledger import verify as verifying
from ledger.application import Ledger
from ledger.errors import InvalidInput
from ledger.integrity import GENESIS, chain_next, event_digest
from ledger.verify import Checkpoint, checkpoint, new_signing_key, signing_key, verify
from testkit.clock import FixedClock
from tests import factory as f

pytestmark = pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)


class Raw:
    """Plain SQL on the store, as an intruder would write it."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
            self.events, self.chain, self.pos, self.p = (
                "stored_events",
                "stored_events_chain",
                "rowid",
                "?",
            )
        else:
            base = url.split("?", maxsplit=1)[0]
            schema = parse_qs(urlsplit(url).query)["schema"][0]
            self.conn = psycopg.connect(base, autocommit=True)
            self.events = f'"{schema}".kasda_events'
            self.chain = f'"{schema}".kasda_events_chain'
            self.pos, self.p = "notification_id", "%s"

    def run(self, sql: str, *params: Any) -> list[Any]:
        cursor = self.conn.execute(sql.replace("?", self.p), params)
        rows = cursor.fetchall() if cursor.description else []
        if self.sqlite:
            self.conn.commit()
        return list(rows)

    def row(self, position: int) -> tuple[Any, ...]:
        [found] = self.run(
            f"SELECT originator_id, originator_version, topic, state FROM {self.events} "
            f"WHERE {self.pos} = ?",
            position,
        )
        return tuple(found)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(autouse=True, params=["one page", "pages of 7", "processes, pages of 7"])
def pages(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every intrusion is found the same whether it sits in the only page of the fast path or in
    one of many, checked here or by worker processes (the exact walk takes over at the page that
    is not sound)."""
    if request.param != "one page":
        monkeypatch.setattr(verifying, "FAST_PAGE", 7)
    forking = "processes" in request.param
    monkeypatch.setattr(verifying, "PROCESS_MIN", 0 if forking else 1 << 62)
    monkeypatch.setattr(verifying, "single_threaded", lambda: forking)


@pytest.fixture
def store(ledger_url: str) -> Iterator[tuple[Ledger, Raw]]:
    ledger = Ledger(ledger_url, clock=FixedClock())
    f.adopt(ledger)
    f.register_vendor(ledger)
    for n in range(3):
        f.pay_in_full(ledger, f"SPP-{n}")
    raw = Raw(ledger_url)
    yield ledger, raw
    raw.close()
    ledger.close()


def _last(ledger: Ledger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def test_an_untouched_store_verifies(store: tuple[Ledger, Raw]) -> None:
    ledger, _ = store
    report = verify(ledger)
    assert report.ok, report.problem
    assert report.events == _last(ledger) > 20
    assert report.head_position == _last(ledger)


def test_an_altered_event_is_named(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    [(vendor_event,)] = raw.run(
        f"SELECT {raw.pos} FROM {raw.events} WHERE topic = ?", "ledger.vendor:Vendor.Registered"
    )
    originator, version, topic, state = raw.row(vendor_event)
    assert topic.endswith("Vendor.Registered")
    raw.run(
        f"UPDATE {raw.events} SET state = ? WHERE {raw.pos} = ?",
        bytes(state).replace(b"0012345678", b"0099999999"),
        vendor_event,
    )
    problem = verify(ledger).problem
    assert problem is not None and problem.position == vendor_event
    assert "altered" in problem.what and problem.version == version
    assert problem.aggregate_id is not None and problem.aggregate_id.replace("-", "") in str(
        originator
    ).replace("-", "")


def test_a_deleted_event_is_named(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.pos} = ?", 20)
    problem = verify(ledger).problem
    assert problem is not None and problem.position == 20 and "deleted" in problem.what


def test_an_event_deleted_with_its_link_breaks_the_next_link(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.pos} = ?", 20)
    raw.run(f"DELETE FROM {raw.chain} WHERE position = ?", 20)
    problem = verify(ledger).problem
    assert problem is not None and problem.position == 21 and "chain" in problem.what


def test_an_inserted_event_is_named(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    originator, version, topic, state = raw.row(10)
    raw.run(
        f"INSERT INTO {raw.events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
        originator,
        version + 1000,
        topic,
        state,
    )
    problem = verify(ledger).problem
    assert problem is not None and problem.position == _last(ledger)
    assert "inserted outside kasda" in problem.what


def test_reordered_events_are_named(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    first, second = raw.row(12), raw.row(15)
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.pos} IN (12, 15)")
    for position, row in ((12, second), (15, first)):
        raw.run(
            f"INSERT INTO {raw.events} ({raw.pos}, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            position,
            *row,
        )
    problem = verify(ledger).problem
    assert problem is not None and problem.position == 12 and "moved" in problem.what


def _rewrite_chain(raw: Raw, last: int) -> None:
    """The thorough intruder: recompute the whole chain table after altering an event."""
    previous = GENESIS
    for position in range(1, last + 1):
        originator, version, topic, state = raw.row(position)
        previous = chain_next(
            previous, position, event_digest(originator, version, topic, bytes(state))
        )
        raw.run(f"UPDATE {raw.chain} SET chain_hash = ? WHERE position = ?", previous, position)


def test_a_rewritten_chain_is_caught_by_a_signed_checkpoint(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    seed, public = new_signing_key()
    signed = checkpoint(ledger, signing_key(seed))
    assert signed.check_signature(public)
    *_, state = raw.row(20)
    raw.run(f"UPDATE {raw.events} SET state = ? WHERE {raw.pos} = ?", bytes(state) + b" ", 20)
    _rewrite_chain(raw, _last(ledger))
    problem = verify(ledger, trusted_key=public).problem
    assert problem is not None and problem.position == signed.position
    assert "signed checkpoint" in problem.what
    # Without any checkpoint the rewrite would pass: that is why the head is anchored outside.
    raw.run(
        "DELETE FROM "
        + (
            raw.events + "_checkpoints"
            if raw.sqlite
            else raw.events.replace("kasda_events", "kasda_events_checkpoints")
        )
    )
    assert verify(ledger).ok
    assert verify(ledger, anchors=[signed], trusted_key=public).problem is not None


def test_removing_the_newest_events_is_caught_by_a_checkpoint(store: tuple[Ledger, Raw]) -> None:
    ledger, raw = store
    seed, public = new_signing_key()
    signed = checkpoint(ledger, signing_key(seed))
    last = _last(ledger)
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.pos} > ?", last - 3)
    raw.run(f"DELETE FROM {raw.chain} WHERE position > ?", last - 3)
    problem = verify(ledger, trusted_key=public).problem
    assert problem is not None and "newest events were removed" in problem.what
    assert problem.position == signed.position


def test_a_forged_checkpoint_is_refused(store: tuple[Ledger, Raw]) -> None:
    ledger, _ = store
    _, trusted = new_signing_key()
    intruder_seed, _ = new_signing_key()
    forged = checkpoint(ledger, signing_key(intruder_seed))
    problem = verify(ledger, trusted_key=trusted).problem
    assert problem is not None and "signature" in problem.what
    assert Checkpoint.from_json(forged.to_json()) == forged
    with pytest.raises(InvalidInput):
        signing_key("not a key")
