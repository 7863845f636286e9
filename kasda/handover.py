"""``kasda export-sipd`` and ``kasda ebupot``: the files a pemda hands on to other systems, written
from the read models (``projections``) by the renderers of ``exports``.

- ``export-sipd``: the LRA per budget line in SIPD's flat layout, now or as of a day;
- ``ebupot``: the taxes withheld in one month, per vendor and tax, in the layout of e-Bupot
  Unifikasi's import workbook (NPWP in full: the file is for the tax office).

Bad input (a year, month or day out of range, no APBD, xlsx without ``--out``) is a sentence on
stderr and exit 2 (``kasda.cli``), and no file is written."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from exports import ebupot, sipd
from kasda.lra import day_argument
from kasda.settings import Settings
from ledger.errors import InvalidInput
from ledger.fields import MAX_YEAR, MIN_YEAR
from projections import queries as q
from projections import tax
from projections.db import ReadDatabase
from projections.runner import Projector

COMMANDS = ("export-sipd", "ebupot")
FORMATS = ("csv", "xlsx")


def add_parsers(sub: Any) -> None:
    made = sub.add_parser("export-sipd", help="the LRA per budget line in SIPD's flat layout")
    made.add_argument("--as-of", type=day_argument, help="end of this day in the pemda's time zone")
    taxes = sub.add_parser("ebupot", help="taxes withheld in a month, e-Bupot Unifikasi layout")
    taxes.add_argument("--month", type=int, required=True, help="masa pajak, 1..12")
    for parser in (made, taxes):
        parser.add_argument("--pemda", default="32.73", help="Kemendagri region code")
        parser.add_argument("--year", type=int, required=True, help="fiscal / tax year")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", type=Path, help="write to this file (required for xlsx)")


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.format == "xlsx" and args.out is None:
        raise InvalidInput("--format xlsx needs --out FILE.xlsx")
    if not MIN_YEAR <= args.year <= MAX_YEAR:
        raise InvalidInput(f"--year must lie in {MIN_YEAR}..{MAX_YEAR}, got {args.year}")
    if args.command == "ebupot":
        tax.check_period(args.year, args.month)
    ledger = settings.open_ledger()
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            projector.catch_up()
            made = (sipd_file if args.command == "export-sipd" else ebupot_file)(projector.db, args)
        finally:
            projector.close()
    finally:
        ledger.close()
    if args.out is None:
        out.write(made.decode())
        return 0
    args.out.write_bytes(made)
    print(f"wrote {args.out}", file=out)
    return 0


def sipd_file(db: ReadDatabase, args: argparse.Namespace) -> bytes:
    as_of: date | None = args.as_of
    lines = q.lra_lines(db, args.pemda, args.year, as_of)
    if lines.is_empty():
        raise InvalidInput(
            f"no APBD {args.year} of pemda {args.pemda} in the store"
            + (f" as of {as_of}" if as_of else "")
        )
    final = q.year_closed(db, args.pemda, args.year, as_of) is not None
    return sipd.render(args.format, lines, args.pemda, args.year, as_of, q.position(db), final)


def ebupot_file(db: ReadDatabase, args: argparse.Namespace) -> bytes:
    if not q.budget_years(db, args.pemda):
        raise InvalidInput(f"no pemda {args.pemda} in the store (it has no APBD)")
    return ebupot.render(args.format, tax.withheld(db, args.pemda, args.year, args.month))
