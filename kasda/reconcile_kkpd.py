"""``kasda reconcile-kkpd``: match a KKPD card statement (the issuing BPD's CSV) against the
bendahara's SPJ entries and bill payments, check the card and SKPD limits, print the counts and
record the run in the ledger (``RecordReconciliation``, inputs of kind ``kkpd_statement``).

The SPJ entries, cards, SKPD ceilings and bill payments come from the ledger's read models
(``projections.advance_queries``, caught up first) unless CSV files in the columns of
``reconciliation.kkpd`` are named instead (``--spj`` and ``--cards`` together, say for a statement
of another system's SPJ); ``match_files`` takes either. Exit 0 on a completed run, 2 on
unreadable input (``file:line: reason``) or a refused command, 1 when the store is unavailable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kasda.reconcile import WIB, acting_user, add_identity, iso_day

if TYPE_CHECKING:
    import polars as pl

    from kasda.settings import Settings
    from reconciliation.kkpd import KkpdResult, Params
    from reconciliation.record import Record

# The ledger-side inputs: option, contract schema name, input kind recorded.
SIDES = (
    ("spj", "SPJ", "kkpd_spj"),
    ("cards", "CARDS", "kkpd_cards"),
    ("skpd_limits", "SKPD_LIMITS", "kkpd_skpd_limits"),
    ("bill_payments", "BILL_PAYMENTS", "kkpd_bill_payments"),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile-kkpd", help="match a KKPD card statement against the SPJ entries"
    )
    parser.add_argument("--statement", type=Path, required=True, help="the card statement CSV")
    parser.add_argument("--spj", type=Path, help="SPJ entries paid by card (CSV; default: ledger)")
    parser.add_argument("--cards", type=Path, help="registered cards (CSV; default: the ledger)")
    parser.add_argument("--skpd-limits", type=Path, help="UP-KKPD ceiling per SKPD (CSV)")
    parser.add_argument("--bill-payments", type=Path, help="card bills paid from the UP (CSV)")
    parser.add_argument(
        "--as-of", type=iso_day, help="the business date, YYYY-MM-DD (default: today, WIB)"
    )
    parser.add_argument("--profile", default="bpd_kkpd", help="card statement profile")
    parser.add_argument("--bank-code", help="the issuer's kode bank (default: the profile's)")
    parser.add_argument("--out", type=Path, help="folder for the rows and exceptions as CSV")
    parser.add_argument("--pemda", help="Kemendagri region code the run is recorded for")
    parser.add_argument("--no-record", action="store_true", help="record nothing in the ledger")
    add_identity(parser)


@dataclass(frozen=True, slots=True)
class Matched:
    result: KkpdResult
    params: Params
    inputs: list[dict[str, Any]]


def match_files(
    statement: Path,
    sides: Mapping[str, Path | pl.DataFrame | pl.LazyFrame | None],
    params: Params,
    profile: str = "bpd_kkpd",
    bank_code: str | None = None,
) -> Matched:
    """Read the statement and every side (a CSV path, a frame from the ledger, or None: none of
    them), match, and name the inputs as the run records them."""
    import polars as pl

    from reconciliation import kkpd
    from reconciliation.errors import StatementError
    from reconciliation.readers.kkpd_csv import CARD_PROFILES, read_card_csv, read_contract_csv
    from reconciliation.report import sha256_of

    if profile not in CARD_PROFILES:
        raise StatementError(statement, 0, f"unknown card statement profile {profile!r}")
    chosen = CARD_PROFILES[profile]
    code = bank_code or chosen.bank_code
    rows = read_card_csv(statement, chosen)
    inputs = [_file_input(statement, "kkpd_statement", rows.height, sha256_of(statement))]
    frames: dict[str, pl.DataFrame] = {}
    for name, schema_name, kind in SIDES:
        schema: pl.Schema = getattr(kkpd, schema_name)
        given = sides.get(name)
        if isinstance(given, Path):
            frame = read_contract_csv(given, schema, code)
            inputs.append(_file_input(given, kind, frame.height, sha256_of(given)))
        elif given is None:
            frame = pl.DataFrame(schema=schema)
        else:
            label = name.replace("_", " ")
            frame = kkpd.validate(given, schema, label)
            if "card" in schema:  # the ledger's own writing of a card, made the normal form
                normal = frame.with_columns(card=kkpd.card_key(pl.col("card"), code))
                frame = kkpd.validate(normal, schema, label)
            inputs.append(kkpd.frame_input(f"ledger:{name}", kind, frame))
        frames[name] = frame
    result = kkpd.reconcile_kkpd(
        rows, frames["spj"], frames["cards"], frames["skpd_limits"], frames["bill_payments"], params
    )
    inputs.append(kkpd.parameters_input(params, code, profile))
    return Matched(result, params, inputs)


def _file_input(path: Path, kind: str, rows: int, sha256: str) -> dict[str, Any]:
    return {"name": path.name, "kind": kind, "sha256": sha256, "rows": rows}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ledger import roles
    from reconciliation.day import DEFAULT_PEMDA
    from reconciliation.kkpd import Params

    # A role that may not record is refused before anything is read.
    actor = None if args.no_record else acting_user(args, roles.RECONCILE, "record a KKPD run")
    pemda = args.pemda or DEFAULT_PEMDA
    as_of = args.as_of or datetime.now(WIB).date()
    params = Params.of(as_of, settings.thresholds(pemda)["kkpd"])
    sides = _sides(args, settings, pemda, as_of.year)
    matched = match_files(args.statement, sides, params, args.profile, args.bank_code)
    _print(matched.result, as_of)
    from reconciliation.kkpd import build_record

    record = build_record(matched.result, params, matched.inputs)
    if args.out is not None:
        _write(matched.result, record, args.out)
    if actor is None:
        return 0
    return _record(args, settings, pemda, actor, record)


def _sides(
    args: argparse.Namespace, settings: Settings, pemda: str, year: int
) -> Mapping[str, Path | pl.DataFrame | None]:
    """The four ledger-side inputs: the files named, or else the ledger's own read models."""
    from ledger.errors import InvalidInput

    named = {name: getattr(args, name) for name, _, _ in SIDES}
    if named["spj"] is not None or named["cards"] is not None:
        if named["spj"] is None or named["cards"] is None:
            raise InvalidInput("reconcile-kkpd: name --spj and --cards together, or neither")
        return named
    from projections import advance_queries as aq
    from projections.runner import Projector

    ledger = settings.open_ledger(args.database)
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            projector.catch_up()
            db = projector.db
            return {
                "spj": aq.kkpd_spj(db, pemda, year),
                "cards": aq.kkpd_cards(db, pemda, year),
                "skpd_limits": aq.kkpd_skpd_limits(db, pemda, year),
                "bill_payments": aq.kkpd_bill_payments(db, pemda, year),
            }
        finally:
            projector.close()
    finally:
        ledger.close()


def _print(result: KkpdResult, as_of: date) -> None:
    out = sys.stdout
    out.write(f"KKPD as of {as_of.isoformat()} (statement up to {result.period_end})\n")
    for side, counts in result.counts().items():
        shown = ", ".join(f"{s}={n}" for s, n in counts.items() if n)
        out.write(f"{side}: {shown or 'none'}\n")


def _write(result: KkpdResult, record: Record, out: Path) -> None:
    import polars as pl

    out.mkdir(parents=True, exist_ok=True)
    result.statement.write_csv(out / "statement.csv")
    result.spj.write_csv(out / "spj.csv")
    result.payments.write_csv(out / "bill_payments.csv")
    pl.DataFrame(list(record.exceptions), schema=dict(_exception_schema())).write_csv(
        out / "exceptions.csv"
    )
    sys.stdout.write(f"report written to {out}\n")


def _exception_schema() -> pl.Schema:
    from reconciliation.kkpd import EXCEPTION

    return EXCEPTION


def _record(
    args: argparse.Namespace, settings: Settings, pemda: str, actor: Any, record: Record
) -> int:
    """Record the run once: the same pemda, day, inputs and parameters are "already recorded"."""
    from ledger.errors import AlreadyExists
    from reconciliation.day import record_command, run_id_of

    run_id = run_id_of(pemda, record)
    store = settings.open_ledger(args.database)
    try:
        fresh = not store.execute(record_command(pemda, actor, record)).replayed
    except AlreadyExists:
        fresh = False
    finally:
        store.close()
    if fresh:
        sys.stdout.write(f"recorded run {run_id}: {len(record.exceptions)} exceptions\n")
    else:
        sys.stdout.write(f"already recorded: run {run_id}; nothing new written\n")
    return 0
