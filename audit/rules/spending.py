"""What the spending-pattern rules share: the spending an SP2D realised, the payments a flag names
with the events behind them, and shares written as people read them.

``vendor_concentration``, ``year_end_spike``, ``round_amount`` and ``benford_deviation`` judge a
whole SKPD's (or a vendor's) year, not one payment: a flag may stand on thousands of payments.
It names at most ``MAX_IDS_PER_FLAG`` of them, the first by id as the engine keeps them, and the
Authorised event (the SP2D) of exactly those, so that the evidence is the payments listed.
"""

from __future__ import annotations

import math

import polars as pl

from audit.flags import EVIDENCE_TYPE
from audit.frames import Frames
from audit.rules.common import evidence_struct
from ledger.redflags import MAX_IDS_PER_FLAG


def realised(frames: Frames) -> pl.LazyFrame:
    """SP2D issued and not cancelled (realisation is recognised at SP2D): what these rules read of
    each, with ``paid_on``, the
    SP2D's day on the pemda's calendar. Cached: a rule reads it in several branches of its query,
    and the streaming engine would otherwise filter and convert a million moments for each."""
    return (
        frames.payments.filter(
            pl.col("authorised_at").is_not_null() & (pl.col("status") != "cancelled")
        )
        .select(
            "disbursement_id",
            "year",
            "skpd",
            "rekening",
            "vendor_id",
            "gross",
            frames.day("authorised_at").alias("paid_on"),
        )
        .cache()
    )


def named(
    frames: Frames, flags: pl.LazyFrame, payments: pl.LazyFrame, keys: list[str]
) -> pl.LazyFrame:
    """Per row of ``flags`` (by ``keys``), the ``payments`` it names: ``disbursement_ids`` (the
    first ``MAX_IDS_PER_FLAG`` by id), their ``vendor_ids`` and the ``evidence`` of their SP2D.
    A rule joins this back to ``flags``, so it reads ``flags`` twice: cache them."""
    chosen = (
        payments.join(flags.select(keys), on=keys, how="semi", nulls_equal=True)
        .select(*dict.fromkeys([*keys, "disbursement_id", "vendor_id"]))
        .sort("disbursement_id")
        .group_by(keys, maintain_order=True)
        .head(MAX_IDS_PER_FLAG)
    )
    authorised = frames.steps.filter(pl.col("event") == "Authorised").select(
        "disbursement_id", "version", "position"
    )
    evidence = (
        chosen.join(authorised, on="disbursement_id")
        .group_by(keys)
        .agg(evidence_struct().alias("evidence"))
    )
    return (
        chosen.group_by(keys)
        .agg(
            pl.col("disbursement_id").unique().sort().alias("disbursement_ids"),
            pl.col("vendor_id").drop_nulls().unique().sort().alias("vendor_ids"),
        )
        .join(evidence, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("evidence").fill_null(pl.lit([], dtype=pl.List(EVIDENCE_TYPE))))
    )


def desimal(number: float, digits: int) -> str:
    """A fraction as Bahasa Indonesia writes it: ``0,0153``."""
    return f"{number:.{digits}f}".replace(".", ",")


def persen(share: float, digits: int = 1) -> str:
    """A share (0..1) in percent as Bahasa Indonesia writes it: ``84,2%``."""
    return desimal(share * 100, digits) + "%"


def percent(share: float, digits: int = 1) -> str:
    return f"{share * 100:.{digits}f}%"


def kali(ratio: float) -> str:
    """A ratio as ``3,4 kali`` (``tak terhingga`` over nothing)."""
    return "tak terhingga" if math.isinf(ratio) else f"{desimal(ratio, 1)} kali"


def times(ratio: float) -> str:
    return "infinitely many times" if math.isinf(ratio) else f"{ratio:.1f} times"
