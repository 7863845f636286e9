"""The unit of work of one batch of commands, and the aggregates kept between batches.

A handler sees only ``UnitOfWork``: fresh aggregates by id, and new ones added. ``BatchWork`` is the
batch's own: every aggregate it read or created, fresh as of this batch, and which of them the running
handler was handed (the only ones it can have changed). ``AggregateCache`` keeps aggregates at their
last recorded version between batches, so a batch reads only the events recorded since.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.errors import DomainError, NotFound
from ledger.receipts import Receipt

A = TypeVar("A", bound=Aggregate)

# Current state of each of these aggregates that exists (``ledger.bulk_reads.load_fresh``).
Loader = Callable[[list[UUID]], dict[UUID, Aggregate]]


class UnitOfWork(Protocol):
    """What a handler may do with the store: read fresh aggregates and add new ones."""

    at: datetime

    def get(self, aggregate_id: UUID, kind: type[A]) -> A: ...

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None: ...

    def add(self, aggregate: Aggregate) -> None: ...

    def exists(self, aggregate_id: UUID) -> bool: ...


@dataclass
class BatchWork:
    """The unit of work of one batch: every aggregate it read or created, fresh as of this batch."""

    load: Loader
    at: datetime
    local: dict[UUID, Aggregate] = field(default_factory=dict)
    absent: set[UUID] = field(default_factory=set)
    # Aggregates handed to the running handler (the only ones it can have changed), each with the
    # number of events it already held then: earlier commands of the batch may have left some.
    touched: dict[UUID, tuple[Aggregate, int]] = field(default_factory=dict)
    # The receipts of the commands run so far (``ledger.receipts.receipt_event``), by id: stored
    # with the batch, and found by a retry of the same command later in the batch.
    receipts: dict[UUID, Receipt] = field(default_factory=dict)

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        wanted = [
            i for i in dict.fromkeys(aggregate_ids) if i not in self.local and i not in self.absent
        ]
        if wanted:
            found = self.load(wanted)
            self.local.update(found)
            self.absent.update(i for i in wanted if i not in found)

    def loaded(self, aggregate_id: UUID) -> Aggregate | None:
        """An aggregate already read, without handing it to a handler (for prefetch rounds)."""
        return self.local.get(aggregate_id)

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        if aggregate_id not in self.local and aggregate_id not in self.absent:
            self.prefetch([aggregate_id])
        found = self.local.get(aggregate_id)
        if found is None:
            return None
        self.touched.setdefault(aggregate_id, (found, len(found.pending_events)))
        if not isinstance(found, kind):
            raise NotFound(f"{aggregate_id} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        found = self.find(aggregate_id, kind)
        if found is None:
            raise NotFound(f"no {kind.__name__} {aggregate_id}")
        return found

    def exists(self, aggregate_id: UUID) -> bool:
        return self.find(aggregate_id, Aggregate) is not None

    def add(self, aggregate: Aggregate) -> None:
        if aggregate.id in self.local:
            raise DomainError(f"{type(aggregate).__name__} {aggregate.id} exists already")
        self.local[aggregate.id] = aggregate
        self.absent.discard(aggregate.id)
        self.touched[aggregate.id] = (aggregate, 0)  # a new aggregate is all change

    def pending(self) -> int:
        """Events triggered on aggregates handed out since the last ``touched`` reset."""
        return sum(len(a.pending_events) - held for a, held in self.touched.values())

    def changed(self) -> list[Aggregate]:
        """Every aggregate of the batch with events to record."""
        return [a for a in self.local.values() if a.pending_events]


class AggregateCache:
    """Aggregates at their last recorded version, LRU-bounded. A unit of work takes an entry out
    (and fast-forwards it from the store); it comes back only if the batch was recorded."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Aggregate] = OrderedDict()

    def take(self, aggregate_id: UUID) -> Aggregate | None:
        return self._items.pop(aggregate_id, None)

    def put(self, aggregate: Aggregate) -> None:
        if self.maxsize <= 0:
            return
        self._items[aggregate.id] = aggregate
        self._items.move_to_end(aggregate.id)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
