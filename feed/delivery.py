"""The dispatcher's state, in tables of its own beside the read models (``projections.feed``
creates them; a rebuild of the read models never drops them):

* ``feed_cursor``: per subscription, the last feed position taken into ``feed_delivery``;
* ``feed_delivery``: per subscription, each event still to deliver (``pending``: attempts so far,
  when to try next, the last error) or given up on (``dead``: a dead letter). A delivered event's
  row is deleted, so an earlier row of the same aggregate is always one not delivered yet: an
  event is due only when no earlier row of its aggregate is left (order per aggregate);
* ``feed_lease``: which dispatcher may send now (one per store, however many processes run one);
* ``feed_action``: who replayed dead letters or rewound a subscriber, and when.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from projections.db import Cursor, ReadDatabase
from projections.feed_queries import Subscription

PENDING, DEAD = "pending", "dead"
ENQUEUE = 500  # feed rows taken into a subscriber's deliveries at a time
MAX_PENDING = 1_000  # a subscriber far behind gets more only as it catches up
LEASE = "dispatcher"


@dataclass(frozen=True, slots=True)
class Due:
    position: int
    aggregate_id: str
    kind: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    position: int
    delivered: bool
    error: str | None = None


def delay(
    attempts: int, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base * 2^(attempts-1)``,
    at most ``cap``, then jittered to between half of it and all of it (receivers that failed
    together do not all come back in the same second)."""
    full = min(cap, base * 2.0 ** max(0, attempts - 1))
    return full / 2 + rng() * full / 2


def _now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), UTC).isoformat(timespec="microseconds")


class Deliveries:
    """Reads and changes of the delivery state, on one read-database connection."""

    def __init__(self, db: ReadDatabase, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # -- the dispatcher ---------------------------------------------------------------------------
    def lease(self, holder: str, ttl: float) -> bool:
        """Take or renew the one dispatcher lease of this store; False while another holds it
        (found by a read: a dispatcher waiting for the lease writes nothing)."""
        now = self.clock()
        with self.db.transaction(write=False) as cursor:
            row = cursor.fetchone("SELECT holder, until FROM feed_lease WHERE name = ?", (LEASE,))
        if row is not None and row[0] != holder and float(row[1]) >= now:
            return False
        with self.db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO feed_lease (name, holder, until) VALUES (?, ?, 0)"
                " ON CONFLICT (name) DO NOTHING",
                (LEASE, holder),
            )
            cursor.execute(
                "UPDATE feed_lease SET holder = ?, until = ?"
                " WHERE name = ? AND (holder = ? OR until < ?)",
                (holder, now + ttl, LEASE, holder, now),
            )
            return cursor.rowcount == 1

    def release(self, holder: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                "UPDATE feed_lease SET until = 0 WHERE name = ? AND holder = ?", (LEASE, holder)
            )

    def enqueue(self, subscription: Subscription) -> int:
        """Take the subscriber's next events from the feed into its deliveries; how many. Looked
        for in a read transaction first: a turn with nothing new writes nothing (on SQLite a
        write takes the one write lock the ledger's writers need too)."""
        kinds = subscription.allowed_kinds
        if not kinds:
            return 0
        with self.db.transaction(write=False) as cursor:
            row = cursor.fetchone(
                "SELECT COUNT(*) FROM feed_delivery WHERE subscription_id = ? AND state = ?",
                (subscription.id, PENDING),
            )
            room = MAX_PENDING - (int(row[0]) if row else 0)
            if room <= 0:
                return 0
            marks = self.db.placeholders(len(kinds))
            found = cursor.fetchall(
                "SELECT position, aggregate_id, kind FROM proj_feed"  # noqa: S608
                f" WHERE pemda = ? AND position > ? AND kind IN ({marks})"
                " ORDER BY position LIMIT ?",
                [subscription.pemda, _cursor(cursor, subscription.id), *kinds, min(room, ENQUEUE)],
            )
        if not found:
            return 0
        now = self.clock()
        with self.db.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO feed_delivery (subscription_id, position, aggregate_id, kind, state,"
                " attempts, next_at) VALUES (?, ?, ?, ?, ?, 0, ?)"
                " ON CONFLICT (subscription_id, position) DO NOTHING",
                [(subscription.id, p, a, k, PENDING, now) for p, a, k in found],
            )
            _set_cursor(cursor, subscription.id, int(found[-1][0]))
        return len(found)

    def forget_disallowed(self, subscription: Subscription) -> None:
        """Drop what the subscriber may no longer hear (its kinds changed); writes only then."""
        kinds = subscription.allowed_kinds or ("",)
        marks = self.db.placeholders(len(kinds))
        where = f" WHERE subscription_id = ? AND kind NOT IN ({marks})"
        params = [subscription.id, *kinds]
        with self.db.transaction(write=False) as cursor:
            found = cursor.fetchone("SELECT 1 FROM feed_delivery" + where + " LIMIT 1", params)  # noqa: S608
            if found is None:
                return
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM feed_delivery" + where, params)  # noqa: S608

    def due(self, subscription_id: str, limit: int) -> list[Due]:
        """The subscriber's events to try now, oldest first: pending, their time come, and no
        earlier event of their aggregate left undelivered (pending or dead)."""
        with self.db.transaction(write=False) as cursor:
            rows = cursor.fetchall(
                "SELECT d.position, d.aggregate_id, d.kind, d.attempts FROM feed_delivery d"
                " WHERE d.subscription_id = ? AND d.state = ? AND d.next_at <= ?"
                " AND NOT EXISTS (SELECT 1 FROM feed_delivery e"
                "  WHERE e.subscription_id = d.subscription_id"
                "  AND e.aggregate_id = d.aggregate_id AND e.position < d.position)"
                " ORDER BY d.position LIMIT ?",
                (subscription_id, PENDING, self.clock(), limit),
            )
        return [Due(int(p), str(a), str(k), int(n)) for p, a, k, n in rows]

    def record(
        self,
        subscription_id: str,
        outcomes: list[Outcome],
        *,
        max_attempts: int,
        wait: Callable[[int], float],
    ) -> None:
        """What happened to each attempt: delivered (gone), failed (tried again after
        ``wait(attempts)`` seconds) or failed for the last time (a dead letter)."""
        if not outcomes:
            return
        now, stamp = self.clock(), _now_iso(self.clock)
        with self.db.transaction() as cursor:
            for outcome in outcomes:
                if outcome.delivered:
                    cursor.execute(
                        "DELETE FROM feed_delivery WHERE subscription_id = ? AND position = ?",
                        (subscription_id, outcome.position),
                    )
                    continue
                row = cursor.fetchone(
                    "SELECT attempts FROM feed_delivery"
                    " WHERE subscription_id = ? AND position = ? AND state = ?",
                    (subscription_id, outcome.position, PENDING),
                )
                if row is None:  # rewound or forgotten meanwhile
                    continue
                attempts = int(row[0]) + 1
                dead = attempts >= max_attempts
                cursor.execute(
                    "UPDATE feed_delivery SET attempts = ?, state = ?, next_at = ?,"
                    " last_error = ?, last_attempt_at = ?, dead_at = ?"
                    " WHERE subscription_id = ? AND position = ?",
                    (
                        attempts,
                        DEAD if dead else PENDING,
                        now + (0 if dead else wait(attempts)),
                        (outcome.error or "")[:500],
                        stamp,
                        stamp if dead else None,
                        subscription_id,
                        outcome.position,
                    ),
                )

    # -- BPKAD ------------------------------------------------------------------------------------
    def status(self, subscription_id: str) -> dict[str, int]:
        with self.db.transaction(write=False) as cursor:
            after = _cursor(cursor, subscription_id)
            counts: dict[str, int] = dict(
                cursor.fetchall(
                    "SELECT state, COUNT(*) FROM feed_delivery WHERE subscription_id = ?"
                    " GROUP BY state",
                    (subscription_id,),
                )
            )
        return {
            "cursor": after,
            "pending": int(counts.get(PENDING, 0)),
            "dead": int(counts.get(DEAD, 0)),
        }

    def dead_letters(
        self, subscription_id: str, *, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        columns = ("position", "aggregate_id", "kind", "attempts", "last_error", "dead_at")
        with self.db.transaction(write=False) as cursor:
            rows = cursor.fetchall(
                f"SELECT {', '.join(columns)} FROM feed_delivery"  # noqa: S608
                " WHERE subscription_id = ? AND state = ? ORDER BY position LIMIT ? OFFSET ?",
                (subscription_id, DEAD, limit, offset),
            )
            total = cursor.fetchone(
                "SELECT COUNT(*) FROM feed_delivery WHERE subscription_id = ? AND state = ?",
                (subscription_id, DEAD),
            )
        return [dict(zip(columns, r, strict=True)) for r in rows], int(total[0]) if total else 0

    def replay(self, subscription_id: str, position: int | None, actor_id: str) -> int:
        """Dead letters (one, or all) to deliver again, now, with their attempts counted anew."""
        only = "" if position is None else " AND position = ?"
        with self.db.transaction() as cursor:
            cursor.execute(
                "UPDATE feed_delivery SET state = ?, attempts = 0, next_at = ?, dead_at = NULL"  # noqa: S608
                f" WHERE subscription_id = ? AND state = ?{only}",
                (
                    PENDING,
                    self.clock(),
                    subscription_id,
                    DEAD,
                    *(() if position is None else (position,)),
                ),
            )
            count = cursor.rowcount
            self._act(
                cursor, subscription_id, actor_id, "replay", {"position": position, "events": count}
            )
        return count

    def rewind(self, subscription_id: str, position: int, actor_id: str) -> None:
        """Deliver again everything after ``position``: the cursor goes back there, and what is
        pending or dead after it is taken anew from the feed."""
        with self.db.transaction() as cursor:
            cursor.execute(
                "DELETE FROM feed_delivery WHERE subscription_id = ? AND position > ?",
                (subscription_id, position),
            )
            _set_cursor(cursor, subscription_id, position)
            self._act(cursor, subscription_id, actor_id, "rewind", {"position": position})

    def _act(
        self, cursor: Cursor, subscription_id: str, actor_id: str, action: str, detail: Any
    ) -> None:
        cursor.execute(
            "INSERT INTO feed_action (subscription_id, at, actor_id, action, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                subscription_id,
                _now_iso(self.clock),
                actor_id,
                action,
                json.dumps(detail, sort_keys=True),
            ),
        )


def _cursor(cursor: Cursor, subscription_id: str) -> int:
    row = cursor.fetchone(
        "SELECT position FROM feed_cursor WHERE subscription_id = ?", (subscription_id,)
    )
    return 0 if row is None else int(row[0])


def _set_cursor(cursor: Cursor, subscription_id: str, position: int) -> None:
    cursor.execute(
        "INSERT INTO feed_cursor (subscription_id, position) VALUES (?, ?)"
        " ON CONFLICT (subscription_id) DO UPDATE SET position = excluded.position",
        (subscription_id, position),
    )
