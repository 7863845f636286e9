"""The demo's catalogue of kode rekening: what each account buys, from which vendors, with which
taxes withheld; how large a payment of each category is; the support programme every SKPD runs."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.money import DEFAULT_TAX_RATES, TaxRate

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
