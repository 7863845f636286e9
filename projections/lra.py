"""Budget realisation (LRA) per budget line, now and as of any day.

``proj_lra_line`` holds each line's current anggaran (pagu), committed, realisasi (spending realised
at SP2D) and income received, and the position of its allocation (the lines' order in the APBD);
``proj_lra_movement`` holds the same quantities as per-day changes, so the LRA as of a day is the
sum of the movements up to it. ``proj_lra_year`` holds each closed year (tutup tahun): from that
moment its LRA is final, with the totals and SiLPA the close recorded. Roll-ups (SKPD, program, kegiatan, sub
kegiatan, account levels) are computed when the report is read: see ``projections.queries``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from projections.db import Cursor
from projections.model import ReadModel, RowChanges, insert_rows
from projections.source import Fact

QUANTITIES = ("pagu", "committed", "realised", "revenue")

# What each event moves on its line (a receipt: on the income line it names), by quantity.
_MOVES: dict[str, Callable[[dict[str, Any]], dict[str, int]]] = {
    "BudgetLine.Amended": lambda b: {"pagu": b["delta"]},
    "BudgetLine.ShiftedOut": lambda b: {"pagu": -b["amount"]},
    "BudgetLine.ShiftedIn": lambda b: {"pagu": b["amount"]},
    "BudgetLine.Committed": lambda b: {"committed": b["amount"]},
    "BudgetLine.CommitmentReleased": lambda b: {"committed": -b["amount"]},
    "BudgetLine.Realised": lambda b: {"committed": -b["amount"], "realised": b["amount"]},
    "BudgetLine.RealisationReversed": lambda b: {"realised": -b["amount"]},
    # Year-end (ledger.yearend): a DPAL carry-over adds pagu, the SiLPA is the next year's
    # financing receipt; a lapse is a CommitmentReleased.
    "BudgetLine.CarriedOver": lambda b: {"pagu": b["amount"]},
    "BudgetLine.SilpaReceived": lambda b: {"revenue": b["amount"]},
    "Revenue.Received": lambda b: {"revenue": b["gross"]},
    "Revenue.Reversed": lambda b: {"revenue": -b["gross"]},
}
YEAR_COLUMNS = ("pemda", "year", "document", "silpa", "pendapatan", "penerimaan_pembiayaan",
                "belanja", "pengeluaran_pembiayaan", "lapsed", "lapsed_amount", "carried",
                "carried_amount")  # fmt: skip
_BLOCKED = {"BudgetLine.Blocked": 1, "BudgetLine.Unblocked": 0}


class LraModel(ReadModel):
    name = "lra"
    tables = ("proj_lra_line", "proj_lra_movement", "proj_lra_year")
    kinds = frozenset({"BudgetLine", "Budget", "Revenue"})

    def __init__(self) -> None:
        self.lines = RowChanges("proj_lra_line", "line_id")
        # (line_id, day) -> quantity -> change
        self.moves: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.closed: list[dict[str, Any]] = []

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_lra_line ("
            " line_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, year INTEGER NOT NULL,"
            " skpd TEXT NOT NULL, sub_kegiatan TEXT, rekening TEXT NOT NULL, uraian TEXT NOT NULL,"
            " allocated_on TEXT NOT NULL, blocked INTEGER NOT NULL DEFAULT 0,"
            " pagu BIGINT NOT NULL DEFAULT 0, committed BIGINT NOT NULL DEFAULT 0,"
            " realised BIGINT NOT NULL DEFAULT 0, revenue BIGINT NOT NULL DEFAULT 0,"
            " position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_lra_line_year ON proj_lra_line (pemda, year)",
            "CREATE TABLE IF NOT EXISTS proj_lra_movement ("
            " line_id TEXT NOT NULL, day TEXT NOT NULL,"
            " pagu BIGINT NOT NULL, committed BIGINT NOT NULL,"
            " realised BIGINT NOT NULL, revenue BIGINT NOT NULL,"
            " PRIMARY KEY (line_id, day))",
            "CREATE TABLE IF NOT EXISTS proj_lra_year ("
            " pemda TEXT NOT NULL, year INTEGER NOT NULL, closed_at TEXT NOT NULL,"
            " closed_on TEXT NOT NULL, document TEXT NOT NULL, silpa BIGINT NOT NULL,"
            " pendapatan BIGINT NOT NULL, penerimaan_pembiayaan BIGINT NOT NULL,"
            " belanja BIGINT NOT NULL, pengeluaran_pembiayaan BIGINT NOT NULL,"
            " lapsed INTEGER NOT NULL, lapsed_amount BIGINT NOT NULL,"
            " carried INTEGER NOT NULL, carried_amount BIGINT NOT NULL,"
            " PRIMARY KEY (pemda, year))",
        ]

    def _move(self, line_id: str, day: str, **changes: int) -> None:
        self.lines.add(line_id, **changes)
        pending = self.moves[(line_id, day)]
        for quantity, amount in changes.items():
            pending[quantity] += amount

    def apply(self, fact: Fact) -> None:
        if fact.name == "BudgetLine.Allocated":
            self._allocated(fact)
            return
        if fact.name == "Budget.YearClosed":
            b = fact.body
            self.closed.append(
                {"closed_at": fact.stamp, "closed_on": fact.day,
                 **{k: b[k] for k in YEAR_COLUMNS}}
            )  # fmt: skip
            return
        if fact.name in _BLOCKED:
            self.lines.set(fact.aggregate_id, blocked=_BLOCKED[fact.name])
            return
        move = _MOVES.get(fact.name)
        if move is not None:
            line = fact.body["line_id"] if fact.name.startswith("Revenue.") else fact.aggregate_id
            self._move(line, fact.day, **move(fact.body))

    def _allocated(self, fact: Fact) -> None:
        b, line = fact.body, fact.aggregate_id
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
                "allocated_on": fact.day,
                "blocked": 0,
                "pagu": 0,
                "committed": 0,
                "realised": 0,
                "revenue": 0,
                "position": fact.position,
            },
        )
        self._move(line, fact.day, pagu=b["pagu"])

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
        insert_rows(cursor, "proj_lra_year", self.closed, "")
        self.closed.clear()

    def discard(self) -> None:
        self.lines.clear()
        self.moves.clear()
        self.closed.clear()
