"""Audit: verify the hash chain, and export this pemda's history page by page.

The hash chain covers the whole store (every pemda of the deployment), so ``verify`` reports only
counts, the head and where the first problem is, never another pemda's ids or data. The export lists
only the events of this pemda's aggregates, with their positions; the complete offline-verifiable
export of the whole store stays an operator's command (``kasda export``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api import auth
from api.auth import Principal
from api.deps import CatalogDep, LedgerDep
from api.models import ExportEventOut, ExportPageOut, VerifyOut
from api.problems import responses
from ledger.verify import verify

router = APIRouter(prefix="/pemda/{pemda}", tags=["audit"], responses=responses(401, 403, 404, 422))

Auditor = Annotated[Principal, Depends(auth.READ_AUDIT)]
MAX_SCAN = 20_000  # notifications read per export page, at most
_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


@router.get(
    "/verify",
    summary="Check the hash chain of the whole store (no other pemda's data is shown)",
    openapi_extra=auth.READ_AUDIT.doc,
)
def verify_chain(who: Auditor, ledger: LedgerDep) -> VerifyOut:
    report = verify(ledger)
    return VerifyOut(
        ok=report.ok,
        events=report.events,
        head_position=report.head_position,
        head_hash=report.head_hash,
        checkpoints=report.checkpoints,
        seconds=report.seconds,
        problem_position=report.problem.position if report.problem else None,
        problem=report.problem.what if report.problem else None,
    )


@router.get(
    "/export/events",
    summary="This pemda's events in store order, a page at a time",
    openapi_extra=auth.READ_AUDIT.doc,
)
def export_events(
    who: Auditor,
    ledger: LedgerDep,
    catalog: CatalogDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="last position already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000, description="events per page")] = 500,
) -> ExportPageOut:
    # Only events up to what the catalog has seen: their aggregates' owners are all known.
    end = catalog.position
    items: list[ExportEventOut] = []
    position = after
    scanned = 0
    while len(items) < limit and scanned < MAX_SCAN and position < end:
        chunk = ledger.recorder.select_notifications(
            start=position + 1, limit=min(1_000, MAX_SCAN - scanned), stop=end
        )
        if not chunk:
            break
        for notification in chunk:
            position = notification.id
            scanned += 1
            originator = _uuid(notification.originator_id)
            owner = catalog.owner(originator)
            if owner is None or owner.pemda != who.pemda:
                continue
            event: Any = ledger.mapper.to_domain_event(notification)
            items.append(
                ExportEventOut(
                    position=notification.id,
                    aggregate_id=originator,
                    aggregate_type=owner.kind,
                    event=type(event).__name__,
                    version=notification.originator_version,
                    body={k: v for k, v in vars(event).items() if k not in _ENVELOPE},
                )
            )
            if len(items) == limit:
                break
    return ExportPageOut(items=items, after=after, next_after=position if position < end else None)


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
