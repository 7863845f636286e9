"""``kasda advance``: the bendahara's advances (uang persediaan) of a pemda and year, from the read
models: each SKPD's UP and its balances; with ``--skpd``, its register (BKU); with ``--kkpd-frames
DIR``, the four ledger-side inputs of the KKPD reconciliation (``reconciliation/kkpd.py``'s
contract) written as ``;``-separated CSV files there (``kkpd-spj.csv``, ``kkpd-cards.csv``,
``kkpd-skpd-limits.csv``, ``kkpd-bill-payments.csv``), for ``kasda reconcile-kkpd``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from kasda.settings import Settings
from ledger.codes import normalise_skpd
from ledger.errors import InvalidInput
from projections import advance_queries as aq
from projections.db import ReadDatabase
from projections.runner import Projector

BALANCES = ("skpd", "ceiling", "kkpd_ceiling", "cash", "accounted", "owed_on_cards",
            "replenishing", "outstanding")  # fmt: skip
REGISTER = ("seq", "day", "kind", "reference", "money_in", "money_out", "balance")
FRAMES = {"kkpd-spj.csv": aq.kkpd_spj, "kkpd-cards.csv": aq.kkpd_cards,
          "kkpd-skpd-limits.csv": aq.kkpd_skpd_limits,
          "kkpd-bill-payments.csv": aq.kkpd_bill_payments}  # fmt: skip


def add_parser(sub: Any) -> None:
    found = sub.add_parser("advance", help="the bendahara's advances (UP/GU/TU, KKPD) of a year")
    found.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    found.add_argument("--year", type=int, default=2026)
    found.add_argument("--skpd", help="one SKPD: its balances and its register (BKU)")
    found.add_argument(
        "--kkpd-frames", type=Path, help="write the KKPD reconciliation's ledger inputs here"
    )


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], out: TextIO) -> None:
    cells = [[str(r[c]) if not isinstance(r[c], int) else f"{r[c]:,}".replace(",", ".")
              for c in columns] for r in rows]  # fmt: skip
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), file=out)
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)), file=out)


def _read(args: argparse.Namespace, db: ReadDatabase, out: TextIO) -> int:
    skpd = normalise_skpd(args.skpd) if args.skpd else None
    found = aq.advances(db, args.pemda, year=args.year, skpd=skpd)
    if not found:
        raise InvalidInput(f"no UP set in {args.year} for pemda {args.pemda}"
                           + (f" SKPD {skpd}" if skpd else ""))  # fmt: skip
    print(f"Uang persediaan pemda {args.pemda} TA {args.year}", file=out)
    _table(found, BALANCES, out)
    if skpd is not None:
        print(f"\nBKU SKPD {skpd}", file=out)
        _table(aq.register(db, found[0]["advance_id"], limit=1_000_000), REGISTER, out)
    if args.kkpd_frames is not None:
        args.kkpd_frames.mkdir(parents=True, exist_ok=True)
        for name, frame in FRAMES.items():
            written: pl.DataFrame = frame(db, args.pemda, args.year)
            written.write_csv(args.kkpd_frames / name, separator=";", date_format="%Y-%m-%d")
            print(f"{args.kkpd_frames / name}: {written.height} rows", file=out)
    return 0


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    ledger = settings.open_ledger()
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            projector.catch_up()
            return _read(args, projector.db, out or sys.stdout)
        finally:
            projector.close()
    finally:
        ledger.close()
