"""``repeated_pair``: one vendor's payments all go through the same verifier and SP2D signer.

A payment passes two independent desks: the PPK of the SKPD verifies it (Verified) and a Kuasa
BUD at BPKAD issues the SP2D (Authorised). When one PPK and one Kuasa BUD handle ``share`` percent
or more of a vendor's payments (at least ``min_payments``), while the same PPK's payments to other
vendors usually go to other Kuasa BUD (at most ``usual_share`` percent to this one; for a PPK with
no other vendor, the Kuasa BUD's share of the pemda's other SP2D), the vendor's payments are
steered to a pair that waves them through. The PA/KPA is not part of the pair: each
SKPD has one, so the pair would repeat for every vendor. A pemda with one Kuasa BUD, or a PPK who
always works with the same one, is left alone: there the pair says nothing.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, evidence_struct, hari, rupiah
from audit.thresholds import Thresholds

CODE = "repeated_pair"
_PAIR = ["verifier", "authoriser"]


def _pairs(frames: Frames) -> pl.LazyFrame:
    """Per SP2D issued: its vendor, gross, day, who verified it and who authorised it, and the
    two events as evidence."""

    # A disbursement is verified once and authorised once (it never returns to an earlier
    # status), so each event is one row per payment: joins, no grouping of the history.
    def actor(event: str, name: str) -> pl.LazyFrame:
        return frames.steps.filter(pl.col("event") == event).select(
            "disbursement_id", pl.col("actor_id").alias(name), evidence_struct().alias(event)
        )

    who = actor("Verified", "verifier").join(
        actor("Authorised", "authoriser"), on="disbursement_id"
    )
    return (
        frames.payments.filter(pl.col("authorised_at").is_not_null())
        .select("disbursement_id", "vendor_id", "gross", frames.day("authorised_at").alias("on"))
        .join(who, on="disbursement_id")
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    share = thresholds.number(CODE, "share") / 100
    usual = thresholds.number(CODE, "usual_share") / 100
    least = thresholds.int(CODE, "min_payments")
    # Counts as windows over one frame of the issued SP2D (not one grouping per count, each
    # reading the history again). "usual": of the verifier's SP2D to other vendors, the share
    # this authoriser signed; when the verifier has no other vendor, of every other vendor's SP2D
    # of the pemda, the share this authoriser signed (a pemda with one Kuasa BUD: all of them).
    counted = _pairs(frames).with_columns(
        pl.len().over("vendor_id").alias("payments"),
        pl.len().over("vendor_id", *_PAIR).alias("together"),
        pl.len().over("vendor_id", "verifier").alias("vendor_verified"),
        pl.len().over("vendor_id", "authoriser").alias("vendor_authorised"),
        pl.len().over("verifier").alias("verified"),
        pl.len().over("authoriser").alias("authorised"),
        pl.len().over(*_PAIR).alias("pair_all"),
        pl.len().alias("all"),
    )
    others = pl.col("verified") - pl.col("vendor_verified")
    elsewhere = pl.col("all") - pl.col("payments")
    steered = counted.filter(
        (pl.col("payments") >= least) & (pl.col("together") >= share * pl.col("payments"))
    ).with_columns(
        pl.when(others > 0)
        .then((pl.col("pair_all") - pl.col("together")) / others)
        .when(elsewhere > 0)
        .then((pl.col("authorised") - pl.col("vendor_authorised")) / elsewhere)
        .alias("usual"),
        pl.when(others > 0)
        .then(pl.lit("verifier"))
        .when(elsewhere > 0)
        .then(pl.lit("pemda"))
        .alias("basis"),
    )
    found = (
        steered.filter(pl.col("usual").is_null() | (pl.col("usual") <= usual))
        .group_by("vendor_id", *_PAIR)
        .agg(
            pl.col("disbursement_id").alias("disbursement_ids"),
            pl.col("gross").sum().alias("amount"),
            pl.col("on").min().alias("period_start"),
            pl.col("on").max().alias("period_end"),
            pl.concat_list("Verified", "Authorised")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .alias("evidence"),
            pl.col("together", "payments", "usual", "basis").first(),
        )
    )
    return found.select(
        pl.when(pl.col("together") == pl.col("payments"))
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium"))
        .alias("severity"),
        pl.lit("vendor").alias("subject_kind"),
        pl.col("vendor_id").alias("subject_id"),
        pl.concat_str(*_PAIR, separator="|").alias(
            "finding_key"
        ),  # one finding per vendor and pair
        pl.col("amount").cast(pl.Int64),
        "period_start",
        "period_end",
        "disbursement_ids",
        pl.concat_list("vendor_id").alias("vendor_ids"),
        "evidence",
        *_PAIR,
        "together",
        "payments",
        "usual",
        "basis",
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    pct = round(100 * row["together"] / row["payments"])
    usual = row["usual"]
    pair = f"{row['verifier']} / {row['authoriser']}"
    span_id = f"{hari(row['period_start'])} s.d. {hari(row['period_end'])}"
    span_en = f"{day_en(row['period_start'])} to {day_en(row['period_end'])}"
    if row["basis"] == "verifier":
        else_id = (
            f"SP2D lain verifikator ini {round(100 * usual)}% ditandatangani {row['authoriser']}"
        )
        else_en = (
            f"the verifier's other SP2D were {round(100 * usual)}% signed by {row['authoriser']}"
        )
    elif row["basis"] == "pemda":
        else_id = (
            f"verifikator ini tidak memverifikasi penyedia lain, dan {row['authoriser']} "
            f"menandatangani {round(100 * usual)}% SP2D penyedia lain"
        )
        else_en = (
            f"the verifier verified no other vendor, and {row['authoriser']} signed "
            f"{round(100 * usual)}% of the other vendors' SP2D"
        )
    else:
        else_id, else_en = (
            "tidak ada SP2D lain untuk dibandingkan",
            "there is no other SP2D to compare",
        )
    return (
        f"{row['together']} dari {row['payments']} SP2D penyedia ini ({pct}%, "
        f"{rupiah(row['amount'])}, {span_id}) diverifikasi dan diterbitkan oleh pasangan yang "
        f"sama ({pair}); {else_id}.",
        f"{row['together']} of this vendor's {row['payments']} SP2D ({pct}%, "
        f"{rupiah(row['amount'])}, {span_en}) were verified and issued by the same pair "
        f"({pair}); {else_en}.",
    )


RULE = Rule(CODE, "Pasangan verifikator berulang", "Repeated verifier pair", find, explain)
