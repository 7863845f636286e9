"""``below_threshold``: an SKPD's SPP heaped just under the direct-procurement limit.

A statistical indicator, not an accusation. Amounts of honest purchases spread smoothly: two
equally wide bands of amounts next to each other hold about as many SPP (fewer in the upper one,
if anything, since large purchases are rarer). Prices set to stay under the limit of
``[procurement]`` heap in the band just under it. Per SKPD and budget year, among its live SPP
(requested, not rejected or cancelled), the rule counts those in the band from
``100 - band_percent`` % of their limit up to (not including) the limit, and those in the equally
wide band below it; it flags the SKPD when the band holds at least ``min_count`` SPP and at least
``min_ratio`` times as many as the band below (as many as ``min_count`` against none, too).

Severity is a score: medium when both figures reach twice their minimum, low otherwise.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules import procurement
from audit.rules.common import day_en, hari, rupiah, with_payment_evidence
from audit.thresholds import Thresholds

CODE = "below_threshold"
_SHOWN_SPP = 6


def _bands(thresholds: Thresholds) -> tuple[pl.Expr, pl.Expr]:
    """(in the band just under the limit, in the equally wide band below it)."""
    width = thresholds.number(CODE, "band_percent") / 100
    share = pl.col("gross").cast(pl.Float64) / pl.col("limit").cast(pl.Float64)
    in_band = (share >= 1 - width) & (pl.col("gross") < pl.col("limit"))
    below = (share >= 1 - 2 * width) & (share < 1 - width)
    return in_band, below


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    in_band, below = _bands(thresholds)
    min_count = thresholds.int(CODE, "min_count")
    min_ratio = thresholds.number(CODE, "min_ratio")
    live = procurement.is_live()
    counted = (
        # Masks, not a filter: filtering would move every string of a million rows.
        frames.payments.with_columns(procurement.limit(thresholds))
        .with_columns(
            live.alias("live"), (live & in_band).alias("in_band"), (live & below).alias("below")
        )
        .group_by("skpd", "year")
        .agg(
            pl.col("live").sum().cast(pl.Int64).alias("spp"),
            pl.col("in_band").sum().cast(pl.Int64).alias("in_band_count"),
            pl.col("below").sum().cast(pl.Int64).alias("below_count"),
            # Everything else only for the SPP in the band: the candidates are few.
            pl.col("gross").filter(pl.col("in_band")).sum().alias("amount"),
            pl.col("disbursement_id").filter(pl.col("in_band")).alias("disbursement_ids"),
            pl.col("spp_number").filter(pl.col("in_band")).sort().alias("spp_numbers"),
            pl.col("vendor_id").filter(pl.col("in_band")).unique().sort().alias("vendor_ids"),
            pl.col("limit").filter(pl.col("in_band")).unique().sort().alias("limits"),
            frames.day(pl.col("requested_at").filter(pl.col("in_band")).min()).alias(
                "period_start"
            ),
            frames.day(pl.col("requested_at").filter(pl.col("in_band")).max()).alias("period_end"),
        )
    )
    ratio = pl.col("in_band_count") / pl.max_horizontal(pl.col("below_count"), pl.lit(1))
    flagged = counted.with_columns(ratio.alias("ratio")).filter(
        (pl.col("in_band_count") >= min_count) & (pl.col("ratio") >= min_ratio)
    )
    strong = (pl.col("in_band_count") >= 2 * min_count) & (pl.col("ratio") >= 2 * min_ratio)
    found = flagged.with_columns(
        pl.when(strong).then(pl.lit("medium")).otherwise(pl.lit("low")).alias("severity"),
        pl.lit("skpd").alias("subject_kind"),
        pl.col("skpd").alias("subject_id"),
        pl.col("year").cast(pl.String).alias("finding_key"),  # one finding per SKPD and year
        pl.col("amount").cast(pl.Int64),
        pl.col("spp").cast(pl.Int64),
        pl.lit(thresholds.number(CODE, "band_percent")).alias("band_percent"),
    )
    return with_payment_evidence(found, frames, "Requested", "Authorised")


def _spp(numbers: list[str]) -> tuple[str, str]:
    shown = ", ".join(numbers[:_SHOWN_SPP])
    more = len(numbers) - _SHOWN_SPP
    if more <= 0:
        return shown, shown
    return f"{shown} dan {more} lainnya", f"{shown} and {more} more"


def _percent(value: float) -> str:
    return f"{value:g}"


def explain(row: dict[str, Any]) -> tuple[str, str]:
    n, below, spp = row["in_band_count"], row["below_count"], row["spp"]
    share = 100 * n / spp
    share_id = f"{share:.1f}".replace(".", ",")
    low_edge = _percent(100 - row["band_percent"])
    below_edge = _percent(100 - 2 * row["band_percent"])
    limits = " / ".join(rupiah(v) for v in row["limits"])
    spp_id, spp_en = _spp(row["spp_numbers"])
    start, end = row["period_start"], row["period_end"]
    return (
        f"Skor indikasi (bukan tuduhan): {n} dari {spp} SPP SKPD {row['skpd']} tahun "
        f"{row['year']} ({share_id}%) bernilai {low_edge}% sampai di bawah 100% batas pengadaan langsung "
        f"({limits}), seluruhnya {rupiah(row['amount'])} antara {hari(start)} dan {hari(end)} "
        f"({spp_id}), sedangkan pada pita {below_edge}-{low_edge}% hanya {below}.",
        f"An indicator score, not an accusation: {n} of {spp} SPP of SKPD {row['skpd']} in "
        f"{row['year']} ({share:.1f}%) are at {low_edge} to under 100% of the direct-procurement "
        f"limit ({limits}), {rupiah(row['amount'])} in all between {day_en(start)} and "
        f"{day_en(end)} ({spp_en}), against {below} in the {below_edge}-{low_edge}% band.",
    )


RULE = Rule(CODE, "Nilai di bawah batas", "Just below the threshold", find, explain)
