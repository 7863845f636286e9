"""The report of a run: every line with its status (Parquet and CSV, one pair per side), a one-page
HTML summary, the same summary as an XLSX workbook, and a JSON summary (inputs with their SHA-256,
counts and amounts per status)."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from reconciliation.matching import LazyResult, Result
from reconciliation.schema import STATUSES

# The exceptions an auditor reads first, most important first.
_PRIORITY = [
    "unmatched_bank",
    "duplicate",
    "amount_mismatch",
    "unmatched_ledger",
    "returned",
    "timing",
    "fee",
]
_SHOWN = 200


@dataclass(frozen=True, slots=True)
class Input:
    role: str  # bank | gateway | ledger
    path: str
    sha256: str
    lines: int


@dataclass(slots=True)
class Summary:
    period_start: date
    period_end: date
    window_days: int
    inputs: list[Input] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    amounts: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "window_days": self.window_days,
            "inputs": [asdict(i) for i in self.inputs],
            "counts": self.counts,
            "amounts": self.amounts,
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


AnyResult = Result | LazyResult


def summarise(result: AnyResult, summary: Summary) -> Summary:
    """Fill the counts and rupiah totals per status of both sides."""
    for side, frame, money in (
        ("statement", result.statement_rows, "amount"),
        ("ledger", result.ledger_rows, "net"),
    ):
        grouped = (
            frame.lazy().group_by("status").agg(n=pl.len(), total=pl.col(money).sum()).collect()
        )
        found = {str(s): (int(n), int(t)) for s, n, t in grouped.iter_rows()}
        summary.counts[side] = {s: found.get(s, (0, 0))[0] for s in STATUSES}
        summary.amounts[side] = {s: found.get(s, (0, 0))[1] for s in STATUSES}
    return summary


def write_report(result: AnyResult, summary: Summary, out: Path) -> list[Path]:
    """Write the report files into ``out`` (created if needed) and return their paths. A
    ``LazyResult`` is streamed to the files, never held whole."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in (("statement", result.statement), ("ledger", result.ledger)):
        parquet = out / f"{name}.parquet"
        csv = out / f"{name}.csv"
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(parquet)
            _csv_in_slices(pl.scan_parquet(parquet), csv)
        else:
            frame.write_parquet(parquet)
            frame.with_columns(pl.col("status").cast(pl.String)).write_csv(csv)
        written += [parquet, csv]
    summary_json = out / "summary.json"
    summary_json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
    page = out / "summary.html"
    page.write_text(_html(result, summary), encoding="utf-8")
    book = out / "summary.xlsx"
    _xlsx(result, summary, book)
    return [*written, summary_json, page, book]


_SLICE = 100_000


def _csv_in_slices(frame: pl.LazyFrame, path: Path) -> None:
    """The CSV of a large result, a slice of rows at a time (``sink_csv`` held far more)."""
    rows = frame.select(pl.len()).collect().item()
    with path.open("wb") as handle:
        for start in range(0, max(rows, 1), _SLICE):
            part = frame.slice(start, _SLICE).collect()
            part.with_columns(pl.col("status").cast(pl.String)).write_csv(
                handle, include_header=start == 0
            )


def _exceptions(result: AnyResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The first exceptions of each side, most important status first, then the largest amount."""
    order = (
        pl.col("status")
        .cast(pl.String)
        .replace_strict(
            {s: i for i, s in enumerate(_PRIORITY)}, default=len(_PRIORITY), return_dtype=pl.Int32
        )
    )
    statement = (
        result.statement.lazy()
        .filter(pl.col("status").cast(pl.String).is_in(_PRIORITY))
        .sort(order, -pl.col("amount"))
        .head(_SHOWN)
        .collect()
    )
    ledger = (
        result.ledger.lazy()
        .filter(pl.col("status").cast(pl.String).is_in(_PRIORITY))
        .sort(order, -pl.col("net"))
        .head(_SHOWN)
        .collect()
    )
    return statement, ledger


def _xlsx(result: AnyResult, summary: Summary, path: Path) -> None:
    """The same summary as a workbook: counts and amounts per status, then the exceptions."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "ringkasan"
    sheet.append(["periode", summary.period_start.isoformat(), summary.period_end.isoformat()])
    sheet.append([])
    sheet.append(["status", "statement lines", "statement rupiah", "ledger lines", "ledger rupiah"])
    for status in STATUSES:
        sheet.append(
            [
                status,
                summary.counts["statement"][status],
                summary.amounts["statement"][status],
                summary.counts["ledger"][status],
                summary.amounts["ledger"][status],
            ]
        )
    statement, ledger = _exceptions(result)
    bank = book.create_sheet("statement exceptions")
    bank.append(["status", "file", "line", "value date", "D/C", "amount", "remark"])
    for r in statement.iter_rows(named=True):
        bank.append(
            [
                str(r["status"]),
                r["file"],
                r["line_no"],
                r["value_date"],
                r["direction"],
                r["amount"],
                r["remark"],
            ]
        )
    own = book.create_sheet("ledger exceptions")
    own.append(["status", "SP2D / order", "payout ref", "net", "sent on", "ledger status"])
    for r in ledger.iter_rows(named=True):
        own.append(
            [
                str(r["status"]),
                r["sp2d_number"] or r["order_id"] or r["ledger_id"],
                r["payout_reference"],
                r["net"],
                r["sent_on"],
                r["ledger_status"],
            ]
        )
    book.save(path)


def _rupiah(value: int) -> str:
    return "Rp " + f"{value:,}".replace(",", ".")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(result: AnyResult, summary: Summary) -> str:
    counts = [
        [
            status,
            str(summary.counts["statement"][status]),
            _rupiah(summary.amounts["statement"][status]),
            str(summary.counts["ledger"][status]),
            _rupiah(summary.amounts["ledger"][status]),
        ]
        for status in STATUSES
    ]
    inputs = [[i.role, i.path, str(i.lines), i.sha256] for i in summary.inputs]
    statement_exceptions, ledger_exceptions = _exceptions(result)
    statement_rows = [
        [
            str(r["status"]),
            f"{r['file']}:{r['line_no']}",
            str(r["value_date"]),
            r["direction"],
            _rupiah(r["amount"]),
            r["remark"] or "",
        ]
        for r in statement_exceptions.iter_rows(named=True)
    ]
    ledger_rows = [
        [
            str(r["status"]),
            r["sp2d_number"] or r["order_id"] or r["ledger_id"],
            r["payout_reference"] or "",
            _rupiah(r["net"]),
            str(r["sent_on"] or ""),
            r["ledger_status"],
        ]
        for r in ledger_exceptions.iter_rows(named=True)
    ]
    title = f"Rekonsiliasi RKUD {summary.period_start} - {summary.period_end}"
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #999;padding:2px 6px;text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Date window: {summary.window_days} days. Money that left the RKUD with no SP2D behind it is listed
first (<code>unmatched_bank</code>).</p>
<h2>Inputs</h2>{_table(["role", "file", "lines", "sha256"], inputs)}
<h2>Lines per status</h2>
{_table(["status", "statement lines", "statement amount", "ledger lines", "ledger amount"], counts)}
<h2>Statement exceptions (first {_SHOWN})</h2>
{_table(["status", "file:line", "value date", "D/C", "amount", "remark"], statement_rows)}
<h2>Ledger exceptions (first {_SHOWN})</h2>
{_table(["status", "SP2D / order", "payout ref", "net", "sent on", "ledger status"], ledger_rows)}
</body></html>
"""
