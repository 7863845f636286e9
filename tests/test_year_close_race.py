"""OS processes send SPPs and income receipts while another closes the year, on PostgreSQL and on one
SQLite file: every SPP either landed before the close (and then lapsed) or was refused because the
year is closed, never both and never lost; every receipt either counts in the SiLPA or was refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.disbursement import Status
from ledger.errors import NotFound
from testkit.clock import FixedClock
from tests import factory as f
from tests.test_concurrency_postgres import CONFLICT, GROSS, audit, race, settle_conflicts
from tests.test_year_close import INCOME, NEXT_LINES, SILPA, adopt_next, close, income

WRITERS, RECEIPTS = 2, 30


def _set_up(url: str) -> None:
    ledger = Ledger(url, clock=FixedClock())
    try:
        f.adopt(ledger, f.line_spec(pagu=1_000 * GROSS), INCOME)
        f.register_vendor(ledger)
        adopt_next(ledger, *NEXT_LINES)
    finally:
        ledger.close()


def _close_race(url: str, batch: int, per_writer: int) -> None:
    _set_up(url)
    # Each SPP is verified at once: the verification leaves the line alone, so the close finds
    # moments when no SPP is being written and lands mid-race.
    spps = {
        f"w{n}": [
            step
            for i in range(per_writer)
            for step in (
                f.request(f"SPP/w{n}/{i}", GROSS, deductions=(), idempotency_key=f"w{n}-{i}"),
                f.verify(f"SPP/w{n}/{i}"),
            )
        ]
        for n in range(WRITERS)
    }
    receipts = [income(f"R-{i}", 1_000_000 + i) for i in range(RECEIPTS)]
    # A close under load may lose every retry to the SPPs (ConcurrencyConflict): the closer sends
    # it again with the same key, as an operator would, until it lands mid-race.
    closer: list[c.Command] = [close(silpa=f.ref(SILPA))] * 12
    workloads: dict[str, Sequence[c.Command]] = {**spps, "receipts": receipts, "closer": closer}
    outcomes = race(url, workloads, batch)
    settle_conflicts(url, workloads, outcomes)
    kinds = Counter(kind for out in outcomes.values() for kind, _ in out)
    assert CONFLICT not in kinds
    assert Counter(kind for kind, _ in outcomes["closer"])["ok"] == 1
    audit(url)
    ledger = Ledger(url)
    try:
        for name in spps:
            for n, (kind, _) in enumerate(outcomes[name][::2]):
                spp = f"SPP/w{name[1:]}/{n}"
                assert kind in ("ok", "YearClosed"), (spp, kind)
                if kind == "ok":  # landed before the close: it lapsed with it
                    assert ledger.disbursement(f.disbursement_id(spp)).status == Status.LAPSED
                else:  # refused: nothing of it is on record
                    with pytest.raises(NotFound):
                        ledger.disbursement(f.disbursement_id(spp))
        received = [
            command.gross
            for name in ("receipts", "closer")
            for command, (kind, _) in zip(workloads[name], outcomes[name], strict=True)
            if isinstance(command, c.RecordRevenue) and kind == "ok"
        ]
        refused = [kind for kind, _ in outcomes["receipts"] if kind != "ok"]
        assert set(refused) <= {"YearClosed"}
        budget = ledger.budget(f.PEMDA, f.YEAR)
        assert budget.closed and budget.silpa == sum(received)
        for line in ledger.budget_lines(f.PEMDA, f.YEAR):
            assert line.closed and line.committed == 0
    finally:
        ledger.close()


@pytest.mark.postgres
def test_spps_racing_the_close_land_and_lapse_or_are_refused_on_postgres(
    pg_schema_url: str,
) -> None:
    _close_race(pg_schema_url, batch=1, per_writer=150)


def test_spps_racing_the_close_land_and_lapse_or_are_refused_on_one_sqlite_file(
    tmp_path: Path,
) -> None:
    _close_race(f"sqlite:///{tmp_path / 'close.db'}", batch=3, per_writer=40)
