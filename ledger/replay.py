"""``check_replay``: does every aggregate the ledger works on equal a fresh replay of its events?

The write path keeps aggregates in a cache between batches and advances them with the events it
records (``Ledger._cache``). If a command method and its ``@event`` ever disagreed (the method
changing state the event does not carry), the cached aggregate would drift from what the store
says, and only a process restart would show it. This check makes the drift visible at any time:
each cached aggregate is compared, attribute by attribute, with one rebuilt from the stored events.

``replay_from`` replays from another application's store instead, e.g. a second ``Ledger`` opened
on the same database, which is what a restarted process would see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate

from ledger.application import Ledger

# The events an aggregate has triggered but not yet handed to the store: not part of its state.
_NOT_STATE = frozenset({"_pending_events"})


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    """Everything an aggregate holds, as replay must rebuild it."""
    return {k: v for k, v in vars(aggregate).items() if k not in _NOT_STATE}


@dataclass(frozen=True, slots=True)
class ReplayDifference:
    """One aggregate whose replay does not equal the cached state: which attributes differ
    (``missing``: the store has no events for it at all)."""

    aggregate_id: UUID
    kind: str
    attributes: tuple[str, ...]
    missing: bool = False

    def __str__(self) -> str:
        if self.missing:
            return f"{self.kind} {self.aggregate_id}: not in the store"
        return f"{self.kind} {self.aggregate_id}: {', '.join(self.attributes)} differ"


@dataclass(frozen=True, slots=True)
class ReplayCheck:
    checked: int  # aggregates compared
    differences: tuple[ReplayDifference, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


def check_replay(ledger: Ledger, replay_from: Application[UUID] | None = None) -> ReplayCheck:
    """Compare every aggregate in ``ledger``'s write cache with its replay from the store (of
    ``replay_from`` if given). Holds the write lock, so no batch changes the cache meanwhile."""
    source = ledger if replay_from is None else replay_from
    with ledger._write_lock:
        held = list(ledger._cache._items.values())
        differences = tuple(_differences(held, source))
    return ReplayCheck(checked=len(held), differences=differences)


def _differences(
    held: Iterable[Aggregate], source: Application[UUID]
) -> Iterable[ReplayDifference]:
    for cached in held:
        kind = type(cached).__name__
        try:
            replayed: Aggregate = source.repository.get(cached.id)
        except AggregateNotFoundError:
            yield ReplayDifference(cached.id, kind, (), missing=True)
            continue
        was, now = state_of(cached), state_of(replayed)
        absent = object()  # an attribute only one side has differs, whatever the other holds
        differing = sorted(
            k for k in was.keys() | now.keys() if was.get(k, absent) != now.get(k, absent)
        )
        if type(replayed) is not type(cached):
            differing.insert(0, "type")
        if differing:
            yield ReplayDifference(cached.id, kind, tuple(differing))
