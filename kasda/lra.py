"""``kasda lra`` and ``kasda project``: the budget realisation report, and the projector that keeps
the read models current.

The report is rendered here, at the edge: rupiah with Indonesian thousands separators in the
table, plain integers in CSV, JSON and XLSX, and the percentage from integer basis points.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from kasda.settings import Settings
from ledger.codes import normalise_skpd
from ledger.errors import InvalidInput
from projections import nomenclature
from projections import queries as q
from projections.runner import Progress, Projector

COLUMNS = ("kode", "uraian", "anggaran", "committed", "realisasi", "lebih_kurang", "persen")
SIDE_TITLES = {
    "pendapatan": "PENDAPATAN",
    "belanja": "BELANJA",
    "penerimaan_pembiayaan": "PENERIMAAN PEMBIAYAAN",
    "pengeluaran_pembiayaan": "PENGELUARAN PEMBIAYAAN",
}


def day_argument(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parsers(sub: Any) -> None:
    report = sub.add_parser("lra", help="budget realisation report (LRA), now or as of a day")
    report.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    report.add_argument("--year", type=int, default=2026)
    report.add_argument(
        "--as-of", type=day_argument, help="end of this day in the pemda's time zone"
    )
    report.add_argument("--level", choices=list(q.LEVELS), default="skpd")
    report.add_argument(
        "--skpd", help="only this SKPD's lines (its code, e.g. 1.01.0.00.0.00.01.0000)"
    )
    report.add_argument("--format", choices=["table", "csv", "json", "xlsx"], default="table")
    report.add_argument("--out", type=Path, help="write to this file (required for xlsx)")
    project = sub.add_parser("project", help="bring the read models up to date")
    project.add_argument("--rebuild", action="store_true", help="drop them and project from 0")
    project.add_argument("--follow", action="store_true", help="keep following new events")


def persen(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}"


def rupiah(amount: int) -> str:
    """Indonesian style: 1.234.567, and (1.234.567) for a negative amount."""
    digits = f"{abs(amount):,}".replace(",", ".")
    return f"({digits})" if amount < 0 else digits


def run_lra(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.format == "xlsx" and args.out is None:
        raise InvalidInput("--format xlsx needs --out FILE.xlsx")
    ledger = settings.open_ledger()
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            projector.catch_up()
            lines = q.lra_lines(projector.db, args.pemda, args.year, args.as_of, skpd=args.skpd)
            closed = q.year_closed(projector.db, args.pemda, args.year, args.as_of)
        finally:
            projector.close()
    finally:
        ledger.close()
    skpd = normalise_skpd(args.skpd) if args.skpd is not None else None
    if lines.is_empty():
        raise InvalidInput(
            f"no APBD {args.year} of pemda {args.pemda} in the store"
            + (f" with lines of SKPD {skpd}" if skpd else "")
            + (f" as of {args.as_of}" if args.as_of else "")
        )
    report = q.rollup(lines, args.level)
    totals = q.lra_totals(lines)
    jumlah = q.lra_jumlah(lines)
    unit = f"SKPD {skpd} {nomenclature.uraian('skpd', skpd)}, " if skpd else ""
    title = f"LRA pemda {args.pemda} TA {args.year}, {unit}per {args.level}, " + (
        f"s.d. {args.as_of.isoformat()}" if args.as_of else "posisi terkini"
    )
    if closed is not None:  # tutup tahun: the LRA of a closed year is final
        title += f", FINAL (tutup tahun {closed['closed_on']}, SiLPA {rupiah(closed['silpa'])})"
    if args.format == "xlsx":
        write_xlsx(report, jumlah, totals, title, args.out)
        print(f"wrote {args.out}", file=out)
        return 0
    text = {"table": render_table, "csv": render_csv, "json": render_json}[args.format](
        report, jumlah, totals, title
    )
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=out)
    else:
        out.write(text)
    return 0


def _rows(report: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {**r, "persen": "" if r["persen_bp"] is None else persen(r["persen_bp"])}
        for r in report.iter_rows(named=True)
    ]


def render_table(
    report: pl.DataFrame, jumlah: pl.DataFrame, totals: dict[str, int], title: str
) -> str:
    buffer = io.StringIO()
    buffer.write(f"{title}\n{q.SIGN_NOTE}\n")
    header = ("Kode", "Uraian", "Anggaran", "Realisasi", "Lebih/(Kurang)", "%")
    widths = (24, 40, 20, 20, 20, 7)
    line = "  ".join(
        h.ljust(w) if i < 2 else h.rjust(w)
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    by_side = {r["side"]: r for r in _rows(jumlah) if r["side"] != "ringkasan"}

    def write(row: dict[str, Any]) -> None:
        cells = (
            row["kode"][:24], row["uraian"][:40], rupiah(row["anggaran"]),
            rupiah(row["realisasi"]), rupiah(row["lebih_kurang"]), row["persen"],
        )  # fmt: skip
        buffer.write(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + "\n"
        )

    side = None
    for row in _rows(report):
        if row["side"] != side:
            if side is not None:
                write(by_side[side])
            side = row["side"]
            buffer.write(f"\n{SIDE_TITLES[side]}\n{line}\n")
        write(row)
    if side is not None:
        write(by_side[side])
    buffer.write("\n" + summary(totals))
    return buffer.getvalue()


def summary(totals: dict[str, int]) -> str:
    """The closing block of the LRA: each side, surplus/defisit, pembiayaan netto, SiLPA."""
    rows = [
        ("Pendapatan", "pendapatan"),
        ("Belanja", "belanja"),
        ("Surplus/(Defisit)", "surplus_defisit"),
        ("Penerimaan pembiayaan", "penerimaan_pembiayaan"),
        ("Pengeluaran pembiayaan", "pengeluaran_pembiayaan"),
        ("Pembiayaan netto", "pembiayaan_netto"),
        ("SiLPA", "silpa"),
    ]
    text = f"{'':26}{'Anggaran':>22}{'Realisasi':>22}{'%':>9}\n"
    for label, key in rows:
        anggaran, realisasi = totals[f"{key}_anggaran"], totals[f"{key}_realisasi"]
        bp = (realisasi * 20_000 + anggaran) // (anggaran * 2) if anggaran > 0 else 0
        shown = persen(bp) if key in ("pendapatan", "belanja") else ""
        text += f"{label:26}{rupiah(anggaran):>22}{rupiah(realisasi):>22}{shown:>9}\n"
    return text


def render_csv(
    report: pl.DataFrame, jumlah: pl.DataFrame, totals: dict[str, int], title: str
) -> str:
    """The rows, then the totals rows (side ``jumlah`` for each side's sum, ``ringkasan`` for
    surplus/(defisit), pembiayaan netto and SiLPA; empty kode). The sign convention of
    lebih_kurang is ``projections.queries.SIGN_NOTE`` (docs/architecture.md)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["side", *COLUMNS])
    for row in _rows(report):
        writer.writerow([row["side"], *(row[c] for c in COLUMNS)])
    for row in _rows(jumlah):
        side = "ringkasan" if row["side"] == "ringkasan" else "jumlah"
        writer.writerow([side, *("" if row[c] is None else row[c] for c in COLUMNS)])
    return buffer.getvalue()


def render_json(
    report: pl.DataFrame, jumlah: pl.DataFrame, totals: dict[str, int], title: str
) -> str:
    rows = [{"side": r["side"], **{c: r[c] for c in COLUMNS}} for r in _rows(report)]
    sums = [{"side": r["side"], **{c: r[c] for c in COLUMNS}} for r in _rows(jumlah)]
    return (
        json.dumps(
            {
                "title": title,
                "catatan": q.SIGN_NOTE,
                "rows": rows,
                "jumlah": sums,
                "totals": totals,
            },
            indent=2,
        )
        + "\n"
    )


def write_xlsx(
    report: pl.DataFrame, jumlah: pl.DataFrame, totals: dict[str, int], title: str, path: Path
) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "LRA"
    sheet.append([title])
    sheet.append(["Sisi", "Kode", "Uraian", "Anggaran", "Committed", "Realisasi",
                  "Lebih/(Kurang)", "%"])  # fmt: skip
    for row in _rows(report):
        sheet.append([SIDE_TITLES[row["side"]], *(row[c] for c in COLUMNS)])
    for row in _rows(jumlah):
        sheet.append(["", *(row[c] for c in COLUMNS)])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    for cells in sheet.iter_rows(min_row=3, min_col=4, max_col=7):
        for cell in cells:
            cell.number_format = "#,##0;(#,##0)"
    sheet.append([])
    sheet.append([q.SIGN_NOTE])
    totals_sheet = book.create_sheet("Ringkasan")
    totals_sheet.append(["Pos", "Rupiah"])
    for key, value in totals.items():
        totals_sheet.append([key, value])
    book.save(path)


def year_summary(
    url: str, pemda: str, year: int, out: TextIO, settings: Settings | None = None
) -> None:
    """The LRA of a fiscal year at the level of kelompok akun, with its closing block."""
    settings = settings or Settings()
    ledger = settings.open_ledger(url)
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            done = projector.catch_up()
            lines = q.lra_lines(projector.db, pemda, year)
        finally:
            projector.close()
    finally:
        ledger.close()
    title = f"Laporan Realisasi Anggaran pemda {pemda} TA {year} (per kelompok akun)"
    out.write(
        "\n"
        + render_table(q.rollup(lines, "kelompok"), q.lra_jumlah(lines), q.lra_totals(lines), title)
    )
    print(
        f"(read models: {done.facts:,} events projected in {done.seconds:.2f} s; "
        f"`kasda lra --level skpd|program|kegiatan|subkegiatan|rekening` for more)",
        file=out,
    )


def run_project(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    ledger = settings.open_ledger()
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            done = projector.rebuild() if args.rebuild else projector.catch_up()
            _report(done, projector.position(), out)
            if args.follow:
                stop = threading.Event()
                try:
                    projector.follow(
                        stop,
                        on_progress=lambda p: _report(p, projector.position(), out),
                        on_error=_unavailable,
                    )
                except KeyboardInterrupt:
                    stop.set()
        finally:
            projector.close()
    finally:
        ledger.close()
    return 0


def _unavailable(error: Exception, wait: float) -> None:
    """``--follow`` keeps going when the database goes away: say so, and when it tries again."""
    print(
        f"kasda: the event store is unavailable ({error}); trying again in {wait:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def _report(done: Progress, position: int, out: TextIO) -> None:
    print(
        f"projected {done.facts:,} events over {done.positions:,} positions in "
        f"{done.seconds:.2f} s ({done.rate:,.0f} positions/s); at position {position:,}",
        file=out,
        flush=True,
    )
