"""``repeated_pair``: one vendor's payments all go through the same verifier and SP2D signer.

A payment passes two independent desks: the PPK of the SKPD verifies it (Verified) and a Kuasa
BUD at BPKAD issues the SP2D (Authorised). When one PPK and one Kuasa BUD handle ``share`` percent
or more of a vendor's payments (at least ``min_payments``), while the same PPK's payments to other
vendors usually go to other Kuasa BUD (at most ``usual_share`` percent to this one), the vendor's
payments are steered to a pair that waves them through. The PA/KPA is not part of the pair: each
SKPD has one, so the pair would repeat for every vendor. A pemda with one Kuasa BUD, or a PPK who
always works with the same one, is left alone: there the pair says nothing.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah, step_evidence
from audit.thresholds import Thresholds

CODE = "repeated_pair"
_PAIR = ["verifier", "authoriser"]


def _pairs(frames: Frames) -> pl.LazyFrame:
    """Per SP2D issued: its vendor, gross, day, and who verified it and who authorised it."""
    who = (
        frames.steps.filter(pl.col("event").is_in(["Verified", "Authorised"]))
        .sort("position")
        .group_by("disbursement_id")
        .agg(
            pl.col("actor_id").filter(pl.col("event") == "Verified").last().alias("verifier"),
            pl.col("actor_id").filter(pl.col("event") == "Authorised").last().alias("authoriser"),
        )
        .drop_nulls(_PAIR)
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
    paid = _pairs(frames)
    per_vendor = paid.group_by("vendor_id").agg(pl.len().alias("payments"))
    per_pair = paid.group_by("vendor_id", *_PAIR).agg(
        pl.len().alias("together"),
        pl.col("disbursement_id").alias("disbursement_ids"),
        pl.col("gross").sum().alias("amount"),
        pl.col("on").min().alias("period_start"),
        pl.col("on").max().alias("period_end"),
    )
    # What the verifier usually does: of their payments to other vendors, how many this
    # authoriser signed (null when the verifier has no other vendor: nothing to compare with).
    mine = paid.group_by("vendor_id", "verifier").agg(pl.len().alias("vendor_verified"))
    verified = paid.group_by("verifier").agg(pl.len().alias("verified"))
    pair_all = paid.group_by(*_PAIR).agg(pl.len().alias("pair_all"))
    candidates = (
        per_pair.join(per_vendor, on="vendor_id")
        .filter((pl.col("payments") >= least) & (pl.col("together") >= share * pl.col("payments")))
        .join(mine, on=["vendor_id", "verifier"])
        .join(verified, on="verifier")
        .join(pair_all, on=_PAIR)
        .with_columns(
            (pl.col("verified") - pl.col("vendor_verified")).alias("others"),
            (pl.col("pair_all") - pl.col("together")).alias("others_pair"),
        )
        .with_columns(
            pl.when(pl.col("others") > 0)
            .then(pl.col("others_pair") / pl.col("others"))
            .alias("usual")
        )
        .filter(pl.col("usual").is_null() | (pl.col("usual") <= usual))
    )
    evidence = step_evidence(frames, "Verified", "Authorised")
    per_flag = (
        candidates.select("vendor_id", "disbursement_ids")
        .explode("disbursement_ids")
        .join(evidence, left_on="disbursement_ids", right_on="disbursement_id")
        .group_by("vendor_id")
        .agg(pl.col("evidence").list.explode(keep_nulls=False, empty_as_null=False))
    )
    return candidates.join(per_flag, on="vendor_id", how="left").select(
        pl.when(pl.col("together") == pl.col("payments"))
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium"))
        .alias("severity"),
        pl.lit("vendor").alias("subject_kind"),
        pl.col("vendor_id").alias("subject_id"),
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
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    pct = round(100 * row["together"] / row["payments"])
    usual = row["usual"]
    pair = f"{row['verifier']} / {row['authoriser']}"
    span_id = f"{hari(row['period_start'])} s.d. {hari(row['period_end'])}"
    span_en = f"{day_en(row['period_start'])} to {day_en(row['period_end'])}"
    if usual is None:
        else_id, else_en = (
            "verifikator ini tidak memverifikasi penyedia lain",
            ("the verifier verified no other vendor"),
        )
    else:
        else_id = f"pembayaran lain verifikator ini {round(100 * usual)}% ke penanda tangan itu"
        else_en = f"the verifier's other payments went {round(100 * usual)}% to that signer"
    return (
        f"{row['together']} dari {row['payments']} SP2D penyedia ini ({pct}%, "
        f"{rupiah(row['amount'])}, {span_id}) diverifikasi dan diterbitkan oleh pasangan yang "
        f"sama ({pair}); {else_id}.",
        f"{row['together']} of this vendor's {row['payments']} SP2D ({pct}%, "
        f"{rupiah(row['amount'])}, {span_en}) were verified and issued by the same pair "
        f"({pair}); {else_en}.",
    )


RULE = Rule(CODE, "Pasangan verifikator berulang", "Repeated verifier pair", find, explain)
