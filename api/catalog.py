"""A small in-process index of what the list routes list: disbursements, vendors and reconciliation
runs per pemda, and which pemda owns every aggregate (for the export route).

It follows the ledger's notification log (the gap-free application sequence) and catches up before
every read, so a list always includes what was recorded before the request, by any worker. Only
creation events are decoded; later facts of a disbursement or vendor are read from their topic.
The index is rebuilt from the log at start-up; it holds a few small values per aggregate.

The projections (``projections/``, served by ``api/readmodels.py``) hold the richer read models (LRA,
statements, cash, queues); this index only serves the API's own lists.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.application import Ledger

PAGE = 5_000

_STATUS_OF_EVENT = {
    "Disbursement.Requested": "requested",
    "Disbursement.Verified": "verified",
    "Disbursement.Approved": "approved",
    "Disbursement.Authorised": "authorised",
    "Disbursement.Sent": "sent",
    "Disbursement.Settled": "settled",
    "Disbursement.Failed": "failed",
    "Disbursement.Returned": "returned",
    "Disbursement.Rejected": "rejected",
    "Disbursement.Cancelled": "cancelled",
}


@dataclass(frozen=True, slots=True)
class DisbursementRow:
    id: UUID
    pemda: str
    year: int
    spp_number: str
    status: str
    line_id: UUID
    skpd: str
    vendor_id: UUID
    gross: int
    net: int
    requested_at: datetime
    position: int  # notification id of the request: the list order


@dataclass(frozen=True, slots=True)
class VendorRow:
    id: UUID
    pemda: str
    npwp: str
    name: str
    kind: str
    active: bool
    position: int


@dataclass(frozen=True, slots=True)
class RunRow:
    """A reconciliation run: what its list shows without loading the aggregate."""

    id: UUID
    pemda: str
    business_date: str
    exceptions: int
    resolved: int
    recorded_at: datetime
    recorded_by: str
    position: int

    @property
    def open(self) -> int:
        return self.exceptions - self.resolved


@dataclass(frozen=True, slots=True)
class Owned:
    """An aggregate's pemda and type."""

    pemda: str
    kind: str


@dataclass
class Catalog:
    ledger: Ledger
    position: int = 0
    owners: dict[UUID, Owned] = field(default_factory=dict)
    disbursements: dict[str, dict[UUID, DisbursementRow]] = field(default_factory=dict)
    vendors: dict[str, dict[UUID, VendorRow]] = field(default_factory=dict)
    skpd_of_line: dict[UUID, str] = field(default_factory=dict)
    runs: dict[str, dict[UUID, RunRow]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def catch_up(self) -> int:
        """Read every notification recorded since the last call; the position reached."""
        with self._lock:
            while True:
                page = self.ledger.recorder.select_notifications(
                    start=self.position + 1, limit=PAGE
                )
                for notification in page:
                    self._apply(notification)
                    self.position = notification.id
                if len(page) < PAGE:
                    return self.position

    def _apply(self, notification: Any) -> None:
        name = notification.topic.rsplit(":", 1)[-1]
        originator = _uuid(notification.originator_id)
        if notification.originator_version == 1:
            event = self.ledger.mapper.to_domain_event(notification)
            pemda = getattr(event, "pemda", None)
            if isinstance(pemda, str):
                self.owners[originator] = Owned(pemda, name.split(".", 1)[0])
            self._created(name, originator, event, notification.id)
        if name.startswith("Disbursement.") and name != "Disbursement.Requested":
            self._disbursement_moved(originator, _STATUS_OF_EVENT.get(name))
        elif name in ("Vendor.Deactivated", "Vendor.Reactivated"):
            self._vendor_active(originator, name == "Vendor.Reactivated")
        elif name == "ReconciliationRun.ExceptionResolved":
            self._run_resolved(originator)

    def _created(self, name: str, originator: UUID, event: Any, position: int) -> None:
        if name == "BudgetLine.Allocated":
            self.skpd_of_line[originator] = event.skpd
        elif name == "Vendor.Registered":
            self.vendors.setdefault(event.pemda, {})[originator] = VendorRow(
                originator, event.pemda, event.npwp, event.name, event.kind, True, position
            )
        elif name == "ReconciliationRun.Recorded":
            self.runs.setdefault(event.pemda, {})[originator] = RunRow(
                id=originator,
                pemda=event.pemda,
                business_date=event.business_date,
                exceptions=len(event.exceptions),
                resolved=0,
                recorded_at=event.at,
                recorded_by=event.actor_id,
                position=position,
            )
        elif name == "Disbursement.Requested":
            line_id = UUID(event.line_id)
            self.disbursements.setdefault(event.pemda, {})[originator] = DisbursementRow(
                id=originator,
                pemda=event.pemda,
                year=event.year,
                spp_number=event.spp_number,
                status="requested",
                line_id=line_id,
                skpd=self.skpd_of_line.get(line_id, ""),
                vendor_id=UUID(event.vendor_id),
                gross=event.gross,
                net=event.net,
                requested_at=event.at,
                position=position,
            )

    def _disbursement_moved(self, originator: UUID, status: str | None) -> None:
        owner = self.owners.get(originator)
        if owner is None or status is None:
            return
        rows = self.disbursements.get(owner.pemda, {})
        row = rows.get(originator)
        if row is not None:
            rows[originator] = replace(row, status=status)

    def _vendor_active(self, originator: UUID, active: bool) -> None:
        owner = self.owners.get(originator)
        if owner is None:
            return
        rows = self.vendors.get(owner.pemda, {})
        row = rows.get(originator)
        if row is not None:
            rows[originator] = replace(row, active=active)

    def _run_resolved(self, originator: UUID) -> None:
        # An exception is resolved at most once (the aggregate refuses a second time), so a
        # count is enough to tell open runs from closed ones.
        owner = self.owners.get(originator)
        if owner is None:
            return
        rows = self.runs.get(owner.pemda, {})
        row = rows.get(originator)
        if row is not None:
            rows[originator] = replace(row, resolved=row.resolved + 1)

    # -- reads (call catch_up first) -----------------------------------------------------------
    def disbursements_of(self, pemda: str) -> list[DisbursementRow]:
        with self._lock:
            return sorted(self.disbursements.get(pemda, {}).values(), key=lambda r: r.position)

    def vendors_of(self, pemda: str) -> list[VendorRow]:
        with self._lock:
            return sorted(self.vendors.get(pemda, {}).values(), key=lambda r: r.position)

    def runs_of(self, pemda: str) -> list[RunRow]:
        with self._lock:
            return sorted(self.runs.get(pemda, {}).values(), key=lambda r: r.position)

    def run(self, pemda: str, run_id: UUID) -> RunRow | None:
        with self._lock:
            return self.runs.get(pemda, {}).get(run_id)

    def npwp_of(self, pemda: str, vendor_id: UUID) -> str | None:
        with self._lock:
            row = self.vendors.get(pemda, {}).get(vendor_id)
            return None if row is None else row.npwp

    def owner(self, aggregate_id: UUID) -> Owned | None:
        with self._lock:
            return self.owners.get(aggregate_id)


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
