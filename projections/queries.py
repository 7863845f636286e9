"""Reading the read models: the LRA at any level and any day, vendor statements, the RKUD's cash
position, approval queues, and the lists the API serves (payments, vendors, budget lines,
reconciliation runs and their exceptions, who owns an aggregate). Every function is scoped to one
pemda, and those that show an SKPD's lines or payments take ``skpd`` too (an official of one SKPD
sees its own only, see ``ledger.roles``): a payment's SKPD is its budget line's
(``proj_lra_line``). Nothing here writes.

Results are Polars frames with integer rupiah columns (``Int64``). The percentage of realisation is
kept in basis points (``persen_bp``, an integer: 8,512 means 85.12%) so that no float is ever
computed from money; formatting it is the edge's job. Lists are pages of dicts, their sealed
columns opened by ``Sealer.opened`` (``projections/sealing.py``), the one place that opens them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from ledger import ids
from ledger.codes import normalise_skpd
from ledger.errors import InvalidInput
from ledger.vendor import normalise_npwp
from projections import nomenclature
from projections.db import Cursor, ReadDatabase
from projections.queues import WAITING_FOR
from projections.runner import NAME as PROJECTION

MAX_PAGE = 1_000

LEVELS = {
    # level: (what it groups by, from which column, how many dot-separated segments)
    "skpd": ("skpd", "skpd", None),
    "program": ("program", "sub_kegiatan", 3),
    "kegiatan": ("kegiatan", "sub_kegiatan", 5),
    "subkegiatan": ("sub_kegiatan", "sub_kegiatan", None),
    "akun": ("akun", "rekening", 1),
    "kelompok": ("kelompok", "rekening", 2),
    "jenis": ("jenis", "rekening", 3),
    "objek": ("objek", "rekening", 4),
    "rincian": ("rincian_objek", "rekening", 5),
    "rekening": ("rekening", "rekening", None),
}
SIDES = ("pendapatan", "belanja", "penerimaan_pembiayaan", "pengeluaran_pembiayaan")
INCOME_SIDES = ("pendapatan", "penerimaan_pembiayaan")
# The sign of lebih/(kurang), written beside every rendering of the report.
SIGN_NOTE = (
    "Lebih/(Kurang): pendapatan dan penerimaan pembiayaan = realisasi - anggaran; belanja dan "
    "pengeluaran pembiayaan = anggaran - realisasi; surplus/(defisit), pembiayaan netto dan SiLPA "
    "= realisasi - anggaran. Positif: pendapatan melampaui target, belanja di bawah pagu; angka "
    "dalam kurung negatif."
)
# The totals rows (jumlah) below the report: (side or "ringkasan", key, uraian).
JUMLAH = (
    ("pendapatan", "pendapatan", "JUMLAH PENDAPATAN"),
    ("belanja", "belanja", "JUMLAH BELANJA"),
    ("ringkasan", "surplus_defisit", "SURPLUS/(DEFISIT)"),
    ("penerimaan_pembiayaan", "penerimaan_pembiayaan", "JUMLAH PENERIMAAN PEMBIAYAAN"),
    ("pengeluaran_pembiayaan", "pengeluaran_pembiayaan", "JUMLAH PENGELUARAN PEMBIAYAAN"),
    ("ringkasan", "pembiayaan_netto", "PEMBIAYAAN NETTO"),
    ("ringkasan", "silpa", "SISA LEBIH PEMBIAYAAN ANGGARAN (SiLPA)"),
)

LINE_SCHEMA = {
    "line_id": pl.Utf8,
    "skpd": pl.Utf8,
    "sub_kegiatan": pl.Utf8,
    "rekening": pl.Utf8,
    "uraian": pl.Utf8,
    "blocked": pl.Boolean,
    "anggaran": pl.Int64,
    "committed": pl.Int64,
    "realisasi": pl.Int64,
}


def side_of_rekening() -> pl.Expr:
    """The side of the LRA a kode rekening belongs to (akun 4, 5, 6.1, 6.2)."""
    rek = pl.col("rekening")
    return (
        pl.when(rek.str.starts_with("4"))
        .then(pl.lit("pendapatan"))
        .when(rek.str.starts_with("5"))
        .then(pl.lit("belanja"))
        .when(rek.str.starts_with("6.1"))
        .then(pl.lit("penerimaan_pembiayaan"))
        .otherwise(pl.lit("pengeluaran_pembiayaan"))
    )


def _of_skpd(column: str, pemda: str, skpd: str | None) -> tuple[str, list[Any]]:
    """A condition (and its parameters) keeping the rows whose ``column`` (a line id) is a line of
    ``skpd`` in ``pemda``; no condition for ``skpd=None`` (a pemda-wide reader)."""
    if skpd is None:
        return "", []
    return (
        # ``column`` is one of this module's own column names, never input.
        f" AND {column} IN (SELECT line_id FROM proj_lra_line WHERE pemda = ? AND skpd = ?)",  # noqa: S608
        [pemda, skpd],
    )


def lra_lines(
    db: ReadDatabase,
    pemda: str,
    year: int,
    as_of: date | None = None,
    *,
    skpd: str | None = None,
) -> pl.DataFrame:
    """Every budget line with anggaran, committed and realisasi, now or at the end of ``as_of``
    (a calendar day in the pemda's time zone); only one SKPD's lines if ``skpd`` is given (its
    code, normalised here: ``InvalidCode`` if it is not one)."""
    only: str = ""
    params: tuple[str, ...] = ()  # the filter is a fixed text; the code goes in as a parameter
    if skpd is not None:
        only, params = " AND l.skpd = ?", (normalise_skpd(skpd),)
    with db.transaction(write=False) as cursor:
        if as_of is None:
            rows = cursor.fetchall(
                "SELECT line_id, skpd, sub_kegiatan, rekening, uraian, blocked, pagu, committed,"  # noqa: S608
                " realised + revenue FROM proj_lra_line l WHERE pemda = ? AND year = ?"
                f"{only} ORDER BY rekening, skpd, sub_kegiatan",
                (pemda, year, *params),
            )
        else:
            day = as_of.isoformat()
            rows = cursor.fetchall(
                "SELECT l.line_id, l.skpd, l.sub_kegiatan, l.rekening, l.uraian, 0,"  # noqa: S608
                " SUM(m.pagu), SUM(m.committed), SUM(m.realised) + SUM(m.revenue)"
                " FROM proj_lra_line l JOIN proj_lra_movement m ON m.line_id = l.line_id"
                " WHERE l.pemda = ? AND l.year = ? AND l.allocated_on <= ? AND m.day <= ?"
                f"{only} GROUP BY l.line_id, l.skpd, l.sub_kegiatan, l.rekening, l.uraian"
                " ORDER BY l.rekening, l.skpd, l.sub_kegiatan",
                (pemda, year, day, day, *params),
            )
    frame = pl.DataFrame(
        [(r[0], r[1], r[2], r[3], r[4], bool(r[5]), int(r[6]), int(r[7]), int(r[8])) for r in rows],
        schema=LINE_SCHEMA,
        orient="row",
    )
    return frame.with_columns(side_of_rekening().alias("side"))


def year_closed(
    db: ReadDatabase, pemda: str, year: int, as_of: date | None = None
) -> dict[str, Any] | None:
    """The close of ``year`` (tutup tahun: its LRA is final, with its SiLPA), or None while the year
    is open; as of the end of ``as_of``, if given (an LRA as of a day before the close is not final)."""
    with db.transaction(write=False) as cursor:
        row = cursor.fetchone(
            f"SELECT {', '.join(CLOSED_YEAR_COLUMNS)} FROM proj_lra_year"  # noqa: S608
            " WHERE pemda = ? AND year = ?",
            (pemda, year),
        )
    if row is None or (as_of is not None and str(row[1]) > as_of.isoformat()):
        return None
    return dict(zip(CLOSED_YEAR_COLUMNS, row, strict=True))


CLOSED_YEAR_COLUMNS = ("closed_at", "closed_on", "document", "silpa", "pendapatan",
                       "penerimaan_pembiayaan", "belanja", "pengeluaran_pembiayaan", "lapsed",
                       "lapsed_amount", "carried", "carried_amount")  # fmt: skip


def lra(
    db: ReadDatabase,
    pemda: str,
    year: int,
    *,
    level: str,
    as_of: date | None = None,
    skpd: str | None = None,
) -> pl.DataFrame:
    """The LRA rolled up to ``level``: side, kode, uraian, anggaran, committed, realisasi,
    lebih_kurang (realisasi - anggaran for income, anggaran - realisasi for spending), persen_bp."""
    return rollup(lra_lines(db, pemda, year, as_of, skpd=skpd), level)


def rollup(lines: pl.DataFrame, level: str) -> pl.DataFrame:
    if level not in LEVELS:
        raise InvalidInput(f"unknown LRA level {level!r}; use one of {', '.join(LEVELS)}")
    grouped = (
        lines.lazy()
        .with_columns(_kode(level).alias("kode"))
        .group_by("side", "kode")
        .agg(
            pl.col("anggaran").sum(),
            pl.col("committed").sum(),
            pl.col("realisasi").sum(),
            pl.col("uraian").first().alias("line_uraian"),
            pl.len().alias("lines"),
        )
    )
    # Lines carry the uraian of their own kode rekening (as the budget recorded it); every other
    # level is named from the shipped code list, with a placeholder for a code not in it.
    if level == "rekening":
        uraian = pl.col("line_uraian")
    else:
        named = nomenclature.names()[level]
        uraian = pl.col("kode").replace_strict(
            {**named, "-": nomenclature.NO_SUB_KEGIATAN},
            default=pl.lit(nomenclature.MISSING),
            return_dtype=pl.String,
        )
    spending = pl.col("side").is_in(["belanja", "pengeluaran_pembiayaan"])
    return (
        grouped.with_columns(
            uraian.alias("uraian"),
            pl.when(spending)
            .then(pl.col("anggaran") - pl.col("realisasi"))
            .otherwise(pl.col("realisasi") - pl.col("anggaran"))
            .alias("lebih_kurang"),
            persen_bp(pl.col("realisasi"), pl.col("anggaran")),
            pl.col("side").replace_strict({s: i for i, s in enumerate(SIDES)}).alias("_order"),
        )
        .sort("_order", "kode")
        .select(
            "side",
            "kode",
            "uraian",
            "anggaran",
            "committed",
            "realisasi",
            "lebih_kurang",
            "persen_bp",
            "lines",
        )
        # A report is a few hundred lines: the streaming engine's fixed cost (Polars 2's default)
        # was most of the time (2.3 ms against 0.9 ms for 294 lines), and the API recomputes an
        # LRA whenever the read models move.
        .collect(engine="in-memory")
    )


def _kode(level: str) -> pl.Expr:
    """A line's code at ``level``: the row of the report it rolls up into."""
    _, source, segments = LEVELS[level]
    column = pl.col(source).fill_null("-")
    return column if segments is None else column.str.split(".").list.head(segments).list.join(".")


def kode_of(level: str) -> pl.Expr:
    """A budget line's code at ``level`` (one of ``LEVELS``), as ``rollup`` groups it: the code of
    every level above a line, for layouts that carry the whole hierarchy on each line."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown LRA level {level!r}; use one of {', '.join(LEVELS)}")
    return _kode(level)


def within(lines: pl.DataFrame, level: str, kode: str) -> pl.DataFrame:
    """The lines that roll up into the row ``kode`` of ``level`` (as ``rollup`` groups them): the
    lines under one row of the report, to drill down into."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown LRA level {level!r}; use one of {', '.join(LEVELS)}")
    return lines.filter(_kode(level) == kode)


def lra_months(
    db: ReadDatabase,
    pemda: str,
    year: int,
    as_of: date | None = None,
    *,
    skpd: str | None = None,
) -> pl.DataFrame:
    """Per side, at the end of each month of ``year``: the cumulative anggaran and realisasi and
    the month's own realisasi (``realisasi_bulan``); up to the month of ``as_of`` (the end of that
    day in the pemda's time zone, as in ``lra_lines``), or without it up to the last month with a
    movement. At the end of a month the cumulative sums equal
    ``lra_totals(lra_lines(..., as_of=<its last day>))``; a month of another year folds into the
    nearest month of ``year``."""
    day = "9999-12-31" if as_of is None else as_of.isoformat()
    with db.transaction(write=False) as cursor:
        moves = month_moves(cursor, pemda, year, day, skpd=skpd)
    if as_of is None:
        last = int(moves["month"].max() or 0)  # type: ignore[arg-type]
    else:
        last = 12 if as_of.year > year else (as_of.month if as_of.year == year else 0)
    grid = pl.DataFrame(
        [(side, month) for side in SIDES for month in range(1, last + 1)],
        schema={"side": pl.Utf8, "month": pl.Int64},
        orient="row",
    )
    return cumulative(grid, moves, ("side",)).select(
        "side", "month", "anggaran", "realisasi", "realisasi_bulan"
    )


def month_moves(
    cursor: Cursor,
    pemda: str,
    year: int,
    day: str,
    *,
    skpd: str | None = None,
    per_skpd: bool = False,
) -> pl.DataFrame:
    """Per kode rekening (and SKPD, with ``per_skpd``) and month of ``year``: the pagu moved
    (``anggaran``) and the month's realisasi (``realisasi_bulan``) of the lines allocated by
    ``day`` (``YYYY-MM-DD``), from their movements up to ``day``, with the rekening's ``side``; a
    month of another year folds into the nearest month of ``year`` (``month_of``). Read in the
    caller's transaction, so that other reads (the log position) agree with it."""
    only: str = ""
    params: tuple[str, ...] = ()
    if skpd is not None:
        only, params = " AND l.skpd = ?", (normalise_skpd(skpd),)
    keys = ("skpd", "rekening") if per_skpd else ("rekening",)
    grouped = ", ".join(f"l.{k}" for k in keys)
    rows = cursor.fetchall(
        f"SELECT {grouped}, substr(m.day, 1, 7), SUM(m.pagu), SUM(m.realised) + SUM(m.revenue)"  # noqa: S608
        " FROM proj_lra_line l JOIN proj_lra_movement m ON m.line_id = l.line_id"
        " WHERE l.pemda = ? AND l.year = ? AND l.allocated_on <= ? AND m.day <= ?"
        f"{only} GROUP BY {grouped}, substr(m.day, 1, 7)",
        (pemda, year, day, day, *params),
    )
    n = len(keys)
    return pl.DataFrame(
        [(*r[:n], month_of(str(r[n]), year), int(r[n + 1]), int(r[n + 2])) for r in rows],
        schema={**dict.fromkeys(keys, pl.Utf8), "month": pl.Int64, "anggaran": pl.Int64,
                "realisasi_bulan": pl.Int64},
        orient="row",
    ).with_columns(side_of_rekening().alias("side"))  # fmt: skip


def cumulative(grid: pl.DataFrame, moves: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """``moves`` (``month_moves``) summed per ``keys`` and month onto ``grid`` (every key and month
    to show, none missing), with the anggaran and the realisasi (``realisasi``) cumulative to the
    end of each month."""
    sums = moves.group_by(*keys, "month").agg(pl.col("anggaran", "realisasi_bulan").sum())
    return (
        grid.join(sums, on=[*keys, "month"], how="left")
        .with_columns(pl.col("anggaran", "realisasi_bulan").fill_null(0))
        .sort(*keys, "month")
        .with_columns(
            pl.col("anggaran").cum_sum().over(*keys),
            pl.col("realisasi_bulan").cum_sum().over(*keys).alias("realisasi"),
        )
    )


def month_of(month: str, year: int) -> int:
    """A ``YYYY-MM`` as a month of ``year``: a month before it is its first, after it its last."""
    y, m = int(month[:4]), int(month[5:7])
    return 1 if y < year else 12 if y > year else m


def budget_years(db: ReadDatabase, pemda: str) -> list[int]:
    """The years of ``pemda`` that have an APBD (budget lines), oldest first."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT DISTINCT year FROM proj_lra_line WHERE pemda = ? ORDER BY year", (pemda,)
        )
    return [int(r[0]) for r in rows]


def persen_bp(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part / whole`` in basis points, rounded half up, in integers only (0 when whole is 0)."""
    return (
        pl.when(whole > 0)
        .then((part * 20_000 + whole) // (whole * 2))
        .otherwise(0)
        .alias("persen_bp")
    )


def lra_totals(lines: pl.DataFrame) -> dict[str, int]:
    """The LRA's closing block: each side, surplus/defisit, pembiayaan netto and SiLPA."""
    sums = lines.group_by("side").agg(pl.col("anggaran").sum(), pl.col("realisasi").sum())
    got = {row["side"]: (row["anggaran"], row["realisasi"]) for row in sums.iter_rows(named=True)}
    totals: dict[str, int] = {}
    for side in SIDES:
        anggaran, realisasi = got.get(side, (0, 0))
        totals[f"{side}_anggaran"] = int(anggaran)
        totals[f"{side}_realisasi"] = int(realisasi)
    for kind in ("anggaran", "realisasi"):
        surplus = totals[f"pendapatan_{kind}"] - totals[f"belanja_{kind}"]
        netto = totals[f"penerimaan_pembiayaan_{kind}"] - totals[f"pengeluaran_pembiayaan_{kind}"]
        totals[f"surplus_defisit_{kind}"] = surplus
        totals[f"pembiayaan_netto_{kind}"] = netto
        totals[f"silpa_{kind}"] = surplus + netto
    return totals


def lra_jumlah(lines: pl.DataFrame) -> pl.DataFrame:
    """The totals rows below the report (``JUMLAH``): each side's sums, surplus/(defisit),
    pembiayaan netto and SiLPA; the same columns as ``rollup`` (kode empty, committed and
    persen_bp null on the derived rows). Summed from the lines, so they equal the sum of the rows
    at any level."""
    sums = {
        r["side"]: r
        for r in lines.group_by("side")
        .agg(pl.col("committed").sum(), pl.len().alias("lines"))
        .iter_rows(named=True)
    }
    totals = lra_totals(lines)
    rows: list[dict[str, Any]] = []
    for side, key, label in JUMLAH:
        anggaran, realisasi = totals[f"{key}_anggaran"], totals[f"{key}_realisasi"]
        derived = side == "ringkasan"
        income = derived or side in INCOME_SIDES
        rows.append(
            {
                "side": side,
                "kode": "",
                "uraian": label,
                "anggaran": anggaran,
                "committed": None if derived else int(sums.get(side, {}).get("committed", 0)),
                "realisasi": realisasi,
                "lebih_kurang": realisasi - anggaran if income else anggaran - realisasi,
                "persen_bp": None
                if derived
                else ((realisasi * 20_000 + anggaran) // (anggaran * 2) if anggaran > 0 else 0),
                "lines": 0 if derived else int(sums.get(side, {}).get("lines", 0)),
            }
        )
    return pl.DataFrame(rows, schema=JUMLAH_SCHEMA, orient="row")


JUMLAH_SCHEMA = {
    "side": pl.String,
    "kode": pl.String,
    "uraian": pl.String,
    "anggaran": pl.Int64,
    "committed": pl.Int64,
    "realisasi": pl.Int64,
    "lebih_kurang": pl.Int64,
    "persen_bp": pl.Int64,
    "lines": pl.Int64,
}


# -- vendor statements ---------------------------------------------------------------------------
PAYMENT_COLUMNS = (
    "disbursement_id", "year", "spp_number", "spm_number", "sp2d_number", "status", "gross",
    "deductions", "net", "description", "line_id", "bank_code", "account_number",
    "account_holder", "gateway", "gateway_reference", "bank_reference", "attempts", "reason",
    "requested_at", "authorised_at", "sent_at", "settled_at", "failed_at", "returned_at",
    "rejected_at", "cancelled_at", "updated_at", "verified_at", "approved_at", "deduction_detail",
)  # fmt: skip


def _page(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must lie in 1..{MAX_PAGE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    return limit, offset


def vendor(db: ReadDatabase, pemda: str, npwp: str) -> dict[str, Any] | None:
    npwp = normalise_npwp(npwp)
    columns = ("vendor_id", "npwp", "name", "kind", "bank_code", "account_number",
               "account_holder", "active", "registered_at", "account_changed_at",
               "account_changes")  # fmt: skip
    with db.transaction(write=False) as cursor:
        row = cursor.fetchone(
            f"SELECT {', '.join(columns)} FROM proj_vendor WHERE pemda = ? AND npwp = ?",  # noqa: S608
            (pemda, db.sealer.index(npwp)),
        )
    if row is None:
        return None
    [found] = db.sealer.opened(columns, [row])
    return found | {"npwp": npwp}


STATEMENT_TOTALS = ("payments", "gross", "deductions", "net", "settled_net")
STATEMENT_VENDOR = ("vendor_id", "npwp_sealed", "name", "kind", "active")


@dataclass(frozen=True, slots=True)
class Statement:
    """A vendor's statement: the vendor, the sums over every payment that matches the filters, and
    one page of those payments (columns ``PAYMENT_COLUMNS``), newest request first."""

    vendor: dict[str, Any]
    totals: dict[str, int]
    payments: list[dict[str, Any]]


def statement(
    db: ReadDatabase,
    pemda: str,
    vendor_id: str,
    *,
    year: int | None = None,
    status: str | None = None,
    requested_from: datetime | None = None,
    requested_to: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    skpd: str | None = None,
) -> Statement | None:
    """The statement of the vendor ``vendor_id`` of ``pemda`` (None if it has no such vendor), read
    in one transaction: its payments from every SKPD, or from ``skpd`` only (payments, totals).
    ``requested_from`` is inclusive, ``requested_to`` exclusive."""
    limit, offset = _page(limit, offset)
    where = ["p.pemda = ?", "p.vendor_id = ?"]
    params: list[Any] = [pemda, vendor_id]
    if skpd is not None:
        condition, scope = _of_skpd("p.line_id", pemda, skpd)
        where.append(condition.removeprefix(" AND "))
        params.extend(scope)
    if year is not None:
        where.append("p.year = ?")
        params.append(year)
    if status is not None:
        where.append("p.status = ?")
        params.append(status)
    if requested_from is not None:
        where.append("p.requested_at >= ?")
        params.append(stamp(requested_from))
    if requested_to is not None:
        where.append("p.requested_at < ?")
        params.append(stamp(requested_to))
    clause = " AND ".join(where)
    with db.transaction(write=False) as cursor:
        vendor_row = cursor.fetchone(
            f"SELECT {', '.join(STATEMENT_VENDOR)} FROM proj_vendor"  # noqa: S608
            " WHERE vendor_id = ? AND pemda = ?",
            (vendor_id, pemda),
        )
        if vendor_row is None:
            return None
        sums = cursor.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(p.gross), 0), COALESCE(SUM(p.deductions), 0),"  # noqa: S608
            " COALESCE(SUM(p.net), 0),"
            " COALESCE(SUM(CASE WHEN p.status = 'settled' THEN p.net ELSE 0 END), 0)"
            f" FROM proj_payment p WHERE {clause}",
            params,
        )
        rows = cursor.fetchall(
            f"SELECT {', '.join('p.' + c for c in PAYMENT_COLUMNS)} FROM proj_payment p"  # noqa: S608
            f" WHERE {clause} ORDER BY p.requested_at DESC, p.disbursement_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    assert sums is not None  # an aggregate without GROUP BY always has its row
    [found] = db.sealer.opened(STATEMENT_VENDOR, [vendor_row])
    return Statement(
        vendor=_npwp_shown(found),
        totals=dict(zip(STATEMENT_TOTALS, map(int, sums), strict=True)),
        payments=db.sealer.opened(PAYMENT_COLUMNS, rows),
    )


# A payment on its way to the vendor: not yet settled, and not ended by a rejection, a
# cancellation or a return (a failed transfer waits to be sent again).
UNDER_WAY = ("requested", "verified", "approved", "authorised", "sent", "failed")


def vendor_progress(
    db: ReadDatabase, pemda: str, vendor_id: str, *, settled_from: datetime
) -> dict[str, int]:
    """For the vendor ``vendor_id``: how many of its payments are under way (``UNDER_WAY``), and
    how many settled at or after ``settled_from`` and their net (``under_way``, ``settled``,
    ``settled_net``)."""
    under_way = ", ".join("?" * len(UNDER_WAY))
    with db.transaction(write=False) as cursor:
        row = cursor.fetchone(
            f"SELECT COALESCE(SUM(CASE WHEN status IN ({under_way}) THEN 1 ELSE 0 END), 0),"  # noqa: S608
            " COALESCE(SUM(CASE WHEN status = 'settled' AND settled_at >= ? THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status = 'settled' AND settled_at >= ? THEN net ELSE 0 END), 0)"
            " FROM proj_payment WHERE pemda = ? AND vendor_id = ?",
            (*UNDER_WAY, stamp(settled_from), stamp(settled_from), pemda, vendor_id),
        )
    assert row is not None  # an aggregate without GROUP BY always has its row
    return dict(zip(("under_way", "settled", "settled_net"), map(int, row), strict=True))


def _npwp_shown(row: dict[str, Any]) -> dict[str, Any]:
    """A vendor row with its NPWP (kept sealed as ``npwp_sealed``) as ``npwp``."""
    shown = dict(row)
    shown["npwp"] = shown.pop("npwp_sealed")
    return shown


def stamp(moment: datetime) -> str:
    # Moments are stored as UTC ISO text with microseconds (projections/source.py): compare so.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def vendor_statement(
    db: ReadDatabase,
    pemda: str,
    npwp: str,
    *,
    year: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> pl.DataFrame:
    """Every payment to the vendor with NPWP ``npwp``, newest request first."""
    vendor_id = str(ids.vendor_id(pemda, normalise_npwp(npwp)))
    found = statement(db, pemda, vendor_id, year=year, status=status, limit=limit, offset=offset)
    payments = [] if found is None else found.payments
    return _frame([tuple(p.values()) for p in payments], PAYMENT_COLUMNS)


def _frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> pl.DataFrame:
    money = {"gross", "deductions", "net", "anggaran", "fee", "attempts", "year"}
    schema = {c: (pl.Int64 if c in money else pl.Utf8) for c in columns}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


# -- cash position ---------------------------------------------------------------------------------
def cash_position(
    db: ReadDatabase, pemda: str, *, start: date | None = None, end: date | None = None
) -> pl.DataFrame:
    """Per day: receipts in, returns in, payments out, refunds out, the advance's money out (UP,
    GU, TU paid to bendahara) and in (setoran), net and the closing balance of the RKUD as kasda
    knows it (the running sum from the first recorded day)."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT day, receipts_in, returns_in, payments_out, refunds_out, advance_in,"
            " advance_out, movements"
            " FROM proj_cash_day WHERE pemda = ? AND day <= ? ORDER BY day",
            (pemda, (end or date.max).isoformat()),
        )
    frame = (
        pl.DataFrame(
            rows,
            schema={
                "day": pl.Utf8,
                "receipts_in": pl.Int64,
                "returns_in": pl.Int64,
                "payments_out": pl.Int64,
                "refunds_out": pl.Int64,
                "advance_in": pl.Int64,
                "advance_out": pl.Int64,
                "movements": pl.Int64,
            },
            orient="row",
        )
        .with_columns(
            (
                pl.col("receipts_in")
                + pl.col("returns_in")
                - pl.col("payments_out")
                - pl.col("refunds_out")
                + pl.col("advance_in")
                - pl.col("advance_out")
            ).alias("net")
        )
        .with_columns(pl.col("net").cum_sum().alias("closing_balance"))
    )
    if start is not None:
        frame = frame.filter(pl.col("day") >= start.isoformat())
    return frame.with_columns(pl.col("day").str.to_date())


# -- approval queues -----------------------------------------------------------------------------
QUEUE_COLUMNS = ("disbursement_id", "spp_number", "status", "step", "role", "gross", "since",
                 "requested_at", "line_id", "vendor_id", "year", "kind", "skpd")  # fmt: skip


def _queue_of_skpd(pemda: str, skpd: str | None) -> tuple[str, list[Any]]:
    """The queue rows of ``skpd``: a payment by its line, an advance order by its SKPD."""
    if skpd is None:
        return "", []
    where, params = _of_skpd("line_id", pemda, skpd)
    return f" AND ({where.removeprefix(' AND ')} OR skpd = ?)", [*params, skpd]


def approval_queue(
    db: ReadDatabase,
    pemda: str,
    role: str,
    *,
    limit: int = 100,
    offset: int = 0,
    skpd: str | None = None,
    step: str | None = None,
) -> pl.DataFrame:
    """What waits for ``role`` (in ``skpd``, at ``step``, if given), oldest first."""
    roles = {r.value for r, _ in WAITING_FOR.values()}
    if role not in roles:
        raise InvalidInput(
            f"no queue for role {role!r}; queues exist for {', '.join(sorted(roles))}"
        )
    limit, offset = _page(limit, offset)
    where, params = _queue_of_skpd(pemda, skpd)
    if step is not None:
        where, params = f"{where} AND step = ?", [*params, step]
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(QUEUE_COLUMNS)} FROM proj_queue "  # noqa: S608
            f"WHERE pemda = ? AND role = ?{where} ORDER BY since, disbursement_id LIMIT ? OFFSET ?",
            [pemda, role, *params, limit, offset],
        )
    return _frame(rows, QUEUE_COLUMNS)


def queue_sizes(
    db: ReadDatabase, pemda: str, *, skpd: str | None = None, step: str | None = None
) -> dict[str, int]:
    """How many payments (of ``skpd``, if given; at ``step``, if given: the Kuasa BUD's queue holds
    SP2D to issue and failed transfers to re-send or cancel) wait for each role; advance orders
    (SPP-UP/GU/TU) count with the payments."""
    where, params = _queue_of_skpd(pemda, skpd)
    if step is not None:
        where, params = f"{where} AND step = ?", [*params, step]
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT role, COUNT(*) FROM proj_queue WHERE pemda = ?{where} GROUP BY role",  # noqa: S608
            [pemda, *params],
        )
    return {str(r): int(n) for r, n in rows}


# -- lists ---------------------------------------------------------------------------------------
# Every list is ordered by the position of its rows' first event: unique and never changed, so a
# page is stable while rows are added (they come after every row already listed).
@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a list (rows as dicts, sealed columns opened) and how many rows match."""

    rows: list[dict[str, Any]]
    total: int


def position(db: ReadDatabase) -> int:
    """The position in the ledger's log that the read models include everything up to."""
    with db.transaction(write=False) as cursor:
        return position_in(cursor)


def position_in(cursor: Cursor) -> int:
    """``position``, read in a transaction already open: with other reads, so that they and the
    position agree."""
    row = cursor.fetchone("SELECT position FROM proj_position WHERE name = ?", (PROJECTION,))
    return 0 if row is None else int(row[0])


def _where(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """The conditions (SQL, value) whose value is not None, joined with AND. A condition has one
    ``?`` for its value, or none: a fixed condition, given with the value ``True``; or, with a
    tuple of values, one ``?`` for each (``IN (?, ?)``)."""
    chosen = [(condition, value) for condition, value in conditions if value is not None]
    params: list[Any] = []
    for condition, value in chosen:
        if isinstance(value, tuple):
            params.extend(value)
        elif "?" in condition:
            params.append(value)
    return " AND ".join(c for c, _ in chosen), params


def _listing(
    db: ReadDatabase,
    columns: tuple[str, ...],
    source: str,
    conditions: list[tuple[str, Any]],
    order: str,
    limit: int,
    offset: int,
) -> Listing:
    """A page of ``SELECT columns FROM source WHERE conditions ORDER BY order`` and the count of
    every matching row, read in one transaction. ``source``, ``columns`` and ``order`` are this
    module's own text, never input; the values go in as parameters."""
    limit, offset = _page(limit, offset)
    where, params = _where(conditions)
    with db.transaction(write=False) as cursor:
        counted = cursor.fetchone(f"SELECT COUNT(*) FROM {source} WHERE {where}", params)  # noqa: S608
        rows = cursor.fetchall(
            f"SELECT {', '.join(columns)} FROM {source} WHERE {where}"  # noqa: S608
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    assert counted is not None  # an aggregate without GROUP BY always has its row
    names = tuple(c.rsplit(" ", 1)[-1].rsplit(".", 1)[-1] for c in columns)
    return Listing(db.sealer.opened(names, rows), int(counted[0]))


DISBURSEMENT_ROW = (
    "p.disbursement_id", "p.year", "p.spp_number", "p.status", "COALESCE(l.skpd, '') skpd",
    "p.line_id", "p.vendor_id", "v.npwp_sealed", "p.gross", "p.net", "p.requested_at",
    "v.name", "l.uraian", "p.spm_number", "p.sp2d_number",
)  # fmt: skip
_PAYMENTS_WITH_LINE_AND_VENDOR = (
    "proj_payment p LEFT JOIN proj_lra_line l ON l.line_id = p.line_id"
    " LEFT JOIN proj_vendor v ON v.vendor_id = p.vendor_id"
)


def disbursements(
    db: ReadDatabase,
    pemda: str,
    *,
    vendor_ids: tuple[str | None, ...] = (),
    skpds: tuple[str | None, ...] = (),
    status: str | None = None,
    year: int | None = None,
    requested_from: datetime | None = None,
    requested_to: datetime | None = None,
    number: str | None = None,
    vendor_in: tuple[str, ...] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The payments of ``pemda`` in the order they were requested, with their SKPD (their line's),
    SPM and SP2D numbers, their line's ``uraian`` and their vendor's NPWP (``npwp_sealed``) and
    name, opened. Every given vendor id and SKPD must match: a scope (a vendor user's own id, an
    official's SKPD) and a filter are both given this way. ``requested_from`` is inclusive,
    ``requested_to`` exclusive. ``number`` keeps the payments whose SPP, SPM or SP2D number contains it (any case);
    ``vendor_in`` those to one of these vendor ids (none: no payment)."""
    if vendor_in is not None and not vendor_in:
        return Listing([], 0)
    conditions: list[tuple[str, Any]] = [("p.pemda = ?", pemda)]
    conditions += [("p.vendor_id = ?", v) for v in vendor_ids]
    if vendor_in is not None:
        conditions.append((f"p.vendor_id IN ({', '.join('?' * len(vendor_in))})", vendor_in))
    if number is not None:
        conditions.append((_NUMBERS_CONTAIN, _contains(number)))
    conditions += [("l.skpd = ?", s) for s in skpds]
    conditions += [
        ("p.status = ?", status),
        ("p.year = ?", year),
        ("p.requested_at >= ?", None if requested_from is None else stamp(requested_from)),
        ("p.requested_at < ?", None if requested_to is None else stamp(requested_to)),
    ]
    return _listing(
        db, DISBURSEMENT_ROW, _PAYMENTS_WITH_LINE_AND_VENDOR, conditions, "p.position", limit,
        offset,
    )  # fmt: skip


_NUMBERS_CONTAIN = (
    "UPPER(p.spp_number || ' ' || COALESCE(p.spm_number, '') || ' ' || COALESCE(p.sp2d_number, ''))"
    " LIKE ? ESCAPE '!'"
)


def _contains(text: str) -> str:
    """A LIKE pattern (escape ``!``) matching any text that contains ``text`` (in upper case)."""
    escaped = text.upper().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


VENDOR_ROW = ("vendor_id", "npwp_sealed", "name", "kind", "active")


def vendors(
    db: ReadDatabase,
    pemda: str,
    *,
    active: bool | None = None,
    kind: str | None = None,
    name: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The vendors of ``pemda`` in the order they were registered, with their NPWP (``npwp``).
    ``name`` keeps those whose name contains it in any case (Unicode case folding). Names are
    sealed in an encrypted store, so that filter runs on the opened rows, not in SQL."""
    limit, offset = _page(limit, offset)
    where, params = _where(
        [("pemda = ?", pemda), ("active = ?", None if active is None else int(active)),
         ("kind = ?", kind)]
    )  # fmt: skip
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(VENDOR_ROW)} FROM proj_vendor WHERE {where} ORDER BY position",  # noqa: S608
            params,
        )
    found = [_npwp_shown(r) for r in db.sealer.opened(VENDOR_ROW, rows)]
    if name is not None:
        needle = name.casefold()
        found = [r for r in found if needle in r["name"].casefold()]
    return Listing(found[offset : offset + limit], len(found))


LINE_ROW = ("line_id", "year", "skpd", "sub_kegiatan", "rekening", "uraian", "pagu", "committed",
            "realised", "blocked")  # fmt: skip


def budget_lines(
    db: ReadDatabase,
    pemda: str,
    year: int,
    *,
    skpds: tuple[str | None, ...] = (),
    rekening: str | None = None,
    blocked: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The lines of the APBD ``year`` of ``pemda`` in the order they were allocated (adoption,
    then each APBD-P), of every given SKPD; ``rekening`` is a prefix of the kode rekening."""
    conditions: list[tuple[str, Any]] = [("pemda = ?", pemda), ("year = ?", year)]
    conditions += [("skpd = ?", s) for s in skpds]
    conditions += [("blocked = ?", None if blocked is None else int(blocked))]
    if rekening is not None:
        # A prefix compared as text: LIKE would read % and _ in it (and ignore case in SQLite).
        conditions.append((f"substr(rekening, 1, {len(rekening):d}) = ?", rekening))
    return _listing(db, LINE_ROW, "proj_lra_line", conditions, "position", limit, offset)


def budget_line(db: ReadDatabase, pemda: str, line_id: str) -> dict[str, Any] | None:
    """One budget line of ``pemda`` (None if it has no such line)."""
    found = _listing(
        db, LINE_ROW, "proj_lra_line", [("pemda = ?", pemda), ("line_id = ?", line_id)],
        "position", 1, 0,
    )  # fmt: skip
    return found.rows[0] if found.rows else None


# -- reconciliation runs -------------------------------------------------------------------------
RUN_ROW = ("run_id", "business_date", "exceptions", "resolved", "recorded_at", "recorded_by",
           "inputs", "counts", "version")  # fmt: skip
EXCEPTION_ROW = ("exception_id", "status", "amount", "reference", "detail", "resolution",
                 "reason", "resolved_by")  # fmt: skip
_RUN_STATE = {"open": "exceptions > resolved", "resolved": "exceptions = resolved"}
_EXCEPTION_STATE = {"open": "resolution IS NULL", "resolved": "resolution IS NOT NULL"}


def runs(
    db: ReadDatabase,
    pemda: str,
    *,
    state: str | None = None,
    business_date_from: str | None = None,
    business_date_to: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The reconciliation runs of ``pemda`` in the order they were recorded; ``state`` keeps the
    runs with an open exception (``open``) or none (``resolved``). Days are ISO text, inclusive."""
    conditions: list[tuple[str, Any]] = [
        ("pemda = ?", pemda),
        ("business_date >= ?", business_date_from),
        ("business_date <= ?", business_date_to),
    ]
    if state is not None:
        conditions.append((_state(_RUN_STATE, state), True))
    return _listing(db, RUN_ROW, "proj_run", conditions, "position", limit, offset)


@dataclass(frozen=True, slots=True)
class Run:
    """A reconciliation run (``RUN_ROW``) and one page of its exceptions (``EXCEPTION_ROW``)."""

    run: dict[str, Any]
    exceptions: Listing


def run(
    db: ReadDatabase,
    pemda: str,
    run_id: str,
    *,
    state: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Run | None:
    """The run ``run_id`` of ``pemda`` (None if it has no such run) with a page of its exceptions
    in the order the run listed them, only the open or the resolved ones with ``state``."""
    found = _listing(
        db, RUN_ROW, "proj_run", [("pemda = ?", pemda), ("run_id = ?", run_id)], "position", 1, 0
    )
    if not found.rows:
        return None
    conditions: list[tuple[str, Any]] = [("run_id = ?", run_id)]
    if state is not None:
        conditions.append((_state(_EXCEPTION_STATE, state), True))
    exceptions = _listing(
        db, EXCEPTION_ROW, "proj_run_exception", conditions, "ordinal", limit, offset
    )
    return Run(found.rows[0], exceptions)


def _state(conditions: dict[str, str], state: str) -> str:
    if state not in conditions:
        raise InvalidInput(f"state must be one of {', '.join(conditions)}, got {state!r}")
    return conditions[state]


# -- owners --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Owner:
    """Whose an aggregate is: its pemda and type, and what scopes a reader of it (a payment's
    SKPD is its line's; a budget line's is its own)."""

    pemda: str
    kind: str
    skpd: str | None
    vendor_id: str | None


def owner(db: ReadDatabase, aggregate_id: str) -> Owner | None:
    """The owner of ``aggregate_id``; None if the read models know no such aggregate."""
    with db.transaction(write=False) as cursor:
        row = cursor.fetchone(
            "SELECT o.pemda, o.kind, COALESCE(o.skpd, l.skpd), o.vendor_id FROM proj_owner o"
            " LEFT JOIN proj_owner l ON l.aggregate_id = o.line_id WHERE o.aggregate_id = ?",
            (aggregate_id,),
        )
    return None if row is None else Owner(*row)


def kinds_owned(db: ReadDatabase, pemda: str, aggregate_ids: list[str]) -> dict[str, str]:
    """Of ``aggregate_ids``, those ``pemda`` owns, with their type."""
    found: dict[str, str] = {}
    unique = sorted(set(aggregate_ids))
    with db.transaction(write=False) as cursor:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = cursor.fetchall(
                "SELECT aggregate_id, kind FROM proj_owner WHERE pemda = ?"  # noqa: S608
                f" AND aggregate_id IN ({db.placeholders(len(chunk))})",
                [pemda, *chunk],
            )
            found.update((str(a), str(k)) for a, k in rows)
    return found


# -- one payment, everything needed to decide on it -----------------------------------------------
PAYMENT_ROW = (
    "p.disbursement_id", "p.pemda", "p.year", "p.spp_number", "p.spm_number", "p.sp2d_number",
    "p.status", "p.line_id", "p.vendor_id", "p.gross", "p.deductions", "p.net",
    "p.deduction_detail", "p.description", "p.documents", "p.bank_code", "p.account_number",
    "p.account_holder", "p.gateway", "p.gateway_reference", "p.bank_reference", "p.attempts",
    "p.reason", "p.requested_at", "p.verified_at", "p.approved_at", "p.authorised_at",
    "p.sent_at", "p.settled_at", "p.failed_at", "p.returned_at", "p.rejected_at",
    "p.cancelled_at", "p.updated_at", "p.version", "COALESCE(l.skpd, '') skpd",
)  # fmt: skip
PAYMENT_VENDOR = ("vendor_id", "npwp_sealed", "name", "kind", "bank_code", "account_number",
                  "account_holder", "active", "registered_at", "account_changed_at",
                  "account_changes")  # fmt: skip
HISTORY_ROW = ("position", "aggregate_id", "version", "event", "at", "actor_id", "actor_role",
               "reason", "detail")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment (``PAYMENT_ROW``; ``deduction_detail`` and ``documents`` parsed), its budget
    line (``LINE_ROW``), its vendor as registered now (``PAYMENT_VENDOR``, NPWP as ``npwp``), the
    payment's history and the vendor's (``HISTORY_ROW``, ``detail`` parsed), in log order."""

    payment: dict[str, Any]
    line: dict[str, Any] | None
    vendor: dict[str, Any] | None
    history: list[dict[str, Any]]
    vendor_history: list[dict[str, Any]]


def _history(db: ReadDatabase, cursor: Cursor, aggregate_id: str) -> list[dict[str, Any]]:
    rows = cursor.fetchall(
        f"SELECT {', '.join(HISTORY_ROW)} FROM proj_history"  # noqa: S608
        " WHERE aggregate_id = ? ORDER BY position",
        (aggregate_id,),
    )
    found = db.sealer.opened(HISTORY_ROW, rows)
    for entry in found:
        entry["detail"] = json.loads(entry["detail"])
    return found


def payment(db: ReadDatabase, pemda: str, disbursement_id: str) -> Payment | None:
    """The payment ``disbursement_id`` of ``pemda`` with its line, vendor and both histories, read
    in one transaction (None if ``pemda`` has no such payment). Who may see it is the caller's
    check (``owner``), as for every read of one thing."""
    with db.transaction(write=False) as cursor:
        row = cursor.fetchone(
            f"SELECT {', '.join(PAYMENT_ROW)} FROM proj_payment p"  # noqa: S608
            " LEFT JOIN proj_lra_line l ON l.line_id = p.line_id"
            " WHERE p.disbursement_id = ? AND p.pemda = ?",
            (disbursement_id, pemda),
        )
        if row is None:
            return None
        names = tuple(c.rsplit(" ", 1)[-1].rsplit(".", 1)[-1] for c in PAYMENT_ROW)
        [found] = db.sealer.opened(names, [row])
        found["deduction_detail"] = json.loads(found["deduction_detail"])
        found["documents"] = json.loads(found["documents"])
        line_row = cursor.fetchone(
            f"SELECT {', '.join(LINE_ROW)} FROM proj_lra_line WHERE line_id = ?",  # noqa: S608
            (found["line_id"],),
        )
        vendor_row = cursor.fetchone(
            f"SELECT {', '.join(PAYMENT_VENDOR)} FROM proj_vendor WHERE vendor_id = ?",  # noqa: S608
            (found["vendor_id"],),
        )
        history = _history(db, cursor, disbursement_id)
        vendor_history = _history(db, cursor, found["vendor_id"])
    line = None if line_row is None else dict(zip(LINE_ROW, line_row, strict=True))
    vendor = (
        None
        if vendor_row is None
        else _npwp_shown(db.sealer.opened(PAYMENT_VENDOR, [vendor_row])[0])
    )
    return Payment(found, line, vendor, history, vendor_history)


def vendor_history(db: ReadDatabase, pemda: str, vendor_id: str) -> list[dict[str, Any]]:
    """The history of the vendor ``vendor_id`` of ``pemda`` (``HISTORY_ROW``, ``detail`` parsed),
    in log order: registered, its bank account changed, deactivated, reactivated, by whom and why.
    Empty if ``pemda`` has no such vendor."""
    with db.transaction(write=False) as cursor:
        known = cursor.fetchone(
            "SELECT 1 FROM proj_vendor WHERE vendor_id = ? AND pemda = ?", (vendor_id, pemda)
        )
        return [] if known is None else _history(db, cursor, vendor_id)


# -- transfers and the exceptions worklist -------------------------------------------------------
TRANSFER_STATUSES = ("sent", "settled", "failed", "returned")
TRANSFER_ROW = (
    "p.disbursement_id", "p.spp_number", "p.sp2d_number", "p.status", "COALESCE(l.skpd, '') skpd",
    "p.vendor_id", "v.name", "p.net", "p.gateway", "p.gateway_reference", "p.bank_reference",
    "p.attempts", "p.reason", "p.authorised_at", "p.sent_at", "p.settled_at", "p.failed_at",
    "p.returned_at", "p.updated_at",
)  # fmt: skip
# The moment a transfer reached its status: how long it has been there.
_TRANSFER_SINCE = (
    "CASE p.status WHEN 'sent' THEN p.sent_at WHEN 'settled' THEN p.settled_at"
    " WHEN 'failed' THEN p.failed_at WHEN 'returned' THEN p.returned_at END"
)


def _transfer_status(status: str | None) -> str | None:
    if status is not None and status not in TRANSFER_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TRANSFER_STATUSES)}, got {status!r}")
    return status


def transfers(
    db: ReadDatabase,
    pemda: str,
    *,
    status: str | None = None,
    skpd: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The payments of ``pemda`` (of ``skpd``, if given) whose transfer left the RKUD: sent,
    settled, failed or returned (``status`` keeps one), with the vendor's name, the references and
    the moments of the transfer; the latest to reach its status first."""
    conditions: list[tuple[str, Any]] = [
        ("p.pemda = ?", pemda),
        ("l.skpd = ?", skpd),
        ("p.status = ?", _transfer_status(status)),
    ]
    if status is None:
        conditions.append(("p.status IN ('sent', 'settled', 'failed', 'returned')", True))
    return _listing(
        db, TRANSFER_ROW, _PAYMENTS_WITH_LINE_AND_VENDOR, conditions,
        f"{_TRANSFER_SINCE} DESC, p.position DESC", limit, offset,
    )  # fmt: skip


def transfer_counts(
    db: ReadDatabase, pemda: str, *, skpd: str | None = None
) -> dict[str, tuple[int, str | None]]:
    """For each transfer status, how many payments of ``pemda`` (of ``skpd``) are in it and since
    when the oldest of them has been (UTC ISO text)."""
    where, params = _where([("p.pemda = ?", pemda), ("l.skpd = ?", skpd)])
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT p.status, COUNT(*), MIN({_TRANSFER_SINCE}) FROM {_PAYMENTS_WITH_LINE_AND_VENDOR}"  # noqa: S608
            f" WHERE {where} AND p.status IN ('sent', 'settled', 'failed', 'returned')"
            " GROUP BY p.status",
            params,
        )
    counts: dict[str, tuple[int, str | None]] = {s: (0, None) for s in TRANSFER_STATUSES}
    counts.update({str(s): (int(n), None if m is None else str(m)) for s, n, m in rows})
    return counts


WORKLIST_ROW = (
    "e.run_id", "r.business_date", "r.recorded_at", "e.exception_id", "e.status", "e.amount",
    "e.reference", "e.detail", "e.resolution", "e.reason", "e.resolved_by", "e.resolved_at",
)  # fmt: skip
_EXCEPTIONS_OF_RUNS = "proj_run_exception e JOIN proj_run r ON r.run_id = e.run_id"


def run_exceptions(
    db: ReadDatabase,
    pemda: str,
    *,
    run_id: str | None = None,
    status: str | None = None,
    state: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The exceptions of every reconciliation run of ``pemda`` (of ``run_id`` only, if given),
    oldest run first and in each run the order it listed them; ``status`` keeps one kind (a status
    of ``reconciliation.schema``), ``state`` the open or the resolved ones."""
    conditions: list[tuple[str, Any]] = [
        ("r.pemda = ?", pemda),
        ("e.run_id = ?", run_id),
        ("e.status = ?", status),
    ]
    if state is not None:
        conditions.append((_state(_EXCEPTION_STATE, state).replace("resolution", "e.resolution"),
                           True))  # fmt: skip
    return _listing(
        db, WORKLIST_ROW, _EXCEPTIONS_OF_RUNS, conditions, "r.position, e.ordinal", limit, offset
    )


# -- red flags (projections/redflags.py) -------------------------------------------------------
FLAG_ROW = (
    "flag_id", "rule", "severity", "subject_kind", "subject_id", "amount", "period_from",
    "period_to", "disbursement_ids", "vendor_ids", "evidence", "explanation_id", "explanation_en",
    "status", "raised_at", "raised_by_run", "last_run", "reviewed_by", "reviewed_at", "reason",
)  # fmt: skip
FLAG_RUN_ROW = (
    "run_id", "log_position", "as_of", "thresholds_digest", "rules", "flags", "truncated",
    "recorded_at", "recorded_by",
)  # fmt: skip
FLAG_STATUSES = ("open", "confirmed", "dismissed", "escalated")
# Severity first, then the money at risk: the order an inspector works in.
_FLAG_ORDER = (
    "CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, amount DESC, flag_id"
)
_FLAG_OF_SKPD = (
    "((subject_kind = 'skpd' AND subject_id = ?) OR aggregate_id IN (SELECT k.aggregate_id"
    " FROM proj_flag_link k JOIN proj_payment p ON p.disbursement_id = k.ref_id"
    " JOIN proj_lra_line l ON l.line_id = p.line_id WHERE k.kind = 'disbursement'"
    " AND l.skpd = ?))"
)
_FLAG_LINKED = (
    "aggregate_id IN (SELECT aggregate_id FROM proj_flag_link WHERE pemda = ? AND kind = ?"
    " AND ref_id = ?)"
)


def flag_body(row: dict[str, Any]) -> dict[str, Any]:
    """A ``proj_flag`` row as the flag's own fields (``ledger.redflags.FLAG_FIELDS``, the shape the
    rules produced and the JSON export writes), then its review state."""
    return {
        "id": row["flag_id"],
        "rule": row["rule"],
        "severity": row["severity"],
        "subject": {"kind": row["subject_kind"], "id": row["subject_id"]},
        "amount": int(row["amount"]),
        "period": {"from": row["period_from"], "to": row["period_to"]},
        "disbursement_ids": json.loads(row["disbursement_ids"]),
        "vendor_ids": json.loads(row["vendor_ids"]),
        "evidence": json.loads(row["evidence"]),
        "explanation": {"id": row["explanation_id"], "en": row["explanation_en"]},
        "status": row["status"],
        "raised_at": row["raised_at"],
        "raised_by_run": row["raised_by_run"],
        "last_run": row["last_run"],
        "review": None
        if row["reviewed_by"] is None
        else {"by": row["reviewed_by"], "at": row["reviewed_at"], "reason": row["reason"]},
    }


def red_flags(
    db: ReadDatabase,
    pemda: str,
    *,
    rule: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    skpd: str | None = None,
    disbursement_id: str | None = None,
    vendor_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The red flags of ``pemda``, high severity and most money first; each filter narrows it.
    ``skpd`` keeps flags about that SKPD or naming one of its payments. Rows are ``flag_body``."""
    if status is not None and status not in FLAG_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(FLAG_STATUSES)}, got {status!r}")
    code = None if skpd is None else normalise_skpd(skpd)
    conditions: list[tuple[str, Any]] = [
        ("pemda = ?", pemda),
        ("rule = ?", rule),
        ("severity = ?", severity),
        ("status = ?", status),
        (_FLAG_OF_SKPD, None if code is None else (code, code)),
        (
            _FLAG_LINKED,
            None if disbursement_id is None else (pemda, "disbursement", disbursement_id),
        ),
        (_FLAG_LINKED, None if vendor_id is None else (pemda, "vendor", vendor_id)),
    ]
    found = _listing(db, FLAG_ROW, "proj_flag", conditions, _FLAG_ORDER, limit, offset)
    return Listing([flag_body(r) for r in found.rows], found.total)


def red_flag(db: ReadDatabase, pemda: str, flag_id: str) -> dict[str, Any] | None:
    """One flag of ``pemda`` with every review of it, oldest first (None if it has no such flag)."""
    found = _listing(
        db, FLAG_ROW, "proj_flag", [("pemda = ?", pemda), ("flag_id = ?", flag_id)], "flag_id", 1, 0
    )
    if not found.rows:
        return None
    aggregate = str(ids.red_flag_id(pemda, flag_id))
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT decision, reason, actor_id, at, version, position FROM proj_flag_review"
            " WHERE aggregate_id = ? ORDER BY version",
            (aggregate,),
        )
    columns = ("decision", "reason", "actor_id", "at", "version", "position")
    body = flag_body(found.rows[0])
    body["aggregate_id"] = aggregate
    body["reviews"] = db.sealer.opened(columns, rows)
    return body


def red_flag_runs(db: ReadDatabase, pemda: str, *, limit: int = 100, offset: int = 0) -> Listing:
    """The red-flag runs of ``pemda``, the latest first."""
    found = _listing(
        db, FLAG_RUN_ROW, "proj_flag_run", [("pemda = ?", pemda)], "position DESC", limit, offset
    )
    rows = [
        r | {"rules": json.loads(r["rules"]), "truncated": json.loads(r["truncated"])}
        for r in found.rows
    ]
    return Listing(rows, found.total)


MAX_WARNINGS = 20


def open_flags(
    db: ReadDatabase, pemda: str, *, disbursement_id: str, vendor_id: str | None = None
) -> list[dict[str, Any]]:
    """The flags not dismissed that name this payment or its vendor: the warnings shown when the
    payment is decided (they never block it). Confirmed and escalated flags still warn."""
    refs: list[tuple[str, str]] = [("disbursement", disbursement_id)]
    if vendor_id is not None:
        refs.append(("vendor", vendor_id))
    linked = " OR ".join("(kind = ? AND ref_id = ?)" for _ in refs)
    params = [pemda, *(v for ref in refs for v in ref)]
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(FLAG_ROW)} FROM proj_flag WHERE status <> 'dismissed'"  # noqa: S608
            " AND aggregate_id IN (SELECT aggregate_id FROM proj_flag_link WHERE pemda = ?"
            f" AND ({linked})) ORDER BY {_FLAG_ORDER} LIMIT ?",
            [*params, MAX_WARNINGS],
        )
    return [flag_body(r) for r in db.sealer.opened(FLAG_ROW, rows)]


def vendor_npwps(db: ReadDatabase, pemda: str, vendor_ids: list[str]) -> dict[str, str]:
    """Of ``vendor_ids``, those of ``pemda``'s vendors, with their NPWP (the key of the vendor
    routes): a red flag's evidence links to them."""
    return _of_vendors(db, pemda, vendor_ids, "npwp_sealed")


def vendor_names(db: ReadDatabase, pemda: str, vendor_ids: list[str]) -> dict[str, str]:
    """Of ``vendor_ids``, those of ``pemda``'s vendors, with their names (opened)."""
    return _of_vendors(db, pemda, vendor_ids, "name")


def _of_vendors(db: ReadDatabase, pemda: str, vendor_ids: list[str], column: str) -> dict[str, str]:
    assert column in ("npwp_sealed", "name"), column  # this module's text, never input
    found: dict[str, str] = {}
    unique = sorted(set(vendor_ids))
    with db.transaction(write=False) as cursor:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = cursor.fetchall(
                f"SELECT vendor_id, {column} FROM proj_vendor WHERE pemda = ?"  # noqa: S608
                f" AND vendor_id IN ({marks})",
                [pemda, *chunk],
            )
            for row in db.sealer.opened(("vendor_id", column), rows):
                found[str(row["vendor_id"])] = str(row[column])
    return found
