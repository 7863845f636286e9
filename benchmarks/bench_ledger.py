"""Throughput of the kasda ledger: complete disbursement lifecycles and stored events per second.

A stream of independent commands (every rule on): lifecycles are taken in waves of ``batch`` SPPs and
each wave goes through the six steps of an LS payment (SPP, verification, SPM, SP2D, sent, settled),
one ``execute_batch`` of ``batch`` commands per step, so that no two commands of one batch belong to the
same disbursement. Batch size 1 is one command per transaction (``Ledger.execute``).

Stored events are counted from the store afterwards, by kind: domain events (the facts, in the log and
its hash chain), idempotency receipts (one per accepted command) and SPM/SP2D number claims (both kept
in a table of their own since issue 17, written in the same transaction). The plain ``eventsourcing``
library, saving new aggregates (one event each) in transactions of 1, 100 and 500, is measured on the
same store in the same run for reference: the target of issue 17 is the ledger's domain events/s at
least equal to the plain library's best batched rate (ratio >= 1.0).

Stores are durable: SQLite in a file on disk (the library switches it to WAL; ``synchronous`` is left at
the SQLite default, printed below) and PostgreSQL with its own settings (printed: ``fsync``,
``synchronous_commit``); each run gets a new file / a new schema, dropped afterwards.

    .venv/bin/python benchmarks/bench_ledger.py                 # the full table (a few minutes)
    .venv/bin/python benchmarks/bench_ledger.py --quick         # smaller runs, one repetition
    .venv/bin/python benchmarks/bench_ledger.py --profile sqlite:100   # cProfile of one run

``KASDA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names the server;
if it is unreachable the PostgreSQL rows are skipped with a message.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: testkit

from kasda.settings import Settings
from ledger import commands as c
from ledger import ids
from ledger.application import CommandResult, Ledger
from ledger.money import withholdings
from ledger.roles import Actor, Role
from ledger.store import env_for_url, prepare
from ledger.store import postgres_problem as store_problem
from testkit.world import MEDIA, PEMDA, SKPD, YEAR

BATCH_SIZES = (1, 10, 100, 500)
LINES = 200
VENDORS = 50
STEPS = 6  # commands in one complete lifecycle
# Lifecycles per run, by batch size (full / quick).
FULL_SIZES = {1: 300, 10: 1_500, 100: 4_000, 500: 6_000}
QUICK_SIZES = {1: 60, 10: 300, 100: 1_000, 500: 1_500}
BASELINE_EVENTS = {"full": 6_000, "quick": 3_000}
PLAIN_BATCHES = (1, 100, 500)  # events per transaction of the plain library

ADMIN = Actor("bench.admin", Role.BPKAD_ADMIN)
PPTK = Actor("bench.pptk", Role.PPTK, SKPD)
PPK = Actor("bench.ppk", Role.PPK, SKPD)
PA = Actor("bench.pa", Role.PA_KPA, SKPD)
BUD = Actor("bench.kuasabud", Role.KUASA_BUD)
GATEWAY = Actor("bench.gateway", Role.GATEWAY)


# -- stores ----------------------------------------------------------------------------------------


def postgres_url() -> str:
    """The PostgreSQL server of the benchmarks (``KASDA_TEST_POSTGRES_URL``)."""
    return Settings.from_env().test_postgres_url


def postgres_problem() -> str | None:
    return store_problem(postgres_url())


@contextmanager
def store(backend: str) -> Iterator[str]:
    """The URL of a new, empty, durable store; removed afterwards."""
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="kasda-bench-", dir=os.environ.get("BENCH_DIR")))
        try:
            yield f"sqlite:///{directory / 'bench.db'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    base = postgres_url()
    try:
        yield f"{base}{'&' if '?' in base else '?'}schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def durability(backend: str, ledger: Ledger) -> dict[str, str]:
    """The settings that decide whether a commit is on disk when it returns."""
    datastore: Any = ledger.recorder.datastore  # type: ignore[attr-defined]
    if backend == "sqlite":
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[cursor.fetchone()[0]]
        return {"journal_mode": journal, "synchronous": sync, "sqlite": sqlite3.sqlite_version}
    out: dict[str, str] = {}
    with datastore.transaction(commit=False) as cursor:
        for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method"):
            cursor.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            out[name] = str(next(iter(cursor.fetchone().values())))
    return out


# -- the stream ------------------------------------------------------------------------------------
def line_ref(n: int) -> c.LineRef:
    return c.LineRef(skpd=SKPD, sub_kegiatan=f"1.01.02.2.01.{n + 1:04d}", rekening=MEDIA)


def npwp(n: int) -> str:
    return f"{n + 10:02d}.{n:03d}.{n * 7 % 1000:03d}.1-423.000"


def setup(ledger: Ledger) -> None:
    """An APBD of ``LINES`` lines with ample pagu and ``VENDORS`` media vendors (not timed)."""
    lines = tuple(
        c.LineSpec(
            skpd=SKPD,
            sub_kegiatan=line_ref(n).sub_kegiatan,
            rekening=line_ref(n).rekening,
            uraian="Belanja Jasa Iklan/Reklame, Film, dan Pemotretan",
            pagu=10**13,
        )
        for n in range(LINES)
    )
    ledger.execute(
        c.AdoptBudget(
            idempotency_key="bench-adopt",
            actor=ADMIN,
            pemda=PEMDA,
            year=YEAR,
            document="PERDA 1 2025",
            lines=lines,
        )
    )
    vendors = [
        c.RegisterVendor(
            idempotency_key=f"bench-vendor-{n}",
            actor=ADMIN,
            pemda=PEMDA,
            npwp=npwp(n),
            name=f"PT Media Bench {n}",
            kind="media",
            bank_code="110",
            account_number=f"{n + 1:010d}",
            account_holder=f"PT Media Bench {n}",
        )
        for n in range(VENDORS)
    ]
    check(ledger.execute_batch(vendors))


def lifecycle(n: int, rng: random.Random) -> list[c.Command]:
    """The six commands of one complete LS payment, with PPN and PPh 23 withheld."""
    spp = f"SPP/{n:07d}/BENCH/{YEAR}"
    gross = rng.randrange(1_000_000, 200_000_000, 1_000)
    deductions = tuple(d.as_dict() for d in withholdings(gross * 100 // 111, ["PPN", "PPH23"]))
    did = ids.disbursement_id(PEMDA, YEAR, spp)
    envelope: dict[str, Any] = {"pemda": PEMDA}
    return [
        c.RequestDisbursement(
            idempotency_key=f"r-{n}",
            actor=PPTK,
            year=YEAR,
            spp_number=spp,
            line=line_ref(rng.randrange(LINES)),
            vendor_npwp=npwp(rng.randrange(VENDORS)),
            gross=gross,
            deductions=deductions,
            description="Publikasi kegiatan",
            documents={"kontrak": f"{n:07d}/SPK/2026", "bast": f"{n:07d}/BAST/2026"},
            **envelope,
        ),
        c.VerifyDisbursement(idempotency_key=f"v-{n}", actor=PPK, disbursement_id=did, **envelope),
        c.ApproveSpm(
            idempotency_key=f"a-{n}",
            actor=PA,
            disbursement_id=did,
            spm_number=f"SPM/{n:07d}",
            **envelope,
        ),
        c.AuthoriseSp2d(
            idempotency_key=f"s-{n}",
            actor=BUD,
            disbursement_id=did,
            sp2d_number=f"SP2D/{n:07d}",
            **envelope,
        ),
        c.RecordTransferSent(
            idempotency_key=f"t-{n}",
            actor=GATEWAY,
            disbursement_id=did,
            gateway="iris",
            reference=f"IRS{n:010d}",
            **envelope,
        ),
        c.RecordSettlement(
            idempotency_key=f"b-{n}",
            actor=GATEWAY,
            disbursement_id=did,
            bank_reference=f"BJB{n:010d}",
            **envelope,
        ),
    ]


def stream(lifecycles: int, batch: int) -> list[list[c.Command]]:
    """Batches of ``batch`` independent commands: waves of ``batch`` lifecycles, step by step."""
    rng = random.Random(batch)
    all_steps = [lifecycle(n, rng) for n in range(lifecycles)]
    batches = []
    for start in range(0, lifecycles, batch):
        wave = all_steps[start : start + batch]
        batches += [[steps[step] for steps in wave] for step in range(STEPS)]
    return batches


def check(outcomes: list[Any]) -> None:
    errors = [o for o in outcomes if not isinstance(o, CommandResult)]
    if errors:
        raise RuntimeError(f"{len(errors)} commands refused, first: {errors[0]!r}")


_KINDS = {"CommandReceipt": "receipts", "DocumentNumber": "claims"}


def count_receipts(ledger: Ledger) -> Counter[str]:
    """Receipts and claims stored (kept apart from the log), by kind (read from the store)."""
    return Counter(_KINDS[type(e).__qualname__.partition(".")[0]] for e in ledger.receipts())


def count_events(ledger: Ledger, after: int) -> Counter[str]:
    """Events stored since notification ``after``, by kind (read from the store)."""
    kinds: Counter[str] = Counter()
    recorder = ledger.recorder
    start = after + 1
    while True:
        page = recorder.select_notifications(start=start, limit=10_000)
        if not page:
            return kinds
        for n in page:
            aggregate = n.topic.rpartition(":")[2].partition(".")[0]
            kinds[_KINDS.get(aggregate, "domain")] += 1
        start = page[-1].id + 1


# -- measurements ----------------------------------------------------------------------------------
@dataclass
class Row:
    backend: str
    what: str
    batch: int
    lifecycles: int
    seconds: float
    events: int
    domain: int
    receipts: int
    claims: int
    # CPU seconds of this process over the same loop (``time.process_time``): on a loaded machine
    # steadier than wall-clock; all of SQLite's work, but none of the PostgreSQL server's.
    cpu: float = 0.0

    @property
    def lifecycles_per_s(self) -> float:
        return self.lifecycles / self.seconds if self.lifecycles else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def domain_per_s(self) -> float:
        return self.domain / self.seconds

    @property
    def domain_per_cpu_s(self) -> float:
        return self.domain / self.cpu if self.cpu else 0.0


def clock() -> datetime:
    return datetime.now(UTC)


def run_ledger(
    backend: str, batch: int, lifecycles: int, profile: cProfile.Profile | None = None
) -> tuple[Row, dict[str, str]]:
    with store(backend) as url:
        ledger = Ledger(url, clock=clock)
        try:
            setup(ledger)
            settings = durability(backend, ledger)
            batches = stream(lifecycles, batch)
            before = ledger.recorder.max_notification_id() or 0
            receipts_before = count_receipts(ledger)
            if profile is not None:
                profile.enable()
            started, cpu_started = time.perf_counter(), time.process_time()
            for commands in batches:
                if batch == 1:
                    ledger.execute(commands[0])
                else:
                    check(ledger.execute_batch(commands))
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            if profile is not None:
                profile.disable()
            kinds = count_events(ledger, before) + count_receipts(ledger) - receipts_before
        finally:
            ledger.close()
    row = Row(
        backend,
        "ledger",
        batch,
        lifecycles,
        seconds,
        sum(kinds.values()),
        kinds["domain"],
        kinds["receipts"],
        kinds["claims"],
        cpu,
    )
    expected = lifecycles * 16
    if row.events != expected:
        raise RuntimeError(f"expected {expected} stored events, found {row.events}")
    return row, settings


class Thing(Aggregate):
    """The smallest useful aggregate: one event with a few fields."""

    @event("Created")
    def __init__(self, n: int, label: str) -> None:
        self.n = n
        self.label = label


class Plain(Application[UUID]):
    """The eventsourcing library alone, with its own recorder: no rules, no receipts, no chain."""


def run_plain(backend: str, events: int, per_transaction: int) -> Row:
    with store(backend) as url:
        env = env_for_url(url)
        # The library's own recorder (no hash chain, its own insert), not kasda's.
        env.pop("APPLICATION_RECORDER_TOPIC", None)
        prepare(env)
        app = Plain(env=env)
        try:
            things = [Thing(n, f"thing {n}") for n in range(events)]
            started, cpu_started = time.perf_counter(), time.process_time()
            for start in range(0, events, per_transaction):
                app.save(*things[start : start + per_transaction])
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            stored = len(app.recorder.select_notifications(start=1, limit=events + 1))
        finally:
            app.close()
    if stored != events:
        raise RuntimeError(f"expected {events} stored events, found {stored}")
    return Row(backend, "plain library", per_transaction, 0, seconds, stored, stored, 0, 0, cpu)


def measure(
    backend: str, sizes: dict[int, int], repeat: int, baseline_events: int
) -> tuple[list[Row], dict[str, str]]:
    rows: list[Row] = []
    settings: dict[str, str] = {}
    for per_transaction in PLAIN_BATCHES:
        runs = [run_plain(backend, baseline_events, per_transaction) for _ in range(repeat)]
        rows.append(median(runs))
        print(format_row(rows[-1]), flush=True)
    for batch in BATCH_SIZES:
        runs = []
        for _ in range(repeat):
            row, settings = run_ledger(backend, batch, sizes[batch])
            runs.append(row)
        rows.append(median(runs))
        print(format_row(rows[-1]), flush=True)
    return rows, settings


def median(runs: list[Row]) -> Row:
    """The run with the median time (so its counts stay its own)."""
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


HEADER = (
    f"{'store':<8} {'what':<14} {'batch':>5} {'lifecycles':>10} {'seconds':>8} "
    f"{'lifecycles/s':>12} {'events/s':>9} {'domain/s':>9} {'cpu s':>7} {'domain/cpu-s':>12}"
)


def format_row(r: Row) -> str:
    lifecycles = f"{r.lifecycles:,}" if r.lifecycles else "-"
    rate = f"{r.lifecycles_per_s:,.0f}" if r.lifecycles else "-"
    return (
        f"{r.backend:<8} {r.what:<14} {r.batch:>5} {lifecycles:>10} {r.seconds:>8.2f} "
        f"{rate:>12} {r.events_per_s:>9,.0f} {r.domain_per_s:>9,.0f} {r.cpu:>7.2f} "
        f"{r.domain_per_cpu_s:>12,.0f}"
    )


def verdict(backend: str, rows: list[dict[str, Any]]) -> str:
    """Issue 17: the ledger's best domain events/s against the plain library's best batched rate
    (more than one event per transaction), both of this run."""
    best = max((r for r in rows if r["what"] == "ledger"), key=lambda r: r["domain_per_s"])
    plain = max(
        (r for r in rows if r["what"] == "plain library" and r["batch"] > 1),
        key=lambda r: r["events_per_s"],
    )
    ratio = best["domain_per_s"] / plain["events_per_s"]
    met = "MET" if ratio >= 1.0 else "NOT MET"
    # The same comparison in this process's CPU seconds (steadier on a loaded machine; on
    # PostgreSQL it leaves out the server's CPU, of which the plain library's insert is mostly made).
    best_cpu = max((r for r in rows if r["what"] == "ledger"), key=lambda r: r["domain_per_cpu_s"])
    plain_cpu = max(
        (r for r in rows if r["what"] == "plain library" and r["batch"] > 1),
        key=lambda r: r["domain_per_cpu_s"],
    )
    cpu_ratio = best_cpu["domain_per_cpu_s"] / plain_cpu["domain_per_cpu_s"]
    return (
        f"{backend}: ledger best {best['domain_per_s']:,.0f} domain events/s "
        f"({best['events_per_s']:,.0f} stored events/s incl. receipts and claims) at batch "
        f"{best['batch']}; plain library {plain['events_per_s']:,.0f} events/s at batch "
        f"{plain['batch']}; ratio {ratio:.2f}x; target >= 1.0x {met}\n"
        f"{backend}: per CPU-second of this process: ledger {best_cpu['domain_per_cpu_s']:,.0f} "
        f"domain events (batch {best_cpu['batch']}), plain library "
        f"{plain_cpu['domain_per_cpu_s']:,.0f} (batch {plain_cpu['batch']}); ratio {cpu_ratio:.2f}x"
    )


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def profile_one(spec: str, lifecycles: int | None, top: int) -> None:
    backend, _, size = spec.partition(":")
    batch = int(size or 100)
    profile = cProfile.Profile()
    row, _settings = run_ledger(backend, batch, lifecycles or FULL_SIZES.get(batch, 2_000), profile)
    print(HEADER)
    print(format_row(row))
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n--- top {top} by {order} ---")
        print(text.getvalue().split("\n", 6)[-1] if order == "tottime" else text.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, one repetition")
    parser.add_argument("--repeat", type=int, help="runs per row, median kept (default 3; quick 1)")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both", help="default both"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--gc",
        choices=("default", "tuned", "off"),
        default="default",
        help="Python's cyclic GC: as shipped (default), gc.set_threshold(50_000, 20, 20), or off",
    )
    parser.add_argument(
        "--profile", metavar="BACKEND:BATCH", help="cProfile one ledger run, e.g. sqlite:100"
    )
    parser.add_argument("--lifecycles", type=int, help="lifecycles for --profile")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    args = parser.parse_args(argv)

    if args.gc == "tuned":
        gc.set_threshold(50_000, 20, 20)
    elif args.gc == "off":
        gc.disable()
    if args.profile:
        profile_one(args.profile, args.lifecycles, args.top)
        return 0
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    repeat = args.repeat or (1 if args.quick else 3)
    baseline = BASELINE_EVENTS["quick" if args.quick else "full"]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and (problem := postgres_problem()) is not None:
        print(f"!!! skipping PostgreSQL: {problem}", file=sys.stderr)
        backends.remove("postgres")

    info = machine()
    print(" | ".join(f"{k}: {v}" for k, v in info.items()))
    print(
        f"{repeat} run(s) per row, median by time; 16 stored events per lifecycle; "
        f"gc {args.gc} (thresholds {gc.get_threshold()}, enabled {gc.isenabled()})\n"
    )
    print(HEADER)
    results: dict[str, Any] = {"machine": info, "repeat": repeat, "gc": args.gc, "backends": {}}
    for backend in backends:
        rows, settings = measure(backend, sizes, repeat, baseline)
        results["backends"][backend] = {
            "settings": settings,
            "rows": [
                {
                    **asdict(r),
                    "lifecycles_per_s": r.lifecycles_per_s,
                    "events_per_s": r.events_per_s,
                    "domain_per_s": r.domain_per_s,
                    "domain_per_cpu_s": r.domain_per_cpu_s,
                }
                for r in rows
            ],
        }
        print(f"{'':<8} settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    ledger_rows = [
        r for b in results["backends"].values() for r in b["rows"] if r["what"] == "ledger"
    ]
    if ledger_rows:
        first = ledger_rows[0]
        per = {k: first[k] // first["lifecycles"] for k in ("domain", "receipts", "claims")}
        print(
            f"\nstored events per lifecycle: {per['domain']} domain events, {per['receipts']} "
            f"idempotency receipts, {per['claims']} SPM/SP2D number claims"
        )
    for backend, data in results["backends"].items():
        print(verdict(backend, data["rows"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
