"""What the bank-account rules share: who else held an account, and an account set and set back.

Accounts are keyed digests (``account_key``): equal accounts, equal keys; a flag shows the hint.
Vendors are few beside payments and their account changes fewer, so these frames are small.
"""

from __future__ import annotations

import polars as pl

from audit.frames import Frames


def holders(frames: Frames) -> pl.LazyFrame:
    """Per account key, every vendor that had it (now or in the past), first holder first."""
    return (
        frames.accounts.sort("since", "position")
        .group_by("account_key")
        .agg(pl.col("vendor_id").unique(maintain_order=True).alias("holders"))
    )


def reverted(frames: Frames) -> pl.LazyFrame:
    """Per account event (vendor, version), the first later event of the same vendor that sets
    an account the vendor had before that event, other than the one it set: an account changed
    and changed back (``back_*`` columns)."""
    accounts = frames.accounts
    first_seen = accounts.group_by("vendor_id", "account_key").agg(
        pl.col("since").min().alias("first_seen")
    )
    # A key coming back is rare: joining each change to its vendor's returns stays small.
    returns = (
        accounts.join(first_seen, on=["vendor_id", "account_key"])
        .filter(pl.col("since") > pl.col("first_seen"))
        .select(
            "vendor_id",
            pl.col("account_key").alias("back_key"),
            pl.col("account_hint").alias("back_hint"),
            pl.col("since").alias("back_at"),
            pl.col("first_seen"),
            pl.col("version").alias("back_version"),
            pl.col("position").alias("back_position"),
        )
    )
    return (
        accounts.select("vendor_id", "version", "account_key", "since")
        .join(returns, on="vendor_id")
        .filter(
            (pl.col("back_at") > pl.col("since"))
            & (pl.col("first_seen") < pl.col("since"))
            & (pl.col("back_key") != pl.col("account_key"))
        )
        .sort("back_at")
        .group_by("vendor_id", "version")
        .agg(pl.col("back_hint", "back_at", "back_version", "back_position").first())
    )
