"""``fast_track``: an SPP that became an SP2D in less time than three human checks take.

Between the SPP (Requested) and the SP2D (Authorised) the PPK-SKPD verifies the documents, the
PA/KPA signs the SPM and the Kuasa BUD at BPKAD checks them again before issuing the SP2D; each
has up to two working days (see docs/red-flags.md). A payment through all three in less than
``max_minutes`` was not checked as the rules mean it to be, or was pushed through for someone:
one flag per payment, medium, high under ``high_minutes``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah, step_evidence
from audit.thresholds import Thresholds

CODE = "fast_track"
_STEPS = ("Requested", "Verified", "Approved", "Authorised")


def _minutes(minutes: int) -> tuple[str, str]:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} menit", f"{rest} minutes"
    if not rest:
        return f"{hours} jam", f"{hours} hours"
    return f"{hours} jam {rest} menit", f"{hours} h {rest} min"


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    limit = thresholds.int(CODE, "max_minutes")
    high = thresholds.int(CODE, "high_minutes")
    took = (pl.col("authorised_at") - pl.col("requested_at")).dt.total_minutes()
    fast = (
        frames.payments.filter(
            pl.col("requested_at").is_not_null() & pl.col("authorised_at").is_not_null()
        )
        .with_columns(took.alias("minutes"))
        .filter(pl.col("minutes") < limit)
    )
    # The steps of the fast payments only: grouping every step of the history is the slow part.
    theirs = frames.steps.join(fast.select("disbursement_id"), on="disbursement_id", how="semi")
    return fast.join(
        step_evidence(replace(frames, steps=theirs), *_STEPS), on="disbursement_id", how="left"
    ).select(
        pl.when(pl.col("minutes") < high)
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium"))
        .alias("severity"),
        pl.lit("disbursement").alias("subject_kind"),
        pl.col("disbursement_id").alias("subject_id"),
        pl.col("gross").alias("amount"),
        frames.day("requested_at").alias("period_start"),
        frames.day("authorised_at").alias("period_end"),
        pl.concat_list("disbursement_id").alias("disbursement_ids"),
        pl.concat_list("vendor_id").alias("vendor_ids"),
        "evidence",
        "spp_number",
        "sp2d_number",
        "minutes",
        pl.lit(limit).alias("limit"),
        frames.local("requested_at").alias("requested_local"),
        frames.local("authorised_at").alias("authorised_local"),
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    took_id, took_en = _minutes(int(row["minutes"]))
    limit_id, limit_en = _minutes(int(row["limit"]))
    asked, issued = row["requested_local"], row["authorised_local"]
    return (
        f"SPP {row['spp_number']} sebesar {rupiah(row['amount'])} diajukan "
        f"{hari(asked.date())} pukul {asked:%H:%M} dan SP2D {row['sp2d_number']} terbit "
        f"{took_id} kemudian (pukul {issued:%H:%M}), di bawah batas {limit_id} untuk verifikasi "
        "PPK, SPM dan SP2D.",
        f"SPP {row['spp_number']} of {rupiah(row['amount'])} was requested on "
        f"{day_en(asked.date())} at {asked:%H:%M} and SP2D {row['sp2d_number']} was issued "
        f"{took_en} later (at {issued:%H:%M}), under the {limit_en} that verification, the SPM "
        "and the SP2D take.",
    )


RULE = Rule(CODE, "SP2D kilat", "Fast-tracked SP2D", find, explain)
