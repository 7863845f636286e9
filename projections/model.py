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
from abc import ABC, abstractmethod
from collections import defaultdict
from typing import Any

import orjson

from projections.db import Cursor
from projections.source import Fact

# ``json.dumps(value, sort_keys=True)``, the same text, without making an encoder per call (a
# rebuild makes one or two per event).
sorted_json = json.JSONEncoder(sort_keys=True).encode


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
    for row in rows:
        shapes[tuple(sorted(row))].append(row)
    for columns, group in shapes.items():
        names = ", ".join(columns)
        if cursor.db.kind == "postgres" and not on_conflict and _plain(group):
            # Plain inserts (most rows of a rebuild): COPY, which PostgreSQL takes in several
            # times faster than rows it has to pull out of a JSON document.
            cursor.copy(table, columns, [[row[c] for c in columns] for row in group])
        elif cursor.db.kind == "postgres":
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
                [[row[c] for c in columns] for row in group],
            )


_PLAIN = (str, int, type(None))


def _plain(rows: list[dict[str, Any]]) -> bool:
    """Whether every value is text, an integer or NULL: what COPY writes exactly as the JSON path
    stores it (a bool would be ``t`` in COPY's text and ``true`` through JSON)."""
    return all(type(value) in _PLAIN for row in rows for value in row.values())


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
