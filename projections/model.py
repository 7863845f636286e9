"""What every read model is: tables, a way to fold a batch of facts in memory, and a way to write
that batch in the runner's transaction.

Folding first and writing once per batch is what makes a rebuild fast: a line committed to a
thousand times in a batch is one ``UPDATE``, not a thousand.

Storage conventions, the same in SQLite and PostgreSQL: amounts are 64-bit integers (rupiah); days
are ISO text ``YYYY-MM-DD`` in the pemda's time zone; moments are ISO text in UTC (both sort as
text); ids are UUID text.
"""

from __future__ import annotations

import json
import json.encoder
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import orjson

from projections.db import Cursor
from projections.source import Fact


def _sorted_json_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True)``, the same text, in about 60 % of its time: the C
    encoder the standard library builds inside ``JSONEncoder.iterencode``, built once and called
    directly (``iterencode`` defines a float formatter and picks an encoder on every call; a
    rebuild encodes one or two details per event). Circular values are not checked for: what it
    encodes is a decoded JSON document, which has none. Without the C accelerator (another
    Python build), the standard encoder itself."""
    standard = json.JSONEncoder(sort_keys=True)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return standard.encode

    encode = make(
        None,  # markers: no check for cycles
        standard.default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ": ",
        ", ",
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )

    def sorted_json(value: Any) -> str:
        return "".join(encode(value, 0))

    return sorted_json


sorted_json = _sorted_json_encoder()


def compact_json(value: Any) -> str:
    """A decoded JSON document as JSON text, keys sorted, without spaces: what ``orjson`` writes,
    in C, in about a fifth of the time of ``sorted_json``. For the details only kasda reads
    back (the history's and the feed's, always parsed with ``json.loads``); a text people or
    other programs read as stored keeps ``sorted_json``. A value orjson cannot write (an
    integer beyond 64 bits) is written by ``json.dumps`` in the same layout, parsing the same."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class ReadModel(ABC):
    name: str
    tables: tuple[str, ...]
    # The aggregates (the class name before the dot of an event's name) whose events ``apply``
    # reads; None: every event. The runner hands a model only those, so the half of the log that
    # is command receipts and number claims costs one call per event, not one per model.
    kinds: frozenset[str] | None = None

    def wants(self, name: str) -> bool:
        """Whether ``apply`` may use events called ``name`` (a superset is fine, never a subset)."""
        return self.kinds is None or name.partition(".")[0] in self.kinds

    @abstractmethod
    def schema(self) -> list[str]:
        """``CREATE TABLE IF NOT EXISTS`` statements (portable SQL)."""

    @abstractmethod
    def apply(self, fact: Fact) -> None:
        """Fold one fact into this batch's pending changes (no I/O)."""

    @abstractmethod
    def flush(self, cursor: Cursor) -> None:
        """Write the pending changes and forget them."""

    @abstractmethod
    def discard(self) -> None:
        """Forget the pending changes (their transaction rolled back)."""


class RowChanges:
    """Pending changes to rows keyed by one id: new rows inserted whole, and for existing rows the
    columns to set (last value wins) and the columns to add to."""

    def __init__(self, table: str, key: str) -> None:
        self.table = table
        self.key = key
        self.new: dict[str, dict[str, Any]] = {}
        self.sets: dict[str, dict[str, Any]] = defaultdict(dict)
        self.adds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def insert(self, key: str, row: dict[str, Any]) -> None:
        self.new[key] = row

    def set(self, key: str, **columns: Any) -> None:
        row = self.new.get(key)
        if row is not None:
            row.update(columns)
        else:
            self.sets[key].update(columns)

    def add(self, key: str, **columns: int) -> None:
        row = self.new.get(key)
        if row is not None:
            for column, amount in columns.items():
                row[column] = row.get(column, 0) + amount
        else:
            pending = self.adds[key]
            for column, amount in columns.items():
                pending[column] += amount

    def clear(self) -> None:
        self.new.clear()
        self.sets.clear()
        self.adds.clear()

    def flush(self, cursor: Cursor) -> None:
        insert_rows(cursor, self.table, list(self.new.values()))
        # Group updates by the columns they touch so each shape is one statement.
        shapes: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = defaultdict(
            list
        )
        for key in set(self.sets) | set(self.adds):
            sets = self.sets.get(key, {})
            adds = self.adds.get(key, {})
            shapes[(tuple(sorted(sets)), tuple(sorted(adds)))].append(
                {**sets, **adds, self.key: key}
            )
        for (set_columns, add_columns), rows in shapes.items():
            update_rows(cursor, self.table, self.key, set_columns, add_columns, rows)
        self.clear()


def insert_rows(
    cursor: Cursor, table: str, rows: list[dict[str, Any]], on_conflict: str = ""
) -> None:
    """Insert ``rows`` (dicts of column values); rows of one shape go in as one statement."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    # The rows of a table are nearly always built by one dict display, so their keys come in one
    # order: sort each order once, not each row's keys.
    orders: dict[tuple[str, ...], tuple[str, ...]] = {}
    for row in rows:
        order = tuple(row)
        columns = orders.get(order)
        if columns is None:
            columns = orders[order] = tuple(sorted(order))
        shapes[columns].append(row)
    for columns, group in shapes.items():
        names = ", ".join(columns)
        if cursor.db.kind == "postgres" and not on_conflict:
            values = _values(columns, group)
            if _copied(cursor, table, columns, values):
                continue
        if cursor.db.kind == "postgres":
            # One round trip per shape: the rows travel as one JSON array and PostgreSQL casts
            # each field to its column's type (an executemany would be one statement per row).
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
                f"FROM jsonb_populate_recordset(NULL::{table}, ?::jsonb) {on_conflict}",
                (orjson.dumps(group).decode(),),
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({names}) "  # noqa: S608
                f"VALUES ({', '.join('?' * len(columns))}) {on_conflict}",
                _values(columns, group),
            )


def insert_values(
    cursor: Cursor, table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]
) -> None:
    """Insert ``values``, tuples in the order of ``columns``: what ``insert_rows`` does with dicts
    of one shape, without a dict made per row and taken apart again (about 0.5 µs a row). For
    the models that build their rows in one fixed order (the history, the feed: most of what a
    rebuild inserts). The same ways in, chosen the same way: binary or text ``COPY`` on
    PostgreSQL, the JSON path for a value ``COPY`` would write differently (``_copied``)."""
    if not values:
        return
    if cursor.db.kind == "postgres":
        if not _copied(cursor, table, columns, values):
            insert_rows(cursor, table, [dict(zip(columns, v, strict=True)) for v in values])
        return
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(columns))})",
        values,
    )


def _values(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows' values in the order of ``columns`` (one C call per row)."""
    if len(columns) == 1:
        return [(row[columns[0]],) for row in rows]
    return list(map(itemgetter(*columns), rows))


_PLAIN = frozenset({str, int, type(None)})
_TEXT = frozenset({str, type(None)})
_INTEGER = frozenset({int, type(None)})
# The integer columns binary COPY may write, with their bounds: psycopg's binary dumper would wrap
# a value outside them silently (2**31 into INTEGER as -2**31), where text COPY and the JSON path
# make PostgreSQL refuse it; so a column out of bounds goes in as text, refused as before.
_BOUNDS = {"int4": 2**31, "int8": 2**63}


def _copied(
    cursor: Cursor, table: str, columns: tuple[str, ...], values: list[tuple[Any, ...]]
) -> bool:
    """Plain inserts (most rows of a rebuild) by ``COPY``, which PostgreSQL takes in several
    times faster than rows it has to pull out of a JSON document; in binary when every column
    is text or an integer and holds only those, in bounds (less to format here and to parse
    there). False if a value is not text, an integer or NULL: what COPY writes exactly as the
    JSON path stores it (a bool would be ``t`` in COPY's text and ``true`` through JSON)."""
    by_column = list(zip(*values, strict=True))
    kinds = [set(map(type, column)) for column in by_column]
    if not all(found <= _PLAIN for found in kinds):
        return False
    types = cursor.db.column_types(cursor, table)
    binary = [types.get(column, "") for column in columns]
    if values and all(
        _binary(kind, found, column)
        for kind, found, column in zip(binary, kinds, by_column, strict=True)
    ):
        cursor.copy(table, columns, values, types=binary)
    else:
        cursor.copy(table, columns, values)
    return True


def _binary(kind: str, found: set[type], column: tuple[Any, ...]) -> bool:
    """Whether binary COPY writes ``column`` (its values, of the Python types ``found``) into a
    column of the PostgreSQL type ``kind`` exactly as text COPY would."""
    if kind == "text":
        return found <= _TEXT
    bound = _BOUNDS.get(kind)
    if bound is None or not found <= _INTEGER:
        return False
    numbers = [v for v in column if v is not None] if type(None) in found else column
    return not numbers or (-bound <= min(numbers) and max(numbers) < bound)


def update_rows(
    cursor: Cursor,
    table: str,
    key: str,
    set_columns: tuple[str, ...],
    add_columns: tuple[str, ...],
    rows: list[dict[str, Any]],
) -> None:
    """Set ``set_columns`` and add to ``add_columns`` of the rows named by ``key``."""
    if cursor.db.kind == "postgres":
        assignments = [f"{c} = r.{c}" for c in set_columns]
        assignments += [f"{c} = t.{c} + r.{c}" for c in add_columns]
        cursor.execute(
            f"UPDATE {table} AS t SET {', '.join(assignments)} "  # noqa: S608
            f"FROM jsonb_populate_recordset(NULL::{table}, ?::jsonb) AS r "
            f"WHERE t.{key} = r.{key}",
            (orjson.dumps(rows).decode(),),
        )
        return
    assignments = [f"{c} = ?" for c in set_columns] + [f"{c} = {c} + ?" for c in add_columns]
    cursor.executemany(
        f"UPDATE {table} SET {', '.join(assignments)} WHERE {key} = ?",  # noqa: S608
        [[row[c] for c in (*set_columns, *add_columns)] + [row[key]] for row in rows],
    )
