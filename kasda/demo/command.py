"""``kasda demo``: build the year in a store that does not hold it yet (or find it built), print
its counts and totals and the LRA."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, PEMDA_NAME, YEAR
from kasda.demo.summary import Totals, format_totals, read_totals
from kasda.demo.world import BuildReport, DemoError, count
from kasda.demo.year import DemoYear
from kasda.lra import year_summary
from kasda.settings import Settings
from ledger.application import Ledger
from ledger.errors import NotFound
from ledger.store import env_for_url


def sqlite_path(url: str) -> Path | None:
    env = env_for_url(url)
    return Path(env["SQLITE_DBNAME"]) if env["PERSISTENCE_MODULE"].endswith("sqlite") else None


def demo_exists(ledger: Ledger) -> bool:
    try:
        ledger.budget(PEMDA, YEAR)
    except NotFound:
        return False
    return True


def files_folder(path: Path) -> Path:
    """Where the demo writes the gateway's and the bank's daily files: beside the SQLite file."""
    return path.parent / "kasda-demo-files"


def build_demo(
    url: str,
    seed: int,
    lifecycles: int = DEFAULT_LIFECYCLES,
    *,
    files_dir: Path | None = None,
    settings: Settings | None = None,
) -> tuple[Totals, BuildReport]:
    """Build the demo year in a store that does not hold it yet, and read its totals back;
    with ``files_dir``, write the year's daily files of the gateway and the bank there."""
    plan = DemoYear(seed, lifecycles)
    ledger = (settings or Settings()).open_ledger(url, clock=plan.clock)
    try:
        if demo_exists(ledger):
            raise DemoError(f"the store at {url} already holds APBD {YEAR} of pemda {PEMDA}")
        report = plan.run(ledger, files_dir)
        return read_totals(ledger), report
    finally:
        ledger.close()


def run_demo(
    seed: int = YEAR,
    lifecycles: int = DEFAULT_LIFECYCLES,
    *,
    url: str | None = None,
    fresh: bool = False,
    out: TextIO | None = None,
    settings: Settings | None = None,
) -> int:
    """``kasda demo``: build the year (or find it built already) and print its counts and totals."""
    out = out or sys.stdout
    settings = settings or Settings()
    url = url or settings.database_url
    path = sqlite_path(url)
    if fresh:
        if path is None:
            print(
                f"--fresh deletes an SQLite file; {url} is not one (use a new ?schema=)", file=out
            )
            return 2
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(f"kasda demo: {PEMDA_NAME} ({PEMDA}), APBD {YEAR}", file=out)
    print(f"store: {url}", file=out)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    ledger = settings.open_ledger(url)
    try:
        if demo_exists(ledger):
            rebuild = f"; `kasda demo --fresh` deletes {path} and builds it again" if path else ""
            print(
                f"\nThe store already holds the APBD {YEAR} of {PEMDA_NAME}: not building it again "
                f"(--seed and --lifecycles are ignored{rebuild}). Totals from the store:\n",
                file=out,
            )
            print(format_totals(read_totals(ledger)), file=out)
            year_summary(url, PEMDA, YEAR, out, settings)
            return 0
    finally:
        ledger.close()
    started = time.perf_counter()
    files_dir = files_folder(path) if path is not None else None
    totals, report = build_demo(url, seed, lifecycles, files_dir=files_dir, settings=settings)
    print(f"seed {seed}, {count(lifecycles)} planned lifecycles\n", file=out)
    print(format_totals(totals, report), file=out)
    if files_dir is not None:
        print(
            f"\nThe gateway's and the bank's daily files (payouts, settlements, RKUD statement "
            f"MT940 + CSV), {count(len(report.files))} files: {files_dir}",
            file=out,
        )
    year_summary(url, PEMDA, YEAR, out, settings)
    out.flush()
    print(f"(built and read back in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0
