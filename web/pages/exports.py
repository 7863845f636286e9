"""Files for other systems, for BPKAD, the Kuasa BUD and the auditor (``auth.EXPORT``, as the API's
``/pemda/{p}/exports``): the LRA in SIPD's layout, downloaded from the LRA page for the year and
day it shows (``/lra/sipd.csv``, ``/lra/sipd.xlsx``), and the taxes withheld in a month
(``/pajak``): per vendor, tax and rate, the base, the rate and the tax, with the SP2D behind each
row, and the month's file for e-Bupot Unifikasi (``/pajak/ebupot.csv``, ``.xlsx``).

The figures are ``projections.tax`` and ``projections.queries``' and the files ``exports``', as
the API and ``kasda ebupot`` / ``kasda export-sipd`` give them. The forms only choose a period
(GET, nothing is written). NPWP are shown in full: these pages are behind sign-in, for the tax
office's report. A period that does not exist (a year out of range, a month not 1..12, a day not
a date, still to come or before the year) is refused with a sentence (422), and nothing is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import auth
from exports import ebupot, sipd
from exports.sheets import MEDIA_TYPES
from ledger.errors import InvalidInput, NotFound
from ledger.fields import MAX_YEAR, MIN_YEAR
from projections import queries as q
from projections import tax
from projections.db import ReadDatabase
from web import format as fmt
from web.deps import Need, fetch
from web.messages import Refusal
from web.nav import NavItem
from web.pages.lra import asked, day_problem, today_of
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
Exporter = Annotated[Session, Depends(Need.like(auth.EXPORT))]
NAV = [NavItem("Pajak (e-Bupot)", "/pajak", frozenset(auth.EXPORT.roles))]
PAGES = {role: ["/pajak"] for role in auth.EXPORT.roles}
Text = Annotated[str | None, Query(max_length=20)]


def _kind(kind: str) -> str:
    if kind not in MEDIA_TYPES:
        raise NotFound(f"tidak ada unduhan berformat {kind!r}; pilih csv atau xlsx")
    return kind


def _download(made: bytes, kind: str, name: str) -> Response:
    return Response(
        made,
        media_type=MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- the LRA in SIPD's layout --------------------------------------------------------------------
@router.get("/lra/sipd.{kind}")
async def sipd_download(
    request: Request, session: Exporter, kind: str, tahun: Text = None, per: Text = None
) -> Response:
    kind = _kind(kind)
    wanted, today = asked(tahun, per), today_of(request)
    pemda = session.principal.pemda
    year = wanted.year if wanted.year is not None else today.year
    problem = wanted.problem or day_problem(wanted.as_of, year, today)
    if problem is not None:
        raise InvalidInput(problem)

    def build(db: ReadDatabase) -> bytes:
        lines = q.lra_lines(db, pemda, year, wanted.as_of)
        if lines.is_empty():
            raise NotFound(f"APBD {year} belum tercatat")
        final = q.year_closed(db, pemda, year, wanted.as_of) is not None
        return sipd.render(kind, lines, pemda, year, wanted.as_of, q.position(db), final)

    made = await fetch(request, build)
    return _download(made, kind, sipd.filename(pemda, year, wanted.as_of, kind))


# -- the taxes withheld in a month ---------------------------------------------------------------
@dataclass
class TaxView:
    """The month a reader asked for (as typed, kept in the form) and what it holds."""

    tahun: str
    bulan: str
    years: list[int] = field(default_factory=list)
    year: int = 0
    month: int = 0
    problem: str | None = None
    found: tax.TaxMonth | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: list[tuple[str, str, int]] = field(default_factory=list)  # code, name, amount

    def params(self) -> str:
        return urlencode({"tahun": self.year, "bulan": self.month})


def period_of(tahun: str | None, bulan: str | None, today: date) -> TaxView:
    """The year and month asked for; without them the month before ``today`` (the one whose
    taxes are due by the 10th)."""
    shown = TaxView((tahun or "").strip(), (bulan or "").strip())
    last = date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)
    shown.year, shown.month = last.year, last.month
    if shown.tahun:
        if not shown.tahun.isdigit() or not MIN_YEAR <= int(shown.tahun) <= MAX_YEAR:
            shown.problem = f"Tahun pajak tidak valid: {shown.tahun!r}."
            return shown
        shown.year = int(shown.tahun)
    if shown.bulan:
        if not shown.bulan.isdigit() or not 1 <= int(shown.bulan) <= 12:
            shown.problem = f"Masa pajak (bulan) tidak valid: {shown.bulan!r}; pilih 1 sampai 12."
            return shown
        shown.month = int(shown.bulan)
    return shown


def _rows(found: tax.TaxMonth) -> list[dict[str, Any]]:
    return [
        {
            "group": g,
            "name": tax.tax_name(g.code),
            "ebupot": g.code in ebupot.EBUPOT,
        }
        for g in found.by_vendor()
    ]


def _read(db: ReadDatabase, pemda: str, shown: TaxView) -> TaxView:
    shown.years = q.budget_years(db, pemda)
    if shown.problem is None:
        shown.found = tax.withheld(db, pemda, shown.year, shown.month)
        shown.rows = _rows(shown.found)
        shown.totals = [(c, tax.tax_name(c), a) for c, a in shown.found.totals().items()]
    return shown


@router.get("/pajak")
async def taxes_page(
    request: Request, session: Exporter, tahun: Text = None, bulan: Text = None
) -> Response:
    pemda = session.principal.pemda
    wanted = period_of(tahun, bulan, today_of(request))
    shown = await fetch(request, lambda db: _read(db, pemda, wanted))
    refusal = None if shown.problem is None else Refusal("invalid_input", shown.problem, 422)
    context = {
        "view": shown,
        "refusal": refusal,
        "months": list(enumerate(fmt.MONTHS, start=1)),
        "year_choices": sorted({*shown.years, shown.year}),
        "due": _due(shown),
    }
    return page(request, "pajak.html", context, status=422 if refusal else 200)


def _due(shown: TaxView) -> date | None:
    """The 10th of the month after the one shown: when its withheld PPh is due."""
    if shown.problem is not None:
        return None
    return date(shown.year + shown.month // 12, shown.month % 12 + 1, 10)


@router.get("/pajak/ebupot.{kind}")
async def ebupot_download(
    request: Request, session: Exporter, kind: str, tahun: Text = None, bulan: Text = None
) -> Response:
    kind = _kind(kind)
    pemda = session.principal.pemda
    wanted = period_of(tahun, bulan, today_of(request))
    if wanted.problem is not None:
        raise InvalidInput(wanted.problem)

    def build(db: ReadDatabase) -> tuple[bytes, str]:
        found = tax.withheld(db, pemda, wanted.year, wanted.month)
        return ebupot.render(kind, found), ebupot.filename(found, kind)

    made, name = await fetch(request, build)
    return _download(made, kind, name)
