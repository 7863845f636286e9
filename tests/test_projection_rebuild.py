"""The rebuild's fast path writes exactly what the live projector writes event by event.

A rebuild makes its tables without their secondary indexes and builds those at the end; both
paths write plain rows by ``COPY`` (binary when every column is text or an integer) on PostgreSQL;
details are encoded by a C encoder called directly. Each is compared here with the path it
replaces: every row of every read-model table, the indexes, the JSON text.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger.application import Ledger
from projections.db import ReadDatabase
from projections.feed import FeedModel
from projections.history import HistoryModel
from projections.model import compact_json, insert_rows, insert_values, sorted_json
from projections.owners import OwnerModel
from projections.runner import Projector
from projections.source import Fact
from tests import factory as f
from tests.projection_oracle import tables
from tests.test_projections import History, SteppedClock


def _story(ledger_url: str) -> tuple[Ledger, History]:
    clock = SteppedClock()
    ledger = Ledger(ledger_url, clock=clock)
    story = History(ledger, clock, random.Random(11))
    story.start()
    return ledger, story


def _more_kinds(ledger: Ledger, db: ReadDatabase) -> None:
    """Events of the read models the random history does not reach: anggaran kas (of each
    line's pagu as amended, read from the projected lines), SPD, the feed's subscriptions."""
    plans = []
    for spec in (f.MEDIA_LINE, f.GOODS_LINE):
        with db.transaction(write=False) as cursor:
            found = cursor.fetchone(
                "SELECT pagu FROM proj_lra_line WHERE sub_kegiatan = ? AND rekening = ?",
                (spec.sub_kegiatan, spec.rekening),
            )
        assert found is not None
        plans.append(c.LinePlan(line=f.ref(spec), months=f.even_months(int(found[0]))))
    ledger.execute(dataclasses.replace(f.adopt_cash_plan(), lines=tuple(plans)))
    ledger.execute(f.issue_spd("SPD-1", 10_000_000))
    created = ledger.execute(
        c.CreateFeedSubscription(
            idempotency_key=f.key("feed"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            name="sipd",
            url="https://sipd.example/hook",
            kinds=("Disbursement.*",),
        )
    )
    ledger.execute(
        c.PauseFeedSubscription(
            idempotency_key=f.key("feed"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            subscription_id=UUID(created.id),
        )
    )


def _indexes(db: ReadDatabase) -> list[str]:
    with db.transaction(write=False) as cursor:
        if db.kind == "postgres":
            rows = cursor.fetchall(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            )
        else:
            rows = cursor.fetchall("SELECT sql FROM sqlite_master WHERE type = 'index'")
    return sorted(str(r[0]) for r in rows if r[0] is not None)


def _incremental(ledger_url: str) -> tuple[Ledger, Projector, dict[str, list[Any]], list[str]]:
    """A history projected step by step while it is written, in small batches (the live
    path), its tables and its indexes."""
    ledger, story = _story(ledger_url)
    projector = Projector(ledger, batch=9)
    for _ in range(5):
        story.run(30)
        projector.step()
    projector.catch_up()
    _more_kinds(ledger, projector.db)
    projector.catch_up()
    return ledger, projector, tables(projector.db), _indexes(projector.db)


def test_a_rebuild_equals_the_live_build_in_every_table_and_index(ledger_url: str) -> None:
    ledger, projector, live, indexes = _incremental(ledger_url)
    try:
        every_table = {t for model in projector.models for t in model.tables}
        assert every_table <= set(live)  # every model's tables compared, none forgotten
        for table in ("proj_payment", "proj_history", "proj_feed", "proj_feed_subscription",
                      "proj_cashplan", "proj_spd", "proj_receipt", "proj_vendor"):  # fmt: skip
            assert live[table], table  # the history reaches them: a difference would show
        projector.rebuild()
        rebuilt = tables(projector.db)
        for table in live:
            assert rebuilt[table] == live[table], table
        assert rebuilt == live
        assert _indexes(projector.db) == indexes  # the deferred indexes were built
    finally:
        projector.close()
        ledger.close()


@pytest.mark.parametrize(
    ("model", "kind", "table"),
    [
        (FeedModel, "Disbursement.Requested", "proj_feed"),
        (HistoryModel, "Vendor.BankAccountChanged", "proj_history"),
    ],
)
def test_the_comparison_sees_a_handler_skipped_by_the_rebuild(
    ledger_url: str, model: type, kind: str, table: str
) -> None:
    ledger, projector, live, _ = _incremental(ledger_url)
    try:
        skipped = next(m for m in projector.models if isinstance(m, model))
        apply = skipped.apply

        def skipping(fact: Fact) -> None:
            if fact.name != kind:
                apply(fact)

        skipped.apply = skipping  # type: ignore[method-assign]
        projector.reroute()  # the runner keeps the bound methods it found
        projector.rebuild()
        rebuilt = tables(projector.db)
        assert rebuilt != live
        assert rebuilt[table] != live[table]
    finally:
        projector.close()
        ledger.close()


def test_a_rebuild_cut_short_gets_its_indexes_at_the_next_start(ledger_url: str) -> None:
    ledger, projector, _, indexes = _incremental(ledger_url)
    try:
        with projector.db.transaction() as cursor:
            projector.drop_tables(cursor)
        projector.setup(deferred=True)  # as a rebuild leaves them before its catch-up
        assert _indexes(projector.db) != indexes
        Projector(ledger).close()  # a new start
        assert _indexes(projector.db) == indexes
    finally:
        projector.close()
        ledger.close()


# -- writing rows -----------------------------------------------------------------------------------
_COLUMNS = "id BIGINT PRIMARY KEY, n INTEGER, big BIGINT, t TEXT, flag BOOLEAN, x DOUBLE PRECISION"
_TEXTS = ["", "plain", "tab\there", "line\nbreak\r\n", "back\\slash \\N", "ñ rupiah ✓ 😀", "\\."]


def _rows() -> list[list[dict[str, Any]]]:
    """Batches that take each way in: binary COPY (text and integers only), text COPY (a
    double precision column), the JSON path (a bool), and rows of two shapes."""
    binary = [
        {"id": i, "n": -(2**31) + i, "big": 2**63 - 1 - i, "t": text}
        for i, text in enumerate(_TEXTS)
    ]
    binary.append({"id": 100, "n": None, "big": None, "t": None})
    as_text = [{"id": 200 + i, "t": t, "x": 1.5 if i % 2 else None} for i, t in enumerate(_TEXTS)]
    as_json = [{"id": 300, "t": "yes", "flag": True}, {"id": 301, "t": "no", "flag": False}]
    number_as_text = [{"t": 12345, "id": 400}]  # an integer in a text column
    mixed: list[dict[str, Any]] = [
        {"id": 500, "t": "a"},
        {"t": "b", "id": 501},
        {"id": 502, "n": 7},
    ]
    return [binary, as_text, as_json, number_as_text, mixed]


def test_every_way_of_inserting_stores_what_the_json_path_stores(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    db = ReadDatabase(ledger)
    try:
        with db.transaction() as cursor:
            for table in ("rows_fast", "rows_json", "rows_tuples"):
                cursor.execute(f"CREATE TABLE {table} ({_COLUMNS})")
            for batch in _rows():
                insert_rows(cursor, "rows_fast", [dict(r) for r in batch])
                # ``on_conflict`` takes the one-statement path of PostgreSQL (JSON) or SQLite.
                insert_rows(cursor, "rows_json", [dict(r) for r in batch], "ON CONFLICT DO NOTHING")
                for row in batch:  # the same rows as tuples, one column order per row
                    insert_values(cursor, "rows_tuples", tuple(row), [tuple(row.values())])
                insert_values(cursor, "rows_tuples", ("id",), [])  # nothing: no statement
            fast = cursor.fetchall("SELECT * FROM rows_fast ORDER BY id")
            slow = cursor.fetchall("SELECT * FROM rows_json ORDER BY id")
            tuples = cursor.fetchall("SELECT * FROM rows_tuples ORDER BY id")
        assert len(fast) == sum(len(b) for b in _rows())
        assert fast == slow == tuples
        assert (
            [type(v) for v in fast[0]] == [type(v) for v in slow[0]] == [type(v) for v in tuples[0]]
        )
    finally:
        db.close()
        ledger.close()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(value=_json)
def test_sorted_json_is_json_dumps_with_sorted_keys(value: Any) -> None:
    assert sorted_json(value) == json.dumps(value, sort_keys=True)


# Decoded JSON documents: no NaN or infinity (JSON has none), integers of any size.
_document = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(value=_document, number=st.floats(allow_nan=False, allow_infinity=False))
def test_compact_json_is_the_document_with_sorted_keys_and_reads_back_the_same(
    value: Any, number: float
) -> None:
    assert compact_json(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert json.loads(compact_json(value)) == value
    assert json.loads(compact_json([number, value])) == [number, value]


@pytest.mark.parametrize(("column", "value"), [("n", 2**31), ("n", -(2**31) - 1), ("big", 2**63)])
def test_an_integer_out_of_its_columns_bounds_is_refused_as_by_the_json_path(
    ledger_url: str, column: str, value: int
) -> None:
    """Binary COPY would wrap it silently (2**31 into INTEGER as -2**31): it goes in as text,
    and PostgreSQL refuses it as it refuses the JSON path's (SQLite treats both alike)."""
    ledger = Ledger(ledger_url)
    db = ReadDatabase(ledger)
    stored: list[Any] = []
    try:
        for on_conflict in ("", "ON CONFLICT DO NOTHING"):
            try:
                with db.transaction() as cursor:
                    cursor.execute(f"CREATE TABLE rows_bounds ({_COLUMNS})")
                    insert_rows(cursor, "rows_bounds", [{"id": 1, column: value}], on_conflict)
                    stored.append(cursor.fetchall(f"SELECT {column} FROM rows_bounds"))
                    raise _RolledBack
            except _RolledBack:
                pass
            except (psycopg.errors.NumericValueOutOfRange, OverflowError):
                stored.append("refused")  # OverflowError: SQLite's driver, beyond 64 bits
        assert stored[0] == stored[1]
        if db.kind == "postgres":
            assert stored == ["refused", "refused"]
    finally:
        db.close()
        ledger.close()


class _RolledBack(Exception):
    """Leaves a transaction without committing it."""


# -- the pipelined rebuild (PostgreSQL): page n+1 folded while page n is written -------------------
def _pipelined_story(url: str) -> tuple[Ledger, dict[str, list[Any]]]:
    """A history of many pages of 9 positions, and its read models projected step by step."""
    ledger, story = _story(url)
    story.run(60)
    projector = Projector(ledger, batch=9)
    try:
        while projector.step():
            pass
        return ledger, tables(projector.db)
    finally:
        projector.close()


def _position(db: ReadDatabase) -> int:
    with db.transaction(write=False) as cursor:
        found = cursor.fetchone("SELECT position FROM proj_position")
    assert found is not None
    return int(found[0])


def test_a_rebuild_folds_the_next_page_while_a_page_commits(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, live = _pipelined_story(pg_schema_url)
    applied: list[int] = []  # the owners read every event: the position of each one folded
    apply = OwnerModel.apply

    def spy(self: OwnerModel, fact: Fact) -> None:
        applied.append(fact.position)
        apply(self, fact)

    monkeypatch.setattr(OwnerModel, "apply", spy)
    overlapped: list[bool] = []

    def before_commit(upto: int) -> None:  # the first page's commit waits for the next fold
        if not overlapped:
            deadline = time.monotonic() + 5
            while not any(p > upto for p in applied) and time.monotonic() < deadline:
                time.sleep(0.002)
            overlapped.append(any(p > upto for p in applied))

    projector = Projector(ledger, batch=9, before_commit=before_commit)
    try:
        progress = projector.rebuild()
        assert progress.batches > 5
        assert overlapped == [True]
        assert tables(projector.db) == live
    finally:
        projector.close()
        ledger.close()


@pytest.mark.parametrize("where", ["write", "fold"])
def test_a_failure_stops_a_pipelined_rebuild_exactly_at_the_last_page_committed(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A write failing on the writer thread, or a fold failing while a write is in flight: the
    rebuild raises, the position is the end of the last page committed with exactly its rows
    (the next catch-up, carrying on from there, gives the live build: a page written twice or
    skipped would show), and no later page was written."""
    ledger, live = _pipelined_story(pg_schema_url)
    committed: list[int] = []

    def before_commit(upto: int) -> None:
        if where == "write" and len(committed) == 4:
            raise RuntimeError("the writer's connection broke")
        committed.append(upto)

    apply = OwnerModel.apply

    def failing(self: OwnerModel, fact: Fact) -> None:
        if where == "fold" and fact.position > 9 * 5:
            raise RuntimeError("a model failed on an event")
        apply(self, fact)

    monkeypatch.setattr(OwnerModel, "apply", failing)
    projector = Projector(ledger, batch=9, before_commit=before_commit)
    try:
        with pytest.raises(RuntimeError):
            projector.rebuild()
        assert committed, "pages were committed before the failure"
        assert _position(projector.db) == committed[-1] == max(committed)
        with projector.db.transaction(write=False) as cursor:
            latest = cursor.fetchone("SELECT MAX(position) FROM proj_feed")
        assert latest is not None and latest[0] is not None and latest[0] <= committed[-1]
        monkeypatch.setattr(OwnerModel, "apply", apply)
        projector.before_commit = None
        projector.reroute()
        projector.catch_up()
        projector.build_indexes()
        assert tables(projector.db) == live
    finally:
        projector.close()
        ledger.close()


def test_two_pipelined_catch_ups_at_once_apply_every_page_once(pg_schema_url: str) -> None:
    """Two projectors catching up the same log at once, each pipelined: every page lost at the
    compare-and-set is dropped, whichever write it was, and the other carries on from where
    the winner left the position."""
    ledger, live = _pipelined_story(pg_schema_url)
    first, second = Projector(ledger, batch=9), Projector(ledger, batch=9)
    try:
        with first.db.transaction() as cursor:
            first.drop_tables(cursor)
            cursor.execute("DELETE FROM proj_position")
        first.setup()
        second.refresh()
        failures: list[BaseException] = []

        def run(projector: Projector) -> None:
            try:
                projector.catch_up()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=run, args=(p,)) for p in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures
        assert first.position() == second.position() == ledger.recorder.max_notification_id()
        assert tables(first.db) == live
    finally:
        first.close()
        second.close()
        ledger.close()


def test_a_pipelined_rebuild_while_the_ledger_writes_covers_exact_positions(
    pg_schema_url: str,
) -> None:
    """The ledger writing while a rebuild runs: the rebuild stops at a head it read, and the
    catch-up after it projects the rest, once (the same rows as a rebuild of the finished log)."""
    ledger, story = _story(pg_schema_url)
    story.run(40)
    projector = Projector(ledger, batch=9)
    try:
        writer = threading.Thread(target=story.run, args=(40,))
        writer.start()
        projector.rebuild()
        writer.join(timeout=120)
        projector.catch_up()
        assert projector.position() == ledger.recorder.max_notification_id()
        during = tables(projector.db)
        projector.rebuild()
        assert tables(projector.db) == during
    finally:
        projector.close()
        ledger.close()
