"""A nightly reconciliation as a fact of the ledger.

BPKAD's reconciliation of the RKUD (``reconciliation/``, in Polars) ends by recording what it did:
the business day, a SHA-256 of every input file, the count of lines in each status, and every
exception (a bank line with no ledger record, a payment absent from the bank, an amount mismatch,
a double debit, ...). Each exception is then resolved, one by one, by an authorised user with a
reason. Both are events, so the audit trail of a difference is as permanent as the payment itself.

A run is named by its pemda, day and inputs: recording the same inputs twice collides instead of
doubling the exceptions; a run over corrected files is a new run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.errors import InvalidInput, NotFound
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers

# What may be said of an exception when it is closed.
RESOLUTIONS = frozenset(
    {
        "explained",  # a real, documented reason (e.g. in transit across the cut-off)
        "corrected",  # the ledger or the bank corrected it (the reason names the document)
        "recovered",  # money paid in error came back
        "written_off",  # accepted with the authority named in the reason
        "escalated",  # handed to the inspectorate / APIP: stays an open audit finding elsewhere
    }
)


def inputs_digest(inputs: Iterable[Mapping[str, Any]]) -> str:
    """One digest of a run's inputs, whatever their order: a run's id is derived from it, so the
    same day over the same inputs is recorded once. An input is a file: its kind (bank, gateway,
    ledger, parameters), its name and its SHA-256 all count, so two files with equal bytes (two
    days' empty reports) are two inputs, and the same bytes under another name are another run."""
    keys = sorted(f"{i['kind']}\t{i['name']}\t{i['sha256']}" for i in inputs)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


@fast_triggers
class ReconciliationRun(Aggregate):
    @staticmethod
    def create_id(pemda: str, business_date: str, inputs_digest: str) -> UUID:
        return ids.reconciliation_run_id(pemda, business_date, inputs_digest)

    @classmethod
    def record(
        cls,
        pemda: str,
        business_date: str,
        inputs: list[dict[str, Any]],
        digest: str,
        counts: dict[str, int],
        exceptions: list[dict[str, Any]],
        by: Stamp,
    ) -> ReconciliationRun:
        """A run over ``inputs`` (``digest`` is their ``inputs_digest``, which names the run)."""
        return cls(
            pemda=pemda,
            business_date=business_date,
            inputs=inputs,
            inputs_digest=digest,
            counts=counts,
            exceptions=exceptions,
            **by.recorded(),
        )

    @event("Recorded")
    def __init__(
        self,
        pemda: str,
        business_date: str,
        inputs: list[dict[str, Any]],
        inputs_digest: str,
        counts: dict[str, int],
        exceptions: list[dict[str, Any]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.business_date = business_date
        self.inputs = inputs
        self.counts = counts
        self.exceptions = {e["id"]: e for e in exceptions}
        self.resolved: dict[str, dict[str, str]] = {}

    @property
    def open_exceptions(self) -> list[str]:
        return [i for i in self.exceptions if i not in self.resolved]

    def resolve(self, exception_id: str, resolution: str, reason: str, by: Stamp) -> None:
        if exception_id not in self.exceptions:
            raise NotFound(f"run {self.business_date} has no exception {exception_id!r}")
        if exception_id in self.resolved:
            raise InvalidInput(
                f"exception {exception_id} is already resolved "
                f"({self.resolved[exception_id]['resolution']})"
            )
        if resolution not in RESOLUTIONS:
            raise InvalidInput(
                f"resolution must be one of {', '.join(sorted(RESOLUTIONS))}, got {resolution!r}"
            )
        self._resolved(
            exception_id=exception_id, resolution=resolution, reason=reason, **by.recorded()
        )

    @event("ExceptionResolved")
    def _resolved(
        self,
        exception_id: str,
        resolution: str,
        reason: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.resolved[exception_id] = {
            "resolution": resolution,
            "reason": reason,
            "by": actor_id,
        }
