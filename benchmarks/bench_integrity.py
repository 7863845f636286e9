"""What tamper evidence costs and how fast it verifies.

1. Write path: the same stream of disbursement lifecycles through ``Ledger.execute_batch`` with the
   hash-chained recorders (the default) and with the library's plain recorders, interleaved, median of
   the repetitions. Issue 3 allows at most 20% slower.
2. Verify: ``ledger.verify.verify`` over a store of at least 100,000 events (target >= 100,000/s).

    .venv/bin/python benchmarks/bench_integrity.py [--quick] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ledger import check, clock, postgres_problem, setup, store, stream
from ledger.application import Ledger
from ledger.cipher import new_key
from ledger.verify import verify

PLAIN = {
    "sqlite": "eventsourcing.sqlite:SQLiteApplicationRecorder",
    "postgres": "eventsourcing.postgres:PostgresApplicationRecorder",
}


def write_rate(
    backend: str, chained: bool, lifecycles: int, batch: int, encrypted: bool = False
) -> float:
    """Stored events per second for one run on a new store."""
    env = {} if chained else {"APPLICATION_RECORDER_TOPIC": PLAIN[backend]}
    if encrypted:
        env["KASDA_CIPHER_KEY"] = new_key()
    with store(backend) as url:
        ledger = Ledger(url, clock=clock, env=env)
        try:
            setup(ledger)
            batches = stream(lifecycles, batch)
            before = ledger.recorder.max_notification_id() or 0
            started = time.perf_counter()
            for commands in batches:
                check(ledger.execute_batch(commands))
            seconds = time.perf_counter() - started
            return ((ledger.recorder.max_notification_id() or 0) - before) / seconds
        finally:
            ledger.close()


def verify_rate(backend: str, lifecycles: int) -> tuple[int, float]:
    with store(backend) as url:
        ledger = Ledger(url, clock=clock)
        try:
            setup(ledger)
            for commands in stream(lifecycles, 500):
                check(ledger.execute_batch(commands))
            best = 0.0
            events = 0
            for _ in range(3):
                report = verify(ledger)
                assert report.ok, report.problem
                events = report.events
                best = max(best, report.events / report.seconds)
            return events, best
        finally:
            ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    args = parser.parse_args(argv)
    backends = args.backend or ["sqlite", "postgres"]
    if "postgres" in backends and (problem := postgres_problem()) is not None:
        print(f"skipping PostgreSQL: {problem}")
        backends.remove("postgres")
    lifecycles, repeats = (1_000, 1) if args.quick else (3_000, 3)
    verify_lifecycles = 2_000 if args.quick else 6_500  # x 16 events = 104,000
    for backend in backends:
        for batch in (100, 500):
            plain, chained, encrypted = [], [], []
            for _ in range(repeats):  # interleaved, so drift in the machine hits all alike
                plain.append(write_rate(backend, False, lifecycles, batch))
                chained.append(write_rate(backend, True, lifecycles, batch))
                encrypted.append(write_rate(backend, True, lifecycles, batch, encrypted=True))
            p, c = statistics.median(plain), statistics.median(chained)
            e = statistics.median(encrypted)
            print(
                f"{backend:8} write batch {batch:>3}: plain {p:,.0f} ev/s, chained {c:,.0f} ev/s "
                f"({100 * (p - c) / p:+.1f}% cost), chained+encrypted {e:,.0f} ev/s "
                f"({100 * (p - e) / p:+.1f}% cost)"
            )
        events, rate = verify_rate(backend, verify_lifecycles)
        print(f"{backend:8} verify: {events:,} events, best of 3: {rate:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
