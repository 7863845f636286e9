"""The world the tests and benchmarks play in, each fact defined once: the demo's pemda and year
(``kasda.demo.pemda``), its Dinas Pendidikan with one sub kegiatan and three kode rekening, the
demo's sign-in users (``kasda.demo.users``) and their media vendor; and a second pemda, SKPD and
vendor, for the checks of scope."""

from __future__ import annotations

from datetime import datetime

from kasda.demo.chart import rek
from kasda.demo.pemda import PEMDA, SKPDS, WIB, YEAR
from kasda.demo.users import OFFICIALS_SKPD, USERS, VENDOR_NAME, VENDOR_NPWP

__all__ = [
    "GOODS",
    "INCOME",
    "MEDIA",
    "NPWP",
    "NPWP_WRITTEN",
    "OTHER_NPWP",
    "OTHER_PEMDA",
    "OTHER_SKPD",
    "OTHER_VENDOR_NAME",
    "PEMDA",
    "SKPD",
    "START",
    "SUB_KEGIATAN",
    "USERS",
    "VENDOR_NAME",
    "WIB",
    "YEAR",
]

OTHER_PEMDA = "32.04"  # Kabupaten Bandung: owns nothing the tests build unless told to

SKPD = OFFICIALS_SKPD  # Dinas Pendidikan, whose officials are the sign-in users
OTHER_SKPD = next(s.code for s in SKPDS if s.short == "DINKES")  # Dinas Kesehatan
SUB_KEGIATAN = "1.01.01.2.02.0001"

MEDIA = rek("iklan").code  # Belanja Jasa Iklan/Reklame, Film, dan Pemotretan
GOODS = rek("atk").code  # Belanja Alat Tulis Kantor
INCOME = next(code for s in SKPDS for code, uraian, _ in s.income if uraian == "Pajak Hotel")

NPWP = VENDOR_NPWP  # the vendor user's company, as the ledger keeps it (digits)
NPWP_WRITTEN = "01.234.567.8-901.000"  # the same NPWP as people write it
OTHER_NPWP = "019876543210000"
OTHER_VENDOR_NAME = "CV Media Priangan"

START = datetime(YEAR, 1, 2, 8, 0, tzinfo=WIB)  # the first working morning of the year
