"""The vendor registry, for BPKAD: search the vendors (name, active or not, kind), a vendor's page
with its bank account and the history of its account (who changed it, when, from what, why),
registering a vendor, changing its bank account, deactivating and reactivating it: the commands
and roles of ``api/routes/vendors.py``.

A vendor's facts and its history come from the read models (``projections.queries.vendor`` and
``vendor_history``, from ``proj_history`` as a payment's page), in one read."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api import auth
from ledger import commands as c
from ledger.errors import DomainError, NotFound
from ledger.roles import Role
from ledger.vendor import VendorKind, normalise_npwp
from projections import queries as q
from projections.db import ReadDatabase
from web.deps import CheckedForm, Need, PageRefused, fetch, perform
from web.messages import Refusal
from web.nav import NavItem
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)

# GET .../vendors. A vendor's page has the officials of the list too: GET .../vendors/{npwp} also
# lets a vendor read itself, but a vendor's page is the portal, not this one, which shows who at
# BPKAD changed its account and why.
READ = Need.like(auth.READ_BOOKS)
ADMIN = Need.like(auth.VENDOR_ADMIN)  # every write of .../vendors
Reader = Annotated[Session, Depends(READ)]
Admin = Annotated[Session, Depends(ADMIN)]

NAV = [NavItem("Penyedia", "/penyedia", frozenset({Role.BPKAD_ADMIN}))]
PAGES = {Role.BPKAD_ADMIN: ["/penyedia", "/penyedia/baru"]}
PAGE_SIZE = 50
KINDS = {
    VendorKind.COMPANY.value: "Badan usaha",
    VendorKind.MEDIA.value: "Perusahaan media",
    VendorKind.INDIVIDUAL.value: "Orang pribadi",
}
EVENTS = {
    "Vendor.Registered": "Didaftarkan",
    "Vendor.BankAccountChanged": "Rekening diubah",
    "Vendor.Deactivated": "Dinonaktifkan",
    "Vendor.Reactivated": "Diaktifkan kembali",
}
NOTICES = {
    "daftar": "Penyedia terdaftar.",
    "rekening": "Rekening bank diubah.",
    "nonaktif": "Penyedia dinonaktifkan: tidak ada pembayaran baru kepadanya.",
    "aktif": "Penyedia diaktifkan kembali.",
}
ACCOUNT_FIELDS = ("bank_code", "account_number", "account_holder")

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Text = Annotated[str | None, Query(max_length=200)]
Notice = Annotated[str | None, Query(alias="pesan", max_length=16)]


def _flag(value: str | None) -> bool | None:
    return {"aktif": True, "nonaktif": False}.get(value or "")


@router.get("/penyedia")
async def vendor_list(
    request: Request,
    session: Reader,
    nama: Text = None,
    status: Annotated[str | None, Query(pattern="^(aktif|nonaktif)?$")] = None,
    jenis: Annotated[str | None, Query(pattern="^(company|media|individual)?$")] = None,
    offset: Offset = 0,
) -> Response:
    pemda = session.principal.pemda
    name = (nama or "").strip() or None

    def query(db: ReadDatabase) -> q.Listing:
        return q.vendors(db, pemda, active=_flag(status), kind=jenis or None, name=name,
                         limit=PAGE_SIZE, offset=offset)  # fmt: skip

    found = await fetch(request, query)
    chosen = {"nama": name or "", "status": status or "", "jenis": jenis or ""}
    filters = urlencode({k: v for k, v in chosen.items() if v})
    return page(request, "vendors.html", {
        "rows": found.rows, "total": found.total, "offset": offset, "limit": PAGE_SIZE,
        "base": "/penyedia" + (f"?{filters}" if filters else ""), "chosen": chosen,
        "kinds": KINDS, "may_admin": session.principal.role in ADMIN.roles,
    })  # fmt: skip


def _form_page(request: Request, kept: dict[str, str], refusal: Refusal | None = None) -> Response:
    return page(request, "vendor_new.html", {"kept": kept, "kinds": KINDS, "refusal": refusal},
                status=refusal.status if refusal else 200)  # fmt: skip


def _kept(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {n: str(form.get(n) or "").strip() for n in names}


@router.get("/penyedia/baru")
async def vendor_new(request: Request, session: Admin) -> Response:
    return _form_page(request, {})


@router.post("/penyedia")
async def vendor_register(request: Request, session: Admin, form: CheckedForm) -> Response:
    """``POST .../vendors``: the same command, the same role."""
    kept = _kept(form, ("npwp", "name", "kind", *ACCOUNT_FIELDS))
    who = session.principal
    key = _key(form)
    try:
        command = c.RegisterVendor(
            idempotency_key=key, actor=who.actor, pemda=who.pemda, npwp=kept["npwp"],
            name=kept["name"], kind=kept["kind"], bank_code=kept["bank_code"],
            account_number=kept["account_number"], account_holder=kept["account_holder"],
        )  # fmt: skip
        await perform(request, command)
        npwp = normalise_npwp(kept["npwp"])
    except DomainError as error:
        return _form_page(request, kept, Refusal.of(error))
    return RedirectResponse(f"/penyedia/{npwp}?pesan=daftar", status_code=303)


def _key(form: FormData) -> str:
    key = str(form.get("key") or "")
    if not key or len(key) > 200:
        raise PageRefused(Refusal("invalid_input", "formulir tanpa kunci idempotensi", 422))
    return key


def _number(npwp: str) -> str:
    """The NPWP of the path, normalised; one that is not an NPWP names no vendor."""
    try:
        return normalise_npwp(npwp)
    except DomainError as error:
        raise PageRefused(Refusal("not_found", str(error), 404)) from None


def _vendor_page(pemda: str, number: str) -> Any:
    def query(db: ReadDatabase) -> dict[str, Any]:
        found = q.vendor(db, pemda, number)
        if found is None:
            raise NotFound(f"no vendor with NPWP {number} in pemda {pemda}")
        rows = q.vendor_history(db, pemda, found["vendor_id"])
        return {"vendor": found, "history": [e for e in reversed(rows) if e["event"] in EVENTS]}

    return query


async def _show_vendor(
    request: Request,
    session: Session,
    npwp: str,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    number = _number(npwp)
    try:
        data = await fetch(request, _vendor_page(session.principal.pemda, number))
    except NotFound as missing:
        raise PageRefused(Refusal("not_found", str(missing), 404)) from None
    return page(request, "vendor.html", {
        **data, "kinds": KINDS, "events": EVENTS, "refusal": refusal, "kept": kept or {},
        "notice": NOTICES.get(notice or ""), "may_admin": session.principal.role in ADMIN.roles,
    }, status=refusal.status if refusal else 200)  # fmt: skip


@router.get("/penyedia/{npwp}")
async def vendor_view(
    request: Request, npwp: str, session: Reader, notice: Notice = None
) -> Response:
    return await _show_vendor(request, session, npwp, notice=notice)


@router.post("/penyedia/{npwp}/rekening")
async def vendor_change_account(
    request: Request, npwp: str, session: Admin, form: CheckedForm
) -> Response:
    """``POST .../vendors/{npwp}/bank-account``: the same command, the same role."""
    number = _number(npwp)
    kept = _kept(form, (*ACCOUNT_FIELDS, "reason"))
    who = session.principal
    key = _key(form)
    try:
        await perform(request, c.ChangeVendorBankAccount(
            idempotency_key=key, actor=who.actor, pemda=who.pemda, npwp=number,
            bank_code=kept["bank_code"], account_number=kept["account_number"],
            account_holder=kept["account_holder"], reason=kept["reason"],
        ))  # fmt: skip
    except DomainError as error:
        return await _show_vendor(request, session, number, refusal=Refusal.of(error),
                                  kept={**kept, "form": "rekening"})  # fmt: skip
    return RedirectResponse(f"/penyedia/{number}?pesan=rekening", status_code=303)


STATE_CHANGES: dict[str, tuple[type[c.DeactivateVendor] | type[c.ReactivateVendor], str]] = {
    "nonaktifkan": (c.DeactivateVendor, "nonaktif"),
    "aktifkan": (c.ReactivateVendor, "aktif"),
}


@router.post("/penyedia/{npwp}/{change}")
async def vendor_state(
    request: Request, npwp: str, change: str, session: Admin, form: CheckedForm
) -> Response:
    """``POST .../vendors/{npwp}/deactivate`` and ``.../reactivate``."""
    if change not in STATE_CHANGES:
        raise PageRefused(Refusal("not_found", f"tidak ada tindakan {change!r}", 404))
    kind, notice = STATE_CHANGES[change]
    number = _number(npwp)
    reason = str(form.get("reason") or "").strip()
    who = session.principal
    key = _key(form)
    try:
        await perform(request, kind(idempotency_key=key, actor=who.actor, pemda=who.pemda,
                                    npwp=number, reason=reason))  # fmt: skip
    except DomainError as error:
        return await _show_vendor(request, session, number, refusal=Refusal.of(error),
                                  kept={"reason": reason, "form": change})  # fmt: skip
    return RedirectResponse(f"/penyedia/{number}?pesan={notice}", status_code=303)
