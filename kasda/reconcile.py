"""``kasda reconcile``: match a day's RKUD statement and gateway reports against the ledger, write the
report and record the run in the ledger (``RecordReconciliation``: inputs' SHA-256, counts, every
exception); ``kasda reconcile-resolve`` closes one exception with a reason. Exit 0 on a completed run
(exceptions found or not, recorded now or already), 2 on unreadable input (``file:line: reason``),
bad arguments or a refused command, 1 when the event store is unavailable or the lines of a
partitioned run could not be written (nothing recorded, no report left)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInput, NotFound
from reconciliation.day import DEFAULT_PEMDA, of_period

if TYPE_CHECKING:
    from kasda.settings import Settings
    from reconciliation.day import RunInputs, StoreOpener
    from reconciliation.record import Record
    from reconciliation.report import Summary

# Polars and the readers are imported by ``run`` only, so every other ``kasda`` command starts fast.
WIB = timezone(timedelta(hours=7))
# The identity that records nightly runs unless --actor names the BPKAD user.
DEFAULT_ACTOR = "bpkad-reconcile"
DEFAULT_ROLE = "bpkad_admin"


def iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="match the RKUD statement and gateway reports against the ledger"
    )
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=iso_day, help="the statement day (the cut-off), YYYY-MM-DD")
    when.add_argument(
        "--nightly",
        action="store_true",
        help="reconcile yesterday (WIB) from $KASDA_RECON_INBOX/{bank,gateway} into $KASDA_RECON_OUT",
    )
    parser.add_argument(
        "--since", type=iso_day, help="first day of the statement period (default: --date)"
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
    add_identity(parser)
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
    add_identity(resolve)


def add_identity(parser: argparse.ArgumentParser) -> None:
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
    """Each step as it starts: the seconds since the run began, and the CPU seconds (user + sys,
    every thread) of the process so far, so a step's share of both can be read off the log."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        cpu = time.process_time()
        _err(f"kasda reconcile: {time.monotonic() - self.start:6.1f}s (cpu {cpu:6.1f}s) {message}")


def _nightly(args: argparse.Namespace) -> str | None:
    """Fill date, files and out for the nightly run; a reason if it cannot run."""
    inbox = args.settings.recon_inbox
    out = args.settings.recon_out
    if not inbox or not out:
        return "--nightly needs KASDA_RECON_INBOX and KASDA_RECON_OUT"
    day = datetime.now(WIB).date() - timedelta(days=1)
    args.date = day
    stamp = day.isoformat()
    args.bank = of_period(Path(inbox) / "bank", day, day)
    args.gateway = of_period(Path(inbox) / "gateway", day, day)
    args.out = Path(out) / stamp
    if not args.bank:
        return f"no bank statement for {stamp} in {Path(inbox) / 'bank'} (file names must contain the date)"
    return None


def acting_user(args: argparse.Namespace, allowed: frozenset[Any], step: str) -> Any:
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
    actor = (
        None
        if args.no_record
        else acting_user(args, roles.RECONCILE, "record a reconciliation run")
    )
    with contextlib.ExitStack() as stack:
        work = None
        if args.partitions > 1 or args.memory_limit is not None:
            # A partitioned run keeps its inputs and intermediate files here until the report is out.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            folder = tempfile.TemporaryDirectory(prefix="kasda-recon-", dir=args.out.parent)
            work = Path(stack.enter_context(folder))
        return _run(args, actor, work, say)


def _run(args: argparse.Namespace, actor: Any, work: Path | None, say: _Clock) -> int:
    from reconciliation import day
    from reconciliation.report import ReportNotWritten, write_report

    run = _run_inputs(args)
    try:
        matched = day.match(run, _store_of(args), work=work, say=say, warn=_err)
        record = None if actor is None else day.recordable(matched, run)
    except day.RunRefused as refused:
        _err(str(refused))
        return 2
    except ReportNotWritten as failed:
        _err(f"kasda reconcile: the report could not be written: {failed}; nothing recorded")
        return 1
    say(f"writing the report to {args.out}")
    written = write_report(matched.result, matched.summary, args.out)
    if record is not None:
        written.append(_write_exceptions(record, args.out))
    say(f"report written to {args.out} ({len(written)} files)")
    _print_counts(matched.summary)
    if actor is None:
        return 0
    if record is None:
        return _too_many_exceptions(matched.summary, args.out)
    return _record(args, matched.pemda, actor, record, say)


def _run_inputs(args: argparse.Namespace) -> RunInputs:
    """The run the arguments name (``--date``, or the nightly run's day and files)."""
    from reconciliation.day import RunInputs

    return RunInputs(
        start=args.since or args.date, end=args.date, bank=tuple(args.bank),
        timezone=args.settings.timezone, gateway=tuple(args.gateway), profile=args.profile,
        profiles=args.profiles, window=args.window, ledger=args.ledger, pemda=args.pemda,
        partitions=args.partitions, memory_limit=args.memory_limit,
    )  # fmt: skip


def _store_of(args: argparse.Namespace) -> StoreOpener:
    """Opens the event store of ``--database`` for the run's ledger lines, and closes it after."""
    settings: Settings = args.settings
    return lambda: contextlib.closing(settings.open_ledger(args.database))


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


def _record(args: argparse.Namespace, pemda: str, actor: Any, record: Any, say: _Clock) -> int:
    """Record the run once: the same pemda, day, inputs and parameters are "already recorded"."""
    import json

    from ledger.errors import AlreadyExists
    from ledger.reconciliation import ReconciliationRun
    from reconciliation.day import record_command, run_id_of

    run_id = run_id_of(pemda, record)
    store = args.settings.open_ledger(args.database)
    try:
        try:
            known = store.aggregate(run_id, ReconciliationRun)
        except NotFound:
            known = None
        if known is None:
            say(f"recording run {run_id} ({len(record.exceptions)} exceptions)")
            command = record_command(pemda, actor, record)
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
    actor = acting_user(args, roles.RESOLVE_EXCEPTION, "resolve a reconciliation exception")
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
