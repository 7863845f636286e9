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

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError
from psycopg import sql

from ledger.application import Ledger
from ledger.connections import connect

Row = tuple[Any, ...]


class ReadDatabase:
    """One connection, used by one thread: the projection runner or one query.

    The connection is opened on first use and opened again after it broke: a PostgreSQL server
    that dropped it (restart, failover, ``pg_terminate_backend``) or an answer that did not come
    within ``KASDA_DB_STATEMENT_TIMEOUT`` (``ledger.connections``); a SQLite connection that failed
    (e.g. opened read-only while the file was unwritable). Such a failure is raised as the
    library's ``OperationalError`` (a ``PersistenceError``: the API answers 503 with
    ``Retry-After``); the next transaction reconnects. ``session`` statements run on every new
    PostgreSQL connection (settings that last for the session)."""

    def __init__(self, ledger: Ledger, *, session: Sequence[str] = ()) -> None:
        from projections.sealing import Sealer

        self.sealer = Sealer(ledger)
        module = ledger.env.get("PERSISTENCE_MODULE", "")
        self.kind = "postgres" if module.endswith("postgres") else "sqlite"
        self._env = dict(ledger.env)
        self._session = tuple(session)
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[Row] | None = None
        self._path = ""
        self._in_memory = False
        # Per table, its columns' PostgreSQL types (``column_types``).
        self._column_types: dict[str, dict[str, str]] = {}
        if self.kind == "postgres":
            self.schema = self._env.get("POSTGRES_SCHEMA") or "public"
        else:
            self.schema = "main"
            path = self._env.get("SQLITE_DBNAME", "")
            self._in_memory = module.endswith("popo") or not path or ":memory:" in path
            if self._in_memory:
                # One shared in-memory database per ledger object, for every connection to it.
                path = f"file:kasda-read-{id(ledger)}?mode=memory&cache=shared"
            self._path = path
        self._connect()  # fail early (a wrong URL, a server down at start-up)

    def _connect(self) -> None:
        if self.kind == "postgres":
            if self._pg is not None and not self._pg.closed:
                return
            self._pg = None
            conn: psycopg.Connection[Row] = connect(self._env)
            try:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
                for statement in self._session:
                    conn.execute(statement)
                conn.commit()
            except BaseException:
                conn.close()
                raise
            self._pg = conn
            return
        if self._sqlite is not None:
            return
        # isolation_level=None: the driver opens no transactions; ours are explicit.
        conn_ = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, uri=self._in_memory
        )
        try:
            conn_.execute("PRAGMA busy_timeout = 30000")
            if not self._in_memory:
                conn_.execute("PRAGMA journal_mode = WAL")
                conn_.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn_.close()
            raise
        self._sqlite = conn_

    def _drop(self) -> None:
        """Close a connection that failed, so that the next transaction opens a new one. An
        in-memory SQLite database lives only as long as a connection to it: that one is kept."""
        if self._pg is not None:
            with contextlib.suppress(psycopg.Error):
                self._pg.close()
            self._pg = None
        if self._sqlite is not None and not self._in_memory:
            with contextlib.suppress(sqlite3.Error):
                self._sqlite.close()
            self._sqlite = None

    @property
    def marker(self) -> str:
        return "%s" if self.kind == "postgres" else "?"

    def placeholders(self, count: int) -> str:
        return ", ".join([self.marker] * count)

    def q(self, statement: str) -> str:
        """``statement`` written with ``?`` markers, in this database's dialect."""
        return statement.replace("?", "%s") if self.kind == "postgres" else statement

    def column_types(self, cursor: Cursor, table: str) -> dict[str, str]:
        """The PostgreSQL type (``int8``, ``text``, ...) of each column of ``table``, read from
        the catalogue once per table and kept until ``forget_tables`` (binary ``COPY`` must be
        told them)."""
        found = self._column_types.get(table)
        if found is None:
            rows = cursor.fetchall(
                "SELECT a.attname, t.typname FROM pg_attribute a"
                " JOIN pg_type t ON t.oid = a.atttypid"
                " WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped",
                (table,),
            )
            found = self._column_types[table] = {str(name): str(kind) for name, kind in rows}
        return found

    def forget_tables(self) -> None:
        """Tables were dropped or made: read their columns' types again."""
        self._column_types.clear()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """A transaction; SQLite takes its write lock up front so a batch never fails half-way
        on a lock upgrade. Anything raised inside rolls everything back."""
        try:
            self._connect()
            if self._pg is not None:
                with self._pg.transaction(), self._pg.cursor() as cursor:
                    yield Cursor(self, cursor)
                return
            assert self._sqlite is not None
            cursor_ = self._sqlite.cursor()
            try:
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
        except (
            psycopg.OperationalError,
            psycopg.InterfaceError,
            sqlite3.OperationalError,
        ) as error:
            self._drop()
            raise OperationalError(f"read models: {error}") from error

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


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

    def copy(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        types: Sequence[str] | None = None,
    ) -> None:
        """Insert ``rows`` with PostgreSQL's ``COPY``: the cheapest way in for the server (no
        statement per row, no JSON to parse); psycopg formats the rows in C. With the columns'
        ``types`` (``int8``, ``text``, ...), in binary: less to format and to parse."""
        assert self.db.kind == "postgres", "COPY is PostgreSQL's"
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        form = sql.SQL(" (FORMAT BINARY)" if types is not None else "")
        statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(sql.Identifier(table), names, form)
        with self.raw.copy(statement) as copy:
            if types is not None:
                copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)

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
