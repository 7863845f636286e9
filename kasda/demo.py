"""``kasda demo``: a realistic fiscal year of one pemda, built deterministically from a seed.

Kota Bandung (32.73), APBD 2026: SKPD with Permendagri 90 codes, a DPA of a few hundred lines (sub
kegiatan x kode rekening, income lines too), a vendor registry with media companies, separate users for
every role, and over a thousand LS disbursements driven through their whole life by the ledger's own
commands, on a simulated clock that walks the working days of 2026 (WIB). Every rule stays on: the
demo also shows the ledger refusing what it must refuse (a blocked line, an SPP over the pagu, the maker
verifying their own SPP, a vendor that is blacklisted, ...).

Money leaves the RKUD through the Midtrans-compatible simulator (``gateways.simulator``), in-process on
the demo's clock: at every working day's SEND slot the authorised SP2Ds are paid through Iris by the
payout service (``gateways.payouts``: derived reference, account validation, maker-checker, facts
recorded once); at the BANK slot the bank runs the day's payouts, Iris notifies ``gateways.webhooks`` of
each and the ledger records it settled or failed (the service's poller catches what a notification
missed). The stories are the simulator's faults: payouts that fail (sent again the next day, or the
SP2D withdrawn), payouts the vendor's bank sends back, a payout the service refuses to send because the
vendor's account changed after the SP2D, and Iris notifications delivered twice that record nothing the
second time. The gateway's and the bank's daily files of the year (payout and settlement reports, RKUD
statement as MT940 and CSV) can be written for reconciliation. Income paid by QRIS or virtual account
is billed at the simulator through ``midtransclient`` (Core API), paid there and recorded from its
status by ``gateways.receipts``; central transfers (4.2) and teller payments, which pass no gateway,
are recorded directly.

The same seed gives the same store contents and the same printed numbers. Run twice on the same store,
the demo does not build the year again: it says so and prints the totals that are in the store.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, TextIO, cast
from uuid import UUID

from gateways.demo_hook import DemoGateway, write_daily_files
from gateways.facts import GATEWAY_ACTOR, Verdict
from gateways.payouts import Outcome as PayoutOutcome
from gateways.payouts import PayoutResult
from gateways.port import ReceiptOrder
from gateways.references import payout_reference
from kasda.lra import year_summary
from ledger import commands as c
from ledger import ids
from ledger.application import CommandResult, Ledger, Outcome
from ledger.codes import is_spending
from ledger.disbursement import SP2D_WITHOUT_TRANSFER, Status
from ledger.errors import (
    AlreadyExists,
    DomainError,
    LineBlocked,
    NotFound,
    PaguExceeded,
    RoleNotPermitted,
    SeparationOfDuties,
    VendorNotPayable,
)
from ledger.money import BASIS_POINTS, DEFAULT_TAX_RATES, TaxRate, withholdings
from ledger.roles import Actor, Role
from ledger.store import database_url, env_for_url
from ledger.vendor import VendorKind

PEMDA = "32.73"
PEMDA_NAME = "Kota Bandung"
YEAR = 2026
DEFAULT_LIFECYCLES = 1_200
WIB = timezone(timedelta(hours=7), "WIB")

# Rates are data: the ledger's defaults plus PPh 4(2) on construction services (PP 9/2022, a contractor
# with a medium/large qualification), which the demo withholds on works contracts.
TAX_RATES: dict[str, TaxRate] = {
    **DEFAULT_TAX_RATES,
    "PPH4_2": TaxRate("PPH4_2", 265, "PPh Pasal 4 ayat 2 (jasa konstruksi)"),
}
GOODS = ("PPN", "PPH22")
SERVICES = ("PPN", "PPH23")
CATERING = ("PPH23",)  # caterers charge the regional restaurant tax (PBJT), not PPN
WORKS = ("PPN", "PPH4_2")


# -- the catalogue -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rekening:
    code: str
    uraian: str
    category: str  # which vendors supply it
    taxes: tuple[str, ...]


REKENING: dict[str, Rekening] = {
    r.category + ":" + r.code: r
    for r in (
        Rekening(
            "5.1.02.01.01.0024",
            "Belanja Alat/Bahan untuk Kegiatan Kantor-Alat Tulis Kantor",
            "atk",
            GOODS,
        ),
        Rekening(
            "5.1.02.01.01.0025",
            "Belanja Alat/Bahan untuk Kegiatan Kantor-Kertas dan Cover",
            "atk",
            GOODS,
        ),
        Rekening(
            "5.1.02.01.01.0031",
            "Belanja Alat/Bahan untuk Kegiatan Kantor-Alat Listrik",
            "atk",
            GOODS,
        ),
        Rekening(
            "5.1.02.01.01.0026",
            "Belanja Alat/Bahan untuk Kegiatan Kantor-Bahan Cetak",
            "cetak",
            GOODS,
        ),
        Rekening(
            "5.1.02.01.01.0029",
            "Belanja Alat/Bahan untuk Kegiatan Kantor-Bahan Komputer",
            "it",
            GOODS,
        ),
        Rekening("5.1.02.01.01.0052", "Belanja Makanan dan Minuman Rapat", "katering", CATERING),
        Rekening("5.1.02.01.01.0038", "Belanja Obat-Obatan", "farmasi", GOODS),
        Rekening("5.1.02.02.01.0013", "Belanja Jasa Tenaga Kebersihan", "alihdaya", SERVICES),
        Rekening("5.1.02.02.01.0016", "Belanja Jasa Tenaga Keamanan", "alihdaya", SERVICES),
        Rekening(
            "5.1.02.02.01.0064",
            "Belanja Kawat/Faksimili/Internet/TV Berlangganan",
            "telko",
            SERVICES,
        ),
        Rekening(
            "5.1.02.02.01.0055",
            "Belanja Jasa Iklan/Reklame, Film, dan Pemotretan",
            "media",
            SERVICES,
        ),
        Rekening("5.1.02.02.01.0040", "Belanja Jasa Penyelenggaraan Acara", "eo", SERVICES),
        Rekening(
            "5.1.02.02.02.0005",
            "Belanja Jasa Konsultansi Perencanaan Rekayasa",
            "konsultan",
            SERVICES,
        ),
        Rekening(
            "5.1.02.03.02.0035",
            "Belanja Pemeliharaan Alat Angkutan-Alat Angkutan Darat Bermotor-Kendaraan Dinas",
            "bengkel",
            SERVICES,
        ),
        Rekening(
            "5.1.02.03.03.0001",
            "Belanja Pemeliharaan Bangunan Gedung-Bangunan Gedung Tempat Kerja-Bangunan Gedung Kantor",
            "konstruksi",
            WORKS,
        ),
        Rekening("5.2.02.05.02.0001", "Belanja Modal Mebel", "mebel", GOODS),
        Rekening("5.2.02.05.01.0005", "Belanja Modal Alat Kantor Lainnya", "mebel", GOODS),
        Rekening("5.2.02.10.01.0002", "Belanja Modal Personal Computer", "it", GOODS),
        Rekening("5.2.02.10.02.0004", "Belanja Modal Peralatan Jaringan", "it", GOODS),
        Rekening("5.2.02.07.01.0001", "Belanja Modal Alat Kedokteran Umum", "alkes", GOODS),
        Rekening(
            "5.2.02.02.01.0002", "Belanja Modal Kendaraan Bermotor Penumpang", "kendaraan", GOODS
        ),
        Rekening(
            "5.2.02.02.01.0004",
            "Belanja Modal Kendaraan Bermotor Angkutan Barang",
            "kendaraan",
            GOODS,
        ),
        Rekening("5.2.03.01.01.0001", "Belanja Modal Bangunan Gedung Kantor", "konstruksi", WORKS),
        Rekening(
            "5.2.03.01.01.0003",
            "Belanja Modal Bangunan Gedung Tempat Pendidikan",
            "konstruksi",
            WORKS,
        ),
        Rekening(
            "5.2.03.01.01.0009",
            "Belanja Modal Bangunan Gedung Tempat Pelayanan Kesehatan",
            "konstruksi",
            WORKS,
        ),
        Rekening("5.2.04.01.01.0004", "Belanja Modal Jalan Kota", "konstruksi", WORKS),
        Rekening(
            "5.2.04.01.03.0001", "Belanja Modal Bangunan Pelengkap Jalan", "konstruksi", WORKS
        ),
        Rekening(
            "5.2.04.02.04.0001", "Belanja Modal Saluran Drainase Perkotaan", "konstruksi", WORKS
        ),
    )
}
_BY_NAME = {
    "atk": "atk:5.1.02.01.01.0024",
    "kertas": "atk:5.1.02.01.01.0025",
    "alat_listrik": "atk:5.1.02.01.01.0031",
    "cetak": "cetak:5.1.02.01.01.0026",
    "bahan_komputer": "it:5.1.02.01.01.0029",
    "makmin": "katering:5.1.02.01.01.0052",
    "obat": "farmasi:5.1.02.01.01.0038",
    "kebersihan": "alihdaya:5.1.02.02.01.0013",
    "keamanan": "alihdaya:5.1.02.02.01.0016",
    "internet": "telko:5.1.02.02.01.0064",
    "iklan": "media:5.1.02.02.01.0055",
    "acara": "eo:5.1.02.02.01.0040",
    "konsultan": "konsultan:5.1.02.02.02.0005",
    "pml_kendaraan": "bengkel:5.1.02.03.02.0035",
    "pml_gedung": "konstruksi:5.1.02.03.03.0001",
    "mebel": "mebel:5.2.02.05.02.0001",
    "alat_kantor": "mebel:5.2.02.05.01.0005",
    "komputer": "it:5.2.02.10.01.0002",
    "jaringan": "it:5.2.02.10.02.0004",
    "alkes": "alkes:5.2.02.07.01.0001",
    "kendaraan": "kendaraan:5.2.02.02.01.0002",
    "truk": "kendaraan:5.2.02.02.01.0004",
    "gedung": "konstruksi:5.2.03.01.01.0001",
    "gedung_sekolah": "konstruksi:5.2.03.01.01.0003",
    "gedung_puskesmas": "konstruksi:5.2.03.01.01.0009",
    "jalan": "konstruksi:5.2.04.01.01.0004",
    "pelengkap_jalan": "konstruksi:5.2.04.01.03.0001",
    "drainase": "konstruksi:5.2.04.02.04.0001",
}


def rek(name: str) -> Rekening:
    return REKENING[_BY_NAME[name]]


# Gross amount of one payment (rupiah, log-uniform between the bounds) and how often a line of that
# category is paid, relative to the others.
AMOUNTS: dict[str, tuple[int, int, float]] = {
    "atk": (2_500_000, 45_000_000, 6.0),
    "cetak": (5_000_000, 90_000_000, 4.0),
    "it": (8_000_000, 350_000_000, 3.0),
    "katering": (3_000_000, 60_000_000, 8.0),
    "farmasi": (25_000_000, 600_000_000, 3.0),
    "alihdaya": (45_000_000, 190_000_000, 10.0),
    "telko": (4_000_000, 60_000_000, 9.0),
    "media": (2_500_000, 95_000_000, 7.0),
    "eo": (20_000_000, 180_000_000, 3.0),
    "konsultan": (45_000_000, 450_000_000, 1.5),
    "bengkel": (1_500_000, 30_000_000, 5.0),
    "konstruksi": (150_000_000, 4_800_000_000, 1.5),
    "mebel": (15_000_000, 190_000_000, 1.2),
    "alkes": (80_000_000, 2_400_000_000, 1.5),
    "kendaraan": (250_000_000, 1_400_000_000, 0.8),
}

# The support programme (program 01) every SKPD runs: sub kegiatan (kegiatan.sub) and its accounts.
SUPPORT = (
    (
        "2.06.0002",
        "Penyediaan Peralatan dan Perlengkapan Kantor",
        ("atk", "kertas", "alat_listrik"),
    ),
    ("2.06.0005", "Penyediaan Barang Cetakan dan Penggandaan", ("cetak",)),
    ("2.06.0009", "Penyelenggaraan Rapat Koordinasi dan Konsultasi SKPD", ("makmin",)),
    ("2.07.0005", "Pengadaan Mebel", ("mebel", "alat_kantor")),
    ("2.07.0006", "Pengadaan Peralatan dan Mesin Lainnya", ("komputer",)),
    ("2.08.0002", "Penyediaan Jasa Komunikasi, Sumber Daya Air dan Listrik", ("internet",)),
    ("2.08.0004", "Penyediaan Jasa Pelayanan Umum Kantor", ("kebersihan", "keamanan")),
    ("2.09.0002", "Penyediaan Jasa Pemeliharaan Kendaraan Dinas Operasional", ("pml_kendaraan",)),
    ("2.09.0009", "Pemeliharaan/Rehabilitasi Gedung Kantor dan Bangunan Lainnya", ("pml_gedung",)),
)
SUPPORT_KECAMATAN = (
    ("2.06.0002", "Penyediaan Peralatan dan Perlengkapan Kantor", ("atk", "kertas")),
    ("2.06.0005", "Penyediaan Barang Cetakan dan Penggandaan", ("cetak",)),
    ("2.06.0009", "Penyelenggaraan Rapat Koordinasi dan Konsultasi SKPD", ("makmin",)),
    ("2.08.0002", "Penyediaan Jasa Komunikasi, Sumber Daya Air dan Listrik", ("internet",)),
    ("2.08.0004", "Penyediaan Jasa Pelayanan Umum Kantor", ("kebersihan",)),
    ("2.09.0002", "Penyediaan Jasa Pemeliharaan Kendaraan Dinas Operasional", ("pml_kendaraan",)),
)

Program = tuple[tuple[str, str, str], ...]  # sub kegiatan code, name, accounts (space-separated)


@dataclass(frozen=True)
class SkpdSpec:
    code: str
    name: str
    short: str
    size: int  # 1 small .. 3 large: how many PPTK / PPK / PA it has
    programme: Program  # its own sub kegiatan: (code, name, accounts)
    income: tuple[tuple[str, str, int], ...] = ()  # (rekening, uraian, share of income in permil)
    kecamatan: bool = False


SKPDS: tuple[SkpdSpec, ...] = (
    SkpdSpec("1.01.0.00.0.00.01.0000", "Dinas Pendidikan", "DISDIK", 3, (
        ("1.01.02.2.01.0009", "Rehabilitasi Sedang/Berat Ruang Kelas Sekolah Dasar", "gedung_sekolah konsultan"),
        ("1.01.02.2.02.0009", "Rehabilitasi Sedang/Berat Ruang Kelas SMP", "gedung_sekolah"),
        ("1.01.02.2.02.0017", "Pengadaan Perlengkapan Sekolah", "mebel komputer"),
        ("1.01.02.2.02.0034", "Pembinaan Minat, Bakat dan Kreativitas Siswa", "acara iklan makmin"),
    )),
    SkpdSpec("1.02.0.00.0.00.01.0000", "Dinas Kesehatan", "DINKES", 3, (
        ("1.02.02.2.01.0004", "Rehabilitasi dan Pemeliharaan Puskesmas", "gedung_puskesmas konsultan"),
        ("1.02.02.2.01.0014", "Pengadaan Alat Kesehatan/Alat Penunjang Medik Fasyankes", "alkes"),
        ("1.02.02.2.01.0016", "Pengadaan Obat, Bahan Habis Pakai dan Vaksin", "obat"),
        ("1.02.02.2.02.0018", "Pengelolaan Pelayanan Promosi Kesehatan", "iklan cetak acara"),
    ), income=(("4.1.02.01.01.0001", "Retribusi Pelayanan Kesehatan", 40),)),
    SkpdSpec("1.03.0.00.0.00.01.0000", "Dinas Pekerjaan Umum dan Penataan Ruang", "DPUPR", 3, (
        ("1.03.10.2.01.0023", "Rehabilitasi Jalan", "jalan konsultan iklan"),
        ("1.03.10.2.01.0030", "Pemeliharaan Berkala Jalan", "jalan"),
        ("1.03.03.2.01.0003", "Pembangunan Sistem Drainase Perkotaan", "drainase konsultan"),
    )),
    SkpdSpec("1.05.0.00.0.00.01.0000", "Satuan Polisi Pamong Praja", "SATPOLPP", 2, (
        ("1.05.02.2.01.0001", "Penanganan Gangguan Ketenteraman dan Ketertiban Umum", "makmin kendaraan iklan"),
    )),
    SkpdSpec("1.06.0.00.0.00.01.0000", "Dinas Sosial", "DINSOS", 2, (
        ("1.06.04.2.02.0001", "Penyediaan Permakanan bagi Penghuni Panti Sosial", "makmin"),
        ("1.06.06.2.01.0001", "Penyediaan Makanan, Sandang, dan Tempat Penampungan Pengungsi", "makmin cetak"),
        ("1.06.02.2.01.0005", "Sosialisasi Program Perlindungan Sosial", "iklan"),
    )),
    SkpdSpec("2.11.0.00.0.00.01.0000", "Dinas Lingkungan Hidup", "DLH", 2, (
        ("2.11.11.2.01.0001", "Penanganan Sampah dengan Pemindahan ke TPA", "truk pml_kendaraan"),
        ("2.11.05.2.01.0003", "Pengelolaan Ruang Terbuka Hijau", "kebersihan"),
        ("2.11.11.2.01.0006", "Kampanye Pengurangan Sampah", "iklan acara"),
    ), income=(("4.1.02.01.02.0001", "Retribusi Pelayanan Persampahan/Kebersihan", 25),)),
    SkpdSpec("2.12.0.00.0.00.01.0000", "Dinas Kependudukan dan Pencatatan Sipil", "DISDUKCAPIL", 2, (
        ("2.12.02.2.01.0001", "Pelayanan Pendaftaran Penduduk", "cetak bahan_komputer komputer iklan"),
    )),
    SkpdSpec("2.15.0.00.0.00.01.0000", "Dinas Perhubungan", "DISHUB", 2, (
        ("2.15.02.2.02.0001", "Penyediaan Perlengkapan Jalan di Jalan Kota", "pelengkap_jalan"),
        ("2.15.02.2.06.0001", "Pengelolaan Terminal Penumpang Tipe C", "kebersihan keamanan"),
        ("2.15.02.2.01.0004", "Sosialisasi Keselamatan Lalu Lintas", "iklan"),
    ), income=(("4.1.02.01.05.0001", "Retribusi Pelayanan Parkir di Tepi Jalan Umum", 20),)),
    SkpdSpec("2.16.2.20.2.21.01.0000", "Dinas Komunikasi dan Informatika", "DISKOMINFO", 3, (
        ("2.16.02.2.01.0002", "Monitoring Opini dan Aspirasi Publik", "iklan"),
        ("2.16.02.2.01.0005", "Pengelolaan Media Komunikasi Publik", "iklan cetak acara"),
        ("2.16.03.2.02.0003", "Pengelolaan Pusat Data Pemerintahan Daerah", "jaringan komputer internet"),
        ("2.16.03.2.02.0004", "Penatalaksanaan dan Pengawasan e-Government", "konsultan bahan_komputer"),
    )),
    SkpdSpec("4.01.0.00.0.00.01.0000", "Sekretariat Daerah", "SETDA", 3, (
        ("4.01.01.2.13.0001", "Penyediaan Kebutuhan Rumah Tangga Kepala Daerah", "makmin acara"),
        ("4.01.01.2.11.0001", "Pelaksanaan Protokol dan Komunikasi Pimpinan", "iklan acara"),
        ("4.01.01.2.07.0002", "Pengadaan Kendaraan Dinas Operasional", "kendaraan"),
    )),
    SkpdSpec("4.02.0.00.0.00.01.0000", "Sekretariat DPRD", "SETWAN", 2, (
        ("4.02.02.2.05.0001", "Publikasi dan Dokumentasi DPRD", "iklan cetak"),
        ("4.02.02.2.02.0001", "Penyelenggaraan Rapat Paripurna", "makmin acara"),
    )),
    SkpdSpec("5.02.0.00.0.00.01.0000", "Badan Pengelolaan Keuangan dan Aset Daerah", "BPKAD", 3, (
        ("5.02.02.2.03.0001", "Penyusunan Laporan Keuangan Pemerintah Daerah", "konsultan cetak makmin"),
        ("5.02.02.2.04.0001", "Pengelolaan Kas Daerah", "bahan_komputer jaringan"),
    ), income=(
        ("4.2.01.01.02.0001", "Dana Alokasi Umum", 420),
        ("4.2.01.01.03.0001", "Dana Bagi Hasil Pajak", 90),
    )),
    SkpdSpec("5.02.0.00.0.00.02.0000", "Badan Pendapatan Daerah", "BAPENDA", 2, (
        ("5.02.04.2.01.0003", "Pendataan dan Pendaftaran Objek Pajak Daerah", "cetak konsultan iklan"),
    ), income=(
        ("4.1.01.06.01.0001", "Pajak Hotel", 45),
        ("4.1.01.07.01.0001", "Pajak Restoran", 80),
        ("4.1.01.09.01.0001", "Pajak Reklame", 15),
        ("4.1.01.12.01.0001", "Pajak Bumi dan Bangunan Perdesaan dan Perkotaan", 120),
        ("4.1.01.13.01.0001", "Bea Perolehan Hak atas Tanah dan Bangunan", 145),
    )),
    SkpdSpec("6.01.0.00.0.00.01.0000", "Inspektorat Daerah", "INSPEKTORAT", 1, (
        ("6.01.02.2.01.0001", "Penyelenggaraan Pengawasan Internal", "makmin konsultan"),
    )),
    SkpdSpec("7.01.0.00.0.00.04.0000", "Kecamatan Coblong", "KEC-COBLONG", 1, (
        ("7.01.02.2.01.0001", "Koordinasi Penyelenggaraan Kegiatan Pemerintahan di Kecamatan", "acara iklan"),
    ), kecamatan=True),
    SkpdSpec("7.01.0.00.0.00.12.0000", "Kecamatan Sukajadi", "KEC-SUKAJADI", 1, (
        ("7.01.02.2.01.0001", "Koordinasi Penyelenggaraan Kegiatan Pemerintahan di Kecamatan", "acara iklan"),
    ), kecamatan=True),
    SkpdSpec("7.01.0.00.0.00.18.0000", "Kecamatan Cicendo", "KEC-CICENDO", 1, (
        ("7.01.02.2.01.0001", "Koordinasi Penyelenggaraan Kegiatan Pemerintahan di Kecamatan", "acara iklan"),
    ), kecamatan=True),
)  # fmt: skip

# Lines the APBD-P adds: (SKPD short name, sub kegiatan, sub kegiatan name, account).
APBD_P_NEW_LINES = (
    ("DPUPR", "1.03.10.2.01.0041", "Penanganan Jalan Terdampak Banjir dan Longsor", "jalan"),
    ("DPUPR", "1.03.10.2.01.0041", "Penanganan Jalan Terdampak Banjir dan Longsor", "konsultan"),
    ("DINSOS", "1.06.06.2.01.0002", "Penyediaan Logistik Penyelamatan Korban Bencana", "makmin"),
    ("DINKES", "1.02.02.2.02.0025", "Penanggulangan Kejadian Luar Biasa Demam Berdarah", "obat"),
    ("DISKOMINFO", "2.16.02.2.01.0005", "Pengelolaan Media Komunikasi Publik", "konsultan"),
    ("SETDA", "4.01.01.2.11.0001", "Pelaksanaan Protokol dan Komunikasi Pimpinan", "cetak"),
)

VENDORS: dict[str, tuple[str, ...]] = {
    "media": (
        "PT Kabar Priangan Media", "PT Warta Parahyangan Digital", "PT Radio Suara Bandung Raya",
        "PT Televisi Kota Kembang", "PT Berita Jabar Nusantara", "PT Media Siliwangi Utama",
        "CV Lensa Pasundan Kreasi", "PT Jurnal Bandung Daring", "PT Swara Cikapundung Radio",
        "PT Reklame Kencana Luar Ruang", "PT Citra Sunda Televisi", "PT Gema Priangan Pers",
        "CV Potret Kota Kreatif",
    ),
    "atk": (
        "CV Sumber Alat Tulis", "CV Mitra Kantor Sejahtera", "PT Pelita Alat Kantor Indonesia",
        "CV Karya Mandiri Abadi", "CV Anugrah Jaya Bersama", "CV Sinar Harapan Niaga",
    ),
    "cetak": ("CV Percetakan Mekar Jaya", "PT Grafika Pasundan", "CV Multi Cetak Bandung", "CV Sinar Ofset"),
    "it": (
        "PT Data Prima Solusindo", "PT Sinergi Teknologi Nusantara", "CV Cipta Komputindo",
        "PT Jaringan Digital Priangan", "PT Mitra Infotama Sejati",
    ),
    "katering": ("CV Rasa Sunda Boga", "CV Dapur Parahyangan", "CV Sari Rasa Boga", "CV Nikmat Sajian Priangan"),
    "farmasi": ("PT Farmasi Medika Utama", "PT Sehat Sentosa Farma", "PT Distribusi Obat Nusantara"),
    "alihdaya": ("PT Tenaga Prima Mandiri", "PT Satria Jaga Utama", "PT Bersih Indah Lestari"),
    "telko": ("PT Jaringan Telematika Bandung", "PT Serat Optik Priangan"),
    "eo": ("CV Panggung Kreasi Acara", "PT Gelar Acara Nusantara", "CV Tata Pentas Bandung"),
    "konsultan": ("CV Rancang Bangun Konsultan", "PT Wiradaya Konsultindo", "CV Graha Teknik Konsultan"),
    "bengkel": ("CV Bengkel Motor Jaya", "PT Servis Otomotif Pasteur", "CV Otomotif Sukajadi"),
    "konstruksi": (
        "PT Karya Bangun Priangan", "CV Wijaya Konstruksi", "PT Marga Pasundan Perkasa",
        "CV Tirta Saluran Mandiri", "PT Beton Perkasa Abadi", "CV Graha Bangun Sejahtera",
        "PT Jalan Raya Konstruksi",
    ),
    "mebel": ("CV Mebel Jati Asri", "PT Interior Kantor Nusantara", "CV Kursi Meja Jaya"),
    "alkes": ("PT Alkesindo Medika", "PT Sarana Medis Prima", "PT Tekno Medika Utama"),
    "kendaraan": ("PT Dealer Motor Bandung Raya", "PT Kendaraan Niaga Priangan"),
}  # fmt: skip

# Bank code (BI), name, account number length, share of vendors banking there.
BANKS = (
    ("110", "bank bjb", 13, 35),
    ("002", "BRI", 15, 15),
    ("008", "Mandiri", 13, 20),
    ("009", "BNI", 10, 10),
    ("014", "BCA", 10, 15),
    ("451", "BSI", 10, 5),
)
KPP_BANDUNG = ("423", "424", "425", "428", "429", "441", "444")
FIRST_NAMES = (
    "ani", "budi", "citra", "dedi", "euis", "fajar", "gita", "hendra", "iwan", "juju", "kurnia",
    "lina", "maman", "nining", "oman", "puspa", "rina", "asep", "siti", "tati", "ujang", "wawan",
    "yanti", "yusuf", "agus", "dewi", "eka", "rizki", "neneng", "dadang", "ratna", "cecep", "elis",
    "irfan", "nurul", "teguh", "sari", "andri", "wulan", "deden", "nia", "rudi", "tina", "hadi",
)  # fmt: skip
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
# Fixed-date national holidays only (the moving ones are set each year by SKB 3 Menteri).
HOLIDAYS = frozenset(
    {date(YEAR, 1, 1), date(YEAR, 5, 1), date(YEAR, 6, 1), date(YEAR, 8, 17), date(YEAR, 12, 25)}
)
# Share of the year's SPPs requested in each month (spending starts slowly, December is busiest).
MONTH_WEIGHTS = (2, 5, 7, 8, 8, 9, 8, 9, 9, 10, 11, 14)


class Slot:
    """Times of day at which the ledger's commands arrive, in order. One batch per day and slot."""

    ADMIN, REQUEST, VERIFY, SPM, SP2D, SEND, BANK = range(7)
    TIMES = ((8, 0), (9, 0), (10, 30), (13, 0), (14, 0), (15, 0), (16, 30))


def working_days(year: int) -> list[date]:
    day, out = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and day not in HOLIDAYS:
            out.append(day)
        day += timedelta(days=1)
    return out


def million_up(amount: int) -> int:
    return -(-amount // 1_000_000) * 1_000_000


def million_down(amount: int) -> int:
    return amount // 1_000_000 * 1_000_000


def rupiah(amount: int) -> str:
    """Rp 1.234.567 (Indonesian thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(amount):,}".replace(",", ".")


def count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


# -- the plan --------------------------------------------------------------------------------------
@dataclass(eq=False)
class Skpd:
    spec: SkpdSpec
    pptk: list[Actor]
    bendahara: Actor
    ppk: list[Actor]
    pa: list[Actor]
    spp_seq: int = 0
    spm_seq: int = 0
    contract_seq: int = 0

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def short(self) -> str:
        return self.spec.short


@dataclass(eq=False)
class Line:
    skpd: Skpd
    sub_kegiatan: str | None
    sub_kegiatan_name: str
    code: str  # kode rekening
    uraian: str
    rekening: Rekening | None  # None: an income line
    pptk: Actor
    pagu: int = 0  # as adopted (or as added by the APBD-P)
    planned: list[Lifecycle] = field(default_factory=list)
    special: str = ""  # blocked, shift_from, shift_to, raised, cut, new

    @property
    def ref(self) -> c.LineRef:
        return c.LineRef(skpd=self.skpd.code, sub_kegiatan=self.sub_kegiatan, rekening=self.code)

    @property
    def id(self) -> UUID:
        return ids.budget_line_id(PEMDA, YEAR, self.skpd.code, self.sub_kegiatan, self.code)

    @property
    def category(self) -> str:
        assert self.rekening is not None, "an income line pays no vendor"
        return self.rekening.category

    def spec(self, pagu: int) -> c.LineSpec:
        return c.LineSpec(
            skpd=self.skpd.code,
            sub_kegiatan=self.sub_kegiatan,
            rekening=self.code,
            uraian=self.uraian,
            pagu=pagu,
        )

    @property
    def planned_gross(self) -> int:
        return sum(lc.gross for lc in self.planned)

    @property
    def slack(self) -> int:
        """Pagu that no planned payment will ever use."""
        return self.pagu - self.planned_gross


@dataclass(eq=False)
class Vendor:
    name: str
    category: str
    npwp: str
    bank_code: str
    account: str

    @property
    def kind(self) -> str:
        return VendorKind.MEDIA.value if self.category == "media" else VendorKind.COMPANY.value


@dataclass(eq=False)
class Lifecycle:
    """One planned disbursement: its line, vendor, amounts, people and how its life ends."""

    plan: DemoYear
    line: Line
    vendor: Vendor
    gross: int
    day: int  # index of the working day of the SPP
    outcome: str
    maker: Actor
    verifier: Actor
    approver: Actor
    authoriser: Actor
    note: str = ""
    spp: str = ""
    spm: str = ""
    sp2d: str = ""
    verify_day: int = -1
    documents: dict[str, str] = field(default_factory=dict)

    @property
    def skpd(self) -> Skpd:
        return self.line.skpd

    @property
    def id(self) -> UUID:
        return ids.disbursement_id(PEMDA, YEAR, self.spp)

    def deductions(self) -> tuple[dict[str, Any], ...]:
        """Withholdings from the rate table: PPN is included in the gross, so every tax is levied
        on the tax base (DPP) = gross x 100 / (100 + PPN rate)."""
        assert self.line.rekening is not None
        codes = list(self.line.rekening.taxes)
        base = self.gross
        if "PPN" in codes:
            base = self.gross * BASIS_POINTS // (BASIS_POINTS + TAX_RATES["PPN"].basis_points)
        return tuple(d.as_dict() for d in withholdings(base, codes, TAX_RATES))

    def _number(self, kind: str, seq: int) -> str:
        return f"{PEMDA}/{seq:05d}/{kind}/{self.skpd.short}/{YEAR}"

    def _documents(self) -> dict[str, str]:
        if not self.documents:
            skpd = self.skpd
            skpd.contract_seq += 1
            n, month = skpd.contract_seq, ROMAN[self.plan.days[self.day].month - 1]
            self.documents = {
                "kontrak": f"{n:03d}/SPK/{skpd.short}/{month}/{YEAR}",
                "faktur": f"INV/{YEAR}/{self.plan.vendor_no(self.vendor):02d}/{n:04d}",
                "bast": f"{n:03d}/BAST/{skpd.short}/{month}/{YEAR}",
            }
            if self.vendor.category == "media":
                self.documents["bukti_tayang"] = f"BT/{skpd.short}/{n:04d}/{YEAR}"
        return dict(self.documents)

    # -- commands, built when their batch runs (numbers are issued in the order things happen) ----
    def request(self, _ledger: Ledger, key: str, *, refused: bool = False) -> c.Command:
        skpd = self.skpd
        if refused:  # an SPP the ledger turns away is never numbered
            spp = self._number("SPP-LS", skpd.spp_seq + 1)
        else:
            skpd.spp_seq += 1
            self.spp = spp = self._number("SPP-LS", skpd.spp_seq)
        assert self.line.rekening is not None
        return c.RequestDisbursement(
            idempotency_key=key,
            actor=self.maker,
            pemda=PEMDA,
            year=YEAR,
            spp_number=spp,
            line=self.line.ref,
            vendor_npwp=self.vendor.npwp,
            gross=self.gross,
            deductions=self.deductions(),
            description=f"{self.line.rekening.uraian}: {self.line.sub_kegiatan_name}, "
            f"{self.vendor.name}{self.note}",
            documents=self._documents(),
        )

    def verify(self, _ledger: Ledger, key: str, *, actor: Actor | None = None) -> c.Command:
        return c.VerifyDisbursement(
            idempotency_key=key, actor=actor or self.verifier, pemda=PEMDA, disbursement_id=self.id
        )

    def approve(self, _ledger: Ledger, key: str) -> c.Command:
        if not self.spm:
            self.skpd.spm_seq += 1
            self.spm = self._number("SPM-LS", self.skpd.spm_seq)
        return c.ApproveSpm(
            idempotency_key=key,
            actor=self.approver,
            pemda=PEMDA,
            disbursement_id=self.id,
            spm_number=self.spm,
        )

    def authorise(self, _ledger: Ledger, key: str) -> c.Command:
        if not self.sp2d:  # an SP2D held back keeps its number until it is issued
            self.plan.sp2d_seq += 1
            self.sp2d = f"{PEMDA}/{self.plan.sp2d_seq:05d}/SP2D-LS/BUD/{YEAR}"
        return c.AuthoriseSp2d(
            idempotency_key=key,
            actor=self.authoriser,
            pemda=PEMDA,
            disbursement_id=self.id,
            sp2d_number=self.sp2d,
        )

    def reject(self, _ledger: Ledger, key: str, *, actor: Actor, reason: str) -> c.Command:
        return c.RejectDisbursement(
            idempotency_key=key, actor=actor, pemda=PEMDA, disbursement_id=self.id, reason=reason
        )

    def cancel(self, _ledger: Ledger, key: str, *, actor: Actor, reason: str) -> c.Command:
        return c.CancelDisbursement(
            idempotency_key=key, actor=actor, pemda=PEMDA, disbursement_id=self.id, reason=reason
        )

    def reference(self, attempt: int = 1) -> str:
        """The payout reference of transfer ``attempt`` (known once the SPP is numbered)."""
        return payout_reference(self.id, attempt)

    def duplicate(self, _ledger: Ledger, key: str, *, of: Lifecycle) -> c.Command:
        """The SPP of ``of`` keyed in a second time, under a new idempotency key."""
        command = self.request(_ledger, key, refused=True)
        assert isinstance(command, c.RequestDisbursement)
        return dataclasses.replace(command, spp_number=of.spp)

    def over_pagu(self, ledger: Ledger, key: str) -> c.Command:
        """An SPP for Rp 1 juta more than what is left of the line's pagu right now."""
        self.gross = ledger.budget_line(self.line.id).available + 1_000_000
        return self.request(ledger, key, refused=True)


Build = Callable[[Ledger, str], c.Command]
Expect = type[DomainError] | str | None  # None: accepted; "replay": an idempotent retry


@dataclass
class Action:
    day: int
    slot: int
    seq: int
    key: str
    build: Build
    expect: Expect = None


class SimulatedClock:
    """The ledger's clock: whatever time the demo has walked to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class BuildReport:
    commands: int = 0
    batches: int = 0
    replays: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    payouts: Counter[str] = field(default_factory=Counter)  # outcome at the gateway -> count
    blocked: int = 0  # payouts the payout service refused to send, as planned
    receipts: int = 0  # income billed, paid and collected at the gateway simulator
    files: list[Path] = field(default_factory=list)  # the gateway's and the bank's daily files


class DemoError(RuntimeError):
    """The ledger answered a demo command differently from the plan: a bug here or in the ledger."""


# Why things go wrong, as written in the commands.
REJECT_REASONS = {
    "verify": (
        "Dokumen tidak lengkap: BAST belum ditandatangani",
        "Faktur tidak sesuai dengan nilai kontrak",
        "Kode rekening tidak sesuai dengan DPA",
    ),
    "approve": ("Nilai SPM melebihi sisa anggaran kas bulan berjalan", "Kontrak belum didaftarkan"),
    "authorise": (
        "Nama rekening penerima tidak sesuai dengan NPWP rekanan",
        "Potongan pajak belum sesuai ketentuan",
    ),
}
CANCEL_REASONS = (
    "Kontrak diputus oleh PPK",
    "Kegiatan ditunda ke tahun anggaran berikutnya",
    "Pekerjaan belum selesai, pembayaran ditunda",
)
# How lifecycles end besides "settled": share of all lifecycles, at least one of each.
SPECIAL_OUTCOMES = {
    "reject_verify": 0.030,
    "reject_approve": 0.020,
    "reject_authorise": 0.012,
    "cancel_requested": 0.010,
    "cancel_verified": 0.006,
    "cancel_approved": 0.005,
    "cancel_authorised": 0.004,
    "fail_resend": 0.012,
    "returned": 0.006,
    "fail_cancel": 0.0,  # exactly one: failed, vendor's account changed, SP2D withdrawn, paid again
    "account_changed": 0.0,  # exactly one: account changed after SP2D, transfer refused, re-issued
}
# A vendor whose bank account changes, or who is blacklisted, has nothing in flight across that day.
VENDOR_QUIET_DAYS = 30


class DemoYear:
    """Plans the fiscal year from a seed, then plays it through a ``Ledger``."""

    def __init__(self, seed: int, lifecycles: int = DEFAULT_LIFECYCLES) -> None:
        if lifecycles < 1:
            raise ValueError("lifecycles must be at least 1")
        self.seed = seed
        self.rng = random.Random(seed)
        self.days = working_days(YEAR)
        self.last_day = len(self.days) - 1
        self.jitter = [[self.rng.randrange(0, 25) for _ in Slot.TIMES] for _ in self.days]
        self.clock = SimulatedClock(self.at(0, Slot.ADMIN))
        self.actions: list[Action] = []
        self.lifecycles: list[Lifecycle] = []
        self.sp2d_seq = 0
        # What happens at the gateway and the bank, played by the simulator's faults.
        self.fail_first: list[Lifecycle] = []  # their first payout fails at the bank
        self.blocked_payouts: list[Lifecycle] = []  # the service must refuse to pay them
        self.returns: dict[int, list[Lifecycle]] = {}  # day -> payouts the bank sends back
        self.notified_twice: dict[int, list[Lifecycle]] = {}  # day -> settled, notified twice
        self.in_flight: list[str] = []  # payouts sent today, awaiting the bank's run
        self.receipt_orders: dict[
            int, list[tuple[ReceiptOrder, str]]
        ] = {}  # day -> (order, channel)
        self.receipt_seq = 0
        self._serial = 0
        self._users()
        self._skpds()
        self._lines()
        self._vendors()
        self._plan(lifecycles)

    # -- time ----------------------------------------------------------------------------------
    def at(self, day: int, slot: int) -> datetime:
        hour, minute = Slot.TIMES[slot]
        d = self.days[day]
        return datetime(d.year, d.month, d.day, hour, minute + self.jitter[day][slot], tzinfo=WIB)

    def day_of(self, month: int, dom: int) -> int:
        """Index of the first working day on or after ``dom``/``month``."""
        target = date(YEAR, month, dom)
        return next(i for i, d in enumerate(self.days) if d >= target)

    # -- people, units, lines, vendors ---------------------------------------------------------
    def _users(self) -> None:
        self._names = iter(FIRST_NAMES * 4)
        self.admins = [self._actor("bpkad.admin", Role.BPKAD_ADMIN) for _ in range(2)]
        self.kuasa_bud = [self._actor("bpkad.kuasabud", Role.KUASA_BUD) for _ in range(3)]
        self.gateways = [GATEWAY_ACTOR]

    def _actor(self, prefix: str, role: Role) -> Actor:
        return Actor(f"{prefix}.{next(self._names)}", role)

    def _skpds(self) -> None:
        self.skpds: list[Skpd] = []
        for spec in SKPDS:
            unit = spec.short.lower()
            self.skpds.append(
                Skpd(
                    spec=spec,
                    pptk=[self._actor(f"{unit}.pptk", Role.PPTK) for _ in range(spec.size + 1)],
                    bendahara=self._actor(f"{unit}.bendahara", Role.BENDAHARA),
                    ppk=[
                        self._actor(f"{unit}.ppk", Role.PPK) for _ in range(max(1, spec.size - 1))
                    ],
                    pa=[
                        self._actor(f"{unit}.pa", Role.PA_KPA) for _ in range(1 + (spec.size == 3))
                    ],
                )
            )
        self.skpd_by_short = {s.short: s for s in self.skpds}

    def _lines(self) -> None:
        self.lines: list[Line] = []
        for skpd in self.skpds:
            prefix = skpd.code[:4]  # urusan.bidang of the unit
            support = SUPPORT_KECAMATAN if skpd.spec.kecamatan else SUPPORT
            programme = [(f"{prefix}.01.{code}", name, accs) for code, name, accs in support]
            own = [(sub, name, accounts.split()) for sub, name, accounts in skpd.spec.programme]
            for n, (sub, name, accounts) in enumerate([*programme, *own]):
                for account in accounts:
                    r = rek(account)
                    pptk = skpd.pptk[n % len(skpd.pptk)]
                    self.lines.append(Line(skpd, sub, name, r.code, r.uraian, r, pptk))
            for code, uraian, _share in skpd.spec.income:
                self.lines.append(Line(skpd, None, "", code, uraian, None, skpd.pptk[0]))
        self.new_lines: list[Line] = []
        for short, sub, name, account in APBD_P_NEW_LINES:
            skpd = self.skpd_by_short[short]
            r = rek(account)
            line = Line(skpd, sub, name, r.code, r.uraian, r, skpd.pptk[0], special="new")
            self.new_lines.append(line)
        keys = [(x.skpd.code, x.sub_kegiatan, x.code) for x in self.lines + self.new_lines]
        assert len(keys) == len(set(keys)), "two demo lines share a key"

    def _vendors(self) -> None:
        rng = self.rng
        self.vendors: list[Vendor] = []
        seen: set[str] = set()
        for category, names in VENDORS.items():
            for name in names:
                digits = ""
                while not digits or digits in seen:
                    digits = (
                        f"{rng.randint(1, 99):02d}{rng.randrange(1000):03d}{rng.randrange(1000):03d}"
                        f"{rng.randrange(10)}{rng.choice(KPP_BANDUNG)}000"
                    )
                seen.add(digits)
                npwp = f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}.{digits[8]}-{digits[9:12]}.{digits[12:]}"
                if (
                    rng.random() < 0.2
                ):  # the 16-digit form (since 2024), written without punctuation
                    npwp = "0" + digits
                bank, account = self._account()
                self.vendors.append(Vendor(name, category, npwp, bank, account))
        self.pool: dict[str, list[Vendor]] = {}
        for v in self.vendors:
            self.pool.setdefault(v.category, []).append(v)
        self._vendor_no = {id(v): n for n, v in enumerate(self.vendors, 1)}

    def _account(self) -> tuple[str, str]:
        code, _name, length, _share = self.rng.choices(BANKS, weights=[b[3] for b in BANKS])[0]
        first = str(self.rng.randint(1, 9))
        return code, first + "".join(str(self.rng.randrange(10)) for _ in range(length - 1))

    def vendor_no(self, vendor: Vendor) -> int:
        return self._vendor_no[id(vendor)]

    # -- lifecycles ------------------------------------------------------------------------------
    def _gross(self, category: str) -> int:
        low, high, _w = AMOUNTS[category]
        value = low * (high / low) ** self.rng.random()
        return max(1_000_000, int(value) // 1_000 * 1_000)

    def _request_day(self, latest: int | None = None) -> int:
        first = self.day_of(1, 12)
        latest = self.last_day if latest is None else latest
        while True:
            month = self.rng.choices(range(1, 13), weights=MONTH_WEIGHTS)[0]
            days = [i for i, d in enumerate(self.days) if d.month == month and first <= i <= latest]
            if days:
                return self.rng.choice(days)

    def _lifecycle(
        self,
        line: Line,
        day: int,
        outcome: str = "settled",
        *,
        gross: int | None = None,
        planned: bool = True,
    ) -> Lifecycle:
        """A disbursement of ``line`` requested on ``day``; ``planned=False`` for a probe that the
        ledger is meant to refuse (it spends nothing)."""
        skpd, rng = line.skpd, self.rng
        vendor = rng.choice(self.pool[line.category])
        if not self._vendor_free(vendor, day):
            vendor = self._other_vendor(vendor)
        lc = Lifecycle(
            plan=self,
            line=line,
            vendor=vendor,
            gross=gross or self._gross(line.category),
            day=day,
            outcome=outcome,
            maker=line.pptk if rng.random() < 0.8 else skpd.bendahara,
            verifier=rng.choice(skpd.ppk),
            approver=rng.choice(skpd.pa),
            authoriser=rng.choice(self.kuasa_bud),
        )
        if planned:
            line.planned.append(lc)
            self.lifecycles.append(lc)
        return lc

    def _vendor_free(self, vendor: Vendor, day: int) -> bool:
        """False if a payment to ``vendor`` starting on ``day`` could meet its blacklisting."""
        deactivated = getattr(self, "deactivated", None)
        return vendor is not deactivated or day < self.deactivate_day - VENDOR_QUIET_DAYS

    def _other_vendor(self, vendor: Vendor) -> Vendor:
        return next(
            v for v in self.pool[vendor.category]
            if v is not vendor and id(v) not in self.switching
            and v is not getattr(self, "deactivated", None)
        )  # fmt: skip

    # -- the plan ------------------------------------------------------------------------------
    def _plan(self, n: int) -> None:
        rng = self.rng
        spending = [x for x in self.lines if x.rekening is not None]
        # Lines with a part to play.
        self.blocked_line = next(
            x for x in spending if x.skpd.short == "DISDIK" and x.category == "konstruksi"
        )
        self.blocked_line.special = "blocked"
        pick = rng.sample([x for x in spending if x.special == ""], 2 + 2 + 10 + 8)
        self.shifts = [(pick[0], pick[1]), (pick[2], pick[3])]
        for source, target in self.shifts:
            source.special, target.special = "shift_from", "shift_to"
        self.raised, self.cut = pick[4:14], pick[14:]
        for x in self.raised:
            x.special = "raised"
        for x in self.cut:
            x.special = "cut"

        # Outcomes: at least one of each way a payment can end; the rest are paid in full.
        outcomes = [
            kind
            for kind, share in SPECIAL_OUTCOMES.items()
            for _ in range(max(1, round(share * n)))
        ]
        outcomes += ["settled"] * max(0, n - len(outcomes))
        rng.shuffle(outcomes)
        eligible = [x for x in spending if x.special != "blocked"]
        weights = [AMOUNTS[x.category][2] for x in eligible]
        late = self.day_of(11, 20)  # anything but a plain payment starts early enough to finish
        self.switching: set[int] = set()
        for outcome in outcomes:
            line = rng.choices(eligible, weights=weights)[0]
            self._lifecycle(
                line, self._request_day(None if outcome == "settled" else late), outcome
            )

        # Vendors with a part to play: two change their bank account, one is blacklisted. Nothing
        # paid to them may be in flight across that change (resends after a failure especially).
        fail_cancel = next(lc for lc in self.lifecycles if lc.outcome == "fail_cancel")
        changed = next(lc for lc in self.lifecycles if lc.outcome == "account_changed")
        if changed.vendor is fail_cancel.vendor:
            changed.vendor = self._other_vendor(changed.vendor)
        self.switching = {id(fail_cancel.vendor), id(changed.vendor)}
        self.deactivate_day = self.day_of(10, 15)
        self.deactivated = rng.choice(
            [
                v for v in self.vendors
                if id(v) not in self.switching and len(self.pool[v.category]) >= 3
                and v.category != "media"
            ]
        )  # fmt: skip
        for lc in self.lifecycles:
            if lc.outcome == "fail_resend" and id(lc.vendor) in self.switching:
                lc.vendor = self._other_vendor(lc.vendor)
            if not self._vendor_free(lc.vendor, lc.day):
                lc.vendor = self._other_vendor(lc.vendor)

        # Scripted stories: the blokir, and an acting PPTK who is also the unit's PPK.
        self._blocked_story()
        plt_skpd = next(s for s in self.skpds if len(s.ppk) >= 2)
        plt_line = next(x for x in eligible if x.skpd is plt_skpd and x.special == "")
        self.plt = self._lifecycle(plt_line, self.day_of(3, 2))
        self.plt.maker = Actor(plt_skpd.ppk[0].user_id, Role.PPTK)
        self.plt.verifier = plt_skpd.ppk[1]
        self.plt.note = " (SPP oleh Plt. PPTK)"

        for lc in list(self.lifecycles):
            self._schedule(lc)

        # Pagu: what the plan spends on each line and some room that nobody uses.
        for line in spending:
            planned = line.planned_gross or self._gross(line.category)
            line.pagu = million_up(planned * rng.randint(105, 140) // 100)
        shares = {code: share for s in self.skpds for code, _u, share in s.spec.income}
        income = sum(x.pagu for x in spending) * rng.randint(102, 106) // 100
        for line in self.lines:
            if line.rekening is None:
                line.pagu = million_up(income * shares[line.code] // sum(shares.values()))

        self._budget_events()
        self._demonstrations()
        self._receipts()

    # Income: taxes and retribusi paid by QRIS, virtual account or at the BPD's teller.
    CHANNELS = (("midtrans:qris", 70), ("midtrans:bank_transfer", 0), ("teller:bjb", 0))

    def _receipts(self) -> None:
        """Receipts on every income line, a few each month, realising 80-98% of its target.
        Their own random stream, so the spending plan is the same with or without them."""
        rng = random.Random(self.seed * 7919 + 1)
        for line in (x for x in self.lines if x.rekening is None):
            target = line.pagu * rng.randint(80, 98) // 100
            days = sorted(rng.sample(range(1, self.last_day + 1), 36))
            weights = [rng.randint(1, 10) for _ in days]
            for n, (day, weight) in enumerate(zip(days, weights, strict=True)):
                gross = million_down(target * weight // sum(weights)) or 1_000_000
                channel, permil = rng.choice(self.CHANNELS)
                if line.code.startswith("4.2"):  # DAU/DAK: transferred by the centre, no fee
                    channel, permil = "rkud:transfer_pusat", 0
                elif channel.startswith("midtrans:"):  # billed and paid at the simulator
                    self.receipt_seq += 1
                    order = ReceiptOrder(
                        order_id=f"KSD-{YEAR}-{line.code}-{self.receipt_seq:05d}",
                        amount=gross,
                        payer=f"Wajib pajak {line.code}-{n + 1:04d}",
                        pemda=PEMDA,
                        year=YEAR,
                        skpd=line.ref.skpd,
                        sub_kegiatan=line.ref.sub_kegiatan,
                        rekening=line.ref.rekening,
                    )
                    kind = channel.partition(":")[2]
                    self.receipt_orders.setdefault(day, []).append((order, kind))
                    continue
                # QRIS takes 0.7% (MDR); a virtual account a flat Rp 4,000; the teller nothing.
                fee = gross * permil // 10_000 if permil else 4_000 if "bank" in channel else 0
                reference = f"{line.code}-{YEAR}-{n + 1:04d}"
                self.add(
                    day, Slot.BANK, partial(self._receipt, line, channel, reference, gross, fee)
                )

    def _receipt(
        self, line: Line, channel: str, reference: str, gross: int, fee: int, _l: Ledger, key: str
    ) -> c.Command:
        return c.RecordRevenue(
            idempotency_key=key,
            actor=self.gateways[0],
            pemda=PEMDA,
            year=YEAR,
            line=line.ref,
            channel=channel,
            reference=reference,
            payer=f"Wajib pajak {reference}",
            gross=gross,
            fee=fee,
        )

    def add(
        self, day: int, slot: int, build: Build, expect: Expect = None, *, key: str = ""
    ) -> str:
        """Schedule a command; one on a day after the end of the year is dropped (whatever it
        belongs to is still in flight at year end)."""
        self._serial += 1
        key = key or f"demo-{YEAR}-{self._serial:06d}"
        if day <= self.last_day:
            self.actions.append(Action(day, slot, self._serial, key, build, expect))
        return key

    def _step(self) -> int:
        """Working days a step waits for the next one (the rules allow two)."""
        return self.rng.choice((0, 1, 1, 2))

    def _followup(self, lc: Lifecycle, day: int, note: str) -> None:
        """A new SPP for the same work after a rejection or a withdrawn SP2D."""
        again = self._lifecycle(lc.line, day, gross=lc.gross)
        again.vendor, again.maker, again.note = lc.vendor, lc.maker, note
        again.documents = dict(lc.documents)  # same contract, invoice and BAST
        self._schedule(again)

    def _schedule(self, lc: Lifecycle) -> None:
        """The commands of one lifecycle up to its SPM (``_from_sp2d`` does the rest)."""
        rng, o, add = self.rng, lc.outcome, self.add
        add(lc.day, Slot.REQUEST, lc.request)
        lc.verify_day = verify_day = lc.day + self._step()
        if o == "reject_verify":
            reason = rng.choice(REJECT_REASONS["verify"])
            add(verify_day, Slot.VERIFY, partial(lc.reject, actor=lc.verifier, reason=reason))
            if rng.random() < 0.6:
                self._followup(lc, verify_day + rng.randint(2, 8), " (pengajuan ulang)")
            return
        if o == "cancel_requested":
            reason = rng.choice(CANCEL_REASONS)
            add(verify_day, Slot.VERIFY, partial(lc.cancel, actor=lc.maker, reason=reason))
            return
        if lc is getattr(self, "plt", None):  # the acting PPTK may not verify their own SPP
            wrong = Actor(lc.maker.user_id, Role.PPK)
            add(verify_day, Slot.VERIFY, partial(lc.verify, actor=wrong), SeparationOfDuties)
        add(verify_day, Slot.VERIFY, lc.verify)
        spm_day = verify_day + self._step()
        if o == "reject_approve":
            reason = rng.choice(REJECT_REASONS["approve"])
            add(spm_day, Slot.SPM, partial(lc.reject, actor=lc.approver, reason=reason))
            if rng.random() < 0.6:
                self._followup(lc, spm_day + rng.randint(2, 8), " (pengajuan ulang)")
            return
        if o == "cancel_verified":
            reason = rng.choice(CANCEL_REASONS)
            add(spm_day, Slot.SPM, partial(lc.cancel, actor=lc.maker, reason=reason))
            return
        add(spm_day, Slot.SPM, lc.approve)
        if o != "blocked":  # the blokir story issues its SP2D itself
            self._from_sp2d(lc, spm_day + self._step())

    def _from_sp2d(self, lc: Lifecycle, sp2d_day: int) -> None:
        rng, o, admin, add = self.rng, lc.outcome, self.admins[0], self.add
        if o == "reject_authorise":
            reason = rng.choice(REJECT_REASONS["authorise"])
            add(sp2d_day, Slot.SP2D, partial(lc.reject, actor=lc.authoriser, reason=reason))
            if rng.random() < 0.6:
                self._followup(lc, sp2d_day + rng.randint(2, 8), " (pengajuan ulang)")
            return
        if o == "cancel_approved":
            reason = rng.choice(CANCEL_REASONS)
            add(sp2d_day, Slot.SP2D, partial(lc.cancel, actor=lc.maker, reason=reason))
            return
        add(sp2d_day, Slot.SP2D, lc.authorise)
        if o == "cancel_authorised":
            reason = "SP2D ditarik: rekanan mengajukan keberatan atas potongan pajak"
            add(sp2d_day, Slot.SEND, partial(lc.cancel, actor=admin, reason=reason))
            return
        if o == "account_changed":
            # The vendor's new account arrives after the SP2D: the payout service refuses to pay
            # the old one, BPKAD withdraws the SP2D and the work is paid on a new SPP.
            add(sp2d_day, Slot.SP2D, partial(self.change_account, vendor=lc.vendor))
            self.blocked_payouts.append(lc)
            reason = "SP2D ditarik: rekening rekanan berubah setelah SP2D terbit"
            add(sp2d_day, Slot.BANK, partial(lc.cancel, actor=admin, reason=reason))
            self._followup(lc, sp2d_day + 1, " (penerbitan ulang ke rekening baru)")
            return
        # Paid through the gateway at the SEND slot of ``sp2d_day``, settled (or failed) at the
        # bank's run the same afternoon; a failed disbursement is paid again the next working day.
        if o == "fail_resend":
            self.fail_first.append(lc)
            return
        if o == "fail_cancel":
            self.fail_first.append(lc)
            nxt = sp2d_day + 1
            add(nxt, Slot.ADMIN, partial(self.change_account, vendor=lc.vendor))
            reason = "SP2D dibatalkan: transfer gagal, rekening rekanan ditutup"
            add(nxt, Slot.SPM, partial(lc.cancel, actor=admin, reason=reason))
            self._followup(lc, nxt + 1, " (penerbitan ulang ke rekening baru)")
            return
        if rng.random() < 0.02:  # Iris delivers its notification of the settlement twice
            self.notified_twice.setdefault(sp2d_day, []).append(lc)
        if o == "returned":  # the vendor's bank sends the money back a few days later
            self.returns.setdefault(sp2d_day + rng.randint(2, 5), []).append(lc)

    def _blocked_story(self) -> None:
        """Blokir: a works line is blocked for an Inspektorat review while an SPM waits for its
        SP2D; the SP2D and a new SPP on the line are refused; after the review the SP2D is issued
        (``_demonstrations`` schedules it, once every other lifecycle is scheduled)."""
        line, admin = self.blocked_line, self.admins[1]
        request_day = self.day_of(4, 6)
        self.blocked_lc = lc = self._lifecycle(line, request_day, "blocked")
        block_day, self.unblock_day = request_day + 5, self.day_of(6, 3)
        self.add(block_day, Slot.ADMIN, partial(self.block, line=line, actor=admin))
        self.add(block_day, Slot.SP2D, lc.authorise, LineBlocked)
        probe = self._lifecycle(line, block_day + 2, "refused", planned=False)
        self.add(block_day + 2, Slot.REQUEST, partial(probe.request, refused=True), LineBlocked)
        self.add(self.unblock_day, Slot.ADMIN, partial(self.unblock, line=line, actor=admin))
        for day in (self.unblock_day + 10, self.day_of(9, 1)):
            self._lifecycle(line, day)

    def _budget_events(self) -> None:
        rng = self.rng
        self.add(0, Slot.ADMIN, self.adopt)
        for n, vendor in enumerate(self.vendors):
            self.add(n // 40, Slot.VERIFY, partial(self.register, vendor=vendor))
        # Pergeseran: pagu moved to a line that then pays for more work.
        for (source, target), (month, dom), number in zip(
            self.shifts, ((4, 20), (8, 10)), (21, 47), strict=True
        ):
            day = self.day_of(month, dom)
            amount = max(million_down(source.slack * rng.randint(30, 60) // 100), 10_000_000)
            if source.slack < amount:  # too little room: the DPA gave this line some more
                source.pagu += amount
            shift = partial(self.shift, source=source, target=target, amount=amount, number=number)
            self.add(day, Slot.ADMIN, shift)
            self._extras(target, day, amount * 9 // 10)
        # APBD-P: raises that pay for more work, cuts of what will not be spent, new lines.
        self.amend_day = self.day_of(10, 1)
        self.raises: dict[int, int] = {}
        for line in self.raised:
            spent = self._extras(
                line, self.amend_day, self._gross(line.category) * rng.randint(1, 2)
            )
            self.raises[id(line)] = million_up(spent * 11 // 10)
        self.cuts: dict[int, int] = {}
        for line in self.cut:
            cut = million_down(line.slack * rng.randint(30, 60) // 100)
            if cut >= 1_000_000:
                self.cuts[id(line)] = line.pagu - cut
        for line in self.new_lines:
            spent = self._extras(
                line, self.amend_day, self._gross(line.category) * rng.randint(1, 3)
            )
            line.pagu = million_up(spent * rng.randint(110, 130) // 100)
        self.add(self.amend_day, Slot.ADMIN, self.amend)
        # A vendor put on the LKPP blacklist is deactivated (an SPP to it is refused later).
        self.add(self.deactivate_day, Slot.ADMIN, partial(self.deactivate, vendor=self.deactivated))

    def _extras(self, line: Line, after: int, budget: int) -> int:
        """One or two payments on ``line`` after day ``after``, together at most ``budget``."""
        count = self.rng.randint(1, 2)
        each = max(budget // count // 1_000 * 1_000, 1_000_000)
        latest, spent = self.day_of(12, 10), 0
        for _ in range(count):
            lc = self._lifecycle(line, min(after + self.rng.randint(1, 25), latest), gross=each)
            self._schedule(lc)
            spent += lc.gross
        return spent

    def _demonstrations(self) -> None:
        """Commands the ledger must refuse, each in a realistic place in the year."""
        rng = self.rng
        normal = [
            lc for lc in self.lifecycles
            if lc.outcome == "settled" and lc.line.special == "" and lc is not self.plt
            and not lc.note and self.day_of(2, 2) <= lc.day <= self.day_of(11, 2)
        ]  # fmt: skip
        # A PPTK tries to verify an SPP of their unit (before the PPK does): only a PPK may.
        lc = rng.choice(normal)
        wrong = Actor(lc.skpd.pptk[-1].user_id, Role.PPTK)
        self.add(lc.verify_day, Slot.REQUEST, partial(lc.verify, actor=wrong), RoleNotPermitted)
        # The same SPP keyed in again under a new idempotency key: its number is taken. The line
        # gets room for it, so that it is the number that refuses it.
        original = rng.choice([x for x in normal if x is not lc])
        original.line.pagu += original.gross
        twin = self._lifecycle(original.line, original.day + 1, gross=original.gross, planned=False)
        twin.documents = original.documents
        self.add(twin.day, Slot.ADMIN, partial(twin.duplicate, of=original), AlreadyExists)
        # An SPP above what is left of its line's pagu.
        over = rng.choice([x for x in normal if x.line is not original.line])
        probe = self._lifecycle(over.line, self.day_of(7, 6), planned=False)
        self.add(probe.day, Slot.REQUEST, probe.over_pagu, PaguExceeded)
        # An SPP to the blacklisted vendor.
        line = next(
            x for x in self.lines
            if x.rekening is not None and x.category == self.deactivated.category and not x.special
        )  # fmt: skip
        probe = self._lifecycle(line, self.deactivate_day + 2, gross=5_000_000, planned=False)
        probe.vendor = self.deactivated
        self.add(probe.day, Slot.REQUEST, partial(probe.request, refused=True), VendorNotPayable)
        # The blokir story's SP2D, once the line is open again; from there a normal life.
        self.blocked_lc.outcome = "settled"
        self._from_sp2d(self.blocked_lc, self.unblock_day)

    # -- budget and vendor commands -------------------------------------------------------------
    def adopt(self, _ledger: Ledger, key: str) -> c.Command:
        return c.AdoptBudget(
            idempotency_key=key,
            actor=self.admins[0],
            pemda=PEMDA,
            year=YEAR,
            document=f"PERDA KOTA BANDUNG 12 TAHUN {YEAR - 1}",
            lines=tuple(x.spec(x.pagu) for x in self.lines),
        )

    def register(self, _ledger: Ledger, key: str, *, vendor: Vendor) -> c.Command:
        return c.RegisterVendor(
            idempotency_key=key,
            actor=self.admins[1],
            pemda=PEMDA,
            npwp=vendor.npwp,
            name=vendor.name,
            kind=vendor.kind,
            bank_code=vendor.bank_code,
            account_number=vendor.account,
            account_holder=vendor.name,
        )

    def change_account(self, _ledger: Ledger, key: str, *, vendor: Vendor) -> c.Command:
        vendor.bank_code, vendor.account = self._account()
        return c.ChangeVendorBankAccount(
            idempotency_key=key,
            actor=self.admins[1],
            pemda=PEMDA,
            npwp=vendor.npwp,
            bank_code=vendor.bank_code,
            account_number=vendor.account,
            account_holder=vendor.name,
            reason="Surat rekanan: rekening lama ditutup, mohon pembayaran ke rekening baru",
        )

    def deactivate(self, _ledger: Ledger, key: str, *, vendor: Vendor) -> c.Command:
        return c.DeactivateVendor(
            idempotency_key=key,
            actor=self.admins[1],
            pemda=PEMDA,
            npwp=vendor.npwp,
            reason="Masuk daftar hitam LKPP",
        )

    def block(self, _ledger: Ledger, key: str, *, line: Line, actor: Actor) -> c.Command:
        return c.BlockLine(
            idempotency_key=key,
            actor=actor,
            pemda=PEMDA,
            year=YEAR,
            line=line.ref,
            reason="Rekomendasi Inspektorat: reviu kontrak sebelum pembayaran",
        )

    def unblock(self, _ledger: Ledger, key: str, *, line: Line, actor: Actor) -> c.Command:
        return c.UnblockLine(
            idempotency_key=key,
            actor=actor,
            pemda=PEMDA,
            year=YEAR,
            line=line.ref,
            reason="Hasil reviu Inspektorat: kontrak sesuai ketentuan",
        )

    def shift(
        self, _ledger: Ledger, key: str, *, source: Line, target: Line, amount: int, number: int
    ) -> c.Command:
        return c.ShiftBudget(
            idempotency_key=key,
            actor=self.admins[0],
            pemda=PEMDA,
            year=YEAR,
            document=f"PERWAL KOTA BANDUNG {number} TAHUN {YEAR} PERGESERAN",
            from_line=source.ref,
            to_line=target.ref,
            amount=amount,
        )

    def amend(self, _ledger: Ledger, key: str) -> c.Command:
        specs = [x.spec(x.pagu + self.raises[id(x)]) for x in self.raised]
        specs += [x.spec(self.cuts[id(x)]) for x in self.cut if id(x) in self.cuts]
        specs += [x.spec(x.pagu) for x in self.new_lines]
        # Income is revised with spending: the BPHTB target rises by what spending rose.
        spending = sum(self.raises.values()) + sum(x.pagu for x in self.new_lines)
        spending -= sum(x.pagu - self.cuts[id(x)] for x in self.cut if id(x) in self.cuts)
        bphtb = next(x for x in self.lines if x.code == "4.1.01.13.01.0001")
        if spending > 0:
            specs.append(bphtb.spec(bphtb.pagu + million_up(spending)))
        return c.AmendBudget(
            idempotency_key=key,
            actor=self.admins[0],
            pemda=PEMDA,
            year=YEAR,
            document=f"PERDA KOTA BANDUNG 7 TAHUN {YEAR} PERUBAHAN APBD",
            lines=tuple(specs),
        )

    # -- playing the year through the ledger ---------------------------------------------------
    def run(self, ledger: Ledger, files_dir: Path | None = None) -> BuildReport:
        """Execute every planned command, one batch per working day and time slot, on the
        simulated clock, paying through an in-process simulator at every SEND slot and letting
        the bank run at every BANK slot; raise ``DemoError`` if the ledger or the gateway answers
        anything but what was planned. With ``files_dir``, write the year's daily files there."""
        if ledger.clock is not self.clock:
            raise ValueError("run the ledger on the demo's clock: Ledger(url, clock=plan.clock)")
        report = BuildReport()
        built: dict[str, c.Command] = {}  # a retry sends exactly the command it retries
        planned: dict[tuple[int, int], list[Action]] = {}
        for action in sorted(self.actions, key=lambda a: (a.day, a.slot, a.seq)):
            planned.setdefault((action.day, action.slot), []).append(action)
        gateway_slots = {(d, s) for d in range(len(self.days)) for s in (Slot.SEND, Slot.BANK)}
        with DemoGateway(
            ledger, seed=self.seed, clock=self.clock, instant_payouts=False, resend_failed=True
        ) as gateway:
            for day, slot in sorted(planned.keys() | gateway_slots):
                self.clock.now = self.at(day, slot)
                actions = planned.get((day, slot), [])
                if actions:
                    commands = []
                    for action in actions:
                        if action.key not in built:
                            built[action.key] = action.build(ledger, action.key)
                        commands.append(built[action.key])
                    outcomes = ledger.execute_batch(commands)
                    report.batches += 1
                    report.commands += len(commands)
                    for action, command, outcome in zip(actions, commands, outcomes, strict=True):
                        _check(action, command, outcome, report)
                if slot == Slot.SEND:
                    self._send(gateway, report)
                elif slot == Slot.BANK:
                    self._bank(gateway, day, report)
                    self._collect(gateway, day, report)
            if files_dir is not None:
                report.files = _write_files(gateway, files_dir)
        return report

    def _send(self, gateway: DemoGateway, report: BuildReport) -> None:
        """Pay every authorised (or failed) SP2D through Iris; the planned failures are armed."""
        gateway.sim.faults.fail_references.update(
            lc.reference() for lc in self.fail_first if lc.spp
        )
        refused = {lc.id for lc in self.blocked_payouts if lc.spp}
        for result in gateway.service.pay_all(PEMDA):
            if result.outcome is PayoutOutcome.BLOCKED and result.disbursement_id in refused:
                report.blocked += 1
            elif result.outcome is PayoutOutcome.SENT:
                self.in_flight.append(result.reference)
            else:
                raise _gateway_error("pay", result)

    def _bank(self, gateway: DemoGateway, day: int, report: BuildReport) -> None:
        """The bank runs the day's payouts; Iris notifies the webhook of each (some twice), the
        poller records whatever a notification did not."""
        gateway.sim.gateway.process_payouts()
        twice = {lc.reference() for lc in self.notified_twice.get(day, [])}
        for reference in self.in_flight:
            answer = gateway.notify_iris(reference)
            if answer.status != 200 or answer.body.get("result") != Verdict.RECORDED:
                raise DemoError(f"Iris notification of {reference}: {answer}")
            report.payouts[str(answer.body["status"])] += 1
            if reference in twice:
                again = gateway.notify_iris(reference)
                if again.status != 200 or again.body.get("result") != Verdict.NOTHING_NEW:
                    raise DemoError(f"Iris notification of {reference} delivered twice: {again}")
                report.replays += 1
        self.in_flight.clear()
        for result in gateway.service.sync(PEMDA):
            if result.outcome not in (PayoutOutcome.SETTLED, PayoutOutcome.FAILED):
                raise _gateway_error("sync", result)
            report.payouts[result.outcome.value] += 1
        for lc in self.returns.get(day, []):
            applied = gateway.bank_return(lc.reference())
            if applied.verdict is not Verdict.RECORDED or applied.status != Status.RETURNED:
                raise DemoError(f"return of {lc.sp2d}: {applied}")
            report.payouts["returned"] += 1

    def _collect(self, gateway: DemoGateway, day: int, report: BuildReport) -> None:
        """The day's taxes and fees billed by QRIS or virtual account at the simulator (Core API
        through ``midtransclient``), paid there, and recorded from Midtrans's status."""
        due = self.receipt_orders.get(day, [])
        if not due:
            return
        orders, channels = [o for o, _ in due], [kind for _, kind in due]
        recorded = gateway.collect(orders, channels)
        if len(recorded) != len(orders) or any(r.replayed for r in recorded):
            raise DemoError(f"receipts of working day {day}: {len(recorded)} of {len(orders)}")
        report.receipts += len(recorded)


def _gateway_error(step: str, result: PayoutResult) -> DemoError:
    return DemoError(
        f"{step} SP2D {result.sp2d_number} ({result.reference}): {result.outcome} {result.detail}"
    )


DAILY_FILES = ("payouts-*.csv", "settlements-*.csv", "rkud-*.sta", "rkud-*.csv")


def _write_files(gateway: DemoGateway, folder: Path) -> list[Path]:
    """The year's daily files, replacing those of an earlier build."""
    if folder.is_dir():
        for pattern in DAILY_FILES:
            for old in folder.glob(pattern):
                old.unlink()
    return write_daily_files(gateway.sim, folder)


def _check(action: Action, command: c.Command, outcome: Outcome, report: BuildReport) -> None:
    expect = action.expect
    if isinstance(outcome, CommandResult):
        if expect is None and not outcome.replayed:
            return
        if expect == "replay" and outcome.replayed:
            report.replays += 1
            return
    elif isinstance(expect, type) and type(outcome) is expect:
        report.refused[outcome.rule] += 1
        return
    raise DemoError(
        f"{command.command_name} {action.key} on working day {action.day}, slot {action.slot}: "
        f"expected {getattr(expect, '__name__', expect) or 'success'}, got {outcome!r}"
    )


# -- reading the year back from the store ----------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    """What the store holds for one pemda and year, folded from its events."""

    skpd: int
    spending_lines: int
    income_lines: int
    blocked_lines: int
    vendors: int
    media_vendors: int
    users: int
    disbursements: dict[str, int]
    events: dict[str, int]
    first_event: str
    last_event: str
    amendments: int
    shifts: int
    pagu: int  # spending lines
    income_target: int
    committed: int
    realised: int
    settled: int  # every settlement, including transfers later returned
    returned: int
    in_transit: int
    taxes: dict[str, int]

    @property
    def disbursement_count(self) -> int:
        return sum(self.disbursements.values())

    @property
    def cash_out(self) -> int:
        return self.settled - self.returned

    @property
    def available(self) -> int:
        return self.pagu - self.committed - self.realised


DOMAIN_EVENTS = "domain events"
EVENT_KINDS = {"CommandReceipt": "idempotency receipts", "DocumentNumber": "SPM/SP2D number claims"}
_FOLDED = ("Budget.", "BudgetLine.", "Vendor.", "Disbursement.")


def read_totals(ledger: Ledger, pemda: str = PEMDA, year: int = YEAR) -> Totals:
    """Fold every event in the store (one pass over the notification log) into the totals of
    ``pemda`` and ``year``. Event counts are of the whole store."""
    from ledger.budget import Budget, BudgetLine
    from ledger.disbursement import Disbursement
    from ledger.vendor import Vendor as VendorAggregate

    recorder = ledger.recorder
    last = recorder.max_notification_id() or 0
    events: Counter[str] = Counter()
    aggregates: dict[UUID, Any] = {}
    users: set[str] = set()
    stamps: list[datetime] = []
    start = 1
    while start <= last:
        notifications = recorder.select_notifications(start=start, limit=5_000)
        if not notifications:
            break
        for n in notifications:
            name = n.topic.rpartition(":")[2]
            events[EVENT_KINDS.get(name.partition(".")[0], DOMAIN_EVENTS)] += 1
            if name.startswith(_FOLDED):
                event = cast("Any", ledger.mapper.to_domain_event(n))
                aggregate = event.mutate(aggregates.get(event.originator_id))
                aggregates[event.originator_id] = aggregate
                if aggregate.pemda == pemda:
                    users.add(event.actor_id)
                    stamps.append(event.at)
        start = notifications[-1].id + 1
    events["total"] = sum(events.values())

    budget = aggregates.get(ids.budget_id(pemda, year))
    if not isinstance(budget, Budget):
        raise NotFound(f"no APBD {year} of pemda {pemda} in the store")
    mine = [a for a in aggregates.values() if a.pemda == pemda]
    lines = [a for a in mine if isinstance(a, BudgetLine) and a.year == year]
    spending = [x for x in lines if is_spending(x.rekening)]
    vendors = [a for a in mine if isinstance(a, VendorAggregate)]
    disbursements = [a for a in mine if isinstance(a, Disbursement) and a.year == year]
    by_status = Counter(str(d.status) for d in disbursements)
    # Taxes are withheld by an SP2D that stands: authorised and not withdrawn.
    standing = {*SP2D_WITHOUT_TRANSFER, Status.SENT, Status.SETTLED, Status.RETURNED}
    taxes: Counter[str] = Counter()
    for d in disbursements:
        if d.status in standing:
            for deduction in d.deductions:
                taxes[deduction["code"]] += deduction["amount"]
    settled = sum(d.net for d in disbursements if d.status == Status.SETTLED)
    returned = sum(d.net for d in disbursements if d.status == Status.RETURNED)
    return Totals(
        skpd=len({x.skpd for x in lines}),
        spending_lines=len(spending),
        income_lines=len(lines) - len(spending),
        blocked_lines=sum(1 for x in lines if x.blocked),
        vendors=len(vendors),
        media_vendors=sum(1 for v in vendors if v.kind == VendorKind.MEDIA.value),
        users=len(users),
        disbursements={s.value: by_status.get(s.value, 0) for s in Status},
        events=dict(events),
        first_event=min(stamps).isoformat() if stamps else "",
        last_event=max(stamps).isoformat() if stamps else "",
        amendments=budget.amendments,
        shifts=budget.shifts,
        pagu=sum(x.pagu for x in spending),
        income_target=sum(x.pagu for x in lines if not is_spending(x.rekening)),
        committed=sum(x.committed for x in spending),
        realised=sum(x.realised for x in spending),
        settled=settled + returned,
        returned=returned,
        in_transit=sum(d.net for d in disbursements if d.status == Status.SENT),
        taxes=dict(sorted(taxes.items())),
    )


def format_totals(totals: Totals, report: BuildReport | None = None) -> str:
    t = totals
    rows: list[tuple[str, str]] = [
        ("SKPD", count(t.skpd)),
        ("budget lines", f"{count(t.spending_lines + t.income_lines)}  "
         f"({count(t.spending_lines)} spending, {count(t.income_lines)} income; "
         f"{t.blocked_lines} blocked at year end)"),
        ("APBD changes", f"{t.amendments} APBD-P, {t.shifts} pergeseran"),
        ("vendors", f"{count(t.vendors)}  ({count(t.media_vendors)} media companies)"),
        ("users", count(t.users)),
        ("disbursements (SPP-LS)", count(t.disbursement_count)),
    ]  # fmt: skip
    rows += [(f"  {status}", count(n)) for status, n in t.disbursements.items()]
    rows.append(("events stored", count(t.events.get("total", 0))))
    rows += [
        (f"  {kind}", count(t.events.get(kind, 0)))
        for kind in (DOMAIN_EVENTS, *EVENT_KINDS.values())
    ]
    rows.append(("events dated", f"{t.first_event[:16]} .. {t.last_event[:16]} (WIB)"))
    money: list[tuple[str, str]] = [
        ("pagu belanja (spending lines)", rupiah(t.pagu)),
        ("target pendapatan (income lines)", rupiah(t.income_target)),
        ("committed (SPP, no SP2D yet)", rupiah(t.committed)),
        ("realised (SP2D issued)", rupiah(t.realised)),
        ("available", rupiah(t.available)),
        ("settled transfers out of the RKUD", rupiah(t.settled)),
        ("  returned by the banks", rupiah(t.returned)),
        ("  net cash out", rupiah(t.cash_out)),
        ("in transit (sent, not settled)", rupiah(t.in_transit)),
        ("taxes withheld", rupiah(sum(t.taxes.values()))),
    ]
    money += [(f"  {code}", rupiah(amount)) for code, amount in t.taxes.items()]
    width = max(len(label) for label, _ in rows + money) + 2
    out = ["Counts"] + [f"  {label:<{width}}{value}" for label, value in rows]
    out += ["", "Totals"] + [f"  {label:<{width}}{value:>26}" for label, value in money]
    if report is not None:
        refused = ", ".join(f"{rule} {n}" for rule, n in sorted(report.refused.items()))
        out += [
            "",
            f"This run: {count(report.commands)} commands in {count(report.batches)} batches "
            "(one per working day and time of day)",
            f"  refused by the ledger's rules, as planned: {sum(report.refused.values())} ({refused})",
            "  paid through the gateway simulator (Iris): "
            + ", ".join(f"{outcome} {n}" for outcome, n in sorted(report.payouts.items())),
            f"  payouts the payout service refused to send, as planned: {report.blocked}",
            f"  income billed by QRIS or virtual account and paid at the simulator: "
            f"{count(report.receipts)}",
            f"  Iris notifications delivered twice, nothing recorded the second time: "
            f"{report.replays}",
        ]
    return "\n".join(out)


# -- the command -----------------------------------------------------------------------------------
def sqlite_path(url: str) -> Path | None:
    env = env_for_url(url)
    return Path(env["SQLITE_DBNAME"]) if env["PERSISTENCE_MODULE"].endswith("sqlite") else None


def demo_exists(ledger: Ledger) -> bool:
    try:
        ledger.budget(PEMDA, YEAR)
    except NotFound:
        return False
    return True


def files_folder(path: Path) -> Path:
    """Where the demo writes the gateway's and the bank's daily files: beside the SQLite file."""
    return path.parent / "kasda-demo-files"


def build_demo(
    url: str, seed: int, lifecycles: int = DEFAULT_LIFECYCLES, *, files_dir: Path | None = None
) -> tuple[Totals, BuildReport]:
    """Build the demo year in a store that does not hold it yet, and read its totals back;
    with ``files_dir``, write the year's daily files of the gateway and the bank there."""
    plan = DemoYear(seed, lifecycles)
    ledger = Ledger(url, clock=plan.clock)
    try:
        if demo_exists(ledger):
            raise DemoError(f"the store at {url} already holds APBD {YEAR} of pemda {PEMDA}")
        report = plan.run(ledger, files_dir)
        return read_totals(ledger), report
    finally:
        ledger.close()


def run_demo(
    seed: int = YEAR,
    lifecycles: int = DEFAULT_LIFECYCLES,
    *,
    url: str | None = None,
    fresh: bool = False,
    out: TextIO | None = None,
) -> int:
    """``kasda demo``: build the year (or find it built already) and print its counts and totals."""
    out = out or sys.stdout
    url = url or database_url()
    path = sqlite_path(url)
    if fresh:
        if path is None:
            print(
                f"--fresh deletes an SQLite file; {url} is not one (use a new ?schema=)", file=out
            )
            return 2
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(f"kasda demo: {PEMDA_NAME} ({PEMDA}), APBD {YEAR}", file=out)
    print(f"store: {url}", file=out)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(url)
    try:
        if demo_exists(ledger):
            rebuild = f"; `kasda demo --fresh` deletes {path} and builds it again" if path else ""
            print(
                f"\nThe store already holds the APBD {YEAR} of {PEMDA_NAME}: not building it again "
                f"(--seed and --lifecycles are ignored{rebuild}). Totals from the store:\n",
                file=out,
            )
            print(format_totals(read_totals(ledger)), file=out)
            year_summary(url, PEMDA, YEAR, out)
            return 0
    finally:
        ledger.close()
    started = time.perf_counter()
    files_dir = files_folder(path) if path is not None else None
    totals, report = build_demo(url, seed, lifecycles, files_dir=files_dir)
    print(f"seed {seed}, {count(lifecycles)} planned lifecycles\n", file=out)
    print(format_totals(totals, report), file=out)
    if files_dir is not None:
        print(
            f"\nThe gateway's and the bank's daily files (payouts, settlements, RKUD statement "
            f"MT940 + CSV), {count(len(report.files))} files: {files_dir}",
            file=out,
        )
    year_summary(url, PEMDA, YEAR, out)
    out.flush()
    print(f"(built and read back in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0
