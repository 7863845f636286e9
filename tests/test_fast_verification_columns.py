"""Issue 17, part 2: the faster paths of ``verify`` (PostgreSQL computes the digests) and of
``verify --export`` (the body compared with the stored bytes as text) find every tampered column,
and name it exactly as the exact walk alone does, page by page and in worker processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledger import verify as verifying
from ledger.application import Ledger
from ledger.integrity import GENESIS, event_digest
from ledger.verify import Problem, verify
from testkit.clock import FixedClock
from tests import factory as f

POSITION = 16  # in the third page of 7 events, (14, 21]


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = Ledger(ledger_url, clock=FixedClock())
    f.adopt(app)
    f.register_vendor(app)
    for n in range(3):
        f.pay_in_full(app, f"SPP-{n}")
    yield app
    app.close()


def _tables(ledger: Ledger) -> tuple[str, str, str, str]:
    """(events table, chain table, position column, placeholder)."""
    recorder: Any = ledger.recorder
    if ledger.env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        schema = recorder.datastore.schema
        return (
            f'"{schema}"."{recorder.events_table_name}"',
            f'"{schema}"."{recorder.chain_table_name}"',
            "notification_id",
            "%s",
        )
    return recorder.events_table_name, recorder.chain_table_name, "rowid", "?"


def _one(cursor: Any, statement: str) -> Any:
    cursor.execute(statement)
    row = cursor.fetchone()
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _tamper(ledger: Ledger, column: str) -> None:
    """One change an intruder's SQL makes to the event at ``POSITION`` (or its link)."""
    events, chain, at, mark = _tables(ledger)
    where = f"WHERE {at} = {POSITION}"
    recorder: Any = ledger.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        if column == "state":
            state = bytes(_one(cursor, f"SELECT state FROM {events} {where}"))
            cursor.execute(f"UPDATE {events} SET state = {mark} {where}", (state + b" ",))
        elif column == "state NULL":
            cursor.execute(f"UPDATE {events} SET state = NULL {where}")
        elif column == "topic":
            cursor.execute(f"UPDATE {events} SET topic = topic || 'x' {where}")
        elif column == "version":
            cursor.execute(
                f"UPDATE {events} SET originator_version = originator_version + 1000 {where}"
            )
        elif column == "aggregate id":
            other = uuid.uuid4()
            value = other if mark == "%s" else str(other)
            cursor.execute(f"UPDATE {events} SET originator_id = {mark} {where}", (value,))
        elif column == "link":
            cursor.execute(
                f"UPDATE {chain} SET chain_hash = {mark} WHERE position = {POSITION}", (bytes(32),)
            )
        elif column == "link deleted":
            cursor.execute(f"DELETE FROM {chain} WHERE position = {POSITION}")
        elif column == "event deleted":
            cursor.execute(f"DELETE FROM {events} {where}")
        else:
            raise AssertionError(column)


COLUMNS = [
    "state",
    "state NULL",
    "topic",
    "version",
    "aggregate id",
    "link",
    "link deleted",
    "event deleted",
]


def _exact_alone(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> tuple[Problem | None, int]:
    with monkeypatch.context() as patch:
        patch.setattr(verifying, "_fast_walk", lambda *_: (GENESIS, 0))
        report = verify(ledger)
    return report.problem, report.events


@pytest.mark.parametrize(
    ("ledger_url", "digests"),
    # "input": a PostgreSQL before 11 (no sha256()), where kasda hashes the server's concatenation
    [("sqlite", "sqlite"), ("postgres", "server"), ("postgres", "input")],
    indirect=["ledger_url"],
)
@pytest.mark.parametrize("processes", [False, True])
@pytest.mark.parametrize("column", COLUMNS)
def test_each_tampered_column_is_named_as_the_exact_walk_names_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, processes: bool, digests: str, column: str
) -> None:
    if digests == "input":
        monkeypatch.setattr(verifying, "SERVER_DIGESTS", 1 << 40)
    monkeypatch.setattr(verifying, "FAST_PAGE", 7)
    monkeypatch.setattr(verifying, "PROCESS_MIN", 0 if processes else 1 << 62)
    monkeypatch.setattr(verifying, "single_threaded", lambda: processes)
    assert verifying._PageReader(ledger).digests == digests
    _tamper(ledger, column)
    resumed: list[int] = []
    exact = verifying.exact_walk

    def spy(*args: Any) -> bytes:
        resumed.append(args[-1])
        return exact(*args)

    monkeypatch.setattr(verifying, "exact_walk", spy)
    report = verify(ledger)
    assert resumed == [14], "the fast path vouched for pages (0, 7] and (7, 14] only"
    assert report.problem is not None and report.problem.position == POSITION
    assert (report.problem, report.events) == _exact_alone(ledger, monkeypatch)


@pytest.mark.parametrize("ledger_url", ["postgres"], indirect=True)
def test_postgresql_sends_the_digests_it_computed_not_their_input(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From PostgreSQL 11 a page row is (position, digest, link): the digest is ``event_digest``
    of the stored event, computed by the server."""
    reader = verifying._PageReader(ledger)
    assert reader.digests == "server" and "pg_catalog.sha256(" in reader.select
    monkeypatch.setattr(verifying, "FAST_PAGE", 1 << 20)
    (page,) = list(reader.pages())
    stored = list(ledger.recorder.select_notifications(start=1, limit=1 << 20))
    assert page.positions == [n.id for n in stored]
    assert page.digests == [
        event_digest(n.originator_id, n.originator_version, n.topic, n.state) for n in stored
    ]
