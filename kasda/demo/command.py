"""``kasda demo``: build the year in a store that does not hold it yet (or find it built), print
its counts and totals and the LRA.

An SQLite store gets a stamp beside it (``kasda.db.demo.json``: the seed, the planned lifecycles,
``DEMO_VERSION`` and kasda's version). Run again with the same ones, the demo finds the year built and
does not build it again; with another seed or version it deletes the file and builds the year again.
A store without a stamp (built before stamps, or not by the demo) is never deleted: ``--fresh`` does
that on request."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO

from kasda.demo.kkpd import record_kkpd_run
from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, PEMDA_NAME, YEAR
from kasda.demo.redflags import format_flags, record_red_flags
from kasda.demo.summary import Totals, format_totals, read_totals
from kasda.demo.world import BuildReport, DemoError, count
from kasda.demo.year import DemoYear
from kasda.demo.yearend import close_the_year
from kasda.lra import year_summary
from kasda.settings import Settings
from ledger.application import Ledger
from ledger.errors import NotFound
from ledger.store import env_for_url

# Bump when a change to kasda/demo builds a different year from the same seed: a stamped store of
# another version is built again by ``kasda demo`` (``make demo``).
# 4: each returned transfer paid again to the vendor's new account (``Payments._pay_again``).
# 5: the year closed (``yearend``: late SPPs lapse, one contract carries over, the next APBD).
# 6: the year runs on anggaran kas and SPD (``cashplan``).
# 7: the bendahara's advances (UP/GU/TU, KKPD) of a few SKPD (``advance``).
# 8: BPKAD reconciles the year's KKPD statement and records the run (``kkpd``).
DEMO_VERSION = 8  # 2: the red-flag schemes planted in the year (``schemes``); 3: every holiday


@dataclass(frozen=True)
class Stamp:
    """Which build made the demo year of a store: written beside an SQLite file once it is built."""

    seed: int
    lifecycles: int
    demo_version: int = DEMO_VERSION
    kasda_version: str = ""

    @classmethod
    def of(cls, seed: int, lifecycles: int) -> Stamp:
        return cls(seed, lifecycles, DEMO_VERSION, kasda_version())

    def describe(self) -> str:
        return (
            f"seed {self.seed}, {count(self.lifecycles)} planned lifecycles, "
            f"demo version {self.demo_version}, kasda {self.kasda_version}"
        )


def kasda_version() -> str:
    try:
        return version("kasda")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def stamp_path(path: Path) -> Path:
    """The stamp of the SQLite file ``path``: ``kasda.db.demo.json`` beside ``kasda.db``."""
    return path.with_name(f"{path.name}.demo.json")


def read_stamp(path: Path) -> Stamp | None:
    """The stamp beside an SQLite file; None when there is none or it cannot be read."""
    try:
        fields = json.loads(stamp_path(path).read_text())
        return Stamp(
            seed=int(fields["seed"]),
            lifecycles=int(fields["lifecycles"]),
            demo_version=int(fields["demo_version"]),
            kasda_version=str(fields["kasda_version"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_stamp(path: Path, stamp: Stamp) -> None:
    stamp_path(path).write_text(json.dumps(asdict(stamp), indent=2) + "\n")


def delete_store(path: Path) -> None:
    """Delete an SQLite store: the file, its WAL and shared memory, and its stamp."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    stamp_path(path).unlink(missing_ok=True)


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
    settings = settings or Settings()
    ledger = settings.open_ledger(url, clock=plan.clock)
    try:
        if demo_exists(ledger):
            raise DemoError(f"the store at {url} already holds APBD {YEAR} of pemda {PEMDA}")
        report = plan.run(ledger, files_dir)
        if files_dir is not None:  # BPKAD reconciles the bank's KKPD statement of the year
            statement = files_dir / f"kkpd-{YEAR}.csv"
            report.kkpd = record_kkpd_run(ledger, statement, plan.people.admins[0], settings)
        # The Inspektorat's run over the year, before the totals count the store's events.
        report.redflags = record_red_flags(ledger, plan.schemes.cases(), settings)
        report.year_end = close_the_year(ledger, plan).describe()  # the year's last afternoon
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
    """``kasda demo``: build the year unless the store holds it, built with this seed and version
    (an SQLite store built with others is deleted first), and print its counts and totals."""
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
        delete_store(path)
    print(f"kasda demo: {PEMDA_NAME} ({PEMDA}), APBD {YEAR}", file=out)
    print(f"store: {url}", file=out)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    wanted = Stamp.of(seed, lifecycles)
    if not _holds_demo(url, settings):
        print(f"\nNo demo year in the store yet: building it ({wanted.describe()}).", file=out)
    elif not _built_by_another(path, wanted, out):
        _print_store(url, settings, out)
        return 0
    return _build(url, wanted, path, settings, out)


def _holds_demo(url: str, settings: Settings) -> bool:
    ledger = settings.open_ledger(url)
    try:
        return demo_exists(ledger)
    finally:
        ledger.close()


def _built_by_another(path: Path | None, wanted: Stamp, out: TextIO) -> bool:
    """Whether the demo year in the store was built with another seed or version (and so was
    deleted, to be built again); says which, either way."""
    stamp = read_stamp(path) if path is not None else None
    if stamp is not None and stamp != wanted:
        assert path is not None
        print(
            f"\nThe store holds the APBD {YEAR} built with {stamp.describe()}; asked for "
            f"{wanted.describe()}: deleting {path} and building it again.",
            file=out,
        )
        delete_store(path)
        return True
    rebuild = f"; `kasda demo --fresh` deletes {path} and builds it again" if path else ""
    if stamp is None:
        how = "with no record of the seed it was built with (--seed and --lifecycles are ignored"
    else:
        how = f"built with {stamp.describe()} (the same as asked"
    print(
        f"\nThe store already holds the APBD {YEAR} of {PEMDA_NAME}, {how}{rebuild}): not "
        f"building it again. Totals from the store:\n",
        file=out,
    )
    return False


def _print_store(url: str, settings: Settings, out: TextIO) -> None:
    ledger = settings.open_ledger(url)
    try:
        print(format_totals(read_totals(ledger)), file=out)
    finally:
        ledger.close()
    year_summary(url, PEMDA, YEAR, out, settings)


def _build(url: str, stamp: Stamp, path: Path | None, settings: Settings, out: TextIO) -> int:
    started = time.perf_counter()
    files_dir = files_folder(path) if path is not None else None
    totals, report = build_demo(
        url, stamp.seed, stamp.lifecycles, files_dir=files_dir, settings=settings
    )
    if path is not None:
        write_stamp(path, stamp)
    print(file=out)
    print(format_totals(totals, report), file=out)
    if files_dir is not None:
        print(
            f"\nThe gateway's and the bank's daily files (payouts, settlements, RKUD statement "
            f"MT940 + CSV), {count(len(report.files))} files: {files_dir}",
            file=out,
        )
    if report.redflags is not None:
        print(f"\n{format_flags(report.redflags)}", file=out)
    year_summary(url, PEMDA, YEAR, out, settings)
    out.flush()
    print(f"(built and read back in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0
