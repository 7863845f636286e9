"""What the two reconciliation rules share: the exceptions of recorded runs, once each.

A statement line can be in more than one recorded run (a day reconciled again with another
window): it is one finding, as the latest run that lists it has it (its resolution too). A line
is known by its run's business date and its exception id (``<file>:<line>``): a bank that names
every day's file ``rkud.csv`` gives the same id to lines of different days.
"""

from __future__ import annotations

import polars as pl

from audit.flags import EVIDENCE_TYPE
from audit.frames import Frames
from audit.thresholds import Thresholds


def latest(frames: Frames, status: str, include_resolved: bool) -> pl.LazyFrame:
    """The exceptions of ``status``, the latest run's row of each line, with ``resolved``."""
    found = (
        frames.exceptions.filter(pl.col("status") == status)
        .sort("position")
        .group_by("business_date", "exception_id")
        .last()
        .with_columns(pl.col("resolution").is_not_null().alias("resolved"))
    )
    return found if include_resolved else found.filter(~pl.col("resolved"))


def run_evidence() -> pl.Expr:
    """The run's Recorded event, as evidence (one struct)."""
    return pl.struct(
        pl.col("run_id").alias("aggregate_id"), pl.col("version"), pl.col("position")
    ).cast(EVIDENCE_TYPE)


def include_resolved(thresholds: Thresholds, code: str) -> bool:
    """The rule's ``include_resolved`` switch (true: resolved exceptions stay listed, as low)."""
    value = thresholds[code]["include_resolved"]
    assert type(value) is bool, (code, value)
    return value
