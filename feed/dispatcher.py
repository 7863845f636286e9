"""The dispatcher: posts the feed's events to every active subscriber, at least once, in log order
per aggregate, signed.

One loop (a thread of the API process, started in its lifespan, or ``kasda feed-dispatch``) holds
the store's dispatcher lease (``feed.delivery``), so however many workers run one, one sends. Each
turn it takes every active subscriber's new events from the feed (``proj_feed``, a read model:
the ledger's write path is never touched), and for each subscriber not busy hands up to ``batch``
due events to a worker thread, which posts them one after another (``timeout`` bounds every
connect, send and read). A 2xx is delivered; anything else, or no answer in time, is a failed
attempt: that aggregate's later events in the batch wait, the others go on. The loop records the
outcomes: a failure is tried again after an exponential, jittered wait (``feed.delivery.delay``),
and after ``max_attempts`` it is a dead letter, which holds back its aggregate's later events for
that subscriber until BPKAD replays it (or rewinds past it).

Database work happens on the loop's thread only (one read-database connection); worker threads
only speak HTTP. A failing database makes the loop back off and try again
(``ledger.connections.Backoff``); stopping waits for at most one delivery per worker.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import uuid4

import httpx
import psycopg
from eventsourcing.persistence import PersistenceError

from feed import events, signing
from feed.delivery import Deliveries, Due, Outcome, delay
from feed.settings import FeedSettings
from ledger.application import Ledger
from ledger.connections import Backoff
from ledger.feed import ACTIVE
from projections.db import ReadDatabase
from projections.feed_queries import FeedEvent, Subscription, feed_events, live_subscriptions

log = logging.getLogger(__name__)

WORKERS = 8  # subscribers served at once
USER_AGENT = "kasda-feed/1"


class Dispatcher:
    def __init__(
        self,
        ledger: Ledger,
        settings: FeedSettings,
        *,
        catch_up: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.db = ReadDatabase(ledger)  # the loop's own connection
        self.deliveries = Deliveries(self.db, clock)
        self.catch_up = catch_up  # a worker without the API's projector keeps the models current
        self.clock = clock
        self.holder = uuid4().hex
        self.lease_ttl = max(10.0, 10 * settings.interval)
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="kasda-feed")
        self.busy: dict[str, Future[list[Outcome]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renew_at = 0.0  # when the lease is to be renewed (0: not held)

    # -- one turn ---------------------------------------------------------------------------------
    def tick(self) -> int:
        """One turn of the loop; how many events it handed to workers (0 without the lease)."""
        self.collect()
        if self.catch_up is not None:
            self.catch_up()
        subscriptions = live_subscriptions(self.db)
        if not subscriptions or not self._leased():
            return 0  # nobody to serve (nothing written), or another dispatcher serves them
        started = 0
        for subscription in subscriptions:
            if subscription.id in self.busy:
                continue
            self.deliveries.forget_disallowed(subscription)
            if subscription.state != ACTIVE:
                continue
            self.deliveries.enqueue(subscription)
            due = self.deliveries.due(subscription.id, self.settings.batch)
            if not due:
                continue
            found = feed_events(self.db, [d.position for d in due])
            self.busy[subscription.id] = self.pool.submit(self._send, subscription, due, found)
            started += len(due)
        return started

    def _leased(self) -> bool:
        """Whether this dispatcher holds the lease; renewed a third of its time before it ends,
        not every turn (a renewal is a write)."""
        now = self.clock()
        if now < self._renew_at:
            return True
        if not self.deliveries.lease(self.holder, self.lease_ttl):
            self._renew_at = 0.0
            return False
        self._renew_at = now + self.lease_ttl / 3
        return True

    def collect(self, *, wait: bool = False) -> None:
        """Record the outcomes of the workers that finished (all of them, with ``wait``)."""
        for subscription_id, future in list(self.busy.items()):
            if not wait and not future.done():
                continue
            del self.busy[subscription_id]
            try:
                outcomes = future.result()
            except Exception:  # a bug in a worker: its events stay pending and go again
                log.exception("feed: a delivery worker failed")
                continue
            self.deliveries.record(
                subscription_id,
                outcomes,
                max_attempts=self.settings.max_attempts,
                wait=self._wait,
            )

    def _wait(self, attempts: int) -> float:
        return delay(attempts, self.settings.backoff, self.settings.backoff_max)

    # -- a worker ---------------------------------------------------------------------------------
    def _send(
        self, subscription: Subscription, due: list[Due], found: dict[int, FeedEvent]
    ) -> list[Outcome]:
        secret = signing.secret(self.settings.key, subscription.id, subscription.rotation)
        failed: set[str] = set()  # aggregates whose earlier event failed in this batch
        outcomes: list[Outcome] = []
        for item in due:
            if self._stop.is_set():
                break
            event = found.get(item.position)
            if item.aggregate_id in failed or event is None:  # held back; or being rebuilt
                continue
            outcome = self._post(subscription.url, secret, event)
            if not outcome.delivered:
                failed.add(item.aggregate_id)
            outcomes.append(outcome)
        return outcomes

    def _post(self, url: str, secret: str, event: FeedEvent) -> Outcome:
        body = events.body(event)
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": events.CONTENT_TYPE,
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
        }
        try:
            # Only the status matters: the answer's body is never read, so a receiver that
            # trickles a long body cannot stretch an attempt past the timeouts of the head.
            with self.client.stream("POST", url, content=body, headers=headers) as answer:
                status = answer.status_code
        except httpx.HTTPError as error:
            return Outcome(event.position, False, f"{type(error).__name__}: {error}")
        if 200 <= status < 300:
            return Outcome(event.position, True)
        return Outcome(event.position, False, f"HTTP {status}")

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        """Turn until ``stop``; a database that fails is tried again after a growing wait."""
        backoff = Backoff()
        while not self._stop.is_set():
            try:
                self.tick()
                backoff.reset()
                self._stop.wait(self.settings.interval)
            except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as error:
                wait = backoff.next()
                log.warning("feed dispatcher: %s; trying again in %.1f s", error, wait)
                self._stop.wait(wait)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="kasda-feed-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop, let each worker finish the delivery it is in, record, and close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.timeout + self.settings.interval + 5)
        self.pool.shutdown(wait=True)
        try:
            self.collect(wait=True)
            self.deliveries.release(self.holder)
        except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as error:
            log.warning("feed dispatcher: stopping: %s", error)
        self.client.close()
        self.db.close()
