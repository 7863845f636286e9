"""Event recorders that extend the hash chain in the same transaction as the events they insert.

They are the library's own SQLite and PostgreSQL application recorders plus one step: after the
events' rows are inserted (and their notification ids known), the chain table gets one row per event
(see ``ledger.integrity``). Both stores serialise writers here (SQLite has one writer; PostgreSQL's
recorder holds an exclusive lock on the events table), so the chain never forks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.integrity import GENESIS, chain_next, event_digest


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


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
