"""The report of a run: every line with its status (Parquet and CSV, one pair per side), a one-page
HTML summary, the same summary as an XLSX workbook, and a JSON summary (inputs with their SHA-256,
counts and amounts per status, bank charges per day).

The data keeps the stable English status codes; the HTML and XLSX pages show each with its
Indonesian label and a one-line explanation (``schema.STATUS_LABELS``). An amount mismatch is shown
once, on its statement line, with what the ledger (or the batch) expected and the difference
(selisih); bank charges and interest are classified automatically and totalled per day."""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl
from polars.io.plugins import register_io_source

from reconciliation.matching import LazyResult, Result
from reconciliation.schema import STATUS_LABELS, STATUSES

# The exceptions an auditor reads first, most important first (bank charges are not exceptions:
# they are totalled per day).
_PRIORITY = [
    "unmatched_bank",
    "account_mismatch",
    "reference_reused",
    "duplicate",
    "amount_mismatch",
    "ambiguous",
    "unmatched_ledger",
    "returned",
    "timing",
]
# Ledger lines whose exception is their statement line's (which shows both and the selisih).
FOLDED_INTO_STATEMENT = frozenset({"amount_mismatch"})
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
    # Bank charges and interest per day: {value_date, kind, direction, lines, amount}
    fees: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "window_days": self.window_days,
            "inputs": [asdict(i) for i in self.inputs],
            "counts": self.counts,
            "amounts": self.amounts,
            "fees_per_day": self.fees,
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
    fees = (
        result.statement_rows.lazy()
        .filter(pl.col("status") == "fee")
        .group_by("value_date", "kind", "direction")
        .agg(lines=pl.len(), amount=pl.col("amount").sum())
        .sort("value_date", "kind", "direction")
        .collect()
    )
    summary.fees = [
        {**row, "value_date": row["value_date"].isoformat()} for row in fees.iter_rows(named=True)
    ]
    return summary


def with_selisih(lines: pl.LazyFrame, result: AnyResult) -> pl.LazyFrame:
    """Statement ``lines`` (a subset of ``result.statement``) plus ``expected`` and ``selisih``
    (amount - expected) on every amount mismatch: a line that named a ledger line against that
    line's amount (net; gross for a settlement row against a receipt); a bank line of a batch
    against the batch total; a gateway row of the right amount in a batch whose total differs, the
    batch's difference. Null on other lines."""
    statement = result.statement.lazy()
    gateway = pl.col("source") == "gateway"
    totals = (
        statement.filter(gateway & pl.col("batch_id").is_not_null())
        .group_by(_batch="batch_id", _dir="direction")
        .agg(
            _total=pl.when(pl.col("direction") == "C")
            .then(pl.col("amount") - pl.col("fee"))
            .otherwise(pl.col("amount") + pl.col("fee"))
            .sum()
        )
    )
    batch_lines = (
        statement.filter(
            (pl.col("match_pass") == "batch") & (pl.col("status") == "amount_mismatch")
        )
        .select(_batch="matched_batch", _dir="direction", _paid="amount")
        .join(totals, on=["_batch", "_dir"], how="inner")
        .select("_batch", "_dir", _batch_selisih=pl.col("_paid") - pl.col("_total"))
    )
    ledger = result.ledger.lazy().select("ledger_id", _lkind="kind", _lnet="net", _lgross="gross")
    mismatch = pl.col("status") == "amount_mismatch"
    own = (
        pl.when(gateway & (pl.col("_lkind") == "receipt"))
        .then(pl.col("_lgross"))
        .otherwise(pl.col("_lnet"))
    )
    expected = (
        pl.when(~mismatch)
        .then(None)
        .when(pl.col("match_pass") == "batch")
        .then(pl.col("_total"))
        .when(own.is_not_null() & (own != pl.col("amount")))
        .then(own)
        .when(pl.col("_batch_selisih").is_not_null())
        .then(pl.col("amount") - pl.col("_batch_selisih"))
        .otherwise(own)
    )
    batch_key = pl.when(gateway).then(pl.col("batch_id")).otherwise(pl.col("matched_batch"))
    return (
        lines.with_columns(_batch=batch_key, _dir="direction")
        .join(ledger, on="ledger_id", how="left", maintain_order="left")
        .join(totals, on=["_batch", "_dir"], how="left", maintain_order="left")
        .join(batch_lines, on=["_batch", "_dir"], how="left", maintain_order="left")
        .with_columns(expected=expected)
        .with_columns(selisih=pl.col("amount") - pl.col("expected"))
        .drop("_batch", "_dir", "_lkind", "_lnet", "_lgross", "_total", "_batch_selisih")
    )


def label(status: str) -> str:
    """``Selisih jumlah (amount_mismatch)``: the Indonesian label with the code kept in the data."""
    return f"{STATUS_LABELS[status][0]} ({status})"


def write_report(result: AnyResult, summary: Summary, out: Path) -> list[Path]:
    """Write the report files into ``out`` (created if needed) and return their paths. A
    ``LazyResult`` is streamed to the files, never held whole; the lines it has already written
    (``LazyResult.written``) are linked into ``out``, not written again."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in (("statement", result.statement), ("ledger", result.ledger)):
        parquet = out / f"{name}.parquet"
        csv = out / f"{name}.csv"
        done = result.written.get(name) if isinstance(result, LazyResult) else None
        if done is not None:
            for source, target in zip(done, (parquet, csv), strict=True):
                _link(source, target)
        elif isinstance(frame, pl.LazyFrame):
            write_lines(_batches(frame), parquet, csv)
        else:
            frame.write_parquet(
                parquet, compression=REPORT_COMPRESSION, statistics=REPORT_STATISTICS
            )
            _csv_rows(frame).write_csv(csv)
        written += [parquet, csv]
    summary_json = out / "summary.json"
    summary_json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
    exceptions = _exceptions(result)
    page = out / "summary.html"
    page.write_text(_html(exceptions, summary), encoding="utf-8")
    book = out / "summary.xlsx"
    _xlsx(exceptions, summary, book)
    return [*written, summary_json, page, book]


# The report's Parquet files are LZ4 without column statistics: about twice the size of zstd level 1
# on these lines, and 25 % less CPU to write and half to read back (the summary, the exceptions and
# the record scan them); the statistics only skip row groups, and a status is in every row group
# (docs/benchmarks.md, issue 17 part 1, i17-e2e3). Any Parquet reader reads them as before.
REPORT_COMPRESSION: Final = "lz4"
REPORT_STATISTICS: Final = False
_SLICE = 100_000


def _csv_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The lines as the CSV holds them: the status as its code."""
    return frame.with_columns(pl.col("status").cast(pl.String))


def write_lines(parts: Iterator[pl.DataFrame], parquet: Path, csv: Path) -> None:
    """One side's lines, given as consecutive parts of rows in order (at least one, maybe empty), as
    the report's Parquet and CSV files in one pass: each part is written as CSV and handed to the
    Parquet sink, so the lines are computed once for both files and never read back. Memory: a
    part or two; ``sink_csv`` would buffer what the disk has not taken yet."""
    first = [next(parts)]
    schema = first[0].schema
    with csv.open("wb") as handle:

        def source(
            with_columns: list[str] | None,
            predicate: pl.Expr | None,
            n_rows: int | None,
            batch_size: int | None,
        ) -> Iterator[pl.DataFrame]:
            # Every row goes to the CSV; the sink asks for all of them (nothing is pushed down).
            header = True
            for part in itertools.chain((first.pop(),), parts):
                _csv_rows(part).write_csv(handle, include_header=header)
                header = False
                yield part

        lines = register_io_source(source, schema=schema, validate_schema=True)
        lines.sink_parquet(parquet, compression=REPORT_COMPRESSION, statistics=REPORT_STATISTICS)


class ReportNotWritten(Exception):
    """The lines of a report could not be written (disk full, a failing step): the message names
    the side and why; no file of either side is left behind."""


class _Stopped(Exception):
    """Raised into a side's writer when the other side failed."""


def write_sides(sides: Mapping[str, tuple[Iterator[pl.DataFrame], Path, Path]]) -> None:
    """Each side's lines written as its Parquet and CSV files (``write_lines``), the sides at the
    same time on threads of their own: Polars releases the GIL while it computes, encodes and
    formats, so one side's work fills what the other leaves of two cores. If one side fails, the
    other stops at its next part, every file of both is removed and ``ReportNotWritten`` says which
    side failed and why."""
    writers = _SideWriters()
    threads = [
        threading.Thread(target=writers.write, args=(name, *side), name=f"kasda-report-{name}")
        for name, side in sides.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if writers.failed:
        for _parts, parquet, csv in sides.values():
            parquet.unlink(missing_ok=True)
            csv.unlink(missing_ok=True)
        name, error = writers.failed[0]
        raise ReportNotWritten(f"the {name} lines could not be written: {error}") from error


class _SideWriters:
    """The writers of ``write_sides``: the first failure, and a flag that stops the others."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.failed: list[tuple[str, BaseException]] = []

    def write(self, name: str, parts: Iterator[pl.DataFrame], parquet: Path, csv: Path) -> None:
        try:
            write_lines(self._until_stopped(parts), parquet, csv)
        except BaseException as error:
            if not self.stop.is_set():  # the first failure; the others only follow it
                self.failed.append((name, error))
            self.stop.set()

    def _until_stopped(self, parts: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        for part in parts:
            if self.stop.is_set():
                raise _Stopped
            yield part


def _batches(frame: pl.LazyFrame) -> Iterator[pl.DataFrame]:
    """A large result's rows a batch at a time (an empty frame when it has none)."""
    empty = True
    for part in frame.collect_batches(chunk_size=_SLICE):
        empty = False
        yield part
    if empty:
        yield frame.head(0).collect()


def _link(source: Path, target: Path) -> None:
    """``target`` as a second name of ``source`` (a copy across file systems)."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _exceptions(result: AnyResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The first exceptions of each side, most important status first, then the largest amount,
    then by file and line (ledger lines by id): ties are broken explicitly, so the same inputs give
    the same page whether the lines were held in memory or scanned from disk; statement lines
    with their selisih, ledger lines without those their statement line shows."""
    order = (
        pl.col("status")
        .cast(pl.String)
        .replace_strict(
            {s: i for i, s in enumerate(_PRIORITY)}, default=len(_PRIORITY), return_dtype=pl.Int32
        )
    )
    first = (
        result.statement.lazy()
        .filter(pl.col("status").cast(pl.String).is_in(_PRIORITY))
        .sort(order, -pl.col("amount"), pl.col("file").cast(pl.String), "line_no")
        .head(_SHOWN)
        .collect()
    )
    statement = selisih_of(first, result)
    shown = [s for s in _PRIORITY if s not in FOLDED_INTO_STATEMENT]
    ledger = (
        result.ledger.lazy()
        .filter(pl.col("status").cast(pl.String).is_in(shown))
        .sort(order, -pl.col("net"), "ledger_id")
        .head(_SHOWN)
        .collect()
    )
    return statement, ledger


def selisih_of(lines: pl.DataFrame, result: AnyResult) -> pl.DataFrame:
    """``with_selisih`` of a few lines held (the exceptions a page shows), reading of ``result``
    only what their selisih needs: their ledger lines, and every line of their batches (a batch's
    total, its bank lines), not every line of a large run."""
    ids = lines["ledger_id"].drop_nulls().unique().implode()
    batches = pl.concat([lines["batch_id"], lines["matched_batch"]]).drop_nulls().unique().implode()
    around = LazyResult(
        result.statement.lazy().filter(
            pl.col("batch_id").is_in(batches) | pl.col("matched_batch").is_in(batches)
        ),
        result.ledger.lazy().filter(pl.col("ledger_id").is_in(ids)),
    )
    return with_selisih(lines.lazy(), around).collect()


_STATEMENT_HEADERS = [
    "status",
    "file:line",
    "value date",
    "D/C",
    "amount",
    "expected",
    "selisih",
    "ledger / batch",
    "agreed",
    "remark",
]
_LEDGER_HEADERS = ["status", "SP2D / order", "payout ref", "net", "sent on", "ledger status"]
_COUNT_HEADERS = [
    "status",
    "code",
    "meaning",
    "statement lines",
    "statement amount",
    "ledger lines",
    "ledger amount",
]
_FEE_HEADERS = ["day", "kind", "D/C", "lines", "amount"]


def _statement_row(r: dict[str, Any], money: Any) -> list[Any]:
    return [
        label(str(r["status"])),
        f"{r['file']}:{r['line_no']}",
        r["value_date"],
        r["direction"],
        money(r["amount"]),
        "" if r["expected"] is None else money(r["expected"]),
        "" if r["selisih"] is None else money(r["selisih"]),
        r["ledger_id"] or r["matched_batch"] or "",
        r["agreed"] or "",
        r["remark"] or "",
    ]


def _ledger_row(r: dict[str, Any], money: Any) -> list[Any]:
    return [
        label(str(r["status"])),
        r["sp2d_number"] or r["order_id"] or r["ledger_id"],
        r["payout_reference"] or "",
        money(r["net"]),
        r["sent_on"] or "",
        r["ledger_status"],
    ]


def _count_rows(summary: Summary, money: Any) -> list[list[Any]]:
    return [
        [
            STATUS_LABELS[status][0],
            status,
            STATUS_LABELS[status][1],
            summary.counts["statement"][status],
            money(summary.amounts["statement"][status]),
            summary.counts["ledger"][status],
            money(summary.amounts["ledger"][status]),
        ]
        for status in STATUSES
    ]


def _fee_rows(summary: Summary, money: Any) -> list[list[Any]]:
    return [
        [f["value_date"], f["kind"], f["direction"], f["lines"], money(f["amount"])]
        for f in summary.fees
    ]


def _same(value: Any) -> Any:
    return value


def _xlsx(exceptions: tuple[pl.DataFrame, pl.DataFrame], summary: Summary, path: Path) -> None:
    """The same summary as a workbook: counts and amounts per status (with what each means), bank
    charges per day, then the exceptions."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "ringkasan"
    sheet.append(["periode", summary.period_start.isoformat(), summary.period_end.isoformat()])
    sheet.append([])
    sheet.append(_COUNT_HEADERS)
    for row in _count_rows(summary, _same):
        sheet.append(row)
    sheet.append([])
    sheet.append(["biaya dan bunga bank per hari"])
    sheet.append(_FEE_HEADERS)
    for row in _fee_rows(summary, _same):
        sheet.append(row)
    statement, ledger = exceptions
    bank = book.create_sheet("statement exceptions")
    bank.append(_STATEMENT_HEADERS)
    for r in statement.iter_rows(named=True):
        bank.append(_statement_row(r, _same))
    own = book.create_sheet("ledger exceptions")
    own.append(_LEDGER_HEADERS)
    for r in ledger.iter_rows(named=True):
        own.append(_ledger_row(r, _same))
    book.save(path)


def _rupiah(value: int) -> str:
    return "Rp " + f"{value:,}".replace(",", ".")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(exceptions: tuple[pl.DataFrame, pl.DataFrame], summary: Summary) -> str:
    inputs = [[i.role, i.path, str(i.lines), i.sha256] for i in summary.inputs]
    statement_exceptions, ledger_exceptions = exceptions
    statement_rows = [
        _statement_row(r, _rupiah) for r in statement_exceptions.iter_rows(named=True)
    ]
    ledger_rows = [_ledger_row(r, _rupiah) for r in ledger_exceptions.iter_rows(named=True)]
    title = f"Rekonsiliasi RKUD {summary.period_start} - {summary.period_end}"
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #999;padding:2px 6px;text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Date window: {summary.window_days} days. Money that left the RKUD with no SP2D behind it is listed
first (<code>unmatched_bank</code>), then payments to another account than the SP2D's.</p>
<h2>Inputs</h2>{_table(["role", "file", "lines", "sha256"], inputs)}
<h2>Lines per status</h2>
{_table(_COUNT_HEADERS, _count_rows(summary, _rupiah))}
<h2>Bank charges and interest per day (classified automatically)</h2>
{_table(_FEE_HEADERS, _fee_rows(summary, _rupiah))}
<h2>Statement exceptions (first {_SHOWN})</h2>
<p>An amount mismatch is one exception: its line, what the ledger line or batch expected, and the
selisih (amount - expected). <code>agreed</code> names the fields that agreed with the line paired.</p>
{_table(_STATEMENT_HEADERS, statement_rows)}
<h2>Ledger exceptions (first {_SHOWN})</h2>
{_table(_LEDGER_HEADERS, ledger_rows)}
</body></html>
"""
