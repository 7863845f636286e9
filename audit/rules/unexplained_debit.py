"""``unexplained_debit``: money left the RKUD with no SP2D behind it.

A recorded reconciliation run lists every statement line it could not match; a debit among them
(``unmatched_bank``, direction D) is money out of the treasury's account that no SP2D in kasda
ordered: the worst difference a reconciliation finds. One flag per statement line, high while
the exception is open; once BPKAD resolved it with a reason it stays listed as low (when
``include_resolved``), so that an inspector can check the reason against its documents.

The subject is the statement line (kind ``line``, id ``<business date>/<file>:<line>``): no
payment, vendor or SKPD stands behind the money, which is the finding.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah
from audit.rules.runs import include_resolved, latest, run_evidence
from audit.thresholds import Thresholds

CODE = "unexplained_debit"


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    debits = latest(frames, "unmatched_bank", include_resolved(thresholds, CODE))
    return debits.filter(pl.col("direction") == "D").select(
        pl.when(pl.col("resolved")).then(pl.lit("low")).otherwise(pl.lit("high")).alias("severity"),
        pl.lit("line").alias("subject_kind"),
        pl.concat_str(
            pl.col("business_date").dt.to_string("%Y-%m-%d"), pl.lit("/"), "exception_id"
        ).alias("subject_id"),
        "amount",
        pl.col("business_date").alias("period_start"),
        pl.col("business_date").alias("period_end"),
        pl.lit([], dtype=pl.List(pl.String)).alias("disbursement_ids"),
        pl.lit([], dtype=pl.List(pl.String)).alias("vendor_ids"),
        pl.concat_list(run_evidence()).alias("evidence"),
        "exception_id",
        "reference",
        "resolution",
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    ref = row["reference"]
    ref_id, ref_en = (f", referensi {ref}", f", reference {ref}") if ref else ("", "")
    if row["resolution"]:
        state_id = f"diselesaikan BPKAD sebagai {row['resolution']}: periksa dokumennya"
        state_en = f"resolved by BPKAD as {row['resolution']}: check its documents"
    else:
        state_id, state_en = "belum diselesaikan", "still open"
    day = row["period_start"]
    return (
        f"{rupiah(row['amount'])} keluar dari RKUD pada {hari(day)} tanpa SP2D di kasda "
        f"(baris rekening koran {row['exception_id']}{ref_id}); {state_id}.",
        f"{rupiah(row['amount'])} left the RKUD on {day_en(day)} with no SP2D in kasda "
        f"(statement line {row['exception_id']}{ref_en}); {state_en}.",
    )


RULE = Rule(CODE, "Debit tanpa SP2D", "Debit with no SP2D", find, explain)
