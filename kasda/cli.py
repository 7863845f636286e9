"""The ``kasda`` command line."""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError

from ledger.errors import DomainError

if TYPE_CHECKING:
    from kasda.settings import Settings


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 moment: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; e.g. 2026-06-30T23:59:59+07:00"
        )
    return moment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kasda", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build a realistic pemda fiscal year and print its totals")
    demo.add_argument("--seed", type=int, default=2026, help="same seed, same year (default 2026)")
    demo.add_argument(
        "--lifecycles",
        type=int,
        default=1_200,
        help="disbursements to plan before resubmissions (default 1200)",
    )
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="delete the SQLite file of KASDA_DATABASE_URL first and build the year again",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8000,
        help="where the web app is served after the build, on a terminal (default 8000)",
    )
    replay = sub.add_parser("replay", help="the APBD as of a past moment or event position")
    when = replay.add_mutually_exclusive_group(required=True)
    when.add_argument("--as-of", type=_moment, help="e.g. 2026-06-30T23:59:59+07:00")
    when.add_argument("--position", type=int, help="a notification id of the event store")
    replay.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    replay.add_argument("--year", type=int, default=2026)
    hist = sub.add_parser("history", help="who did what, when and why, for one disbursement")
    hist.add_argument("--spp", required=True, help="the SPP number")
    hist.add_argument("--pemda", default="32.73")
    hist.add_argument("--year", type=int, default=2026)
    check = sub.add_parser(
        "verify", help="check the hash chain of the whole store (exit 1 if broken)"
    )
    check.add_argument(
        "--anchor", type=Path, action="append", default=[], help="a checkpoint kept outside"
    )
    check.add_argument("--export", type=Path, help="verify an export folder offline instead")
    out = sub.add_parser("export", help="write the complete history for auditors")
    out.add_argument("--out", type=Path, required=True, help="a new (or empty) folder")
    sign = sub.add_parser("checkpoint", help="sign the head of the chain (KASDA_SIGNING_KEY)")
    sign.add_argument("--out", type=Path, help="also write the signed checkpoint to this file")
    made = sub.add_parser(
        "tenant-add", help="make the store of a pemda (KASDA_TENANCY=schema): the API serves it"
    )
    for store_command in (check, out, sign, made):
        store_command.add_argument(
            "--pemda",
            required=store_command is made,
            help="the pemda whose store (KASDA_TENANCY=schema: each pemda has its own chain)",
        )
    sub.add_parser("signing-key", help="make an Ed25519 key pair for checkpoints")
    sub.add_parser("keygen", help="print a new AES-256 key for KASDA_CIPHER_KEY")
    from kasda import lra

    lra.add_parsers(sub)
    from kasda import serve

    serve.add_parsers(sub)
    from kasda import gateway_sim

    gateway_sim.add_parser(sub)
    from kasda import reconcile

    reconcile.add_parser(sub)
    from kasda import reconcile_kkpd

    reconcile_kkpd.add_parser(sub)
    from kasda import redflags

    redflags.add_parsers(sub)
    from kasda import yearend

    yearend.add_parser(sub)

    from kasda import spd

    spd.add_parsers(sub)

    from kasda import advance

    advance.add_parser(sub)

    from kasda import feed_dispatch

    feed_dispatch.add_parser(sub)
    from kasda import handover

    handover.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "gateway-sim":
        from kasda import gateway_sim

        return gateway_sim.run(args)
    if args.command == "keygen":
        from ledger.cipher import new_key

        print(new_key())
        return 0
    try:
        from kasda.settings import Settings

        # Read once, here; each command gets what it needs from it.
        return _run(parser, args, Settings.from_env())
    except DomainError as error:
        # A broken rule or bad input (e.g. an unsupported KASDA_DATABASE_URL): say which, change nothing.
        print(f"kasda: {error} [{error.rule}]", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`)
        return 0
    except (psycopg.Error, sqlite3.Error, OSError, PersistenceError) as error:
        print(f"kasda: the event store is unavailable: {error}", file=sys.stderr)
        return 1
    except MapperDeserialisationError as error:  # e.g. a wrong or missing KASDA_CIPHER_KEY
        print(f"kasda: cannot read the event store: {error}", file=sys.stderr)
        return 1


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """Run the command of ``args`` with the settings it needs."""
    from kasda import serve

    if args.command in serve.COMMANDS:
        return serve.run(args, settings)
    if args.command == "tenant-add":
        return _tenant_add(args, settings)
    # With a store per pemda (KASDA_TENANCY=schema), every other command works on the store of
    # its --pemda: the one door to a pemda's store (``Settings.for_pemda``, then ``open_ledger``).
    return _run_on_store(parser, args, settings.for_pemda(getattr(args, "pemda", None)))


# Commands a module runs with its ``run(args, settings)``, imported only when used.
_RUN_BY = {
    "verify": "integrity", "checkpoint": "integrity", "signing-key": "integrity",
    "export": "integrity", "anggaran-kas": "spd", "spd": "spd", "close-year": "yearend",
    "feed-dispatch": "feed_dispatch", "export-sipd": "handover", "ebupot": "handover",
}  # fmt: skip


def _run_on_store(
    parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings
) -> int:
    """Run a command that works on one store (``settings.open_ledger``)."""
    module = _RUN_BY.get(args.command)
    if module is not None:
        return int(importlib.import_module(f"kasda.{module}").run(args, settings))
    if args.command in ("reconcile", "reconcile-resolve", "reconcile-kkpd"):
        return _reconcile(args, settings)
    if args.command == "demo":
        return _demo(parser, args, settings)
    if args.command in ("lra", "project", "advance"):
        return _read_side(args, settings)
    if args.command in ("redflags", "redflag-review"):
        from kasda import redflags

        return (redflags.run if args.command == "redflags" else redflags.review)(args, settings)
    if args.command in ("replay", "history"):
        return _report(args, settings)
    return 2


def _tenant_add(args: argparse.Namespace, settings: Settings) -> int:
    """``kasda tenant-add --pemda``: make the pemda's store (its tables, its read models)."""
    from kasda.settings import SettingError
    from projections.runner import Projector

    if settings.for_pemda(args.pemda) is settings:
        raise SettingError("kasda tenant-add needs KASDA_TENANCY=schema")
    ledger = settings.for_pemda(args.pemda).open_ledger()  # makes the store if it is missing
    try:
        Projector(ledger, timezone=settings.timezone).close()  # and the read models' tables
    finally:
        ledger.close()
    print(f"kasda tenant-add: pemda {args.pemda} has its own store")
    return 0


def _read_side(args: argparse.Namespace, settings: Settings) -> int:
    """``kasda lra``, ``kasda project`` and ``kasda advance``: reads of the read models."""
    from kasda import advance, lra

    if args.command == "advance":
        return advance.run(args, settings)
    return (lra.run_lra if args.command == "lra" else lra.run_project)(args, settings)


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from kasda import reconcile, reconcile_kkpd

    if args.command == "reconcile-kkpd":
        return reconcile_kkpd.run(args, settings)
    return (reconcile.run if args.command == "reconcile" else reconcile.resolve)(args, settings)


def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """``kasda demo``: build the year (unless built), then serve it on a terminal."""
    from kasda.demo import run_demo
    from kasda.demo.serve import serve_demo

    if args.lifecycles < 1:
        parser.error("--lifecycles must be at least 1")
    built = run_demo(
        seed=args.seed, lifecycles=args.lifecycles, fresh=args.fresh, settings=settings
    )
    if built != 0:
        return built
    return serve_demo(settings, "127.0.0.1", args.port, seed=args.seed, lifecycles=args.lifecycles)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    """``kasda replay`` and ``kasda history``."""
    from kasda import reports

    ledger = settings.open_ledger()
    try:
        if args.command == "replay":
            reports.print_budget_as_of(
                ledger, args.pemda, args.year, as_of=args.as_of, position=args.position
            )
        else:
            reports.disbursement_history(ledger, args.pemda, args.year, args.spp)
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
