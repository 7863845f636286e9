"""``benford_deviation``: an SKPD's amounts whose first digits stray from Benford's law.

A statistical indicator, never an accusation. Amounts that arise from many prices, quantities and
taxes start with 1 about 30.1% of the time and with 9 about 4.6% (Benford: ``log10(1 + 1/d)``);
invented amounts, or amounts pushed under a limit, tend not to. Per fiscal year and SKPD, over
the gross of its SP2D (issued, not cancelled; amounts under 10 left out, as Nigrini does), the
score is the Mean Absolute Deviation of the first-digit proportions from Benford's,
``MAD = sum(|observed_d - expected_d|) / 9``, read against Nigrini's ranges for first digits.

Nigrini's ranges hold for large sets: pure chance gives a Benford set of ``n`` amounts a MAD of
about ``CHANCE / sqrt(n)`` (0.0135 at 300 amounts, a third of honest sets of 300 past 0.015). So
a set is flagged only with at least ``min_count`` amounts and a MAD of at least ``chance_factor``
times what chance gives at its size, as well as past Nigrini's bound: nonconformity (medium), or
marginal conformity (low) where the pemda asks for it (``flag_marginal``).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah
from audit.rules.spending import desimal, named, percent, persen, realised
from audit.thresholds import Thresholds

CODE = "benford_deviation"
_KEYS = ["year", "skpd"]
DIGITS = range(1, 10)
BENFORD = {d: math.log10(1 + 1 / d) for d in DIGITS}
# E|observed_d - expected_d| ~ sqrt(2 p(1-p) / (pi n)) for a Benford set of n: the MAD chance
# alone gives is CHANCE / sqrt(n).
CHANCE = sum(math.sqrt(2 * p * (1 - p) / math.pi) for p in BENFORD.values()) / 9


def first_digit() -> pl.Expr:
    return pl.col("gross").cast(pl.String).str.head(1).cast(pl.Int8)


def conformity(paid: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Per ``keys``, the amounts counted (``count``), the proportion of each first digit
    (``observed`` and ``expected``, lists of nine), the ``mad`` and the digit most in excess."""
    digit = first_digit()
    counted = (
        paid.filter(pl.col("gross") >= 10)
        .group_by(keys)
        .agg(pl.len().alias("count"), *((digit == d).sum().alias(f"d{d}") for d in DIGITS))
    )
    observed = [pl.col(f"d{d}") / pl.col("count") for d in DIGITS]
    excess = [observed[d - 1] - BENFORD[d] for d in DIGITS]
    return counted.select(
        *keys,
        "count",
        pl.concat_list(observed).alias("observed"),
        (pl.sum_horizontal(e.abs() for e in excess) / 9).alias("mad"),
        (pl.concat_list(excess).list.arg_max() + 1).cast(pl.Int8).alias("digit"),
    ).with_columns(
        pl.col("observed").list.get(pl.col("digit").cast(pl.Int64) - 1).alias("digit_share"),
        pl.col("digit")
        .replace_strict(dict(BENFORD), return_dtype=pl.Float64)
        .alias("digit_expected"),
    )


def _flag_marginal(thresholds: Thresholds) -> bool:
    value = thresholds[CODE]["flag_marginal"]
    assert isinstance(value, bool), value
    return value


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    nonconforming = thresholds.number(CODE, "nonconformity_mad")
    marginal = thresholds.number(CODE, "marginal_mad")
    lowest = marginal if _flag_marginal(thresholds) else nonconforming
    chance = pl.lit(CHANCE) / pl.col("count").cast(pl.Float64).sqrt()
    paid = realised(frames).filter(pl.col("gross") >= 10).with_columns(first_digit().alias("digit"))
    found = (
        conformity(paid, _KEYS)
        .with_columns(chance.alias("chance_mad"))
        .filter(
            (pl.col("count") >= thresholds.int(CODE, "min_count"))
            & (pl.col("mad") > lowest)
            & (pl.col("mad") >= pl.col("chance_mad") * thresholds.number(CODE, "chance_factor"))
        )
        .with_columns(
            pl.when(pl.col("mad") > nonconforming)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
            .alias("severity"),
            pl.lit("skpd").alias("subject_kind"),
            pl.col("skpd").alias("subject_id"),
            pl.col("year").cast(pl.String).alias("finding_key"),  # one finding per SKPD and year
            pl.lit(nonconforming).alias("nonconformity_mad"),
            pl.lit(marginal).alias("marginal_mad"),
        )
    ).cache()
    # The flag names the payments of the digit most in excess: where an inspector starts.
    of_digit = paid.join(found.select(*_KEYS, "digit"), on=[*_KEYS, "digit"], how="semi")
    totals = of_digit.group_by(_KEYS).agg(
        pl.col("gross").sum().cast(pl.Int64).alias("amount"),
        pl.len().alias("digit_payments"),
        pl.col("paid_on").min().alias("period_start"),
        pl.col("paid_on").max().alias("period_end"),
    )
    return found.join(totals, on=_KEYS).join(named(frames, found, of_digit, _KEYS), on=_KEYS)


def _range(row: dict[str, Any]) -> tuple[str, str]:
    if row["mad"] > row["nonconformity_mad"]:
        bound = row["nonconformity_mad"]
        return f"tidak sesuai (di atas {desimal(bound, 3)})", f"nonconformity (above {bound:.3f})"
    bound = row["marginal_mad"]
    return (
        f"kesesuaian marginal (di atas {desimal(bound, 3)})",
        f"marginal conformity (above {bound:.3f})",
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    range_id, range_en = _range(row)
    digit = row["digit"]
    return (
        f"Indikator statistik, bukan tuduhan: digit pertama {row['count']} jumlah bruto SP2D "
        f"SKPD {row['skpd']} tahun {row['year']} menyimpang dari hukum Benford, MAD "
        f"{desimal(row['mad'], 4)}: {range_id} menurut rentang Nigrini, dan "
        f"{desimal(row['mad'] / row['chance_mad'], 1)} kali MAD yang wajar karena kebetulan "
        f"({desimal(row['chance_mad'], 4)}); digit {digit} muncul {persen(row['digit_share'])} "
        f"(harapan {persen(row['digit_expected'])}) pada {row['digit_payments']} SP2D senilai "
        f"{rupiah(row['amount'])} ({hari(row['period_start'])} s.d. {hari(row['period_end'])}).",
        f"Statistical indicator, not an accusation: the first digits of {row['count']} SP2D gross "
        f"amounts of SKPD {row['skpd']} in {row['year']} stray from Benford's law, MAD "
        f"{row['mad']:.4f}: {range_en} by Nigrini's ranges, and "
        f"{row['mad'] / row['chance_mad']:.1f} times the MAD chance gives "
        f"({row['chance_mad']:.4f}); digit {digit} leads {percent(row['digit_share'])} "
        f"(expected {percent(row['digit_expected'])}) in {row['digit_payments']} SP2D of "
        f"{rupiah(row['amount'])} ({day_en(row['period_start'])} to {day_en(row['period_end'])}).",
    )


RULE = Rule(CODE, "Penyimpangan hukum Benford", "Benford deviation", find, explain)
