"""What the public may read: the facts of a pemda's year that are final, without what is private.

The transparency portal (``/publik``), its open-data downloads and the exports other systems take
all read through here, so that one place decides what leaves kasda unsigned-in:

- **Only final facts.** A payment is public once its SP2D is authorised (``PUBLIC_STATUS``): before
  that it is a request that may still be rejected. A payment whose transfer failed keeps its SP2D
  (it is reissued); one returned by the bank says so.
- **Never private data.** No bank account, no account holder, no NPWP (not even masked), no
  person's identity number. A vendor that is a person (``individual``) is named by initials only
  (UU 27/2022 on personal data). Free text typed by officials (the payment's purpose) may hold an
  account, NIK or NPWP: every run of 10 or more digits and every dotted NPWP in it is masked
  (``MASK``). Amounts written with thousands dots (``1.250.000.000``) are left alone.
- **As of a log position.** Every answer carries the position of the ledger's log that the read
  models had reached when it was read, in the same transaction: a figure and its position agree.

Nothing here writes, and nothing here reads the ledger's store: the public side never slows the
ledger. Rupiah stay integers (``Int64``); dates are calendar days in WIB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from ledger.codes import normalise_skpd
from ledger.errors import InvalidInput
from ledger.steps import Status
from projections import nomenclature
from projections import queries as q
from projections.db import ReadDatabase

# The status the public sees, by the payment's status; statuses not here are not public.
PUBLIC_STATUS = {
    Status.AUTHORISED.value: "sp2d_terbit",
    Status.SENT.value: "sp2d_terbit",
    Status.FAILED.value: "sp2d_terbit",  # the transfer failed; the SP2D stands and is reissued
    Status.SETTLED.value: "dibayar",
    Status.RETURNED.value: "dikembalikan",
}
STATUS_LABEL = {
    "sp2d_terbit": "SP2D terbit",
    "dibayar": "Dibayar",
    "dikembalikan": "Dikembalikan bank",
}
VENDOR_KIND_LABEL = {
    "company": "Badan usaha",
    "media": "Perusahaan media",
    "individual": "Orang pribadi",
}
MASK = "[disamarkan]"
# Digits that may be an account, a NIK or an NPWP: 10 or more in a row, or an NPWP's dotted form.
_PRIVATE_DIGITS = r"[0-9]{2}\.[0-9]{3}\.[0-9]{3}\.[0-9]-[0-9]{3}\.[0-9]{3}|[0-9]{10,}"
MAX_SEARCH = 100  # characters of a search text
_FINAL = f"status IN ({', '.join('?' * len(PUBLIC_STATUS))})"  # with the keys of PUBLIC_STATUS

PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "sp2d_number": pl.String(),
    "status": pl.String(),
    "tanggal_sp2d": pl.Date(),
    "tanggal_bayar": pl.Date(),
    "skpd": pl.String(),
    "skpd_nama": pl.String(),
    "sub_kegiatan": pl.String(),
    "sub_kegiatan_nama": pl.String(),
    "rekening": pl.String(),
    "uraian_rekening": pl.String(),
    "penerima": pl.String(),
    "jenis_penerima": pl.String(),
    "keperluan": pl.String(),
    "jumlah": pl.Int64(),
    "position": pl.Int64(),
}

_ROW = (
    "p.disbursement_id", "p.sp2d_number", "p.status", "p.authorised_at", "p.settled_at",
    "COALESCE(l.skpd, '') skpd", "COALESCE(l.sub_kegiatan, '') sub_kegiatan",
    "COALESCE(l.rekening, '') rekening", "COALESCE(l.uraian, '') uraian", "v.name", "v.kind",
    "p.description", "p.gross", "p.position",
)  # fmt: skip
_NAMES = tuple(c.rsplit(" ", 1)[-1].rsplit(".", 1)[-1] for c in _ROW)


@dataclass(frozen=True)
class AsOf:
    """A public answer and the log position the read models had reached when it was read."""

    frame: pl.DataFrame
    position: int


def payments(db: ReadDatabase, pemda: str, year: int) -> AsOf:
    """Every public payment of ``pemda`` in ``year`` (``PAYMENT_SCHEMA``), in the order their
    SP2D was authorised, with the log position read in the same transaction."""
    statuses = tuple(PUBLIC_STATUS)
    marks = ", ".join("?" * len(statuses))
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT {', '.join(_ROW)} FROM proj_payment p"  # noqa: S608
            " LEFT JOIN proj_lra_line l ON l.line_id = p.line_id"
            " LEFT JOIN proj_vendor v ON v.vendor_id = p.vendor_id"
            f" WHERE p.pemda = ? AND p.year = ? AND p.status IN ({marks})"
            " ORDER BY p.authorised_at, p.position",
            (pemda, year, *statuses),
        )
        at = q.position_in(cursor)
    opened = db.sealer.opened(_NAMES, rows)
    return AsOf(_public_frame(opened), at)


def _public_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    raw = pl.DataFrame(
        rows,
        schema={
            "disbursement_id": pl.String, "sp2d_number": pl.String, "status": pl.String,
            "authorised_at": pl.String, "settled_at": pl.String, "skpd": pl.String,
            "sub_kegiatan": pl.String, "rekening": pl.String, "uraian": pl.String,
            "name": pl.String, "kind": pl.String, "description": pl.String, "gross": pl.Int64,
            "position": pl.Int64,
        },
        orient="row",
    )  # fmt: skip
    names = nomenclature.names()
    return raw.select(
        pl.col("disbursement_id").alias("id"),
        pl.col("sp2d_number").fill_null(""),
        pl.col("status").replace_strict(PUBLIC_STATUS),
        wib_day("authorised_at").alias("tanggal_sp2d"),
        pl.when(pl.col("status") == Status.SETTLED.value)
        .then(wib_day("settled_at"))
        .alias("tanggal_bayar"),
        "skpd",
        pl.col("skpd").replace_strict(names["skpd"], default="").alias("skpd_nama"),
        "sub_kegiatan",
        pl.col("sub_kegiatan")
        .replace_strict(names["subkegiatan"], default="")
        .alias("sub_kegiatan_nama"),
        "rekening",
        pl.col("uraian").alias("uraian_rekening"),
        payee().alias("penerima"),
        pl.col("kind").fill_null("company").alias("jenis_penerima"),
        masked(pl.col("description").fill_null("")).alias("keperluan"),
        pl.col("gross").alias("jumlah"),
        "position",
    ).cast(PAYMENT_SCHEMA)  # type: ignore[arg-type]


def wib_day(column: str) -> pl.Expr:
    """A moment of the read models (UTC ISO text) as its calendar day in WIB."""
    return (
        pl.col(column)
        .str.to_datetime(time_zone="UTC", time_unit="us", strict=True)
        .dt.convert_time_zone("Asia/Jakarta")
        .dt.date()
    )


def masked(text: pl.Expr) -> pl.Expr:
    """``text`` with every run of digits that may be private replaced by ``MASK``."""
    return text.str.replace_all(_PRIVATE_DIGITS, MASK)


def payee() -> pl.Expr:
    """The vendor's name; a person's by initials only (``Budi Santoso`` -> ``B. S.``)."""
    name = pl.col("name").fill_null("")
    initials = name.str.split(" ").list.eval(
        pl.element().filter(pl.element() != "").str.slice(0, 1).str.to_uppercase()
    ).list.join(". ") + pl.lit(".")
    return pl.when(pl.col("kind") == "individual").then(initials).otherwise(name)


@dataclass(frozen=True)
class PaymentFilter:
    """What a reader narrowed the public payments to: all optional, all checked."""

    skpd: str | None = None
    month: int | None = None
    jenis: str | None = None
    status: str | None = None
    cari: str | None = None

    def __post_init__(self) -> None:
        if self.month is not None and not 1 <= self.month <= 12:
            raise InvalidInput("bulan harus 1 sampai 12")
        if self.jenis is not None and self.jenis not in VENDOR_KIND_LABEL:
            raise InvalidInput(f"jenis penerima tidak dikenal: {self.jenis!r}")
        if self.status is not None and self.status not in STATUS_LABEL:
            raise InvalidInput(f"status tidak dikenal: {self.status!r}")
        if self.cari is not None and len(self.cari) > MAX_SEARCH:
            raise InvalidInput(f"teks pencarian paling panjang {MAX_SEARCH} karakter")
        if self.skpd is not None:
            object.__setattr__(self, "skpd", normalise_skpd(self.skpd))

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``frame`` (``PAYMENT_SCHEMA``) that match; a search text matches the payee,
        the purpose, the SP2D number or the SKPD's name, in any case, as plain text."""
        keep = pl.lit(True)
        if self.skpd is not None:
            keep &= pl.col("skpd") == self.skpd
        if self.month is not None:
            keep &= pl.col("tanggal_sp2d").dt.month() == self.month
        if self.jenis is not None:
            keep &= pl.col("jenis_penerima") == self.jenis
        if self.status is not None:
            keep &= pl.col("status") == self.status
        if self.cari:
            needle = self.cari.casefold()
            keep &= pl.any_horizontal(
                pl.col(c).str.to_lowercase().str.contains(needle, literal=True)
                for c in ("penerima", "keperluan", "sp2d_number", "skpd_nama")
            )
        return frame.filter(keep)


def realisation(db: ReadDatabase, pemda: str, year: int) -> AsOf:
    """Per SKPD and month of ``year``: the budget (anggaran, cumulative to that month's end) and
    the month's realisasi, belanja and pendapatan apart; with the log position, read together.
    Columns: skpd, skpd_nama, side, month, anggaran, realisasi_bulan, realisasi (cumulative)."""
    with db.transaction(write=False) as cursor:
        moves = q.month_moves(cursor, pemda, year, "9999-12-31", per_skpd=True)
        at = q.position_in(cursor)
    months = pl.DataFrame({"month": range(1, 13)}, schema={"month": pl.Int64})
    grid = moves.select("skpd", "side").unique().join(months, how="cross")
    frame = (
        q.cumulative(grid, moves, ("skpd", "side"))
        .with_columns(
            pl.col("skpd")
            .replace_strict(nomenclature.names()["skpd"], default="")
            .alias("skpd_nama")
        )
        .select(
            "skpd", "skpd_nama", "side", "month", "anggaran", "realisasi_bulan", "realisasi"
        )
    )  # fmt: skip
    return AsOf(frame, at)


def years(db: ReadDatabase, pemda: str) -> list[int]:
    """The years of ``pemda`` with a budget, oldest first."""
    return q.budget_years(db, pemda)


def pemdas(db: ReadDatabase) -> list[str]:
    """Every pemda with a budget in these read models."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall("SELECT DISTINCT pemda FROM proj_lra_line ORDER BY pemda")
    return [str(r[0]) for r in rows]


BUDGET_LINE_SCHEMA: dict[str, pl.DataType] = {
    "kelompok": pl.String(),
    "skpd": pl.String(),
    "skpd_nama": pl.String(),
    "sub_kegiatan": pl.String(),
    "sub_kegiatan_nama": pl.String(),
    "rekening": pl.String(),
    "uraian_rekening": pl.String(),
    "anggaran": pl.Int64(),
    "realisasi": pl.Int64(),
}


def budget_lines(db: ReadDatabase, pemda: str, year: int) -> AsOf:
    """The LRA of ``pemda``'s ``year`` per budget line (``BUDGET_LINE_SCHEMA``): its side of the
    LRA (``kelompok``), codes and names, anggaran (the pagu now) and realisasi (spending at SP2D,
    income received), in the order of the report (side, SKPD, sub kegiatan, rekening); with the log
    position, read together. What is committed but not yet realised is not here: an SPP may still
    be rejected. The uraian was typed by officials: private digits in it are masked."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT skpd, sub_kegiatan, rekening, uraian, pagu, realised + revenue"
            " FROM proj_lra_line WHERE pemda = ? AND year = ?",
            (pemda, year),
        )
        at = q.position_in(cursor)
    names = nomenclature.names()
    raw = pl.DataFrame(
        [(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows],
        schema={"skpd": pl.String, "sub_kegiatan": pl.String, "rekening": pl.String,
                "uraian": pl.String, "anggaran": pl.Int64, "realisasi": pl.Int64},
        orient="row",
    )  # fmt: skip
    side = q.side_of_rekening()
    frame = (
        raw.with_columns(
            side.alias("kelompok"),
            side.replace_strict({s: i for i, s in enumerate(q.SIDES)}).alias("order"),
        )
        .sort("order", "skpd", "sub_kegiatan", "rekening")
        .select(
            "kelompok",
            "skpd",
            pl.col("skpd").replace_strict(names["skpd"], default="").alias("skpd_nama"),
            pl.col("sub_kegiatan").fill_null(""),  # income and financing lines may have none
            pl.col("sub_kegiatan")
            .replace_strict(names["subkegiatan"], default="")
            .alias("sub_kegiatan_nama"),
            "rekening",
            masked(pl.col("uraian").fill_null("")).alias("uraian_rekening"),
            "anggaran",
            "realisasi",
        )
        .cast(BUDGET_LINE_SCHEMA)  # type: ignore[arg-type]
    )
    return AsOf(frame, at)


def payment_years(db: ReadDatabase, pemda: str) -> list[int]:
    """The years of ``pemda`` with at least one public payment, oldest first (the portal opens
    on the latest of them)."""
    statuses = tuple(PUBLIC_STATUS)
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            f"SELECT DISTINCT year FROM proj_payment WHERE pemda = ? AND {_FINAL} ORDER BY year",  # noqa: S608
            (pemda, *statuses),
        )
    return [int(r[0]) for r in rows]


def updated_at(db: ReadDatabase, pemda: str, year: int) -> str | None:
    """When the public facts of ``pemda``'s ``year`` last changed, by the ledger's clock (UTC ISO
    text, as the read models keep it): the latest change of a public payment or receipt of
    income; None while there is none. A change that is not public (an SPP requested) is not one."""
    statuses = tuple(PUBLIC_STATUS)
    with db.transaction(write=False) as cursor:
        paid = cursor.fetchone(
            f"SELECT MAX(updated_at) FROM proj_payment WHERE pemda = ? AND year = ? AND {_FINAL}",  # noqa: S608
            (pemda, year, *statuses),
        )
        received = cursor.fetchone(
            "SELECT MAX(received_at) FROM proj_receipt WHERE pemda = ? AND year = ?",
            (pemda, year),
        )
    moments = [str(r[0]) for r in (paid, received) if r is not None and r[0] is not None]
    return max(moments, key=_utc, default=None)


def _utc(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(UTC)
