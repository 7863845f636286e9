"""An independent recomputation of every read model, from the ledger's aggregates and postings.

It shares no code with ``projections``: lines and disbursements come from replaying the events into
the domain's own aggregates (``ledger.history.replay``), cash from the ``cash:rkud`` legs of
``ledger.postings``. The projection tests hold the read models to it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ledger.advance import Advance, AdvanceOrder
from ledger.application import Ledger
from ledger.budget import Budget, BudgetLine
from ledger.disbursement import Disbursement, Status
from ledger.history import replay
from ledger.postings import postings_for
from ledger.revenue import Revenue
from projections.db import ReadDatabase
from tests.refusals import all_events

ZONE = ZoneInfo("Asia/Jakarta")
QUEUE_ROLE = {
    Status.REQUESTED: "ppk",
    Status.VERIFIED: "pa_kpa",
    Status.APPROVED: "kuasa_bud",
    Status.AUTHORISED: "gateway",
    Status.SENT: "gateway",
    Status.FAILED: "kuasa_bud",
}


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZONE) - timedelta(
        microseconds=1
    )


def _state(ledger: Ledger, as_of: date | None = None) -> dict[Any, Any]:
    if as_of is not None:
        return replay(ledger, as_of=end_of(as_of))
    return replay(ledger, position=ledger.recorder.max_notification_id() or 0)


def expected_lines(
    ledger: Ledger, as_of: date | None = None, year: int | None = None
) -> dict[str, tuple[int, int, int]]:
    """line id -> (anggaran, committed, realisasi) from the replayed aggregates (of ``year`` only,
    when given: a store may hold the next APBD too)."""
    state = _state(ledger, as_of)
    revenue: dict[str, int] = defaultdict(int)
    for aggregate in state.values():
        if isinstance(aggregate, Revenue) and not aggregate.reversed:
            revenue[aggregate.line_id] += aggregate.gross
    # The SiLPA a year received from the year before (tutup tahun) is that line's income too.
    return {
        str(a.id): (
            a.pagu,
            a.committed,
            a.realised + revenue[str(a.id)] + a.silpa_received,
        )
        for a in state.values()
        if isinstance(a, BudgetLine) and year in (None, a.year)
    }


def expected_closed_years(ledger: Ledger) -> dict[tuple[str, int], int]:
    """(pemda, year) -> SiLPA of every closed year, from the replayed budgets."""
    state = _state(ledger)
    return {
        (b.pemda, b.year): int(b.silpa or 0)
        for b in state.values()
        if isinstance(b, Budget) and b.closed
    }


def projected_closed_years(db: ReadDatabase) -> dict[tuple[str, int], int]:
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall("SELECT pemda, year, silpa FROM proj_lra_year")
    return {(str(p), int(y)): int(s) for p, y, s in rows}


def expected_payments(ledger: Ledger) -> dict[str, tuple[Any, ...]]:
    state = _state(ledger)
    return {
        str(d.id): (
            Status(d.status).value,
            d.gross,
            d.net,
            d.spp_number,
            getattr(d, "sp2d_number", None),
            d.version,
            d.attempts,  # transfers sent plus attempts the gateway refused (TransferRejected)
        )
        for d in state.values()
        if isinstance(d, Disbursement)
    }


def expected_queue(ledger: Ledger) -> dict[str, tuple[str, str]]:
    state = _state(ledger)
    queue = {
        str(d.id): (Status(d.status).value, QUEUE_ROLE[Status(d.status)])
        for d in state.values()
        if isinstance(d, Disbursement) and Status(d.status) in QUEUE_ROLE
    }
    for order in state.values():
        # An advance order waits as a payment does until its SP2D; then for the bank's settlement.
        status = str(getattr(order, "status", ""))
        if isinstance(order, AdvanceOrder) and status in ADVANCE_QUEUE_ROLE:
            queue[str(order.id)] = (status, ADVANCE_QUEUE_ROLE[status])
    return queue


ADVANCE_QUEUE_ROLE = {
    "requested": "ppk",
    "verified": "pa_kpa",
    "approved": "kuasa_bud",
    "authorised": "gateway",
}


def expected_advances(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """advance id -> its balances, open SPJ entries (number -> amount, card, SPP claiming it),
    cards (owed, paid) and TU (given, spent, returned, closed), from the replayed aggregates."""
    found: dict[str, dict[str, Any]] = {}
    for a in _state(ledger).values():
        if not isinstance(a, Advance):
            continue
        found[str(a.id)] = {
            "balances": (
                a.cash,
                a.entrusted,
                a.accounted,
                a.owed_on_cards,
                a.replenishing,
                a.up_given,
                a.up_requested,
                a.outstanding,
            ),
            "spj": {n: (e["amount"], e["card"], e["claimed_by"]) for n, e in a.spj.items()},
            "cards": {n: (c["limit"], c["owed"], c["paid"]) for n, c in a.cards.items()},
            "tu": {
                n: (t["amount"], t["given"], t["spent"], t["returned"], bool(t["closed"]))
                for n, t in a.tu.items()
            },
        }
    return found


def projected_advances(db: ReadDatabase) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    with db.transaction(write=False) as cursor:
        for row in cursor.fetchall(
            "SELECT advance_id, cash, entrusted, accounted, owed_on_cards, replenishing,"
            " up_given, up_requested, outstanding FROM proj_advance"
        ):
            found[row[0]] = {"balances": tuple(row[1:]), "spj": {}, "cards": {}, "tu": {}}
        for row in cursor.fetchall(
            "SELECT advance_id, number, amount, card, spp_number FROM proj_spj"
            " WHERE status IN ('open', 'claimed')"
        ):
            found[row[0]]["spj"][row[1]] = tuple(row[2:])
        for row in cursor.fetchall(
            "SELECT advance_id, card, card_limit, owed, paid FROM proj_card"
        ):
            found[row[0]]["cards"][row[1]] = tuple(row[2:])
        for row in cursor.fetchall(
            "SELECT advance_id, number, amount, given, spent, returned, closed FROM proj_tu"
        ):
            found[row[0]]["tu"][row[1]] = (*row[2:6], bool(row[6]))
    return found


def expected_cash(ledger: Ledger) -> dict[str, int]:
    """day -> net movement of cash:rkud (debits in, credits out) from the postings."""
    net: dict[str, int] = defaultdict(int)
    for event in all_events(ledger):
        for leg in postings_for(event):
            if leg.account == "cash:rkud":
                day = event.at.astimezone(ZONE).date().isoformat()
                net[day] += leg.amount if leg.side == "D" else -leg.amount
    return {d: v for d, v in net.items()}


def projected_lines(
    db: ReadDatabase, pemda: str, year: int, as_of: date | None = None
) -> dict[str, tuple[int, int, int]]:
    from projections.queries import lra_lines

    frame = lra_lines(db, pemda, year, as_of)
    return {
        r["line_id"]: (r["anggaran"], r["committed"], r["realisasi"])
        for r in frame.iter_rows(named=True)
    }


def projected_payments(db: ReadDatabase) -> dict[str, tuple[Any, ...]]:
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT disbursement_id, status, gross, net, spp_number, sp2d_number, version,"
            " attempts FROM proj_payment"
        )
    return {r[0]: tuple(r[1:]) for r in rows}


def projected_queue(db: ReadDatabase) -> dict[str, tuple[str, str]]:
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall("SELECT disbursement_id, status, role FROM proj_queue")
    return {r[0]: (r[1], r[2]) for r in rows}


def projected_cash(db: ReadDatabase) -> dict[str, int]:
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT day, receipts_in + returns_in - payments_out - refunds_out + advance_in"
            " - advance_out FROM proj_cash_day"
        )
    return {str(d): int(v) for d, v in rows}


def tables(db: ReadDatabase) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, sorted: for comparing two builds. The tables are
    read from the database's catalogue (every ``proj_`` table but the position), not listed
    here, so a read model added later is compared too."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.transaction(write=False) as cursor:
        if db.kind == "postgres":
            listed = cursor.fetchall(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_name LIKE 'proj!_%%' ESCAPE '!'"
            )
        else:
            listed = cursor.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name LIKE 'proj!_%' ESCAPE '!'"
            )
        for name in sorted({str(r[0]) for r in listed} - {"proj_position"}):
            rows = cursor.fetchall(f"SELECT * FROM {name}")
            found[name] = sorted(rows, key=repr)
    return found


def assert_models_match(ledger: Ledger, db: ReadDatabase, pemda: str, year: int) -> None:
    assert projected_lines(db, pemda, year) == expected_lines(ledger, year=year)
    assert projected_payments(db) == expected_payments(ledger)
    assert projected_queue(db) == expected_queue(ledger)
    assert projected_closed_years(db) == expected_closed_years(ledger)
    assert projected_advances(db) == expected_advances(ledger)
    cash = expected_cash(ledger)
    projected = projected_cash(db)
    assert {d: v for d, v in projected.items() if v} == {d: v for d, v in cash.items() if v}
