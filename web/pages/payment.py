"""THE payment page (``/pembayaran/{id}``): everything needed to decide on one payment, read in one
go (its line and pagu, the vendor and the bank account that will be paid, documents, deductions,
net, the full history with event positions), and the forms of the step that waits for the
signed-in user: Verifikasi (PPK-SKPD), Setujui SPM (PA/KPA), Terbitkan SP2D (Kuasa BUD), Tolak
with a reason, Tarik kembali / Batalkan, and, on a returned transfer, Bayar ulang ke rekening baru
(Kuasa BUD).

Who may open it is who may read the payment through the API (``auth.READ_PAYMENTS``, and
``api.routes.disbursements.check_visible``: another pemda's or vendor's payment is a 404, another
SKPD's a 403). Each step is the API's command, refused by the ledger's rules and explained with
``web.messages``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api import auth
from api.routes.disbursements import check_visible
from ledger import commands as c
from ledger import roles
from ledger.disbursement import CANCELLABLE, Status
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.roles import Role
from projections import queries as q
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import CheckedForm, Need, fetch, perform
from web.messages import Refusal
from web.pages.redflags import warnings
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)

Reader = Annotated[Session, Depends(Need.like(auth.READ_PAYMENTS))]
Verifier = Annotated[Session, Depends(Need.like(auth.VERIFY))]
Approver = Annotated[Session, Depends(Need.like(auth.APPROVE))]
Authoriser = Annotated[Session, Depends(Need.like(auth.AUTHORISE))]
Rejecter = Annotated[Session, Depends(Need.like(auth.REJECT))]
Canceller = Annotated[Session, Depends(Need.like(auth.CANCEL))]

# A vendor's bank account changed this recently is flagged on the page of a payment to it.
RECENT_ACCOUNT_CHANGE = timedelta(days=30)

# The step that waits in each status, the role that takes it, and its form.
STEPS: dict[str, tuple[Role, str]] = {
    Status.REQUESTED: (Role.PPK, "verifikasi"),
    Status.VERIFIED: (Role.PA_KPA, "setujui"),
    Status.APPROVED: (Role.KUASA_BUD, "terbitkan"),
}
EVENTS = {
    "Disbursement.Requested": "SPP diajukan",
    "Disbursement.Verified": "Diverifikasi PPK-SKPD",
    "Disbursement.Approved": "SPM disetujui",
    "Disbursement.Authorised": "SP2D diterbitkan",
    "Disbursement.Sent": "Transfer dikirim",
    "Disbursement.Settled": "Transfer berhasil (masuk rekening)",
    "Disbursement.Failed": "Transfer gagal",
    "Disbursement.Returned": "Transfer dikembalikan (retur)",
    "Disbursement.Reissued": "Dibayar ulang ke rekening baru",
    "Disbursement.TransferRejected": "Transfer ditolak gateway sebelum dikirim",
    "Disbursement.Rejected": "Ditolak",
    "Disbursement.Cancelled": "Dibatalkan / ditarik kembali",
    "Vendor.Registered": "Penyedia didaftarkan",
    "Vendor.BankAccountChanged": "Rekening penyedia diubah",
    "Vendor.Deactivated": "Penyedia dinonaktifkan",
    "Vendor.Reactivated": "Penyedia diaktifkan kembali",
}
DONE = {
    "verifikasi": "SPP telah diverifikasi.",
    "setujui": "SPM telah disetujui.",
    "terbitkan": "SP2D telah diterbitkan.",
    "tolak": "Pembayaran telah ditolak.",
    "tarik": "SPP telah ditarik kembali / dibatalkan.",
    "bayar-ulang": "Pembayaran ulang tercatat: transfer berikutnya ke rekening baru penyedia.",
    "baru": "SPP telah diajukan dan menunggu verifikasi PPK-SKPD.",
}


# -- form helpers (the SPP form uses them too) ----------------------------------------------------
def text_of(form: FormData, name: str) -> str:
    """A posted text field, trimmed; empty if absent or not text."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def key_of(form: FormData) -> str:
    """The form's idempotency key (made when it was rendered)."""
    key = text_of(form, "key")
    if not key:
        raise InvalidInput("formulir ini tidak membawa kunci idempotensi; muat ulang halaman")
    return key


def required(form: FormData, name: str, what: str) -> str:
    value = text_of(form, name)
    if not value:
        raise InvalidInput(f"{what} wajib diisi")
    return value


# -- reading ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the history, as the page shows it."""

    position: int
    at: str
    actor_id: str
    actor_role: str
    what: str
    reason: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Shown:
    """Everything the payment page shows, built in one read."""

    payment: dict[str, Any]
    line: dict[str, Any] | None
    available: int | None
    vendor: dict[str, Any] | None
    account: dict[str, str] | None  # the account that will be (or was) paid
    account_fixed: bool  # fixed by the SP2D (else the vendor's current account)
    account_warning: str | None
    account_changes: list[Entry]
    history: list[Entry]
    actions: list[str] = field(default_factory=list)
    flags: list[Any] = field(default_factory=list)  # open red flags (``redflags.warnings``)


def _detail(event: str, detail: dict[str, Any]) -> str:
    match event:
        case "Disbursement.Requested":
            return (
                f"SPP {detail.get('spp_number', '')}: bruto {fmt.rupiah(detail.get('gross'))}, "
                f"netto {fmt.rupiah(detail.get('net'))}"
            )
        case "Disbursement.Approved":
            return f"Nomor SPM {detail.get('spm_number', '')}"
        case "Disbursement.Authorised":
            account = detail.get("bank_account") or {}
            return (
                f"Nomor SP2D {detail.get('sp2d_number', '')}; ke rekening "
                f"{account.get('bank_code', '')} {account.get('number', '')} "
                f"a.n. {account.get('holder', '')}"
            )
        case "Disbursement.Sent" | "Disbursement.TransferRejected":
            return f"{detail.get('gateway', '')} referensi {detail.get('reference', '')}"
        case "Disbursement.Settled":
            return f"Referensi bank {detail.get('bank_reference', '')}"
        case "Disbursement.Reissued":
            return _reissued(detail)
        case "Vendor.BankAccountChanged":
            old, new = detail.get("old") or {}, detail.get("new") or {}
            return (
                f"dari {old.get('bank_code', '')} {old.get('number', '')} a.n. "
                f"{old.get('holder', '')} ke {new.get('bank_code', '')} {new.get('number', '')} "
                f"a.n. {new.get('holder', '')}"
            )
    return ""


def _reissued(detail: dict[str, Any]) -> str:
    old, new = detail.get("previous_account") or {}, detail.get("bank_account") or {}
    return (
        f"Bayar ulang ke-{detail.get('reissue', '')} SP2D {detail.get('sp2d_number', '')} "
        f"(transfer {detail.get('returned_reference', '')} dikembalikan): dari rekening "
        f"{old.get('bank_code', '')} {old.get('number', '')} ke {new.get('bank_code', '')} "
        f"{new.get('number', '')} a.n. {new.get('holder', '')}"
    )


def _entry(row: dict[str, Any]) -> Entry:
    return Entry(
        position=int(row["position"]),
        at=row["at"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        what=EVENTS.get(row["event"], row["event"]),
        reason=row["reason"],
        detail=_detail(row["event"], row["detail"]),
    )


def _account(found: q.Payment) -> tuple[dict[str, str] | None, bool]:
    p, v = found.payment, found.vendor
    if p["bank_code"]:
        holder = {"bank_code": p["bank_code"], "number": p["account_number"]}
        return holder | {"holder": p["account_holder"]}, True
    if v is None:
        return None, False
    current = {"bank_code": v["bank_code"], "number": v["account_number"]}
    return current | {"holder": v["account_holder"]}, False


def _warning(found: q.Payment, now: datetime) -> str | None:
    vendor = found.vendor
    if vendor is None or not vendor["account_changed_at"]:
        return None
    changed = datetime.fromisoformat(vendor["account_changed_at"])
    p = found.payment
    if p["bank_code"] and (vendor["bank_code"], vendor["account_number"]) != (
        p["bank_code"],
        p["account_number"],
    ):
        return (
            f"Rekening penyedia diubah pada {fmt.waktu(changed)}, setelah SP2D terbit: transfer "
            "hanya ke rekening yang tercatat pada SP2D."
        )
    if changed >= datetime.fromisoformat(p["requested_at"]):
        return f"Rekening penyedia diubah pada {fmt.waktu(changed)}, setelah SPP ini diajukan."
    if now - changed <= RECENT_ACCOUNT_CHANGE:
        return (
            f"Rekening penyedia baru saja diubah ({fmt.waktu(changed)}): periksa sebelum membayar."
        )
    return None


def actions_for(session: Session, status: str) -> list[str]:
    """The forms the signed-in user sees on a payment in ``status`` (the ledger still decides)."""
    role = session.principal.role
    shown: list[str] = []
    step = STEPS.get(status)
    if step is not None and step[0] is role:
        shown += [step[1], "tolak"]
    if role in roles.CANCEL and status in CANCELLABLE:
        shown.append("tarik")
    if role in roles.AUTHORISE and status == Status.RETURNED:
        shown.append("bayar-ulang")
    return shown


def read_payment(session: Session, disbursement_id: UUID) -> Any:
    """The query of the payment page: scope first (as the API), then the payment in one read."""
    who = session.principal
    now = datetime.now(fmt.WIB)

    def query(db: ReadDatabase) -> Shown:
        check_visible(q.owner(db, str(disbursement_id)), who, disbursement_id)
        found = q.payment(db, who.pemda, str(disbursement_id))
        if found is None:
            raise NotFound(f"no disbursement {disbursement_id} in pemda {who.pemda}")
        line = found.line
        available = None if line is None else line["pagu"] - line["committed"] - line["realised"]
        account, fixed = _account(found)
        changes = [
            _entry(e) for e in found.vendor_history if e["event"] == "Vendor.BankAccountChanged"
        ]
        return Shown(
            payment=found.payment,
            line=line,
            available=available,
            vendor=found.vendor,
            account=account,
            account_fixed=fixed,
            account_warning=_warning(found, now),
            account_changes=changes,
            history=[_entry(e) for e in found.history],
            actions=actions_for(session, found.payment["status"]),
            flags=warnings(db, session, str(disbursement_id), found.payment["vendor_id"]),
        )

    return query


async def show(
    request: Request,
    session: Session,
    disbursement_id: UUID,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    shown: Shown = await fetch(request, read_payment(session, disbursement_id))
    return page(
        request,
        "payment.html",
        {
            "shown": shown,
            "p": shown.payment,
            "refusal": refusal,
            "kept": {"step": "", "spm_number": "", "sp2d_number": "", "reason": ""} | (kept or {}),
            "done": DONE.get(done or ""),
        },
        status=refusal.status if refusal is not None else 200,
        session=session,
    )


@router.get("/pembayaran/{disbursement_id}")
async def payment_page(
    request: Request, disbursement_id: UUID, session: Reader, selesai: str | None = None
) -> Response:
    return await show(request, session, disbursement_id, done=selesai)


# -- the steps ---------------------------------------------------------------------------------------
async def _step(
    request: Request,
    session: Session,
    disbursement_id: UUID,
    form: FormData,
    step: str,
    build: Any,
) -> Response:
    """Run the command ``build(key)`` makes; its refusal shown on the page, the input kept."""
    kept = {name: text_of(form, name) for name in ("spm_number", "sp2d_number", "reason")}
    try:
        command = build(key_of(form))
        await perform(request, command)
    except DomainError as error:
        kept["step"] = step
        return await show(request, session, disbursement_id, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse(f"/pembayaran/{disbursement_id}?selesai={step}", status_code=303)


def _fields(session: Session, key: str, disbursement_id: UUID) -> dict[str, Any]:
    who = session.principal
    return {
        "idempotency_key": key,
        "actor": who.actor,
        "pemda": who.pemda,
        "disbursement_id": disbursement_id,
    }


@router.post("/pembayaran/{disbursement_id}/verifikasi")
async def verify(
    request: Request, disbursement_id: UUID, session: Verifier, form: CheckedForm
) -> Response:
    return await _step(
        request, session, disbursement_id, form, "verifikasi",
        lambda key: c.VerifyDisbursement(**_fields(session, key, disbursement_id)),
    )  # fmt: skip


@router.post("/pembayaran/{disbursement_id}/setujui")
async def approve(
    request: Request, disbursement_id: UUID, session: Approver, form: CheckedForm
) -> Response:
    return await _step(
        request, session, disbursement_id, form, "setujui",
        lambda key: c.ApproveSpm(
            **_fields(session, key, disbursement_id),
            spm_number=required(form, "spm_number", "Nomor SPM"),
        ),
    )  # fmt: skip


@router.post("/pembayaran/{disbursement_id}/terbitkan")
async def authorise(
    request: Request, disbursement_id: UUID, session: Authoriser, form: CheckedForm
) -> Response:
    return await _step(
        request, session, disbursement_id, form, "terbitkan",
        lambda key: c.AuthoriseSp2d(
            **_fields(session, key, disbursement_id),
            sp2d_number=required(form, "sp2d_number", "Nomor SP2D"),
        ),
    )  # fmt: skip


@router.post("/pembayaran/{disbursement_id}/tolak")
async def reject(
    request: Request, disbursement_id: UUID, session: Rejecter, form: CheckedForm
) -> Response:
    return await _step(
        request, session, disbursement_id, form, "tolak",
        lambda key: c.RejectDisbursement(
            **_fields(session, key, disbursement_id),
            reason=required(form, "reason", "Alasan penolakan"),
        ),
    )  # fmt: skip


@router.post("/pembayaran/{disbursement_id}/tarik")
async def cancel(
    request: Request, disbursement_id: UUID, session: Canceller, form: CheckedForm
) -> Response:
    return await _step(
        request, session, disbursement_id, form, "tarik",
        lambda key: c.CancelDisbursement(
            **_fields(session, key, disbursement_id),
            reason=required(form, "reason", "Alasan"),
        ),
    )  # fmt: skip


@router.post("/pembayaran/{disbursement_id}/bayar-ulang")
async def reissue(
    request: Request, disbursement_id: UUID, session: Authoriser, form: CheckedForm
) -> Response:
    return await _step(
        request, session, disbursement_id, form, "bayar-ulang",
        lambda key: c.ReissueReturnedTransfer(
            **_fields(session, key, disbursement_id),
            reason=required(form, "reason", "Alasan"),
        ),
    )  # fmt: skip
