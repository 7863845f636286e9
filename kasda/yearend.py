"""``kasda close-year``: tutup tahun from the command line (``ledger.yearend``), or its preview.

    kasda close-year --year 2026 --document KEP-PPKD-900/2026 --carry SPP/0042 --silpa-skpd 5.02...
    kasda close-year --year 2026 --document KEP-PPKD-900/2026 --dry-run

The preview runs the close by the same rules and records nothing. Either prints what lapses, what
carries over into the next APBD (DPAL) and the SiLPA, in rupiah; a refusal is a message and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from kasda.settings import Settings
from ledger import commands as c
from ledger import ids
from ledger.application import CommandResult
from ledger.codes import SILPA_REKENING
from ledger.errors import DomainError
from ledger.roles import Actor, Role

DEFAULT_ACTOR = "bpkad-ppkd"


def add_parser(sub: Any) -> None:
    close = sub.add_parser("close-year", help="tutup tahun: close a fiscal year (or --dry-run)")
    close.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    close.add_argument("--year", type=int, required=True, help="the fiscal year to close")
    close.add_argument("--document", required=True, help="the PPKD's decision closing the year")
    close.add_argument(
        "--carry", action="append", default=[], metavar="SPP",
        help="an SPP (LS, under a contract) whose work continues next year (DPAL); repeatable",
    )  # fmt: skip
    close.add_argument("--silpa-skpd", help="SKPD code of the next APBD's penggunaan SiLPA line")
    close.add_argument("--silpa-rekening", default=SILPA_REKENING)
    close.add_argument("--actor", default=DEFAULT_ACTOR, help="the PPKD's user id")
    close.add_argument("--dry-run", action="store_true", help="preview: record nothing")


def _command(args: argparse.Namespace) -> c.CloseYear:
    silpa = (
        None
        if args.silpa_skpd is None
        else c.LineRef(skpd=args.silpa_skpd, sub_kegiatan=None, rekening=args.silpa_rekening)
    )
    return c.CloseYear(
        idempotency_key=f"close-year:{args.pemda}:{args.year}:{args.document}",
        actor=Actor(args.actor, Role.BPKAD_ADMIN),
        pemda=args.pemda,
        year=args.year,
        document=args.document,
        carry_over=tuple(ids.disbursement_id(args.pemda, args.year, s.strip()) for s in args.carry),
        silpa_line=silpa,
    )


def rupiah(amount: int) -> str:
    digits = f"{abs(amount):,}".replace(",", ".")
    return f"-Rp {digits}" if amount < 0 else f"Rp {digits}"


def report(result: dict[str, Any], dry_run: bool, out: TextIO) -> None:
    head = "Pratinjau tutup tahun (tidak dicatat)" if dry_run else "Tahun anggaran ditutup"
    out.write(f"{head} {result['year']}\n")
    for label, key in (
        ("Pendapatan", "pendapatan"),
        ("Penerimaan pembiayaan", "penerimaan_pembiayaan"),
        ("Belanja", "belanja"),
        ("Pengeluaran pembiayaan", "pengeluaran_pembiayaan"),
        ("SiLPA", "silpa"),
    ):
        out.write(f"  {label:<24}{rupiah(result[key]):>28}\n")
    out.write(f"  SPP kedaluwarsa: {result['lapsed']} ({rupiah(result['lapsed_amount'])})\n")
    for item in result["carried"]:
        out.write(f"  Luncuran (DPAL): {item['spp_number']} {rupiah(item['amount'])}\n")


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    command = _command(args)
    ledger = settings.open_ledger()
    try:
        outcome = ledger.dry_run(command) if args.dry_run else ledger.execute(command)
    finally:
        ledger.close()
    if isinstance(outcome, DomainError):
        raise outcome
    assert isinstance(outcome, CommandResult)
    report(outcome.data, args.dry_run, out)
    return 0
