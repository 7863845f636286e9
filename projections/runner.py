"""The projector: folds the ledger's notification log into the read models, exactly once.

Each step reads one range of positions (``EventSource.page``), folds its facts into every model in
memory, then in ONE transaction of the read database
  1. moves ``proj_position`` from where this step started to the end of the range, but only if it
     is still where this step started (compare-and-set: a second projector cannot apply it twice),
  2. writes every model's pending rows.
A crash before the commit leaves both untouched; after it, both are done. Restarting resumes from
the recorded position, so no event is applied twice or skipped.

SQLite cannot push notifications, so ``follow`` polls it; on PostgreSQL it LISTENs on the channel
the library NOTIFYs on every insert, and polls as a fallback.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg import sql

from ledger.application import Ledger
from ledger.connections import Backoff, connect
from ledger.errors import DomainError
from projections.advance import AdvanceModel
from projections.cash import CashModel
from projections.cashplan import CashPlanModel
from projections.db import Cursor, ReadDatabase
from projections.feed import FeedModel
from projections.history import HistoryModel
from projections.lra import LraModel
from projections.model import ReadModel
from projections.owners import OwnerModel
from projections.queues import QueueModel
from projections.redflags import RedFlagModel
from projections.runs import RunModel
from projections.source import EventSource, Fact, Page
from projections.statements import StatementModel

log = logging.getLogger(__name__)

# Bump when a table's shape or meaning changes: stored read models of another version are rebuilt.
# 2: positions (the lists' order), the vendor's sealed NPWP, owners, reconciliation runs.
# 3: the history of every payment and vendor (proj_history).
# 4: red flags, their reviews and runs (proj_flag*).
# 5: a returned transfer paid again (proj_payment.reissues, reissued_at).
# 6: closed years (proj_lra_year, tutup tahun) and lapsed payments (proj_payment.lapsed_at).
# 7: anggaran kas and SPD (proj_cashplan*, proj_spd).
# 8: the bendahara's advance (proj_advance*, proj_spj, proj_card, proj_tu); advance orders in the
#    approval queues; the advance's money in the cash position.
# 9: an advance's outstanding is rupiah only, as ``Advance.outstanding``.
# 10: the event feed (proj_feed, proj_feed_subscription; feed/ keeps its delivery state apart).
# 11: the history's and the feed's details written compact (``projections.model.compact_json``).
VERSION = 11
NAME = "kasda"
# The pemda's time zone, which decides the calendar day of every event (``KASDA_TIMEZONE``).
DEFAULT_TIMEZONE = "Asia/Jakarta"
_SETUP_LOCK = 0x6B61_7364_6102  # "kasda" 02
BATCH = 10_000  # positions per step: big enough to amortise the writes, small enough to be quick


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a catch-up runs (if it was on); also around other
    short bursts that make many containers and no cycles (the public files and pages).

    Decoding and folding make many containers and no reference cycles (JSON bodies, pending
    rows), and each collection scans the growing pending rows again: 15 to 25 % of a rebuild's
    CPU. Reference counting still frees everything; the collector runs again afterwards. The
    switch is the process's: a burst that finds it off leaves it to whoever turned it off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _deferrable(statement: str) -> bool:
    """Whether a schema statement makes a secondary index: one no step reads or checks (not a
    unique one), so a rebuild may make it after the rows are in."""
    return statement.startswith("CREATE INDEX IF NOT EXISTS proj_")


class ProjectionConflict(DomainError):
    rule = "projection_applied_once"


@dataclass
class Progress:
    """What one catch-up did."""

    positions: int = 0  # positions moved past
    facts: int = 0  # events applied to the read models
    batches: int = 0
    seconds: float = 0.0
    # Per batch: (position reached, wall-clock time.time() just after its commit).
    commits: list[tuple[int, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.positions / self.seconds if self.seconds else 0.0


class _ReadAhead:
    """Pages of the log in order, the next one read on a second thread while this one is used."""

    def __init__(self, source: EventSource, size: int) -> None:
        self.source = source
        self.size = size
        self.more = False  # whether more of the log follows the last page handed out
        self._ahead: Future[Page] | None = None
        self._ahead_from = -1
        self._pool: ThreadPoolExecutor | None = None

    def page(self, start: int, upto: int | None) -> Page:
        """The page after ``start``; the next one is read meanwhile if more follow (and the
        position ``upto`` is not yet reached)."""
        if self._ahead is not None and self._ahead_from == start:
            page = self._ahead.result()
        else:
            if self._ahead is not None and not self._ahead.cancel():
                wait([self._ahead])  # one reader at a time: the source is not shared
            page = self.source.page(start, self.size)
        self._ahead = None
        self.more = page.upto < page.head and (upto is None or page.upto < upto)
        if self.more:  # more behind this page: read it while this one folds
            self._pool = self._pool or ThreadPoolExecutor(1, thread_name_prefix="kasda-read-ahead")
            self._ahead_from = page.upto
            self._ahead = self._pool.submit(self.source.page, page.upto, self.size)
        return page

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class Projector:
    def __init__(
        self,
        ledger: Ledger,
        *,
        timezone: str | None = None,
        batch: int = BATCH,
        before_commit: Callable[[int], None] | None = None,
        session: Sequence[str] = (),
    ) -> None:
        self.ledger = ledger
        self.timezone = timezone or DEFAULT_TIMEZONE
        self.batch = batch
        # The read models are derived data and a projection commit moves its rows and its
        # position together, so it need not wait for its WAL flush: a crash loses whole
        # projection transactions, which the next catch-up projects again from the log. That
        # takes an fsync out of every step, most of the time a small live step takes.
        self.db = ReadDatabase(ledger, session=("SET synchronous_commit TO OFF", *session))
        self.source = EventSource(ledger, self.timezone)
        self.models: list[ReadModel] = self.make_models()
        self.before_commit = before_commit  # tests use it to crash between write and commit
        # Per event name, the ``apply`` of every model that reads it, in the models' order.
        self._routes: dict[str, tuple[Callable[[Fact], None], ...]] = {}
        # The second set of models a pipelined catch-up folds into while the first one's batch is
        # written (``_pipelined``), with its own routes; made on first use.
        self._spare: tuple[list[ReadModel], dict[str, tuple[Callable[[Fact], None], ...]]] | None
        self._spare = None
        self._position: int | None = None
        self.setup()

    def make_models(self) -> list[ReadModel]:
        """A new set of every read model, nothing pending, in the order they are folded and
        written."""
        # Order matters: the cash model looks up the pemda of payments the statements wrote.
        return [
            StatementModel(self.db.sealer),
            AdvanceModel(),  # before the cash model, which looks up the pemda of an advance
            LraModel(),
            CashModel(),
            QueueModel(),
            OwnerModel(),
            RunModel(self.db.sealer),
            HistoryModel(self.db.sealer),
            RedFlagModel(self.db.sealer),
            CashPlanModel(),
            FeedModel(self.db.sealer),  # last: it looks up the pemda the owners wrote
        ]

    # -- tables -----------------------------------------------------------------------------------
    def setup(self, *, deferred: bool = False) -> None:
        """Create the tables; rebuild them if they were made by another version or time zone.
        ``deferred``: without their secondary indexes (``_deferrable``), which ``build_indexes``
        makes afterwards."""
        with self.db.transaction() as cursor:
            if self.db.kind == "postgres":
                # Two processes creating the same tables at once collide in PostgreSQL's catalog.
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (_SETUP_LOCK,))
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS proj_position (name TEXT PRIMARY KEY,"
                " position BIGINT NOT NULL, timezone TEXT NOT NULL, version INTEGER NOT NULL)"
            )
            found = cursor.fetchone(
                "SELECT version, timezone FROM proj_position WHERE name = ?", (NAME,)
            )
            if found is not None and (found[0], found[1]) != (VERSION, self.timezone):
                self.drop_tables(cursor)
                cursor.execute("DELETE FROM proj_position WHERE name = ?", (NAME,))
                found = None
            for model in self.models:
                for statement in model.schema():
                    if not (deferred and _deferrable(statement)):
                        cursor.execute(statement)
            if found is None:
                cursor.execute(
                    "INSERT INTO proj_position (name, position, timezone, version) "
                    "VALUES (?, 0, ?, ?)",
                    (NAME, self.timezone, VERSION),
                )
        self._position = None
        self.db.forget_tables()

    def drop_tables(self, cursor: Cursor) -> None:
        """Drop every read model's tables (not ``proj_position``), in ``cursor``'s transaction."""
        for model in self.models:
            for table in model.tables:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def rebuild(self) -> Progress:
        """Drop every read model and project the whole log again from position 0.

        The tables are made without their secondary indexes, which are built once the log is
        projected: one sort per index instead of an index insert per row (and the updates of a
        payment's row stay on its page). The primary keys and unique indexes are there from the
        start, so every lookup and every check a step makes is the same. A rebuild cut short
        leaves the indexes to the next ``setup`` (every start makes any that are missing)."""
        with self.db.transaction() as cursor:
            self.drop_tables(cursor)
            cursor.execute("DELETE FROM proj_position WHERE name = ?", (NAME,))
        self.setup(deferred=True)
        progress = self.catch_up()
        started = time.perf_counter()
        self.build_indexes()
        progress.seconds += time.perf_counter() - started
        return progress

    def build_indexes(self) -> None:
        """Make the secondary indexes ``setup(deferred=True)`` left out (those missing)."""
        with self.db.transaction() as cursor:
            for model in self.models:
                for statement in model.schema():
                    if _deferrable(statement):
                        cursor.execute(statement)

    # -- projecting -------------------------------------------------------------------------------
    def position(self) -> int:
        if self._position is None:
            with self.db.transaction(write=False) as cursor:
                row = cursor.fetchone("SELECT position FROM proj_position WHERE name = ?", (NAME,))
            self._position = 0 if row is None else int(row[0])
        return self._position

    def refresh(self) -> None:
        """Forget the cached position: another projector may have moved it (the next step would
        otherwise fold a range it then loses at the compare-and-set)."""
        self._position = None

    def step(self, progress: Progress | None = None) -> int:
        """Project one range of positions. Returns how many positions it moved past (0: none new)."""
        start = self.position()
        return self._apply(start, self.source.page(start, self.batch), progress)

    def _apply(self, start: int, page: Page, progress: Progress | None) -> int:
        """Fold ``page`` (read from ``start``) into the models and commit it with the position."""
        if page.upto <= start:
            return 0
        try:
            self._fold(self.models, self._routes, page.facts)
        except BaseException:
            self._forget(self.models)
            raise
        self._commit(start, page, self.models, progress)
        return page.upto - start

    def _forget(self, models: list[ReadModel]) -> None:
        for model in models:
            model.discard()
        self._position = None  # re-read: the other projector, or nobody, moved it

    def _commit(
        self, start: int, page: Page, models: list[ReadModel], progress: Progress | None
    ) -> None:
        """Write what ``models`` folded from ``page`` and move the position from ``start`` to
        the page's end, in one transaction: both or neither."""
        try:
            with self.db.transaction() as cursor:
                cursor.execute(
                    "UPDATE proj_position SET position = ? WHERE name = ? AND position = ?",
                    (page.upto, NAME, start),
                )
                if cursor.rowcount != 1:
                    raise ProjectionConflict(
                        f"another projector moved past position {start}; this batch is not applied"
                    )
                for model in models:
                    model.flush(cursor)
                if self.before_commit is not None:
                    self.before_commit(page.upto)
        except BaseException:
            self._forget(models)
            raise
        self._position = page.upto
        if progress is not None:
            progress.positions += page.upto - start
            progress.facts += len(page.facts)
            progress.batches += 1
            progress.commits.append((page.upto, time.time()))

    def reroute(self) -> None:
        """Forget which ``apply`` of which model reads each event name (kept once found): asked
        again at the next fold, e.g. after a model's ``apply`` was replaced. The second set of
        models a pipelined catch-up uses (PostgreSQL, more than one batch behind) is made anew
        from the models' classes."""
        self._routes.clear()
        self._spare = None

    def _fold(
        self,
        models: list[ReadModel],
        routes: dict[str, tuple[Callable[[Fact], None], ...]],
        facts: list[Fact],
    ) -> None:
        for fact in facts:
            appliers = routes.get(fact.name)
            if appliers is None:
                appliers = routes[fact.name] = tuple(
                    model.apply for model in models if model.wants(fact.name)
                )
            for apply in appliers:
                apply(fact)

    def catch_up(self, upto: int | None = None) -> Progress:
        """Project everything recorded so far, or only until the position reaches ``upto`` (a
        reader waiting for one write need not wait for every write that came after it). A range
        another projector applied first is not applied again: this one re-reads the position and
        carries on from there.

        While a page is folded and written, the next one is read on a second thread: the two
        round trips to the database overlap with the folding (psycopg and sqlite3 let go of the
        GIL while they wait), which is most of what a rebuild spends besides decoding. Pages are
        immutable once read (every id up to the page's head is committed), so reading ahead
        changes nothing but the time; a read-ahead page that no longer follows the position
        (another projector moved it) is dropped. On PostgreSQL, with more than one page behind,
        the writing is overlapped too (``_pipelined``)."""
        with gc_paused():
            return self._catch_up(upto)

    def _catch_up(self, upto: int | None) -> Progress:
        progress = Progress()
        started = time.perf_counter()
        pages = _ReadAhead(self.source, self.batch)
        writer: ThreadPoolExecutor | None = None
        try:
            while True:
                start = self.position()
                if upto is not None and start >= upto:
                    break
                page = pages.page(start, upto)
                if page.upto <= start:
                    break
                try:
                    if pages.more and self.db.kind == "postgres":
                        writer = writer or ThreadPoolExecutor(1, thread_name_prefix="kasda-write")
                        self._pipelined(start, page, pages, writer, upto, progress)
                    else:
                        self._apply(start, page, progress)
                except ProjectionConflict:
                    continue
        finally:
            pages.close()
            if writer is not None:
                writer.shutdown(wait=True, cancel_futures=True)
        progress.seconds = time.perf_counter() - started
        return progress

    def _pipelined(
        self,
        start: int,
        page: Page,
        pages: _ReadAhead,
        writer: ThreadPoolExecutor,
        upto: int | None,
        progress: Progress,
    ) -> None:
        """Fold page *n*+1 while page *n* is written and committed on the writer thread, from
        ``page`` (read from ``start``) for as long as more pages follow.

        Two sets of models take turns: page *n* is folded into one and handed, with nothing
        else, to the writer; page *n*+1 is folded into the other; page *n*+2 into the first
        again once its write is done. The writer writes the pages in order, each in its own
        transaction with its compare-and-set of the position (``_commit``), on the projector's
        own connection, which nothing else uses meanwhile; a model's ``flush`` reads what
        earlier pages wrote (the cash model's and the feed's pemda, an advance's book), and
        those have committed on that connection by then. The models' caches (pemda of an
        aggregate) are each set's own and only save look-ups, so either set gives the rows the
        one-set fold gives.

        A failure on either side ends it: a failed write makes every later write of this call
        roll nothing forward (it is skipped, its models' rows discarded) and is raised here; a
        failed fold (or an interrupt) waits for the write in flight and is raised. Either way
        the position recorded is exactly the end of the last page committed, with its rows and
        no others, and the next catch-up carries on from there."""
        if self._spare is None:
            self._spare = (self.make_models(), {})
        sets = [(self.models, self._routes), self._spare]
        writing: list[Future[None] | None] = [None, None]
        failed = threading.Event()
        turn = 0
        try:
            while True:
                models, routes = sets[turn]
                before = writing[turn]
                if before is not None:
                    before.result()  # this set is free again (or its write failed: raised)
                self._fold(models, routes, page.facts)
                writing[turn] = writer.submit(self._write, start, page, models, progress, failed)
                start = page.upto
                turn ^= 1
                if not pages.more:
                    break
                page = pages.page(start, upto)
                if page.upto <= start:
                    break
        except BaseException:
            failed.set()
            wait([w for w in writing if w is not None])
            for models, _ in sets:
                self._forget(models)
            raise
        # Both done before anything is raised: a write skipped after a failure discards its
        # models' rows on the writer thread, and the next catch-up folds into those models.
        wait([w for w in writing if w is not None])
        # The earlier of the two writes first: its failure is the one to raise.
        for pending in (writing[turn], writing[turn ^ 1]):
            if pending is not None:
                pending.result()

    def _write(
        self,
        start: int,
        page: Page,
        models: list[ReadModel],
        progress: Progress,
        failed: threading.Event,
    ) -> None:
        """The writer thread's part of ``_pipelined``: commit one page, unless an earlier one
        failed (then drop its rows: the position did not reach ``start``)."""
        if failed.is_set():
            self._forget(models)
            return
        try:
            self._commit(start, page, models, progress)
        except BaseException:
            failed.set()
            raise

    def follow(
        self,
        stop: threading.Event,
        *,
        interval: float = 0.2,
        on_progress: Callable[[Progress], None] | None = None,
        on_error: Callable[[Exception, float], None] | None = None,
    ) -> None:
        """Keep the read models current until ``stop`` is set: LISTEN on PostgreSQL, poll SQLite.

        The database going away does not end it: a failed step (or a dropped LISTEN connection)
        is reported to ``on_error`` with the seconds until the next attempt, which backs off
        (``ledger.connections.Backoff``); the connections are opened again, and the models
        catch up from their recorded position as soon as the database answers."""
        listener: psycopg.Connection[tuple[object, ...]] | None = None
        backoff = Backoff()
        try:
            while not stop.is_set():
                try:
                    if listener is None and self.db.kind == "postgres":
                        # Before catching up: nothing recorded after this is missed.
                        listener = self._listener()
                    progress = self.catch_up()
                    backoff.reset()
                    if progress.positions and on_progress is not None:
                        on_progress(progress)
                    if listener is not None:
                        for _ in listener.notifies(timeout=interval, stop_after=1):
                            pass
                    else:
                        stop.wait(interval)
                except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as error:
                    if listener is not None:
                        with contextlib.suppress(psycopg.Error):
                            listener.close()
                        listener = None
                    self.refresh()
                    wait = backoff.next()
                    log.warning("projector: %s; trying again in %.1f s", error, wait)
                    if on_error is not None:
                        on_error(error, wait)
                    stop.wait(wait)
        finally:
            if listener is not None:
                listener.close()

    def _listener(self) -> psycopg.Connection[tuple[object, ...]] | None:
        channel = getattr(self.ledger.recorder, "channel_name", None)
        if channel is None:
            return None
        conn: psycopg.Connection[tuple[object, ...]] = connect(self.ledger.env, autocommit=True)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        self.db.close()
