"""``new_vendor_paid``: a vendor registered shortly before its first large payment.

A firm set up (or registered) for one contract and paid a large sum at once is the pattern of a
shell company or a pre-arranged award. The rule takes each vendor's first large SP2D (gross of
at least ``large_amount``, not cancelled) and flags the vendor when that SP2D came within
``window_days`` of its registration. It is the first *large* SP2D, not the first SP2D: a small
payment first does not hide the large one after it. Medium severity: new vendors are honest
often enough, the inspector checks the firm.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import EVIDENCE_TYPE, Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah, with_payment_evidence
from audit.thresholds import Thresholds

CODE = "new_vendor_paid"


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    window = pl.duration(days=thresholds.int(CODE, "window_days"))
    large = (
        pl.col("authorised_at").is_not_null()
        & (pl.col("status") != "cancelled")
        & (pl.col("gross") >= thresholds.int(CODE, "large_amount"))
    )
    # Numbers first (a vendor, a moment, a row): the strings are read for the few found.
    first_large = (
        frames.payments.with_row_index("row")
        .select("row", "vendor_id", "gross", "authorised_at", large.alias("large"))
        .filter("large")
        .group_by("vendor_id")
        .agg(pl.col("row", "gross", "authorised_at").sort_by("authorised_at").first())
    )
    documents = frames.payments.with_row_index("row").select(
        "row", "disbursement_id", "spp_number", "sp2d_number"
    )
    registered = frames.vendors.select(
        "vendor_id",
        "registered_at",
        pl.struct(pl.col("vendor_id").alias("aggregate_id"), "version", "position")
        .cast(EVIDENCE_TYPE)
        .alias("registration"),
    )
    hits = (
        first_large.join(registered, on="vendor_id")
        # A payment can only follow its vendor's registration in the ledger; a history that says
        # otherwise (an import) is not this pattern, and must not word a negative wait.
        .filter(
            (pl.col("authorised_at") >= pl.col("registered_at"))
            & (pl.col("authorised_at") - pl.col("registered_at") <= window)
        )
        .join(documents, on="row")
    )
    named = hits.with_columns(pl.concat_list("disbursement_id").alias("disbursement_ids"))
    found = with_payment_evidence(named, frames, "Requested", "Authorised")
    return found.select(
        pl.lit("medium").alias("severity"),
        pl.lit("vendor").alias("subject_kind"),
        pl.col("vendor_id").alias("subject_id"),
        pl.col("gross").cast(pl.Int64).alias("amount"),
        frames.day("registered_at").alias("period_start"),
        frames.day("authorised_at").alias("period_end"),
        "disbursement_ids",
        pl.concat_list("vendor_id").alias("vendor_ids"),
        pl.concat_list("registration", "evidence").alias("evidence"),
        "spp_number",
        "sp2d_number",
        (frames.day("authorised_at") - frames.day("registered_at")).dt.total_days().alias("days"),
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    days, document = row["days"], row["sp2d_number"] or row["spp_number"]
    start, end = row["period_start"], row["period_end"]
    return (
        f"Penyedia terdaftar pada {hari(start)} dan {days} hari kemudian, {hari(end)}, menerima "
        f"SP2D besar pertamanya ({document}) sebesar {rupiah(row['amount'])}.",
        f"The vendor was registered on {day_en(start)} and {days} day{'s' if days != 1 else ''} "
        f"later, on {day_en(end)}, received its first large SP2D ({document}) of "
        f"{rupiah(row['amount'])}.",
    )


RULE = Rule(CODE, "Penyedia baru dibayar besar", "New vendor paid", find, explain)
