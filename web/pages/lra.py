"""The LRA (Laporan Realisasi Anggaran): a dashboard of realisation per SKPD and per month against
anggaran (a chart with its table beside it), and the report at any level and as of any day,
drilling down SKPD -> program -> kegiatan -> sub kegiatan -> rekening (or akun -> kelompok -> jenis
-> objek -> rincian objek -> rekening), each row a link to the next level.

Who may read it, and which SKPD, is the API's ``GET /pemda/{p}/lra`` (``api/routes/reports.py``):
the roles of ``auth.READ_BOOKS``; an official of one SKPD reads its own SKPD only, and another SKPD
named in the address is refused as the API refuses it (403 ``skpd_scope``). The figures are
``projections.queries``' (``lra_lines``, ``within``, ``rollup``, ``lra_jumlah``, ``lra_months``),
so they equal the API's report for the same data and day. A past day is served as the API serves
it: ``lra_lines(..., as_of=<day>)``, the end of that day in the pemda's time zone. A day after
today or before the fiscal year is refused with a plain sentence, and nothing is shown."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api import auth
from ledger.codes import normalise_skpd
from ledger.fields import MAX_YEAR, MIN_YEAR
from projections import nomenclature
from projections import queries as q
from projections.db import ReadDatabase
from web import charts
from web import format as fmt
from web.deps import Need, fetch
from web.messages import Refusal
from web.nav import NavItem
from web.render import page
from web.session import Session

router = APIRouter(include_in_schema=False)
Reader = Annotated[Session, Depends(Need.like(auth.READ_BOOKS))]
NAV = [NavItem("LRA", "/lra", frozenset(auth.READ_BOOKS.roles))]
PAGES = {role: ["/lra", "/lra/laporan"] for role in auth.READ_BOOKS.roles}

LEVEL_NAMES = {
    "skpd": "SKPD",
    "program": "Program",
    "kegiatan": "Kegiatan",
    "subkegiatan": "Sub kegiatan",
    "akun": "Akun",
    "kelompok": "Kelompok",
    "jenis": "Jenis",
    "objek": "Objek",
    "rincian": "Rincian objek",
    "rekening": "Rekening",
}
# Each level's next one down: the organisation and programme path, and the account path.
DRILL = {
    "skpd": "program",
    "program": "kegiatan",
    "kegiatan": "subkegiatan",
    "subkegiatan": "rekening",
    "akun": "kelompok",
    "kelompok": "jenis",
    "jenis": "objek",
    "objek": "rincian",
    "rincian": "rekening",
}
SIDE_NAMES = {
    "pendapatan": "Pendapatan",
    "belanja": "Belanja",
    "penerimaan_pembiayaan": "Penerimaan pembiayaan",
    "pengeluaran_pembiayaan": "Pengeluaran pembiayaan",
    "ringkasan": "",
}
CHART_SIDES = ("belanja", "pendapatan")
PAGE_ROWS = 100
MAX_CODE = 40  # the longest kode a filter may name (the API's SKPD parameter's limit)

YearText = Annotated[str | None, Query(max_length=8)]
DayText = Annotated[str | None, Query(max_length=20)]
CodeText = Annotated[str | None, Query(max_length=MAX_CODE)]


@dataclass(frozen=True, slots=True)
class Asked:
    """The year and day an address asks for, as typed (kept in the form) and as read."""

    tahun: str
    per: str
    year: int | None = None
    as_of: date | None = None
    problem: str | None = None


def asked(tahun: str | None, per: str | None) -> Asked:
    tahun, per = (tahun or "").strip(), (per or "").strip()
    year: int | None = None
    if tahun:
        if not tahun.isdigit() or not MIN_YEAR <= int(tahun) <= MAX_YEAR:
            return Asked(tahun, per, problem=f"Tahun anggaran tidak valid: {tahun!r}.")
        year = int(tahun)
    if not per:
        return Asked(tahun, per, year)
    try:
        return Asked(tahun, per, year, date.fromisoformat(per))
    except ValueError:
        return Asked(tahun, per, year, problem=f"Tanggal tidak valid: {per!r}. Contoh: 2026-03-31.")


def day_problem(as_of: date | None, year: int, today: date) -> str | None:
    """Why ``as_of`` cannot be shown for ``year`` (None: it can): a day still to come, or a day
    before the fiscal year began."""
    if as_of is None:
        return None
    if as_of > today:
        return (
            f"Tanggal {fmt.tanggal(as_of)} belum tiba; LRA dapat dilihat per tanggal paling akhir "
            f"hari ini ({fmt.tanggal(today)})."
        )
    if as_of < date(year, 1, 1):
        return (
            f"Tanggal {fmt.tanggal(as_of)} sebelum tahun anggaran {year}; pilih tanggal mulai "
            f"{fmt.tanggal(date(year, 1, 1))}."
        )
    return None


def today_of(request: Request) -> date:
    """Today in the pemda's time zone (the read models' days are in it)."""
    return datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()


@dataclass
class View:
    """What a page of the LRA shows: the period asked for and, unless it was refused, the
    figures (``content``)."""

    asked: Asked
    year: int
    years: list[int]
    today: date
    problem: str | None = None
    content: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] | None = None  # the year was closed by then (tutup tahun): final

    @property
    def as_of(self) -> date | None:
        return self.asked.as_of

    def period(self) -> dict[str, str]:
        """The address parameters of the period shown (for links that keep it)."""
        chosen = {"tahun": str(self.year)}
        if self.as_of is not None:
            chosen["per"] = self.as_of.isoformat()
        return chosen


def view_of(db: ReadDatabase, pemda: str, wanted: Asked, today: date) -> View:
    years = q.budget_years(db, pemda)
    default = today.year if today.year in years or not years else years[-1]
    year = wanted.year if wanted.year is not None else default
    problem = wanted.problem or day_problem(wanted.as_of, year, today)
    final = None if problem else q.year_closed(db, pemda, year, wanted.as_of)
    return View(wanted, year, years, today, problem, final=final)


def scope(session: Session, skpd: str | None) -> str | None:
    """The SKPD whose lines a reader sees, as the API's report decides it: the official's own
    (naming another is ``skpd_scope``, 403), else the one named, else all (None)."""
    who = session.principal
    unit = None if skpd is None or not skpd.strip() else normalise_skpd(skpd)
    if who.skpd is not None:
        if unit is not None:
            who.require_skpd(unit, "the LRA")
        unit = who.skpd
    return unit


def link(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


# -- the dashboard -----------------------------------------------------------------------------
def by_skpd(lines: pl.DataFrame, side: str, shown: View) -> dict[str, Any]:
    rows = [
        {
            **r,
            "link": link(
                "/lra/laporan", {**shown.period(), "skpd": r["kode"], "tingkat": "program"}
            ),
        }
        for r in q.rollup(lines, "skpd").filter(pl.col("side") == side).iter_rows(named=True)
    ]
    bars = [
        charts.Bar(r["uraian"], r["anggaran"], r["realisasi"], fmt.persen(r["persen_bp"]))
        for r in rows
    ]
    title = f"{SIDE_NAMES[side]} per SKPD: anggaran dan realisasi"
    chart = charts.horizontal_bars(
        "grafik-skpd", title, f"{title}, {len(rows)} SKPD. Angkanya ada di tabel di samping.", bars
    )
    return {"rows": rows, "chart": chart, "title": title}


def month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def by_month(db: ReadDatabase, pemda: str, unit: str | None, side: str, shown: View) -> Any:
    until = shown.as_of or shown.today
    frame = q.lra_months(db, pemda, shown.year, shown.as_of, skpd=unit).filter(
        pl.col("side") == side
    )
    frame = frame.with_columns(q.persen_bp(pl.col("realisasi"), pl.col("anggaran")))
    rows = []
    for r in frame.iter_rows(named=True):
        end = min(month_end(shown.year, r["month"]), until)
        rows.append(
            {
                **r,
                "bulan": fmt.bulan(r["month"]),
                "sampai": end,
                "link": link("/lra/laporan", {"tahun": str(shown.year), "per": end.isoformat()}),
            }
        )
    bars = [
        charts.Bar(
            fmt.SHORT_MONTHS[r["month"] - 1],
            r["anggaran"],
            r["realisasi"],
            fmt.persen(r["persen_bp"]),
        )
        for r in rows
    ]
    title = f"{SIDE_NAMES[side]} per bulan: anggaran dan realisasi kumulatif"
    chart = charts.vertical_bars(
        "grafik-bulan", title, f"{title}, s.d. akhir tiap bulan. Angkanya ada di tabel.", bars
    )
    return {"rows": rows, "chart": chart, "title": title}


def dashboard(
    db: ReadDatabase, session: Session, wanted: Asked, side: str, today: date, unit: str | None
) -> View:
    pemda = session.principal.pemda
    shown = view_of(db, pemda, wanted, today)
    if shown.problem is not None:
        return shown
    lines = q.lra_lines(db, pemda, shown.year, shown.as_of, skpd=unit)
    if lines.is_empty():
        return shown
    shown.content = {
        "jumlah": list(q.lra_jumlah(lines).iter_rows(named=True)),
        "skpd": by_skpd(lines, side, shown),
        "months": by_month(db, pemda, unit, side, shown),
    }
    return shown


@router.get("/lra")
async def lra_dashboard(
    request: Request,
    session: Reader,
    tahun: YearText = None,
    per: DayText = None,
    sisi: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    side = sisi if sisi in CHART_SIDES else "belanja"
    unit = scope(session, None)
    wanted, today = asked(tahun, per), today_of(request)
    shown = await fetch(request, lambda db: dashboard(db, session, wanted, side, today, unit))
    tabs = [(s, SIDE_NAMES[s], link("/lra", {**shown.period(), "sisi": s})) for s in CHART_SIDES]
    context = {
        "view": shown,
        "side": side,
        "tabs": tabs,
        "report": link("/lra/laporan", shown.period()),
        "sipd": sipd_links(session, shown.period()),
    }
    return _answer(request, "lra.html", shown, unit, context)


def sipd_links(session: Session, period: dict[str, str]) -> dict[str, str]:
    """The LRA of ``period`` (its address parameters) in SIPD's layout
    (``web.pages.exports``), for the roles that may take it (``auth.EXPORT``); none for the
    others."""
    if session.principal.role not in auth.EXPORT.roles:
        return {}
    return {kind: link(f"/lra/sipd.{kind}", period) for kind in ("csv", "xlsx")}


def _answer(
    request: Request, template: str, shown: View, unit: str | None, context: dict[str, Any]
) -> Response:
    """The page, or the period's refusal on it (422, the typed year and day kept in the form)."""
    refusal = None if shown.problem is None else Refusal("invalid_input", shown.problem, 422)
    unit_name = None if unit is None else nomenclature.uraian("skpd", unit)
    context |= {"refusal": refusal, "unit": unit, "unit_name": unit_name}
    return page(request, template, context, status=422 if refusal else 200)


# -- the report at any level -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Drill:
    """Where in the report a reader is: the level of the rows and the rows above them."""

    level: str
    path: tuple[tuple[str, str], ...]  # (level, kode) from the top, the SKPD first

    def params(self) -> dict[str, str]:
        return dict(self.path)

    def crumbs(self, shown: View) -> Iterator[dict[str, str]]:
        """The way back up: every level above, each a link to its own rows."""
        above: dict[str, str] = {}
        yield {
            "label": "Semua",
            "link": link(
                "/lra/laporan",
                {**shown.period(), "tingkat": self.path[0][0] if self.path else "skpd"},
            ),
        }
        for level, kode in self.path:
            above[level] = kode
            name = nomenclature.uraian(level, kode)
            yield {
                "label": f"{LEVEL_NAMES[level]} {kode} {name}",
                "link": link(
                    "/lra/laporan", {**shown.period(), **above, "tingkat": DRILL.get(level, level)}
                ),
            }


FILTERS = (
    "skpd",
    "program",
    "kegiatan",
    "subkegiatan",
    "akun",
    "kelompok",
    "jenis",
    "objek",
    "rincian",
)


def report_rows(lines: pl.DataFrame, drill: Drill, shown: View) -> list[dict[str, Any]]:
    following = DRILL.get(drill.level)
    rows = []
    for r in q.rollup(lines, drill.level).iter_rows(named=True):
        target = None
        if following is not None:
            target = link(
                "/lra/laporan",
                {**shown.period(), **drill.params(), drill.level: r["kode"], "tingkat": following},
            )
        rows.append({**r, "link": target, "side_name": SIDE_NAMES[r["side"]]})
    return rows


def report(
    db: ReadDatabase, session: Session, wanted: Asked, drill: Drill, today: date, unit: str | None
) -> View:
    pemda = session.principal.pemda
    shown = view_of(db, pemda, wanted, today)
    if shown.problem is not None:
        return shown
    lines = q.lra_lines(db, pemda, shown.year, shown.as_of, skpd=unit)
    for level, kode in drill.path:
        if level != "skpd":  # the SKPD is lra_lines' own filter, as in the API
            lines = q.within(lines, level, kode)
    if lines.is_empty():
        return shown
    shown.content = {
        "rows": report_rows(lines, drill, shown),
        "jumlah": list(q.lra_jumlah(lines).iter_rows(named=True)),
        "note": q.SIGN_NOTE,
    }
    return shown


@router.get("/lra/laporan")
async def lra_report(
    request: Request,
    session: Reader,
    tahun: YearText = None,
    per: DayText = None,
    tingkat: Annotated[str | None, Query(max_length=20)] = None,
    skpd: CodeText = None,
    program: CodeText = None,
    kegiatan: CodeText = None,
    subkegiatan: CodeText = None,
    akun: CodeText = None,
    kelompok: CodeText = None,
    jenis: CodeText = None,
    objek: CodeText = None,
    rincian: CodeText = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    unit = scope(session, skpd)
    named = dict(
        zip(
            FILTERS,
            (skpd, program, kegiatan, subkegiatan, akun, kelompok, jenis, objek, rincian),
            strict=True,
        )
    )
    if unit is not None:
        named["skpd"] = unit
    path = tuple((level, kode.strip()) for level, kode in named.items() if kode and kode.strip())
    level = tingkat if tingkat in q.LEVELS else "skpd"
    wanted, today = asked(tahun, per), today_of(request)
    if tingkat not in (None, "", *q.LEVELS):
        wanted = Asked(wanted.tahun, wanted.per, problem=f"Tingkat tidak dikenal: {tingkat!r}.")
    drill = Drill(level, path)
    shown = await fetch(request, lambda db: report(db, session, wanted, drill, today, unit))
    rows = shown.content.get("rows", [])
    context = {
        "view": shown,
        "drill": drill,
        "levels": LEVEL_NAMES,
        "crumbs": list(drill.crumbs(shown)),
        "page_rows": rows[offset : offset + PAGE_ROWS],
        "total": len(rows),
        "limit": PAGE_ROWS,
        "offset": offset,
        "base": link("/lra/laporan", {**shown.period(), **drill.params(), "tingkat": level}),
    }
    return _answer(request, "lra_laporan.html", shown, unit, context)
