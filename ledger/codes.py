"""Permendagri 90/2019 codes: validated and normalised to their zero-padded form.

Some regional exports drop the zero padding (``5.1.2.02.01.27``); every code is normalised on the way
in, so that one line has exactly one key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ledger.errors import InvalidCode

# Segment widths of each kind of code.
SUB_KEGIATAN_WIDTHS = (1, 2, 2, 1, 2, 4)  # urusan.bidang.program.kewenangan.kegiatan.sub kegiatan
REKENING_WIDTHS = (1, 1, 2, 2, 2, 4)  # akun.kelompok.jenis.objek.rincian objek.sub rincian objek
SKPD_WIDTHS = (1, 2, 1, 2, 1, 2, 2, 4)  # urusan/bidang x3, unit, sub unit

AKUN_PENDAPATAN = "4"
AKUN_BELANJA = "5"
AKUN_PEMBIAYAAN = "6"
PENERIMAAN_PEMBIAYAAN = "6.1"
PENGELUARAN_PEMBIAYAAN = "6.2"
# Permendagri 90/2019, jenis 6.1.01 "Sisa Lebih Perhitungan Anggaran Tahun Sebelumnya": the line on
# which a year receives the SiLPA of the year before (penggunaan SiLPA), e.g. 6.1.01.01.01.0001.
SILPA_JENIS = "6.1.01"
SILPA_REKENING = "6.1.01.01.01.0001"  # Sisa Lebih Perhitungan Anggaran Tahun Anggaran Sebelumnya


def normalise_code(code: object, widths: tuple[int, ...], what: str) -> str:
    """``code`` with each segment zero-padded to ``widths`` (``InvalidCode`` naming ``what``)."""
    if type(code) is str:
        return normalised_code(code, widths, what)
    if not isinstance(code, str):
        raise InvalidCode(f"{what} must be a string like {_example(widths)}, got {code!r}")
    return normalised_code.__wrapped__(code, widths, what)  # a str subclass: not remembered


@lru_cache(maxsize=16_384)
def normalised_code(code: str, widths: tuple[int, ...], what: str) -> str:
    """``code`` normalised; remembered, since the commands of a batch name the same lines again
    and again (a code refused raises, and is not remembered)."""
    parts = code.strip().split(".")
    if len(parts) != len(widths):
        raise InvalidCode(
            f"{what} {code!r} must have {len(widths)} segments like {_example(widths)}"
        )
    out = []
    for part, width in zip(parts, widths, strict=True):
        if not part.isascii() or not part.isdigit() or len(part) > width:
            raise InvalidCode(
                f"{what} {code!r}: segment {part!r} is not a number of <= {width} digits"
            )
        out.append(part.zfill(width))
    return ".".join(out)


def _example(widths: tuple[int, ...]) -> str:
    return ".".join("0" * (w - 1) + "1" for w in widths)


def normalise_sub_kegiatan(code: object) -> str:
    """``1.1.1.2.2.1`` -> ``1.01.01.2.02.0001``."""
    value = normalise_code(code, SUB_KEGIATAN_WIDTHS, "sub kegiatan code")
    if value.startswith("0"):
        raise InvalidCode(f"sub kegiatan code {value!r}: urusan 0 does not exist")
    return value


def normalise_rekening(code: object) -> str:
    """``5.1.2.02.01.27`` -> ``5.1.02.02.01.0027``."""
    value = normalise_code(code, REKENING_WIDTHS, "kode rekening")
    if value[0] not in (AKUN_PENDAPATAN, AKUN_BELANJA, AKUN_PEMBIAYAAN):
        raise InvalidCode(
            f"kode rekening {value!r}: akun must be 4 (pendapatan), 5 (belanja) or 6 (pembiayaan)"
        )
    return value


def normalise_skpd(code: object) -> str:
    """``1.1.0.0.0.0.1.0`` -> ``1.01.0.00.0.00.01.0000``."""
    return normalise_code(code, SKPD_WIDTHS, "SKPD code")


@dataclass(frozen=True, slots=True)
class LineKey:
    """The key of one budget line: SKPD, sub kegiatan and kode rekening, all normalised.

    Income lines (akun 4) and financing receipts (6.1) are budgeted per SKPD without a sub kegiatan.
    """

    skpd: str
    sub_kegiatan: str | None
    rekening: str

    @classmethod
    def parse(cls, skpd: object, sub_kegiatan: object, rekening: object) -> LineKey:
        rek = normalise_rekening(rekening)
        skpd_code = normalise_skpd(skpd)
        if sub_kegiatan is None or sub_kegiatan == "":
            if is_spending(rek):
                raise InvalidCode(f"spending line {rek} needs a sub kegiatan code")
            return cls(skpd_code, None, rek)
        return cls(skpd_code, normalise_sub_kegiatan(sub_kegiatan), rek)

    def __str__(self) -> str:
        return f"{self.skpd}/{self.sub_kegiatan or '-'}/{self.rekening}"

    # Roll-up levels for reports (program = first 3 segments, kegiatan = first 5).
    @property
    def program(self) -> str | None:
        return None if self.sub_kegiatan is None else ".".join(self.sub_kegiatan.split(".")[:3])

    @property
    def kegiatan(self) -> str | None:
        return None if self.sub_kegiatan is None else ".".join(self.sub_kegiatan.split(".")[:5])


def is_spending(rekening: str) -> bool:
    """Belanja (5.x) and financing payments (6.2.x) are paid out by SP2D; everything else is income."""
    return rekening.startswith(AKUN_BELANJA) or rekening.startswith("6.2")
