"""``shared_bank_account``: one bank account on record for two vendors or more.

Two registered vendors (two NPWP) paid into one account are one payee behind several names: a
shell company, a vendor's account "borrowed" by an official, or the same firm registered twice to
share out purchases. Every account a vendor was registered with or changed to counts, now or in
the past (account keys are keyed digests: equal accounts, equal keys). One flag per account, of
high severity; at risk: what was paid into it, i.e. the SP2D (not cancelled) issued to those
vendors while it was their account (the account an SP2D pays is the vendor's at the SP2D).

Linear: only payments of the vendors concerned are read, each finds the account it paid with one
``join_asof`` on the vendor's account history.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import EVIDENCE_TYPE, Rule
from audit.frames import Frames
from audit.rules import accounts
from audit.rules.common import day_en, hari, rupiah
from audit.thresholds import Thresholds

CODE = "shared_bank_account"


def _paid_into(frames: Frames, shared: pl.LazyFrame) -> pl.LazyFrame:
    """Per shared account key, the SP2D paid into it."""
    vendors = shared.select(pl.col("holders").explode().alias("vendor_id")).unique()
    paid = (
        frames.payments.filter(
            pl.col("authorised_at").is_not_null() & (pl.col("status") != "cancelled")
        )
        .join(vendors, on="vendor_id", how="semi")
        .select("disbursement_id", "vendor_id", "gross", "authorised_at")
        .sort("authorised_at")
    )
    history = frames.accounts.select("vendor_id", "account_key", "since").sort("since")
    return (
        paid.join_asof(
            history,
            left_on="authorised_at",
            right_on="since",
            by="vendor_id",
            check_sortedness=False,  # both sorted above
        )
        .join(shared.select("account_key"), on="account_key", how="semi")
        .group_by("account_key")
        .agg(
            pl.col("disbursement_id").alias("disbursement_ids"),
            pl.col("gross").sum().alias("amount"),
            pl.len().alias("payments"),
            pl.col("authorised_at").max().alias("last_paid_at"),
        )
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    shared = accounts.holders(frames).filter(
        pl.col("holders").list.len() >= thresholds.int(CODE, "min_vendors")
    )
    setting = (
        frames.accounts.join(shared.select("account_key"), on="account_key", how="semi")
        .sort("position")
        .group_by("account_key")
        .agg(
            pl.col("account_hint").first(),
            pl.col("since").min().alias("first_since"),
            pl.col("since").max().alias("last_since"),
            pl.struct(pl.col("vendor_id").alias("aggregate_id"), "version", "position")
            .cast(EVIDENCE_TYPE)
            .alias("evidence"),
        )
    )
    found = shared.join(setting, on="account_key").join(
        _paid_into(frames, shared), on="account_key", how="left"
    )
    last = pl.max_horizontal("last_since", "last_paid_at")
    return found.select(
        pl.lit("high").alias("severity"),
        pl.lit("vendor").alias("subject_kind"),
        pl.col("holders").list.first().alias("subject_id"),
        pl.col("account_key").alias("finding_key"),  # one finding per account (its keyed digest)
        pl.col("amount").fill_null(0).cast(pl.Int64),
        frames.day("first_since").alias("period_start"),
        frames.day(last).alias("period_end"),
        pl.col("disbursement_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("holders").alias("vendor_ids"),
        "evidence",
        "account_hint",
        pl.col("holders").list.len().cast(pl.Int64).alias("vendors"),
        pl.col("payments").fill_null(0).cast(pl.Int64),
        frames.day("first_since").alias("first_on"),
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    n, hint, payments = row["vendors"], row["account_hint"], row["payments"]
    return (
        f"Rekening {hint} tercatat untuk {n} penyedia berbeda sejak {hari(row['first_on'])}; "
        f"{payments} SP2D sebesar {rupiah(row['amount'])} dibayarkan ke rekening itu selama "
        f"menjadi rekening mereka.",
        f"Bank account {hint} is on record for {n} different vendors since "
        f"{day_en(row['first_on'])}; {payments} SP2D of {rupiah(row['amount'])} in all "
        f"{'was' if payments == 1 else 'were'} paid into it while it was theirs.",
    )


RULE = Rule(CODE, "Rekening dipakai bersama", "Shared bank account", find, explain)
