"""Two OS processes, each with its own Ledger, race on one PostgreSQL store (and one SQLite file).

The pagu of the line allows exactly K requests; each process tries more. Whatever the interleaving,
exactly K succeed, the rest are refused by a rule (or told to retry), and committed never exceeds pagu.
"""

from __future__ import annotations

from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import ConcurrencyConflict, DomainError, PaguExceeded
from ledger.handlers import line_id_of
from tests import factory as f
from tests.processes import fresh_processes

GROSS = 10_000_000
K = 10  # the pagu allows exactly K requests
PER_PROCESS = 15
LINE = f.line_spec(pagu=K * GROSS)


def _race(url: str, who: str, barrier: Barrier, batch: int, same_spp: bool) -> list[str]:
    """One writer: request PER_PROCESS disbursements on LINE; return each outcome's name."""
    ledger = Ledger(url)
    try:
        commands = [
            f.request(
                "SPP-SAME" if same_spp else f"SPP-{who}-{i}",
                GROSS,
                LINE,
                deductions=(),
                idempotency_key="same-key" if same_spp else f"{who}-{i}",
            )
            for i in range(PER_PROCESS)
        ]
        barrier.wait(timeout=30)
        outcomes: list[Any] = []
        for start in range(0, len(commands), batch):
            outcomes.extend(ledger.execute_batch(commands[start : start + batch]))
        return [
            type(o).__name__ if isinstance(o, DomainError) else ("replayed" if o.replayed else "ok")
            for o in outcomes
        ]
    finally:
        ledger.close()


def _set_up(url: str) -> None:
    ledger = Ledger(url)
    try:
        f.adopt(ledger, LINE)
        f.register_vendor(ledger)
    finally:
        ledger.close()


def _writer(
    url: str, who: str, barrier: Barrier, batch: int, same_spp: bool, results: Queue[Any]
) -> None:
    try:
        results.put((who, _race(url, who, barrier, batch, same_spp)))
    except BaseException as error:  # report, never hang the parent
        results.put((who, error))


def _run_race(url: str, batch: int, same_spp: bool = False, writers: int = 2) -> Counter[str]:
    _set_up(url)
    ctx = fresh_processes()
    barrier = ctx.Barrier(writers)
    results: Queue[Any] = ctx.Queue()
    processes = [
        ctx.Process(target=_writer, args=(url, f"w{n}", barrier, batch, same_spp, results))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    collected = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    outcomes: Counter[str] = Counter()
    for who, result in collected:
        if isinstance(result, BaseException):
            raise AssertionError(f"writer {who} crashed") from result
        outcomes.update(result)
    return outcomes


def _line_state(url: str) -> tuple[int, int, int]:
    ledger = Ledger(url)
    try:
        line = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.ref(LINE)))
        disbursements = sum(
            1 for e in ledger.history(line.id) if type(e).__qualname__ == "BudgetLine.Committed"
        )
        return line.committed, line.pagu, disbursements
    finally:
        ledger.close()


def _check_exactly_k(url: str, outcomes: Counter[str], writers: int = 2) -> None:
    assert sum(outcomes.values()) == writers * PER_PROCESS
    refused = {name for name in outcomes if name not in ("ok",)}
    assert refused <= {PaguExceeded.__name__, ConcurrencyConflict.__name__}, outcomes
    committed, pagu, commitments = _line_state(url)
    assert committed <= pagu
    # Every success is on record and nothing else is: no lost and no phantom commitment.
    assert outcomes["ok"] == commitments == committed // GROSS
    # Conflicts are safe to retry; without them, the pagu is used to the last rupiah.
    if outcomes[ConcurrencyConflict.__name__] == 0:
        assert committed == pagu


@pytest.mark.postgres
@pytest.mark.parametrize("batch", [1, 5])
def test_two_processes_never_overspend_one_line_on_postgres(pg_schema_url: str, batch: int) -> None:
    outcomes = _run_race(pg_schema_url, batch)
    _check_exactly_k(pg_schema_url, outcomes)


@pytest.mark.postgres
def test_three_processes_with_the_same_key_make_one_disbursement(pg_schema_url: str) -> None:
    outcomes = _run_race(pg_schema_url, batch=1, same_spp=True, writers=3)
    committed, _, commitments = _line_state(pg_schema_url)
    assert commitments == 1 and committed == GROSS
    # The first attempt anywhere wins; every other one is its replay.
    assert outcomes["ok"] == 1
    assert outcomes["replayed"] == 3 * PER_PROCESS - 1


def test_two_processes_never_overspend_one_line_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    outcomes = _run_race(url, batch=1)
    _check_exactly_k(url, outcomes)
