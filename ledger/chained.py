"""Event recorders that extend the hash chain in the same transaction as the events they insert.

They are the library's own SQLite and PostgreSQL application recorders plus one step: after the
events' rows are inserted (and their notification ids known), the chain table gets one row per event
(see ``ledger.integrity``). Both stores serialise writers here (SQLite has one writer; PostgreSQL's
recorder holds an exclusive lock on the events table), so the chain never forks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from eventsourcing.persistence import InfrastructureFactory, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.connections import (
    RETRY_ATTEMPTS,
    bounded,
    connect_timeout,
    is_read_only_error,
    retrying,
    server_options,
    statement_timeout,
)
from ledger.integrity import GENESIS, chain_next, event_digest

T = TypeVar("T")


def chain_table_name(events_table_name: str) -> str:
    return f"{events_table_name}_chain"


def _links(
    previous: bytes, ids: Sequence[int], events: Sequence[StoredEvent]
) -> list[tuple[int, bytes]]:
    rows = []
    for position, stored in zip(ids, events, strict=True):
        previous = chain_next(
            previous,
            position,
            event_digest(
                stored.originator_id, stored.originator_version, stored.topic, stored.state
            ),
        )
        rows.append((position, previous))
    return rows


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # SQLite opens a file it cannot write read-only, without a word, and the connection stays
        # read-only after the file is writable again: every write on it would fail for good. Such
        # a connection is closed when it refuses a write (the pool then drops it, and opens a new
        # one), and the write is tried again on another connection (see ``insert_events``).
        opened = self.datastore.get_connection

        @contextmanager
        def replacing_read_only(*, commit: bool) -> Iterator[Any]:
            with opened(commit=commit) as conn:
                try:
                    yield conn
                except OperationalError as error:
                    if is_read_only_error(error):
                        conn.close()
                    raise

        self.datastore.get_connection = replacing_read_only  # type: ignore[method-assign]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Each read-only connection of the pool fails once and is replaced; a file that is still
        # unwritable fails every attempt, quickly.
        for _ in range(RETRY_ATTEMPTS - 1):
            try:
                return super().insert_events(stored_events, **kwargs)
            except OperationalError as error:
                if not is_read_only_error(error):
                    raise
        return super().insert_events(stored_events, **kwargs)

    @property
    def chain_table_name(self) -> str:  # needed while the base class is still constructing
        return chain_table_name(self.events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} ("
            "position INTEGER PRIMARY KEY, chain_hash BLOB NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            c.execute(
                f"SELECT chain_hash FROM {self.chain_table_name} "  # noqa: S608 - our own name
                "ORDER BY position DESC LIMIT 1"
            )
            row = c.fetchone()
            previous = bytes(row[0]) if row else GENESIS
            c.executemany(
                f"INSERT INTO {self.chain_table_name} VALUES (?, ?)",  # noqa: S608
                _links(previous, ids, stored_events),
            )
        return ids


def bound_pool(factory: InfrastructureFactory[Any], env: Mapping[str, str]) -> None:
    """Every wait bounded (ledger/connections.py), set before the library's set-up opens the
    pool of a PostgreSQL store: every connection of the pool waits at most the statement timeout
    of ``env`` for an answer, and the server cancels a statement running longer. (The library
    passes no connect timeout to its connections, only to the pool's wait for a free one.)"""
    if not isinstance(factory, PostgresFactory):
        return
    seconds = statement_timeout(env)
    pool: Any = factory.datastore.pool
    assert pool.closed, "the pool must not have made connections yet"
    pool.connection_class = bounded(seconds)
    pool.kwargs = {
        **(pool.kwargs or {}),
        "connect_timeout": connect_timeout(env),
        "options": server_options(seconds),
    }


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *args: Any, **kwargs: Any) -> None:
        # Every wait of the pool is bounded: ``bound_pool`` ran before the library made it.
        super().__init__(datastore, *args, **kwargs)
        self.chain_table_name = chain_table_name(self.events_table_name)
        table = SQL("{}.{}").format(
            Identifier(self.datastore.schema), Identifier(self.chain_table_name)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (position bigint PRIMARY KEY, chain_hash bytea NOT NULL)"
            ).format(table)
        )
        self._select_head = SQL("SELECT chain_hash FROM {} ORDER BY position DESC LIMIT 1").format(
            table
        )
        # One statement for the whole batch's links, not one per event.
        self._insert_links = SQL(
            "INSERT INTO {} (position, chain_hash) SELECT * FROM unnest(%s::bigint[], %s::bytea[])"
        ).format(table)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            # Still inside the insert's transaction, holding the events table's exclusive lock.
            curs.execute(self._select_head)
            row = curs.fetchone()
            previous = bytes(row["chain_hash"]) if row else GENESIS
            links = _links(previous, ids, stored_events)
            curs.execute(self._insert_links, ([p for p, _ in links], [h for _, h in links]))
        return ids

    # The library retries these 10 times, 0.2 s apart, on any connection error: right after the
    # server dropped the pool's connections, each one fails at once and the next attempt gets a
    # new one. But a failure that took a timeout (a black-holed network) would be waited for ten
    # times over. Here an attempt is repeated only while failures come fast.
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids: Sequence[int] | None = _again(self, "insert_events", stored_events, **kwargs)
        return ids

    def select_events(self, *args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        events: Sequence[StoredEvent] = _again(self, "select_events", *args, **kwargs)
        return events

    def select_notifications(self, *args: Any, **kwargs: Any) -> Any:
        return _again(self, "select_notifications", *args, **kwargs)

    def max_notification_id(self) -> int | None:
        head: int | None = _again(self, "max_notification_id")
        return head


def _again(
    recorder: ChainedPostgresApplicationRecorder, name: str, *args: Any, **kwargs: Any
) -> Any:
    method: Callable[..., Any] = inspect.unwrap(getattr(PostgresApplicationRecorder, name))
    return retrying(lambda: method(recorder, *args, **kwargs))
