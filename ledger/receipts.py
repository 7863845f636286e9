"""Idempotency and uniqueness, enforced by the event store itself.

A ``CommandReceipt`` is written in the same transaction as a command's effects, with an id derived from
the pemda and the idempotency key. A retried command finds the receipt and gets the first result back;
two racing attempts collide on the store's unique (id, version) constraint, so at most one of them is
ever recorded. ``DocumentNumber`` claims an SPM or SP2D number the same way, so a number is issued once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.stamp import Stamp


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
