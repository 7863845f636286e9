"""What a run records in the ledger (``RecordReconciliation``): its inputs with their SHA-256, the
parameters that decide its outcome, the count of lines per status and every exception, each with a
compact, stable id. An exception is a line of either side that is not ``matched``, except bank
charges and interest (classified automatically, totalled per day in the report) and a ledger line
in ``amount_mismatch`` (its statement line's exception names it, with the amount it expected and the
selisih):

- a statement line: ``<file name>:<line number>`` (``rkud-2026-11-21.sta:412``, as compilers name
  a line); the file's SHA-256 prefix replaces the name when two inputs share a name or the id would
  pass 64 characters;
- a ledger line: ``ledger:<ledger id>`` (the disbursement or receipt aggregate id).

No ``#`` in an id: it goes into a URL path (the API's resolve route), where a client that forgets to
percent-encode a ``#`` would silently cut the id at it.

The same inputs and parameters give the same ids, the same digest and so the same run id: recording
twice is a no-op. Built with Polars expressions, no loop over rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

import polars as pl

from ledger.reconciliation import inputs_digest
from reconciliation.matching import LazyResult, Result
from reconciliation.report import FOLDED_INTO_STATEMENT, Input, Summary, with_selisih
from reconciliation.schema import STATUSES

MAX_ID = 64  # ledger.fields.MAX_NUMBER
MAX_REFERENCE = 200  # ledger.fields.MAX_NAME
_CONTROL = r"[\x00-\x1f\x7f]"


class RecordError(ValueError):
    """The run cannot be recorded as it is (e.g. an id longer than the ledger allows)."""


@dataclass(frozen=True, slots=True)
class Record:
    business_date: str
    inputs: tuple[dict[str, Any], ...]
    counts: dict[str, int]
    exceptions: tuple[dict[str, Any], ...]
    inputs_digest: str


def parameters_input(start: date, end: date, window_days: int, profile: str) -> dict[str, Any]:
    """The run's parameters as one more input: a different window or period over the same files is a
    different run (its own digest), never "already recorded"."""
    text = f"period {start.isoformat()}..{end.isoformat()} window {window_days} profile {profile}"
    return {
        "name": text,
        "kind": "parameters",
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "rows": 0,
    }


def ledger_digest(ledger: pl.DataFrame) -> str:
    """SHA-256 of the ledger lines a run saw (canonical CSV, in ledger id order): a store that changed
    only outside the period gives the same digest."""
    return hashlib.sha256(ledger.sort("ledger_id").write_csv().encode()).hexdigest()


def _names(inputs: list[Input]) -> dict[str, str]:
    """The id prefix of each statement file: its name, or its SHA-256 prefix when not unique/short;
    two files with one name and the same bytes (two folders' empty reports) are told apart by the
    order of their paths: ``<prefix>-1``, ``<prefix>-2``."""
    files = [i for i in inputs if i.role != "ledger"]
    base = [PurePath(i.path).name for i in files]
    names = {
        i.path: name if base.count(name) == 1 and len(name) <= MAX_ID - 12 else i.sha256[:16]
        for i, name in zip(files, base, strict=True)
    }
    for path in sorted(names):
        alike = sorted(p for p, n in names.items() if n == names[path])
        if len(alike) > 1:
            names.update({p: f"{names[p]}-{k}" for k, p in enumerate(alike, 1)})
    return names


def inputs_of(summary: Summary) -> list[dict[str, Any]]:
    return [
        {
            "name": PurePath(i.path).name or i.path,
            "kind": i.role,
            "sha256": i.sha256,
            "rows": i.lines,
        }
        for i in summary.inputs
    ]


NOT_EXCEPTIONS = {"statement": frozenset({"matched", "fee"}), "ledger": frozenset({"matched"})}


def _not_exception(side: str) -> frozenset[str]:
    return NOT_EXCEPTIONS[side] | (FOLDED_INTO_STATEMENT if side == "ledger" else frozenset())


def exception_count(summary: Summary) -> int:
    """What a record of the run would hold (see the module's docstring), from the counts."""
    return sum(
        n
        for side, counts in summary.counts.items()
        for status, n in counts.items()
        if status not in _not_exception(side)
    )


def exceptions_frame(result: Result | LazyResult, inputs: list[Input]) -> pl.DataFrame:
    """Every non-matched line of both sides: id, status, amount, reference, detail (and ``side``)."""
    names = _names(inputs)
    lines = result.statement.lazy().filter(
        ~pl.col("status").cast(pl.String).is_in(list(_not_exception("statement")))
    )
    statement = with_selisih(lines, result).select(
        id=pl.concat_str(
            pl.col("file").replace_strict(names, default=pl.col("file")),
            pl.lit(":"),
            pl.col("line_no").cast(pl.String),
        ),
        status=pl.col("status").cast(pl.String),
        amount="amount",
        reference=pl.col("reference"),
        detail=pl.concat_str(
            pl.lit("side="),
            pl.col("source"),
            pl.lit(" file="),
            pl.col("file").str.extract(r"([^/\\]*)$"),
            pl.lit(" line="),
            pl.col("line_no").cast(pl.String),
            pl.lit(" direction="),
            pl.col("direction"),
            pl.lit(" kind="),
            pl.col("kind"),
            pl.lit(" pass="),
            pl.col("match_pass").cast(pl.String),
            pl.concat_str(pl.lit(" ledger="), pl.col("ledger_id")).fill_null(""),
            pl.concat_str(pl.lit(" batch="), pl.col("matched_batch")).fill_null(""),
            pl.concat_str(
                pl.lit(" expected="),
                pl.col("expected").cast(pl.String),
                pl.lit(" selisih="),
                pl.col("selisih").cast(pl.String),
            ).fill_null(""),
            pl.concat_str(pl.lit(" agreed="), pl.col("agreed")).fill_null(""),
        ),
        side=pl.col("source"),
    )
    ledger = (
        result.ledger.lazy()
        .filter(~pl.col("status").cast(pl.String).is_in(list(_not_exception("ledger"))))
        .select(
            id=pl.concat_str(pl.lit("ledger:"), pl.col("ledger_id")),
            status=pl.col("status").cast(pl.String),
            amount="net",
            reference=pl.coalesce("sp2d_number", "order_id", "payout_reference"),
            detail=pl.concat_str(
                pl.lit("side=ledger ledger="),
                pl.col("ledger_id"),
                pl.lit(" kind="),
                pl.col("kind"),
                pl.lit(" ledger_status="),
                pl.col("ledger_status"),
                pl.lit(" pass="),
                pl.col("match_pass").cast(pl.String),
                pl.concat_str(
                    pl.lit(" matched="),
                    pl.col("matched_file").str.extract(r"([^/\\]*)$"),
                    pl.lit(":"),
                    pl.col("matched_line_no").cast(pl.String),
                ).fill_null(""),
            ),
            side=pl.lit("ledger"),
        )
    )
    found = (
        pl.concat([statement, ledger], how="vertical")
        .with_columns(
            reference=pl.col("reference")
            .str.replace_all(_CONTROL, " ")
            .str.slice(0, MAX_REFERENCE),
            detail=pl.col("detail").str.replace_all(_CONTROL, " ").str.slice(0, 1_000),
        )
        .collect()
    )
    too_long = found.filter(pl.col("id").str.len_chars() > MAX_ID)
    if too_long.height:
        raise RecordError(
            f"exception id {too_long['id'][0]!r} is longer than {MAX_ID} characters "
            "(ledger ids must be at most 57 characters)"
        )
    twice = found.filter(pl.col("id").is_duplicated())
    if twice.height:
        raise RecordError(f"exception id {twice['id'][0]!r} appears twice (the same file twice?)")
    return found


def build(result: Result | LazyResult, summary: Summary, extra: list[dict[str, Any]]) -> Record:
    """The content of ``RecordReconciliation`` for a finished run."""
    inputs = [*inputs_of(summary), *extra]
    counts = {
        f"{side}.{status}": summary.counts[side][status]
        for side in ("statement", "ledger")
        for status in STATUSES
    }
    exceptions = exceptions_frame(result, summary.inputs).drop("side")
    return Record(
        business_date=summary.period_end.isoformat(),
        inputs=tuple(inputs),
        counts=counts,
        exceptions=tuple(exceptions.to_dicts()),
        inputs_digest=inputs_digest(inputs),
    )
