"""The ``kasda`` command line."""

from __future__ import annotations

import argparse
import sqlite3
import sys

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger.errors import DomainError


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from kasda.demo import run_demo

            if args.lifecycles < 1:
                parser.error("--lifecycles must be at least 1")
            return run_demo(seed=args.seed, lifecycles=args.lifecycles, fresh=args.fresh)
    except DomainError as error:
        # A broken rule or bad input (e.g. an unsupported KASDA_DATABASE_URL): say which, change nothing.
        print(f"kasda: {error} [{error.rule}]", file=sys.stderr)
        return 2
    except (psycopg.Error, sqlite3.Error, OSError, PersistenceError) as error:
        print(f"kasda: the event store is unavailable: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
