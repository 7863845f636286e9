"""Reconciliation runs of the RKUD and their exceptions (``ledger/reconciliation.py``).

``proj_run`` has one row per recorded run: its day, inputs and counts (JSON, as recorded), how many
exceptions it has and how many are resolved, who recorded it and when. ``proj_run_exception`` has
one row per exception, in the order the run listed them (``ordinal``), with its resolution once it
is resolved. An exception is resolved at most once (the aggregate refuses a second time), so the
count of resolutions tells open runs from closed ones. The free text (an exception's detail, a
resolution's reason) is sealed when the store is encrypted (``projections.sealing``).
"""

from __future__ import annotations

import json
from typing import Any

from projections.db import Cursor
from projections.model import ReadModel, RowChanges, insert_rows
from projections.sealing import Sealer
from projections.source import Fact

RESOLUTION = ("resolution", "reason", "resolved_by", "resolved_at")


class RunModel(ReadModel):
    name = "runs"
    tables = ("proj_run", "proj_run_exception")
    kinds = frozenset({"ReconciliationRun"})

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.runs = RowChanges("proj_run", "run_id")
        self.exceptions: dict[tuple[str, str], dict[str, Any]] = {}  # recorded in this batch
        self.resolutions: list[dict[str, Any]] = []  # of exceptions recorded in earlier batches

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_run ("
            " run_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, business_date TEXT NOT NULL,"
            " inputs TEXT NOT NULL, counts TEXT NOT NULL, exceptions INTEGER NOT NULL,"
            " resolved INTEGER NOT NULL DEFAULT 0, recorded_at TEXT NOT NULL,"
            " recorded_by TEXT NOT NULL, version INTEGER NOT NULL, position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_run_pemda ON proj_run (pemda, position)",
            "CREATE TABLE IF NOT EXISTS proj_run_exception ("
            " run_id TEXT NOT NULL, exception_id TEXT NOT NULL, ordinal INTEGER NOT NULL,"
            " status TEXT NOT NULL, amount BIGINT NOT NULL, reference TEXT, detail TEXT,"
            " resolution TEXT, reason TEXT, resolved_by TEXT, resolved_at TEXT,"
            " PRIMARY KEY (run_id, exception_id))",
            "CREATE INDEX IF NOT EXISTS proj_run_exception_order"
            " ON proj_run_exception (run_id, ordinal)",
        ]

    def apply(self, fact: Fact) -> None:
        if fact.name == "ReconciliationRun.Recorded":
            self._recorded(fact)
        elif fact.name == "ReconciliationRun.ExceptionResolved":
            self._resolved(fact)

    def _recorded(self, fact: Fact) -> None:
        b, run = fact.body, fact.aggregate_id
        self.runs.insert(
            run,
            {
                "run_id": run,
                "pemda": b["pemda"],
                "business_date": b["business_date"],
                "inputs": json.dumps(b["inputs"]),
                "counts": json.dumps(b["counts"]),
                "exceptions": len(b["exceptions"]),
                "resolved": 0,
                "recorded_at": fact.stamp,
                "recorded_by": b["actor_id"],
                "version": fact.version,
                "position": fact.position,
            },
        )
        for ordinal, e in enumerate(b["exceptions"]):
            self.exceptions[(run, e["id"])] = {
                "run_id": run,
                "exception_id": e["id"],
                "ordinal": ordinal,
                "status": e["status"],
                "amount": e["amount"],
                "reference": e.get("reference"),
                "detail": self.sealer.seal(e.get("detail")),
                **dict.fromkeys(RESOLUTION),
            }

    def _resolved(self, fact: Fact) -> None:
        b, run = fact.body, fact.aggregate_id
        resolution = {
            "resolution": b["resolution"],
            "reason": self.sealer.seal(b["reason"]),
            "resolved_by": b["actor_id"],
            "resolved_at": fact.stamp,
        }
        self.runs.set(run, version=fact.version)
        self.runs.add(run, resolved=1)
        recorded = self.exceptions.get((run, b["exception_id"]))
        if recorded is not None:
            recorded.update(resolution)
        else:
            self.resolutions.append({"run_id": run, "exception_id": b["exception_id"]} | resolution)

    def flush(self, cursor: Cursor) -> None:
        self.runs.flush(cursor)
        insert_rows(cursor, "proj_run_exception", list(self.exceptions.values()))
        cursor.executemany(
            "UPDATE proj_run_exception SET resolution = ?, reason = ?, resolved_by = ?,"
            " resolved_at = ? WHERE run_id = ? AND exception_id = ?",
            [[r[c] for c in (*RESOLUTION, "run_id", "exception_id")] for r in self.resolutions],
        )
        self.discard()

    def discard(self) -> None:
        self.runs.clear()
        self.exceptions.clear()
        self.resolutions.clear()
