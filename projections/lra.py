"""Budget realisation (LRA) per budget line, now and as of any day.

``proj_lra_line`` holds each line's current anggaran (pagu), committed, realisasi (spending realised
at SP2D) and income received; ``proj_lra_movement`` holds the same quantities as per-day changes, so
the LRA as of a day is the sum of the movements up to it. Roll-ups (SKPD, program, kegiatan, sub
kegiatan, account levels) are computed when the report is read: see ``projections.queries``.
"""

from __future__ import annotations

from collections import defaultdict

from projections.db import Cursor
from projections.model import ReadModel, RowChanges, insert_rows
from projections.source import Fact

QUANTITIES = ("pagu", "committed", "realised", "revenue")


class LraModel(ReadModel):
    name = "lra"
    tables = ("proj_lra_line", "proj_lra_movement")

    def __init__(self) -> None:
        self.lines = RowChanges("proj_lra_line", "line_id")
        # (line_id, day) -> quantity -> change
        self.moves: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_lra_line ("
            " line_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, year INTEGER NOT NULL,"
            " skpd TEXT NOT NULL, sub_kegiatan TEXT, rekening TEXT NOT NULL, uraian TEXT NOT NULL,"
            " allocated_on TEXT NOT NULL, blocked INTEGER NOT NULL DEFAULT 0,"
            " pagu BIGINT NOT NULL DEFAULT 0, committed BIGINT NOT NULL DEFAULT 0,"
            " realised BIGINT NOT NULL DEFAULT 0, revenue BIGINT NOT NULL DEFAULT 0)",
            "CREATE INDEX IF NOT EXISTS proj_lra_line_year ON proj_lra_line (pemda, year)",
            "CREATE TABLE IF NOT EXISTS proj_lra_movement ("
            " line_id TEXT NOT NULL, day TEXT NOT NULL,"
            " pagu BIGINT NOT NULL, committed BIGINT NOT NULL,"
            " realised BIGINT NOT NULL, revenue BIGINT NOT NULL,"
            " PRIMARY KEY (line_id, day))",
        ]

    def _move(self, line_id: str, day: str, **changes: int) -> None:
        self.lines.add(line_id, **changes)
        pending = self.moves[(line_id, day)]
        for quantity, amount in changes.items():
            pending[quantity] += amount

    def apply(self, fact: Fact) -> None:
        b, line, day = fact.body, fact.aggregate_id, fact.day
        match fact.name:
            case "BudgetLine.Allocated":
                self.lines.insert(
                    line,
                    {
                        "line_id": line,
                        "pemda": b["pemda"],
                        "year": b["year"],
                        "skpd": b["skpd"],
                        "sub_kegiatan": b["sub_kegiatan"],
                        "rekening": b["rekening"],
                        "uraian": b["uraian"],
                        "allocated_on": day,
                        "blocked": 0,
                        "pagu": 0,
                        "committed": 0,
                        "realised": 0,
                        "revenue": 0,
                    },
                )
                self._move(line, day, pagu=b["pagu"])
            case "BudgetLine.Amended":
                self._move(line, day, pagu=b["delta"])
            case "BudgetLine.ShiftedOut":
                self._move(line, day, pagu=-b["amount"])
            case "BudgetLine.ShiftedIn":
                self._move(line, day, pagu=b["amount"])
            case "BudgetLine.Blocked":
                self.lines.set(line, blocked=1)
            case "BudgetLine.Unblocked":
                self.lines.set(line, blocked=0)
            case "BudgetLine.Committed":
                self._move(line, day, committed=b["amount"])
            case "BudgetLine.CommitmentReleased":
                self._move(line, day, committed=-b["amount"])
            case "BudgetLine.Realised":
                self._move(line, day, committed=-b["amount"], realised=b["amount"])
            case "BudgetLine.RealisationReversed":
                self._move(line, day, realised=-b["amount"])
            case "Revenue.Received":
                self._move(b["line_id"], day, revenue=b["gross"])
            case "Revenue.Reversed":
                self._move(b["line_id"], day, revenue=-b["gross"])

    def flush(self, cursor: Cursor) -> None:
        self.lines.flush(cursor)
        rows = [
            {"line_id": line, "day": day, **{k: q[k] for k in QUANTITIES}}
            for (line, day), q in self.moves.items()
        ]
        insert_rows(
            cursor,
            "proj_lra_movement",
            rows,
            "ON CONFLICT (line_id, day) DO UPDATE SET "
            + ", ".join(f"{k} = proj_lra_movement.{k} + excluded.{k}" for k in QUANTITIES),
        )
        self.moves.clear()

    def discard(self) -> None:
        self.lines.clear()
        self.moves.clear()
