"""The ``kasda`` command line."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kasda", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build a realistic pemda fiscal year and print its totals")
    demo.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from kasda.demo import run_demo

        return run_demo(seed=args.seed)
    return 2


if __name__ == "__main__":
    sys.exit(main())
