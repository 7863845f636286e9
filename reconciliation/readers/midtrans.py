"""Midtrans reports: Iris payouts (money out of the RKUD to beneficiaries) and settlements (income
collected by Midtrans, paid into the RKUD in batches, net of Midtrans' fee).

Both are comma-separated with a header line and dot-decimal amounts (``10000.00``):

- payout report: ``reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at``
  (``completed_at`` is ``YYYY-MM-DD HH:MM:SS`` WIB; only ``completed`` payouts are money that moved:
  any other status is refused, export completed payouts only)
- settlement report: ``order_id,batch_id,settlement_time,payment_type,gross_amount,fee,net_amount``
  (``gross_amount - fee = net_amount`` on every row)

The RKUD sees one line per batch: a debit of sum(amount + fee) per payout batch, a credit of
sum(net_amount) per settlement batch, whose remark starts with the ``batch_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from gateways.references import BI_CODES
from reconciliation.amounts import first_bad, parse_amount_column
from reconciliation.errors import StatementError
from reconciliation.readers.common import chunks, collect, lines_of, parse_dates, split_fields
from reconciliation.schema import STATEMENT

PAYOUT_COLUMNS = [
    "reference_no",
    "batch_id",
    "status",
    "beneficiary_bank",
    "beneficiary_account",
    "amount",
    "fee",
    "completed_at",
]
SETTLEMENT_COLUMNS = [
    "order_id",
    "batch_id",
    "settlement_time",
    "payment_type",
    "gross_amount",
    "fee",
    "net_amount",
]


def read_midtrans(path: Path) -> pl.DataFrame:
    return collect(iter_midtrans(path))


def iter_midtrans(path: Path) -> Iterator[pl.DataFrame]:
    """The rows of a report piece by piece (``common.chunks``, cut at line ends); the header of the
    first line says which report it is."""
    where = str(path)
    report: tuple[list[str], Callable[[pl.DataFrame, str], pl.DataFrame]] | None = None
    for chunk in chunks(path, b"\n"):
        lines = lines_of(chunk)
        if lines.height == 0:
            continue
        header = report is None
        if report is None:
            report = _report_of(lines, path)
        raw = split_fields(lines, ",", report[0], where, header=header)
        if raw.height:
            yield report[1](raw, where)
    if report is None:
        raise StatementError(path, 0, "the file is empty")


def _report_of(
    lines: pl.DataFrame, path: Path
) -> tuple[list[str], Callable[[pl.DataFrame, str], pl.DataFrame]]:
    header = str(lines["text"][0]).lower().replace(" ", "")
    if header.startswith("reference_no,"):
        return PAYOUT_COLUMNS, _payouts
    if header.startswith("order_id,"):
        return SETTLEMENT_COLUMNS, _settlements
    raise StatementError(
        path,
        int(lines["line_no"][0]),
        "not a Midtrans payout report (reference_no,...) or settlement report (order_id,...)",
    )


def _required(raw: pl.DataFrame, where: str, *columns: str) -> None:
    for column in columns:
        first_bad(raw, pl.col(column) == "", where, pl.lit(f"{column} is empty"))


def _payouts(raw: pl.DataFrame, where: str) -> pl.DataFrame:
    _required(raw, where, "reference_no", "batch_id", "beneficiary_account")
    first_bad(
        raw,
        pl.col("status").str.to_lowercase() != "completed",
        where,
        pl.format(
            "payout status {} is not completed (only money that moved belongs here)",
            pl.col("status"),
        ),
    )
    amount = parse_amount_column(raw, "amount", "en", where)
    fee = parse_amount_column(raw, "fee", "en", where)
    first_bad(
        raw.with_columns(amount=amount), pl.col("amount") <= 0, where, pl.lit("amount is zero")
    )
    frame = raw.with_columns(
        amount=amount,
        fee=fee,
        value_date=parse_dates(
            raw.with_columns(pl.col("completed_at").str.slice(0, 10)),
            "completed_at",
            "%Y-%m-%d",
            where,
        ),
    )
    out = frame.select(
        source=pl.lit("gateway"),
        file=pl.lit(where),
        line_no="line_no",
        value_date="value_date",
        direction=pl.lit("D"),
        amount="amount",
        fee="fee",
        kind=pl.lit("payout"),
        reference=pl.col("reference_no").str.to_uppercase(),
        remark=pl.format("payout {} {}", pl.col("reference_no"), pl.col("status")),
        counterparty_account="beneficiary_account",
        # Iris names the bank ("bca"); the ledger and the bank statements write the kode bank.
        counterparty_bank=pl.col("beneficiary_bank")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(BI_CODES, default=pl.col("beneficiary_bank")),
        bank_ref="reference_no",
        batch_id=pl.col("batch_id").str.to_uppercase(),
    )
    return out.select(pl.col(n).cast(t) for n, t in STATEMENT.items())


def _settlements(raw: pl.DataFrame, where: str) -> pl.DataFrame:
    _required(raw, where, "order_id", "batch_id")
    gross = parse_amount_column(raw, "gross_amount", "en", where)
    fee = parse_amount_column(raw, "fee", "en", where)
    net = parse_amount_column(raw, "net_amount", "en", where)
    frame = raw.with_columns(gross_amount=gross, fee=fee, net_amount=net)
    first_bad(frame, pl.col("gross_amount") <= 0, where, pl.lit("gross_amount is zero"))
    first_bad(
        frame,
        pl.col("gross_amount") - pl.col("fee") != pl.col("net_amount"),
        where,
        pl.format(
            "gross_amount {} - fee {} is not net_amount {}",
            pl.col("gross_amount"),
            pl.col("fee"),
            pl.col("net_amount"),
        ),
    )
    frame = frame.with_columns(
        value_date=parse_dates(
            raw.with_columns(pl.col("settlement_time").str.slice(0, 10)),
            "settlement_time",
            "%Y-%m-%d",
            where,
        )
    )
    out = frame.select(
        source=pl.lit("gateway"),
        file=pl.lit(where),
        line_no="line_no",
        value_date="value_date",
        direction=pl.lit("C"),
        amount="gross_amount",
        fee="fee",
        kind=pl.lit("settlement"),
        reference=pl.col("order_id").str.to_uppercase(),
        remark=pl.format("{} {}", pl.col("payment_type"), pl.col("order_id")),
        counterparty_account=pl.lit(None, pl.String),
        counterparty_bank=pl.lit(None, pl.String),
        bank_ref="order_id",
        batch_id=pl.col("batch_id").str.to_uppercase(),
    )
    return out.select(pl.col(n).cast(t) for n, t in STATEMENT.items())
