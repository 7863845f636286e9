"""CPU seconds per command of the ledger's write path, two checkouts interleaved (A/B).

Each run is ``bench_ledger.run_ledger`` (disbursement lifecycles, every rule on) in a process of its
own, importing the ledger from the checkout given; the figure is the CPU time (user + sys) of that
process over the timed loop, divided by the commands run: all of SQLite's work, and the client's
share of PostgreSQL's. Small batches (1 and 2 commands) are what the API writes at its mix.

    .venv/bin/python benchmarks/bench_write_cpu.py OLD_CHECKOUT NEW_CHECKOUT --rounds 3

``OLD_CHECKOUT`` may be ``git archive main | tar -x -C /tmp/main``: the checkout's code is run with
this checkout's virtual environment.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

RUNS = ((1, 50), (2, 100), (500, 1_000))  # (commands per batch, lifecycles of six commands)

ONE_RUN = """
import os, sys
tree, backend, batch, lifecycles = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path[:0] = [tree, os.path.join(tree, "benchmarks")]
import bench_ledger, ledger
assert ledger.__file__.startswith(tree), ledger.__file__
row, _ = bench_ledger.run_ledger(backend, batch, lifecycles)
print(f"{row.cpu / (lifecycles * 6) * 1e6:.0f} {row.seconds / (lifecycles * 6) * 1e6:.0f}")
"""


def one(tree: Path, backend: str, batch: int, lifecycles: int) -> tuple[float, float]:
    """CPU and wall-clock µs per command of one run."""
    out = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(tree.resolve()), backend, str(batch), str(lifecycles)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="checkouts to compare, in run order")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    print("time     load  store    batch  checkout          cpu us/cmd  wall us/cmd")
    for _ in range(args.rounds):
        for backend in backends:
            for batch, lifecycles in RUNS:
                for tree in args.trees:
                    cpu, wall = one(tree, backend, batch, lifecycles)
                    load = Path("/proc/loadavg").read_text().split()[0]
                    print(
                        f"{time.strftime('%H:%M:%S', time.gmtime())} {load:>5} {backend:<8} "
                        f"{batch:>5}  {tree.resolve().name:<16} {cpu:>11,.0f} {wall:>12,.0f}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
