"""``ledger.triggers``: an ``@event`` method taken the short way makes the same event, the same
state and the same version as the library's way, and falls back to it for any other call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, CommandMethodDecorator, event

from ledger.triggers import ShortTrigger, fast_triggers
from tests.stored_bytes import counted_timestamps

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


class LibraryWay(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0

    def add(self, amount: int, note: str = "-") -> None:
        self._added(amount=amount, note=note, actor_id="u", at=AT)

    @event("Added")
    def _added(self, amount: int, note: str, actor_id: str, at: datetime) -> None:
        if amount < 0:
            raise ValueError("a body that raises")
        self.total += amount
        self.note = note

    @event("Noted")
    def noted(self, note: str, flag: bool = False) -> None:
        self.note = f"{note}{flag}"


@fast_triggers
class ShortWay(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0

    def add(self, amount: int, note: str = "-") -> None:
        self._added(amount=amount, note=note, actor_id="u", at=AT)

    @event("Added")
    def _added(self, amount: int, note: str, actor_id: str, at: datetime) -> None:
        if amount < 0:
            raise ValueError("a body that raises")
        self.total += amount
        self.note = note

    @event("Noted")
    def noted(self, note: str, flag: bool = False) -> None:
        self.note = f"{note}{flag}"


def _after(kind: type[Aggregate], calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> Any:
    with counted_timestamps():
        aggregate: Any = kind(name="x")  # type: ignore[call-arg]
        for method, args, kwargs in calls:
            getattr(aggregate, method)(*args, **kwargs)
    events = [(type(e).__name__, vars(e)) for e in aggregate.collect_events()]
    state = {k: v for k, v in vars(aggregate).items() if k not in ("_id", "_pending_events")}
    return events, state


@pytest.mark.parametrize(
    "calls",
    [
        [("add", (5,), {}), ("add", (7,), {"note": "dua"})],
        [("noted", (), {"note": "a", "flag": True})],  # every parameter by keyword: short
        [("noted", ("a",), {})],  # positional: the library's way
        [("noted", (), {"note": "a"})],  # a default left out: the library's way
        [("add", (1,), {}), ("noted", ("b", True), {}), ("add", (2,), {})],
    ],
)
def test_the_short_way_makes_what_the_library_makes(calls: Any) -> None:
    short_events, short_state = _after(ShortWay, calls)
    library_events, library_state = _after(LibraryWay, calls)
    assert [(n, {k: v for k, v in b.items() if k not in ("originator_id", "originator_topic")})
            for n, b in short_events] == [
        (n, {k: v for k, v in b.items() if k not in ("originator_id", "originator_topic")})
        for n, b in library_events
    ]  # fmt: skip
    assert short_state == library_state


def test_a_stray_keyword_is_refused_as_by_the_library() -> None:
    for kind in (LibraryWay, ShortWay):
        aggregate: Any = kind(name="x")
        with pytest.raises(TypeError):
            aggregate.noted(note="a", flag=True, extra=1)
        assert aggregate.version == 1


def test_a_body_that_raises_leaves_no_event_and_no_version() -> None:
    aggregate = ShortWay(name="x")
    with pytest.raises(ValueError, match="a body that raises"):
        aggregate.add(-1)
    assert (aggregate.version, len(aggregate.pending_events)) == (1, 1)  # only its creation


def test_replaying_the_short_ways_events_gives_the_same_aggregate() -> None:
    aggregate = ShortWay(name="x")
    aggregate.add(3)
    aggregate.add(4, note="b")
    events = aggregate.collect_events()
    replayed: Any = None
    for e in events:
        replayed = e.mutate(replayed)
    assert (replayed.total, replayed.note, replayed.version) == (7, "b", 3)
    assert replayed.modified_on == events[-1].timestamp


def test_every_event_method_of_the_ledgers_aggregates_takes_the_short_way() -> None:
    """So that a new aggregate (or a new kind of method) is not left on the slow way unnoticed."""
    import ledger.application  # noqa: F401 - every aggregate imported

    def kinds(cls: type) -> list[type]:
        found: list[type] = []
        subclasses: list[type] = cls.__subclasses__()
        for sub in subclasses:
            found += [sub, *kinds(sub)]
        return found

    slow = {
        f"{cls.__qualname__}.{name}"
        for cls in kinds(Aggregate)
        if cls.__module__.startswith("ledger.")
        for name, value in vars(cls).items()
        if (isinstance(value, CommandMethodDecorator) and name != "__init__")
        or (isinstance(value, ShortTrigger) and value.trigger is None)
    }
    assert not slow, sorted(slow)


def test_a_creation_given_an_id_goes_the_library_way() -> None:
    from uuid import uuid4

    given = uuid4()
    with counted_timestamps():
        short: Any = ShortWay._create(ShortWay.Created, id=given, name="x")
    with counted_timestamps():
        library: Any = LibraryWay._create(LibraryWay.Created, id=given, name="x")
    assert short.id == library.id == given
    assert (
        vars(short.collect_events()[0])["timestamp"]
        == vars(library.collect_events()[0])["timestamp"]
    )


def test_every_aggregate_of_the_ledger_is_created_the_short_way() -> None:
    """``CommandReceipt`` is never created as an aggregate on the write path (receipt_event)."""
    import ledger.application  # noqa: F401 - every aggregate imported

    def kinds(cls: type) -> list[type]:
        found: list[type] = []
        subclasses: list[type] = cls.__subclasses__()
        for sub in subclasses:
            found += [sub, *kinds(sub)]
        return found

    slow = {
        cls.__qualname__
        for cls in kinds(Aggregate)
        if cls.__module__.startswith("ledger.") and "_create" not in vars(cls)
    }
    assert slow == {"CommandReceipt"}
