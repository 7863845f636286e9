"""``vendor_concentration``: one vendor takes most of what an SKPD spends on a kode rekening.

Per fiscal year, SKPD and rekening, each vendor's share of the spending realised there (SP2D issued,
not cancelled), with the Herfindahl-Hirschman index of the whole SKPD+rekening: the sum of the
squared shares in percent, 0 (spread thin) to 10,000 (one vendor). The leading vendor there is
flagged when its share reaches ``share_percent``, the spending there is at least ``min_total``, it was paid at
least ``min_payments`` times there (one contract paid once is not a habit), and the pemda paid at
least ``min_vendors`` vendors on that rekening that year, in any SKPD: others could have supplied
it. Media companies (advertising, publication) are the classic case and are named as such.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import angka, day_en, hari, rupiah
from audit.rules.spending import named, percent, persen, realised
from audit.thresholds import Thresholds

CODE = "vendor_concentration"
_THERE = ["year", "skpd", "rekening"]
_KEYS = [*_THERE, "vendor_id"]


def _leaders(paid: pl.LazyFrame) -> pl.LazyFrame:
    """One row per SKPD's rekening in a year: its total, its vendors, the HHI, and the vendor with
    the largest share (the only one that can pass a share above half)."""
    per_vendor = (
        paid.group_by(_KEYS)
        .agg(
            pl.col("gross").sum().alias("amount"),
            pl.len().alias("payments"),
            pl.col("paid_on").min().alias("period_start"),
            pl.col("paid_on").max().alias("period_end"),
        )
        .cache()
    )  # read twice: by SKPD and by rekening
    # Vendors the pemda paid on this rekening that year in any SKPD: the market there is.
    market = per_vendor.group_by("year", "rekening").agg(
        pl.col("vendor_id").n_unique().alias("market")
    )
    lead = pl.col("amount").arg_max()
    return (
        per_vendor.group_by(_THERE)
        .agg(
            pl.col("amount").sum().alias("total"),
            pl.len().alias("vendors"),
            (pl.col("amount") * 100 / pl.col("amount").sum()).pow(2).sum().alias("hhi"),
            *(pl.col(c).get(lead) for c in ("vendor_id", "amount", "payments")),
            *(pl.col(c).get(lead) for c in ("period_start", "period_end")),
        )
        .with_columns(
            (pl.col("amount") / pl.col("total")).alias("share"),
            pl.col("hhi").round().cast(pl.Int64),
        )
        .join(market, on=["year", "rekening"])
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    paid = realised(frames).filter(pl.col("vendor_id").is_not_null())
    high = thresholds.number(CODE, "high_share_percent") / 100
    found = (
        _leaders(paid)
        .filter(
            (pl.col("share") >= thresholds.number(CODE, "share_percent") / 100)
            & (pl.col("total") >= thresholds.int(CODE, "min_total"))
            & (pl.col("payments") >= thresholds.int(CODE, "min_payments"))
            & (pl.col("market") >= thresholds.int(CODE, "min_vendors"))
        )
        .join(frames.vendors.select("vendor_id", "kind"), on="vendor_id", how="left")
        .with_columns(
            pl.when(pl.col("share") >= high)
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.lit("vendor").alias("subject_kind"),
            pl.col("vendor_id").alias("subject_id"),
            # One finding per vendor, year, SKPD and rekening, whatever payments it grows to.
            pl.concat_str(
                pl.col("year").cast(pl.String), pl.col("skpd"), pl.col("rekening"), separator="|"
            ).alias("finding_key"),
            pl.col("amount").cast(pl.Int64),
            pl.col("total").cast(pl.Int64),
        )
    ).cache()
    return (
        found.join(named(frames, found, paid, _KEYS), on=_KEYS)
        .drop("vendor_ids")
        .with_columns(pl.concat_list("vendor_id").alias("vendor_ids"))
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    media = row["kind"] == "media"
    who_id, who_en = ("Satu perusahaan media", "One media company") if media else (
        "Satu penyedia", "One vendor")  # fmt: skip
    since_id = f"{hari(row['period_start'])} s.d. {hari(row['period_end'])}"
    since_en = f"{day_en(row['period_start'])} to {day_en(row['period_end'])}"
    return (
        f"{who_id} menerima {persen(row['share'])} belanja SKPD {row['skpd']} pada rekening "
        f"{row['rekening']} tahun {row['year']} ({rupiah(row['amount'])} dari "
        f"{rupiah(row['total'])}, {row['payments']} SP2D, {since_id}); indeks "
        f"Herfindahl-Hirschman di sana {angka(row['hhi'])} dari 10.000, dengan {row['vendors']} "
        f"penyedia di SKPD ini dan {row['market']} di seluruh pemda pada rekening itu.",
        f"{who_en} received {percent(row['share'])} of SKPD {row['skpd']}'s spending on rekening "
        f"{row['rekening']} in {row['year']} ({rupiah(row['amount'])} of "
        f"{rupiah(row['total'])}, {row['payments']} SP2D, {since_en}); the Herfindahl-Hirschman "
        f"index there is {row['hhi']:,} of 10,000, with {row['vendors']} vendors in this SKPD "
        f"and {row['market']} across the pemda on that rekening.",
    )


RULE = Rule(CODE, "Konsentrasi penyedia", "Vendor concentration", find, explain)
