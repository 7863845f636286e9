"""Reading the anggaran kas and SPD (``projections.cashplan``): the SKPDs of a year with their
plan, SPD and use; one SKPD's plan by line and month, its SPD register and, per month, what its SPD
still makes available; now or as of the end of a day. Scoped like ``projections.queries``: one
pemda, and one SKPD when the reader is an official of one.

Month arithmetic follows the domain (``ledger.cashplan``): an SPD makes its amount available from
the first month of its period; available in a month = SPD issued for periods begun by then - used
(committed + realised) now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger import ids
from ledger.codes import normalise_skpd
from projections.cashplan import MONTH_COLUMNS, MONTHS
from projections.db import Cursor, ReadDatabase
from projections.queries import MAX_PAGE, Listing

SPD_ROW = ("s.number", "p.skpd", "p.year", "s.first_month", "s.last_month", "s.amount",
           "s.actor_id", "s.actor_role", "s.at", "s.day")  # fmt: skip
_LAST_DAY = "9999-12-31"


@dataclass(frozen=True, slots=True)
class Month:
    """One month of an SKPD's year: what the plan, the SPD and the spending hold."""

    month: int
    planned: int  # the anggaran kas of the month
    spd: int  # SPD whose period begins this month
    realised: int  # realisasi (SP2D) this month
    planned_through: int
    spd_through: int
    available: int  # SPD begun by this month - used


@dataclass(frozen=True, slots=True)
class CashPlanView:
    skpd: str
    year: int
    decisions: list[str]
    lines: list[dict[str, Any]]  # line_id, sub_kegiatan, rekening, uraian, pagu, months, planned
    spd: list[dict[str, Any]]  # the register, oldest first
    months: list[Month] = field(default_factory=list)
    committed: int = 0
    realised: int = 0

    @property
    def planned(self) -> int:
        return sum(line["planned"] for line in self.lines)

    @property
    def issued(self) -> int:
        return sum(int(s["amount"]) for s in self.spd)

    @property
    def used(self) -> int:
        return self.committed + self.realised


def runs_on_spd(db: ReadDatabase, pemda: str, year: int) -> bool:
    """Whether ``year`` runs on SPD: an anggaran kas is adopted for some SKPD (``ledger.budget``)."""
    with db.transaction(write=False) as cursor:
        row = cursor.fetchone(
            "SELECT 1 FROM proj_cashplan WHERE pemda = ? AND year = ? LIMIT 1", (pemda, year)
        )
    return row is not None


def cash_plans(
    db: ReadDatabase, pemda: str, year: int, *, skpd: str | None = None
) -> list[dict[str, Any]]:
    """Every SKPD with an anggaran kas in ``year``: skpd, planned, issued, committed, realised,
    decisions (one SKPD's only, if ``skpd`` is given)."""
    only, params = ("", []) if skpd is None else (" AND p.skpd = ?", [normalise_skpd(skpd)])
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT p.plan_id, p.skpd, p.issued, p.committed, p.realised, p.decisions"  # noqa: S608
            " FROM proj_cashplan p WHERE p.pemda = ? AND p.year = ?"
            f"{only} ORDER BY p.skpd",
            [pemda, year, *params],
        )
        planned = _planned(cursor, [str(r[0]) for r in rows], _LAST_DAY)
    return [
        {
            "skpd": r[1],
            "planned": sum(sum(m) for m in planned.get(str(r[0]), {}).values()),
            "issued": int(r[2]),
            "committed": int(r[3]),
            "realised": int(r[4]),
            "decisions": json.loads(r[5]),
        }
        for r in rows
    ]


def _planned(cursor: Cursor, plan_ids: list[str], day: str) -> dict[str, dict[str, list[int]]]:
    """plan id -> line id -> its twelve months as last set on or before ``day``."""
    if not plan_ids:
        return {}
    marks = ", ".join("?" * len(plan_ids))
    rows = cursor.fetchall(
        f"SELECT plan_id, line_id, position, {', '.join(MONTH_COLUMNS)}"  # noqa: S608
        f" FROM proj_cashplan_line WHERE plan_id IN ({marks}) AND day <= ? ORDER BY position",
        [*plan_ids, day],
    )
    found: dict[str, dict[str, list[int]]] = {}
    for row in rows:  # in position order: a line's later plan replaces its earlier one
        found.setdefault(str(row[0]), {})[str(row[1])] = [int(v) for v in row[3:]]
    return found


def cash_plan(
    db: ReadDatabase, pemda: str, year: int, skpd: str, as_of: date | None = None
) -> CashPlanView | None:
    """One SKPD's anggaran kas, SPD and use by month, now or at the end of ``as_of`` (a day in the
    pemda's time zone); None if it has no anggaran kas (by then)."""
    skpd = normalise_skpd(skpd)
    plan_id = str(ids.cash_plan_id(pemda, year, skpd))
    day = _LAST_DAY if as_of is None else as_of.isoformat()
    with db.transaction(write=False) as cursor:
        head = cursor.fetchone(
            "SELECT decisions FROM proj_cashplan WHERE plan_id = ? AND adopted_on <= ?",
            (plan_id, day),
        )
        if head is None:
            return None
        plans = _planned(cursor, [plan_id], day).get(plan_id, {})
        lines = _lines(cursor, plans)
        decisions = _decisions(cursor, plan_id, day)
        spd = db.sealer.opened(
            tuple(c.split(".")[-1] for c in SPD_ROW),
            cursor.fetchall(
                f"SELECT {', '.join(SPD_ROW)} FROM proj_spd s"  # noqa: S608
                " JOIN proj_cashplan p ON p.plan_id = s.plan_id"
                " WHERE s.plan_id = ? AND s.day <= ? ORDER BY s.position",
                (plan_id, day),
            ),
        )
        days = cursor.fetchall(
            "SELECT day, committed, realised FROM proj_cashplan_day WHERE plan_id = ? AND day <= ?",
            (plan_id, day),
        )
    committed = sum(int(r[1]) for r in days)
    realised_by_month = [0] * MONTHS
    for when, _, realised in days:
        realised_by_month[_month(str(when), year) - 1] += int(realised)
    view = CashPlanView(skpd, year, decisions, lines, spd)
    months = _months(view, realised_by_month, committed + sum(realised_by_month))
    return CashPlanView(
        skpd, year, decisions, lines, spd, months, committed, sum(realised_by_month)
    )


def _lines(cursor: Cursor, plans: dict[str, list[int]]) -> list[dict[str, Any]]:
    if not plans:
        return []
    marks = ", ".join("?" * len(plans))
    rows = cursor.fetchall(
        "SELECT line_id, sub_kegiatan, rekening, uraian, pagu FROM proj_lra_line"  # noqa: S608
        f" WHERE line_id IN ({marks}) ORDER BY position",
        list(plans),
    )
    return [
        {
            "line_id": str(r[0]),
            "sub_kegiatan": r[1],
            "rekening": r[2],
            "uraian": r[3],
            "pagu": int(r[4]),
            "months": plans[str(r[0])],
            "planned": sum(plans[str(r[0])]),
        }
        for r in rows
    ]


def _decisions(cursor: Cursor, plan_id: str, day: str) -> list[str]:
    rows = cursor.fetchall(
        "SELECT decision FROM proj_cashplan_line WHERE plan_id = ? AND day <= ?"
        " GROUP BY position, decision ORDER BY position",
        (plan_id, day),
    )
    return [str(r[0]) for r in rows]


def _month(day: str, year: int) -> int:
    """The month of ``year`` a day falls in; a day before the year counts in January, after it in
    December (the realisation table has only the year's months)."""
    found = int(day[:4])
    if found != year:
        return 1 if found < year else MONTHS
    return int(day[5:7])


def _months(view: CashPlanView, realised: list[int], used: int) -> list[Month]:
    planned = [sum(line["months"][m] for line in view.lines) for m in range(MONTHS)]
    spd = [0] * MONTHS
    for s in view.spd:
        spd[int(s["first_month"]) - 1] += int(s["amount"])
    months = []
    for m in range(MONTHS):
        spd_through = sum(spd[: m + 1])
        months.append(
            Month(
                month=m + 1,
                planned=planned[m],
                spd=spd[m],
                realised=realised[m],
                planned_through=sum(planned[: m + 1]),
                spd_through=spd_through,
                available=spd_through - used,
            )
        )
    return months


def available(db: ReadDatabase, pemda: str, year: int, skpd: str, month: int) -> int | None:
    """What an SKPD's SPD still makes available in ``month`` (the "Sisa SPD"): None in a year that
    does not run on SPD; 0 for an SKPD without an anggaran kas in a year that does."""
    view = cash_plan(db, pemda, year, skpd)
    if view is None:
        return 0 if runs_on_spd(db, pemda, year) else None
    return view.months[max(month, 1) - 1].available


def spd_register(
    db: ReadDatabase,
    pemda: str,
    year: int,
    *,
    skpds: tuple[str | None, ...] = (),
    limit: int = 100,
    offset: int = 0,
) -> Listing:
    """The SPD issued in ``year`` in the order they were issued, of every given SKPD."""
    limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
    wanted = [x for x in skpds if x is not None]
    only = "".join(" AND p.skpd = ?" for _ in wanted)  # fixed text; the codes are parameters
    source = (
        "proj_spd s JOIN proj_cashplan p ON p.plan_id = s.plan_id"
        f" WHERE p.pemda = ? AND p.year = ?{only}"
    )
    params = [pemda, year, *wanted]
    with db.transaction(write=False) as cursor:
        counted = cursor.fetchone(f"SELECT COUNT(*) FROM {source}", params)  # noqa: S608
        rows = cursor.fetchall(
            f"SELECT {', '.join(SPD_ROW)} FROM {source} ORDER BY s.position LIMIT ? OFFSET ?",  # noqa: S608
            [*params, limit, offset],
        )
    names = tuple(c.split(".")[-1] for c in SPD_ROW)
    return Listing(db.sealer.opened(names, rows), int(counted[0]) if counted else 0)
