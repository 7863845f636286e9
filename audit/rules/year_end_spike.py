"""``year_end_spike``: an SKPD realises in December far more than its own months before.

Per fiscal year and SKPD, the spending realised each month (SP2D issued and not cancelled, by
the SP2D's day on the pemda's calendar). The pattern is the median of the eleven totals of
January to November, a month without an SP2D counting as nothing: one large contract in August
does not raise it, as a mean would. The SKPD is flagged when December is at least ``ratio`` times
that median (any December beside a median of nothing) and at least ``min_share_percent`` of the
year, in a year of at least ``min_total``. At risk: December beyond the pattern (December's total
less the median month). The payments of 28 to 31 December, the last days to spend a year's
budget, are counted in the wording.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah
from audit.rules.spending import kali, named, percent, persen, realised, times
from audit.thresholds import Thresholds

CODE = "year_end_spike"
_KEYS = ["year", "skpd"]
_LAST_DAYS = 28  # from 28 December: the year's last days to spend its budget


def _months(paid: pl.LazyFrame) -> pl.LazyFrame:
    """Per year and SKPD, the median of its January-November monthly totals (zero for a month
    without an SP2D)."""
    monthly = paid.group_by(*_KEYS, "month").agg(pl.col("gross").sum().alias("month_total"))
    grid = (
        paid.select(_KEYS)
        .unique()
        .join(pl.LazyFrame({"month": list(range(1, 12))}, schema={"month": pl.Int8}), how="cross")
    )
    return (
        grid.join(monthly, on=[*_KEYS, "month"], how="left")
        .group_by(_KEYS)
        .agg(pl.col("month_total").fill_null(0).median().alias("median_month"))
    )


def _december(paid: pl.LazyFrame) -> pl.LazyFrame:
    december = pl.col("month") == 12
    late = december & (pl.col("paid_on").dt.day() >= _LAST_DAYS)
    return paid.group_by(_KEYS).agg(
        pl.col("gross").sum().alias("year_total"),
        pl.col("gross").filter(december).sum().alias("december"),
        december.sum().alias("december_payments"),
        pl.col("gross").filter(late).sum().alias("late_total"),
        late.sum().alias("late_payments"),
        pl.col("paid_on").filter(december).min().alias("period_start"),
        pl.col("paid_on").filter(december).max().alias("period_end"),
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    paid = (
        realised(frames)
        .filter(pl.col("paid_on").dt.year() == pl.col("year"))
        .with_columns(pl.col("paid_on").dt.month().cast(pl.Int8).alias("month"))
    )
    median = pl.col("median_month")
    ratio = pl.when(median > 0).then(pl.col("december") / median).otherwise(float("inf"))
    found = (
        _december(paid)
        .filter(pl.col("december_payments") > 0)
        .join(_months(paid), on=_KEYS)
        .with_columns(
            ratio.alias("ratio"), (pl.col("december") / pl.col("year_total")).alias("share")
        )
        .filter(
            (pl.col("ratio") >= thresholds.number(CODE, "ratio"))
            & (pl.col("share") >= thresholds.number(CODE, "min_share_percent") / 100)
            & (pl.col("year_total") >= thresholds.int(CODE, "min_total"))
        )
        .with_columns(
            pl.when(pl.col("ratio") >= thresholds.number(CODE, "high_ratio"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.lit("skpd").alias("subject_kind"),
            pl.col("skpd").alias("subject_id"),
            pl.col("year").cast(pl.String).alias("finding_key"),  # one finding per SKPD and year
            (pl.col("december") - median.round().cast(pl.Int64)).cast(pl.Int64).alias("amount"),
            median.round().cast(pl.Int64).alias("median_month"),
            pl.col("december", "year_total", "late_total").cast(pl.Int64),
        )
    ).cache()
    in_december = paid.filter(pl.col("month") == 12)
    return found.join(named(frames, found, in_december, _KEYS), on=_KEYS)


def _late(row: dict[str, Any]) -> tuple[str, str]:
    if not row["late_payments"]:
        return "tidak ada SP2D bertanggal 28-31 Desember", "none is dated 28-31 December"
    return (
        f"{row['late_payments']} SP2D senilai {rupiah(row['late_total'])} bertanggal "
        "28-31 Desember",
        f"{row['late_payments']} SP2D of {rupiah(row['late_total'])} are dated 28-31 December",
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    ratio = float(row["ratio"])
    if math.isinf(ratio):
        pattern_id = "padahal median bulanan Januari-November nihil"
        pattern_en = "while its January-November median month is nil"
    else:
        median = rupiah(row["median_month"])
        pattern_id = f"{kali(ratio)} median bulanan Januari-November ({median})"
        pattern_en = f"{times(ratio)} its January-November median month ({median})"
    late_id, late_en = _late(row)
    return (
        f"SKPD {row['skpd']} merealisasikan {rupiah(row['december'])} pada Desember "
        f"{row['year']} ({row['december_payments']} SP2D, {persen(row['share'])} dari "
        f"{rupiah(row['year_total'])} setahun), {pattern_id}; {late_id} "
        f"({hari(row['period_start'])} s.d. {hari(row['period_end'])}).",
        f"SKPD {row['skpd']} realised {rupiah(row['december'])} in December {row['year']} "
        f"({row['december_payments']} SP2D, {percent(row['share'])} of "
        f"{rupiah(row['year_total'])} in the year), {pattern_en}; {late_en} "
        f"({day_en(row['period_start'])} to {day_en(row['period_end'])}).",
    )


RULE = Rule(CODE, "Lonjakan akhir tahun", "Year-end spike", find, explain)
