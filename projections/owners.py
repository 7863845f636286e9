"""Who owns what: the pemda (tenant) of every aggregate in the log, its type, and what scopes it.

``proj_owner`` has one row per aggregate, written from its first event (every aggregate names its
pemda there): its kind (the aggregate's class name), the position of that event, and for the rows
that scope a reader
  * a budget line's SKPD (an official of one SKPD reads its own SKPD's lines and payments),
  * a payment's budget line (its SKPD is its line's) and vendor (a vendor reads its own payments),
  * a receipt's budget line.
None of these ever changes after the first event, so a row is written once and never updated.

The API checks tenancy and scope here before it answers with one aggregate, and the audit export
keeps only this pemda's events by looking their aggregates up here.
"""

from __future__ import annotations

from typing import Any

from projections.db import Cursor
from projections.model import ReadModel, insert_rows
from projections.source import Fact

# The fields of a first event that say what scopes its aggregate (absent: NULL).
SCOPES = ("skpd", "line_id", "vendor_id")


class OwnerModel(ReadModel):
    name = "owners"
    tables = ("proj_owner",)

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_owner ("
            " aggregate_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, kind TEXT NOT NULL,"
            " skpd TEXT, line_id TEXT, vendor_id TEXT, position BIGINT NOT NULL)",
        ]

    def apply(self, fact: Fact) -> None:
        if fact.version != 1:  # most facts: checked first, it is the cheapest test
            return
        body = fact.body
        pemda = body.get("pemda")
        if not isinstance(pemda, str):
            return
        self.pending.append(
            {
                "aggregate_id": fact.aggregate_id,
                "pemda": pemda,
                "kind": fact.name.partition(".")[0],
                "position": fact.position,
                **{scope: _text(body.get(scope)) for scope in SCOPES},
            }
        )

    def flush(self, cursor: Cursor) -> None:
        insert_rows(cursor, "proj_owner", self.pending)
        self.pending.clear()

    def discard(self) -> None:
        self.pending.clear()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
