"""The LRA as SIPD's flat realisation sheet: one row per budget line (SKPD x sub kegiatan x kode
rekening) carrying every level of its hierarchy, code and name: urusan, bidang urusan, SKPD,
program, kegiatan, sub kegiatan, then akun, kelompok, jenis, objek, rincian objek and the full
kode rekening (sub rincian objek), with its pagu (anggaran) and realisasi as of a day.

The figures are the LRA's own (``projections.queries.lra_lines``, what ``kasda lra``, the LRA
pages and ``GET /pemda/{p}/lra`` show); the names are ``projections.nomenclature``'s and the line's
own uraian for the kode rekening. Income and financing lines have no sub kegiatan: their urusan and
bidang are their SKPD's, and the programme columns are empty. The columns are described in
docs/exports.md."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from exports import sheets
from exports.sheets import Table
from projections import nomenclature
from projections import queries as q

# (column prefix, nomenclature level) of every level a line carries, from the top.
HIERARCHY = (
    ("urusan", "urusan"),
    ("bidang_urusan", "bidang"),
    ("skpd", "skpd"),
    ("program", "program"),
    ("kegiatan", "kegiatan"),
    ("sub_kegiatan", "subkegiatan"),
    ("akun", "akun"),
    ("kelompok", "kelompok"),
    ("jenis", "jenis"),
    ("objek", "objek"),
    ("rincian_objek", "rincian"),
    ("rekening", "rekening"),
)
HEADERS = (
    "tahun",
    "kode_pemda",
    *(f"{kind}_{prefix}" for prefix, _ in HIERARCHY for kind in ("kode", "nama")),
    "pagu",
    "realisasi",
    "selisih",
    "persen_realisasi",
)
MONEY = frozenset({"pagu", "realisasi", "selisih"})
SHEET = "Realisasi"


def _codes(lines: pl.DataFrame) -> pl.DataFrame:
    """The lines with the code of each level: urusan and bidang from the sub kegiatan, or from the
    SKPD for a line without one; program to sub kegiatan empty then."""
    sub = pl.col("sub_kegiatan")
    owner = pl.when(sub.is_null()).then(pl.col("skpd")).otherwise(sub).str.split(".")
    programme = ("program", "kegiatan", "subkegiatan")
    accounts = ("skpd", "akun", "kelompok", "jenis", "objek", "rincian")
    return lines.with_columns(
        owner.list.head(1).list.join(".").alias("urusan"),
        owner.list.head(2).list.join(".").alias("bidang"),
        *(
            pl.when(sub.is_null()).then(pl.lit("")).otherwise(q.kode_of(level)).alias(level)
            for level in programme
        ),
        *(q.kode_of(level).alias(level) for level in accounts),
        q.persen_bp(pl.col("realisasi"), pl.col("anggaran")),
    ).sort("skpd", "subkegiatan", "rekening")


def _name(level: str, kode: str, line: dict[str, Any]) -> str:
    if not kode:
        return ""
    if level == "rekening":
        return str(line["uraian"])
    return nomenclature.uraian(level, kode)


def persen(bp: int) -> str:
    """Basis points as a percentage with two decimals (8512 -> ``85.12``), no float."""
    return f"{bp // 100}.{bp % 100:02d}"


def table(lines: pl.DataFrame, pemda: str, year: int) -> Table:
    """The lines of ``q.lra_lines`` as SIPD's realisation sheet (``HEADERS``)."""
    rows: list[list[Any]] = []
    for line in _codes(lines).iter_rows(named=True):
        row: list[Any] = [year, pemda]
        for _, level in HIERARCHY:
            kode = line[level] or ""
            row += [kode, _name(level, kode, line)]
        anggaran, realisasi = int(line["anggaran"]), int(line["realisasi"])
        row += [anggaran, realisasi, anggaran - realisasi, persen(int(line["persen_bp"]))]
        rows.append(row)
    return Table(SHEET, HEADERS, rows, MONEY)


def summary(
    lines: pl.DataFrame,
    pemda: str,
    year: int,
    as_of: date | None,
    position: int,
    final: bool,
) -> Table:
    """The workbook's second sheet: what the file is (pemda, year, day, log position, whether
    the year is closed) and the LRA's totals (``q.lra_totals``), which the rows sum to."""
    about: list[list[Any]] = [
        ["kode_pemda", pemda],
        ["tahun", year],
        ["per_tanggal", as_of.isoformat() if as_of else "posisi terkini"],
        ["posisi_log", position],
        ["final_tutup_tahun", "ya" if final else "tidak"],
        ["jumlah_baris", lines.height],
    ]
    totals = [[key, value] for key, value in q.lra_totals(lines).items()]
    return Table("Ringkasan", ("pos", "nilai"), about + totals)


def render(
    kind: str,
    lines: pl.DataFrame,
    pemda: str,
    year: int,
    as_of: date | None,
    position: int,
    final: bool,
) -> bytes:
    """The lines as CSV (the realisation rows) or as a workbook (the rows, then ``summary``)."""
    main = table(lines, pemda, year)
    return sheets.render(kind, main, summary(lines, pemda, year, as_of, position, final))


def filename(pemda: str, year: int, as_of: date | None, kind: str) -> str:
    return f"sipd-lra-{pemda}-{year}-{as_of.isoformat() if as_of else 'terkini'}.{kind}"
