"""The ``@event`` methods of kasda's aggregates, triggered with fewer of the library's steps.

A private ``@event`` method (``self._verified(**by.recorded())``) is called through the library's
``BoundCommandMethodDecorator``: made anew on every call, it coerces the arguments to keywords
(``_coerce_args_to_kwargs``), filters them for the event class (``filter_kwargs_for_method_params``),
copies them twice (``trigger_event``), constructs the event, and applies it by filtering the event's
attributes again for the method (``DecoratedFuncCaller.apply``): about four times the cost of the
event and the method body themselves, on every event the ledger records.

When a call passes exactly the method's parameters, all by keyword, as kasda's command methods do,
each of those steps hands the same keywords on unchanged. ``fast_triggers`` then does what is left,
in the library's order: the next version, the library's timestamp, the event (the same class, so
the same stored bytes: ``tests/test_stored_bytes.py``), the method body, the aggregate's version
and ``modified_on``, the pending list. Any other call, and any event class whose ``apply`` or
``mutate`` is not the library's own, goes the library's way. Replaying stored events does not come
here: it is the event's ``mutate``, untouched. Creating an aggregate (``Disbursement.request``,
``DocumentNumber.claim``) takes the same kind of short way through the library's ``_create``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import MethodType
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import (
    Aggregate,
    BoundCommandMethodDecorator,
    CanInitAggregate,
    CanMutateAggregate,
    CommandMethodDecorator,
    DecoratedFuncCaller,
    _annotations_mention_id,
    _create_id_param_names,
    _created_event_classes,
    _init_mentions_id,
    decorated_func_callers,
)
from eventsourcing.utils import get_topic

A = TypeVar("A", bound=type[Aggregate])

# The only ``apply`` and ``mutate`` an event class may inherit for the short way to be the same.
_LIBRARY_STEPS = {
    "apply": {DecoratedFuncCaller.__dict__["apply"], CanMutateAggregate.__dict__["apply"]},
    "mutate": {CanMutateAggregate.__dict__["mutate"]},
}
# ... and for an aggregate's creation event.
_LIBRARY_CREATION = {
    "apply": {CanMutateAggregate.__dict__["apply"]},
    "mutate": {CanInitAggregate.__dict__["mutate"], CanMutateAggregate.__dict__["mutate"]},
}
_SET_BY_THE_LIBRARY = {"originator_id", "originator_version", "timestamp", "originator_topic", "id"}


def fast_triggers(aggregate_class: A) -> A:
    """Class decorator: every ``@event`` command method of ``aggregate_class`` takes the short
    way when it can (see the module)."""
    if getattr(aggregate_class, "TOPIC", None) or (
        aggregate_class.trigger_event is not Aggregate.trigger_event
    ):
        return aggregate_class
    for name, attribute in list(vars(aggregate_class).items()):
        if type(attribute) is not CommandMethodDecorator or attribute.decorated_property:
            continue
        event_class = decorated_func_callers.get(attribute)
        if event_class is not None and _library_steps_only(event_class, _LIBRARY_STEPS):
            setattr(aggregate_class, name, ShortTrigger(attribute, event_class))
    _short_creation(aggregate_class)
    return aggregate_class


def _library_steps_only(event_class: type, steps: dict[str, set[Any]]) -> bool:
    return all(
        step not in cls.__dict__ or cls.__dict__[step] in allowed
        for cls in event_class.__mro__
        for step, allowed in steps.items()
    )


def _short_creation(aggregate_class: Any) -> None:
    """``aggregate_class(**kwargs)`` the short way too: the library's ``_create`` (and the creation
    event's ``mutate``) when every parameter of ``__init__`` is given by keyword and no ``id``:
    ``create_id``, the library's timestamp, the event, ``__base_init__``, the ``__init__`` body,
    the pending list, in the library's order. Anything else goes the library's way."""
    created = _created_event_classes.get(aggregate_class, [])
    if (
        len(created) != 1
        or not _library_steps_only(created[0], _LIBRARY_CREATION)
        or aggregate_class in _init_mentions_id
        or aggregate_class in _annotations_mention_id
    ):
        return
    creation: Any = created[0]
    init = aggregate_class.__init__
    names = [n for n in inspect.signature(init).parameters if n != "self"]
    if _SET_BY_THE_LIBRARY & set(names):
        return
    expected = frozenset(names)
    id_names = tuple(_create_id_param_names[aggregate_class])
    topic = get_topic(aggregate_class)
    library_create = aggregate_class._create.__func__

    def _create(cls: Any, /, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        if (
            cls is not aggregate_class
            or event_class is not creation
            or id is not None
            or (kwargs.keys() != expected)
        ):
            return library_create(cls, event_class, id=id, **kwargs)
        originator_id = cls.create_id(**{k: kwargs[k] for k in id_names})
        if not isinstance(originator_id, (UUID, str)):  # the library's error
            return library_create(cls, event_class, **kwargs)
        event = event_class(
            originator_id=originator_id,
            originator_version=cls.INITIAL_VERSION,
            timestamp=event_class.create_timestamp(),
            originator_topic=topic,
            **kwargs,
        )
        aggregate = cls.__new__(cls)
        aggregate.__base_init__(
            originator_id=originator_id,
            originator_version=event.originator_version,
            timestamp=event.timestamp,
        )
        init(aggregate, **kwargs)
        aggregate._pending_events.append(event)
        return aggregate

    aggregate_class._create = classmethod(_create)


class ShortTrigger:
    """Stands in for the library's ``CommandMethodDecorator`` of one method on its class."""

    def __init__(self, decorator: CommandMethodDecorator, event_class: Any) -> None:
        self.decorator = decorator
        method = decorator.decorated_func
        parameters = inspect.signature(method).parameters
        names = [n for n in parameters if n != "self"]
        keywords_only = all(
            parameters[n].kind in (parameters[n].POSITIONAL_OR_KEYWORD, parameters[n].KEYWORD_ONLY)
            for n in names
        )
        self.trigger = (
            _short(decorator, event_class, method, frozenset(names))
            if keywords_only and not _SET_BY_THE_LIBRARY & set(names)
            else None
        )

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None or self.trigger is None:
            return self.decorator.__get__(instance, owner)
        return MethodType(self.trigger, instance)


def _short(
    decorator: CommandMethodDecorator,
    event_class: Any,
    method: Callable[..., None],
    names: frozenset[str],
) -> Callable[..., None]:
    create_timestamp = event_class.create_timestamp

    def trigger(aggregate: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs.keys() != names:  # positional, a default left out, or a stray name
            BoundCommandMethodDecorator(decorator, aggregate)(*args, **kwargs)
            return
        event = event_class(
            originator_id=aggregate.id,
            originator_version=aggregate.version + 1,
            timestamp=create_timestamp(),
            **kwargs,
        )
        method(aggregate, **kwargs)  # the body, as DecoratedFuncCaller.apply calls it
        aggregate.version = event.originator_version
        aggregate.modified_on = event.timestamp
        aggregate._pending_events.append(event)

    return trigger
