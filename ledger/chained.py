"""Event recorders that extend the hash chain in the same transaction as the events they insert.

They are the library's own SQLite and PostgreSQL application recorders plus one step: after the
events' rows are inserted (and their notification ids known), the chain table gets one row per event
(see ``ledger.integrity``). Both stores serialise writers here (SQLite has one writer; PostgreSQL's
recorder holds an exclusive lock on the events table), so the chain never forks.

Idempotency receipts and document-number claims (``ledger.receipts``) are not domain facts: they
are unique keys that make a command run once and a number be issued once. The ledger hands them to
``insert_events`` apart (``receipts=``) and they go to a table of their own, ``<events>_receipts``,
in the same transaction, encoded as events are (so encrypted alike), with the same unique
(id, version) key: a second receipt for one idempotency key, or a second claim of one number,
rolls the whole transaction back exactly as before. They take no position in the notification
log and no link in the chain; ``select_events`` still finds them by id.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.sql import SQL, Identifier

from ledger.connections import (
    DEFAULT_STATEMENT_TIMEOUT,
    RETRY_ATTEMPTS,
    BoundedConnection,
    answering_within,
    bounded,
    by_hand,
    connect_timeout,
    is_read_only_error,
    retrying,
    server_options,
    statement_timeout,
    statement_timeout_sql,
    write_bound,
)
from ledger.integrity import GENESIS, chain_next, event_digest

T = TypeVar("T")


def chain_table_name(events_table_name: str) -> str:
    return f"{events_table_name}_chain"


def receipts_table_name(events_table_name: str) -> str:
    return f"{events_table_name}_receipts"


class ReceiptsApart:
    """A recorder that stores the ``receipts=`` of ``insert_events`` in ``receipts_table_name``."""

    events_table_name: str

    @property
    def receipts_table_name(self) -> str:
        return receipts_table_name(self.events_table_name)

    def receipts_of(self, originator_id: Any) -> list[StoredEvent]:
        """The receipt or claim ``originator_id`` in version order (None: every one)."""
        raise NotImplementedError

    def select_receipts(self) -> list[StoredEvent]:
        """Every receipt and claim recorded (for audits and counts; not a hot path)."""
        return self.receipts_of(None)

    def or_receipt(
        self, found: Sequence[StoredEvent], originator_id: Any, gt: int | None, lte: int | None
    ) -> Sequence[StoredEvent]:
        """``found`` in the log, else the receipt or claim ``originator_id`` kept apart (a
        receipt has one version; ``gt`` and ``lte`` as the library's ``select_events``)."""
        if found:
            return found
        return _only_version(self.receipts_of(originator_id), gt, lte)


def _receipts(kwargs: Mapping[str, Any]) -> Sequence[StoredEvent]:
    assert kwargs.get("tracking") is None, "the ledger records no tracking"
    receipts: Sequence[StoredEvent] = kwargs.get("receipts") or ()
    return receipts


def _only_version(
    found: Sequence[StoredEvent], gt: int | None, lte: int | None
) -> list[StoredEvent]:
    return [
        e
        for e in found
        if (gt is None or e.originator_version > gt)
        and (lte is None or e.originator_version <= lte)
    ]


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


class ChainedSQLiteApplicationRecorder(ReceiptsApart, SQLiteApplicationRecorder):
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
            f"CREATE TABLE IF NOT EXISTS {self.receipts_table_name} ("
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "topic TEXT NOT NULL, state BLOB NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version)) WITHOUT ROWID",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        receipts = _receipts(kwargs)
        if receipts:
            c.executemany(
                f"INSERT INTO {self.receipts_table_name} VALUES (?,?,?,?)",  # noqa: S608
                _sqlite_rows(receipts),
            )
        if not stored_events:
            return []
        ids = self._insert_rows(c, stored_events)
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

    def _insert_rows(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        """One ``executemany`` (the library executes one INSERT per event to read its rowid).
        SQLite gives a row without a rowid the largest rowid so far plus one, and this transaction
        holds the one write lock, so the batch's rowids are the last ``n``: checked on the first."""
        c.executemany(self.insert_events_statement, _sqlite_rows(stored_events))
        c.execute(f"SELECT max(rowid) FROM {self.events_table_name}")  # noqa: S608
        last = int(c.fetchone()[0])
        ids = list(range(last - len(stored_events) + 1, last + 1))
        c.execute(
            f"SELECT originator_id, originator_version FROM {self.events_table_name} "  # noqa: S608
            "WHERE rowid = ?",
            (ids[0],),
        )
        first = stored_events[0]
        assert tuple(c.fetchone()) == _sqlite_rows([first])[0][:2], "rowids not contiguous"
        return ids

    def select_events(
        self,
        originator_id: Any,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        found = super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        return self.or_receipt(found, originator_id, gt, lte)

    def receipts_of(self, originator_id: Any) -> list[StoredEvent]:
        table = self.receipts_table_name
        with self.datastore.transaction(commit=False) as c:
            if originator_id is None:
                c.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own name
            else:
                c.execute(
                    f"SELECT * FROM {table} "  # noqa: S608
                    "WHERE originator_id = ? ORDER BY originator_version",
                    (_sqlite_id(originator_id),),
                )
            return [StoredEvent(UUID(r[0]), r[1], r[2], r[3]) for r in c.fetchall()]


def _sqlite_id(originator_id: Any) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def _sqlite_rows(stored_events: Sequence[StoredEvent]) -> list[tuple[str, int, str, bytes]]:
    return [
        (
            _sqlite_id(s.originator_id),
            s.originator_version,
            s.topic,
            s.state,
        )
        for s in stored_events
    ]


class MemoryApplicationRecorder(ReceiptsApart, POPOApplicationRecorder):
    """The in-memory store (``memory://``), keeping receipts and claims apart as the others do."""

    events_table_name = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._receipts: dict[str, dict[int, StoredEvent]] = {}

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        receipts = _receipts(kwargs)
        keys = [(str(r.originator_id), r.originator_version) for r in receipts]
        with self._database_lock:
            if len(set(keys)) < len(keys) or any(v in self._receipts.get(i, {}) for i, v in keys):
                raise IntegrityError(f"receipt or claim already recorded: {keys}")
            ids = super().insert_events(stored_events)
            for (i, v), receipt in zip(keys, receipts, strict=True):
                self._receipts.setdefault(i, {})[v] = receipt
        return ids

    def select_events(
        self,
        originator_id: Any,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        found = super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        return self.or_receipt(found, originator_id, gt, lte)

    def receipts_of(self, originator_id: Any) -> list[StoredEvent]:
        with self._database_lock:
            if originator_id is None:
                return [e for kept in self._receipts.values() for e in kept.values()]
            kept = self._receipts.get(str(originator_id), {})
            return [kept[v] for v in sorted(kept)]


def construct_recorder(factory: InfrastructureFactory[Any]) -> ApplicationRecorder | None:
    """The recorder of the in-memory store (whose factory takes no recorder topic); None for the
    others, whose settings name theirs (``ledger.store``)."""
    return MemoryApplicationRecorder() if isinstance(factory, POPOFactory) else None


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


class ChainedPostgresApplicationRecorder(ReceiptsApart, PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *args: Any, **kwargs: Any) -> None:
        # Every wait of the pool is bounded: ``bound_pool`` ran before the library made it.
        super().__init__(datastore, *args, **kwargs)
        self.chain_table_name = chain_table_name(self.events_table_name)
        bound: Any = datastore.pool.connection_class
        self.answer_seconds = (
            bound.answer_timeout
            if isinstance(bound, type) and issubclass(bound, BoundedConnection)
            else DEFAULT_STATEMENT_TIMEOUT
        )
        schema = Identifier(self.datastore.schema)
        table = SQL("{}.{}").format(schema, Identifier(self.chain_table_name))
        events = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        receipts = SQL("{}.{}").format(schema, Identifier(self.receipts_table_name))
        id_type = Identifier(self.datastore.originator_id_type)
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (position bigint PRIMARY KEY, chain_hash bytea NOT NULL)"
            ).format(table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (originator_id {} NOT NULL, "
                "originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(receipts, id_type),
        ]
        # Begin, bound, lock, notify and read the chain's head in one round trip (no parameters:
        # one simple query; ``statement_timeout_sql`` of the batch goes before it), as the library
        # locks: writers take turns, so positions follow commit order.
        self._lock_and_head = (
            SQL(
                "; SET LOCAL lock_timeout = '{}s'; LOCK TABLE {} IN EXCLUSIVE MODE; NOTIFY {}; "
                "SELECT chain_hash FROM {} ORDER BY position DESC LIMIT 1"
            )
            .format(
                SQL(str(int(self.datastore.lock_timeout))),
                events,
                Identifier(self.channel_name),
                table,
            )
            .as_bytes(None)
        )
        # The receipts and the events of a batch in ONE statement of four arrays each (bound in
        # binary): the library's pipelined insert of a composite-typed array is sent so slowly that
        # ~10k events took more than the 10 s answer bound.
        self._insert_all = (
            SQL(
                "WITH r AS (INSERT INTO {receipts} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%s::{t}[], %s::bigint[], %s::text[], %s::bytea[])) "
                "INSERT INTO {events} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%s::{t}[], %s::bigint[], %s::text[], %s::bytea[]) "
                "RETURNING notification_id"
            )
            .format(receipts=receipts, events=events, t=id_type)
            .as_bytes(None)
        )  # composed once
        # One statement for the whole batch's links, sent with the COMMIT (``_links_and_commit``).
        self._insert_links = (
            SQL("INSERT INTO {} (position, chain_hash) VALUES ").format(table).as_bytes(None)
        )
        self._all_receipts = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}"
        ).format(receipts)
        self._select_receipt = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE originator_id = %s ORDER BY originator_version"
        ).format(receipts)

    # The library retries these 10 times, 0.2 s apart, on any connection error: right after the
    # server dropped the pool's connections, each one fails at once and the next attempt gets a
    # new one. But a failure that took a timeout (a black-holed network) would be waited for ten
    # times over. Here an attempt is repeated only while failures come fast.
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        receipts = _receipts(kwargs)
        if not stored_events and not receipts:
            return []
        return retrying(lambda: self._insert_chained(stored_events, receipts))

    def _insert_chained(
        self, stored_events: Sequence[StoredEvent], receipts: Sequence[StoredEvent]
    ) -> list[int]:
        """Receipts, events and their links in one transaction, every statement of it bounded by
        ``write_bound`` of its rows (a large batch is not cut off; a silent network still is).

        Three round trips: ``BEGIN``, the bound, the lock, ``NOTIFY`` and the chain's head in one
        simple query; the insert of receipts and events (bound in binary); the links and the
        ``COMMIT`` in one simple query. (``conn.transaction()`` and a bound of its own took three
        more: a third of a small batch's CPU.) A failure anywhere rolls back (``by_hand``)."""
        bound = write_bound(self.answer_seconds, len(stored_events) + len(receipts))
        with (
            self.datastore.get_connection() as conn,
            answering_within(conn, bound, set_local=False),
            by_hand(conn),
            conn.cursor() as curs,
        ):
            curs.execute(b"BEGIN; " + statement_timeout_sql(bound) + self._lock_and_head)
            while curs.nextset():  # to the last statement's result: the head
                pass
            row = curs.fetchone()
            previous = bytes(row["chain_hash"]) if row else GENESIS
            curs.execute(self._insert_all, [*_columns(receipts), *_columns(stored_events)])
            ids = [r["notification_id"] for r in curs.fetchall()]
            assert len(ids) == len(stored_events), (len(ids), len(stored_events))
            links = _links(previous, ids, stored_events)
            curs.execute(_links_and_commit(self._insert_links, links))
            return ids

    def select_events(self, originator_id: Any, *args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        events: Sequence[StoredEvent] = _again(
            self, "select_events", originator_id, *args, **kwargs
        )
        return self.or_receipt(events, originator_id, kwargs.get("gt"), kwargs.get("lte"))

    def receipts_of(self, originator_id: Any) -> list[StoredEvent]:
        return retrying(lambda: self._receipts_of(originator_id))

    def _receipts_of(self, originator_id: Any) -> list[StoredEvent]:
        with self.datastore.transaction(commit=False) as curs:
            if originator_id is None:
                curs.execute(self._all_receipts)
            else:
                curs.execute(self._select_receipt, (originator_id,))
            return [
                StoredEvent(
                    r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"])
                )
                for r in curs.fetchall()
            ]

    def select_notifications(self, *args: Any, **kwargs: Any) -> Any:
        return _again(self, "select_notifications", *args, **kwargs)

    def max_notification_id(self) -> int | None:
        head: int | None = _again(self, "max_notification_id")
        return head


def _links_and_commit(insert: bytes, links: Sequence[tuple[int, bytes]]) -> bytes:
    """The simple query that inserts ``links`` (written as literals: integers and the hex of
    digests, nothing a caller chose) and commits. Just ``COMMIT`` when there are none."""
    if not links:
        return b"COMMIT"
    values = b",".join(
        b"(%d,E'\\\\x%s'::bytea)" % (int(position), chain_hash.hex().encode())
        for position, chain_hash in links
    )
    return insert + values + b"; COMMIT"


def _columns(
    stored_events: Sequence[StoredEvent],
) -> tuple[list[Any], list[int], list[str], list[bytes]]:
    return (
        [s.originator_id for s in stored_events],
        [s.originator_version for s in stored_events],
        [s.topic for s in stored_events],
        [s.state for s in stored_events],
    )


def _again(
    recorder: ChainedPostgresApplicationRecorder, name: str, *args: Any, **kwargs: Any
) -> Any:
    method: Callable[..., Any] = inspect.unwrap(getattr(PostgresApplicationRecorder, name))
    return retrying(lambda: method(recorder, *args, **kwargs))
