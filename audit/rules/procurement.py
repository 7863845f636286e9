"""What the procurement rules share: the live SPP and the direct-procurement limit of each.

The limit comes from ``[procurement]`` (Perpres 12/2021): the consulting limit for a kode rekening
under one of ``consulting_rekening``, the goods (construction, other services) limit otherwise.
"""

from __future__ import annotations

import polars as pl

from audit.frames import Frames
from audit.thresholds import Thresholds

TABLE = "procurement"
_DEAD = ("rejected", "cancelled")  # an SPP refused or withdrawn buys nothing


def is_live() -> pl.Expr:
    """An SPP requested and neither rejected nor cancelled: what was bought, paid or not yet."""
    return pl.col("requested_at").is_not_null() & ~pl.col("status").is_in(list(_DEAD))


def live_spp(frames: Frames) -> pl.LazyFrame:
    return frames.payments.filter(is_live())


def _is_consulting(prefixes: tuple[str, ...]) -> pl.Expr:
    if not prefixes:
        return pl.lit(value=False)
    # A prefix names whole segments: 5.1.02.02.12 covers 5.1.02.02.12.0001, not 5.1.02.02.120.
    return pl.any_horizontal(
        (pl.col("rekening") == p) | pl.col("rekening").str.starts_with(p + ".") for p in prefixes
    )


def limit(thresholds: Thresholds) -> pl.Expr:
    """The direct-procurement limit of each payment's kode rekening (column ``limit``)."""
    return (
        pl.when(_is_consulting(thresholds.strings(TABLE, "consulting_rekening")))
        .then(pl.lit(thresholds.int(TABLE, "consulting_limit"), dtype=pl.Int64))
        .otherwise(pl.lit(thresholds.int(TABLE, "goods_limit"), dtype=pl.Int64))
        .alias("limit")
    )
