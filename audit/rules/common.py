"""What several rules share: evidence from the steps, rupiah in words, days in both languages."""

from __future__ import annotations

from datetime import date

import polars as pl

from audit.flags import EVIDENCE_TYPE
from audit.frames import Frames

_BULAN = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_MONTH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rupiah(amount: int) -> str:
    """``Rp 1.234.567`` (brackets for a negative), as on every screen."""
    text = f"Rp {abs(amount):,}".replace(",", ".")
    return f"({text})" if amount < 0 else text


def hari(day: date) -> str:
    return f"{day.day} {_BULAN[day.month - 1]} {day.year}"


def day_en(day: date) -> str:
    return f"{day.day} {_MONTH[day.month - 1]} {day.year}"


def evidence_struct(aggregate: str = "disbursement_id") -> pl.Expr:
    """One evidence struct from a row of ``steps`` (or any frame with version and position)."""
    return pl.struct(
        pl.col(aggregate).alias("aggregate_id"), pl.col("version"), pl.col("position")
    ).cast(EVIDENCE_TYPE)


def step_evidence(frames: Frames, *events: str) -> pl.LazyFrame:
    """Per disbursement, the evidence list of its events named (all of them if none named)."""
    steps = frames.steps
    if events:
        steps = steps.filter(pl.col("event").is_in(list(events)))
    return steps.group_by("disbursement_id").agg(evidence_struct().alias("evidence"))
