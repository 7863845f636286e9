"""The read side's own connection to the ledger's database.

Read models live in tables next to the events (same SQLite file, same PostgreSQL schema), so one
local transaction can write a batch of read-model rows together with the position they were
computed up to. That is what makes a projection exactly-once: a crash before the commit loses both,
a crash after it loses neither.

Only two dialect differences matter here: the parameter marker (``?`` or ``%s``) and how a
connection is opened. ``INSERT ... ON CONFLICT ... DO UPDATE`` is spelled the same in both.
An in-memory ledger (``memory://``) gets an in-memory SQLite database for its read models.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from ledger.application import Ledger

Row = tuple[Any, ...]


class ReadDatabase:
    """One connection, used by one thread: the projection runner or one query."""

    def __init__(self, ledger: Ledger) -> None:
        from projections.sealing import Sealer

        self.sealer = Sealer(ledger)
        module = ledger.env.get("PERSISTENCE_MODULE", "")
        self.kind = "postgres" if module.endswith("postgres") else "sqlite"
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[Row] | None = None
        if self.kind == "postgres":
            env = ledger.env
            self.schema = env.get("POSTGRES_SCHEMA") or "public"
            self._pg = psycopg.connect(
                dbname=env["POSTGRES_DBNAME"],
                host=env["POSTGRES_HOST"],
                port=int(env["POSTGRES_PORT"]),
                user=env["POSTGRES_USER"],
                password=env.get("POSTGRES_PASSWORD") or None,
                connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT", "5")),
            )
            self._pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            self._pg.commit()
        else:
            self.schema = "main"
            path = ledger.env.get("SQLITE_DBNAME", "")
            in_memory = module.endswith("popo") or not path or ":memory:" in path
            if in_memory:
                # One shared in-memory database per ledger object, for every connection to it.
                path = f"file:kasda-read-{id(ledger)}?mode=memory&cache=shared"
            # isolation_level=None: the driver opens no transactions; ours are explicit.
            self._sqlite = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, uri=in_memory
            )
            self._sqlite.execute("PRAGMA busy_timeout = 30000")
            if not in_memory:
                self._sqlite.execute("PRAGMA journal_mode = WAL")
                self._sqlite.execute("PRAGMA synchronous = FULL")

    @property
    def marker(self) -> str:
        return "%s" if self.kind == "postgres" else "?"

    def placeholders(self, count: int) -> str:
        return ", ".join([self.marker] * count)

    def q(self, statement: str) -> str:
        """``statement`` written with ``?`` markers, in this database's dialect."""
        return statement.replace("?", "%s") if self.kind == "postgres" else statement

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """A transaction; SQLite takes its write lock up front so a batch never fails half-way
        on a lock upgrade. Anything raised inside rolls everything back."""
        if self._pg is not None:
            with self._pg.transaction(), self._pg.cursor() as cursor:
                yield Cursor(self, cursor)
            return
        assert self._sqlite is not None
        cursor_ = self._sqlite.cursor()
        cursor_.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Cursor(self, cursor_)
        except BaseException:
            self._sqlite.rollback()
            raise
        else:
            self._sqlite.commit()
        finally:
            cursor_.close()

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        if self._sqlite is not None:
            self._sqlite.close()


class Cursor:
    """The few operations projections need, with ``?`` markers in either dialect."""

    def __init__(self, db: ReadDatabase, raw: Any) -> None:
        self.db = db
        self.raw = raw

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(self.db.q(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(self.db.q(statement), rows)

    def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        self.raw.execute(self.db.q(statement), params)
        return [tuple(r) for r in self.raw.fetchall()]

    def fetchone(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        self.raw.execute(self.db.q(statement), params)
        row = self.raw.fetchone()
        return None if row is None else tuple(row)

    @property
    def rowcount(self) -> int:
        return int(self.raw.rowcount)
