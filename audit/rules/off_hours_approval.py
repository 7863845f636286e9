"""``off_hours_approval``: a payment approved at night, on a weekend or on a holiday.

The approving steps (the PPK's verification, the PA/KPA's SPM, the Kuasa BUD's SP2D) are office
work. One taken at night, on a Saturday or Sunday, or on a national holiday or cuti bersama
(``audit/holidays.csv`` and the pemda's ``extra_holidays``), is taken when no colleague sees it:
the pattern of an approval done for someone, or of a login used by someone else. One flag per
payment, naming each of its steps out of hours in the pemda's wall-clock time, with who took it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from audit import holidays
from audit.flags import Rule
from audit.frames import Frames
from audit.rules.common import day_en, evidence_struct, hari, rupiah
from audit.thresholds import Thresholds

CODE = "off_hours_approval"
_STEP = {"Verified": ("verifikasi PPK", "PPK verification"), "Approved": ("SPM", "SPM"),
         "Authorised": ("SP2D", "SP2D"), "Rejected": ("penolakan", "rejection"),
         "Requested": ("SPP", "SPP")}  # fmt: skip
_HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_DAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WHY = {"night": ("malam", "at night"), "weekend": ("akhir pekan", "weekend"),
        "holiday": ("hari libur", "holiday")}  # fmt: skip


def _off_hours_steps(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    events = list(thresholds.strings(CODE, "events"))
    start, end = thresholds.int(CODE, "day_start_hour"), thresholds.int(CODE, "day_end_hour")
    closed = holidays.days(thresholds.strings(CODE, "extra_holidays"))
    saturday = thresholds[CODE]["saturday_is_workday"]
    assert type(saturday) is bool, saturday
    first_day_off = 7 if saturday else 6  # ISO weekday: a pemda working Mondays to Saturdays
    local = frames.local("at")
    return (
        frames.steps.filter(pl.col("event").is_in(events))
        .with_columns(local.alias("local"))
        .with_columns(
            ((pl.col("local").dt.hour() < start) | (pl.col("local").dt.hour() >= end)).alias(
                "night"
            ),
            (pl.col("local").dt.weekday() >= first_day_off).alias("weekend"),
            pl.col("local").dt.date().is_in(closed.implode()).alias("holiday"),
        )
        .filter(pl.col("night") | pl.col("weekend") | pl.col("holiday"))
    )


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    every = len(thresholds.strings(CODE, "events"))
    per_payment = (
        _off_hours_steps(frames, thresholds)
        .sort("position")
        .group_by("disbursement_id")
        .agg(
            pl.struct("event", "local", "actor_id", "night", "weekend", "holiday").alias("steps"),
            evidence_struct().alias("evidence"),
            pl.len().alias("off_steps"),
            (pl.col("night") & (pl.col("weekend") | pl.col("holiday"))).any().alias("deep"),
            pl.col("local").dt.date().min().alias("period_start"),
            pl.col("local").dt.date().max().alias("period_end"),
        )
    )
    severity = (
        pl.when(pl.col("deep") | (pl.col("off_steps") >= every))
        .then(pl.lit("high"))
        .when(pl.col("off_steps") >= 2)  # two steps: two people, or one person twice
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    return per_payment.join(
        frames.payments.select("disbursement_id", "vendor_id", "gross", "spp_number"),
        on="disbursement_id",
    ).select(
        severity.alias("severity"),
        pl.lit("disbursement").alias("subject_kind"),
        pl.col("disbursement_id").alias("subject_id"),
        pl.col("gross").alias("amount"),
        "period_start",
        "period_end",
        pl.concat_list("disbursement_id").alias("disbursement_ids"),
        pl.concat_list("vendor_id").alias("vendor_ids"),
        "evidence",
        "spp_number",
        "steps",
    )


def _step(step: dict[str, Any], english: bool) -> str:
    """One step out of hours: what, when (local), by whom and why it is out of hours."""
    at = step["local"]
    why = ", ".join(_WHY[k][english] for k in _WHY if step[k])
    name = _STEP.get(step["event"], (step["event"], step["event"]))[english]
    when = (
        f"{_DAY[at.weekday()]} {day_en(at.date())}"
        if english
        else f"{_HARI[at.weekday()]} {hari(at.date())}"
    )
    by = "by" if english else "oleh"
    return f"{name} {when} {at:%H:%M} {by} {step['actor_id']} ({why})"


def explain(row: dict[str, Any]) -> tuple[str, str]:
    steps = row["steps"]
    return (
        f"{len(steps)} langkah persetujuan SPP {row['spp_number']} sebesar "
        f"{rupiah(row['amount'])} diambil di luar jam kerja: "
        f"{'; '.join(_step(s, False) for s in steps)}.",
        f"{len(steps)} approving step(s) of SPP {row['spp_number']} of {rupiah(row['amount'])} "
        f"were taken out of office hours: {'; '.join(_step(s, True) for s in steps)}.",
    )


RULE = Rule(CODE, "Persetujuan di luar jam kerja", "Off-hours approval", find, explain)
