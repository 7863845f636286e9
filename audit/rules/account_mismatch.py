"""``account_mismatch``: an SP2D paid into another account than the one it names.

A recorded reconciliation run marks a statement line ``account_mismatch`` when it names an SP2D
(its number in the remark) and the amount agrees but the counterparty account or bank is not the
SP2D's beneficiary: the transfer was redirected between the SP2D and the bank (account
substitution). One flag per payment, naming every such line of every run; high while any of them
is open, low once BPKAD resolved them all (when ``include_resolved``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl

from audit.flags import EVIDENCE_TYPE, Rule
from audit.frames import Frames
from audit.rules.common import day_en, hari, rupiah, step_evidence
from audit.rules.runs import include_resolved, latest, run_evidence
from audit.thresholds import Thresholds

CODE = "account_mismatch"


def find(frames: Frames, thresholds: Thresholds) -> pl.LazyFrame:
    lines = latest(frames, "account_mismatch", include_resolved(thresholds, CODE)).filter(
        pl.col("ledger_id").is_not_null()
    )
    # A ledger-side exception of the same payment carries no statement amount of its own.
    statement = ~pl.col("exception_id").str.starts_with("ledger:")
    per_payment = lines.group_by("ledger_id").agg(
        pl.col("amount").filter(statement).sum().alias("paid_elsewhere"),
        pl.col("exception_id").filter(statement).sort().alias("lines"),
        pl.col("resolved").all().alias("resolved"),
        run_evidence().alias("run_evidence"),
        pl.col("business_date").min().alias("period_start"),
        pl.col("business_date").max().alias("period_end"),
    )
    # The steps of those payments only: grouping every step of the history is the slow part.
    theirs = frames.steps.join(
        per_payment.select(pl.col("ledger_id").alias("disbursement_id")),
        on="disbursement_id",
        how="semi",
    )
    steps = step_evidence(replace(frames, steps=theirs), "Authorised", "Sent")
    return (
        per_payment.join(
            frames.payments.select("disbursement_id", "vendor_id", "gross", "sp2d_number"),
            left_on="ledger_id",
            right_on="disbursement_id",
        )
        .join(steps, left_on="ledger_id", right_on="disbursement_id", how="left")
        .select(
            pl.when(pl.col("resolved"))
            .then(pl.lit("low"))
            .otherwise(pl.lit("high"))
            .alias("severity"),
            pl.lit("disbursement").alias("subject_kind"),
            pl.col("ledger_id").alias("subject_id"),
            pl.when(pl.col("paid_elsewhere") > 0)
            .then(pl.col("paid_elsewhere"))
            .otherwise(pl.col("gross"))
            .cast(pl.Int64)
            .alias("amount"),
            "period_start",
            "period_end",
            pl.concat_list("ledger_id").alias("disbursement_ids"),
            pl.concat_list("vendor_id").alias("vendor_ids"),
            pl.concat_list(
                "run_evidence",
                pl.col("evidence").fill_null(pl.lit([], dtype=pl.List(EVIDENCE_TYPE))),
            ).alias("evidence"),
            "sp2d_number",
            "lines",
            "resolved",
        )
    )


def explain(row: dict[str, Any]) -> tuple[str, str]:
    lines = ", ".join(row["lines"]) or "-"
    state_id = (
        "sudah diselesaikan BPKAD: periksa dokumennya" if row["resolved"] else "belum diselesaikan"
    )
    state_en = "resolved by BPKAD: check its documents" if row["resolved"] else "still open"
    start, end = row["period_start"], row["period_end"]
    span_id = hari(start) if start == end else f"{hari(start)} s.d. {hari(end)}"
    span_en = day_en(start) if start == end else f"{day_en(start)} to {day_en(end)}"
    return (
        f"SP2D {row['sp2d_number']}: {rupiah(row['amount'])} ditransfer ke rekening lain daripada "
        f"rekening penerima SP2D (rekening koran {span_id}, baris {lines}); {state_id}.",
        f"SP2D {row['sp2d_number']}: {rupiah(row['amount'])} was transferred to another account "
        f"than the SP2D's beneficiary (statement of {span_en}, line {lines}); {state_en}.",
    )


RULE = Rule(CODE, "Rekening penerima lain", "Paid to another account", find, explain)
