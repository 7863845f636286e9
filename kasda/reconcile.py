"""``kasda reconcile``: match a day's RKUD statement and gateway reports against the ledger and write
the report. Exit 0 on a completed run (exceptions found or not), 2 on unreadable input
(``file:line: reason``), 1 when the event store is unavailable."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# Polars and the readers are imported by ``run`` only, so every other ``kasda`` command starts fast.
WIB = timezone(timedelta(hours=7))


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
        "--bank", type=Path, action="append", default=[], help="statement file (repeatable)"
    )
    parser.add_argument(
        "--gateway", type=Path, action="append", default=[], help="Midtrans report (repeatable)"
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
    inbox = os.environ.get("KASDA_RECON_INBOX")
    out = os.environ.get("KASDA_RECON_OUT")
    if not inbox or not out:
        return "--nightly needs KASDA_RECON_INBOX and KASDA_RECON_OUT"
    day = datetime.now(WIB).date() - timedelta(days=1)
    args.date = day
    stamp = day.isoformat()
    args.bank = sorted(p for p in (Path(inbox) / "bank").glob(f"*{stamp}*") if p.is_file())
    args.gateway = sorted(p for p in (Path(inbox) / "gateway").glob(f"*{stamp}*") if p.is_file())
    args.out = Path(out) / stamp
    if not args.bank:
        return f"no bank statement for {stamp} in {Path(inbox) / 'bank'} (file names must contain the date)"
    return None


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from reconciliation.errors import StatementError
    from reconciliation.matching import Params, reconcile, scope_ledger
    from reconciliation.readers import read_bank_statement, read_gateway_report
    from reconciliation.readers.csv_profiles import DEFAULT_PROFILES, load_profiles
    from reconciliation.readers.ledger import read_ledger_parquet
    from reconciliation.report import Input, Summary, sha256_of, summarise, write_report
    from reconciliation.schema import STATEMENT, STATUSES

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
    end: date = args.date
    start: date = args.since or end
    if start > end:
        _err("kasda reconcile: --since is after --date")
        return 2
    try:
        profiles = load_profiles(args.profiles) if args.profiles else DEFAULT_PROFILES
        parts: list[pl.DataFrame] = []
        inputs: list[Input] = []
        for path in args.bank:
            say(f"reading bank statement {path}")
            frame = read_bank_statement(path, args.profile, profiles)
            parts.append(frame)
            inputs.append(Input("bank", str(path), sha256_of(path), frame.height))
        for path in args.gateway:
            say(f"reading gateway report {path}")
            frame = read_gateway_report(path)
            parts.append(frame)
            inputs.append(Input("gateway", str(path), sha256_of(path), frame.height))
        if args.ledger is not None:
            say(f"reading ledger {args.ledger}")
            ledger = read_ledger_parquet(args.ledger)
            inputs.append(Input("ledger", str(args.ledger), sha256_of(args.ledger), ledger.height))
        else:
            from ledger.application import Ledger
            from reconciliation.readers.ledger import ledger_frame

            say("reading the ledger from the event store")
            store = Ledger()
            try:
                ledger = ledger_frame(store)
            finally:
                store.close()
            inputs.append(Input("ledger", "KASDA_DATABASE_URL", "", ledger.height))
    except (StatementError, ValueError, OSError) as error:
        # StatementError is path:line: reason already; a bad profile file is a ValueError.
        _err(str(error) if isinstance(error, StatementError) else f"kasda reconcile: {error}")
        return 2
    statement = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=STATEMENT)
    scoped = scope_ledger(ledger, start, end).collect()
    say(
        f"{statement.height} statement lines, {scoped.height} of {ledger.height} ledger lines in the period"
    )
    params = Params(period_end=end, window_days=args.window)
    result = reconcile(statement, scoped, params, progress=say)
    summary = summarise(result, Summary(start, end, args.window, inputs))
    written = write_report(result, summary, args.out)
    say(f"report written to {args.out} ({len(written)} files)")
    for side in ("statement", "ledger"):
        counts = summary.counts[side]
        shown = ", ".join(f"{s}={counts[s]}" for s in STATUSES if counts[s])
        sys.stdout.write(f"{side}: {shown or 'no lines'}\n")
    return 0
