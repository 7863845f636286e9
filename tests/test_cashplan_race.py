"""OS processes race to spend one SKPD's SPD, on PostgreSQL and on one SQLite file: exactly as many
SPPs succeed as the SPD allows, on any of the SKPD's lines, and the register is never overdrawn at
any version (its history replayed event by event)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from testkit.clock import FixedClock
from tests import factory as f
from tests.test_concurrency_postgres import CONFLICT, GROSS, audit, race, settle_conflicts


def _set_up(url: str, lines: Sequence[c.LineSpec], spd: int) -> None:
    ledger = Ledger(url, clock=FixedClock())
    try:
        f.adopt(ledger, *lines)
        f.register_vendor(ledger)
        ledger.execute(f.adopt_cash_plan(*lines, months=None))
        ledger.execute(f.issue_spd("SPD/RACE", spd))
    finally:
        ledger.close()


def _never_overdrawn(ledger: Ledger) -> None:
    plan: Any = None
    event: Any
    for event in ledger.events.get(ids.cash_plan_id(f.PEMDA, f.YEAR, f.SKPD)):
        plan = event.mutate(plan)
        assert 0 <= plan.committed + plan.realised <= plan.issued, plan.version


def _spd_race(url: str, k: int, writers: int, per_writer: int, batch: int) -> None:
    # Two lines of one SKPD, each with room for every request: only the SPD binds.
    lines = [f.line_spec(pagu=1_200 * GROSS), f.line_spec(f.GOODS_LINE.rekening, 1_200 * GROSS)]
    _set_up(url, lines, k * GROSS)
    workloads: dict[str, Sequence[c.Command]] = {
        f"w{n}": [
            f.request(
                f"SPP/w{n}/{i}",
                GROSS,
                lines[(n + i) % 2],
                deductions=(),
                idempotency_key=f"w{n}-{i}",
            )
            for i in range(per_writer)
        ]
        for n in range(writers)
    }
    outcomes = race(url, workloads, batch)
    settle_conflicts(url, workloads, outcomes)
    final = Counter(kind for out in outcomes.values() for kind, _ in out)
    assert CONFLICT not in final
    assert final == Counter({"ok": k, "SpdExceeded": writers * per_writer - k}), final
    audit(url)
    ledger = Ledger(url)
    try:
        plan = ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
        assert (plan.committed, plan.issued, len(plan.open)) == (k * GROSS, k * GROSS, k)
        _never_overdrawn(ledger)
    finally:
        ledger.close()


@pytest.mark.postgres
def test_racing_processes_spend_exactly_the_spd_on_postgres(pg_schema_url: str) -> None:
    _spd_race(pg_schema_url, k=12, writers=3, per_writer=10, batch=1)


def test_racing_processes_spend_exactly_the_spd_on_one_sqlite_file(tmp_path: Path) -> None:
    _spd_race(f"sqlite:///{tmp_path / 'spd.db'}", k=25, writers=2, per_writer=20, batch=10)
