"""``duplicate_payment``: one vendor paid twice for one thing.

Two SP2D to the same vendor with the same invoice (faktur) number, on any lines and at any time
of the history read, are one flag of high severity: an invoice is paid once. Two SP2D to the same
vendor for the same gross within ``window_days`` of each other (and not already named by their
invoice) are one flag of medium severity: a second payment of a bill, or a monthly fee paid on
time; the inspector tells them apart from the documents.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah, with_payment_evidence
from audit.thresholds import Thresholds

CODE = "duplicate_payment"


def _paid(frames: Frames) -> pl.LazyFrame:
    return frames.payments.filter(
        pl.col("authorised_at").is_not_null() & (pl.col("status") != "cancelled")
    )


def _paid_on(frames: Frames) -> pl.Expr:
    return frames.day("authorised_at").alias("paid_on")


def _flag_columns(severity: str, basis: str) -> list[pl.Expr]:
    return [
        pl.lit(severity).alias("severity"),
        pl.lit("vendor").alias("subject_kind"),
        pl.col("vendor_id").alias("subject_id"),
        pl.lit(basis).alias("basis"),
    ]


def _repeated(*keys: str) -> pl.Expr:
    """Rows whose keys another row shares: a hash over the history, so that the grouping and
    windows below see the few candidates, not a million groups of one."""
    return pl.struct(*keys).is_duplicated()


def _same_invoice(paid: pl.LazyFrame, paid_on: pl.Expr) -> pl.LazyFrame:
    return (
        paid.filter(pl.col("invoice").is_not_null())
        .filter(_repeated("vendor_id", "invoice"))
        .with_columns(paid_on)
        .group_by("vendor_id", "invoice")
        .agg(
            pl.col("disbursement_id").alias("disbursement_ids"),
            pl.col("spp_number").sort().alias("spp_numbers"),
            pl.col("gross").sum().alias("total"),
            # What was paid beyond the first payment is what is at risk.
            (pl.col("gross").sum() - pl.col("gross").sort_by("paid_on").first()).alias("amount"),
            pl.col("paid_on").min().alias("period_start"),
            pl.col("paid_on").max().alias("period_end"),
            pl.len().alias("times"),
        )
        .filter(pl.col("times") >= 2)
        .with_columns(*_flag_columns("high", "invoice"), pl.col("invoice").alias("key"))
    )


def _same_gross(
    paid: pl.LazyFrame, paid_on: pl.Expr, window_days: int, invoices: pl.LazyFrame
) -> pl.LazyFrame:
    named = invoices.select(pl.col("disbursement_ids").explode().alias("disbursement_id"))
    ordered = (
        paid.join(named, on="disbursement_id", how="anti")
        .filter(_repeated("vendor_id", "gross"))
        .with_columns(paid_on)
        .sort("vendor_id", "gross", "authorised_at")
    )
    group = ["vendor_id", "gross"]
    pairs = ordered.with_columns(
        pl.col("disbursement_id").shift(1).over(group).alias("earlier_id"),
        pl.col("spp_number").shift(1).over(group).alias("earlier_spp"),
        pl.col("paid_on").shift(1).over(group).alias("earlier_on"),
    ).filter(
        pl.col("earlier_id").is_not_null()
        & ((pl.col("paid_on") - pl.col("earlier_on")).dt.total_days() <= window_days)
    )
    return pairs.select(
        "vendor_id",
        pl.concat_list("earlier_id", "disbursement_id").alias("disbursement_ids"),
        pl.concat_list("earlier_spp", "spp_number").alias("spp_numbers"),
        (pl.col("gross") * 2).alias("total"),
        pl.col("gross").alias("amount"),
        pl.col("earlier_on").alias("period_start"),
        pl.col("paid_on").alias("period_end"),
        pl.lit(2, dtype=pl.UInt32).alias("times"),
        *_flag_columns("medium", "gross"),
        pl.col("gross").cast(pl.String).alias("key"),
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    paid, paid_on = _paid(frames), _paid_on(frames)
    invoices = _same_invoice(paid, paid_on)
    found = pl.concat(
        [
            invoices.drop("invoice"),
            _same_gross(paid, paid_on, thresholds.int(CODE, "window_days"), invoices),
        ],
        how="diagonal_relaxed",
    )
    return with_payment_evidence(found, frames, "Requested", "Authorised").with_columns(
        pl.concat_list("vendor_id").alias("vendor_ids"),
        pl.col("amount").cast(pl.Int64),
        pl.col("total").cast(pl.Int64),
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    spp = ", ".join(row["spp_numbers"])
    if row["basis"] == "invoice":
        return (
            f"Faktur {row['key']} dibayar {row['times']} kali kepada penyedia yang sama ({spp}), "
            f"seluruhnya {rupiah(row['total'])} antara {hari(row['period_start'])} dan "
            f"{hari(row['period_end'])}; {rupiah(row['amount'])} melebihi pembayaran pertama.",
            f"Invoice {row['key']} was paid {row['times']} times to the same vendor ({spp}), "
            f"{rupiah(row['total'])} in all between {day_en(row['period_start'])} and "
            f"{day_en(row['period_end'])}; {rupiah(row['amount'])} beyond the first payment.",
        )
    days = (row["period_end"] - row["period_start"]).days
    return (
        f"Penyedia yang sama menerima dua SP2D sebesar {rupiah(row['amount'])} dalam {days} hari "
        f"({spp}, {hari(row['period_start'])} dan {hari(row['period_end'])}).",
        f"The same vendor received two SP2D of {rupiah(row['amount'])} within {days} days "
        f"({spp}, {day_en(row['period_start'])} and {day_en(row['period_end'])}).",
    )


RULE = Rule(CODE, "Pembayaran ganda", "Duplicate payment", find, explain)
