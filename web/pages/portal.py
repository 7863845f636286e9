"""The vendor portal: a vendor's own payments, each with its status timeline and the taxes
withheld from it, and its statement (rekening koran) for a period, to read or download as CSV or
XLSX. A vendor sees nothing of anyone else: every read is of ``Principal.vendor_id``, as in the
API's statement (``GET /pemda/{p}/vendors/{npwp}/statement``) and payment list; another vendor's
NPWP in the address is the API's refusal (404, as if it did not exist)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from exports import sheets
from ledger.disbursement import Status
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.roles import Role
from ledger.vendor import normalise_npwp
from projections import queries as q
from projections.db import ReadDatabase
from projections.tax import tax_name
from web import format as fmt
from web.deps import Need, fetch
from web.messages import Refusal
from web.nav import NavItem
from web.pages.home import Card
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
VENDOR = frozenset({Role.VENDOR})
NAV = [
    NavItem("Pembayaran saya", "/portal", VENDOR),
    NavItem("Rekening koran", "/portal/rekening-koran", VENDOR),
]
PAGES = {Role.VENDOR: ["/portal", "/portal/rekening-koran"]}

# The portal is the vendor's own: the API's statement lets a vendor read only its own, and the
# officials read a vendor's statement on their own pages.
Vendor = Annotated[Session, Depends(Need(Role.VENDOR))]
Text = Annotated[str, Query(max_length=40)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
PAGE_SIZE = 20
DOWNLOAD_LIMIT = 10_000  # payments in one download; a longer period is refused, not cut short

# The steps of a payment, in order, and the moment each was reached (``proj_payment``).
STEPS = (
    ("requested", "requested_at"),
    ("verified", "verified_at"),
    ("approved", "approved_at"),
    ("authorised", "authorised_at"),
    ("sent", "sent_at"),
    ("settled", "settled_at"),
)
ENDINGS = {"failed": "failed_at", "returned": "returned_at", "rejected": "rejected_at",
           "cancelled": "cancelled_at"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a payment's timeline: its status, when it was reached (None: not yet) and
    ``state``: ``done``, ``now`` (the payment's current step), ``todo`` or ``bad`` (failed,
    returned, rejected, cancelled)."""

    status: str
    at: str | None
    state: str


def timeline(payment: dict[str, Any]) -> list[Step]:
    """requested -> verified -> SPM -> SP2D -> sent -> settled, or where the payment stopped."""
    status = payment["status"]
    ending = ENDINGS.get(status)
    steps: list[Step] = []
    for code, column in STEPS:
        at = payment.get(column)
        if ending is not None and status in ("rejected", "cancelled") and at is None:
            break  # stopped before this step: it will never come
        if status == "failed" and code == "settled":
            steps.append(Step("failed", payment.get("failed_at"), "bad"))
        state = "now" if code == status else "done" if at is not None else "todo"
        steps.append(Step(code, at, state))
    if status in ("returned", "rejected", "cancelled"):
        steps.append(Step(status, payment.get(ENDINGS[status]), "bad"))
    return steps


def taxes(payment: dict[str, Any]) -> list[dict[str, Any]]:
    """The taxes withheld from the payment (``deduction_detail``), each ``code``, ``name`` and
    ``amount`` (integer rupiah)."""
    detail = payment.get("deduction_detail") or "[]"
    found = json.loads(detail) if isinstance(detail, str) else detail
    return [{"code": d["code"], "name": tax_name(d["code"]), "amount": int(d["amount"])}
            for d in found]  # fmt: skip


def _shown(payment: dict[str, Any]) -> dict[str, Any]:
    return payment | {"timeline": timeline(payment), "taxes": taxes(payment)}


def _own(session: Session) -> str:
    vendor_id = session.principal.vendor_id
    if vendor_id is None:  # a vendor session always has its NPWP (web/session.py)
        raise NotFound("this session names no vendor")
    return str(vendor_id)


def _require_own_npwp(session: Session, npwp: str | None) -> None:
    """An NPWP in the address that is not the vendor's own: the API's answer for another vendor's
    statement, as if it did not exist (nothing about it is shown)."""
    if npwp is None or npwp == "":
        return
    try:
        number = normalise_npwp(npwp)
    except DomainError:
        number = None
    if number != session.principal.npwp:
        raise NotFound(f"no such vendor in pemda {session.principal.pemda}")


def _absent(session: Session) -> NotFound:
    who = session.principal
    return NotFound(f"no vendor with NPWP {who.npwp} in pemda {who.pemda}")


# -- my payments ---------------------------------------------------------------------------------
@router.get("/portal")
async def my_payments(
    request: Request,
    session: Vendor,
    offset: Offset = 0,
    status: Text = "",
    npwp: Text = "",
) -> Response:
    _require_own_npwp(session, npwp)
    who, vendor_id = session.principal, _own(session)
    refusal = None
    try:
        wanted = _status(status)
    except InvalidInput as error:
        refusal, wanted = Refusal.of(error), None

    def query(db: ReadDatabase) -> q.Statement | None:
        return q.statement(db, who.pemda, vendor_id, status=wanted, limit=PAGE_SIZE, offset=offset)

    found = await fetch(request, query)
    if found is None:
        raise _absent(session)
    base = "/portal" + (f"?{urlencode({'status': status})}" if status else "")
    return page(
        request,
        "portal.html",
        {
            "vendor": found.vendor,
            "totals": found.totals,
            "payments": [_shown(p) for p in found.payments],
            "status": status,
            "statuses": [s.value for s in Status],
            "refusal": refusal,
            "offset": offset,
            "limit": PAGE_SIZE,
            "base": base,
        },
        status=422 if refusal else 200,
    )


def _status(text: str) -> str | None:
    if not text:
        return None
    try:
        return Status(text).value
    except ValueError:
        raise InvalidInput(f"status {text!r} tidak dikenal") from None


# -- the statement ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Period:
    """The days a statement covers, in WIB, both inclusive (None: open)."""

    start: date | None
    end: date | None
    status: str | None

    @property
    def requested_from(self) -> datetime | None:
        return None if self.start is None else datetime.combine(self.start, time(), fmt.WIB)

    @property
    def requested_to(self) -> datetime | None:
        if self.end is None:
            return None
        return datetime.combine(self.end + timedelta(days=1), time(), fmt.WIB)

    def query(self) -> dict[str, str]:
        """The filter as the address's query, to link to the downloads and the next page."""
        values = {"dari": self.start, "sampai": self.end, "status": self.status}
        return {k: str(v) for k, v in values.items() if v is not None}


def period_of(start: str, end: str, status: str) -> Period:
    period = Period(
        fmt.parse_tanggal(start, "tanggal awal"),
        fmt.parse_tanggal(end, "tanggal akhir"),
        _status(status),
    )
    if period.start is not None and period.end is not None and period.start > period.end:
        raise InvalidInput("tanggal awal tidak boleh sesudah tanggal akhir")
    return period


def _statement(
    db: ReadDatabase, session: Session, period: Period, *, limit: int, offset: int
) -> q.Statement | None:
    who = session.principal
    return q.statement(
        db,
        who.pemda,
        _own(session),
        status=period.status,
        requested_from=period.requested_from,
        requested_to=period.requested_to,
        limit=limit,
        offset=offset,
        skpd=who.skpd,
    )


@router.get("/portal/rekening-koran")
async def my_statement(
    request: Request,
    session: Vendor,
    dari: Text = "",
    sampai: Text = "",
    status: Text = "",
    offset: Offset = 0,
    npwp: Text = "",
) -> Response:
    _require_own_npwp(session, npwp)
    refusal = None
    try:
        period = period_of(dari, sampai, status)
    except InvalidInput as error:
        # The input stays in the form; the statement is shown unfiltered under the message.
        refusal, period = Refusal.of(error), Period(None, None, None)

    def query(db: ReadDatabase) -> q.Statement | None:
        return _statement(db, session, period, limit=PAGE_SIZE, offset=offset)

    found = await fetch(request, query)
    if found is None:
        raise _absent(session)
    filters = period.query()
    return page(
        request,
        "portal_statement.html",
        {
            "vendor": found.vendor,
            "totals": found.totals,
            "payments": [_shown(p) for p in found.payments],
            "form": {"dari": dari, "sampai": sampai, "status": status},
            "statuses": [s.value for s in Status],
            "refusal": refusal,
            "offset": offset,
            "limit": PAGE_SIZE,
            "base": "/portal/rekening-koran" + (f"?{urlencode(filters)}" if filters else ""),
            "download": urlencode(filters),
        },
        status=422 if refusal else 200,
    )


# -- downloads -------------------------------------------------------------------------------------
def all_payments(db: ReadDatabase, session: Session, period: Period) -> q.Statement | None:
    """The whole statement of ``period`` (every page), in one answer."""
    first = _statement(db, session, period, limit=q.MAX_PAGE, offset=0)
    if first is None:
        return None
    if first.totals["payments"] > DOWNLOAD_LIMIT:
        raise InvalidInput(
            f"periode ini memuat {first.totals['payments']} pembayaran; unduhan paling banyak "
            f"{DOWNLOAD_LIMIT}: persempit periodenya"
        )
    payments = list(first.payments)
    while len(payments) < first.totals["payments"]:
        more = _statement(db, session, period, limit=q.MAX_PAGE, offset=len(payments))
        if more is None or not more.payments:
            break
        payments += more.payments
    return q.Statement(first.vendor, first.totals, payments)


def _day_wib(value: str | None) -> str:
    return "" if not value else fmt.local(value).date().isoformat()


def statement_table(found: q.Statement) -> tuple[list[str], list[list[Any]]]:
    """The statement as a table: a column per tax withheld anywhere in it; rupiah as integers,
    days in WIB (ISO 8601)."""
    codes = sorted({t["code"] for p in found.payments for t in taxes(p)})
    headers = ["no_spp", "no_spm", "no_sp2d", "status", "tanggal_spp", "bruto",
               *(f"potongan_{c.lower()}" for c in codes), "jumlah_potongan", "netto",
               "tanggal_masuk_rekening", "referensi_bank", "uraian"]  # fmt: skip
    rows: list[list[Any]] = []
    for p in found.payments:
        withheld = {t["code"]: t["amount"] for t in taxes(p)}
        rows.append(
            [sheets.cell(p["spp_number"]), sheets.cell(p["spm_number"]), sheets.cell(p["sp2d_number"]),
             p["status"], _day_wib(p["requested_at"]), int(p["gross"]),
             *(withheld.get(c, 0) for c in codes), int(p["deductions"]), int(p["net"]),
             _day_wib(p["settled_at"]), sheets.cell(p["bank_reference"]), sheets.cell(p["description"])]
        )  # fmt: skip
    return headers, rows


def statement_sheet(found: q.Statement, title: str | None = None) -> sheets.Table:
    headers, rows = statement_table(found)
    money = frozenset(h for h in headers if h in ("bruto", "jumlah_potongan", "netto")
                      or h.startswith("potongan_"))  # fmt: skip
    return sheets.Table("Rekening koran", headers, rows, money, title)


def statement_csv(found: q.Statement) -> bytes:
    return sheets.csv_bytes(statement_sheet(found))


def statement_xlsx(found: q.Statement, title: str) -> bytes:
    return sheets.xlsx_bytes(statement_sheet(found, title))


FORMATS: dict[str, tuple[str, Callable[[q.Statement, str], bytes]]] = {
    "csv": (sheets.CSV_MEDIA_TYPE, lambda found, _title: statement_csv(found)),
    "xlsx": (sheets.XLSX_MEDIA_TYPE, statement_xlsx),
}


@router.get("/portal/rekening-koran.{kind}")
async def download_statement(
    request: Request,
    session: Vendor,
    kind: str,
    dari: Text = "",
    sampai: Text = "",
    status: Text = "",
    npwp: Text = "",
) -> Response:
    if kind not in FORMATS:
        raise NotFound(f"no download as {kind}")
    _require_own_npwp(session, npwp)
    period = period_of(dari, sampai, status)
    media_type, render = FORMATS[kind]
    who = session.principal
    span = f"{period.start or 'awal'} s.d. {period.end or datetime.now(fmt.WIB).date().isoformat()}"

    def query(db: ReadDatabase) -> tuple[str, bytes] | None:
        found = all_payments(db, session, period)
        if found is None:
            return None
        title = f"Rekening koran {found.vendor['name']} (NPWP {who.npwp}), {span}"
        return title, render(found, title)

    made = await fetch(request, query)
    if made is None:
        raise _absent(session)
    name = f"rekening-koran-{who.npwp}-{period.start or 'awal'}-{period.end or 'kini'}.{kind}"
    return Response(
        made[1],
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- Beranda ---------------------------------------------------------------------------------------
def cards(db: ReadDatabase, session: Session, now: datetime) -> list[Card]:
    """The vendor's payments under way, and those settled this month (WIB) with their net."""
    who = session.principal
    if who.role is not Role.VENDOR or who.vendor_id is None:
        return []
    month = now.astimezone(fmt.WIB).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    counts = q.vendor_progress(db, who.pemda, str(who.vendor_id), settled_from=month)
    return [
        Card("Pembayaran dalam proses", counts["under_way"], "/portal"),
        Card(
            f"Berhasil masuk rekening bulan {fmt.bulan(month.month)}",
            counts["settled"],
            "/portal?status=settled",
            note=f"Netto {fmt.rupiah(counts['settled_net'])}",
        ),
    ]
