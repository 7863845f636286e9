"""``kasda redflags`` and ``kasda redflag-review``: the red flags of a pemda, and an inspector's
decision on one (``audit/``, docs/red-flags.md).

``kasda redflags`` runs the rules over the read models (caught up first) and prints the flags:
a table for people, or CSV, JSON or XLSX for the inspectorate's own tools. With ``--record`` the
run is recorded as the ``--as`` user in the auditor role (``audit.service.record``); the same run
again (same log position, thresholds and rules) records nothing and says so. Exit 0 on a run,
2 on bad arguments (an unknown rule, a malformed day, a refused command), 1 when the event store
is unavailable (``kasda.cli.main``).

CSV columns (one row a flag; lists joined by ``;``): ``id, rule, severity, subject_kind,
subject_id, amount, period_from, period_to, disbursement_ids, vendor_ids, evidence`` (each event
as ``aggregate_id:version@position``), ``explanation_id, explanation_en``. Amounts are integer
rupiah in CSV, JSON and XLSX; the table writes them as ``Rp 1.234.567``.

This module is also the wiring of the warnings where a payment leaves (``PayoutWarnings``, for
``gateways.payouts.PayoutService``), since ``gateways`` reads neither ``audit`` nor the read models.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID

from audit.rules.common import rupiah
from ledger.errors import InvalidInput

if TYPE_CHECKING:
    from audit.flags import Flag
    from kasda.settings import Settings
    from ledger.application import Ledger
    from ledger.disbursement import Disbursement
    from projections.db import ReadDatabase

log = logging.getLogger(__name__)

FORMATS = ("table", "csv", "json", "xlsx")
CSV_COLUMNS = (
    "id", "rule", "severity", "subject_kind", "subject_id", "amount", "period_from", "period_to",
    "disbursement_ids", "vendor_ids", "evidence", "explanation_id", "explanation_en",
)  # fmt: skip
SEVERITY_ID = {"high": "tinggi", "medium": "sedang", "low": "rendah"}
DEFAULT_PEMDA = "32.73"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pemda", default=DEFAULT_PEMDA, help=f"Kemendagri region code (default {DEFAULT_PEMDA})"
    )
    parser.add_argument(
        "--database", help="event store URL (default $KASDA_DATABASE_URL, else sqlite:///kasda.db)"
    )


def add_parsers(sub: Any) -> None:
    flags = sub.add_parser(
        "redflags", help="red flags (indikasi risiko) of a pemda, now or as of a day"
    )
    flags.add_argument("--as-of", type=_day, help="end of this day in the pemda's time zone")
    flags.add_argument(
        "--rule", action="append", default=[], help="only this rule (a code; repeatable)"
    )
    flags.add_argument(
        "--skpd", help="only flags about this SKPD or naming its payments (its code)"
    )
    flags.add_argument("--format", choices=FORMATS, default="table")
    flags.add_argument("--out", type=Path, help="write to this file (required for xlsx)")
    flags.add_argument(
        "--record",
        action="store_true",
        help="also record the run in the ledger (needs --as; the same run twice records once)",
    )
    flags.add_argument("--as", dest="as_user", help="the auditor's user id that records the run")
    _common(flags)
    review = sub.add_parser(
        "redflag-review", help="an inspector's decision on one red flag (auditor role)"
    )
    review.add_argument("flag_id", help="the flag's id (the `id` of kasda redflags)")
    review.add_argument(
        "--decision", required=True, choices=["confirmed", "dismissed", "escalated"]
    )
    review.add_argument("--reason", required=True, help="why; name the document or the finding")
    review.add_argument("--as", dest="as_user", required=True, help="the auditor's user id")
    _common(review)


def _auditor(user_id: str | None, what: str) -> Any:
    from ledger.roles import Actor, Role

    if not user_id:
        raise InvalidInput(f"{what} needs --as USER_ID (an auditor)")
    return Actor(user_id, Role.AUDITOR)


# -- kasda redflags ------------------------------------------------------------------------------
def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    from audit.engine import rules_named

    out = out or sys.stdout
    if args.format == "xlsx" and args.out is None:
        raise InvalidInput("--format xlsx needs --out FILE.xlsx")
    rules = list(dict.fromkeys(args.rule)) or None
    rules_named(rules)  # an unknown rule is refused before the store is opened
    actor = _auditor(args.as_user, "--record") if args.record else None
    limits = settings.thresholds(args.pemda)
    ledger = settings.open_ledger(args.database)
    try:
        flags, names = _flags(ledger, settings, args, actor, limits, rules)
    finally:
        ledger.close()
    if args.format == "xlsx":
        write_xlsx(flags, args.out)
        print(f"wrote {args.out}", file=out)
        return 0
    if args.format == "table":
        text = render_table(flags, names)
    else:
        text = {"csv": render_csv, "json": render_json}[args.format](flags)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=out)
    else:
        out.write(text)
    return 0


def _flags(
    ledger: Ledger,
    settings: Settings,
    args: argparse.Namespace,
    actor: Any,
    limits: Any,
    rules: list[str] | None,
) -> tuple[list[Flag], dict[str, str]]:
    """The flags of the run (recorded first with ``--record``), kept to ``--skpd`` if given, and
    the names of the vendors they are about (for people: the table)."""
    from audit import service
    from audit.frames import secret_of
    from projections import queries as q
    from projections.runner import Projector

    projector = Projector(ledger, timezone=settings.timezone)
    try:
        projector.catch_up()
        db = projector.db
        secret = secret_of(db)
        if actor is None:
            detection = service.find(db, args.pemda, limits, secret, as_of=args.as_of, rules=rules)
            flags = detection.flags
        else:
            outcome = service.record(
                ledger, db, actor, args.pemda, limits, secret, as_of=args.as_of, rules=rules
            )
            _say_recorded(outcome)
            flags = outcome.flags
        if args.skpd is not None:
            flags = of_skpd(db, args.pemda, secret, args.as_of, flags, args.skpd)
        about = [f.subject_id for f in flags if f.subject_kind.value == "vendor"]
        names = q.vendor_names(db, args.pemda, about)
    finally:
        projector.close()
    return flags, names


def _say_recorded(outcome: Any) -> None:
    if outcome.replayed:
        print(
            f"already recorded: red-flag run {outcome.run_id} (same log position, thresholds "
            "and rules); replayed, nothing new written",
            file=sys.stderr,
        )
    else:
        print(
            f"recorded red-flag run {outcome.run_id}: {len(outcome.flags)} flags, "
            f"{outcome.raised} raised for the first time",
            file=sys.stderr,
        )


def of_skpd(
    db: ReadDatabase,
    pemda: str,
    secret: bytes,
    as_of: date | None,
    flags: list[Flag],
    skpd: str,
) -> list[Flag]:
    """The flags about SKPD ``skpd`` or naming one of its payments (a payment's SKPD is its
    line's, from the frames the rules read)."""
    import polars as pl

    from audit.frames import load
    from ledger.codes import normalise_skpd

    code = normalise_skpd(skpd)
    payments = (
        load(db, pemda, secret, as_of)
        .payments.filter(pl.col("skpd") == code)
        .select("disbursement_id")
        .collect()
    )
    mine = set(payments.get_column("disbursement_id").to_list())
    return [
        f
        for f in flags
        if (f.subject_kind.value == "skpd" and f.subject_id == code)
        or not mine.isdisjoint(f.disbursement_ids)
    ]


def render_json(flags: Iterable[Flag]) -> str:
    """A list of flag objects with exactly ``ledger.redflags.FLAG_FIELDS``."""
    return json.dumps([f.as_dict() for f in flags], indent=2, ensure_ascii=False) + "\n"


def csv_row(flag: Flag) -> list[Any]:
    evidence = ";".join(f"{e.aggregate_id}:{e.version}@{e.position}" for e in flag.evidence)
    return [
        flag.id, flag.rule, flag.severity.value, flag.subject_kind.value, flag.subject_id,
        flag.amount, flag.period_start.isoformat(), flag.period_end.isoformat(),
        ";".join(flag.disbursement_ids), ";".join(flag.vendor_ids), evidence,
        flag.explanation_id, flag.explanation_en,
    ]  # fmt: skip


def render_csv(flags: Iterable[Flag]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(f) for f in flags)
    return buffer.getvalue()


def render_table(flags: list[Flag], names: Mapping[str, str] | None = None) -> str:
    """For people: one line per flag (severity, rule, amount at risk, period, subject), its
    sentence in Bahasa Indonesia under it, then the count by severity."""
    if not flags:
        return "Tidak ada indikasi risiko.\n"
    header = (
        f"{'No':>4}  {'Tingkat':8}  {'Aturan':30}  {'Nilai berisiko':>20}  {'Periode':26}  Subjek"
    )
    lines = [header, "-" * len(header)]
    for number, f in enumerate(flags, 1):
        period = f"{f.period_start.isoformat()} s.d. {f.period_end.isoformat()}"
        named = (names or {}).get(f.subject_id) if f.subject_kind.value == "vendor" else None
        subject = f"penyedia {named}" if named else f"{f.subject_kind.value} {f.subject_id}"
        lines.append(
            f"{number:>4}  {SEVERITY_ID[f.severity.value]:8}  {f.rule[:30]:30}  "
            f"{rupiah(f.amount):>20}  {period:26}  {subject}"
        )
        lines.append(f"{'':6}{f.explanation_id}")
        lines.append(f"{'':6}id {f.id}; {len(f.disbursement_ids)} SP2D, {len(f.evidence)} bukti")
    counts = {s: sum(1 for f in flags if f.severity.value == s) for s in SEVERITY_ID}
    shown = ", ".join(f"{n} {SEVERITY_ID[s]}" for s, n in counts.items() if n)
    lines.append(f"\n{len(flags)} indikasi ({shown}). Indikasi bukan putusan: periksa buktinya.")
    return "\n".join(lines) + "\n"


def write_xlsx(flags: list[Flag], path: Path) -> None:
    """Sheet ``Indikasi``: the CSV's columns, one row a flag; sheet ``Bukti``: one row an event
    of a flag's evidence."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Indikasi"
    sheet.append(list(CSV_COLUMNS))
    for flag in flags:
        sheet.append(csv_row(flag))
    amount = CSV_COLUMNS.index("amount") + 1
    for cells in sheet.iter_rows(min_row=2, min_col=amount, max_col=amount):
        for cell in cells:
            cell.number_format = "#,##0"
    evidence = book.create_sheet("Bukti")
    evidence.append(["flag_id", "aggregate_id", "version", "position"])
    for flag in flags:
        for e in flag.evidence:
            evidence.append([flag.id, e.aggregate_id, e.version, e.position])
    book.save(path)


# -- kasda redflag-review ------------------------------------------------------------------------
def review(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    """Record an inspector's decision on one flag (``ReviewRedFlag``)."""
    from ledger.commands import ReviewRedFlag

    out = out or sys.stdout
    try:
        flag_id = UUID(args.flag_id)
    except ValueError:
        raise InvalidInput(f"FLAG_ID must be a flag id (UUID), got {args.flag_id!r}") from None
    actor = _auditor(args.as_user, "a review")
    digest = hashlib.sha256(args.reason.encode()).hexdigest()[:16]
    ledger = settings.open_ledger(args.database)
    try:
        result = ledger.execute(
            ReviewRedFlag(
                idempotency_key=f"redflag-review:{flag_id}:{args.decision}:{digest}",
                actor=actor,
                pemda=args.pemda,
                flag_id=flag_id,
                decision=args.decision,
                reason=args.reason,
            )
        )
    finally:
        ledger.close()
    if result.replayed:
        print(f"already recorded: flag {flag_id} {args.decision} (replayed)", file=out)
    else:
        print(f"flag {flag_id} is now {result.data['status']}", file=out)
    return 0


# -- warnings where a payment leaves -------------------------------------------------------------
class PayoutWarnings:
    """``PayoutService(warnings=...)``: the open and live red flags of a payment about to be sent
    (``audit.service.warnings``), from read models caught up at each call. Never raises: a warning
    that cannot be computed is logged, and the payment goes on (a flag never blocks)."""

    def __init__(self, ledger: Ledger, settings: Settings) -> None:
        from projections.runner import Projector

        self.settings = settings
        self.projector = Projector(ledger, timezone=settings.timezone)

    def __call__(self, d: Disbursement) -> list[dict[str, Any]]:
        from audit import service
        from audit.frames import secret_of

        try:
            self.projector.catch_up()
            db = self.projector.db
            return service.warnings(
                db, d.pemda, str(d.id), d.vendor_id, self.settings.thresholds(d.pemda),
                secret_of(db),
            )  # fmt: skip
        except Exception:  # a warning is advice: its failure must not stop a payment
            log.exception("red-flag warnings of SP2D %s could not be computed", d.sp2d_number)
            return []

    def close(self) -> None:
        self.projector.close()
