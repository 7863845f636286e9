"""What a flag is, and what a rule hands the engine.

A rule is a lazy Polars query from the frames (``audit.frames``) to rows of ``FOUND`` (one row a
flag) plus whatever figures its explanation needs, and a function that words one row in Bahasa
Indonesia and in English. The engine collects the query, words each row and builds ``Flag``s: the
only Python loop is over flags, never over the history's rows.

A flag's id is derived from what it is about (its rule, subject and payments), not from when it
was found: the same split purchase found by tonight's run and next week's is one flag, which is
what lets an inspector's review stick to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

import polars as pl

from ledger.redflags import (
    FLAG_FIELDS,
    MAX_EVIDENCE_PER_FLAG,
    MAX_IDS_PER_FLAG,
    SEVERITIES,
    SUBJECT_KINDS,
)

# A flag's fields and the bounds of what one names are the ledger's, which records them.
_FLAG_NAMESPACE = UUID("0b8d6c8e-15a1-5f0e-9d43-6b1f7a2c9e55")


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class SubjectKind(StrEnum):
    DISBURSEMENT = "disbursement"
    VENDOR = "vendor"
    SKPD = "skpd"
    USER = "user"
    LINE = "line"


assert tuple(Severity) == SEVERITIES and tuple(SubjectKind) == SUBJECT_KINDS


def schema(columns: dict[str, Any]) -> pl.Schema:
    """A frame's schema from a literal mixing dtype classes and instances (mypy types both)."""
    return pl.Schema(columns)


EVIDENCE_TYPE = pl.Struct({"aggregate_id": pl.String, "version": pl.Int64, "position": pl.Int64})
# What every rule's query yields, at least (a rule adds the columns its explanation reads).
FOUND = schema(
    {
        "severity": pl.String,  # a Severity value
        "subject_kind": pl.String,  # a SubjectKind value
        "subject_id": pl.String,
        "amount": pl.Int64,  # rupiah at risk
        "period_start": pl.Date,  # in the pemda's time zone
        "period_end": pl.Date,
        "disbursement_ids": pl.List(pl.String),
        "vendor_ids": pl.List(pl.String),
        "evidence": pl.List(EVIDENCE_TYPE),
    }
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One event behind a flag: find it in the log at ``position``, check it against the chain."""

    aggregate_id: str
    version: int
    position: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "position": self.position,
        }


@dataclass(frozen=True, slots=True)
class Flag:
    rule: str
    severity: Severity
    subject_kind: SubjectKind
    subject_id: str
    amount: int
    period_start: date
    period_end: date
    disbursement_ids: tuple[str, ...]
    vendor_ids: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    explanation_id: str  # Bahasa Indonesia, with the figures
    explanation_en: str
    # What the finding is about beyond its subject, for the rules whose findings grow (an SKPD's
    # year, a vendor's share of a rekening): its id then stays as the year's payments are added,
    # and an inspector's review stays with it. Empty: the payments named are the finding.
    key: str = ""

    def __post_init__(self) -> None:
        assert type(self.amount) is int and self.amount >= 0, self.amount
        assert self.period_start <= self.period_end, (self.rule, self.period_start, self.period_end)
        assert self.explanation_id and self.explanation_en, self.rule
        assert len(self.disbursement_ids) <= MAX_IDS_PER_FLAG
        assert 1 <= len(self.evidence) <= MAX_EVIDENCE_PER_FLAG, (self.rule, self.subject_id)

    @property
    def id(self) -> str:
        return flag_id(
            self.rule, self.subject_kind, self.subject_id, self.disbursement_ids, self.key
        )

    def as_dict(self) -> dict[str, Any]:
        """The flag as JSON-able data with exactly ``FLAG_FIELDS``."""
        body = {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity.value,
            "subject": {"kind": self.subject_kind.value, "id": self.subject_id},
            "amount": self.amount,
            "period": {"from": self.period_start.isoformat(), "to": self.period_end.isoformat()},
            "disbursement_ids": list(self.disbursement_ids),
            "vendor_ids": list(self.vendor_ids),
            "evidence": [e.as_dict() for e in self.evidence],
            "explanation": {"id": self.explanation_id, "en": self.explanation_en},
        }
        assert tuple(body) == FLAG_FIELDS
        return body


def flag_id(
    rule: str, kind: str, subject: str, disbursement_ids: tuple[str, ...], key: str = ""
) -> str:
    """The stable id of a flag: its rule, its subject and its ``key`` if the rule gives one, else
    the payments it names, in any order."""
    about = ("key", key) if key else tuple(sorted(disbursement_ids))
    return str(uuid5(_FLAG_NAMESPACE, "\x1f".join((rule, kind, subject, *about))))


Explain = Callable[[dict[str, Any]], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One red-flag rule: its stable ``code``, its query and its wording.

    ``find(frames, thresholds)`` returns a LazyFrame with at least the columns of ``FOUND``;
    ``explain(row)`` words one of its rows (a dict with every column the query yields) as one
    sentence in Bahasa Indonesia and one in English, with the figures.
    """

    code: str
    title_id: str  # the rule's name on screens, e.g. "Pecah paket"
    title_en: str
    find: Callable[[Any, Any], pl.LazyFrame]  # (Frames, Thresholds) -> LazyFrame
    explain: Explain
