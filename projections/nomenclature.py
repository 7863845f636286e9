"""The uraian (description) of every code the reports show: urusan and bidang urusan, SKPD names,
program, kegiatan and sub kegiatan (urusan.bidang.program.kewenangan.kegiatan.sub), and the chart of
accounts from akun to the full kode rekening (Permendagri 90/2019 and its updates).

The list (``nomenclature.csv``, shipped as package data) holds the codes kasda's demo and tests use;
a pemda adds its own rows. A code not in it is shown with ``MISSING``, never an error: a report must
print whatever the budget holds. The budget lines' own uraian (recorded at adoption) name the full
kode rekening; the budget records no SKPD name, so those come from here.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

LEVELS = (
    "urusan",
    "bidang",
    "skpd",
    "program",
    "kegiatan",
    "subkegiatan",
    "akun",
    "kelompok",
    "jenis",
    "objek",
    "rincian",
    "rekening",
)
SEGMENTS = {
    "urusan": 1,
    "bidang": 2,
    "skpd": 8,
    "program": 3,
    "kegiatan": 5,
    "subkegiatan": 6,
    "akun": 1,
    "kelompok": 2,
    "jenis": 3,
    "objek": 4,
    "rincian": 5,
    "rekening": 6,
}
MISSING = "(uraian belum ada dalam daftar kode)"
NO_SUB_KEGIATAN = "(pendapatan/pembiayaan SKPD, tanpa sub kegiatan)"
MAX_ROWS = 100_000


@cache
def names() -> dict[str, dict[str, str]]:
    """level -> kode -> uraian, read once from the shipped list and checked."""
    text = resources.files("projections").joinpath("nomenclature.csv").read_text("utf-8")
    found: dict[str, dict[str, str]] = {level: {} for level in LEVELS}
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) <= MAX_ROWS, "the code list is larger than any pemda's chart"
    for number, row in enumerate(rows, start=2):
        level, kode, uraian = row["level"], row["kode"], row["uraian"].strip()
        where = f"nomenclature.csv line {number}"
        assert level in found, f"{where}: unknown level {level!r}"
        assert len(kode.split(".")) == SEGMENTS[level], f"{where}: {kode} is not a {level} code"
        assert kode not in found[level], f"{where}: {kode} twice"
        assert uraian, f"{where}: no uraian"
        found[level][kode] = uraian
    return found


def uraian(level: str, kode: str) -> str:
    """The uraian of one code, or ``MISSING``."""
    if kode == "-":
        return NO_SUB_KEGIATAN
    return names()[level].get(kode, MISSING)
