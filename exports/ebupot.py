"""The taxes withheld in a month, in the layout of e-Bupot Unifikasi's import workbook (DJP): one
row per vendor, income tax and rate with the base (DPP), the rate and the tax withheld, and the
SP2D behind it, for the PPh that e-Bupot Unifikasi takes (``EBUPOT``: PPh 22, 23, 4(2), 15).

The workbook has the sheets of DJP's template that carry data: ``Rekap`` (the period and the count
and sum per pasal), ``42152223`` (the bukti potong rows, the same rows as the CSV) and ``Dasar
Pemotongan`` (the documents each row rests on: every SP2D, its number, day, base and tax). Taxes
withheld that e-Bupot Unifikasi does not take (PPN, reported in the SPT Masa PPN; PPh 21, in
e-Bupot 21/26) are listed in a sheet of their own (``Bukan e-Bupot``) so that the workbook's
amounts sum to everything withheld in the month. The CSV holds the bukti potong rows only.

NPWP are written in full: the file is for the tax office, behind sign-in. What is assumed where
DJP's own template was not at hand (kode objek pajak, the date of a monthly row) is in
docs/exports.md."""

from __future__ import annotations

from typing import Any

from exports import sheets
from exports.sheets import Table
from projections.tax import TaxMonth, VendorTax, tax_name

# The taxes e-Bupot Unifikasi takes, by the ledger's code: the pasal as its template names it.
EBUPOT = {
    "PPH22": "22",
    "PPH23": "23",
    "PPH4_2": "4(2)",
    "PPH15": "15",
}
BUKTI_HEADERS = (
    "no", "tahun_pajak", "masa_pajak", "tanggal_pemotongan", "npwp_penerima", "nama_penerima",
    "jenis_penerima", "pasal", "kode_pajak", "jenis_pajak", "kode_objek_pajak", "dpp",
    "tarif_persen", "pph_dipotong", "jumlah_sp2d", "nomor_sp2d", "tanggal_sp2d", "sesuai_tarif",
)  # fmt: skip
DASAR_HEADERS = (
    "no_bukti", "jenis_dokumen", "nomor_dokumen", "tanggal_dokumen", "nomor_spp", "kode_skpd",
    "kode_rekening", "bruto", "dpp", "kode_pajak", "pph_dipotong", "status_pembayaran",
)  # fmt: skip
OTHER_HEADERS = (
    "tahun_pajak", "masa_pajak", "npwp", "nama", "kode_pajak", "jenis_pajak", "dpp",
    "tarif_persen", "jumlah_dipotong", "jumlah_sp2d", "nomor_sp2d", "dilaporkan_di",
)  # fmt: skip
REPORTED_IN = {"PPN": "SPT Masa PPN", "PPH21": "e-Bupot 21/26"}
MONEY = frozenset({"dpp", "pph_dipotong", "bruto", "jumlah_dipotong", "jumlah"})
SEPARATOR = "; "


def rate_text(rate_bp: int | None) -> str:
    """A rate in basis points as a percentage (150 -> ``1.50``); empty when no rate gives the
    recorded amounts (``projections.tax.implied_rate``)."""
    return "" if rate_bp is None else f"{rate_bp // 100}.{rate_bp % 100:02d}"


def _split(month: TaxMonth) -> tuple[list[VendorTax], list[VendorTax]]:
    groups = month.by_vendor()
    return [g for g in groups if g.code in EBUPOT], [g for g in groups if g.code not in EBUPOT]


def _numbers(group: VendorTax) -> tuple[str, str]:
    return (
        SEPARATOR.join(w.sp2d_number for w in group.payments),
        SEPARATOR.join(w.sp2d_day.isoformat() for w in group.payments),
    )


def bukti(month: TaxMonth) -> Table:
    """The bukti potong rows (the CSV, and sheet ``42152223``): per vendor, tax and rate."""
    rows: list[list[Any]] = []
    for number, group in enumerate(_split(month)[0], start=1):
        sp2d, days = _numbers(group)
        rows.append(
            [number, month.year, month.month, group.last_day.isoformat(), group.npwp,
             group.vendor_name, group.vendor_kind, EBUPOT[group.code], group.code,
             tax_name(group.code), "", group.base, rate_text(group.rate_bp), group.amount,
             len(group.payments), sp2d, days, "ya" if group.rate_bp is not None else "tidak"]
        )  # fmt: skip
    return Table("42152223", BUKTI_HEADERS, rows, MONEY)


def dasar(month: TaxMonth) -> Table:
    """Sheet ``Dasar Pemotongan``: every SP2D each bukti potong row rests on."""
    rows: list[list[Any]] = []
    for number, group in enumerate(_split(month)[0], start=1):
        for w in group.payments:
            rows.append(
                [number, "SP2D", w.sp2d_number, w.sp2d_day.isoformat(), w.spp_number, w.skpd,
                 w.rekening, w.gross, w.base, w.code, w.amount, w.status]
            )  # fmt: skip
    return Table("Dasar Pemotongan", DASAR_HEADERS, rows, MONEY)


def others(month: TaxMonth) -> Table:
    """Sheet ``Bukan e-Bupot``: the month's other taxes withheld (PPN, PPh 21, ...)."""
    rows: list[list[Any]] = []
    for group in _split(month)[1]:
        sp2d, _ = _numbers(group)
        rows.append(
            [month.year, month.month, group.npwp, group.vendor_name, group.code,
             tax_name(group.code), group.base, rate_text(group.rate_bp), group.amount,
             len(group.payments), sp2d, REPORTED_IN.get(group.code, "")]
        )  # fmt: skip
    return Table("Bukan e-Bupot", OTHER_HEADERS, rows, MONEY)


def rekap(month: TaxMonth) -> Table:
    """Sheet ``Rekap``: the period, the log position read at, and per pasal the count of bukti
    potong rows and the tax; then every tax withheld in the month, e-Bupot or not."""
    ebupot, _ = _split(month)
    rows: list[list[Any]] = [
        ["tahun_pajak", "", "", month.year],
        ["masa_pajak", "", "", month.month],
        ["kode_pemda", "", "", month.pemda],
        ["posisi_log", "", "", month.position],
    ]
    for code, pasal in EBUPOT.items():
        chosen = [g for g in ebupot if g.code == code]
        rows.append([f"pasal_{pasal}", code, len(chosen), sum(g.amount for g in chosen)])
    for code, amount in month.totals().items():
        rows.append(["jumlah_dipotong", code, "", amount])
    return Table("Rekap", ("pos", "kode_pajak", "jumlah_bukti", "jumlah"), rows, MONEY)


def workbook_tables(month: TaxMonth) -> tuple[Table, ...]:
    """The workbook's sheets in order: Rekap, 42152223, Dasar Pemotongan, Bukan e-Bupot."""
    return rekap(month), bukti(month), dasar(month), others(month)


def render(kind: str, month: TaxMonth) -> bytes:
    """The month as CSV (the bukti potong rows) or as the workbook (every sheet)."""
    if kind == "csv":
        return sheets.csv_bytes(bukti(month))
    return sheets.xlsx_bytes(*workbook_tables(month))


def filename(month: TaxMonth, kind: str) -> str:
    return f"ebupot-{month.pemda}-{month.year}-{month.month:02d}.{kind}"
