"""Reads of the event feed (``projections.feed``): a pemda's subscriptions, one subscription, and
the feed itself by position for a subscriber's pemda and kinds. The API's routes, the pull route
and the dispatcher (``feed/``) read the feed through these, never through the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ledger.feed import FEED_KINDS, matches
from projections.db import ReadDatabase
from projections.queries import Listing

SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "pemda",
    "name",
    "url",
    "kinds",
    "state",
    "rotation",
    "created_at",
    "created_by",
    "changed_at",
    "changed_by",
    "version",
    "position",
)
FEED_COLUMNS = ("position", "pemda", "aggregate_id", "version", "kind", "at", "detail")


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription as the read model holds it."""

    id: str
    pemda: str
    name: str
    url: str
    kinds: tuple[str, ...]
    state: str
    rotation: int
    created_at: str
    created_by: str
    changed_at: str
    changed_by: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> Subscription:
        return cls(
            id=row["subscription_id"],
            pemda=row["pemda"],
            name=row["name"],
            url=row["url"],
            kinds=tuple(json.loads(row["kinds"])),
            state=row["state"],
            rotation=int(row["rotation"]),
            created_at=row["created_at"],
            created_by=row["created_by"],
            changed_at=row["changed_at"],
            changed_by=row["changed_by"],
        )

    def allows(self, kind: str) -> bool:
        return matches(self.kinds, kind)

    @property
    def allowed_kinds(self) -> tuple[str, ...]:
        """Every kind its patterns allow, by name."""
        return tuple(k for k in FEED_KINDS if self.allows(k))


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event of the feed: where it is in the log and its public data."""

    position: int
    pemda: str
    aggregate_id: str
    version: int
    kind: str
    at: str  # UTC, ISO 8601
    data: dict[str, Any]


def _subscriptions(db: ReadDatabase, where: str, params: list[Any]) -> list[Subscription]:
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM proj_feed_subscription "  # noqa: S608
            f"WHERE {where} ORDER BY position",
            params,
        )
    return [Subscription.of(dict(zip(SUBSCRIPTION_COLUMNS, r, strict=True))) for r in rows]


def subscriptions(db: ReadDatabase, pemda: str, *, limit: int, offset: int) -> Listing:
    """A pemda's subscriptions (deleted ones too: the record says who deleted them), in the order
    they were made."""
    found = _subscriptions(db, "pemda = ?", [pemda])
    chosen = found[offset : offset + limit]
    return Listing([{"subscription": s} for s in chosen], len(found))


def subscription(db: ReadDatabase, pemda: str, subscription_id: str) -> Subscription | None:
    found = _subscriptions(db, "pemda = ? AND subscription_id = ?", [pemda, subscription_id])
    return found[0] if found else None


def live_subscriptions(db: ReadDatabase) -> list[Subscription]:
    """Every subscription not deleted, of every pemda: what the dispatcher serves."""
    return _subscriptions(db, "state <> ?", ["deleted"])


def feed(
    db: ReadDatabase, pemda: str, kinds: tuple[str, ...], *, after: int, limit: int
) -> list[FeedEvent]:
    """The events of ``pemda`` after position ``after`` whose kind is one of ``kinds`` (names, not
    patterns), oldest first, at most ``limit``."""
    if not kinds:
        return []
    marks = db.placeholders(len(kinds))
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(FEED_COLUMNS)} FROM proj_feed "  # noqa: S608
            f"WHERE pemda = ? AND position > ? AND kind IN ({marks}) ORDER BY position LIMIT ?",
            [pemda, after, *kinds, limit],
        )
    return [_event(row) for row in db.sealer.opened(FEED_COLUMNS, rows)]


def feed_events(db: ReadDatabase, positions: list[int]) -> dict[int, FeedEvent]:
    """The feed's events at ``positions`` (those the read model holds now)."""
    found: dict[int, FeedEvent] = {}
    for start in range(0, len(positions), 500):
        chunk = positions[start : start + 500]
        marks = db.placeholders(len(chunk))
        with db.transaction(write=False) as cursor:
            rows = cursor.fetchall(
                f"SELECT {', '.join(FEED_COLUMNS)} FROM proj_feed "  # noqa: S608
                f"WHERE position IN ({marks})",
                chunk,
            )
        found.update((e.position, e) for e in map(_event, db.sealer.opened(FEED_COLUMNS, rows)))
    return found


def _event(row: dict[str, Any]) -> FeedEvent:
    return FeedEvent(
        position=int(row["position"]),
        pemda=row["pemda"],
        aggregate_id=row["aggregate_id"],
        version=int(row["version"]),
        kind=row["kind"],
        at=row["at"],
        data=json.loads(row["detail"]),
    )
