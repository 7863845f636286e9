"""``kasda anggaran-kas`` and ``kasda spd``: import an SKPD's cash plan from a CSV file, issue an
SPD, list the SPD register.

The CSV file has a header and one row per budget line: ``skpd, sub_kegiatan, rekening`` and then 12
monthly or 4 quarterly amounts in whole rupiah (a quarter's amount is planned in its first month).
Every row is checked before anything is written, and every problem names its line of the file; the
rows of each SKPD become one ``AdoptCashPlan`` (or ``AmendCashPlan`` with ``--amend``), whose
idempotency key is a digest of what it says, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from kasda.lra import rupiah
from kasda.settings import Settings
from ledger import commands as c
from ledger.application import Ledger
from ledger.cashplan import MONTHS, QUARTERS
from ledger.codes import normalise_rekening, normalise_skpd, normalise_sub_kegiatan
from ledger.errors import DomainError, InvalidInput, NotFound
from ledger.handlers import line_id_of
from ledger.roles import Actor, Role
from projections import spd as s
from projections.runner import Projector

CODES = 3  # skpd, sub_kegiatan, rekening
MAX_ROWS = 5_000


def add_parsers(sub: Any) -> None:
    plan = sub.add_parser("anggaran-kas", help="adopt (or amend) anggaran kas from a CSV file")
    plan.add_argument("file", type=Path, help="skpd,sub_kegiatan,rekening + 12 or 4 amounts")
    plan.add_argument("--document", required=True, help="the decision that sets the plan")
    plan.add_argument("--amend", action="store_true", help="amend adopted plans instead")
    _common(plan, "BPKAD admin")
    spd = sub.add_parser("spd", help="issue an SPD or list the SPD register")
    what = spd.add_subparsers(dest="spd_command", required=True)
    issue = what.add_parser("issue", help="issue an SPD to an SKPD (as the Kuasa BUD)")
    issue.add_argument("--skpd", required=True)
    issue.add_argument("--number", required=True, help="the SPD number")
    issue.add_argument("--first-month", type=int, required=True, help="1..12")
    issue.add_argument("--last-month", type=int, help="1..12 (default: the first month)")
    issue.add_argument("--amount", type=int, required=True, help="whole rupiah")
    _common(issue, "Kuasa BUD")
    listing = what.add_parser("list", help="the SPD register and what each SKPD has left")
    listing.add_argument("--skpd", help="only this SKPD")
    _common(listing, None)


def _common(parser: argparse.ArgumentParser, acting: str | None) -> None:
    parser.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    parser.add_argument("--year", type=int, default=2026)
    if acting is not None:
        parser.add_argument("--as", dest="as_user", required=True, help=f"the {acting}'s user id")


@dataclass(frozen=True)
class Row:
    number: int  # the line of the file
    skpd: str
    plan: c.LinePlan


def read_plan(path: Path) -> list[Row]:
    """The rows of a cash plan file, each checked on its own; ``InvalidInput`` names the line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: cannot read it: {error}") from None
    if len(lines) < 2:
        raise InvalidInput(f"{path}: a header and at least one line are needed")
    if len(lines) > MAX_ROWS + 1:
        raise InvalidInput(f"{path}: at most {MAX_ROWS} lines")
    return [_row(path, number, cells) for number, cells in enumerate(lines[1:], 2) if any(cells)]


def _row(path: Path, number: int, cells: list[str]) -> Row:
    where = f"{path}, line {number}"
    amounts = cells[CODES:]
    if len(amounts) not in (MONTHS, QUARTERS):
        raise InvalidInput(
            f"{where}: expected skpd, sub_kegiatan, rekening and {MONTHS} monthly or {QUARTERS} "
            f"quarterly amounts, got {len(cells)} columns"
        )
    try:
        skpd = normalise_skpd(cells[0].strip())
        sub = normalise_sub_kegiatan(cells[1].strip()) if cells[1].strip() else None
        rekening = normalise_rekening(cells[2].strip())
    except DomainError as error:
        raise InvalidInput(f"{where}: {error}") from None
    months = []
    for column, text in enumerate(amounts, CODES + 1):
        raw = text.strip().replace(".", "")  # 1.250.000 as written in Indonesia
        if not raw.isdigit():
            raise InvalidInput(f"{where}, column {column}: not a whole rupiah amount: {text!r}")
        months.append(int(raw))
    line = c.LineRef(skpd=skpd, sub_kegiatan=sub, rekening=rekening)
    return Row(number, skpd, c.LinePlan(line=line, months=tuple(months)))


def check_against_budget(ledger: Ledger, pemda: str, year: int, rows: list[Row]) -> None:
    """Each row names a line of the APBD and spreads exactly its pagu (said with its line)."""
    seen: dict[Any, int] = {}
    for row in rows:
        line_id = line_id_of(pemda, year, row.plan.line)
        if line_id in seen:
            raise InvalidInput(f"line {row.number}: the same budget line as line {seen[line_id]}")
        seen[line_id] = row.number
        try:
            line = ledger.budget_line(line_id)
        except NotFound:
            ref = row.plan.line
            raise InvalidInput(
                f"line {row.number}: no budget line {ref.skpd} / {ref.sub_kegiatan or '-'} / "
                f"{ref.rekening} in the APBD {year}"
            ) from None
        total = sum(row.plan.months)
        if total != line.pagu:
            raise InvalidInput(
                f"line {row.number}: the amounts add up to {rupiah(total)}, "
                f"not to the line's pagu of {rupiah(line.pagu)}"
            )


def _key(*parts: object) -> str:
    return "kasda-cli:" + hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def import_plan(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rows = read_plan(args.file)  # bad input is refused before the store is opened
    actor = Actor(args.as_user, Role.BPKAD_ADMIN)
    by_skpd: dict[str, list[Row]] = {}
    for row in rows:
        by_skpd.setdefault(row.skpd, []).append(row)
    ledger = settings.open_ledger()
    try:
        check_against_budget(ledger, args.pemda, args.year, rows)
        kind = c.AmendCashPlan if args.amend else c.AdoptCashPlan
        for skpd, mine in by_skpd.items():
            lines = tuple(row.plan for row in mine)
            command = kind(
                idempotency_key=_key(
                    kind.__name__, args.pemda, args.year, skpd, args.document, lines
                ),
                actor=actor,
                pemda=args.pemda,
                year=args.year,
                skpd=skpd,
                document=args.document,
                lines=lines,
            )
            result = ledger.execute(command)
            planned = rupiah(int(result.data["planned"]))
            verb = "amended" if args.amend else "adopted"
            print(f"SKPD {skpd}: anggaran kas {verb}, {len(lines)} lines, Rp {planned}", file=out)
    finally:
        ledger.close()
    return 0


def issue(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    last = args.first_month if args.last_month is None else args.last_month
    command = c.IssueSpd(
        idempotency_key=_key("IssueSpd", args.pemda, args.year, args.number),
        actor=Actor(args.as_user, Role.KUASA_BUD),
        pemda=args.pemda,
        year=args.year,
        skpd=args.skpd,
        spd_number=args.number,
        first_month=args.first_month,
        last_month=last,
        amount=args.amount,
    )
    ledger = settings.open_ledger()
    try:
        result = ledger.execute(command)
    finally:
        ledger.close()
    print(
        f"SPD {args.number} issued: Rp {rupiah(args.amount)} for months {args.first_month}..{last}; "
        f"SPD issued this year Rp {rupiah(int(result.data['issued']))}",
        file=out,
    )
    return 0


def list_spd(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    unit = None if args.skpd is None else normalise_skpd(args.skpd)
    ledger = settings.open_ledger()
    try:
        projector = Projector(ledger, timezone=settings.timezone)
        try:
            projector.catch_up()
            register = s.spd_register(
                projector.db, args.pemda, args.year, skpds=(unit,), limit=1000
            )
            plans = s.cash_plans(projector.db, args.pemda, args.year, skpd=unit)
        finally:
            projector.close()
    finally:
        ledger.close()
    if not plans:
        print(f"no anggaran kas {args.year} in pemda {args.pemda}", file=out)
        return 0
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["spd", "skpd", "first_month", "last_month", "amount", "issued_by", "day"])
    for row in register.rows:
        writer.writerow([row["number"], row["skpd"], row["first_month"], row["last_month"],
                         row["amount"], row["actor_id"], row["day"]])  # fmt: skip
    print(file=out)
    writer.writerow(["skpd", "planned", "issued", "committed", "realised", "issued_left"])
    for plan in plans:
        left = plan["issued"] - plan["committed"] - plan["realised"]
        writer.writerow([plan["skpd"], plan["planned"], plan["issued"], plan["committed"],
                         plan["realised"], left])  # fmt: skip
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "anggaran-kas":
        return import_plan(args, settings)
    if args.spd_command == "issue":
        return issue(args, settings)
    return list_spd(args, settings)
