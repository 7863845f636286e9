"""What tamper evidence costs and how fast it verifies.

1. Write path: the same stream of disbursement lifecycles through ``Ledger.execute_batch`` with the
   hash-chained recorders (the default) and with the library's plain recorders, interleaved, median of
   the repetitions. Issue 3 allows at most 20% slower.
2. Verify: ``ledger.verify.verify`` over a store of at least 100,000 events (target >= 100,000/s).
3. Issue 17 (``--verify-events N``, default 1,000,000; ``--verify-only`` skips 1 and 2): ``kasda
   verify`` of a store of N events and ``kasda verify --export`` of its export, against references
   measured in the same run on the same rows: the plain driver merely SELECTing every event and link
   (sqlite3 / psycopg, binary, pages), and hashlib over the same bytes (two sha256 an event, from
   memory); for the export, Polars reading events.parquet and plain reading + hashing events.jsonl.
   Best of 3, interleaved. Target: >= 300,000 events/s for both, on both stores.

   The store is made quickly: a seed of real disbursement lifecycles through the ledger, then copied
   (new aggregate ids) through the real chained recorder in large batches, so every row and link is
   what kasda writes. ``--export-events M`` exports (and verifies) only a store of M events, as the
   export itself (not a target) runs at ~10k events/s; ``--export-dir DIR`` verifies an export made
   before. ``verify --export`` is timed with its C accelerator and with the fast path in Python
   (the accelerator switched off), interleaved, with kasda's CPU-seconds per event.

    .venv/bin/python benchmarks/bench_integrity.py [--quick] [--backend sqlite|postgres]
    .venv/bin/python benchmarks/bench_integrity.py --verify-only --verify-events 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from eventsourcing.persistence import StoredEvent

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ledger import (
    check,
    clock,
    postgres_problem,
    setup,
    store,
    stream,
)
from kasda import export as kasda_export
from kasda.export import export_history, verify_export
from ledger import verify as verifying
from ledger.application import Ledger
from ledger.cipher import new_key
from ledger.integrity import GENESIS
from ledger.store import store_options
from ledger.verify import verify

TARGET = 300_000  # events/s, issue 17

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


# -- issue 17: verification speed ---------------------------------------------------------------
def fill(ledger: Ledger, events: int) -> int:
    """At least ``events`` stored events: real lifecycles, then copies of them under new aggregate
    ids through the real chained recorder (so every link is kasda's own)."""
    setup(ledger)
    for commands in stream(200, 500):
        check(ledger.execute_batch(commands))
    seed = list(ledger.recorder.select_notifications(start=1, limit=events))
    made = len(seed)
    while made < events:
        batch: list[StoredEvent] = []
        while len(batch) < 10_000 and made + len(batch) < events:
            ids: dict[Any, uuid.UUID] = {}
            batch += [
                StoredEvent(
                    originator_id=ids.setdefault(s.originator_id, uuid.uuid4()),
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                )
                for s in seed
            ]
        ledger.recorder.insert_events(batch)
        made += len(batch)
    return made


def read_rows(backend: str, url: str) -> Iterator[tuple[Any, ...]]:
    """Every event and every link with the plain driver, in pages: the floor of reading."""
    if backend == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            for query in (
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                "ORDER BY rowid",
                "SELECT position, chain_hash FROM stored_events_chain ORDER BY position",
            ):
                cursor = conn.execute(query)
                while page := cursor.fetchmany(20_000):
                    yield from page
        finally:
            conn.close()
        return
    base, _, query_string = url.partition("?")
    schema = query_string.split("schema=")[1].split("&")[0]
    with psycopg.connect(base) as server:
        for table, columns in (
            ("kasda_events", "notification_id, originator_id, originator_version, topic, state"),
            ("kasda_events_chain", "position, chain_hash"),
        ):
            with server.cursor(name=f"read_{table}", binary=True) as named:
                named.itersize = 20_000
                named.execute(f'SELECT {columns} FROM "{schema}"."{table}" ORDER BY 1')
                yield from named


def digests_rate(url: str, events: int) -> float:
    """PostgreSQL's reading of what verify reads from it since issue 17 part 2, merely SELECTed by
    plain psycopg on one connection: each event's position, its digest computed by the server
    (sha256 of the digest's input) and its link, in ranges of 20,000 positions."""
    base, _, query_string = url.partition("?")
    schema = query_string.split("schema=")[1].split("&")[0]
    events_table, chain = f'"{schema}"."kasda_events"', f'"{schema}"."kasda_events_chain"'
    select = (
        "SELECT e.notification_id, sha256(uuid_send(e.originator_id) "
        "|| int8send(e.originator_version::bigint) || convert_to(e.topic, 'UTF8') "
        f"|| '\\x00'::bytea || e.state), c.chain_hash FROM {events_table} e "
        f"LEFT JOIN {chain} c ON c.position = e.notification_id "
        "AND c.position > %s AND c.position <= %s "
        "WHERE e.notification_id > %s AND e.notification_id <= %s ORDER BY 1"
    )
    started, rows = time.perf_counter(), 0
    with psycopg.connect(base) as server, server.cursor() as cursor:
        cursor.execute(f"SELECT max(notification_id) FROM {events_table}")
        (last,) = cursor.fetchone() or (0,)
        for low in range(0, int(last), 20_000):
            bounds = (low, low + 20_000)
            cursor.execute(select, bounds + bounds, binary=True)
            rows += len(cursor.fetchall())
    assert rows >= events, rows
    return events / (time.perf_counter() - started)


def read_rate(backend: str, url: str, events: int) -> float:
    started = time.perf_counter()
    rows = sum(1 for _ in read_rows(backend, url))
    assert rows >= 2 * events, rows
    return events / (time.perf_counter() - started)


def hash_rate(backend: str, url: str, sample: int = 200_000) -> float:
    """hashlib alone over the same bytes: a digest and a chain step an event, from memory."""
    states: list[bytes] = []
    for row in read_rows(backend, url):
        if len(row) == 5:
            states.append(
                bytes(16) + struct.pack(">Q", row[2]) + str(row[3]).encode() + bytes(row[4])
            )
        if len(states) >= sample:
            break
    sha256, pack = hashlib.sha256, struct.Struct(">Q").pack
    started = time.perf_counter()
    previous = bytes(32)
    for position, data in enumerate(states, 1):
        previous = sha256(previous + pack(position) + sha256(data).digest()).digest()
    return len(states) / (time.perf_counter() - started)


def best(runs: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(runs))


def exact_rate(ledger: Ledger) -> float:
    """verify as before issue 17: the exact walk alone, event by event (the fast path skipped)."""
    fast = verifying._fast_walk
    verifying._fast_walk = lambda *_: (GENESIS, 0)
    try:
        report = verify(ledger)
    finally:
        verifying._fast_walk = fast
    assert report.ok, report.problem
    return report.events / report.seconds


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (verify's worker processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


CPU: list[float] = []  # events per CPU-second of kasda's side of each verify (not the server's)


def timed_verify(ledger: Ledger) -> float:
    before = cpu_seconds()
    report = verify(ledger)
    assert report.ok, report.problem
    CPU.append(report.events / max(cpu_seconds() - before, 1e-9))
    return report.events / report.seconds


def timed_export_verify(folder: Path, accelerated: bool = True) -> tuple[float, float]:
    """(events/s, kasda's CPU-seconds per event) of ``verify --export``, with its C accelerator or
    with the fast path in Python (what a machine without a C compiler runs)."""
    saved = kasda_export.accelerator
    if not accelerated:
        kasda_export.accelerator = None
    try:
        before = cpu_seconds()
        report = verify_export(folder)
        cpu = cpu_seconds() - before
    finally:
        kasda_export.accelerator = saved
    assert report.ok, report.problem
    return report.events / report.seconds, cpu / report.events


def export_references(folder: Path, events: int) -> tuple[float, float]:
    """(Polars reading all of events.parquet, reading + sha256 of events.jsonl) in events/s."""
    started = time.perf_counter()
    height = pl.read_parquet(folder / "events.parquet").height
    parquet = height / (time.perf_counter() - started)
    started = time.perf_counter()
    digest = hashlib.sha256()
    with (folder / "events.jsonl").open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return parquet, events / (time.perf_counter() - started)


def verdict(rate: float) -> str:
    return f"target {TARGET:,}/s {'MET' if rate >= TARGET else 'NOT met'}"


# A loaded machine may take longer than kasda's default 10 s over a batch of 10,000 copies.
PATIENT = store_options(statement_timeout=300)


def verify_speed(backend: str, events: int, export_events: int, runs: int) -> None:
    with store(backend) as url:
        ledger = Ledger(url, clock=clock, env=PATIENT)
        try:
            started = time.perf_counter()
            made = fill(ledger, events)
            print(
                f"{backend:8} store of {made:,} events made in {time.perf_counter() - started:.0f} s"
            )
            read, hashed, mine, before, served = [], [], [], [], []
            for _ in range(runs):  # interleaved: the machine's drift hits all alike
                read.append(read_rate(backend, url, made))
                hashed.append(hash_rate(backend, url))
                if backend == "postgres":
                    served.append(digests_rate(url, made))
                mine.append(timed_verify(ledger))
                before.append(exact_rate(ledger))
            r, h, v, b = max(read), max(hashed), max(mine), max(before)
            digests = (
                f"; plain SELECT of (position, server's digest, link) on one connection "
                f"{max(served):,.0f}/s ({v / max(served):.2f}x)"
                if served
                else ""
            )
            print(
                f"{backend:8} kasda verify: {v:,.0f} events/s (best of {runs}; the exact walk alone, "
                f"as before issue 17: {b:,.0f}/s, {v / b:.1f}x); plain SELECT of the "
                f"same rows {r:,.0f}/s (verify = {v / r:.2f}x of it){digests}; hashlib alone "
                f"{h:,.0f}/s ({v / h:.2f}x); {verdict(v)}; kasda's CPU: {max(CPU[-runs:]):,.0f} "
                "events per CPU-second (workers included)"
            )
        finally:
            ledger.close()
    if backend == "sqlite" and export_events > 0:
        export_speed(export_events, runs)


def export_speed(events: int, runs: int, folder: Path | None = None) -> None:
    """``verify --export`` of an export of ``events`` made here (or of ``folder``, made before),
    with and without its C accelerator, interleaved with the references."""
    if folder is not None:
        verify_exported(
            folder, int(json.loads((folder / "manifest.json").read_text())["events"]), runs
        )
        return
    with store("sqlite") as url:
        ledger = Ledger(url, clock=clock)
        work = Path(
            tempfile.mkdtemp(prefix="kasda-verify-export-", dir=os.environ.get("BENCH_DIR"))
        )
        try:
            made = fill(ledger, events)
            started = time.perf_counter()
            export_history(ledger, work / "export")
            print(f"export   {made:,} events exported in {time.perf_counter() - started:.0f} s")
            verify_exported(work / "export", made, runs)
        finally:
            ledger.close()
            shutil.rmtree(work, ignore_errors=True)


def verify_exported(folder: Path, made: int, runs: int) -> None:
    mine, python, parquet, plain = [], [], [], []
    for _ in range(runs):  # interleaved: the machine's drift hits all alike
        p, j = export_references(folder, made)
        parquet.append(p)
        plain.append(j)
        if kasda_export.accelerator is not None:
            mine.append(timed_export_verify(folder))
        python.append(timed_export_verify(folder, accelerated=False))
    b, p, j = max(r for r, _ in python), max(parquet), max(plain)
    print(
        f"export   verify --export, fast path in Python (no accelerator): {b:,.0f} events/s "
        f"(best of {runs}), {1e6 * min(c for _, c in python):.2f} µs of CPU an event"
    )
    v = max(r for r, _ in mine) if mine else b
    print(
        f"export   kasda verify --export: {v:,.0f} events/s (best of {runs}; "
        f"{'with' if mine else 'WITHOUT'} its C accelerator, {v / b:.1f}x the Python fast path), "
        f"{1e6 * min(c for _, c in mine or python):.2f} µs of CPU an event; Polars reading "
        f"events.parquet {p:,.0f}/s (verify = {v / p:.2f}x of it); reading + sha256 of "
        f"events.jsonl {j:,.0f}/s ({v / j:.2f}x); {verdict(v)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--verify-only", action="store_true", help="only issue 17's measurement")
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--export-events", type=int, default=1_000_000, help="0: no export")
    parser.add_argument(
        "--export-dir",
        type=Path,
        help="only verify --export of this export (made before, e.g. by kasda export)",
    )
    args = parser.parse_args(argv)
    if args.export_dir is not None:
        export_speed(0, 1 if args.quick else 3, args.export_dir)
        return 0
    backends = args.backend or ["sqlite", "postgres"]
    if "postgres" in backends and (problem := postgres_problem()) is not None:
        print(f"skipping PostgreSQL: {problem}")
        backends.remove("postgres")
    if args.verify_only:
        for backend in backends:
            verify_speed(backend, args.verify_events, args.export_events, 1 if args.quick else 3)
        return 0
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
