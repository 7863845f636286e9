"""Audit: verify the hash chain, and export this pemda's history page by page.

The hash chain covers the whole store (every pemda of the deployment), so ``verify`` reports only
counts, the head and where the first problem is, never another pemda's ids or data. The export lists
only the events of this pemda's aggregates (who owns each: the read models' ``proj_owner``), with
their positions; the complete offline-verifiable
export of the whole store stays an operator's command (``kasda export``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query, Response

from api import auth
from api.auth import Principal
from api.deps import LedgerDep, ReadModelsDep, read
from api.models import ExportEventOut, ExportPageOut, VerifyOut
from api.problems import responses
from api.routing import AreaRouter
from ledger.application import Ledger
from ledger.verify import verify
from projections import queries as q
from projections.db import ReadDatabase

router = AreaRouter(
    prefix="/pemda/{pemda}", tags=["audit"], responses=responses(401, 403, 404, 422)
)

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
async def export_events(
    who: Auditor,
    ledger: LedgerDep,
    models: ReadModelsDep,
    response: Response,
    after: Annotated[int, Query(ge=0, le=2**62, description="last position already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000, description="events per page")] = 500,
) -> ExportPageOut:
    # Everything recorded before the request (``latest``), and whose owner the read models know.
    return await read(models, lambda db: export_page(ledger, db, who.pemda, after, limit), response)


def export_page(
    ledger: Ledger, db: ReadDatabase, pemda: str, after: int, limit: int
) -> ExportPageOut:
    """The events of ``pemda`` after position ``after``, up to ``limit`` of them, scanning at most
    ``MAX_SCAN`` positions and none beyond what the read models include (so every aggregate's
    owner is known)."""
    end = q.position(db)
    items: list[ExportEventOut] = []
    position = after
    scanned = 0
    while len(items) < limit and scanned < MAX_SCAN and position < end:
        chunk = ledger.recorder.select_notifications(
            start=position + 1, limit=min(1_000, MAX_SCAN - scanned), stop=end
        )
        if not chunk:
            break
        owned = q.kinds_owned(db, pemda, [_uuid_text(n.originator_id) for n in chunk])
        for notification in chunk:
            position = notification.id
            scanned += 1
            kind = owned.get(_uuid_text(notification.originator_id))
            if kind is None:
                continue
            items.append(_exported(ledger, notification, kind))
            if len(items) == limit:
                break
    return ExportPageOut(items=items, after=after, next_after=position if position < end else None)


def _exported(ledger: Ledger, notification: Any, kind: str) -> ExportEventOut:
    event: Any = ledger.mapper.to_domain_event(notification)
    return ExportEventOut(
        position=notification.id,
        aggregate_id=UUID(_uuid_text(notification.originator_id)),
        aggregate_type=kind,
        event=type(event).__name__,
        version=notification.originator_version,
        body={k: v for k, v in vars(event).items() if k not in _ENVELOPE},
    )


def _uuid_text(value: UUID | str) -> str:
    return str(value if isinstance(value, UUID) else UUID(str(value)))
