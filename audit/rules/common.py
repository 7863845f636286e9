"""What several rules share: evidence from the steps, rupiah in words, days in both languages."""

from __future__ import annotations

from datetime import date

import polars as pl

from audit.flags import EVIDENCE_TYPE
from audit.frames import Frames

_BULAN = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_MONTH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def angka(number: int) -> str:
    """An integer with Indonesian thousands dots: ``7.300``."""
    return f"{number:,}".replace(",", ".")


def rupiah(amount: int) -> str:
    """``Rp 1.234.567`` (brackets for a negative), as on every screen."""
    text = f"Rp {angka(abs(amount))}"
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


def with_payment_evidence(found: pl.LazyFrame, frames: Frames, *events: str) -> pl.LazyFrame:
    """``found`` (one row a flag, its payments in ``disbursement_ids``) with ``evidence``: the
    ``events`` of every payment it names, in one list.

    ``found`` is read once (the streaming engine would compute a query read twice twice): its
    rows are spread over their payments, joined to those payments' steps, and gathered again."""
    steps = frames.steps.filter(pl.col("event").is_in(list(events))).select(
        pl.col("disbursement_id").alias("_named"), "version", "position"
    )
    numbered = found.with_row_index("_flag")
    columns = [c for c in numbered.collect_schema().names() if c != "_flag"]
    event = pl.struct(pl.col("_named").alias("aggregate_id"), "version", "position")
    return (
        numbered.with_columns(pl.col("disbursement_ids").alias("_named"))
        .explode("_named")
        .join(steps, on="_named", how="left")
        .group_by("_flag")
        .agg(
            *(pl.col(c).first() for c in columns),
            event.filter(pl.col("version").is_not_null()).cast(EVIDENCE_TYPE).alias("evidence"),
        )
        .drop("_flag")
    )
