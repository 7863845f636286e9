"""``split_purchase`` (pecah paket): one purchase split to stay under the direct-procurement limit.

Perpres 16/2018 (Pasal 20) forbids splitting a purchase to avoid a tender: below the limit of
``[procurement]`` a unit buys directly from a vendor of its choice. The trace in the ledger is two
or more live SPP (requested, not rejected or cancelled) to the same vendor on the same budget line
(SKPD, sub kegiatan and kode rekening), each within the limit, that together exceed it within
``window_days``. The termin of one contract above the limit (a tendered contract paid in parts)
are not pieces of a split: SPP naming one contract number count as that contract, at its total.

The query stays linear, with no self-join that could grow with a busy vendor: the SPP are sorted
by purchase (vendor and line) and request time, a running total gives each SPP the sum of its
purchase's SPP in the window ending at it (the window's first SPP found with ``join_asof``), and
an SPP whose window sums above the limit, with two SPP or more in it, closes a crossing window.
Every SPP inside a crossing window is a member; members of one purchase chained less than a
window apart are one cluster, one flag: the overlapping windows of one split are one finding.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules import procurement
from audit.rules.common import day_en, hari, rupiah, with_payment_evidence
from audit.thresholds import Thresholds

CODE = "split_purchase"
_PURCHASE = ["vendor_id", "skpd", "sub_kegiatan", "rekening"]
_SHOWN_SPP = 8  # an explanation lists this many SPP numbers, then says how many more


def _ordered(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    """The live SPP within their limit, sorted by purchase and request time, with their running
    total (``through``), ``row``, and their row in ``payments`` (``spp``).

    Only numbers are filtered and sorted: moving the strings of a million rows costs more than
    the rest of the rule, so they are read back for the few SPP found. The purchase is a 64-bit
    hash of vendor and line; the clusters found are grouped again by the columns themselves, so
    a collision cannot join two purchases' SPP in one flag."""
    live = frames.payments.with_row_index("spp").filter(procurement.is_live())
    # The SPP of one contract (kontrak / SPK) are its termin: what was bought is the contract,
    # whose value is their sum. An SPP without a contract number is a purchase of its own.
    contract = pl.struct(*_PURCHASE, "contract").hash()
    bought = (
        pl.when(pl.col("contract").is_null())
        .then(pl.col("gross"))
        .otherwise(pl.col("gross").sum().over(contract))
    )
    numbers = live.select(
        "spp",
        pl.struct(_PURCHASE).hash().alias("key"),
        "gross",
        bought.alias("bought"),
        procurement.limit(thresholds),
        "requested_at",
    )
    return (
        # A purchase above the limit was (or should have been) tendered: its termin are not the
        # pieces of a split.
        numbers.filter(pl.col("bought") <= pl.col("limit"))
        .sort("key", "requested_at")
        .with_columns(
            # Runs of one key numbered: a small sorted integer joins faster than the hash.
            (pl.col("key") != pl.col("key").shift(1)).fill_null(value=True).cum_sum()
            .alias("purchase"),
            pl.col("gross").cum_sum().alias("through"),
            pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        )
    )  # fmt: skip


def _members(ordered: pl.LazyFrame, window_days: int) -> pl.LazyFrame:
    """The SPP (``spp``) inside a crossing window, with the ``cluster`` each belongs to."""
    window = pl.duration(days=window_days)
    # The first SPP of the same purchase requested at most a window before each one.
    first = ordered.select(
        "purchase",
        pl.col("requested_at").alias("first_at"),
        (pl.col("through") - pl.col("gross")).alias("before"),
        pl.col("row").alias("first_row"),
    )
    windows = ordered.with_columns((pl.col("requested_at") - window).alias("opens")).join_asof(
        first, left_on="opens", right_on="first_at", by="purchase", strategy="forward",
        check_sortedness=False,  # sorted by request time within each purchase, above
    )  # fmt: skip
    crossing = (pl.col("through") - pl.col("before") > pl.col("limit")) & (
        pl.col("row") - pl.col("first_row") >= 1
    )
    # The next crossing window to close at or after an SPP (in the sorted order): the SPP is in
    # it iff it is the same purchase's and closes at most a window after the SPP.
    marked = windows.with_columns(
        pl.when(crossing).then(pl.col("requested_at")).backward_fill().alias("closes_at"),
        pl.when(crossing).then(pl.col("purchase")).backward_fill().alias("closes_purchase"),
    )
    members = marked.filter(
        (pl.col("closes_purchase") == pl.col("purchase"))
        & (pl.col("closes_at") - pl.col("requested_at") <= window)
    )
    starts = (pl.col("purchase") != pl.col("purchase").shift(1)).fill_null(value=True) | (
        pl.col("requested_at") - pl.col("requested_at").shift(1) > window
    )
    return members.select(
        "spp", "gross", "limit", "requested_at", starts.cum_sum().alias("cluster")
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    window_days = thresholds.int(CODE, "window_days")
    named = frames.payments.with_row_index("spp").select(
        "spp", "disbursement_id", "spp_number", "line_id", *_PURCHASE
    )
    clusters = (
        _members(_ordered(frames, thresholds), window_days)
        .join(named, on="spp")
        .with_columns(frames.day("requested_at").alias("requested_on"))
        .group_by("cluster", *_PURCHASE)
        .agg(
            pl.col("line_id", "limit").first(),
            pl.col("disbursement_id").alias("disbursement_ids"),
            # A purchase is named by its first SPP: a later SPP joining it keeps the flag.
            pl.col("disbursement_id").sort_by("requested_at").first().alias("finding_key"),
            pl.col("spp_number").alias("spp_numbers"),
            pl.col("gross").sum().alias("amount"),
            pl.col("gross").max().alias("largest"),
            pl.len().alias("times"),
            pl.col("requested_on").min().alias("period_start"),
            pl.col("requested_on").max().alias("period_end"),
        )
        .filter((pl.col("amount") > pl.col("limit")) & (pl.col("times") >= 2))
    )
    high = (pl.col("amount") > 2 * pl.col("limit")) | (pl.col("times") >= 3)
    found = clusters.with_columns(
        pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")).alias("severity"),
        pl.lit("vendor").alias("subject_kind"),
        pl.col("vendor_id").alias("subject_id"),
        pl.concat_list("vendor_id").alias("vendor_ids"),
        pl.col("amount").cast(pl.Int64),
        pl.col("times").cast(pl.Int64),
        pl.lit(window_days, dtype=pl.Int64).alias("window_days"),
    ).drop("cluster")
    return with_payment_evidence(found, frames, "Requested", "Authorised")


def _spp(numbers: list[str]) -> tuple[str, str]:
    shown = ", ".join(sorted(numbers)[:_SHOWN_SPP])
    more = len(numbers) - _SHOWN_SPP
    if more <= 0:
        return shown, shown
    return f"{shown} dan {more} lainnya", f"{shown} and {more} more"


def explain(row: dict[str, Any]) -> tuple[str, str]:
    spp_id, spp_en = _spp(row["spp_numbers"])
    start, end, limit = row["period_start"], row["period_end"], rupiah(row["limit"])
    line = f"sub kegiatan {row['sub_kegiatan']}, rekening {row['rekening']}"
    return (
        f"{row['times']} SPP ke penyedia yang sama pada {line} antara {hari(start)} dan "
        f"{hari(end)} ({spp_id}) berjumlah {rupiah(row['amount'])}, di atas batas pengadaan "
        f"langsung {limit} meski tiap SPP di bawahnya (terbesar {rupiah(row['largest'])}; "
        f"jendela {row['window_days']} hari).",
        f"{row['times']} SPP to the same vendor on {line} between {day_en(start)} and "
        f"{day_en(end)} ({spp_en}) add up to {rupiah(row['amount'])}, above the direct-"
        f"procurement limit of {limit}, though each is within it (the largest "
        f"{rupiah(row['largest'])}; window of {row['window_days']} days).",
    )


RULE = Rule(CODE, "Pecah paket", "Split purchase", find, explain)
