"""The pemda the demo plays: Kota Bandung, its SKPD and their programmes, the APBD-P's new lines,
the vendors' names and banks, the people's names and the calendar of the year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone

from audit import holidays

PEMDA = "32.73"
PEMDA_NAME = "Kota Bandung"
YEAR = 2026
DEFAULT_LIFECYCLES = 1_200
WIB = timezone(timedelta(hours=7), "WIB")


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
# The national holidays and cuti bersama of the year, from the one table kasda ships (the same the
# off-hours rule reads): the demo's officials rest on them, so only the planted case works one.
HOLIDAYS: frozenset[date] = frozenset(d for d in holidays.table()["date"] if d.year == YEAR)
# Share of the year's SPPs requested in each month (spending starts slowly, December is busiest).
MONTH_WEIGHTS = (2, 5, 7, 8, 8, 9, 8, 9, 9, 10, 11, 14)
