"""Assertions shared by the rule tests: a refused command raises exactly its typed error and appends
nothing; reading every event of a store back in recording order."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import DomainError

E = TypeVar("E", bound=DomainError)


def last_notification_id(ledger: Ledger) -> int:
    """The id of the last event recorded in the store (0 while it is empty)."""
    return ledger.recorder.max_notification_id() or 0


def refused(ledger: Ledger, command: c.Command, error: type[E], rule: str) -> E:
    """Execute ``command``; expect exactly ``error`` with ``rule``, and not one event appended."""
    before = last_notification_id(ledger)
    with pytest.raises(error) as caught:
        ledger.execute(command)
    assert type(caught.value) is error, f"expected {error.__name__}, got {caught.value!r}"
    assert caught.value.rule == rule
    assert last_notification_id(ledger) == before, "a refused command appended events"
    return caught.value


def all_events(ledger: Ledger) -> list[Any]:
    """Every event in the store, in recording order."""
    last = last_notification_id(ledger)
    if last == 0:
        return []
    notifications = ledger.recorder.select_notifications(start=1, limit=last)
    return [ledger.mapper.to_domain_event(n) for n in notifications]


def event_names(events: list[Any]) -> list[str]:
    return [type(e).__qualname__ for e in events]
