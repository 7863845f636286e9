"""``kasda reconcile``: match a day's RKUD statement and gateway reports against the ledger, write the
report and record the run in the ledger (``RecordReconciliation``: inputs' SHA-256, counts, every
exception); ``kasda reconcile-resolve`` closes one exception with a reason. Exit 0 on a completed run
(exceptions found or not, recorded now or already), 2 on unreadable input (``file:line: reason``),
bad arguments or a refused command, 1 when the event store is unavailable."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from uuid import UUID

    import polars as pl

    from kasda.settings import Settings
    from ledger.application import Ledger
    from ledger.commands import RecordReconciliation
    from ledger.roles import Actor
    from reconciliation.matching import LazyResult, Params, Result
    from reconciliation.record import Record
    from reconciliation.report import Input, Summary

# Polars and the readers are imported by ``run`` only, so every other ``kasda`` command starts fast.
WIB = timezone(timedelta(hours=7))
# The identity that records nightly runs unless --actor names the BPKAD user.
DEFAULT_ACTOR = "bpkad-reconcile"
DEFAULT_ROLE = "bpkad_admin"
DEFAULT_PEMDA = "32.73"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="match the RKUD statement and gateway reports against the ledger"
    )
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_day, help="the statement day (the cut-off), YYYY-MM-DD")
    when.add_argument(
        "--nightly",
        action="store_true",
        help="reconcile yesterday (WIB) from $KASDA_RECON_INBOX/{bank,gateway} into $KASDA_RECON_OUT",
    )
    parser.add_argument(
        "--since", type=_day, help="first day of the statement period (default: --date)"
    )
    parser.add_argument(
        "--bank",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        help="statement files (several, a glob, or a folder: its files of the period)",
    )
    parser.add_argument(
        "--gateway",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        help="Midtrans reports (several, a glob, or a folder: its files of the period)",
    )
    parser.add_argument("--out", type=Path, help="report folder")
    parser.add_argument(
        "--ledger",
        type=Path,
        help="canonical ledger Parquet file (default: the store of KASDA_DATABASE_URL)",
    )
    parser.add_argument("--profile", default="bpd", help="CSV profile of the bank (default bpd)")
    parser.add_argument("--profiles", type=Path, help="TOML or JSON file of more CSV profiles")
    parser.add_argument(
        "--window", type=int, default=3, help="days a bank line may follow the ledger (default 3)"
    )
    _identity(parser)
    parser.add_argument(
        "--pemda",
        help="Kemendagri region code of the run: only its ledger lines are reconciled and the run "
        f"is recorded for it (default: the one pemda in the store, else {DEFAULT_PEMDA})",
    )
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="write the report only; record nothing in the ledger (trying files out)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=0,
        help="match in N partitions on disk (bounded memory); 0 = in memory, or --memory-limit",
    )
    parser.add_argument(
        "--memory-limit",
        type=_size,
        help="choose --partitions for this much memory, e.g. 2G or 512M (partitioned if needed)",
    )
    resolve = subparsers.add_parser(
        "reconcile-resolve", help="resolve one exception of a recorded reconciliation run"
    )
    resolve.add_argument("--run", required=True, help="the run id printed by kasda reconcile")
    resolve.add_argument(
        "--exception", required=True, help="the exception id (exceptions.csv of the report)"
    )
    resolve.add_argument(
        "--resolution",
        required=True,
        help="explained | corrected | recovered | written_off | escalated",
    )
    resolve.add_argument("--reason", required=True, help="why; name the document or authority")
    _identity(resolve)


def _identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", help="event store URL (default $KASDA_DATABASE_URL, else sqlite:///kasda.db)"
    )
    parser.add_argument(
        "--actor",
        default=DEFAULT_ACTOR,
        help=f"user id recorded as the one who acts (default {DEFAULT_ACTOR})",
    )
    parser.add_argument(
        "--role", default=DEFAULT_ROLE, help=f"the actor's role (default {DEFAULT_ROLE})"
    )


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    raw = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if raw and raw[-1] in units:
            return int(float(raw[:-1]) * units[raw[-1]])
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size like 2G or 512M: {text!r}") from None


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        _err(f"kasda reconcile: {time.monotonic() - self.start:6.1f}s {message}")


def _nightly(args: argparse.Namespace) -> str | None:
    """Fill date, files and out for the nightly run; a reason if it cannot run."""
    inbox = args.settings.recon_inbox
    out = args.settings.recon_out
    if not inbox or not out:
        return "--nightly needs KASDA_RECON_INBOX and KASDA_RECON_OUT"
    day = datetime.now(WIB).date() - timedelta(days=1)
    args.date = day
    stamp = day.isoformat()
    args.bank = _of_period(Path(inbox) / "bank", day, day)
    args.gateway = _of_period(Path(inbox) / "gateway", day, day)
    args.out = Path(out) / stamp
    if not args.bank:
        return f"no bank statement for {stamp} in {Path(inbox) / 'bank'} (file names must contain the date)"
    return None


def _of_period(folder: Path, start: date, end: date) -> list[Path]:
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


def _inputs(given: list[Path], role: str, start: date, end: date) -> list[Path]:
    """The files named by ``--bank`` / ``--gateway``: files as given; a folder, its files of the
    period; a glob the shell did not expand (quoted, or from a script), the files it matches. A
    file given twice (the same file, by any path) is read once. Raises ``ValueError``."""
    found: list[Path] = []
    for path in given:
        if path.is_dir():
            files = _of_period(path, start, end)
            if not files:
                raise ValueError(
                    f"--{role} {path}: no file of {start}..{end} in the folder "
                    "(file names must contain the day, YYYY-MM-DD)"
                )
            found += files
        elif not path.exists() and _WILDCARDS & set(str(path)):
            anchor = Path(path.anchor) if path.is_absolute() else Path()
            files = sorted(p for p in anchor.glob(str(path.relative_to(anchor))) if p.is_file())
            if not files:
                raise ValueError(f"--{role} {path}: no file matches")
            found += files
        else:
            found.append(path)  # a missing file is the reader's "cannot read the file"
    unique: dict[Path, Path] = {}
    for path in found:
        key = path.resolve()
        if key in unique:
            _err(f"kasda reconcile: {path} is given twice (as {unique[key]}); reading it once")
        else:
            unique[key] = path
    return list(unique.values())


def _actor(args: argparse.Namespace, allowed: frozenset[Any], step: str) -> Any:
    """The acting user, checked against the roles of the step before any work is done."""
    from ledger.roles import Actor, Role

    try:
        role = Role(args.role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {args.role!r} (one of {names})") from None
    actor = Actor(args.actor, role)
    actor.require(allowed, step)
    return actor


def run(args: argparse.Namespace, settings: Settings) -> int:
    args.settings = settings  # for the steps below, which take everything from args
    args.timezone = None
    say = _Clock()
    if args.nightly:
        problem = _nightly(args)
        if problem:
            _err(f"kasda reconcile: {problem}")
            return 2
    if not args.bank or args.out is None:
        _err("kasda reconcile: --bank FILE and --out DIR are required with --date")
        return 2
    if args.window < 0:
        _err("kasda reconcile: --window must not be negative")
        return 2
    if args.partitions < 0:
        _err("kasda reconcile: --partitions must not be negative")
        return 2
    if args.since is not None and args.since > args.date:
        _err("kasda reconcile: --since is after --date")
        return 2
    from ledger import roles

    # A role that may not record is refused before anything is read or written.
    actor = None if args.no_record else _actor(args, roles.RECONCILE, "record a reconciliation run")
    with contextlib.ExitStack() as stack:
        work = None
        if args.partitions > 1 or args.memory_limit is not None:
            # A partitioned run keeps its inputs and intermediate files here until the report is out.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            folder = tempfile.TemporaryDirectory(prefix="kasda-recon-", dir=args.out.parent)
            work = Path(stack.enter_context(folder))
        return _run(args, actor, work, say)


class _Refused(Exception):
    """A run that stops before its report: the message (for stderr) says why; exit 2."""


@dataclass
class _Inputs:
    """What a run reads, as it reads it: the statement side (frames for an in-memory run; for a
    partitioned one, each input in canonical Parquet, read once), every input with its digest and
    line count, the references of the credits (the receipts they pay are in scope), and the ledger
    lines (all of them, then those of the period)."""

    frames: list[pl.DataFrame] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    read: list[Input] = field(default_factory=list)
    paid_in: list[pl.Series] = field(default_factory=list)
    ledger: pl.DataFrame | None = None
    ledger_source: Input | None = None  # the ledger file or store, before it is scoped

    def take_ledger(self) -> pl.DataFrame:
        """The ledger lines, no longer held here (a partitioned run drops them once on disk)."""
        ledger, self.ledger = self.ledger, None
        assert ledger is not None, "the ledger is read before it is matched"
        return ledger


def _run(args: argparse.Namespace, actor: Any, work: Path | None, say: _Clock) -> int:
    from reconciliation.matching import Params
    from reconciliation.report import Summary, summarise, write_report

    end: date = args.date
    start: date = args.since or end
    try:
        _resolve_inputs(args, start, end)
        inputs = _read(args, work, say)
        _scope(inputs, start, end, args.window, say)
        result = _match(inputs, Params(period_end=end, window_days=args.window), args, work, say)
        summary = summarise(result, Summary(start, end, args.window, inputs.read))
        record = None if actor is None else _recordable(result, summary, args, start, end)
    except _Refused as refused:
        _err(str(refused))
        return 2
    written = write_report(result, summary, args.out)
    if record is not None:
        written.append(_write_exceptions(record, args.out))
    say(f"report written to {args.out} ({len(written)} files)")
    _print_counts(summary)
    if actor is None:
        return 0
    if record is None:
        return _too_many_exceptions(summary, args.out)
    return _record(args, actor, record, say)


def _resolve_inputs(args: argparse.Namespace, start: date, end: date) -> None:
    """``--bank`` and ``--gateway`` as the files they name; one file cannot be both."""
    try:
        args.bank = _inputs(args.bank, "bank", start, end)
        args.gateway = _inputs(args.gateway, "gateway", start, end)
    except ValueError as error:
        raise _Refused(f"kasda reconcile: {error}") from None
    both = {p.resolve() for p in args.bank} & {p.resolve() for p in args.gateway}
    if both:
        raise _Refused(f"kasda reconcile: {sorted(both)[0]} is given as --bank and as --gateway")


def _read(args: argparse.Namespace, work: Path | None, say: _Clock) -> _Inputs:
    """Read every statement file and the ledger; an unreadable one stops the run."""
    from reconciliation.errors import StatementError

    inputs = _Inputs()
    try:
        _read_statement(args, work, inputs, say)
        _read_ledger(args, inputs, say)
    except (StatementError, ValueError, OSError) as error:
        # StatementError is path:line: reason already; a bad profile file is a ValueError.
        raise _Refused(
            str(error) if isinstance(error, StatementError) else f"kasda reconcile: {error}"
        ) from None
    return inputs


def _read_statement(
    args: argparse.Namespace, work: Path | None, inputs: _Inputs, say: _Clock
) -> None:
    """Each bank statement and gateway report, once: kept in memory, or (a partitioned run) written
    to ``work`` as canonical Parquet and dropped."""
    import polars as pl

    from reconciliation.readers import read_bank_statement, read_gateway_report
    from reconciliation.readers.csv_profiles import DEFAULT_PROFILES, load_profiles
    from reconciliation.report import Input, sha256_of

    sources = [("bank", p) for p in args.bank] + [("gateway", p) for p in args.gateway]
    profiles = load_profiles(args.profiles) if args.profiles else DEFAULT_PROFILES
    credits = (pl.col("direction") == "C") & ~pl.col("kind").is_in(["return", "interest"])
    for k, (role, path) in enumerate(sources):
        if role == "bank":
            say(f"reading bank statement {path}")
            frame = read_bank_statement(path, args.profile, profiles)
        else:
            say(f"reading gateway report {path}")
            frame = read_gateway_report(path)
        inputs.read.append(Input(role, str(path), sha256_of(path), frame.height))
        inputs.paid_in.append(frame.filter(credits)["reference"])
        if work is None:
            inputs.frames.append(frame)
        else:
            inputs.files.append(work / f"input-{k}.parquet")
            frame.write_parquet(inputs.files[-1])
        del frame


def _read_ledger(args: argparse.Namespace, inputs: _Inputs, say: _Clock) -> None:
    """The ledger lines of the run's pemda, from ``--ledger`` or the event store (whose one pemda
    is the run's when ``--pemda`` is not given). The store has no file digest: its lines are
    digested once scoped to the period."""
    from reconciliation.readers.ledger import read_ledger_parquet
    from reconciliation.report import Input, sha256_of

    if args.ledger is not None:
        args.pemda = args.pemda or DEFAULT_PEMDA
        say(f"reading ledger {args.ledger}")
        inputs.ledger = read_ledger_parquet(args.ledger)
        inputs.ledger_source = Input(
            "ledger", str(args.ledger), sha256_of(args.ledger), inputs.ledger.height
        )
        return
    from reconciliation.readers.ledger import ledger_frames
    from reconciliation.schema import empty_ledger

    say("reading the ledger from the event store")
    given = getattr(args, "store", None)  # an open store of the caller's (``match_day``)
    store = given if given is not None else args.settings.open_ledger(args.database)
    try:
        frames = ledger_frames(store, timezone=args.timezone or args.settings.timezone)
    finally:
        if given is None:
            store.close()
    if args.pemda is None and len(frames) > 1:
        pemdas = ", ".join(sorted(frames))
        raise _Refused(f"kasda reconcile: the store holds pemdas {pemdas}: name one with --pemda")
    if args.pemda is None:
        args.pemda = next(iter(frames), DEFAULT_PEMDA)
    inputs.ledger = frames.get(args.pemda, empty_ledger())
    del frames
    inputs.ledger_source = Input("ledger", "KASDA_DATABASE_URL", "", inputs.ledger.height)


def _scope(inputs: _Inputs, start: date, end: date, window: int, say: _Clock) -> None:
    """Keep the ledger lines of the statement period. The run's ledger input is those lines (the
    store's digest is theirs too), not every line of the store or file."""
    import polars as pl

    from reconciliation.matching import scope_ledger
    from reconciliation.record import ledger_digest
    from reconciliation.report import Input

    ledger = inputs.take_ledger()
    scoped = scope_ledger(
        ledger,
        start,
        end,
        paid_in=pl.concat(inputs.paid_in) if inputs.paid_in else None,
        window_days=window,
    ).collect()
    source = inputs.ledger_source
    assert source is not None, "the ledger is read before it is scoped"
    lines = sum(i.lines for i in inputs.read)
    digest = source.sha256 or ledger_digest(scoped)
    inputs.read.append(Input("ledger", source.path, digest, scoped.height))
    say(f"{lines} statement lines, {scoped.height} of {ledger.height} ledger lines in the period")
    inputs.ledger = scoped


def _match(
    inputs: _Inputs, params: Params, args: argparse.Namespace, work: Path | None, say: _Clock
) -> Result | LazyResult:
    """Every line of both sides with its status: in memory, or in partitions on disk when the run
    has a work folder and more than one partition (given, or chosen for ``--memory-limit``)."""
    import polars as pl

    from reconciliation.matching import reconcile
    from reconciliation.schema import STATEMENT

    partitions = args.partitions
    if work is not None and not partitions:
        from reconciliation.partitioned import partitions_for

        lines = sum(i.lines for i in inputs.read)
        partitions = partitions_for(lines, args.memory_limit)
        say(f"--memory-limit {args.memory_limit}: {partitions} partition(s)")
    if work is not None and partitions > 1:
        return _match_partitioned(inputs, params, partitions, work, say)
    if inputs.files:
        inputs.frames = [pl.read_parquet(inputs.files)]
    parts, inputs.frames = inputs.frames, []
    statement = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=STATEMENT)
    del parts
    return reconcile(statement, inputs.take_ledger(), params, progress=say)


def _match_partitioned(
    inputs: _Inputs, params: Params, partitions: int, work: Path, say: _Clock
) -> LazyResult:
    from reconciliation.partitioned import lazy_result, reconcile_files

    ledger_file = work / "ledger.parquet"
    inputs.take_ledger().write_parquet(ledger_file)
    dense = reconcile_files(inputs.files, ledger_file, params, partitions, work, progress=say)
    say("writing every line with its status")
    return lazy_result(inputs.files, ledger_file, dense, work, partitions)


def _recordable(
    result: Result | LazyResult, summary: Summary, args: argparse.Namespace, start: date, end: date
) -> Record | None:
    """The run as the ledger records it; None when it has more exceptions than a run may hold."""
    from ledger.handlers import MAX_RECONCILIATION_EXCEPTIONS
    from reconciliation.record import RecordError, build, exception_count, parameters_input

    if exception_count(summary) > MAX_RECONCILIATION_EXCEPTIONS:
        return None
    try:
        extra = [parameters_input(start, end, args.window, args.profile)]
        return build(result, summary, extra)
    except RecordError as error:
        raise _Refused(f"kasda reconcile: cannot record the run: {error}") from None


def _write_exceptions(record: Record, out: Path) -> Path:
    """``exceptions.csv``: the exceptions as recorded, with the ids ``reconcile-resolve`` takes."""
    import polars as pl

    pl.DataFrame(
        list(record.exceptions),
        schema={
            "id": pl.String,
            "status": pl.String,
            "amount": pl.Int64,
            "reference": pl.String,
            "detail": pl.String,
        },
    ).write_csv(out / "exceptions.csv")
    return out / "exceptions.csv"


def _print_counts(summary: Summary) -> None:
    from reconciliation.schema import STATUSES

    for side in ("statement", "ledger"):
        counts = summary.counts[side]
        shown = ", ".join(f"{s}={counts[s]}" for s in STATUSES if counts[s])
        sys.stdout.write(f"{side}: {shown or 'no lines'}\n")


def _too_many_exceptions(summary: Summary, out: Path) -> int:
    from ledger.handlers import MAX_RECONCILIATION_EXCEPTIONS
    from reconciliation.record import exception_count

    _err(
        f"kasda reconcile: {exception_count(summary)} exceptions, the ledger records at most "
        f"{MAX_RECONCILIATION_EXCEPTIONS} per run: NOTHING RECORDED. The report is in {out}; "
        "check that the files are the right ones, or reconcile fewer days."
    )
    return 2


def _record(args: argparse.Namespace, actor: Any, record: Any, say: _Clock) -> int:
    """Record the run once: the same pemda, day, inputs and parameters are "already recorded"."""
    import json

    from ledger.errors import AlreadyExists
    from ledger.reconciliation import ReconciliationRun

    run_id = run_id_of(args.pemda, record)
    store = args.settings.open_ledger(args.database)
    try:
        try:
            known = store.aggregate(run_id, ReconciliationRun)
        except NotFound:
            known = None
        if known is None:
            say(f"recording run {run_id} ({len(record.exceptions)} exceptions)")
            command = record_command(args.pemda, actor, record)
            try:
                fresh = not store.execute(command).replayed
            except AlreadyExists:  # another process recorded it a moment ago
                fresh = False
        else:
            fresh = False
    finally:
        store.close()
    (args.out / "run.json").write_text(
        json.dumps({"run_id": str(run_id), "recorded_now": fresh}, indent=2) + "\n",
        encoding="utf-8",
    )
    if fresh:
        sys.stdout.write(f"recorded run {run_id}: {len(record.exceptions)} exceptions\n")
    else:
        sys.stdout.write(
            f"already recorded: run {run_id} (same pemda, date, inputs and parameters); "
            "nothing new written\n"
        )
    return 0


# -- one day's run for another caller (the web app's upload form) --------------------------------
class RunRefused(Exception):
    """A day's files that cannot be reconciled (or recorded): the message says which file, which
    line and why, as ``kasda reconcile`` prints it."""


@dataclass(frozen=True, slots=True)
class DayRun:
    """A day matched: its summary, and the run as the ledger records it (None when it has more
    exceptions than a run may hold: nothing may be recorded)."""

    summary: Summary
    record: Record | None


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
    from reconciliation.matching import Params
    from reconciliation.report import Summary, summarise

    args = argparse.Namespace(
        bank=list(bank), gateway=list(gateway), profile=profile, profiles=None, window=window,
        ledger=None, pemda=pemda, partitions=0, memory_limit=None, store=store,
        timezone=timezone, settings=None, database=None,
    )  # fmt: skip
    if window < 0:
        raise RunRefused("kasda reconcile: --window must not be negative")
    quiet = _Quiet()
    try:
        _resolve_inputs(args, day, day)
        inputs = _read(args, None, quiet)
        _scope(inputs, day, day, window, quiet)
        result = _match(inputs, Params(period_end=day, window_days=window), args, None, quiet)
        summary = summarise(result, Summary(day, day, window, inputs.read))
        return DayRun(summary, _recordable(result, summary, args, day, day))
    except _Refused as refused:
        raise RunRefused(str(refused)) from None


class _Quiet(_Clock):
    def __call__(self, message: str) -> None:
        pass


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


def resolve(args: argparse.Namespace, settings: Settings) -> int:
    """``kasda reconcile-resolve``: close one exception of a recorded run, with a reason."""
    from uuid import UUID

    from ledger import roles
    from ledger.commands import ResolveReconciliationException
    from ledger.reconciliation import ReconciliationRun

    try:
        run_id = UUID(args.run)
    except ValueError:
        raise InvalidInput(f"--run must be a run id (UUID), got {args.run!r}") from None
    actor = _actor(args, roles.RESOLVE_EXCEPTION, "resolve a reconciliation exception")
    store = settings.open_ledger(args.database)
    try:
        run = store.aggregate(run_id, ReconciliationRun)
        result = store.execute(
            ResolveReconciliationException(
                idempotency_key=f"resolve:{run_id}:{args.exception}",
                actor=actor,
                pemda=run.pemda,
                run_id=run_id,
                exception_id=args.exception,
                resolution=args.resolution,
                reason=args.reason,
            )
        )
    finally:
        store.close()
    if result.replayed:
        sys.stdout.write(f"already resolved: {args.exception} of run {run_id}\n")
    else:
        sys.stdout.write(
            f"resolved {args.exception} of run {run_id} as {args.resolution}; "
            f"{result.data['open']} exception(s) still open\n"
        )
    return 0
