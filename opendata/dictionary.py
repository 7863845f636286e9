"""The data dictionary (kamus data) of the open data: every dataset and every column, with its
type, meaning in Indonesian and unit. The index page shows it, ``kamus.json`` is the same as a
Frictionless-style data package (https://specs.frictionlessdata.io/data-package/), and the tests
hold the files to it: a column the renderings write is a column described here, and no other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.public import BUDGET_LINE_SCHEMA, PAYMENT_SCHEMA, STATUS_LABEL

RUPIAH = "rupiah (bilangan bulat, tanpa desimal)"
DAY_WIB = "tanggal kalender WIB (ISO 8601, YYYY-MM-DD)"
STATUS_VALUES = ", ".join(f"{code} ({label})" for code, label in STATUS_LABEL.items())


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # a Table Schema type: string, integer, date
    meaning: str  # in Indonesian
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Dataset:
    file: str  # the name under /publik/data/
    title: str
    description: str
    media_type: str
    columns: tuple[Column, ...]  # empty: not a table (ocds.json)

    @property
    def name(self) -> str:
        return self.file.replace(".", "-")

    @property
    def format(self) -> str:
        return self.file.rsplit(".", 1)[-1]


PAYMENT_COLUMNS = (
    Column("id", "string", "pengenal pembayaran di kasda (UUID), tetap selama umur pembayaran"),
    Column("sp2d_number", "string", "nomor SP2D (Surat Perintah Pencairan Dana)"),
    Column("status", "string", f"status pembayaran: {STATUS_VALUES}"),
    Column("tanggal_sp2d", "date", "tanggal SP2D diterbitkan (disahkan Kuasa BUD)", DAY_WIB),
    Column(
        "tanggal_bayar", "date", "tanggal dana masuk rekening penerima; kosong bila belum", DAY_WIB
    ),
    Column("skpd", "string", "kode SKPD yang membelanjakan"),
    Column("skpd_nama", "string", "nama SKPD (kosong bila kodenya belum ada di daftar kode)"),
    Column("sub_kegiatan", "string", "kode sub kegiatan (Permendagri 90/2019 dan pemutakhirannya)"),
    Column("sub_kegiatan_nama", "string", "nama sub kegiatan"),
    Column("rekening", "string", "kode rekening belanja (akun sampai sub rincian objek)"),
    Column("uraian_rekening", "string", "uraian kode rekening sebagaimana dalam APBD"),
    Column(
        "penerima",
        "string",
        "nama penerima (badan usaha atau perusahaan media); orang "
        "pribadi hanya inisialnya (UU 27/2022)",
    ),
    Column(
        "jenis_penerima",
        "string",
        "company (badan usaha), media (perusahaan media) atau individual (orang pribadi)",
    ),
    Column(
        "keperluan",
        "string",
        "keperluan pembayaran seperti ditulis petugas; deret angka yang "
        "mungkin nomor rekening, NIK atau NPWP diganti [disamarkan]",
    ),
    Column("jumlah", "integer", "jumlah bruto SP2D (sebelum potongan pajak)", RUPIAH),
    Column(
        "position",
        "integer",
        "posisi di log buku besar dari peristiwa pertama pembayaran ini (SPP diajukan); "
        "tidak berubah, untuk verifikasi (kasda verify) dan urutan",
    ),
)
BUDGET_LINE_COLUMNS = (
    Column(
        "kelompok",
        "string",
        "sisi LRA: pendapatan, belanja, penerimaan_pembiayaan atau pengeluaran_pembiayaan",
    ),
    Column("skpd", "string", "kode SKPD"),
    Column("skpd_nama", "string", "nama SKPD (kosong bila kodenya belum ada di daftar kode)"),
    Column("sub_kegiatan", "string", "kode sub kegiatan (kosong bila baris tanpa sub kegiatan)"),
    Column("sub_kegiatan_nama", "string", "nama sub kegiatan"),
    Column("rekening", "string", "kode rekening"),
    Column("uraian_rekening", "string", "uraian kode rekening sebagaimana dalam APBD"),
    Column(
        "anggaran",
        "integer",
        "anggaran (pagu) baris ini sekarang, setelah perubahan dan pergeseran",
        RUPIAH,
    ),
    Column(
        "realisasi",
        "integer",
        "realisasi: belanja sejak SP2D terbit, pendapatan sejak diterima di RKUD",
        RUPIAH,
    ),
)

PAYMENTS_TEXT = (
    "Setiap pembayaran nontunai yang SP2D-nya sudah terbit (disahkan atau dibayar) "
    "dalam tahun anggaran, satu baris per pembayaran, urut tanggal SP2D."
)
DATASETS: dict[str, Dataset] = {
    d.file: d
    for d in (
        Dataset(
            "payments.csv",
            "Pembayaran (CSV)",
            PAYMENTS_TEXT,
            "text/csv; charset=utf-8",
            PAYMENT_COLUMNS,
        ),
        Dataset(
            "payments.json",
            "Pembayaran (JSON)",
            PAYMENTS_TEXT + " Dengan metadata: pemda, tahun, posisi log, waktu dibuat.",
            "application/json",
            PAYMENT_COLUMNS,
        ),
        Dataset(
            "payments.parquet",
            "Pembayaran (Parquet)",
            PAYMENTS_TEXT,
            "application/vnd.apache.parquet",
            PAYMENT_COLUMNS,
        ),
        Dataset(
            "lra.csv",
            "Laporan Realisasi Anggaran per baris anggaran (CSV)",
            "Anggaran dan realisasi setiap baris APBD (SKPD x sub kegiatan x kode rekening); "
            "jumlahkan per kolom untuk tingkat yang lebih tinggi.",
            "text/csv; charset=utf-8",
            BUDGET_LINE_COLUMNS,
        ),
        Dataset(
            "ocds.json",
            "Pembayaran sebagai Open Contracting Data Standard 1.1",
            "Paket rilis OCDS 1.1: satu rilis per pembayaran, dengan pembayaran sebagai "
            "contracts[].implementation.transactions[] (lihat docs/opendata.md).",
            "application/json",
            (),
        ),
    )
}
assert [c.name for c in PAYMENT_COLUMNS] == list(PAYMENT_SCHEMA)
assert [c.name for c in BUDGET_LINE_COLUMNS] == list(BUDGET_LINE_SCHEMA)


def data_package(base_url: str) -> dict[str, Any]:
    """The dictionary as a Frictionless-style data package: one resource per dataset, a table's
    fields with name, type, description (Indonesian) and unit; each path with the query that
    picks a pemda and year (``{pemda}``, ``{tahun}``)."""
    return {
        "name": "kasda-data-terbuka",
        "title": "Data terbuka kasda: pembayaran nontunai dan realisasi APBD",
        "description": "Hanya fakta final (SP2D terbit atau dibayar); tanpa nomor rekening, NPWP "
        "atau identitas orang. Rupiah dalam bilangan bulat, tanggal dalam WIB.",
        "licenses": [],  # the pemda decides the license of its data
        "resources": [_resource(d, base_url) for d in DATASETS.values()],
    }


def _resource(dataset: Dataset, base_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": dataset.name,
        "path": f"{base_url}/publik/data/{dataset.file}?pemda={{pemda}}&tahun={{tahun}}",
        "title": dataset.title,
        "description": dataset.description,
        "format": dataset.format,
        "mediatype": dataset.media_type.split(";")[0],
    }
    if dataset.format != "parquet":
        resource["encoding"] = "utf-8"
    if dataset.columns:
        resource["schema"] = {
            "fields": [
                {
                    "name": c.name,
                    "type": c.type,
                    "description": c.meaning,
                    **({"unit": c.unit} if c.unit else {}),
                }
                for c in dataset.columns
            ]
        }
    return resource


def tables() -> list[tuple[list[Dataset], tuple[Column, ...]]]:
    """The tables of the dictionary, each once with the files that hold it (the payments are one
    table in three formats), in the order of ``DATASETS``."""
    grouped: dict[tuple[Column, ...], list[Dataset]] = {}
    for dataset in DATASETS.values():
        if dataset.columns:
            grouped.setdefault(dataset.columns, []).append(dataset)
    return [(files, columns) for columns, files in grouped.items()]
