"""One reconciliation run, from the files to the recordable ``Record``: the steps ``kasda reconcile``
runs (``kasda/reconcile.py`` adds its arguments, report folder, nightly mode and exit codes) and the
web app's upload form runs over its own store (``match_day``).

The steps: the files the run names (a folder, its files of the period; a glob, its files), each bank
statement and gateway report read once, the ledger lines of the run's pemda (from a canonical
Parquet file or an open event store), scoped to the period and the window, matched (in memory, or
in partitions on disk), summarised, and the run as the ledger records it. An input that cannot be
read, or a run that cannot be recorded, is ``RunRefused``: its message names the file, the line and
why, as ``kasda reconcile`` prints it. Polars and the readers are imported by the steps only, so the
command line starts fast."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Executor
    from uuid import UUID

    import polars as pl

    from ledger.application import Ledger
    from ledger.commands import RecordReconciliation
    from ledger.roles import Actor
    from reconciliation.matching import LazyResult, Params, Result
    from reconciliation.record import Record
    from reconciliation.report import Input, Summary

# Seconds to wait for an input's SHA-256 once it is read (a 10 GB file hashes in well under this).
DIGEST_TIMEOUT = 600.0
# The run's pemda when the ledger is a file (or the store holds none) and none is named.
DEFAULT_PEMDA = "32.73"
PREFIX = "kasda reconcile: "  # how a refusal begins, as the command line prints it

Say = Callable[[str], None]
# Opens the event store for the run's ledger lines (and closes it, or not, on exit).
StoreOpener = Callable[[], contextlib.AbstractContextManager["Ledger"]]


class RunRefused(Exception):
    """A run that stops before its report (files that cannot be reconciled, or recorded): the
    message says which file, which line and why, as ``kasda reconcile`` prints it."""


@dataclass(frozen=True, slots=True)
class RunInputs:
    """What one run reconciles and how: the statement period (``start``..``end``, the cut-off),
    the bank statements (and gateway reports) as given (files, folders, globs), the pemda's time
    zone (the calendar day of a ledger line of the store), the bank's CSV profile (and a file of
    more profiles), the window in days, the ledger (a canonical Parquet file, else the event
    store), the pemda (None: the store's one pemda), and the partitions of the match (0: in
    memory, or chosen for ``memory_limit`` bytes)."""

    start: date
    end: date
    bank: tuple[Path, ...]
    timezone: str
    gateway: tuple[Path, ...] = ()
    profile: str = "bpd"
    profiles: Path | None = None
    window: int = 3
    ledger: Path | None = None
    pemda: str | None = None
    partitions: int = 0
    memory_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Matched:
    """A run matched: every line with its status, the summary, and the run's pemda (given, or the
    store's one)."""

    result: Result | LazyResult
    summary: Summary
    pemda: str


@dataclass(frozen=True, slots=True)
class DayRun:
    """A day matched: its summary, and the run as the ledger records it (None when it has more
    exceptions than a run may hold: nothing may be recorded)."""

    summary: Summary
    record: Record | None


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _quiet(message: str) -> None:
    pass


# -- the files of the run --------------------------------------------------------------------------
def of_period(folder: Path, start: date, end: date) -> list[Path]:
    """The files of ``folder`` (not its subfolders) whose name contains a day of the period,
    ``YYYY-MM-DD``, as the bank and the gateway name their daily files."""
    if not folder.is_dir():
        return []
    days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and any(d in p.name for d in days)
    )


_WILDCARDS = frozenset("*?[")


def _named(path: Path, role: str, start: date, end: date) -> list[Path]:
    """The files one ``--bank`` / ``--gateway`` names. Raises ``ValueError``."""
    if path.is_dir():
        files = of_period(path, start, end)
        if not files:
            raise ValueError(
                f"--{role} {path}: no file of {start}..{end} in the folder "
                "(file names must contain the day, YYYY-MM-DD)"
            )
        return files
    if not path.exists() and _WILDCARDS & set(str(path)):
        anchor = Path(path.anchor) if path.is_absolute() else Path()
        files = sorted(p for p in anchor.glob(str(path.relative_to(anchor))) if p.is_file())
        if not files:
            raise ValueError(f"--{role} {path}: no file matches")
        return files
    return [path]  # a missing file is the reader's "cannot read the file"


def input_files(given: tuple[Path, ...], role: str, run: RunInputs, warn: Say) -> tuple[Path, ...]:
    """The files named by ``--bank`` / ``--gateway``: files as given; a folder, its files of the
    period; a glob the shell did not expand (quoted, or from a script), the files it matches. A
    file given twice (the same file, by any path) is read once. Raises ``ValueError``."""
    found = [p for path in given for p in _named(path, role, run.start, run.end)]
    unique: dict[Path, Path] = {}
    for path in found:
        key = path.resolve()
        if key in unique:
            warn(f"{PREFIX}{path} is given twice (as {unique[key]}); reading it once")
        else:
            unique[key] = path
    return tuple(unique.values())


def resolve_inputs(run: RunInputs, warn: Say = _stderr) -> RunInputs:
    """``run`` with its bank and gateway inputs as the files they name; one file cannot be both."""
    try:
        bank = input_files(run.bank, "bank", run, warn)
        gateway = input_files(run.gateway, "gateway", run, warn)
    except ValueError as error:
        raise RunRefused(f"{PREFIX}{error}") from None
    both = {p.resolve() for p in bank} & {p.resolve() for p in gateway}
    if both:
        raise RunRefused(f"{PREFIX}{sorted(both)[0]} is given as --bank and as --gateway")
    return replace(run, bank=bank, gateway=gateway)


# -- reading -------------------------------------------------------------------------------------
@dataclass
class _Inputs:
    """What a run reads, as it reads it: the statement side (frames for an in-memory run; for a
    partitioned one, each input in canonical Parquet, read once), every input with its digest and
    line count, the references of the credits (the receipts they pay are in scope), the ledger
    lines (all of them, then those of the period) and the run's pemda."""

    frames: list[pl.DataFrame] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    read: list[Input] = field(default_factory=list)
    paid_in: list[pl.Series] = field(default_factory=list)
    ledger: pl.DataFrame | None = None
    # A partitioned run's ledger file, checked and not held: scanned (normalised), then scoped
    # straight into ``ledger_file`` in the work folder.
    ledger_scan: pl.LazyFrame | None = None
    ledger_file: Path | None = None
    ledger_source: Input | None = None  # the ledger file or store, before it is scoped
    pemda: str = DEFAULT_PEMDA

    def take_ledger(self) -> pl.DataFrame:
        """The ledger lines, no longer held here (a partitioned run drops them once on disk)."""
        ledger, self.ledger = self.ledger, None
        assert ledger is not None, "the ledger is read before it is matched"
        return ledger


def _read(run: RunInputs, store: StoreOpener | None, work: Path | None, say: Say) -> _Inputs:
    """Read every statement file and the ledger; an unreadable one stops the run."""
    from reconciliation.errors import StatementError

    inputs = _Inputs()
    try:
        if work is not None and run.ledger is not None:
            _read_beside(run, work, inputs, say)
        else:
            _read_statement(run, work, inputs, say)
            _read_ledger(run, store, inputs, say)
    except (StatementError, ValueError, OSError) as error:
        # StatementError is path:line: reason already; a bad profile file is a ValueError.
        raise RunRefused(
            str(error) if isinstance(error, StatementError) else f"{PREFIX}{error}"
        ) from None
    return inputs


def _read_beside(run: RunInputs, work: Path, inputs: _Inputs, say: Say) -> None:
    """A partitioned run's statements, with its ledger file checked on a second thread meanwhile
    (Polars and hashlib release the GIL; the readers leave part of the second core idle). The
    ledger is not held: it is scanned, checked column by column, and scoped into the work folder
    later (``_scope``). A bad statement is reported before a bad ledger, as when read in turn."""
    from concurrent.futures import ThreadPoolExecutor

    from reconciliation.readers.ledger import scan_ledger_parquet
    from reconciliation.report import Input, sha256_of

    path = run.ledger
    assert path is not None, "a ledger file is checked beside the statements"
    say(f"checking ledger {path} beside the statements")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kasda-ledger") as pool:
        checked = pool.submit(scan_ledger_parquet, path)
        digest = pool.submit(sha256_of, path)
        _read_statement(run, work, inputs, say)
        inputs.ledger_scan, lines = checked.result()
        inputs.ledger_source = Input("ledger", str(path), digest.result(), lines)
    inputs.pemda = run.pemda or DEFAULT_PEMDA


def _read_statement(run: RunInputs, work: Path | None, inputs: _Inputs, say: Say) -> None:
    """Each bank statement and gateway report, once: kept in memory, or (a partitioned run) written
    to ``work`` as canonical Parquet piece by piece as the reader gives them, so a statement of any
    size is read in the reader's bounded memory. A partitioned run reads its gateway reports on a
    second thread while the bank statements are read (a reader leaves part of the second core
    idle, and a report's pieces are small); the inputs keep their order, and a bad bank statement
    is reported before a bad gateway report, as when read in turn."""
    from concurrent.futures import Future, ThreadPoolExecutor

    sources = [("bank", p) for p in run.bank] + [("gateway", p) for p in run.gateway]
    # The digest of a file is taken on a second thread while the file is read (hashlib and file
    # reads release the GIL): a large statement's SHA-256 then costs no wall time of its own.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="kasda-digest") as hashing,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="kasda-gateway") as beside,
    ):
        read = _SourceReader(run, work, hashing, say)
        ahead: dict[int, Future[_Source]] = {
            k: beside.submit(read, k, role, path)
            for k, (role, path) in enumerate(sources)
            if role == "gateway" and work is not None
        }
        try:
            for k, (role, path) in enumerate(sources):
                _keep(ahead[k].result() if k in ahead else read(k, role, path), inputs)
        except BaseException:
            for pending in ahead.values():
                pending.cancel()
            raise


@dataclass(frozen=True, slots=True)
class _Source:
    """One input read: as the run lists it, and its lines (a frame, or the files written)."""

    read: Input
    frame: pl.DataFrame | None
    written: Written | None


class _SourceReader:
    """Reads one bank statement or gateway report (``_read_statement``), its digest taken on the
    ``hashing`` thread meanwhile."""

    def __init__(self, run: RunInputs, work: Path | None, hashing: Executor, say: Say) -> None:
        from reconciliation.readers.csv_profiles import DEFAULT_PROFILES, load_profiles

        self.run, self.work, self.hashing, self.say = run, work, hashing, say
        self.profiles = load_profiles(run.profiles) if run.profiles else DEFAULT_PROFILES

    def __call__(self, k: int, role: str, path: Path) -> _Source:
        from reconciliation.readers import bank_statement_pieces, collect, gateway_report_pieces
        from reconciliation.report import Input, sha256_of

        self.say(f"reading {'bank statement' if role == 'bank' else 'gateway report'} {path}")
        digest = self.hashing.submit(sha256_of, path)
        pieces = (
            bank_statement_pieces(path, self.run.profile, self.profiles)
            if role == "bank"
            else gateway_report_pieces(path)
        )
        if self.work is None:
            frame = collect(pieces)
            source = Input(role, str(path), digest.result(timeout=DIGEST_TIMEOUT), frame.height)
            return _Source(source, frame, None)
        written = write_pieces(pieces, self.work, f"input-{k}")
        source = Input(role, str(path), digest.result(timeout=DIGEST_TIMEOUT), written.lines)
        return _Source(source, None, written)


def _keep(source: _Source, inputs: _Inputs) -> None:
    if source.frame is not None:
        inputs.frames.append(source.frame)
        inputs.paid_in.append(_credits(source.frame))
    if source.written is not None:
        inputs.files.extend(source.written.files)
        inputs.paid_in.extend(source.written.paid_in)
    inputs.read.append(source.read)


def _credits(frame: pl.DataFrame) -> pl.Series:
    """The references of the credits that pay receipts (not returns, not interest)."""
    import polars as pl

    credit = (pl.col("direction") == "C") & ~pl.col("kind").is_in(["return", "interest"])
    return frame.filter(credit)["reference"]


@dataclass(frozen=True, slots=True)
class Written:
    """A statement written as canonical Parquet pieces: the files, its lines, and the references of
    its credits that pay receipts."""

    files: list[Path]
    lines: int
    paid_in: list[pl.Series]


def write_pieces(pieces: Iterator[pl.DataFrame | None], work: Path, stem: str) -> Written:
    """Write a reader's pieces as ``STEM-N.parquet`` in ``work`` as they come. A ``None`` piece drops
    the files written so far; a reader that raises leaves none behind. A statement with no lines is
    one empty file (it is still an input of the run)."""
    import polars as pl

    from reconciliation.partitioned import WORK_COMPRESSION
    from reconciliation.schema import STATEMENT

    written = Written([], 0, [])
    try:
        for piece in pieces:
            if piece is None:
                _remove(written.files)
                written = Written([], 0, [])
                continue
            written.files.append(work / f"{stem}-{len(written.files)}.parquet")
            piece.write_parquet(written.files[-1], compression=WORK_COMPRESSION, statistics=False)
            written.paid_in.append(_credits(piece))
            written = replace(written, lines=written.lines + piece.height)
    except BaseException:
        _remove(written.files)
        raise
    if not written.files:
        written.files.append(work / f"{stem}-0.parquet")
        pl.DataFrame(schema=STATEMENT).write_parquet(written.files[-1])
    return written


def _remove(files: list[Path]) -> None:
    for old in files:
        old.unlink(missing_ok=True)


def _read_ledger(run: RunInputs, store: StoreOpener | None, inputs: _Inputs, say: Say) -> None:
    """The ledger lines of the run's pemda, from ``run.ledger`` or the event store (whose one pemda
    is the run's when ``run.pemda`` is not given). The store has no file digest: its lines are
    digested once scoped to the period."""
    from reconciliation.readers.ledger import read_ledger_parquet
    from reconciliation.report import Input, sha256_of

    if run.ledger is not None:
        inputs.pemda = run.pemda or DEFAULT_PEMDA
        say(f"reading ledger {run.ledger}")
        inputs.ledger = read_ledger_parquet(run.ledger)
        inputs.ledger_source = Input(
            "ledger", str(run.ledger), sha256_of(run.ledger), inputs.ledger.height
        )
        return
    from reconciliation.readers.ledger import ledger_frames
    from reconciliation.schema import empty_ledger

    assert store is not None, "a run without a ledger file reads the event store"
    say("reading the ledger from the event store")
    with store() as opened:
        frames = ledger_frames(opened, timezone=run.timezone)
    if run.pemda is None and len(frames) > 1:
        pemdas = ", ".join(sorted(frames))
        raise RunRefused(f"{PREFIX}the store holds pemdas {pemdas}: name one with --pemda")
    inputs.pemda = run.pemda if run.pemda is not None else next(iter(frames), DEFAULT_PEMDA)
    inputs.ledger = frames.get(inputs.pemda, empty_ledger())
    del frames
    inputs.ledger_source = Input("ledger", "KASDA_DATABASE_URL", "", inputs.ledger.height)


def _scope(inputs: _Inputs, run: RunInputs, work: Path | None, say: Say) -> None:
    """Keep the ledger lines of the statement period. The run's ledger input is those lines (the
    store's digest is theirs too), not every line of the store or file. A scanned ledger file is
    scoped into ``work`` (``ledger.parquet``) as it is read."""
    import polars as pl

    from reconciliation.matching import scope_ledger
    from reconciliation.record import ledger_digest
    from reconciliation.report import Input

    source = inputs.ledger_source
    assert source is not None, "the ledger is read before it is scoped"
    paid_in = pl.concat(inputs.paid_in) if inputs.paid_in else None
    lines = sum(i.lines for i in inputs.read)
    if inputs.ledger_scan is not None and work is not None:
        scoped_lines = _scope_to_file(inputs, run, paid_in, work / "ledger.parquet")
        inputs.read.append(Input("ledger", source.path, source.sha256, scoped_lines))
        say(f"{lines} statement lines, {scoped_lines} of {source.lines} ledger lines in the period")
        return
    ledger = inputs.take_ledger()
    scoped = scope_ledger(
        ledger, run.start, run.end, paid_in=paid_in, window_days=run.window
    ).collect()
    digest = source.sha256 or ledger_digest(scoped)
    inputs.read.append(Input("ledger", source.path, digest, scoped.height))
    say(f"{lines} statement lines, {scoped.height} of {ledger.height} ledger lines in the period")
    inputs.ledger = scoped


def _scope_to_file(inputs: _Inputs, run: RunInputs, paid_in: pl.Series | None, target: Path) -> int:
    """The scanned ledger's lines of the period, streamed into ``target`` (never held whole); how
    many there are. A file that turns out unreadable past its metadata is refused as when read."""
    import polars as pl

    from reconciliation.errors import StatementError
    from reconciliation.matching import scope_ledger
    from reconciliation.partitioned import WORK_COMPRESSION

    scan, inputs.ledger_scan = inputs.ledger_scan, None
    assert scan is not None, "a scanned ledger is scoped once"
    scoped = scope_ledger(scan, run.start, run.end, paid_in=paid_in, window_days=run.window)
    try:
        scoped.sink_parquet(target, compression=WORK_COMPRESSION, statistics=False)
    except (OSError, pl.exceptions.ComputeError) as error:
        unreadable = StatementError(str(run.ledger), 0, f"not a readable Parquet file: {error}")
        raise RunRefused(str(unreadable)) from None
    inputs.ledger_file = target
    return int(pl.scan_parquet(target).select(pl.len()).collect().item())


# -- matching --------------------------------------------------------------------------------------
def _match(
    inputs: _Inputs, params: Params, run: RunInputs, work: Path | None, say: Say
) -> Result | LazyResult:
    """Every line of both sides with its status: in memory, or in partitions on disk when the run
    has a work folder and more than one partition (given, or chosen for ``memory_limit``)."""
    import polars as pl

    from reconciliation.matching import reconcile
    from reconciliation.schema import STATEMENT

    partitions = run.partitions
    if work is not None and not partitions and run.memory_limit is not None:
        from reconciliation.partitioned import partitions_for

        lines = sum(i.lines for i in inputs.read)
        partitions = partitions_for(lines, run.memory_limit)
        say(f"--memory-limit {run.memory_limit}: {partitions} partition(s)")
    if work is not None and partitions > 1:
        return _match_partitioned(inputs, params, partitions, work, say)
    if inputs.files:
        inputs.frames = [pl.read_parquet(inputs.files)]
    parts, inputs.frames = inputs.frames, []
    statement = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=STATEMENT)
    del parts
    if inputs.ledger_file is not None:
        inputs.ledger = pl.read_parquet(inputs.ledger_file)
    return reconcile(statement, inputs.take_ledger(), params, progress=say)


def _match_partitioned(
    inputs: _Inputs, params: Params, partitions: int, work: Path, say: Say
) -> LazyResult:
    from reconciliation.partitioned import WORK_COMPRESSION, lazy_result, reconcile_files

    ledger_file = inputs.ledger_file or work / "ledger.parquet"
    if inputs.ledger_file is None:
        inputs.take_ledger().write_parquet(
            ledger_file, compression=WORK_COMPRESSION, statistics=False
        )
    dense = reconcile_files(inputs.files, ledger_file, params, partitions, work, progress=say)
    say("writing every line with its status")
    return lazy_result(inputs.files, ledger_file, dense, work, partitions)


def match(
    run: RunInputs,
    store: StoreOpener | None,
    *,
    work: Path | None = None,
    say: Say = _quiet,
    warn: Say = _stderr,
) -> Matched:
    """Resolve, read, scope, match and summarise the run. ``store`` opens the event store when
    ``run.ledger`` is None; ``work`` is the folder of a partitioned run (None: in memory); ``say``
    reports progress, ``warn`` a file given twice. Raises ``RunRefused``."""
    from reconciliation.matching import Params
    from reconciliation.report import Summary, summarise

    run = resolve_inputs(run, warn)
    inputs = _read(run, store, work, say)
    _scope(inputs, run, work, say)
    result = _match(inputs, Params(period_end=run.end, window_days=run.window), run, work, say)
    say("counting the lines per status")
    summary = summarise(result, Summary(run.start, run.end, run.window, inputs.read))
    return Matched(result, summary, inputs.pemda)


# -- the record ------------------------------------------------------------------------------------
def recordable(matched: Matched, run: RunInputs) -> Record | None:
    """The run as the ledger records it; None when it has more exceptions than a run may hold.
    Raises ``RunRefused`` if it cannot be recorded."""
    from ledger.handlers import MAX_RECONCILIATION_EXCEPTIONS
    from reconciliation.record import RecordError, build, exception_count, parameters_input

    if exception_count(matched.summary) > MAX_RECONCILIATION_EXCEPTIONS:
        return None
    try:
        extra = [parameters_input(run.start, run.end, run.window, run.profile)]
        return build(matched.result, matched.summary, extra)
    except RecordError as error:
        raise RunRefused(f"{PREFIX}cannot record the run: {error}") from None


def match_day(
    store: Ledger,
    *,
    pemda: str,
    day: date,
    bank: list[Path],
    gateway: list[Path],
    timezone: str,
    profile: str = "bpd",
    window: int = 3,
) -> DayRun:
    """``kasda reconcile --date day --pemda pemda`` over an open store (left open): the same reading,
    scoping, matching and record, without a report folder. Raises ``RunRefused``."""
    if window < 0:
        raise RunRefused(f"{PREFIX}--window must not be negative")
    run = RunInputs(start=day, end=day, bank=tuple(bank), gateway=tuple(gateway),
                    profile=profile, window=window, pemda=pemda, timezone=timezone)  # fmt: skip
    matched = match(run, lambda: contextlib.nullcontext(store))
    return DayRun(matched.summary, recordable(matched, run))


def run_id_of(pemda: str, record: Record) -> UUID:
    """The id of the run ``record`` is recorded as: the same pemda, day and inputs, the same run."""
    from ledger import ids

    return ids.reconciliation_run_id(pemda, record.business_date, record.inputs_digest)


def record_command(pemda: str, actor: Actor, record: Record) -> RecordReconciliation:
    """The command that records ``record`` once (its key is the run's: recording it again is a
    replay, never a second run)."""
    from ledger.commands import RecordReconciliation

    return RecordReconciliation(
        idempotency_key=f"reconcile:{pemda}:{record.business_date}:{record.inputs_digest}",
        actor=actor,
        pemda=pemda,
        business_date=record.business_date,
        inputs=record.inputs,
        counts=record.counts,
        exceptions=record.exceptions,
    )
