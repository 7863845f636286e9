"""``account_changed_before_payment``: a vendor's bank account changed just before it was paid.

The scheme: someone with access to the vendor register points a vendor's account at their own,
an SP2D is issued (and the transfer sent) to it, and the account is set back afterwards. The
ledger already refuses a transfer to another account than the SP2D's, so the change comes before
the SP2D. The rule flags an SP2D (Authorised) or a transfer (Sent) of a live payment (not
cancelled) whose vendor's account changed (``BankAccountChanged``) within ``window_days`` before
it: high when the new account is (or was) on record for another vendor, or the vendor's account
goes back afterwards to one it had before the change; medium otherwise.

Linear: each SP2D and transfer finds its vendor's latest change before it with ``join_asof``,
and only payments of vendors that ever changed account are sorted.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from audit.flags import EVIDENCE_TYPE, Rule
from audit.frames import Frames
from audit.rules import accounts
from audit.rules.common import day_en, hari, rupiah, with_payment_evidence
from audit.thresholds import Thresholds

CODE = "account_changed_before_payment"
_MOMENTS = {"authorised_at": "Authorised", "sent_at": "Sent"}
_EVIDENCE = pl.List(EVIDENCE_TYPE)


def _changes(frames: Frames) -> pl.LazyFrame:
    """Every account change, with the account before it, its other holders, and its return."""
    previous = frames.accounts.sort("since", "position").select(
        "vendor_id",
        "version",
        pl.col("account_hint").shift(1).over("vendor_id").alias("old_hint"),
    )
    return (
        frames.accounts.filter(pl.col("event") == "BankAccountChanged")
        .join(previous, on=["vendor_id", "version"], how="left")
        .join(accounts.holders(frames), on="account_key", how="left")
        .join(accounts.reverted(frames), on=["vendor_id", "version"], how="left")
        .select(
            "vendor_id",
            pl.col("since").alias("changed_at"),
            pl.col("account_hint").alias("new_hint"),
            "old_hint",
            pl.col("holders").list.set_difference(pl.concat_list("vendor_id")).alias("others"),
            "back_hint",
            "back_at",
            pl.struct(pl.col("vendor_id").alias("aggregate_id"), "version", "position").alias(
                "change_event"
            ),
            pl.when(pl.col("back_version").is_not_null())
            .then(
                pl.struct(
                    pl.col("vendor_id").alias("aggregate_id"),
                    pl.col("back_version").alias("version"),
                    pl.col("back_position").alias("position"),
                )
            )
            .alias("back_event"),
        )
        .sort("changed_at")
    )


def _payments_after_changes(frames: Frames, window_days: int) -> pl.LazyFrame:
    """One row per SP2D or transfer within the window after a change of its vendor's account
    (``row``: the payment's row in ``payments``)."""
    changes = _changes(frames)
    changed_vendors = changes.select("vendor_id").unique()
    # Numbers first (a row, a vendor, moments): the strings are read for the payments found.
    live = (
        frames.payments.with_row_index("row")
        .select(
            "row", "vendor_id", "gross", *_MOMENTS, (pl.col("status") != "cancelled").alias("live")
        )
        .join(changed_vendors, on="vendor_id", how="semi")
        .filter("live")
    )
    moments = pl.concat(
        [
            live.select(
                "row", "vendor_id", "gross", pl.col(column).alias("paid_at"),
                pl.lit(event).alias("paid_by"),
            ).filter(pl.col("paid_at").is_not_null())
            for column, event in _MOMENTS.items()
        ]
    ).sort("paid_at")  # fmt: skip
    return moments.join_asof(
        changes, left_on="paid_at", right_on="changed_at", by="vendor_id", strategy="backward",
        check_sortedness=False,  # both sorted by their moment above
    ).filter(
        pl.col("changed_at").is_not_null()
        & (pl.col("paid_at") - pl.col("changed_at") <= pl.duration(days=window_days))
    )  # fmt: skip


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    window_days = thresholds.int(CODE, "window_days")
    hits = _payments_after_changes(frames, window_days)
    documents = frames.payments.with_row_index("row").select(
        "row", "disbursement_id", "spp_number", "sp2d_number"
    )
    per_payment = (
        hits.sort("paid_at")
        .group_by("row")
        .agg(
            # Worded from the first SP2D or transfer after a change (the SP2D, as a rule).
            pl.col("vendor_id", "gross", "paid_by", "paid_at",
                   "changed_at", "new_hint", "old_hint", "others", "back_hint", "back_at").first(),
            pl.col("paid_at").max().alias("last_paid_at"),
            pl.col("others").list.explode(keep_nulls=False, empty_as_null=False).unique()
            .alias("all_others"),
            pl.col("change_event").unique().alias("change_events"),
            pl.col("back_event").drop_nulls().unique().alias("back_events"),
        )
        .join(documents, on="row")
    )  # fmt: skip
    high = (pl.col("all_others").list.len() > 0) | pl.col("back_at").is_not_null()
    named = per_payment.with_columns(pl.concat_list("disbursement_id").alias("disbursement_ids"))
    # The payment's SP2D and transfers joined in one pass: ``hits`` is read once.
    found = with_payment_evidence(named, frames, *_MOMENTS.values())
    return found.select(
        pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")).alias("severity"),
        pl.lit("disbursement").alias("subject_kind"),
        pl.col("disbursement_id").alias("subject_id"),
        pl.col("gross").cast(pl.Int64).alias("amount"),
        frames.day("changed_at").alias("period_start"),
        frames.day("last_paid_at").alias("period_end"),
        "disbursement_ids",
        pl.concat_list(pl.col("vendor_id"), pl.col("all_others").list.sort()).alias("vendor_ids"),
        pl.concat_list(pl.col("change_events", "back_events", "evidence").cast(_EVIDENCE)).alias(
            "evidence"
        ),
        "spp_number", "sp2d_number", "paid_by", "new_hint", "old_hint",
        pl.col("all_others").list.len().alias("other_vendors"),
        "back_hint",
        frames.day("changed_at").alias("changed_on"),
        frames.day("paid_at").alias("paid_on"),
        frames.day("back_at").alias("back_on"),
        pl.lit(window_days, dtype=pl.Int64).alias("window_days"),
    )  # fmt: skip


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _days(changed: date, paid: date) -> tuple[str, str]:
    days = (paid - changed).days
    if days == 0:
        return "pada hari yang sama dengan", "the same day as"
    return f"{days} hari sebelum", f"{days} day{_s(days)} before"


def _why(row: dict[str, Any]) -> tuple[str, str]:
    reasons_id, reasons_en = [], []
    if row["other_vendors"]:
        n = row["other_vendors"]
        reasons_id.append(f"rekening itu juga tercatat untuk {n} penyedia lain")
        reasons_en.append(f"that account is also on record for {n} other vendor{_s(n)}")
    if row["back_on"] is not None:
        reasons_id.append(f"dikembalikan ke {row['back_hint']} pada {hari(row['back_on'])}")
        reasons_en.append(f"it went back to {row['back_hint']} on {day_en(row['back_on'])}")
    if not reasons_id:
        return "", ""
    return "; " + " dan ".join(reasons_id), "; " + " and ".join(reasons_en)


def explain(row: dict[str, Any]) -> tuple[str, str]:
    before_id, before_en = _days(row["changed_on"], row["paid_on"])
    why_id, why_en = _why(row)
    old = row["old_hint"] or "-"
    what_id = "SP2D" if row["paid_by"] == "Authorised" else "transfer"
    what_en = "the SP2D" if row["paid_by"] == "Authorised" else "the transfer"
    document = row["sp2d_number"] or row["spp_number"]
    return (
        f"Rekening penyedia diganti dari {old} ke {row['new_hint']} pada "
        f"{hari(row['changed_on'])}, {before_id} {what_id} {document} sebesar "
        f"{rupiah(row['amount'])} pada {hari(row['paid_on'])}{why_id}.",
        f"The vendor's bank account was changed from {old} to {row['new_hint']} on "
        f"{day_en(row['changed_on'])}, {before_en} {what_en} {document} of "
        f"{rupiah(row['amount'])} on {day_en(row['paid_on'])}{why_en}.",
    )


RULE = Rule(
    CODE, "Rekening diganti menjelang pembayaran", "Account changed before payment", find, explain
)
