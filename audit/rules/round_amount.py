"""``round_amount``: an SKPD whose payments are round far more often than payments are.

A statistical indicator, never an accusation: real prices carry taxes, unit counts and odd
figures, so an invented or estimated bill tends to be round. Per fiscal year and SKPD, the share
of its SP2D (issued, not cancelled) whose gross is a multiple of ``unit`` is compared with the
share expected of honest payments (``expected_percent``); the score is the binomial z-score
``(k - n*p) / sqrt(n*p*(1-p))`` of ``k`` round payments among ``n`` at expected share ``p``. The
SKPD is flagged (low) when the share reaches ``share_percent`` over at least ``min_payments``
payments, medium from ``medium_share_percent``. The flag names the round payments; at risk: their
total.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah
from audit.rules.spending import desimal, named, percent, persen, realised
from audit.thresholds import Thresholds

CODE = "round_amount"
_KEYS = ["year", "skpd"]


def _scores(paid: pl.LazyFrame, unit: int, expected: float) -> pl.LazyFrame:
    is_round = pl.col("gross") % unit == 0
    n, k = pl.col("payments"), pl.col("round_payments")
    return (
        paid.group_by(_KEYS)
        .agg(
            pl.len().alias("payments"),
            is_round.sum().alias("round_payments"),
            pl.col("gross").filter(is_round).sum().alias("amount"),
            pl.col("paid_on").min().alias("period_start"),
            pl.col("paid_on").max().alias("period_end"),
        )
        .with_columns(
            (k / n).alias("share"),
            ((k - n * expected) / (n * expected * (1 - expected)).sqrt()).alias("score"),
        )
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    unit = max(thresholds.int(CODE, "unit"), 1)  # never a division by zero
    expected = thresholds.number(CODE, "expected_percent") / 100
    paid = realised(frames)
    found = (
        _scores(paid, unit, expected)
        .filter(
            (pl.col("payments") >= thresholds.int(CODE, "min_payments"))
            & (pl.col("share") >= thresholds.number(CODE, "share_percent") / 100)
        )
        .with_columns(
            pl.when(pl.col("share") >= thresholds.number(CODE, "medium_share_percent") / 100)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
            .alias("severity"),
            pl.lit("skpd").alias("subject_kind"),
            pl.col("skpd").alias("subject_id"),
            pl.col("year").cast(pl.String).alias("finding_key"),  # one finding per SKPD and year
            pl.col("amount").cast(pl.Int64),
            pl.lit(unit, dtype=pl.Int64).alias("unit"),
            pl.lit(expected).alias("expected"),
        )
    ).cache()
    round_paid = paid.filter(pl.col("gross") % unit == 0)
    return found.join(named(frames, found, round_paid, _KEYS), on=_KEYS)


def explain(row: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Indikator statistik, bukan tuduhan: {row['round_payments']} dari {row['payments']} "
        f"SP2D SKPD {row['skpd']} tahun {row['year']} ({persen(row['share'])}, senilai "
        f"{rupiah(row['amount'])}) berjumlah bulat kelipatan {rupiah(row['unit'])}, padahal "
        f"yang wajar sekitar {persen(row['expected'], 0)}; skor z binomial "
        f"{desimal(row['score'], 1)} ({hari(row['period_start'])} s.d. "
        f"{hari(row['period_end'])}).",
        f"Statistical indicator, not an accusation: {row['round_payments']} of "
        f"{row['payments']} SP2D of SKPD {row['skpd']} in {row['year']} "
        f"({percent(row['share'])}, {rupiah(row['amount'])}) are round multiples of "
        f"{rupiah(row['unit'])}, against about {percent(row['expected'], 0)} expected; binomial "
        f"z-score {row['score']:.1f} ({day_en(row['period_start'])} to "
        f"{day_en(row['period_end'])}).",
    )


RULE = Rule(CODE, "Jumlah bulat", "Round amounts", find, explain)
