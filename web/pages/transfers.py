"""Transfers out of the RKUD, for the bendahara and the Kuasa BUD: sent, settled, failed and
returned (one tab each), newest first, each linking to its payment's page.

A failed transfer is sent again by kasda's payout service (``gateways.payouts.PayoutService`` with
``resend_failed``): a new attempt under a new reference, through the gateway, recorded by the
gateway's identity (``RecordTransferSent``), still only to the account fixed at the SP2D. No person
re-sends a transfer in kasda: the ledger has no such command, and the API none either. What a person
decides about a failed transfer is whether it should be paid at all: if not, the SP2D is cancelled
(``CancelDisbursement``, with a reason, by the roles of ``POST .../cancel``), which releases the
realisation; that is the form this page offers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import auth
from ledger import commands as c
from ledger.errors import DomainError
from ledger.roles import Role
from projections import queries as q
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import CheckedForm, Need, fetch, perform
from web.messages import Refusal
from web.nav import NavItem
from web.pages.home import Card
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)

# The list is the API's list of payments (``GET .../disbursements``) narrowed to transfers: the
# officials, each SKPD's own only. Vendors see their payments in the portal.
READ = Need.like(auth.READ_BOOKS)
CANCEL = Need.like(auth.CANCEL)
Reader = Annotated[Session, Depends(READ)]
Canceller = Annotated[Session, Depends(CANCEL)]

WORKERS = frozenset({Role.BENDAHARA, Role.KUASA_BUD})
NAV = [NavItem("Transfer", "/transfer", WORKERS | {Role.BPKAD_ADMIN})]
PAGES = {role: ["/transfer", "/transfer?status=failed"] for role in WORKERS | {Role.BPKAD_ADMIN}}
PAGE_SIZE = 50
TABS = (
    (None, "Semua"),
    ("sent", "Terkirim"),
    ("settled", "Berhasil"),
    ("failed", "Gagal"),
    ("returned", "Dikembalikan (retur)"),
)
NOTICES = {"batal": "SP2D dibatalkan; realisasinya dilepas kembali ke pagu."}
MAX_KEY = 200

Status = Annotated[str | None, Query(pattern="^(sent|settled|failed|returned)$")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Notice = Annotated[str | None, Query(alias="pesan", max_length=16)]


def _listing(session: Session, status: str | None, offset: int) -> Any:
    who = session.principal

    def query(db: ReadDatabase) -> dict[str, Any]:
        found = q.transfers(db, who.pemda, status=status, skpd=who.skpd, limit=PAGE_SIZE,
                            offset=offset)  # fmt: skip
        counts = q.transfer_counts(db, who.pemda, skpd=who.skpd)
        return {"rows": found.rows, "total": found.total, "counts": counts}

    return query


async def _show(
    request: Request,
    session: Session,
    status: str | None,
    offset: int = 0,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    data = await fetch(request, _listing(session, status, offset))
    base = "/transfer" + (f"?status={status}" if status else "")
    context = {
        **data,
        "status": status,
        "tabs": [(key, label, _tab_count(data["counts"], key)) for key, label in TABS],
        "offset": offset,
        "limit": PAGE_SIZE,
        "base": base,
        "may_cancel": session.principal.role in CANCEL.roles,
        "refusal": refusal,
        "kept": kept or {},
        "notice": NOTICES.get(notice or ""),
    }
    return page(request, "transfers.html", context,
                status=refusal.status if refusal is not None else 200)  # fmt: skip


def _tab_count(counts: dict[str, tuple[int, str | None]], key: str | None) -> int:
    if key is None:
        return sum(n for n, _ in counts.values())
    return counts[key][0]


@router.get("/transfer")
async def transfer_list(
    request: Request,
    session: Reader,
    status: Status = None,
    offset: Offset = 0,
    notice: Notice = None,
) -> Response:
    return await _show(request, session, status, offset, notice=notice)


@router.post("/transfer/{disbursement_id}/batalkan")
async def cancel_failed(
    request: Request, disbursement_id: UUID, session: Canceller, form: CheckedForm
) -> Response:
    """Cancel the SP2D of a failed transfer: ``POST .../cancel`` (the same command and roles)."""
    reason = str(form.get("reason") or "").strip()
    key = str(form.get("key") or "")
    kept = {"disbursement_id": str(disbursement_id), "reason": reason}
    if not key or len(key) > MAX_KEY:
        refusal = Refusal("invalid_input", "formulir tanpa kunci idempotensi", 422)
        return await _show(request, session, "failed", refusal=refusal, kept=kept)
    who = session.principal
    try:  # an empty or overlong reason is the ledger's refusal, as for the API
        await perform(request, c.CancelDisbursement(
            idempotency_key=key, actor=who.actor, pemda=who.pemda,
            disbursement_id=disbursement_id, reason=reason,
        ))  # fmt: skip
    except DomainError as error:
        return await _show(request, session, "failed", refusal=Refusal.of(error), kept=kept)
    return RedirectResponse("/transfer?status=failed&pesan=batal", status_code=303)


def cards(db: ReadDatabase, session: Session, now: datetime) -> list[Card]:
    """Failed and returned transfers: each waits for a decision of the bendahara / Kuasa BUD."""
    who = session.principal
    if who.role not in WORKERS:
        return []
    counts = q.transfer_counts(db, who.pemda, skpd=who.skpd)
    failed, failed_since = counts["failed"]
    returned, returned_since = counts["returned"]
    return [
        Card("Transfer gagal menunggu keputusan", failed, "/transfer?status=failed",
             fmt.umur(failed_since, now) if failed else None,
             "dikirim ulang oleh layanan pembayaran, atau batalkan SP2D"),
        Card("Transfer dikembalikan (retur)", returned, "/transfer?status=returned",
             fmt.umur(returned_since, now) if returned else None, "dana kembali ke RKUD"),
    ]  # fmt: skip
