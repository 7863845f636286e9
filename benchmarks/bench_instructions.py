"""What tamper evidence and encryption cost the write path, counted in CPU instructions.

Wall-clock runs on this shared VM vary by about +-25% from run to run, more than the cost being
measured. Instructions executed do not: each variant (plain library recorder, hash-chained,
hash-chained + AES-GCM) writes the same lifecycles to a fresh SQLite file under valgrind's
cachegrind (no cache simulation), and again with zero lifecycles; the difference is the write
path's own instruction count. SQLite runs inside the Python process, so the count covers the whole
write path except the kernel's I/O (the same bytes are fsynced in every variant, plus the chain's
small rows and the cipher's 28 bytes per event).

    .venv/bin/python benchmarks/bench_instructions.py [--lifecycles 400]

Needs ``valgrind`` (Debian: apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("plain", "chained", "encrypted")


def child(variant: str, lifecycles: int, path: str) -> None:
    """Write ``lifecycles`` disbursement lifecycles with ``variant``'s recorder (run under valgrind)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_ledger import check, clock, setup, stream
    from ledger.application import Ledger
    from ledger.cipher import new_key

    env: dict[str, str] = {}
    if variant == "plain":
        env["APPLICATION_RECORDER_TOPIC"] = "eventsourcing.sqlite:SQLiteApplicationRecorder"
    if variant == "encrypted":
        env["KASDA_CIPHER_KEY"] = new_key()
    ledger = Ledger(f"sqlite:///{path}", clock=clock, env=env)
    try:
        setup(ledger)
        for commands in stream(lifecycles, 100):
            check(ledger.execute_batch(commands))
        events = ledger.recorder.max_notification_id() or 0
        print(f"events={events}")
    finally:
        ledger.close()


def instructions(variant: str, lifecycles: int) -> tuple[int, int]:
    """(instructions executed, events stored) for one run in a fresh directory."""
    folder = tempfile.mkdtemp(prefix="kasda-ir-")
    try:
        command = [
            "valgrind", "--tool=cachegrind", "--cache-sim=no",
            f"--cachegrind-out-file={folder}/cg.out",
            sys.executable, __file__, "--child", variant, str(lifecycles), f"{folder}/k.db",
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        refs = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        events = re.search(r"events=(\d+)", done.stdout)
        if refs is None or events is None:
            raise RuntimeError(f"unexpected valgrind output:\n{done.stderr[-2000:]}")
        return int(refs.group(1).replace(",", "")), int(events.group(1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=400)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "LIFECYCLES", "PATH"))
    args = parser.parse_args(argv)
    if args.child:
        variant, lifecycles, path = args.child
        child(variant, int(lifecycles), path)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    costs: dict[str, float] = {}
    for variant in VARIANTS:
        base, setup_events = instructions(variant, 0)
        total, events = instructions(variant, args.lifecycles)
        events_written = events - setup_events
        costs[variant] = (total - base) / events_written
        print(
            f"{variant:9}: {total - base:>15,} instructions for {events_written:,} events "
            f"= {costs[variant]:,.0f} per stored event"
        )
    plain = costs["plain"]
    for variant in ("chained", "encrypted"):
        print(f"{variant:9}: {100 * (costs[variant] - plain) / plain:+.1f}% over plain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
