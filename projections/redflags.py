"""Red flags and their runs (``ledger/redflags.py``), as the auditor's pages and the warnings read them.

- ``proj_flag``: one row a flag, with its content as raised (the JSON lists as text), its status
  (open until reviewed; confirmed, dismissed or escalated after), the last review, the run that
  raised it and the last run that found it again.
- ``proj_flag_review``: every review, in order (who, when, the decision, the reason sealed).
- ``proj_flag_link``: which payments and vendors each flag names, so that the warnings at the
  moment a payment is decided are one indexed lookup.
- ``proj_flag_run``: one row a run: the log position it read, the day, the thresholds' digest, the
  rules, how many flags it found and raised.
"""

from __future__ import annotations

import json
from typing import Any

from ledger import ids
from projections.db import Cursor
from projections.model import ReadModel, RowChanges, insert_rows
from projections.sealing import Sealer
from projections.source import Fact

_REVIEW_UPDATE = ("decision", "actor_id", "at", "reason", "version", "position", "aggregate_id")


class RedFlagModel(ReadModel):
    name = "redflags"
    tables = ("proj_flag", "proj_flag_review", "proj_flag_link", "proj_flag_run")
    kinds = frozenset({"RedFlagRun", "RedFlag"})

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        # Keyed by the aggregate: a flag's own id is unique within its pemda only.
        self.flags = RowChanges("proj_flag", "aggregate_id")
        self.reviews: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_flag ("
            " aggregate_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, flag_id TEXT NOT NULL,"
            " rule TEXT NOT NULL, severity TEXT NOT NULL, subject_kind TEXT NOT NULL,"
            " subject_id TEXT NOT NULL, amount BIGINT NOT NULL, period_from TEXT NOT NULL,"
            " period_to TEXT NOT NULL, disbursement_ids TEXT NOT NULL, vendor_ids TEXT NOT NULL,"
            " evidence TEXT NOT NULL, explanation_id TEXT NOT NULL, explanation_en TEXT NOT NULL,"
            " status TEXT NOT NULL, raised_at TEXT NOT NULL, raised_by_run TEXT NOT NULL,"
            " last_run TEXT NOT NULL, reviewed_by TEXT, reviewed_at TEXT, reason TEXT,"
            " version INTEGER NOT NULL, position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_flag_order ON proj_flag (pemda, position)",
            "CREATE UNIQUE INDEX IF NOT EXISTS proj_flag_id ON proj_flag (pemda, flag_id)",
            "CREATE TABLE IF NOT EXISTS proj_flag_review ("
            " aggregate_id TEXT NOT NULL, version INTEGER NOT NULL, decision TEXT NOT NULL,"
            " reason TEXT NOT NULL, actor_id TEXT NOT NULL, at TEXT NOT NULL,"
            " position BIGINT NOT NULL, PRIMARY KEY (aggregate_id, version))",
            "CREATE TABLE IF NOT EXISTS proj_flag_link ("
            " aggregate_id TEXT NOT NULL, pemda TEXT NOT NULL, kind TEXT NOT NULL,"
            " ref_id TEXT NOT NULL, PRIMARY KEY (aggregate_id, kind, ref_id))",
            "CREATE INDEX IF NOT EXISTS proj_flag_link_ref ON proj_flag_link (pemda, kind, ref_id)",
            "CREATE TABLE IF NOT EXISTS proj_flag_run ("
            " run_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, log_position BIGINT NOT NULL,"
            " as_of TEXT, thresholds TEXT NOT NULL, thresholds_digest TEXT NOT NULL,"
            " rules TEXT NOT NULL, flags INTEGER NOT NULL, truncated TEXT NOT NULL,"
            " recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL, position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_flag_run_order ON proj_flag_run (pemda, position)",
        ]

    def apply(self, fact: Fact) -> None:
        if fact.name == "RedFlagRun.Recorded":
            self._run(fact)
        elif fact.name == "RedFlag.Raised":
            self._raised(fact)
        elif fact.name == "RedFlag.Reviewed":
            self._reviewed(fact)

    def _run(self, fact: Fact) -> None:
        b = fact.body
        self.runs.append(
            {
                "run_id": fact.aggregate_id, "pemda": b["pemda"], "log_position": b["position"],
                "as_of": b["as_of"], "thresholds": json.dumps(b["thresholds"], sort_keys=True),
                "thresholds_digest": b["thresholds_digest"], "rules": json.dumps(b["rules"]),
                "flags": len(b["flag_ids"]), "truncated": json.dumps(b["truncated"]),
                "recorded_at": fact.stamp, "recorded_by": b["actor_id"],
                "position": fact.position,
            }
        )  # fmt: skip
        # Flags found again: their last run is this one (those raised by it are set on insert).
        for flag_id in b["flag_ids"]:
            self.flags.set(str(ids.red_flag_id(b["pemda"], flag_id)), last_run=fact.aggregate_id)

    def _raised(self, fact: Fact) -> None:
        b = fact.body
        flag = b["flag"]
        self.flags.insert(
            fact.aggregate_id,
            {
                "flag_id": flag["id"], "pemda": b["pemda"], "aggregate_id": fact.aggregate_id,
                "rule": flag["rule"], "severity": flag["severity"],
                "subject_kind": flag["subject"]["kind"], "subject_id": flag["subject"]["id"],
                "amount": flag["amount"], "period_from": flag["period"]["from"],
                "period_to": flag["period"]["to"],
                "disbursement_ids": json.dumps(flag["disbursement_ids"]),
                "vendor_ids": json.dumps(flag["vendor_ids"]),
                "evidence": json.dumps(flag["evidence"]),
                "explanation_id": flag["explanation"]["id"],
                "explanation_en": flag["explanation"]["en"],
                "status": "open", "raised_at": fact.stamp, "raised_by_run": b["run_id"],
                "last_run": b["run_id"], "reviewed_by": None, "reviewed_at": None,
                "reason": None, "version": fact.version, "position": fact.position,
            },
        )  # fmt: skip
        for kind, refs in (
            ("disbursement", flag["disbursement_ids"]),
            ("vendor", flag["vendor_ids"]),
        ):
            self.links.extend(
                {
                    "aggregate_id": fact.aggregate_id,
                    "pemda": b["pemda"],
                    "kind": kind,
                    "ref_id": ref,
                }
                for ref in dict.fromkeys(refs)
            )

    def _reviewed(self, fact: Fact) -> None:
        b = fact.body
        reason = self.sealer.seal(b["reason"])
        self.reviews.append(
            {
                "aggregate_id": fact.aggregate_id, "version": fact.version,
                "decision": b["decision"], "reason": reason, "actor_id": b["actor_id"],
                "at": fact.stamp, "position": fact.position,
            }
        )  # fmt: skip

    def flush(self, cursor: Cursor) -> None:
        self.flags.flush(cursor)
        insert_rows(cursor, "proj_flag_link", self.links)
        insert_rows(cursor, "proj_flag_run", self.runs)
        insert_rows(cursor, "proj_flag_review", self.reviews)
        for review in self.reviews:  # reviews are a person's decisions: few per batch
            cursor.execute(
                "UPDATE proj_flag SET status = ?, reviewed_by = ?, reviewed_at = ?, reason = ?,"
                " version = ?, position = ? WHERE aggregate_id = ?",
                [review[k] for k in _REVIEW_UPDATE],
            )
        self.discard()

    def discard(self) -> None:
        self.flags.clear()
        self.reviews.clear()
        self.links.clear()
        self.runs.clear()
