"""``verify``: walk the whole store and its hash chain, and name the first thing that is wrong.

Checks, in application order:
- every event row has its chain link and every link has its event (nothing inserted or deleted);
- each link equals sha256(previous link | position | digest of the stored event) (nothing altered,
  moved or reordered);
- every checkpoint (signed head of the chain) matches the chain at its position, its signature is
  valid, and the store still reaches that position (the newest events were not cut off).

Rows are read raw, in pages, and hashed without decoding, so verification runs at the speed of
sha256 and the database, not of JSON.

Speed (issue 17): producing the chain is sequential, but checking a stored one is not: link i is
checked against sha256(stored link i-1 | position | digest), and if every link holds, every stored
link equals the recomputed one (by induction from the genesis), so the first link that fails is the
first wrong event either way. The fast path reads a page of events joined with their links in one
query (a reader thread fetches the next page while this one is hashed), digests the page in bulk,
and checks its links in a tight loop. It only ever says "this page is sound": at the first page that
is not (a link missing or extra, a NULL, a link or checkpoint that does not hold) it hands over to
the exact walk (``stored_links``), which names the first problem exactly as it always did.

On PostgreSQL (11 and later) the fast path lets the server compute each event's digest,
``pg_catalog.sha256`` over the digest's input, so a row sent is a position, a digest and a link (72
bytes instead of ~0.5 KB) and kasda recomputes every link from them. This trusts the server no more
than before: the input was already concatenated by the server's own functions (``uuid_send``,
``int8send``, ``convert_to``, all schema-qualified so a ``search_path`` cannot swap them), and a
server that could be made to send a digest other than that of what it stores could as well send
rows other than those it stores. The stored links and the signed checkpoints are what bind the
history, and they are checked here. The chain itself
(each link from the one before) is always recomputed here. The exact walk reads the stored columns
and hashes everything in Python, as it always did.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import json
import multiprocessing
import sqlite3
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from psycopg.rows import tuple_row

from ledger.application import Ledger
from ledger.connections import statement_timeout
from ledger.errors import InvalidInput
from ledger.integrity import GENESIS, chain_next, raw_digest

PAGE = 20_000
FAST_PAGE = 20_000  # events per page of the fast path (x ~0.5 KB: ~10 MB a page)
READERS = 2  # threads reading pages, each on its own connection
# A large store is checked by worker processes, each reading, digesting and checking its own
# ranges (the GIL no longer serialises the hashing); below PROCESS_MIN events their start costs
# more than they save.
PROCESSES = 2
PROCESS_MIN = 200_000
AHEAD = 2  # pages read ahead of the hashing, beyond one per reader: memory stays bounded
# (position reached, last position of the store): called after each page, for a progress bar.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Problem:
    position: int
    what: str
    aggregate_id: str | None = None
    version: int | None = None
    topic: str | None = None

    def __str__(self) -> str:
        where = f"position {self.position}"
        if self.aggregate_id is not None:
            where += f" ({self.topic or 'event'} of aggregate {self.aggregate_id} v{self.version})"
        return f"{where}: {self.what}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the chain of this store had ``chain_hash`` at ``position``."""

    position: int
    chain_hash: str  # hex
    signed_at: str
    public_key: str  # base64 raw Ed25519
    signature: str  # base64, over message()

    def message(self) -> bytes:
        return f"kasda-checkpoint:{self.position}:{self.chain_hash}:{self.signed_at}".encode()

    def check_signature(self, trusted_key: str | None = None) -> bool:
        key = trusted_key or self.public_key
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
                base64.b64decode(self.signature), self.message()
            )
        except (InvalidSignature, ValueError):
            return False
        return trusted_key is None or trusted_key == self.public_key

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInput(f"not a kasda checkpoint: {error}") from None


@dataclass
class Report:
    events: int = 0
    head_position: int = 0
    head_hash: str = GENESIS.hex()
    checkpoints: int = 0
    seconds: float = 0.0
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


# -- reading the store raw ---------------------------------------------------------------------
def _tables(ledger: Ledger) -> tuple[Any, str, str, str]:
    recorder: Any = ledger.recorder
    if not hasattr(recorder, "chain_table_name"):
        raise InvalidInput("this store keeps no hash chain (in-memory stores are not verifiable)")
    module = ledger.env.get("PERSISTENCE_MODULE", "")
    kind = "postgres" if module.endswith("postgres") else "sqlite"
    return recorder, kind, recorder.events_table_name, recorder.chain_table_name


def _pages(ledger: Ledger, query_for: str, after: int = 0) -> Iterator[tuple[Any, ...]]:
    """Rows of the events ('events') or the chain ('chain') table in position order, paged."""
    recorder, kind, events, chain = _tables(ledger)
    if kind == "sqlite":
        statement = (
            # Read as BLOBs: an intruder's SQL may leave text that is not UTF-8 in a body.
            "SELECT rowid, originator_id, originator_version, CAST(topic AS BLOB), "  # noqa: S608
            f"CAST(state AS BLOB) FROM {events} "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
            if query_for == "events"
            else f"SELECT position, chain_hash FROM {chain} WHERE position > ? ORDER BY position LIMIT ?"  # noqa: S608
        )
    else:
        schema = recorder.datastore.schema
        statement = (
            "SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
            f'FROM "{schema}"."{events}" '
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            if query_for == "events"
            else f'SELECT position, chain_hash FROM "{schema}"."{chain}" '  # noqa: S608
            "WHERE position > %s ORDER BY position LIMIT %s"
        )
    while True:
        with recorder.datastore.transaction(commit=False) as cursor:
            if kind == "postgres":
                cursor.row_factory = tuple_row  # the library's dict rows cost more than the hashing
                # Binary results: bytea in text format arrives hex-encoded, twice the bytes to
                # send and parse (binary measured 30% faster over the whole verify).
                cursor.execute(statement, (after, PAGE), binary=True)
            else:
                cursor.execute(statement, (after, PAGE))
            rows = [tuple(r) for r in cursor.fetchall()]
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1][0]


def stored_links(
    ledger: Ledger, after: int = 0
) -> Iterator[tuple[int, tuple[Any, ...] | None, bytes | None]]:
    """(position, event row or None, chain hash or None) over the union of both tables, from the
    position after ``after``."""
    events, links = _pages(ledger, "events", after), _pages(ledger, "chain", after)
    event, link = next(events, None), next(links, None)
    while event is not None or link is not None:
        if link is None or (event is not None and event[0] < link[0]):
            assert event is not None
            yield event[0], event, None
            event = next(events, None)
        elif event is None or link[0] < event[0]:
            yield link[0], None, bytes(link[1])
            link = next(links, None)
        else:
            yield event[0], event, bytes(link[1])
            event, link = next(events, None), next(links, None)


def _aggregate_bytes(value: Any) -> bytes:
    """16 bytes of an aggregate id: PostgreSQL gives a UUID, SQLite its hex text."""
    if isinstance(value, UUID):
        return value.bytes
    try:
        return bytes.fromhex(str(value).replace("-", ""))
    except ValueError:
        return str(value).encode()  # not an id at all: the digest will not match


def _as_text(value: Any) -> str:
    return _as_bytes(value).decode(errors="replace")


def _as_bytes(value: Any) -> bytes:
    """The stored body as bytes; an intruder's SQL may have left text (or NULL) in its place."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode()


def _event_problem(position: int, what: str, row: tuple[Any, ...]) -> Problem:
    aggregate = _aggregate_bytes(row[1])
    name = str(UUID(bytes=aggregate)) if len(aggregate) == 16 else repr(aggregate)
    return Problem(position, what, name, row[2], _as_text(row[3]))


def by_position(checkpoints: Iterable[Checkpoint]) -> dict[int, set[Checkpoint]]:
    """The distinct checkpoints at each position: the same checkpoint found in the store (or an
    export) and given as an anchor is one checkpoint, checked and counted once."""
    found: dict[int, set[Checkpoint]] = {}
    for signed in checkpoints:
        found.setdefault(signed.position, set()).add(signed)
    return found


def forged_checkpoint(checkpoints: Iterable[Checkpoint], trusted_key: str | None) -> Problem | None:
    """The first checkpoint whose signature does not hold (under ``trusted_key`` if given)."""
    for signed in checkpoints:
        if not signed.check_signature(trusted_key):
            return Problem(signed.position, "checkpoint signature is not valid")
    return None


# -- verification ------------------------------------------------------------------------------
def single_threaded() -> bool:
    """This process runs one thread only, so a fork copies no lock another thread holds."""
    return threading.active_count() == 1


def verify(
    ledger: Ledger,
    *,
    anchors: list[Checkpoint] | None = None,
    trusted_key: str | None = None,
    progress: Progress | None = None,
    processes: bool | None = None,
) -> Report:
    """Verify the whole store; ``anchors`` are checkpoints kept outside the database.
    ``progress`` (if given) hears the position reached after each page. ``processes``: whether a
    large store is checked by worker processes started by fork; by default only where this
    process runs no other thread (``single_threaded``: the CLI), because a fork copies the locks
    other threads hold at that moment (the web app's projector and server threads) and a worker
    could wait on one for ever. Otherwise reader threads do the reading."""
    started = time.perf_counter()
    report = Report()
    stored = load_checkpoints(ledger)
    wanted = by_position([*stored, *(anchors or [])])
    distinct = sum(len(at) for at in wanted.values())
    report.problem = forged_checkpoint(itertools.chain.from_iterable(wanted.values()), trusted_key)
    if report.problem is not None:
        return _done(report, started)
    forking = single_threaded() if processes is None else processes
    previous, resume = _fast_walk(ledger, report, wanted, progress, forking)
    if resume is not None:
        previous = exact_walk(ledger, report, wanted, previous, resume)
    report.head_hash = previous.hex()
    report.checkpoints = distinct - sum(len(at) for at in wanted.values())
    if report.problem is None and wanted:
        missing = min(wanted)
        report.problem = Problem(
            missing,
            f"a signed checkpoint covers position {missing} but the store ends at "
            f"{report.head_position}: the newest events were removed",
        )
    return _done(report, started)


def exact_walk(
    ledger: Ledger,
    report: Report,
    wanted: dict[int, set[Checkpoint]],
    previous: bytes,
    after: int,
) -> bytes:
    """Walk event by event from the position after ``after`` and name the first problem."""
    for position, event, link in stored_links(ledger, after):
        if event is None:
            report.problem = Problem(
                position, "chain link without its event: the event was deleted"
            )
            break
        _, originator, version, topic, state = event
        aggregate = _aggregate_bytes(originator)

        if link is None:
            report.problem = _event_problem(
                position, "event has no chain link: it was inserted outside kasda", event
            )
            break
        expected = chain_next(
            previous, position, raw_digest(aggregate, version, _as_bytes(topic), _as_bytes(state))
        )
        if expected != link:
            report.problem = _event_problem(
                position,
                "event does not match its chain link: it was altered or moved, or the chain was rewritten",
                event,
            )
            break
        if any(signed.chain_hash != link.hex() for signed in wanted.pop(position, ())):
            report.problem = Problem(
                position, "chain differs from the signed checkpoint at this position"
            )
            break
        previous = link
        report.events += 1
        report.head_position = position
    return previous


# -- the fast path -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Page:
    """The events at positions in (after, top] with their links; ``linked`` counts the chain
    table's rows in that range, so a link without its event shows (the last page's ``top`` is past
    the end of both tables)."""

    after: int
    top: int
    positions: list[int]
    digests: list[bytes] | None  # None: a row the fast path cannot digest (NULL, odd types)
    links: list[bytes | None]
    linked: int


def _fast_walk(
    ledger: Ledger,
    report: Report,
    wanted: dict[int, set[Checkpoint]],
    progress: Progress | None,
    processes: bool,
) -> tuple[bytes, int | None]:
    """Check range after range while every range is sound. Returns the head so far and, at the
    first range that is not, the position after which the exact walk takes over (None: all
    sound)."""
    reader = PageReader(ledger)
    if reader.sparse:
        return GENESIS, 0  # positions far apart (not what kasda writes): all exact
    if processes and reader.source is not None and reader.events >= PROCESS_MIN:
        return _walk_ranges(reader, report, wanted, progress)
    previous = GENESIS
    for page in reader.pages():
        if not _page_holds(page, previous, wanted):
            return previous, page.after
        if page.positions:
            previous = page.links[-1] or GENESIS
            report.events += len(page.positions)
            report.head_position = page.positions[-1]
        if progress is not None:
            progress(report.head_position, max(reader.last, report.head_position))
    return previous, None


def _walk_ranges(
    reader: PageReader,
    report: Report,
    wanted: dict[int, set[Checkpoint]],
    progress: Progress | None,
) -> tuple[bytes, int | None]:
    """The same walk with each range read, digested and checked by a worker process."""
    previous = GENESIS
    for checked in reader.ranges(tuple(sorted(wanted))):
        if not checked.sound or not _signed_hold(checked.signed, wanted):
            return previous, checked.after
        if checked.events:
            previous = checked.last_link
            report.events += checked.events
            report.head_position = checked.last_position
        if progress is not None:
            progress(report.head_position, max(reader.last, report.head_position))
    return previous, None


def _signed_hold(links: dict[int, bytes], wanted: dict[int, set[Checkpoint]]) -> bool:
    for at, link in links.items():
        if any(signed.chain_hash != link.hex() for signed in wanted[at]):
            return False
        del wanted[at]
    return True


def _page_holds(page: _Page, previous: bytes, wanted: dict[int, set[Checkpoint]]) -> bool:
    """Every event of the page has its link, no link lacks its event, every link holds, and so does
    every signed checkpoint in the page (those are then done: popped from ``wanted``)."""
    links, positions = page.links, page.positions
    if page.digests is None or page.linked != len(positions) or None in links:
        return False
    if not links_hold(previous, positions, page.digests, links):  # type: ignore[arg-type]
        return False
    for at in [p for p in wanted if page.after < p <= page.top]:
        index = bisect.bisect_left(positions, at)
        if index == len(positions) or positions[index] != at:
            return False  # a gap: the exact walk says what is there
        link = links[index]
        assert link is not None
        if any(signed.chain_hash != link.hex() for signed in wanted[at]):
            return False
        del wanted[at]
    return True


def links_hold(
    previous: bytes, positions: list[int], digests: list[bytes], links: list[bytes]
) -> bool:
    """sha256(stored link before | position | digest) == stored link, for each event in turn.
    The hot loop of verify: names bound locally, no object made per event but the hashes."""
    sha256, pack = hashlib.sha256, _PACK8.pack
    for position, digest, link in zip(positions, digests, links, strict=True):
        if sha256(previous + pack(position) + digest).digest() != link:
            return False
        previous = link
    return True


_PACK8 = struct.Struct(">Q")


def sqlite_digests(rows: list[tuple[Any, ...]]) -> list[bytes] | None:
    """Digests of (position, aggregate text, version, topic bytes, state bytes, link) rows; None if
    a row is not what kasda writes (the exact walk then looks at it)."""
    sha256, pack, join = hashlib.sha256, _PACK8.pack, b"".join
    ids: dict[Any, bytes] = {}  # an aggregate's events come together: parse each id once a page
    try:
        digests = []
        for _, originator, version, topic, state, _ in rows:
            aggregate = ids.get(originator)
            if aggregate is None:
                aggregate = ids[originator] = _aggregate_bytes(originator)
            digests.append(sha256(join((aggregate, pack(version), topic, b"\x00", state))).digest())
    except (TypeError, struct.error):
        return None
    return digests


def postgres_digests(rows: list[tuple[Any, ...]]) -> list[bytes] | None:
    """Digests of (position, digest input, link) rows: PostgreSQL concatenated the input."""
    sha256 = hashlib.sha256
    try:
        return [sha256(data).digest() for _, data, _ in rows]
    except TypeError:  # a NULL in a column
        return None


def server_digests(rows: list[tuple[Any, ...]]) -> list[bytes] | None:
    """Digests of (position, digest, link) rows: PostgreSQL computed them (None: a NULL)."""
    digests = [digest for _, digest, _ in rows]
    return None if None in digests else digests


# How a page's digests are made: by kasda from SQLite's columns, by kasda from PostgreSQL's
# concatenation of them (before version 11), or by PostgreSQL (``sha256()``).
DIGESTS: dict[str, Callable[[list[tuple[Any, ...]]], list[bytes] | None]] = {
    "sqlite": sqlite_digests,
    "input": postgres_digests,
    "server": server_digests,
}
SERVER_DIGESTS = 110_000  # server_version_num from which PostgreSQL has sha256()


class PageReader:
    """Pages of the fast path: the positions (0, last] cut into ranges of ``FAST_PAGE``, read by
    ``READERS`` threads, each on its own connection, while this thread hashes (the drivers let go
    of the GIL while the database works). At most ``READERS + AHEAD`` pages are in memory at once,
    and every wait is bounded by the statement timeout."""

    def __init__(self, ledger: Ledger) -> None:
        recorder, self.kind, events, chain = _tables(ledger)
        self.recorder = recorder
        self.digests = "sqlite"  # how a page's digests are made: see DIGESTS
        self.wait = statement_timeout(ledger.env) * 3 + 5.0
        position = "e.rowid" if self.kind == "sqlite" else "e.notification_id"
        if self.kind == "sqlite":
            columns = (
                # BLOBs: an intruder's SQL may leave text that is not UTF-8 in a topic or body.
                "e.originator_id, e.originator_version, CAST(e.topic AS BLOB), "
                "CAST(e.state AS BLOB)"
            )
            placeholder = "?"
        else:
            events, chain = (f'"{recorder.datastore.schema}"."{t}"' for t in (events, chain))
            # The digest's input made by the server from the stored columns (schema-qualified
            # functions and operator: a search_path cannot swap them); a NULL anywhere gives NULL.
            columns = (
                "pg_catalog.uuid_send(e.originator_id) "
                "OPERATOR(pg_catalog.||) pg_catalog.int8send(e.originator_version::bigint) "
                "OPERATOR(pg_catalog.||) pg_catalog.convert_to(e.topic, 'UTF8') "
                "OPERATOR(pg_catalog.||) '\\x00'::bytea OPERATOR(pg_catalog.||) e.state"
            )
            if self._server_version() >= SERVER_DIGESTS:  # 72 bytes a row sent, not ~0.5 KB
                self.digests, columns = "server", f"pg_catalog.sha256({columns})"
            else:
                self.digests = "input"
            placeholder = "%s"
        between = f"> {placeholder} AND {{}} <= {placeholder}"
        # The range on both sides of the join: PostgreSQL does not carry a range across an
        # equality, and without it scanned the whole chain table for every page.
        self.select = (
            f"SELECT {position}, {columns}, c.chain_hash FROM {events} e "  # noqa: S608
            f"LEFT JOIN {chain} c ON c.position = {position} "
            f"AND c.position {between.format('c.position')} "
            f"WHERE {position} {between.format(position)} ORDER BY {position}"
        )
        self.count = f"SELECT count(*) FROM {chain} WHERE position {between.format('position')}"  # noqa: S608
        self.last, self.events = self._extent(events, chain, position)
        # Ranges of positions suit a store whose positions are dense, as kasda writes them.
        self.sparse = self.last > 2 * self.events + FAST_PAGE
        before = (
            f"SELECT chain_hash FROM {chain} WHERE position > 0 AND position <= {placeholder} "  # noqa: S608
            "ORDER BY position DESC LIMIT 1"
        )
        self.source = _source(recorder, self.digests, self.select, self.count, before)

    def _server_version(self) -> int:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT pg_catalog.current_setting('server_version_num')")
            row = cursor.fetchone()
        return int(next(iter(row.values())) if isinstance(row, dict) else row[0])

    def _extent(self, events: str, chain: str, position: str) -> tuple[int, int]:
        """(the last position of either table, the number of events)."""
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT (SELECT max({position}) FROM {events} e) AS a, "  # noqa: S608
                f"(SELECT max(position) FROM {chain}) AS b, (SELECT count(*) FROM {events}) AS c"
            )
            row = cursor.fetchone()
        values = list(row.values()) if isinstance(row, dict) else list(row)
        return max(int(values[0] or 0), int(values[1] or 0)), int(values[2] or 0)

    def pages(self) -> Iterator[_Page]:
        """The pages in position order; the last one reaches past the end of both tables."""
        starts = iter(range(0, max(self.last, 1), FAST_PAGE))
        with ThreadPoolExecutor(READERS, thread_name_prefix="verify-reader") as pool:
            pending = deque(
                pool.submit(self._read, lo) for lo in itertools.islice(starts, READERS + AHEAD)
            )
            try:
                while pending:
                    page = pending.popleft().result(timeout=self.wait)
                    following = next(starts, None)
                    if following is not None:
                        pending.append(pool.submit(self._read, following))
                    yield page
            finally:
                for future in pending:
                    future.cancel()

    def ranges(self, signed: tuple[int, ...]) -> Iterator[_Range]:
        """The ranges checked by ``PROCESSES`` worker processes, in position order (started by
        fork: a worker opens its own connection and needs nothing else of this process)."""
        assert self.source is not None
        starts = iter(range(0, max(self.last, 1), FAST_PAGE))
        with ProcessPoolExecutor(
            PROCESSES,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_open_in_worker,
            initargs=(self.source,),
        ) as pool:
            pending = deque(
                pool.submit(_check_in_worker, lo, self._top(lo), signed)
                for lo in itertools.islice(starts, PROCESSES + AHEAD)
            )
            try:
                while pending:
                    checked = pending.popleft().result(timeout=self.wait)
                    following = next(starts, None)
                    if following is not None:
                        pending.append(
                            pool.submit(_check_in_worker, following, self._top(following), signed)
                        )
                    yield checked
            finally:
                for future in pending:
                    future.cancel()

    def _top(self, after: int) -> int:
        return (1 << 63) - 1 if after + FAST_PAGE >= self.last else after + FAST_PAGE

    def _read(self, after: int) -> _Page:
        top = self._top(after)
        with self.recorder.datastore.transaction(commit=False) as cursor:
            # Plain tuples: the library's dict (or sqlite3.Row) rows cost more than the hashing.
            if self.kind == "postgres":
                cursor.row_factory = tuple_row
                cursor.execute(self.select, (after, top, after, top), binary=True)
            else:
                cursor.sqlite_cursor.row_factory = None
                cursor.execute(self.select, (after, top, after, top))
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            cursor.execute(self.count, (after, top))
            (linked,) = tuple(cursor.fetchone())
        digests = DIGESTS[self.digests](rows)
        return _Page(after, top, [r[0] for r in rows], digests, [r[-1] for r in rows], int(linked))


# -- worker processes (a large store, where fork is available) ----------------------------------
@dataclass(frozen=True, slots=True)
class _Source:
    """How a worker process opens the store on its own, and what it asks."""

    kind: str
    digests: str  # a key of DIGESTS
    target: str  # the SQLite file, or the PostgreSQL conninfo
    options: dict[str, Any]  # the pool's connection options (every wait bounded)
    connection: Any  # the PostgreSQL connection class (bounded waits)
    select: str
    count: str
    before: str  # the stored link before a range


@dataclass(frozen=True, slots=True)
class _Range:
    """A worker's verdict on the positions (after, top]: sound, or not (the exact walk then looks)."""

    after: int
    sound: bool
    events: int = 0
    last_position: int = 0
    last_link: bytes = GENESIS
    signed: dict[int, bytes] = field(default_factory=dict)  # the links at checkpoint positions


def _source(recorder: Any, digests: str, select: str, count: str, before: str) -> _Source | None:
    """None where worker processes cannot be used (no fork, or an in-memory SQLite store)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    pool = recorder.datastore.pool
    if digests == "sqlite":
        if pool.is_sqlite_memory_mode:
            return None
        return _Source("sqlite", digests, pool.db_name, {}, None, select, count, before)
    options = {**(pool.kwargs or {}), "row_factory": tuple_row}  # not the library's dict rows
    return _Source(
        "postgres", digests, pool.conninfo, options, pool.connection_class, select, count, before
    )


_WORKER: dict[str, Any] = {}  # in a worker process: its source and connection


def _open_in_worker(source: _Source) -> None:
    _WORKER["source"] = source
    if source.kind == "sqlite":
        _WORKER["connection"] = sqlite3.connect(source.target, uri=True, timeout=30)
    else:
        _WORKER["connection"] = source.connection.connect(
            source.target, autocommit=True, **source.options
        )


def _check_in_worker(after: int, top: int, signed: tuple[int, ...]) -> _Range:
    """Read, digest and check the range (after, top], from the stored link before it."""
    source: _Source = _WORKER["source"]
    connection = _WORKER["connection"]
    cursor = connection.cursor()
    options = {"binary": True} if source.kind == "postgres" else {}
    cursor.execute(source.before, (after,), **options)
    found = cursor.fetchone()
    previous = bytes(found[0]) if found and after > 0 else GENESIS
    cursor.execute(source.select, (after, top, after, top), **options)
    rows = cursor.fetchall()
    cursor.execute(source.count, (after, top), **options)
    (linked,) = cursor.fetchone()
    cursor.close()
    digests = DIGESTS[source.digests](rows)
    positions, links = [r[0] for r in rows], [r[-1] for r in rows]
    if digests is None or linked != len(rows) or None in links:
        return _Range(after, sound=False)
    if not links_hold(previous, positions, digests, links):
        return _Range(after, sound=False)
    at_signed = {}
    for at in (p for p in signed if after < p <= top):
        index = bisect.bisect_left(positions, at)
        if index == len(positions) or positions[index] != at:
            return _Range(after, sound=False)
        at_signed[at] = links[index]
    if not rows:
        return _Range(after, sound=True)
    return _Range(after, True, len(rows), positions[-1], links[-1], at_signed)


def _done(report: Report, started: float) -> Report:
    report.seconds = time.perf_counter() - started
    return report


# -- checkpoints -------------------------------------------------------------------------------
def _checkpoint_table(ledger: Ledger) -> str:
    recorder, kind, events, _ = _tables(ledger)
    name = f"{events}_checkpoints"
    return name if kind == "sqlite" else f'"{recorder.datastore.schema}"."{name}"'


def _ensure_checkpoint_table(ledger: Ledger) -> None:
    recorder, _kind, _, _ = _tables(ledger)
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {_checkpoint_table(ledger)} ("
            "position BIGINT PRIMARY KEY, body TEXT NOT NULL)"
        )


def load_checkpoints(ledger: Ledger) -> list[Checkpoint]:
    _ensure_checkpoint_table(ledger)
    recorder, _kind, _, _ = _tables(ledger)
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT body FROM {_checkpoint_table(ledger)} ORDER BY position")  # noqa: S608
        rows = cursor.fetchall()
    return [Checkpoint.from_json(r["body"] if isinstance(r, dict) else r[0]) for r in rows]


def newest_checkpoint(ledger: Ledger) -> Checkpoint | None:
    """The signed checkpoint of the highest position, or None if none was ever signed. Read-only
    and small (one row by its primary key, on a reader connection: no lock the writer waits on,
    no table made), so that a page anyone may open can show it without slowing the ledger."""
    recorder, kind, events, _ = _tables(ledger)
    table = _checkpoint_table(ledger)
    with recorder.datastore.transaction(commit=False) as cursor:
        if kind == "sqlite":
            cursor.execute(
                "SELECT count(*) AS found FROM sqlite_master WHERE type = 'table' AND name = ?",
                (f"{events}_checkpoints",),
            )
        else:
            cursor.execute("SELECT count(to_regclass(%s)) AS found", (table,))
        if not _first(cursor.fetchone()):
            return None
        cursor.execute(f"SELECT body FROM {table} ORDER BY position DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    return None if row is None else Checkpoint.from_json(_first(row))


def _first(row: Any) -> Any:
    """The first column of a row, as either driver gives it (a tuple, a sqlite3.Row, a dict)."""
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def signing_key(encoded: str) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded, validate=True))
    except ValueError:
        raise InvalidInput(
            "KASDA_SIGNING_KEY must be the base64 of a 32-byte Ed25519 seed"
        ) from None


def new_signing_key() -> tuple[str, str]:
    """(private seed, public key), both base64, for KASDA_SIGNING_KEY and KASDA_VERIFY_KEY."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(seed).decode(), base64.b64encode(public).decode()


def checkpoint(ledger: Ledger, key: Ed25519PrivateKey) -> Checkpoint:
    """Verify the store, then sign and record the head of its chain."""
    report = verify(ledger)
    if report.problem is not None:
        raise InvalidInput(f"refusing to sign a broken chain: {report.problem}")
    if report.head_position == 0:
        raise InvalidInput("the store is empty: nothing to sign")
    signed_at = datetime.now(UTC).isoformat()
    unsigned = Checkpoint(report.head_position, report.head_hash, signed_at, "", "")
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    made = Checkpoint(
        report.head_position,
        report.head_hash,
        signed_at,
        base64.b64encode(public).decode(),
        base64.b64encode(key.sign(unsigned.message())).decode(),
    )
    recorder, kind, _, _ = _tables(ledger)
    placeholder = "?" if kind == "sqlite" else "%s"
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            f"INSERT INTO {_checkpoint_table(ledger)} (position, body) VALUES "  # noqa: S608
            f"({placeholder}, {placeholder}) ON CONFLICT (position) DO NOTHING",
            (made.position, made.to_json()),
        )
    return made
