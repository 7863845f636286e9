"""``kkpd_without_spj``: a KKPD card purchase that no SPJ entry accounted for in time.

A recorded KKPD reconciliation run (``kasda reconcile-kkpd``) marks a purchase on the card
statement ``kkpd_no_spj`` once it is older than ``[kkpd] no_spj_days`` with no SPJ entry of the
bendahara behind it: public money spent by card that nobody has yet answered for with evidence and
a budget line. One flag per statement line, medium while open (high when it is twice as late), low
once resolved (when ``include_resolved``), as the latest run that lists the line has it.

The subject is the statement line (kind ``line``, id ``<transaction day>/<file>:<line>``); the card,
merchant and days without SPJ come from the exception's recorded detail.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah
from audit.rules.runs import include_resolved, run_evidence
from audit.thresholds import Thresholds

CODE = "kkpd_without_spj"


def _lines(frames: Frames, include_resolved: bool) -> pl.LazyFrame:
    """The ``kkpd_no_spj`` exceptions, one row per statement line as the latest run has it. A
    monthly statement is reconciled again as its purchases age: its line is known by its
    exception id (``<file>:<line>``) and its transaction day, not by the run's business date."""
    detail = pl.col("detail").fill_null("")
    found = (
        frames.exceptions.filter(pl.col("status") == "kkpd_no_spj")
        .with_columns(
            card=detail.str.extract(r"\bcard=(\S+)"),
            merchant=detail.str.extract(r"\bmerchant=(.*)$"),
            transacted=detail.str.extract(r"\btransacted=(\S+)").str.to_date(strict=False),
            days=detail.str.extract(r"\bdays=(\d+)").cast(pl.Int64),
        )
        .sort("position")
        .group_by("exception_id", "transacted")
        .last()
        .with_columns(pl.col("resolution").is_not_null().alias("resolved"))
    )
    return found if include_resolved else found.filter(~pl.col("resolved"))


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    late = thresholds.int("kkpd", "no_spj_days")
    return _lines(frames, include_resolved(thresholds, CODE)).select(
        pl.when(pl.col("resolved"))
        .then(pl.lit("low"))
        .when(pl.col("days") > 2 * late)
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium"))
        .alias("severity"),
        pl.lit("line").alias("subject_kind"),
        pl.concat_str(
            pl.col("transacted").dt.to_string("%Y-%m-%d").fill_null("-"),
            pl.lit("/"),
            "exception_id",
        ).alias("subject_id"),
        "amount",
        pl.coalesce("transacted", "business_date").alias("period_start"),
        pl.col("business_date").alias("period_end"),
        pl.lit([], dtype=pl.List(pl.String)).alias("disbursement_ids"),
        pl.lit([], dtype=pl.List(pl.String)).alias("vendor_ids"),
        pl.concat_list(run_evidence()).alias("evidence"),
        "exception_id",
        "card",
        "merchant",
        "days",
        "resolution",
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    if row["resolution"]:
        state_id = f"diselesaikan sebagai {row['resolution']}: periksa dokumennya"
        state_en = f"resolved as {row['resolution']}: check its documents"
    else:
        state_id, state_en = "belum diselesaikan", "still open"
    merchant = row["merchant"] or "-"
    days = row["days"] if row["days"] is not None else "?"
    day = row["period_start"]
    return (
        f"Transaksi KKPD {rupiah(row['amount'])} di {merchant} dengan kartu {row['card']} pada "
        f"{hari(day)} belum ada SPJ-nya setelah {days} hari (baris tagihan "
        f"{row['exception_id']}); {state_id}.",
        f"KKPD card purchase of {rupiah(row['amount'])} at {merchant} on card {row['card']} on "
        f"{day_en(day)} has no SPJ entry after {days} days (statement line "
        f"{row['exception_id']}); {state_en}.",
    )


RULE = Rule(CODE, "Transaksi KKPD tanpa SPJ", "KKPD purchase with no SPJ", find, explain)
