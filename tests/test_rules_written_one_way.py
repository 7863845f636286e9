"""Every rule is written one way (the ``eventsourcing`` library's documented style), so a new rule
has one obvious home: a public command method of an aggregate checks the aggregate's own rules and
then triggers a private ``@event`` method, whose body only applies the fact (and runs again on
every replay, where a check would be wrong). Every command method and every factory takes the
``Stamp`` of who did it, in which role and when, and every event records it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from eventsourcing.domain import Aggregate, CommandMethodDecorator

from ledger import budget, disbursement, feed, receipts, reconciliation, redflags, revenue, vendor
from ledger.stamp import Stamp

_MODULES = (budget, disbursement, feed, receipts, reconciliation, redflags, revenue, vendor)
_STAMPED = ["actor_id", "actor_role", "at"]


def _aggregates() -> Iterator[type[Aggregate]]:
    for module in _MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Aggregate)
                and value.__module__ == module.__name__
            ):
                yield value


def test_kasda_has_the_aggregates_it_names() -> None:
    names = sorted(a.__name__ for a in _aggregates())
    assert names == [
        "Budget", "BudgetLine", "CommandReceipt", "Disbursement", "DocumentNumber",
        "FeedSubscription", "ReconciliationRun", "RedFlag", "RedFlagRun", "Revenue", "Vendor",
    ]  # fmt: skip


def test_events_are_triggered_by_private_methods_only_and_record_the_stamp() -> None:
    for aggregate in _aggregates():
        for name, value in vars(aggregate).items():
            if not isinstance(value, CommandMethodDecorator):
                continue
            assert name == "__init__" or name.startswith("_"), f"{aggregate.__name__}.{name}"
            parameters = list(inspect.signature(value.decorated_func).parameters)
            assert parameters[-3:] == _STAMPED, f"{aggregate.__name__}.{name}"


def test_every_command_method_and_factory_takes_a_stamp() -> None:
    commands = 0
    for aggregate in _aggregates():
        for name, value in vars(aggregate).items():
            function = value.__func__ if isinstance(value, classmethod) else value
            if name.startswith("_") or not inspect.isfunction(function):
                continue
            signature = inspect.signature(function)
            if name.startswith("check_") or name in ("money", "transfer"):
                assert "by" not in signature.parameters, f"{aggregate.__name__}.{name}"
                continue  # a rule or a reading, never a change
            assert signature.parameters["by"].annotation in (Stamp, "Stamp"), name
            commands += 1
    assert commands >= 30
