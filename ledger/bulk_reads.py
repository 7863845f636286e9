"""Reading many aggregates in one query: for each (id, version) pair, the stored events after that
version. A batch reads every aggregate its commands declared (``ledger.handlers``) this way, each
from the version its cached copy is at, so a warm cache costs one index probe per aggregate.

One statement per store, with its own SQL; any other store (in memory) is read one id at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent

from ledger.chained import ReceiptsApart
from ledger.connections import retrying
from ledger.unit_of_work import AggregateCache

# The stored events newer than ``version`` of each (aggregate id, version), in version order.
EventsAfter = Callable[[list[tuple[UUID, int]]], list[StoredEvent]]

PREFETCH_CHUNK = 400  # (id, version) pairs per statement


def events_after(recorder: Any, persistence_module: str) -> EventsAfter:
    """The bulk read for the store behind ``recorder``."""
    if persistence_module.endswith("sqlite"):
        return _sqlite_reader(recorder)
    if persistence_module.endswith("postgres"):
        return _postgres_reader(recorder)

    def one_by_one(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        out: list[StoredEvent] = []
        for aggregate_id, version in pairs:
            out.extend(recorder.select_events(aggregate_id, gt=version or None))
        return out

    return one_by_one


def load_fresh(
    aggregate_ids: list[UUID], cache: AggregateCache, read: EventsAfter, mapper: Mapper[UUID]
) -> dict[UUID, Aggregate]:
    """Current state of each aggregate that exists: cached state fast-forwarded with the events
    recorded since, or rebuilt from its events. One query per chunk of ids. What was cached is
    taken out of the cache: it goes back only once the batch that read it is recorded."""
    cached = {i: a for i in aggregate_ids if (a := cache.take(i)) is not None}
    newer: dict[UUID, list[StoredEvent]] = {}
    for start in range(0, len(aggregate_ids), PREFETCH_CHUNK):
        chunk = aggregate_ids[start : start + PREFETCH_CHUNK]
        pairs = [(i, cached[i].version if i in cached else 0) for i in chunk]
        for stored in read(pairs):
            newer.setdefault(_as_uuid(stored.originator_id), []).append(stored)
    found: dict[UUID, Aggregate] = {}
    for aggregate_id in aggregate_ids:
        events = [mapper.to_domain_event(s) for s in newer.get(aggregate_id, ())]
        aggregate: Any = cached.get(aggregate_id)
        for domain_event in events:
            aggregate = cast("Any", domain_event).mutate(aggregate)
        if aggregate is not None:
            found[aggregate_id] = aggregate
    return found


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _tables(recorder: Any) -> list[str]:
    """The tables an aggregate's events may be in: the events, and the receipts and number claims
    where the recorder keeps them apart (``ledger.chained``)."""
    if isinstance(recorder, ReceiptsApart):
        return [recorder.events_table_name, recorder.receipts_table_name]
    return [recorder.events_table_name]


def _sqlite_reader(recorder: Any) -> EventsAfter:
    selects = " UNION ALL ".join(
        f"SELECT e.originator_id, e.originator_version, e.topic, e.state "  # noqa: S608
        f"FROM wanted w JOIN {table} e "
        f"ON e.originator_id = w.id AND e.originator_version > w.ver"
        for table in _tables(recorder)
    )

    def read(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        values = ",".join("(?,?)" for _ in pairs)
        params: list[Any] = []
        for aggregate_id, version in pairs:
            params.extend((aggregate_id.hex, version))
        statement = f"WITH wanted(id, ver) AS (VALUES {values}) {selects} ORDER BY 1, 2"
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return [StoredEvent(UUID(row[0]), row[1], row[2], row[3]) for row in cursor.fetchall()]

    return read


# The bulk read must probe the (originator_id, originator_version) key once per id. Without planner
# statistics (a new table, until autovacuum first analyses it) PostgreSQL picks a hash join over a
# sequential scan of the whole events table instead: every batch then costs O(events stored). These
# settings last for the read-only transaction of one read.
# (``set_config(..., true)`` is ``SET LOCAL``: four settings in one statement, one result to pass.)
_INDEX_PROBES_ONLY = (
    "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), "
    "set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)"
)


def _postgres_reader(recorder: Any) -> EventsAfter:
    from psycopg.sql import SQL, Identifier

    from ledger.connections import by_hand

    selects = SQL(" UNION ALL ").join(
        SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM w "
            "JOIN {schema}.{table} e ON e.originator_id = w.id AND e.originator_version > w.ver"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(table))
        for table in _tables(recorder)
    )
    # One simple query, one round trip: the transaction, its settings, the read and the end of
    # it (``conn.transaction()``, the settings and a bound read took four). The ids and versions
    # are written into it as array literals: UUIDs and integers, formatted here, nothing else.
    head = b"BEGIN; " + _INDEX_PROBES_ONLY.encode() + b"; WITH w AS (SELECT * FROM unnest("
    tail = SQL(") AS w(id, ver)) {} ORDER BY 1, 2; ROLLBACK").format(selects).as_bytes(None)

    def read(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        return retrying(lambda: read_once(pairs))  # a dropped pooled connection is replaced

    def read_once(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        query = head + _arrays(pairs) + tail
        with (
            recorder.datastore.get_connection() as conn,
            by_hand(conn),
            conn.cursor() as cursor,
        ):
            cursor.execute(query)
            cursor.nextset()  # past BEGIN
            cursor.nextset()  # and the settings
            assert cursor.description is not None and len(cursor.description) == 4
            return [
                StoredEvent(
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]

    return read


def _arrays(pairs: list[tuple[UUID, int]]) -> bytes:
    """``'{id,...}'::uuid[], '{version,...}'::bigint[]``: only a UUID's canonical form and
    integers are written (anything else is refused), so nothing can leave the literals."""
    ids = ",".join(str(UUID(int=i.int)) for i, _ in pairs)
    versions = ",".join(str(int(v)) for _, v in pairs)
    return f"'{{{ids}}}'::uuid[], '{{{versions}}}'::bigint[]".encode()
