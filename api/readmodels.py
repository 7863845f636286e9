"""The read models (``projections/``) as the API serves them: kept current, read by many requests.
Every list, page, filter and ownership check of the API reads them (through
``projections/queries.py``); the application never replays the log itself, not even at start-up.

Freshness. A read answers on one of three states of the models. ``recent`` (the reports' default):
what the models hold now, without waiting; the follower keeps them within about ``interval`` of the
head, and the answer names its position. ``after=<position>`` (read-your-writes): at least up to a
position that a write returned (``CommandOut.position``, see ``api/writer.py``), so the answer
includes that write; only a read that meets models behind that position waits. ``latest``: models
that include everything recorded before the request, by any worker. ``ReadModels.read`` reads the
projection's position (and, for ``latest``, the log's head: two indexed one-row queries) and, if the
models are there already, runs the query in the same hop to a worker thread. Otherwise the request
waits, in the event loop and holding no worker thread, for the projector thread to reach its target;
concurrent waiters share one catch-up, for at most ``wait_limit`` seconds (then 503 with
Retry-After). A target beyond the log's head is refused at once (422 ``position_not_recorded``),
never waited for: by the request itself when it read the head, or by the projector thread, which
a waiting reader wakes and which reads the head before it projects. Lists and single things default
to ``latest`` (``api/deps.py``). The projector thread (``start``/``stop``, from the app's lifespan)
also catches up every ``interval`` seconds, so that the gap a request meets is usually none.
Outside the lifespan (no thread), a request projects the gap itself in a worker thread.

Several workers may all project: ``Projector.step`` moves ``proj_position`` by compare-and-set in the
same transaction as the rows, so a range is applied exactly once, and a worker that lost the race
re-reads the position and carries on.

Threads. One ``Projector`` per worker, used under a lock. Queries run on connections of their own
from a small pool (a ``ReadDatabase`` is one connection for one thread), so reads do not wait for a
projection in progress; SQLite (WAL) and PostgreSQL both let them read the last committed state.
An in-memory ledger's read models live in a shared-cache in-memory SQLite database, where a reader
and a writer on two connections fail with "table is locked" instead of waiting: there, queries use
the projector's own connection under the same lock.

Position. ``read`` reports the projection position its answer reflects: it reads the position
before and after the query and retries if a projector committed in between (the position and the
rows move together in one transaction, so an unchanged position means an unchanged state).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from anyio import to_thread

from api import threads
from api.problems import ProblemError
from ledger.application import Ledger
from ledger.connections import Backoff
from ledger.errors import DomainError
from projections import queries
from projections.db import ReadDatabase
from projections.queries import position as _position
from projections.runner import Projector

log = logging.getLogger(__name__)

T = TypeVar("T")
POSITION_HEADER = "X-Kasda-Projection-Position"
FOLLOW_INTERVAL = 0.5  # seconds between the follower's catch-ups
_READ_ATTEMPTS = 4
ANSWERS = 256  # answers kept by key (``read(key=...)``); all are dropped when full
# Owners kept (``ReadModels.owner``), least recently used dropped first: about 200 bytes each, so
# at most a few MiB per worker; a pemda's payments of a few months fit.
OWNERS = 20_000
# The longest a read waits for the models to reach its position; then 503 with Retry-After. A
# projection this far behind is one that cannot keep up (or a database that does not answer): the
# client should come back, not hold a connection and a worker's waiter open.
WAIT_LIMIT = 10.0


class ReadModels:
    def __init__(
        self,
        ledger: Ledger,
        *,
        interval: float = FOLLOW_INTERVAL,
        wait_limit: float = WAIT_LIMIT,
        timezone: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.interval = interval
        self.wait_limit = wait_limit
        self._lock = threading.Lock()  # the projector and, in memory, its connection
        # The read models are derived data: the log is the durable record, and a projection
        # commit moves its rows and its position together. Not waiting for the WAL flush of each
        # projection commit is therefore safe (a crash loses whole projection transactions, and
        # the next catch-up projects them again from the log), and it takes an fsync out of every
        # read that has to catch up. PostgreSQL only; set again on every new connection.
        self.projector = Projector(
            ledger, timezone=timezone, session=("SET synchronous_commit TO OFF",)
        )
        module = ledger.env.get("PERSISTENCE_MODULE", "")
        path = ledger.env.get("SQLITE_DBNAME", "")
        self._single = module.endswith("popo") or (
            self.projector.db.kind == "sqlite" and (not path or ":memory:" in path)
        )
        self._idle: queue.SimpleQueue[ReadDatabase] = queue.SimpleQueue()
        self._opened: list[ReadDatabase] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Readers waiting for a position: (target, their event loop, their future, their ticket).
        self._wake = threading.Condition()
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None], int]] = []
        self._tickets = 0  # waiters registered so far: a waiter's ticket is its number
        self._wanted = 0  # the highest position a reader waits for
        self._reached = 0  # the highest position known to be projected
        # A position known to be in the log (a head read, a write's answer: ``recorded``). Set
        # from several threads without a lock: a lost update leaves a smaller value, which was
        # recorded too, so it only ever errs towards asking the log again.
        self._recorded = 0
        self._answers: dict[Hashable, tuple[int, Any]] = {}  # key -> (position, answer)
        # aggregate id -> its owner; used from the event loop only (``owner``).
        self._owners: OrderedDict[str, queries.Owner] = OrderedDict()

    # -- keeping current ------------------------------------------------------------------------
    def head(self) -> int:
        head = int(self.ledger.recorder.max_notification_id() or 0)
        self.recorded(head)
        return head

    @property
    def reached(self) -> int:
        """The highest position known to be projected."""
        return self._reached

    @property
    def known_recorded(self) -> int:
        """The highest position known to be in the log (``recorded``)."""
        return self._recorded

    def recorded(self, position: int) -> None:
        """``position`` is in the log (the head just read, or a write's ``CommandOut.position``):
        a read ``after`` it need not ask the log's head before it waits (``read``)."""
        self._recorded = max(self._recorded, position)

    def catch_up(self, upto: int | None = None) -> int:
        """Project at least up to ``upto`` (default: the log's head now); the position reached."""
        target = self.head() if upto is None else upto
        with self._connection() as db:
            reached = _position(db)
        if reached < target:
            with self._lock:
                if self.projector.position() < reached:
                    # Another worker projected past what this projector last saw: without this,
                    # its next step would fold a range only to lose the compare-and-set.
                    self.projector.refresh()
                # Only up to the target: under a steady stream of writes, catching up to the
                # head would chase the newest events and keep its waiters waiting.
                self.projector.catch_up(upto=target)
                reached = max(reached, self.projector.position())
        self._release(reached)
        return reached

    def start(self) -> None:
        """Project in a background thread until ``stop``: every ``interval`` seconds, and at once
        whenever a reader waits (``wait_for``)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name="kasda-projector", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        backoff = Backoff()
        while not self._stop.is_set():
            with self._wake:
                if self._wanted <= self._reached and not self._stop.is_set():
                    self._wake.wait(self.interval)
                # Waiters up to this one registered before the head is read (``catch_up``).
                ticket = self._tickets
            if self._stop.is_set():
                break
            try:
                head = self.head()
                self.catch_up(head)
                self._refuse_beyond(head, ticket)
            except Exception as error:  # the database went away: tell the waiters, keep going
                # The projector's connection reconnects on its next transaction; until then,
                # waiting readers get 503 with Retry-After at once, not a wait without end.
                wait = backoff.next()
                log.warning("projection follower: %s; trying again in %.1f s", error, wait)
                self._fail(error)
                self._stop.wait(wait)
            else:
                backoff.reset()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._fail(RuntimeError("the projection follower stopped"))

    def close(self) -> None:
        self.stop()
        while True:
            try:
                self._idle.get_nowait()
            except queue.Empty:
                break
        for db in self._opened:
            db.close()
        self._opened.clear()
        self.projector.close()

    # -- waiting (event loop side) --------------------------------------------------------------
    async def wait_for(self, target: int) -> None:
        """Return once the models reached ``target``. The follower thread does the projecting,
        so a waiting request holds no worker thread, and concurrent waiters share one catch-up."""
        if self._reached >= target:
            return
        if self._thread is None:  # no follower (outside the lifespan): project in a thread
            await to_thread.run_sync(self.catch_up, target)
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._wake:
            if self._reached >= target:
                return
            self._tickets += 1
            self._waiters.append((target, loop, waiter, self._tickets))
            self._wanted = max(self._wanted, target)
            self._wake.notify()
        await waiter

    async def _wait_bounded(self, target: int) -> None:
        """``wait_for``, for at most ``wait_limit`` seconds: then 503 with Retry-After."""
        try:
            await asyncio.wait_for(self.wait_for(target), self.wait_limit)
        except TimeoutError:
            raise ProblemError(
                503,
                "store_unavailable",
                f"the read models did not reach position {target} within {self.wait_limit:g} s; "
                "retry",
                headers={"Retry-After": "1"},
            ) from None

    def _release(self, reached: int) -> None:
        with self._wake:
            self._reached = max(self._reached, reached)
            ready = [w for w in self._waiters if w[0] <= self._reached]
            self._waiters = [w for w in self._waiters if w[0] > self._reached]
        for _, loop, waiter, _ in ready:
            loop.call_soon_threadsafe(_settle, waiter, None)

    def _refuse_beyond(self, head: int, ticket: int) -> None:
        """422 ``position_not_recorded`` to the waiters up to ``ticket`` whose target is beyond
        ``head``, a position in the log read after they registered: their target was not in the
        log when they asked (``read`` waits before it knows)."""
        with self._wake:
            refused = [w for w in self._waiters if w[0] > head and w[3] <= ticket]
            if not refused:
                return
            self._waiters = [w for w in self._waiters if not (w[0] > head and w[3] <= ticket)]
            self._wanted = max((w[0] for w in self._waiters), default=self._reached)
        for target, loop, waiter, _ in refused:
            loop.call_soon_threadsafe(_settle, waiter, _not_recorded(target, head))

    def _fail(self, error: BaseException) -> None:
        with self._wake:
            failed, self._waiters = self._waiters, []
        problem = ProblemError(
            503,
            "store_unavailable",
            f"the read models could not be brought up to date ({type(error).__name__}); retry",
            headers={"Retry-After": "1"},
        )
        for _, loop, waiter, _ in failed:
            loop.call_soon_threadsafe(_settle, waiter, problem)

    # -- reading --------------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[ReadDatabase]:
        if self._single:
            with self._lock:
                yield self.projector.db
            return
        try:
            db = self._idle.get_nowait()
        except queue.Empty:
            db = ReadDatabase(self.ledger)
            self._opened.append(db)
        try:
            yield db
        except DomainError:
            self._idle.put(db)  # a refusal of the input: the connection is fine
            raise
        except BaseException:
            # The connection may be broken (the server went away): do not hand it out again.
            self._opened.remove(db)
            db.close()
            raise
        self._idle.put(db)

    def query_at(
        self,
        query: Callable[[ReadDatabase], T],
        upto: int,
        key: Hashable | None,
        latest: bool = False,
    ) -> tuple[T, int] | int:
        """``query``'s answer and the position it reflects; or, if the models have not reached
        ``upto`` (with ``latest``: nor the log's head now), that target instead of an answer. A
        target beyond the log's head is refused (422 ``position_not_recorded``): it may never
        be reached."""
        head = self.head() if latest else None
        target = upto if head is None else max(head, upto)
        with self._connection() as db:
            before = _position(db)
            self._release(before)
            if before >= target:
                return self._answer(db, query, before, key)
        # Not there yet. Raised out of the connection's block, which would drop the connection.
        if head is None or head < target:
            head = self.head()  # read now: a write that answered before this call is in it
        if target > head:
            raise _not_recorded(target, head)
        return target

    def _answer(
        self,
        db: ReadDatabase,
        query: Callable[[ReadDatabase], T],
        before: int,
        key: Hashable | None,
    ) -> tuple[T, int]:
        if key is not None:
            # The models change only when the position moves: an answer computed at this
            # position is still the answer (a report polled with no new events costs a lookup).
            hit = self._answers.get(key)
            if hit is not None and hit[0] == before:
                return hit[1], before
        for _ in range(_READ_ATTEMPTS):
            answer = query(db)
            after = _position(db)
            if after == before:
                if key is not None:
                    if len(self._answers) >= ANSWERS:
                        self._answers.clear()
                    self._answers[key] = (after, answer)
                return answer, after
            before = after
        # Projectors kept committing during the query: the answer reflects at least this.
        return query(db), before

    async def owner(self, aggregate_id: str) -> queries.Owner | None:
        """Who owns ``aggregate_id`` (``projections.queries.owner``), as ``read`` with
        ``latest`` gives it. An owner never changes once recorded (``projections/owners.py``), so
        one found is kept and given again without a query, a thread hop or a wait: the check
        of tenancy and scope before every read of one payment costs a dict lookup. An owner not
        found (yet), or a payment whose line's SKPD was not found, is asked again each time."""
        known = self._owners.get(aggregate_id)
        if known is not None:
            self._owners.move_to_end(aggregate_id)
            return known
        found, _ = await self.read(lambda db: queries.owner(db, aggregate_id))
        if found is not None and (found.skpd is not None or found.kind != "Disbursement"):
            self._owners[aggregate_id] = found
            if len(self._owners) > OWNERS:
                self._owners.popitem(last=False)
        return found

    async def read(
        self,
        query: Callable[[ReadDatabase], T],
        *,
        key: Hashable | None = None,
        latest: bool = True,
        after: int | None = None,
    ) -> tuple[T, int]:
        """``query``'s answer and the projection position that answer reflects. ``query`` runs
        in a worker thread; put the CPU work of the answer in it too, to keep it off the event
        loop. With a ``key`` (everything the answer depends on besides the models), the answer is
        kept and given again while the position has not moved; it must then not be changed by
        the caller.

        Which state: with ``latest``, models that include everything recorded before this call
        (usually one thread hop: the follower keeps the models close to the head). Otherwise what
        the models hold now, without waiting for the head and forcing no projection step; with
        ``after``, though, at least up to that position (read-your-writes with a position a write
        returned), waiting for the projection if it is not there yet. A target beyond the log's
        head is a 422 (``position_not_recorded``), never a wait (the follower, woken by the
        waiter, reads the head first and refuses it: ``_refuse_beyond``)."""
        # Without ``latest`` and ``after``: what the models hold now (the follower keeps them
        # within about ``interval``), no wait and no projection step forced by this read.
        upto = 0 if after is None else after
        if not latest and self._reached < upto and self._thread is not None:
            # Read-your-writes of a position the models have not reached: wait first, then one
            # hop to a worker thread for the query, instead of a hop to find out that it must
            # wait and a second one after the wait. The follower reads the log's head before it
            # projects, and answers a waiter whose position is beyond it with the 422 that
            # ``query_at`` gives (``_refuse_beyond``): the head it read is at or after the one at
            # this request's arrival, and a position beyond it was beyond that one too.
            await self._wait_bounded(upto)
        found = await threads.run(self.query_at, query, upto, key, latest)
        if isinstance(found, int):
            await self._wait_bounded(found)
            found = await threads.run(self.query_at, query, found, key)
            if isinstance(found, int):  # cannot happen: the position only moves forward
                raise ProblemError(503, "store_unavailable", "the read models moved back; retry")
        return found


def _not_recorded(target: int, head: int) -> ProblemError:
    return ProblemError(
        422,
        "position_not_recorded",
        f"after={target} is beyond the head of the ledger's log ({head}): use a "
        "position that a write (CommandOut.position) or a report returned",
    )


def _settle(waiter: asyncio.Future[None], problem: BaseException | None) -> None:
    if waiter.done():  # the request was cancelled (the client went away)
        return
    if problem is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(problem)
