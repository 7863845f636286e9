"""Anggaran kas and SPD per SKPD and year, as the ``CashPlan`` aggregate records them.

``proj_cashplan``       one row per SKPD and year: its decisions, and SPD issued, committed and
                        realised now (the kendali SPD);
``proj_cashplan_line``  one row per line each time its plan is set (adopted or amended), never
                        updated: the line's twelve months as of that position, so the plan as of a
                        day is each line's last row on or before it;
``proj_spd``            one row per SPD document: number, period, amount, who issued it and when;
``proj_cashplan_day``   committed and realised moved per day, so use as of a day and realisation
                        per month are sums of these.

Each event carries what it moves (``ledger.cashplan``), so nothing here needs another model.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from projections.db import Cursor
from projections.model import ReadModel, RowChanges, insert_rows
from projections.source import Fact

MONTHS = 12
MONTH_COLUMNS = tuple(f"m{month:02d}" for month in range(1, MONTHS + 1))

# What each charge event moves on its SKPD's SPD, by quantity.
_MOVES: dict[str, tuple[tuple[str, int], ...]] = {
    "CashPlan.Charged": (("committed", 1),),
    "CashPlan.ChargeReleased": (("committed", -1),),
    "CashPlan.ChargeRealised": (("committed", -1), ("realised", 1)),
    "CashPlan.ChargeReversed": (("realised", -1),),
}


class CashPlanModel(ReadModel):
    name = "cashplan"
    tables = ("proj_cashplan", "proj_cashplan_line", "proj_spd", "proj_cashplan_day")
    kinds = frozenset({"CashPlan"})

    def __init__(self) -> None:
        self.plans = RowChanges("proj_cashplan", "plan_id")
        self.lines: list[dict[str, Any]] = []
        self.spd: list[dict[str, Any]] = []
        self.days: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # Decisions of plans adopted in earlier batches are appended to in SQL, not here.
        self.decisions: dict[str, list[str]] = defaultdict(list)

    def schema(self) -> list[str]:
        months = ", ".join(f"{m} BIGINT NOT NULL" for m in MONTH_COLUMNS)
        return [
            "CREATE TABLE IF NOT EXISTS proj_cashplan ("
            " plan_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, year INTEGER NOT NULL,"
            " skpd TEXT NOT NULL, adopted_on TEXT NOT NULL, decisions TEXT NOT NULL,"
            " issued BIGINT NOT NULL DEFAULT 0, committed BIGINT NOT NULL DEFAULT 0,"
            " realised BIGINT NOT NULL DEFAULT 0, position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_cashplan_year ON proj_cashplan (pemda, year, skpd)",
            "CREATE TABLE IF NOT EXISTS proj_cashplan_line ("
            " line_id TEXT NOT NULL, position BIGINT NOT NULL, plan_id TEXT NOT NULL,"
            f" day TEXT NOT NULL, decision TEXT NOT NULL, {months},"
            " PRIMARY KEY (line_id, position))",
            "CREATE INDEX IF NOT EXISTS proj_cashplan_line_plan ON proj_cashplan_line (plan_id)",
            "CREATE TABLE IF NOT EXISTS proj_spd ("
            " plan_id TEXT NOT NULL, number TEXT NOT NULL, first_month INTEGER NOT NULL,"
            " last_month INTEGER NOT NULL, amount BIGINT NOT NULL, actor_id TEXT NOT NULL,"
            " actor_role TEXT NOT NULL, at TEXT NOT NULL, day TEXT NOT NULL,"
            " position BIGINT NOT NULL, PRIMARY KEY (plan_id, number))",
            "CREATE TABLE IF NOT EXISTS proj_cashplan_day ("
            " plan_id TEXT NOT NULL, day TEXT NOT NULL, committed BIGINT NOT NULL,"
            " realised BIGINT NOT NULL, PRIMARY KEY (plan_id, day))",
        ]

    def apply(self, fact: Fact) -> None:
        if not fact.name.startswith("CashPlan."):
            return
        name, body, plan = fact.name, fact.body, fact.aggregate_id
        moves = _MOVES.get(name)
        if moves is not None:
            day = self.days[(plan, fact.day)]
            for quantity, sign in moves:
                day[quantity] += sign * body["amount"]
                self.plans.add(plan, **{quantity: sign * body["amount"]})
        elif name == "CashPlan.SpdIssued":
            self._spd_issued(fact)
        elif name == "CashPlan.Adopted":
            self._adopted(fact)
        elif name == "CashPlan.Amended":
            self.decisions[plan].append(body["document"])
            self._plans(fact)

    def _adopted(self, fact: Fact) -> None:
        b = fact.body
        self.plans.insert(
            fact.aggregate_id,
            {
                "plan_id": fact.aggregate_id,
                "pemda": b["pemda"],
                "year": b["year"],
                "skpd": b["skpd"],
                "adopted_on": fact.day,
                "decisions": json.dumps([b["document"]]),
                "issued": 0,
                "committed": 0,
                "realised": 0,
                "position": fact.position,
            },
        )
        self._plans(fact)

    def _plans(self, fact: Fact) -> None:
        for line_id, months in fact.body["plans"].items():
            self.lines.append(
                {
                    "line_id": line_id,
                    "position": fact.position,
                    "plan_id": fact.aggregate_id,
                    "day": fact.day,
                    "decision": fact.body["document"],
                    **dict(zip(MONTH_COLUMNS, months, strict=True)),
                }
            )

    def _spd_issued(self, fact: Fact) -> None:
        b = fact.body
        self.spd.append(
            {
                "plan_id": fact.aggregate_id,
                "number": b["number"],
                "first_month": b["first_month"],
                "last_month": b["last_month"],
                "amount": b["amount"],
                "actor_id": str(b["actor_id"]),
                "actor_role": str(b["actor_role"]),
                "at": fact.stamp,
                "day": fact.day,
                "position": fact.position,
            }
        )
        self.plans.add(fact.aggregate_id, issued=b["amount"])

    def flush(self, cursor: Cursor) -> None:
        for plan, documents in self.decisions.items():
            new = self.plans.new.get(plan)
            if new is not None:  # adopted in this batch: its row is not written yet
                new["decisions"] = json.dumps([*json.loads(new["decisions"]), *documents])
                continue
            row = cursor.fetchone("SELECT decisions FROM proj_cashplan WHERE plan_id = ?", (plan,))
            known = json.loads(row[0]) if row is not None else []
            self.plans.set(plan, decisions=json.dumps([*known, *documents]))
        self.plans.flush(cursor)
        insert_rows(cursor, "proj_cashplan_line", self.lines)
        insert_rows(cursor, "proj_spd", self.spd)
        insert_rows(
            cursor,
            "proj_cashplan_day",
            [
                {"plan_id": p, "day": d, "committed": q["committed"], "realised": q["realised"]}
                for (p, d), q in self.days.items()
            ],
            "ON CONFLICT (plan_id, day) DO UPDATE SET"
            " committed = proj_cashplan_day.committed + excluded.committed,"
            " realised = proj_cashplan_day.realised + excluded.realised",
        )
        self.discard()

    def discard(self) -> None:
        self.plans.clear()
        self.lines.clear()
        self.spd.clear()
        self.days.clear()
        self.decisions.clear()
