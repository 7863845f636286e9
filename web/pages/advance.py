"""Uang Persediaan (``/uang-persediaan``): the bendahara pengeluaran's advance of their SKPD for the
year: its balances, the register (BKU), the SPJ entries, the cards and the TU, and the forms to
record an SPJ (tunai or KKPD), pay a card bill, return cash (setoran) and ask SPP-UP/GU/TU/GU nihil
choosing the open SPJ. An advance order's page (``/uang-persediaan/spp/{id}``) carries the same
Verifikasi / Setujui SPM / Terbitkan SP2D / Tolak / Batalkan forms as an LS payment, for the same
hands; the approval queue (``web.pages.approvals``) links there.

Who may read is who may read it through the API (``auth.READ_BOOKS``; an SKPD's official their own
SKPD's only, others name it with ``?skpd=``); each form is the API's command, refused by the
ledger's rules and explained with ``web.messages``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api import auth
from ledger import commands as c
from ledger import roles
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.roles import Role
from projections import advance_queries as aq
from projections import queries as q
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import CheckedForm, Need, fetch, perform
from web.messages import Refusal
from web.nav import NavItem
from web.pages.payment import key_of, required, text_of
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
Reader = Annotated[Session, Depends(Need.like(auth.READ_BOOKS))]
Keeper = Annotated[Session, Depends(Need.like(auth.Allow(*roles.KEEP_ADVANCE)))]
Decider = Annotated[Session, Depends(Need.like(auth.REJECT))]
Canceller = Annotated[Session, Depends(Need.like(auth.CANCEL))]

NAV = [NavItem("Uang Persediaan", "/uang-persediaan", roles.KEEP_ADVANCE)]
PAGES = {role: ["/uang-persediaan"] for role in roles.KEEP_ADVANCE}
HOME = "/uang-persediaan"
MECHANISMS = {"up": "SPP-UP", "gu": "SPP-GU", "tu": "SPP-TU", "gu_nihil": "SPP-GU nihil"}
# The step that waits in each status, the role that takes it, and its form (as for LS).
STEPS: dict[str, tuple[Role, str]] = {
    "requested": (Role.PPK, "verifikasi"),
    "verified": (Role.PA_KPA, "setujui"),
    "approved": (Role.KUASA_BUD, "terbitkan"),
}
# The register's and the SPJ's words on screen.
KINDS = {"up_received": "UP diterima", "gu_received": "GU diterima", "tu_received": "TU diterima",
         "spj": "SPJ", "spj_withdrawn": "SPJ ditarik", "card_bill": "Bayar tagihan KKPD",
         "gu_accounted": "SPJ di-GU-kan", "gu_nihil": "GU nihil", "setoran": "Setoran"}  # fmt: skip
SPJ_STATUS = {"open": "terbuka", "claimed": "diajukan dalam SPP", "accounted": "selesai (SP2D)",
              "withdrawn": "ditarik"}  # fmt: skip
DONE = {
    "spj": "SPJ dicatat.",
    "tagihan": "Tagihan KKPD dibayar.",
    "setor": "Setoran dicatat.",
    "spp": "SPP diajukan.",
    "verifikasi": "SPP diverifikasi.",
    "setujui": "SPM disetujui.",
    "terbitkan": "SP2D diterbitkan.",
    "tolak": "SPP ditolak.",
    "tarik": "SPP dibatalkan.",
}


def _year(tahun: int | None) -> int:
    return tahun if tahun is not None else datetime.now(fmt.WIB).year


@dataclass(frozen=True, slots=True)
class Book:
    advance: dict[str, Any] | None
    register: list[dict[str, Any]]
    spj: list[dict[str, Any]]
    cards: list[dict[str, Any]]
    tu: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    lines: list[dict[str, Any]]


def _book(session: Session, year: int, skpd: str) -> Any:
    who = session.principal
    today = datetime.now(fmt.WIB).date()

    def query(db: ReadDatabase) -> Book:
        found = aq.advance(db, who.pemda, year, skpd)
        lines = q.budget_lines(db, who.pemda, year, skpds=(skpd,), limit=q.MAX_PAGE).rows
        if found is None:
            return Book(None, [], [], [], [], [], lines)
        key = found["advance_id"]
        return Book(
            found,
            aq.register(db, key),
            aq.spj_entries(db, key),
            aq.cards(db, key),
            aq.tus(db, key, today),
            aq.orders(db, who.pemda, year=year, skpd=skpd),
            [x for x in lines if x["rekening"].startswith("5")],
        )

    return query


def _skpd(session: Session, asked: str) -> str:
    who = session.principal
    skpd = who.skpd or asked
    if not skpd:
        raise InvalidInput("pilih SKPD: ?skpd=<kode SKPD>")
    who.require_skpd(skpd, f"Uang Persediaan SKPD {skpd}")
    return skpd


async def _show(
    request: Request,
    session: Session,
    year: int,
    skpd: str,
    *,
    refusal: Refusal | None = None,
    kept: dict[str, Any] | None = None,
    done: str | None = None,
) -> Response:
    book: Book = await fetch(request, _book(session, year, skpd))
    keeper = session.principal.role in roles.KEEP_ADVANCE
    return page(
        request,
        "advance.html",
        {"book": book, "a": book.advance, "year": year, "skpd": skpd, "keeper": keeper,
         "refusal": refusal, "kept": {"form": ""} | (kept or {}), "done": DONE.get(done or ""),
         "mechanisms": MECHANISMS, "kinds": KINDS, "spj_status": SPJ_STATUS},
        status=refusal.status if refusal is not None else 200,
        session=session,
    )  # fmt: skip


@router.get("/uang-persediaan")
async def advance_page(
    request: Request,
    session: Reader,
    tahun: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    skpd: Annotated[str, Query(max_length=64)] = "",
    selesai: str | None = None,
) -> Response:
    return await _show(request, session, _year(tahun), _skpd(session, skpd), done=selesai)


# -- the bendahara's forms --------------------------------------------------------------------------
def _base(session: Session, form: FormData) -> dict[str, Any]:
    who = session.principal
    year = text_of(form, "year")
    return {"idempotency_key": key_of(form), "actor": who.actor, "pemda": who.pemda,
            "year": int(year) if year.isdigit() else _year(None), "skpd": who.skpd or ""}  # fmt: skip


def _optional(form: FormData, name: str) -> str | None:
    return text_of(form, name) or None


def _spj(session: Session, form: FormData, line: dict[str, Any] | None) -> c.Command:
    if line is None:
        raise InvalidInput("pilih rincian anggaran dari daftar")
    evidence = {text_of(form, "evidence_kind") or "kuitansi": required(form, "evidence", "Bukti")}
    if text_of(form, "otorisasi"):
        evidence["otorisasi"] = text_of(form, "otorisasi")
    return c.RecordSpj(
        **_base(session, form), spj_number=required(form, "spj_number", "Nomor SPJ"),
        line=c.LineRef(skpd=line["skpd"], sub_kegiatan=line["sub_kegiatan"],
                       rekening=line["rekening"]),
        amount=fmt.parse_rupiah(required(form, "amount", "Jumlah")),
        channel=text_of(form, "channel") or "tunai", card=_optional(form, "card"),
        tu=_optional(form, "tu"), merchant=required(form, "merchant", "Penerima pembayaran"),
        spent_on=required(form, "spent_on", "Tanggal"), evidence=evidence,
    )  # fmt: skip


def _bill(session: Session, form: FormData) -> c.Command:
    return c.PayCardBill(
        **_base(session, form), card=required(form, "card", "Kartu"),
        amount=fmt.parse_rupiah(required(form, "amount", "Jumlah")),
        reference=required(form, "reference", "Nomor tagihan"),
    )  # fmt: skip


def _return(session: Session, form: FormData) -> c.Command:
    return c.ReturnAdvance(
        **_base(session, form), amount=fmt.parse_rupiah(required(form, "amount", "Jumlah")),
        reference=required(form, "reference", "Nomor STS"), tu=_optional(form, "tu"),
    )  # fmt: skip


def _order(session: Session, form: FormData) -> c.Command:
    mechanism = text_of(form, "mechanism")
    amount = text_of(form, "amount")
    numbers = tuple(v for v in form.getlist("spj") if isinstance(v, str) and v)
    return c.RequestAdvance(
        **_base(session, form), spp_number=required(form, "spp_number", "Nomor SPP"),
        mechanism=mechanism, amount=fmt.parse_rupiah(amount) if amount else None,
        spj_numbers=numbers, tu=_optional(form, "tu"), deadline=_optional(form, "deadline"),
        description=required(form, "description", "Uraian"),
    )  # fmt: skip


async def _write(request: Request, session: Session, form: FormData, name: str) -> Response:
    year = _base(session, form)["year"]
    skpd = session.principal.skpd or ""
    try:
        if name == "spj":
            chosen = text_of(form, "line_id")
            who = session.principal
            line = await fetch(request, lambda db: q.budget_line(db, who.pemda, chosen))
            command = _spj(session, form, line)
        else:
            command = {"tagihan": _bill, "setor": _return, "spp": _order}[name](session, form)
        await perform(request, command)
    except DomainError as error:
        kept = {"form": name, **{k: text_of(form, k) for k in form if k not in ("csrf", "spj")}}
        return await _show(request, session, year, skpd, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse(f"{HOME}?tahun={year}&selesai={name}", status_code=303)


@router.post("/uang-persediaan/spj")
async def record_spj(request: Request, session: Keeper, form: CheckedForm) -> Response:
    return await _write(request, session, form, "spj")


@router.post("/uang-persediaan/tagihan")
async def pay_bill(request: Request, session: Keeper, form: CheckedForm) -> Response:
    return await _write(request, session, form, "tagihan")


@router.post("/uang-persediaan/setor")
async def return_cash(request: Request, session: Keeper, form: CheckedForm) -> Response:
    return await _write(request, session, form, "setor")


@router.post("/uang-persediaan/spp")
async def request_order(request: Request, session: Keeper, form: CheckedForm) -> Response:
    return await _write(request, session, form, "spp")


# -- an order's page and its steps ------------------------------------------------------------------
def actions_for(session: Session, status: str) -> list[str]:
    role = session.principal.role
    step = STEPS.get(status)
    shown = [step[1], "tolak"] if step is not None and step[0] is role else []
    if role in roles.CANCEL and status in ("requested", "verified", "approved"):
        shown.append("tarik")
    return shown


async def _order_page(request: Request, session: Session, order_id: UUID, **kw: Any) -> Response:
    who = session.principal

    def query(db: ReadDatabase) -> dict[str, Any]:
        found = aq.order(db, who.pemda, str(order_id))
        if found is None:
            raise NotFound(f"no advance order {order_id} in pemda {who.pemda}")
        who.require_skpd(found["skpd"], f"advance order {order_id}")
        return found

    o = await fetch(request, query)
    refusal: Refusal | None = kw.get("refusal")
    return page(
        request,
        "advance_order.html",
        {"o": o, "label": MECHANISMS.get(o["mechanism"], o["mechanism"]), "refusal": refusal,
         "actions": actions_for(session, o["status"]), "done": DONE.get(kw.get("done") or ""),
         "kept": {"step": "", "spm_number": "", "sp2d_number": "", "reason": ""}
         | kw.get("kept", {})},
        status=refusal.status if refusal is not None else 200,
        session=session,
    )  # fmt: skip


@router.get("/uang-persediaan/spp/{order_id}")
async def order_page(
    request: Request, order_id: UUID, session: Reader, selesai: str | None = None
) -> Response:
    return await _order_page(request, session, order_id, done=selesai)


_COMMANDS: dict[str, tuple[type[c.AdvanceOrderCommand], str | None]] = {
    "verifikasi": (c.VerifyAdvance, None),
    "setujui": (c.ApproveAdvance, "spm_number"),
    "terbitkan": (c.AuthoriseAdvance, "sp2d_number"),
    "tolak": (c.RejectAdvance, "reason"),
    "tarik": (c.CancelAdvance, "reason"),
}
_WHAT = {"spm_number": "Nomor SPM", "sp2d_number": "Nomor SP2D", "reason": "Alasan"}


async def _step(
    request: Request, session: Session, order_id: UUID, form: FormData, step: str
) -> Response:
    kept = {name: text_of(form, name) for name in _WHAT}
    kind, field = _COMMANDS[step]
    who = session.principal
    try:
        extra = {} if field is None else {field: required(form, field, _WHAT[field])}
        command = kind(idempotency_key=key_of(form), actor=who.actor, pemda=who.pemda,
                       order_id=order_id, **extra)  # fmt: skip
        await perform(request, command)
    except DomainError as error:
        kept["step"] = step
        return await _order_page(request, session, order_id, refusal=Refusal.of(error), kept=kept)
    return RedirectResponse(f"/uang-persediaan/spp/{order_id}?selesai={step}", status_code=303)


@router.post("/uang-persediaan/spp/{order_id}/tarik")
async def cancel(
    request: Request, order_id: UUID, session: Canceller, form: CheckedForm
) -> Response:
    return await _step(request, session, order_id, form, "tarik")


@router.post("/uang-persediaan/spp/{order_id}/{step}")
async def decide(
    request: Request, order_id: UUID, step: str, session: Decider, form: CheckedForm
) -> Response:
    if step not in _COMMANDS:
        raise NotFound(f"no step {step!r}")
    return await _step(request, session, order_id, form, step)
