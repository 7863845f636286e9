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

    .venv/bin/python benchmarks/bench_projections.py [--backend postgres|sqlite] [--lifecycles N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ledger import check, clock, postgres_problem, setup, store, stream
from ledger.application import Ledger
from projections.runner import Progress, Projector


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


def rebuild(url: str) -> Progress:
    ledger = Ledger(url, clock=clock)
    projector = Projector(ledger)
    try:
        return projector.rebuild()
    finally:
        projector.close()
        ledger.close()


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
    results: multiprocessing.Queue[Any] = multiprocessing.get_context("spawn").Queue()
    writer = multiprocessing.get_context("spawn").Process(
        target=_writer, args=(url, lifecycles, batch, results)
    )
    writer.start()
    rate, written = results.get()
    writer.join()
    head = ledger.recorder.max_notification_id() or 0
    while projector.position() < head:
        time.sleep(0.005)
    stop.set()
    follower.join()
    projector.close()
    ledger.close()
    # For each write: the first projector commit that reached its position.
    lags, at = [], 0
    for position, committed in written:
        while projected[at][0] < position:
            at += 1
        lags.append(projected[at][1] - committed)
    return lags, rate


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
    for backend in backends:
        with store(backend) as url:
            _events, _ = fill(url, args.lifecycles)
            rates = []
            for _ in range(args.repeats):
                done = rebuild(url)
                rates.append(done)
                print(
                    f"{backend:8} rebuild: {done.positions:,} stored events ({done.facts:,} "
                    f"domain events) in {done.seconds:.2f} s = {done.rate:,.0f} stored events/s, "
                    f"{done.facts / done.seconds:,.0f} domain events/s"
                )
            best = max(rates, key=lambda p: p.rate)
            print(f"{backend:8} rebuild best of {args.repeats}: {best.rate:,.0f} stored events/s")
        with store(backend) as url:
            lags, write_rate = live(url, args.lifecycles, 500)
            lags.sort()
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            print(
                f"{backend:8} live: writer {write_rate:,.0f} stored events/s in {len(lags)} "
                f"commits; lag from a write's commit to the read models: p50 "
                f"{statistics.median(lags) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                f"max {lags[-1] * 1000:.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
