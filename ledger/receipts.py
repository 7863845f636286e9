"""Idempotency and uniqueness, enforced by the event store itself.

A ``CommandReceipt`` is written in the same transaction as a command's effects, with an id derived from
the pemda and the idempotency key. A retried command finds the receipt and gets the first result back;
two racing attempts collide on the store's unique (id, version) constraint, so at most one of them is
ever recorded. ``DocumentNumber`` claims an SPM or SP2D number the same way, so a number is issued once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from ledger import ids
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers


class CommandReceipt(Aggregate):
    @staticmethod
    def create_id(pemda: str, idempotency_key: str) -> UUID:
        return ids.receipt_id(pemda, idempotency_key)

    @classmethod
    def record(
        cls,
        pemda: str,
        idempotency_key: str,
        command: str,
        fingerprint: str,
        result: dict[str, Any],
        by: Stamp,
    ) -> CommandReceipt:
        return cls(
            pemda=pemda,
            idempotency_key=idempotency_key,
            command=command,
            fingerprint=fingerprint,
            result=result,
            **by.recorded(),
        )

    @event("Recorded")
    def __init__(
        self,
        pemda: str,
        idempotency_key: str,
        command: str,
        fingerprint: str,
        result: dict[str, Any],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.idempotency_key = idempotency_key
        self.command = command
        self.fingerprint = fingerprint
        self.result = dict(result)


class Receipt(Protocol):
    """What a retry reads of the receipt of its first run: a stored ``CommandReceipt`` or the
    ``Recorded`` event of one made earlier in the same batch (``receipt_event``)."""

    command: str
    fingerprint: str
    result: dict[str, Any]


_RECEIPT_TOPIC = get_topic(CommandReceipt)


def receipt_event(
    receipt_id: UUID,
    pemda: str,
    idempotency_key: str,
    command: str,
    fingerprint: str,
    result: dict[str, Any],
    by: Stamp,
) -> Any:
    """The one event of ``CommandReceipt.record(...)``, the same attributes in the same order (so
    stored as the same bytes, ``tests/test_stored_bytes.py``), made without the aggregate: a
    receipt is only ever stored, or read back by a retry, so its ``__init__`` (run by the
    library's ``_create`` and ``mutate``) would be work thrown away on every command.
    ``receipt_id`` is ``CommandReceipt.create_id(pemda, idempotency_key)``, known already."""
    recorded: Any = CommandReceipt.Recorded  # type: ignore[attr-defined]  # made by @event
    return recorded(
        originator_id=receipt_id,
        originator_version=CommandReceipt.INITIAL_VERSION,
        timestamp=recorded.create_timestamp(),
        originator_topic=_RECEIPT_TOPIC,
        pemda=pemda,
        idempotency_key=idempotency_key,
        command=command,
        fingerprint=fingerprint,
        result=result,
        **by.recorded(),
    )


@fast_triggers
class DocumentNumber(Aggregate):
    """Claims one SPM or SP2D number of a pemda and fiscal year for one disbursement."""

    @staticmethod
    def create_id(pemda: str, year: int, kind: str, number: str) -> UUID:
        return ids.document_number_id(pemda, year, kind, number)

    @classmethod
    def claim(
        cls, pemda: str, year: int, kind: str, number: str, disbursement_id: UUID, by: Stamp
    ) -> DocumentNumber:
        return cls(
            pemda=pemda,
            year=year,
            kind=kind,
            number=number,
            disbursement_id=str(disbursement_id),
            **by.recorded(),
        )

    @event("Claimed")
    def __init__(
        self,
        pemda: str,
        year: int,
        kind: str,
        number: str,
        disbursement_id: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.kind = kind
        self.number = number
        self.disbursement_id = disbursement_id
