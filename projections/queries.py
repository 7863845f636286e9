"""Reading the read models: the LRA at any level and any day, vendor statements, the RKUD's cash
position, approval queues. Every function is scoped to one pemda, and those that show an SKPD's lines
or payments take ``skpd`` too (an official of one SKPD sees its own only, see ``ledger.roles``): a
payment's SKPD is its budget line's (``proj_lra_line``). Nothing here writes.

Results are Polars frames with integer rupiah columns (``Int64``). The percentage of realisation is
kept in basis points (``persen_bp``, an integer: 8,512 means 85.12%) so that no float is ever
computed from money; formatting it is the edge's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from ledger import ids
from ledger.codes import normalise_skpd
from ledger.errors import InvalidInput
from ledger.vendor import normalise_npwp
from projections import nomenclature
from projections.db import ReadDatabase
from projections.queues import WAITING_FOR

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


def _side() -> pl.Expr:
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
    return frame.with_columns(_side().alias("side"))


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
    _, source, segments = LEVELS[level]
    column = pl.col(source).fill_null("-")
    kode = column if segments is None else column.str.split(".").list.head(segments).list.join(".")
    grouped = (
        lines.lazy()
        .with_columns(kode.alias("kode"))
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
    "rejected_at", "cancelled_at", "updated_at",
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
    found = {c: db.sealer.open(v) for c, v in zip(columns, row, strict=True)}
    return found | {"npwp": npwp}


STATEMENT_TOTALS = ("payments", "gross", "deductions", "net", "settled_net")
STATEMENT_VENDOR = ("vendor_id", "npwp", "name", "kind", "active")


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
        params.append(_stamp(requested_from))
    if requested_to is not None:
        where.append("p.requested_at < ?")
        params.append(_stamp(requested_to))
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
    sealer = db.sealer
    return Statement(
        vendor={c: sealer.open(v) for c, v in zip(STATEMENT_VENDOR, vendor_row, strict=True)},
        totals=dict(zip(STATEMENT_TOTALS, map(int, sums), strict=True)),
        payments=[
            {c: sealer.open(v) for c, v in zip(PAYMENT_COLUMNS, row, strict=True)} for row in rows
        ],
    )


def _stamp(moment: datetime) -> str:
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
    """Per day: receipts in, returns in, payments out, refunds out, net and the closing balance of
    the RKUD as kasda knows it (the running sum from the first recorded day)."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT day, receipts_in, returns_in, payments_out, refunds_out, movements"
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
            ).alias("net")
        )
        .with_columns(pl.col("net").cum_sum().alias("closing_balance"))
    )
    if start is not None:
        frame = frame.filter(pl.col("day") >= start.isoformat())
    return frame.with_columns(pl.col("day").str.to_date())


# -- approval queues -----------------------------------------------------------------------------
QUEUE_COLUMNS = ("disbursement_id", "spp_number", "status", "step", "role", "gross", "since",
                 "requested_at", "line_id", "vendor_id", "year")  # fmt: skip


def approval_queue(
    db: ReadDatabase,
    pemda: str,
    role: str,
    *,
    limit: int = 100,
    offset: int = 0,
    skpd: str | None = None,
) -> pl.DataFrame:
    """What waits for ``role`` (in ``skpd``, if given), oldest first."""
    roles = {r.value for r, _ in WAITING_FOR.values()}
    if role not in roles:
        raise InvalidInput(
            f"no queue for role {role!r}; queues exist for {', '.join(sorted(roles))}"
        )
    limit, offset = _page(limit, offset)
    where, params = _of_skpd("line_id", pemda, skpd)
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(QUEUE_COLUMNS)} FROM proj_queue "  # noqa: S608
            f"WHERE pemda = ? AND role = ?{where} ORDER BY since, disbursement_id LIMIT ? OFFSET ?",
            [pemda, role, *params, limit, offset],
        )
    return _frame(rows, QUEUE_COLUMNS)


def queue_sizes(db: ReadDatabase, pemda: str, *, skpd: str | None = None) -> dict[str, int]:
    """How many payments (of ``skpd``, if given) wait for each role."""
    where, params = _of_skpd("line_id", pemda, skpd)
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT role, COUNT(*) FROM proj_queue WHERE pemda = ?{where} GROUP BY role",  # noqa: S608
            [pemda, *params],
        )
    return {str(r): int(n) for r, n in rows}
