"""How fast the read models are built, and how far behind the ledger they run.

1. Rebuild: a store of ``--lifecycles`` disbursement lifecycles (16 stored events each: 8 domain
   events, 6 idempotency receipts, 2 number claims) is projected from scratch; the rate counts
   stored events (positions) per second, the figure that says how long a rebuild of a store takes,
   and domain events (facts) per second.
2. Live lag: one process writes lifecycles through ``Ledger.execute_batch`` as fast as it can while
   this process follows with ``Projector.follow`` (LISTEN/NOTIFY on PostgreSQL, polling on SQLite).
   The writer notes (last position, wall clock) right after each of its commits; the projector
   notes (position reached, wall clock) right after each of its own. The lag of a write is the time
   from its commit until the read models first include it.

3. Reference, same run: a plain ``SELECT`` of every stored event (position, id, version, topic,
   body) with the database's own driver, in pages of the projector's size: the floor of any
   projection that reads the log. The rebuild's time is given as a multiple of it.

Issue 17's targets (PostgreSQL): rebuild >= 100,000 domain events/s, live lag p99 < 100 ms while
the ledger writes at its maximum rate; the last lines say whether each was met in this run.

    .venv/bin/python benchmarks/bench_projections.py [--backend postgres|sqlite] [--lifecycles N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from psycopg.rows import tuple_row

from benchmarks.bench_ledger import check, clock, postgres_problem, setup, store, stream
from ledger.application import Ledger
from projections.runner import BATCH, Progress, Projector


def fill(
    url: str, lifecycles: int, batch: int = 500, commits: list[tuple[int, float]] | None = None
) -> tuple[int, float]:
    """Write ``lifecycles`` lifecycles; (stored events, stored events per second)."""
    ledger = Ledger(url, clock=clock)
    try:
        if ledger.recorder.max_notification_id() in (None, 0):
            setup(ledger)
        before = ledger.recorder.max_notification_id() or 0
        started = time.perf_counter()
        for commands in stream(lifecycles, batch):
            check(ledger.execute_batch(commands))
            if commits is not None:
                commits.append((ledger.recorder.max_notification_id() or 0, time.time()))
        seconds = time.perf_counter() - started
        written = (ledger.recorder.max_notification_id() or 0) - before
        return written, written / seconds
    finally:
        ledger.close()


def _writer(url: str, lifecycles: int, batch: int, result: multiprocessing.Queue[Any]) -> None:
    commits: list[tuple[int, float]] = []
    rate = fill(url, lifecycles, batch, commits)[1]
    result.put((rate, commits))


REBUILD_TARGET = 100_000  # domain events/s (issue 17)
LAG_TARGET = 0.100  # seconds, p99 (issue 17)
RECEIPTS = ("CommandReceipt.", "DocumentNumber.")


def plain_select(url: str, page: int = BATCH) -> tuple[int, int, float]:
    """(stored events, domain events, seconds) for reading the whole log with a plain SELECT."""
    ledger = Ledger(url, clock=clock)
    recorder: Any = ledger.recorder
    table = recorder.events_table_name
    try:
        started = time.perf_counter()
        stored = domain = last = 0
        while True:
            if "postgres" in ledger.env.get("PERSISTENCE_MODULE", ""):
                rows = _select_postgres(recorder, table, last, page)
            else:
                rows = _select_sqlite(recorder, table, last, page)
            if not rows:
                break
            stored += len(rows)
            domain += sum(1 for r in rows if not r[3].partition(":")[2].startswith(RECEIPTS))
            last = int(rows[-1][0])
        return stored, domain, time.perf_counter() - started
    finally:
        ledger.close()


def _select_postgres(recorder: Any, table: str, after: int, page: int) -> list[Any]:
    qualified = f'"{recorder.datastore.schema}"."{table}"'
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.row_factory = tuple_row
        cursor.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {qualified} WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
            (after, page),
            binary=True,
        )
        return list(cursor.fetchall())


def _select_sqlite(recorder: Any, table: str, after: int, page: int) -> list[Any]:
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, page),
        )
        return list(cursor.fetchall())


def rebuild(url: str) -> Progress:
    ledger = Ledger(url, clock=clock)
    projector = Projector(ledger)
    try:
        return projector.rebuild()
    finally:
        projector.close()
        ledger.close()


def _write_while_following(
    url: str, lifecycles: int, batch: int
) -> tuple[float, list[tuple[int, float]]]:
    results: multiprocessing.Queue[Any] = multiprocessing.get_context("spawn").Queue()
    writer = multiprocessing.get_context("spawn").Process(
        target=_writer, args=(url, lifecycles, batch, results)
    )
    writer.start()
    try:
        rate, written = results.get(timeout=3600)
    finally:
        writer.join(timeout=60)
    return float(rate), list(written)


def live(url: str, lifecycles: int, batch: int) -> tuple[list[float], float]:
    """(lag of every write, the writer's rate)."""
    ledger = Ledger(url, clock=clock)
    setup(ledger)
    projector = Projector(ledger)
    projector.catch_up()
    projected: list[tuple[int, float]] = []
    stop = threading.Event()
    follower = threading.Thread(
        target=projector.follow,
        args=(stop,),
        kwargs={"interval": 0.05, "on_progress": lambda p: projected.extend(p.commits)},
    )
    follower.start()
    try:
        rate, written = _write_while_following(url, lifecycles, batch)
        head = ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + 600  # every wait bounded
        while projector.position() < head and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:  # a writer that failed must not leave the follower running
        stop.set()
        follower.join(timeout=60)
        projector.close()
        ledger.close()
    # For each write: the first projector commit that reached its position.
    lags, at = [], 0
    for position, committed in written:
        while projected[at][0] < position:
            at += 1
        lags.append(projected[at][1] - committed)
    return lags, rate


def _rebuilds(backend: str, url: str, repeats: int) -> float:
    """Rebuild ``repeats`` times, each after a plain SELECT of the log; the best domain rate."""
    best = 0.0
    for _ in range(repeats):
        stored, domain, seconds = plain_select(url)
        done = rebuild(url)
        rate = domain / done.seconds
        best = max(best, rate)
        print(
            f"{backend:8} rebuild: {done.positions:,} stored events ({domain:,} domain events) "
            f"in {done.seconds:.2f} s = {rate:,.0f} domain events/s, "
            f"{done.rate:,.0f} stored events/s | plain SELECT of the log: {seconds:.2f} s = "
            f"{stored / seconds:,.0f} stored events/s | rebuild / SELECT time: "
            f"{done.seconds / seconds:.1f}x"
        )
    print(f"{backend:8} rebuild best of {repeats}: {best:,.0f} domain events/s")
    return best


def _live_report(backend: str, lags: list[float], write_rate: float) -> float:
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    print(
        f"{backend:8} live: writer {write_rate:,.0f} stored events/s in {len(lags)} "
        f"commits; lag from a write's commit to the read models: p50 "
        f"{statistics.median(lags) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {lags[-1] * 1000:.0f} ms"
    )
    return p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--lifecycles", type=int, default=6_500)  # x 16 = 104,000 events
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    backends = args.backend or ["postgres", "sqlite"]
    if "postgres" in backends and (problem := postgres_problem()) is not None:
        print(f"skipping PostgreSQL: {problem}")
        backends.remove("postgres")
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for backend in backends:
        with store(backend) as url:
            fill(url, args.lifecycles)
            best = _rebuilds(backend, url, args.repeats)
        with store(backend) as url:
            lags, write_rate = live(url, args.lifecycles, 500)
        p99 = _live_report(backend, lags, write_rate)
        if backend == "postgres":
            met = "met" if best >= REBUILD_TARGET else "NOT met"
            print(f"target rebuild >= {REBUILD_TARGET:,} domain events/s: {met} ({best:,.0f})")
            met = "met" if p99 < LAG_TARGET else "NOT met"
            print(f"target live lag p99 < {LAG_TARGET * 1000:.0f} ms: {met} ({p99 * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
