"""What the SPD rule costs on the write path: the same lifecycles in a year without anggaran kas and
in a year that runs on SPD, in the same run, on the same stores.

With an anggaran kas, every SPP reads and writes its SKPD's ``CashPlan`` (charged to the SPD), and so
does every SP2D (the charge realised): two more events per lifecycle, and one more aggregate in the
transaction of two of its six steps. The workload is ``bench_ledger``'s (200 lines of one SKPD, 50
vendors, lifecycles in waves of ``batch``, six steps each); in the SPD year the SKPD's plan is
adopted and one SPD for the whole year issued before the timed part (not timed). All SPPs are of
one SKPD, so they all charge one ``CashPlan``: the worst case for the SPD register, which is one
aggregate per SKPD. Modes alternate run by run so that both see the same machine; each row is the
median of ``--runs`` runs.

    .venv/bin/python benchmarks/bench_spd.py            # sqlite and postgres, batch 1 and 100
    .venv/bin/python benchmarks/bench_spd.py --quick    # fewer lifecycles, one run each
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.bench_ledger import (
    ADMIN,
    BUD,
    LINES,
    check,
    durability,
    line_ref,
    machine,
    postgres_problem,
    setup,
    store,
    stream,
)
from ledger import commands as c
from ledger.application import Ledger
from testkit.world import PEMDA, SKPD, YEAR

PAGU = 10**13  # bench_ledger's pagu of each line
SIZES = {1: 200, 100: 3_000}
QUICK = {1: 60, 100: 600}


def clock() -> datetime:
    return datetime.now(UTC)


def run_on_spd(ledger: Ledger) -> None:
    """The SKPD's anggaran kas (each line's pagu over twelve months) and one SPD for the year."""
    share = PAGU // 12
    months = (share,) * 11 + (PAGU - 11 * share,)
    ledger.execute(
        c.AdoptCashPlan(
            idempotency_key="bench-kas",
            actor=ADMIN,
            pemda=PEMDA,
            year=YEAR,
            skpd=SKPD,
            document="PERWAL AK 2026",
            lines=tuple(c.LinePlan(line=line_ref(n), months=months) for n in range(LINES)),
        )
    )
    ledger.execute(
        c.IssueSpd(
            idempotency_key="bench-spd",
            actor=BUD,
            pemda=PEMDA,
            year=YEAR,
            skpd=SKPD,
            spd_number="SPD/BENCH/2026",
            first_month=1,
            last_month=12,
            amount=PAGU * LINES,  # the whole plan: far above what the run spends
        )
    )


def one_run(backend: str, batch: int, lifecycles: int, spd: bool) -> tuple[float, int]:
    """Seconds for ``lifecycles`` complete lifecycles, and the events they stored."""
    with store(backend) as url:
        ledger = Ledger(url, clock=clock)
        try:
            setup(ledger)
            if spd:
                run_on_spd(ledger)
            batches = stream(lifecycles, batch)
            before = ledger.recorder.max_notification_id() or 0
            started = time.perf_counter()
            for commands in batches:
                if batch == 1:
                    ledger.execute(commands[0])
                else:
                    check(ledger.execute_batch(commands))
            seconds = time.perf_counter() - started
            events = (ledger.recorder.max_notification_id() or 0) - before
        finally:
            ledger.close()
    return seconds, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgres"]
    if "postgres" in backends and (problem := postgres_problem()):
        print(f"postgres skipped: {problem}")
        backends.remove("postgres")
    sizes = QUICK if args.quick else SIZES
    runs = 1 if args.quick else args.runs
    print(machine())
    print(
        "backend   batch  lifecycles  without SPD lc/s  with SPD lc/s  ratio  events/lc (without, with)"
    )
    for backend in backends:
        with store(backend) as url:
            ledger = Ledger(url)
            print(f"{backend}: {durability(backend, ledger)}")
            ledger.close()
        for batch, lifecycles in sizes.items():
            seconds: dict[bool, list[float]] = {False: [], True: []}
            events: dict[bool, int] = {}
            for _ in range(runs):
                for spd in (False, True):
                    took, stored = one_run(backend, batch, lifecycles, spd)
                    seconds[spd].append(took)
                    events[spd] = stored
            plain = lifecycles / statistics.median(seconds[False])
            on_spd = lifecycles / statistics.median(seconds[True])
            print(
                f"{backend:9} {batch:5} {lifecycles:11} {plain:17.1f} {on_spd:14.1f} "
                f"{on_spd / plain:6.2f}  {events[False] / lifecycles:.0f}, {events[True] / lifecycles:.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
