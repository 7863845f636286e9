"""Cash position of each pemda's RKUD by day.

Money leaves the RKUD when a transfer settles and comes back when the bank returns it; income comes
in net of the gateway's fee when a receipt settles, and goes out again when it is reversed. These
are exactly the movements of the ``cash:rkud`` account in ``ledger.postings``, and the consistency
tests hold the two to each other. The closing balance of a day is the running sum, computed when it
is read.

The bendahara's advance moves RKUD money too: the SP2D of an UP, GU or TU pays the bendahara's
account when it settles (``Advance.Received``, ``advance_out``) and a setoran of what is left comes
back (``Advance.CashReturned``, ``advance_in``).
"""

from __future__ import annotations

from collections import defaultdict

from projections.db import Cursor
from projections.model import ReadModel, insert_rows
from projections.source import Fact

COLUMNS = ("receipts_in", "returns_in", "payments_out", "refunds_out", "advance_in", "advance_out")
_MOVES = {
    "Disbursement.Settled": "payments_out",
    "Disbursement.Returned": "returns_in",
    "Revenue.Received": "receipts_in",
    "Revenue.Reversed": "refunds_out",
    "Advance.Received": "advance_out",
    "Advance.CashReturned": "advance_in",
}
_CACHE_LIMIT = 200_000


class CashModel(ReadModel):
    name = "cash"
    tables = ("proj_cash_day",)
    kinds = frozenset({"Disbursement", "Revenue", "Advance"})

    def __init__(self) -> None:
        # Settled, Returned and Reversed do not repeat the pemda: remember it from the first
        # event of each disbursement or receipt, or look it up in the statement tables.
        self.pemda_of: dict[str, str] = {}
        self.pending: list[tuple[str, str, str, int]] = []  # (aggregate id, day, column, amount)

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_cash_day ("
            " pemda TEXT NOT NULL, day TEXT NOT NULL,"
            " receipts_in BIGINT NOT NULL DEFAULT 0, returns_in BIGINT NOT NULL DEFAULT 0,"
            " payments_out BIGINT NOT NULL DEFAULT 0, refunds_out BIGINT NOT NULL DEFAULT 0,"
            " advance_in BIGINT NOT NULL DEFAULT 0, advance_out BIGINT NOT NULL DEFAULT 0,"
            " movements INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (pemda, day))"
        ]

    def apply(self, fact: Fact) -> None:
        name = fact.name
        if name in ("Disbursement.Requested", "Revenue.Received", "Advance.SetUp"):
            if len(self.pemda_of) > _CACHE_LIMIT:
                self.pemda_of.clear()
            self.pemda_of[fact.aggregate_id] = fact.body["pemda"]
        column = _MOVES.get(name)
        if column is None:
            return
        amount = fact.body["net"] if name.startswith("Revenue.") else fact.body["amount"]
        self.pending.append((fact.aggregate_id, fact.day, column, amount))

    def flush(self, cursor: Cursor) -> None:
        unknown = sorted({a for a, _, _, _ in self.pending if a not in self.pemda_of})
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for table, key in (
                ("proj_payment", "disbursement_id"),
                ("proj_receipt", "revenue_id"),
                ("proj_advance", "advance_id"),
            ):
                rows = cursor.fetchall(
                    f"SELECT {key}, pemda FROM {table} WHERE {key} IN ({marks})",  # noqa: S608
                    chunk,
                )
                self.pemda_of.update((str(k), str(p)) for k, p in rows)
        days: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for aggregate_id, day, column, amount in self.pending:
            totals = days[(self.pemda_of[aggregate_id], day)]
            totals[column] += amount
            totals["movements"] += 1
        columns = (*COLUMNS, "movements")
        insert_rows(
            cursor,
            "proj_cash_day",
            [{"pemda": p, "day": d, **{c: t[c] for c in columns}} for (p, d), t in days.items()],
            "ON CONFLICT (pemda, day) DO UPDATE SET "
            + ", ".join(f"{c} = proj_cash_day.{c} + excluded.{c}" for c in columns),
        )
        self.pending.clear()

    def discard(self) -> None:
        self.pending.clear()
