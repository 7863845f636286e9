"""Who did what, when and why, per payment and per vendor: the history a payment's page and an
auditor read in one query, with each event's position in the log.

``proj_history`` has one row per event of a disbursement or a vendor, never updated: its position
(unique, the order), the aggregate, its version, the event's name, when (UTC ISO text), the actor
and their role, the reason if the event gives one, and the rest of what the event said
(``detail``, JSON). Reasons and details name people, firms and accounts: both are sealed
(``projections.sealing``).
"""

from __future__ import annotations

from typing import Any

from projections.db import Cursor
from projections.model import ReadModel, compact_json, insert_values
from projections.sealing import Sealer
from projections.source import Fact

# The envelope every event carries: shown in columns of their own, or not at all.
_ENVELOPE = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp",
                       "actor_id", "actor_role", "at", "reason"})  # fmt: skip
_KINDS = ("Disbursement.", "Vendor.")
# A pending row's values, in this order (``insert_values``).
COLUMNS = ("position", "aggregate_id", "version", "event", "at", "actor_id", "actor_role",
           "reason", "detail")  # fmt: skip


class HistoryModel(ReadModel):
    name = "history"
    tables = ("proj_history",)
    kinds = frozenset({"Disbursement", "Vendor"})

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.pending: list[tuple[Any, ...]] = []  # values in the order of COLUMNS

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_history ("
            " position BIGINT PRIMARY KEY, aggregate_id TEXT NOT NULL, version INTEGER NOT NULL,"
            " event TEXT NOT NULL, at TEXT NOT NULL, actor_id TEXT NOT NULL,"
            " actor_role TEXT NOT NULL, reason TEXT, detail TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_history_of ON proj_history (aggregate_id, position)",
        ]

    def apply(self, fact: Fact) -> None:
        if not fact.name.startswith(_KINDS):
            return
        body = fact.body
        reason = body.get("reason")
        detail = {k: v for k, v in body.items() if k not in _ENVELOPE}
        self.pending.append(
            (
                fact.position,
                fact.aggregate_id,
                fact.version,
                fact.name,
                fact.stamp,
                str(body.get("actor_id", "")),
                str(body.get("actor_role", "")),
                self.sealer.seal(reason if isinstance(reason, str) else None),
                self.sealer.seal(compact_json(detail)),
            )
        )

    def flush(self, cursor: Cursor) -> None:
        insert_values(cursor, "proj_history", COLUMNS, self.pending)
        self.pending.clear()

    def discard(self) -> None:
        self.pending.clear()
