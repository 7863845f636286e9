"""Run the rules over the frames: flags, and how long each rule took.

Each rule's query is collected on its own so that a slow rule is named in the timings and one
rule's fault is that rule's (``RuleFailed`` names it); the frames are collected once first, so
the rules share the work of reading them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import polars as pl

from audit.flags import (
    FOUND,
    Evidence,
    Flag,
    Rule,
    Severity,
    SubjectKind,
)
from audit.frames import Frames
from audit.rules import RULES
from audit.thresholds import Thresholds
from ledger.errors import InvalidInput
from ledger.redflags import MAX_EVIDENCE_PER_FLAG, MAX_IDS_PER_FLAG

MAX_FLAGS_PER_RULE = 5_000  # beyond this a rule is mis-set for the pemda: its thresholds, not news


class RuleFailed(Exception):
    def __init__(self, code: str, error: Exception) -> None:
        super().__init__(f"red-flag rule {code} failed: {error}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Detection:
    flags: list[Flag]
    seconds: dict[str, float] = field(default_factory=dict)  # per rule code, and "load"
    truncated: dict[str, int] = field(default_factory=dict)  # rule code -> flags left off


def rules_named(codes: Iterable[str] | None) -> list[Rule]:
    """The rules of ``codes`` (every rule if None), in the registry's order; unknown codes refused."""
    if codes is None:
        return list(RULES.values())
    wanted = list(codes)
    unknown = [c for c in wanted if c not in RULES]
    if unknown:
        raise InvalidInput(
            f"unknown red-flag rule {', '.join(unknown)}; the rules are {', '.join(RULES)}"
        )
    return [rule for code, rule in RULES.items() if code in wanted]


def materialise(frames: Frames) -> Frames:
    """``frames`` collected once, so that every rule reads memory, not the query that built them."""
    collected = pl.collect_all(
        [frames.payments, frames.steps, frames.vendors, frames.accounts, frames.exceptions]
    )
    payments, steps, vendors, accounts, exceptions = (f.lazy() for f in collected)
    return replace(
        frames, payments=payments, steps=steps, vendors=vendors, accounts=accounts,
        exceptions=exceptions,
    )  # fmt: skip


def _flags(rule: Rule, found: pl.DataFrame) -> list[Flag]:
    flags = []
    for row in found.iter_rows(named=True):  # one row a flag, not a row of the history
        worded_id, worded_en = rule.explain(row)
        disbursements = tuple(sorted(set(row["disbursement_ids"] or ())))[:MAX_IDS_PER_FLAG]
        evidence = sorted(
            {(e["aggregate_id"], e["version"], e["position"]) for e in row["evidence"] or ()},
            key=lambda e: e[2],
        )[:MAX_EVIDENCE_PER_FLAG]
        flags.append(
            Flag(
                rule=rule.code,
                severity=Severity(row["severity"]),
                subject_kind=SubjectKind(row["subject_kind"]),
                subject_id=str(row["subject_id"]),
                amount=int(row["amount"]),
                period_start=row["period_start"],
                period_end=row["period_end"],
                disbursement_ids=disbursements,
                vendor_ids=tuple(sorted(set(row["vendor_ids"] or ()))),
                evidence=tuple(Evidence(*e) for e in evidence),
                explanation_id=worded_id,
                explanation_en=worded_en,
                key=str(row.get("finding_key") or ""),
            )
        )
    return flags


def _check_schema(rule: Rule, found: pl.DataFrame) -> None:
    for name, dtype in FOUND.items():
        if name not in found.columns:
            raise AssertionError(f"rule {rule.code} yields no column {name}")
        if found.schema[name] != dtype:
            raise AssertionError(f"rule {rule.code}: {name} is {found.schema[name]}, not {dtype}")


def detect(frames: Frames, thresholds: Thresholds, codes: Iterable[str] | None = None) -> Detection:
    """Every flag of the rules named (all by default) over ``frames``, ordered by rule, severity,
    then amount at risk (largest first)."""
    rules = rules_named(codes)
    started = time.perf_counter()
    frames = materialise(frames)
    seconds = {"load": time.perf_counter() - started}
    flags: list[Flag] = []
    truncated: dict[str, int] = {}
    for rule in rules:
        started = time.perf_counter()
        try:
            found = rule.find(frames, thresholds).collect()
        except pl.exceptions.PolarsError as error:
            raise RuleFailed(rule.code, error) from error
        _check_schema(rule, found)
        if found.height > MAX_FLAGS_PER_RULE:
            truncated[rule.code] = found.height - MAX_FLAGS_PER_RULE
            found = found.sort("amount", descending=True).head(MAX_FLAGS_PER_RULE)
        flags.extend(_flags(rule, found))
        seconds[rule.code] = time.perf_counter() - started
    order = {s: i for i, s in enumerate(Severity)}
    codes_order = {code: i for i, code in enumerate(RULES)}
    flags.sort(key=lambda f: (codes_order[f.rule], order[f.severity], -f.amount, f.id))
    return Detection(flags, seconds, truncated)
