"""The year's KKPD statement reconciled in the demo (``reconciliation/kkpd.py``): BPKAD matches the
issuing bank's statement against the SPJ entries, cards, UP KKPD ceilings and bills the ledger holds
and records the run, so the card purchase planted with no SPJ is an exception on record, and the
Inspektorat's red-flag run that follows finds it (rule ``kkpd_without_spj``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kasda.demo.pemda import PEMDA, YEAR
from kasda.reconcile_kkpd import match_files
from kasda.settings import Settings
from ledger.application import Ledger
from ledger.roles import Actor
from projections import advance_queries as aq
from projections.runner import Projector
from reconciliation.day import record_command
from reconciliation.kkpd import Params, build_record


def record_kkpd_run(ledger: Ledger, statement: Path, admin: Actor, settings: Settings) -> str:
    """Reconcile ``statement`` as of the year's last day and record it; one line saying what came
    out of it."""
    as_of = date(YEAR, 12, 31)
    projector = Projector(ledger, timezone=settings.timezone)
    try:
        projector.catch_up()
        db = projector.db
        sides = {
            "spj": aq.kkpd_spj(db, PEMDA, YEAR),
            "cards": aq.kkpd_cards(db, PEMDA, YEAR),
            "skpd_limits": aq.kkpd_skpd_limits(db, PEMDA, YEAR),
            "bill_payments": aq.kkpd_bill_payments(db, PEMDA, YEAR),
        }
    finally:
        projector.close()
    params = Params.of(as_of, settings.thresholds(PEMDA)["kkpd"])
    matched = match_files(statement, sides, params)
    record = build_record(matched.result, params, matched.inputs)
    ledger.execute(record_command(PEMDA, admin, record))
    statuses = ", ".join(
        f"{status} {n}" for status, n in matched.result.counts()["statement"].items() if n
    )
    return f"KKPD {statement.name} as of {as_of}: {statuses}; {len(record.exceptions)} exceptions"
