"""The PPTK's and bendahara's pages: create an SPP-LS (``/spp/baru``) and my SKPD's SPPs with their
status (``/spp``); withdrawing one is on its payment page (``web.pages.payment``).

The form picks a budget line of the user's SKPD (its pagu, committed, realised and available shown
live with htmx, ``/spp/baru/hitung``), an active vendor, the gross, and the taxes to withhold: the
deductions are computed from the ledger's tax table (``ledger.money``), never typed, and the net
to the vendor shown. Submitting is the API's ``RequestDisbursement``: a refusal (above the
available pagu, a blocked line, an inactive vendor) is shown on the form with the input kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api import auth
from api.deps import Offset
from ledger import commands as c
from ledger import roles
from ledger.cashplan import fiscal_month
from ledger.disbursement import Status
from ledger.errors import DomainError, InvalidInput
from ledger.money import DEFAULT_TAX_RATES, TaxRate, withholdings_on_gross
from projections import queries as q
from projections import spd
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import CheckedForm, Need, fetch, perform
from web.messages import Refusal
from web.nav import NavItem
from web.pages.payment import key_of, required, text_of
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
Maker = Annotated[Session, Depends(Need.like(auth.REQUEST))]

NAV = [
    NavItem("SPP saya", "/spp", roles.REQUEST),
    NavItem("Ajukan SPP", "/spp/baru", roles.REQUEST),
]
PAGES = {role: ["/spp", "/spp/baru"] for role in roles.REQUEST}

PER_PAGE = 25
DOCUMENT_ROWS = 4  # rows of (kind, number) on the form
DOCUMENT_KINDS = ("kontrak", "faktur", "bast", "")
TAXES: tuple[TaxRate, ...] = tuple(DEFAULT_TAX_RATES.values())
Text = Annotated[str, Query(max_length=200)]


def _year(tahun: int | None) -> int:
    return tahun if tahun is not None else datetime.now(fmt.WIB).year


# -- the live summary: line, gross, deductions, net ---------------------------------------------
@dataclass(frozen=True, slots=True)
class Summary:
    """What the form shows beside the inputs: the chosen line's figures, the deductions from the
    tax table, the net, and whether the gross is above what is available."""

    line: dict[str, Any] | None = None
    available: int | None = None
    gross: int | None = None
    deductions: list[dict[str, Any]] = field(default_factory=list)
    net: int | None = None
    problem: str = ""
    spd_left: int | None = None  # the SKPD's Sisa SPD this month; None: the year runs on pagu

    @property
    def over(self) -> bool:
        return self.gross is not None and self.available is not None and self.gross > self.available

    @property
    def over_spd(self) -> bool:
        return self.gross is not None and self.spd_left is not None and self.gross > self.spd_left


def _my_line(db: ReadDatabase, session: Session, line_id: str) -> dict[str, Any] | None:
    """The line ``line_id`` if it is one of the user's SKPD (else None: not offered)."""
    if not line_id:
        return None
    who = session.principal
    line = q.budget_line(db, who.pemda, line_id)
    return line if line is not None and who.sees(line["skpd"]) else None


def sisa_spd(db: ReadDatabase, session: Session, line: dict[str, Any] | None) -> int | None:
    """What the SPD of the line's SKPD still makes available this month (``projections.spd``)."""
    if line is None:
        return None
    month = fiscal_month(datetime.now(fmt.WIB), line["year"])
    return spd.available(db, session.principal.pemda, line["year"], line["skpd"], month)


def summarise(
    line: dict[str, Any] | None, gross_text: str, codes: list[str], spd_left: int | None = None
) -> Summary:
    available = None if line is None else line["pagu"] - line["committed"] - line["realised"]
    if not gross_text:
        return Summary(line, available, spd_left=spd_left)
    try:
        gross = fmt.parse_rupiah(gross_text)
        deductions = [d.as_dict() for d in withholdings_on_gross(gross, codes)]
    except DomainError as error:
        return Summary(line, available, problem=error.message, spd_left=spd_left)
    net = gross - sum(d["amount"] for d in deductions)
    return Summary(line, available, gross, deductions, net, spd_left=spd_left)


def _codes(values: list[str]) -> list[str]:
    return [code for code in DEFAULT_TAX_RATES if code in values]


@router.get("/spp/baru/hitung")
async def live_summary(
    request: Request,
    session: Maker,
    line_id: Text = "",
    gross: Text = "",
    pajak: Annotated[list[str], Query(max_length=16)] = [],  # noqa: B006 (FastAPI's own copy)
) -> Response:
    """The fragment htmx swaps in when the form changes."""
    codes = _codes(pajak)

    def query(db: ReadDatabase) -> Summary:
        line = _my_line(db, session, line_id)
        return summarise(line, gross, codes, sisa_spd(db, session, line))

    summary = await fetch(request, query)
    return page(request, "spp_hitung.html", {"summary": summary}, session=session)


# -- the form ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Choices:
    lines: list[dict[str, Any]]
    vendors: list[dict[str, Any]]
    summary: Summary


def _choices(session: Session, year: int, values: dict[str, Any]) -> Any:
    who = session.principal

    def query(db: ReadDatabase) -> Choices:
        lines = q.budget_lines(db, who.pemda, year, skpds=(who.skpd,), limit=q.MAX_PAGE).rows
        for line in lines:
            line["available"] = line["pagu"] - line["committed"] - line["realised"]
        vendors = q.vendors(db, who.pemda, active=True, limit=q.MAX_PAGE).rows
        chosen = _my_line(db, session, values["line_id"])
        left = sisa_spd(db, session, chosen)
        return Choices(lines, vendors, summarise(chosen, values["gross"], values["pajak"], left))

    return query


def _blank(year: int) -> dict[str, Any]:
    return {
        "year": year,
        "spp_number": "",
        "line_id": "",
        "vendor_npwp": "",
        "gross": "",
        "pajak": [],
        "description": "",
        "documents": [(kind, "") for kind in DOCUMENT_KINDS],
    }


async def _form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    refusal: Refusal | None = None,
) -> Response:
    choices: Choices = await fetch(request, _choices(session, values["year"], values))
    return page(
        request,
        "spp_baru.html",
        {"v": values, "choices": choices, "summary": choices.summary, "taxes": TAXES,
         "refusal": refusal},
        status=refusal.status if refusal is not None else 200,
        session=session,
    )  # fmt: skip


@router.get("/spp/baru")
async def new_spp(
    request: Request,
    session: Maker,
    tahun: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    return await _form(request, session, _blank(_year(tahun)))


def _posted(form: FormData) -> dict[str, Any]:
    """The form's input as posted (kept when it is refused)."""
    year_text = text_of(form, "year")
    return {
        # A year that is not one (a tampered form) falls back to this year's lines.
        "year": int(year_text) if year_text.isdigit() and len(year_text) == 4 else _year(None),
        "spp_number": text_of(form, "spp_number"),
        "line_id": text_of(form, "line_id"),
        "vendor_npwp": text_of(form, "vendor_npwp"),
        "gross": text_of(form, "gross"),
        "pajak": _codes([v for v in form.getlist("pajak") if isinstance(v, str)]),
        "description": text_of(form, "description"),
        "documents": [
            (text_of(form, f"doc_kind_{i}"), text_of(form, f"doc_number_{i}"))
            for i in range(DOCUMENT_ROWS)
        ],
    }


def _documents(rows: list[tuple[str, str]]) -> dict[str, str]:
    documents: dict[str, str] = {}
    for kind, number in rows:
        if kind and number:
            documents[kind] = number
        elif number:
            raise InvalidInput(f"dokumen bernomor {number!r} belum diberi jenis")
    return documents


def _command(session: Session, form: FormData, values: dict[str, Any], line: Any) -> c.Command:
    if line is None:
        raise InvalidInput("pilih rincian anggaran dari daftar")
    gross = fmt.parse_rupiah(required(form, "gross", "Nilai bruto"))
    who = session.principal
    return c.RequestDisbursement(
        idempotency_key=key_of(form),
        actor=who.actor,
        pemda=who.pemda,
        year=values["year"],
        spp_number=required(form, "spp_number", "Nomor SPP"),
        line=c.LineRef(
            skpd=line["skpd"], sub_kegiatan=line["sub_kegiatan"], rekening=line["rekening"]
        ),
        vendor_npwp=required(form, "vendor_npwp", "Penyedia"),
        gross=gross,
        deductions=tuple(d.as_dict() for d in withholdings_on_gross(gross, values["pajak"])),
        description=required(form, "description", "Uraian"),
        documents=_documents(values["documents"]),
    )


@router.post("/spp/baru")
async def create_spp(request: Request, session: Maker, form: CheckedForm) -> Response:
    values = _posted(form)
    who = session.principal
    # The line as the picker offered it; another SKPD's line id is passed on for the ledger to
    # refuse (skpd_scope), exactly as the API's request would be.
    line = None
    if values["line_id"]:
        line = await fetch(request, lambda db: q.budget_line(db, who.pemda, values["line_id"]))
    try:
        written = await perform(request, _command(session, form, values, line))
    except DomainError as error:
        return await _form(request, session, values, Refusal.of(error))
    return RedirectResponse(f"/pembayaran/{written.result.id}?selesai=baru", status_code=303)


# -- my SPPs ---------------------------------------------------------------------------------------
def _status(status: str) -> str | None:
    if not status:
        return None
    if status not in {s.value for s in Status}:
        raise InvalidInput(f"status tidak dikenal: {status!r}")
    return status


@router.get("/spp")
async def my_spps(
    request: Request,
    session: Maker,
    status: Text = "",
    offset: Offset = 0,
) -> Response:
    who = session.principal
    chosen = _status(status)

    def query(db: ReadDatabase) -> q.Listing:
        return q.disbursements(
            db, who.pemda, skpds=(who.skpd,), status=chosen, limit=PER_PAGE, offset=offset
        )

    listing = await fetch(request, query)
    base = "/spp" + (f"?status={chosen}" if chosen else "")
    return page(
        request,
        "spp_list.html",
        {"listing": listing, "status": chosen or "", "statuses": [s.value for s in Status],
         "limit": PER_PAGE, "offset": offset, "base": base},
        session=session,
    )  # fmt: skip
