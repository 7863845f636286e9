"""Time travel: the state of any aggregate, or of a whole budget, as of a past moment or position;
and the who-did-what-when history of one disbursement.

"As of" a moment means as of the ledger clock's ``at`` recorded in every event (the business time of
the fact). An aggregate's events are replayed in version order up to the last one at or before the
moment; a later event and everything after it in that aggregate are left out, so the result is always
a state the aggregate really had. "As of" a position means every event up to and including that
notification id of the application sequence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import ids
from ledger.application import Ledger
from ledger.budget import Budget, BudgetLine
from ledger.disbursement import Disbursement
from ledger.errors import InvalidInput, NotFound

A = TypeVar("A", bound=Aggregate)

_PAGE = 5_000
# Attributes every event carries that a history line shows in its own columns.
_ENVELOPE = {"originator_id", "originator_version", "timestamp", "actor_id", "actor_role", "at"}


def _check(as_of: datetime | None, position: int | None) -> None:
    if (as_of is None) == (position is None):
        raise InvalidInput("give exactly one of as_of (a moment) or position (a notification id)")
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-06-30T23:59:59+07:00")
    if position is not None and (type(position) is not int or position < 0):
        raise InvalidInput("position must be a non-negative integer")


def _events(ledger: Ledger, position: int | None) -> Iterator[Any]:
    """Every stored event in application order, up to ``position`` if given."""
    start = 1
    stop = position if position is not None else None
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=_PAGE, stop=stop)
        for notification in page:
            yield ledger.mapper.to_domain_event(notification)
        if len(page) < _PAGE:
            return
        start = page[-1].id + 1


def replay(
    ledger: Ledger, *, as_of: datetime | None = None, position: int | None = None
) -> dict[UUID, Aggregate]:
    """Every aggregate of the store as it was at ``as_of`` or after ``position``."""
    _check(as_of, position)
    state: dict[UUID, Any] = {}
    frozen: set[UUID] = set()
    for event in _events(ledger, position):
        aggregate_id = event.originator_id
        if aggregate_id in frozen:
            continue
        if as_of is not None and event.at > as_of:
            frozen.add(aggregate_id)
            continue
        state[aggregate_id] = event.mutate(state.get(aggregate_id))
    return state


def aggregate_as_of(
    ledger: Ledger,
    aggregate_id: UUID,
    kind: type[A],
    *,
    as_of: datetime | None = None,
    position: int | None = None,
) -> A:
    """One aggregate as it was then. Raises ``NotFound`` if it did not exist yet."""
    _check(as_of, position)
    if position is not None:
        found = replay(ledger, position=position).get(aggregate_id)
    else:
        found = None
        for event in ledger.events.get(aggregate_id):
            if event.at > as_of:  # type: ignore[attr-defined]
                break
            found = event.mutate(found)  # type: ignore[attr-defined]
    if found is None:
        raise NotFound(f"no {kind.__name__} {aggregate_id} as of {as_of or position}")
    if not isinstance(found, kind):
        raise NotFound(f"{aggregate_id} is not a {kind.__name__}")
    return found


@dataclass(frozen=True, slots=True)
class BudgetAsOf:
    budget: Budget
    lines: list[BudgetLine]
    disbursements: list[Disbursement]


def budget_as_of(
    ledger: Ledger,
    pemda: str,
    year: int,
    *,
    as_of: datetime | None = None,
    position: int | None = None,
) -> BudgetAsOf:
    """The whole APBD of one pemda and year, its lines and its disbursements, as they were then."""
    state = replay(ledger, as_of=as_of, position=position)
    budget = state.get(ids.budget_id(pemda, year))
    if not isinstance(budget, Budget):
        raise NotFound(f"APBD {year} of pemda {pemda} was not adopted as of {as_of or position}")
    # Between Budget.Adopted and its lines' Allocated events (positions inside one adoption, or a
    # moment when only some lines were recorded) a line id may not exist yet: leave it out.
    lines = [state.get(UUID(i)) for i in budget.line_ids]
    disbursements = [
        a
        for a in state.values()
        if isinstance(a, Disbursement) and a.pemda == pemda and a.year == year
    ]
    return BudgetAsOf(
        budget, [line for line in lines if isinstance(line, BudgetLine)], disbursements
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One fact in the life of an aggregate: what, when, by whom, and what it said."""

    version: int
    event: str
    at: datetime
    actor_id: str
    actor_role: str
    details: dict[str, Any]


def history(ledger: Ledger, aggregate_id: UUID) -> list[HistoryEntry]:
    """Every event of one aggregate, in order, with its actor and (for rejections) its reason."""
    entries = [
        HistoryEntry(
            version=event.originator_version,
            event=type(event).__name__,
            at=event.at,  # type: ignore[attr-defined]
            actor_id=event.actor_id,  # type: ignore[attr-defined]
            actor_role=event.actor_role,  # type: ignore[attr-defined]
            details={k: v for k, v in vars(event).items() if k not in _ENVELOPE},
        )
        for event in ledger.events.get(aggregate_id)
    ]
    if not entries:
        raise NotFound(f"nothing was ever recorded for {aggregate_id}")
    return entries
