"""How fast the read models are built, and how far behind the ledger they run.

1. Rebuild: a store of ``--lifecycles`` disbursement lifecycles (16 stored events each: 8 domain
   events, 6 idempotency receipts, 2 number claims) is projected from scratch; the rate counts
   stored events (positions) per second, the figure that says how long a rebuild of a store takes,
   and domain events (facts) per second.
2. Live lag: one process writes lifecycles through ``Ledger.execute_batch`` as fast as it can while
   this process follows with ``Projector.follow`` (LISTEN/NOTIFY on PostgreSQL, polling on SQLite).
   For every projected batch, lag = the moment its transaction commits - the ledger-clock stamp of
   the newest event in it. That stamp is taken before the writer's own transaction commits, so the
   lag includes the writer's commit time too: an upper bound.

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ledger import check, clock, postgres_problem, setup, store, stream
from ledger.application import Ledger
from projections.runner import Progress, Projector


def fill(url: str, lifecycles: int, batch: int = 500) -> tuple[int, float]:
    """Write ``lifecycles`` lifecycles; (stored events, stored events per second)."""
    ledger = Ledger(url, clock=clock)
    try:
        if ledger.recorder.max_notification_id() in (None, 0):
            setup(ledger)
        before = ledger.recorder.max_notification_id() or 0
        started = time.perf_counter()
        for commands in stream(lifecycles, batch):
            check(ledger.execute_batch(commands))
        seconds = time.perf_counter() - started
        written = (ledger.recorder.max_notification_id() or 0) - before
        return written, written / seconds
    finally:
        ledger.close()


def _writer(url: str, lifecycles: int, batch: int, result: multiprocessing.Queue[float]) -> None:
    result.put(fill(url, lifecycles, batch)[1])


def rebuild(url: str) -> Progress:
    ledger = Ledger(url, clock=clock)
    projector = Projector(ledger)
    try:
        return projector.rebuild()
    finally:
        projector.close()
        ledger.close()


def live(url: str, lifecycles: int, batch: int) -> tuple[list[float], float, float]:
    """(lag of every projected batch, the writer's rate, seconds from the writer's end until the
    read models held its last event)."""
    ledger = Ledger(url, clock=clock)
    setup(ledger)
    projector = Projector(ledger)
    projector.catch_up()
    lags: list[float] = []
    stop = threading.Event()
    follower = threading.Thread(
        target=projector.follow,
        args=(stop,),
        kwargs={"interval": 0.05, "on_progress": lambda p: lags.extend(p.lags)},
    )
    follower.start()
    results: multiprocessing.Queue[float] = multiprocessing.get_context("spawn").Queue()
    writer = multiprocessing.get_context("spawn").Process(
        target=_writer, args=(url, lifecycles, batch, results)
    )
    writer.start()
    writer.join()
    finished = time.perf_counter()
    head = ledger.recorder.max_notification_id() or 0
    while projector.position() < head:
        time.sleep(0.005)
    drained = time.perf_counter() - finished
    stop.set()
    follower.join()
    projector.close()
    ledger.close()
    return lags, results.get(), drained


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
            lags, write_rate, drained = live(url, args.lifecycles, 500)
            lags.sort()
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            print(
                f"{backend:8} live: writer {write_rate:,.0f} stored events/s; {len(lags)} projected "
                f"batches, lag p50 {statistics.median(lags) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                f"max {lags[-1] * 1000:.0f} ms; caught up {drained * 1000:.0f} ms after the writer"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
