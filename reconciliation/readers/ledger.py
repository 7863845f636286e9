"""The ledger's own side: every SP2D disbursement and every receipt of income, as canonical rows.

From a live store (``ledger_frame``): the ``Disbursement`` and ``Revenue`` events of the notification
log, in order. A disbursement row takes the SP2D number, net and the vendor's bank account recorded at
``Authorised``, the gateway reference of the last ``Sent``, and the date of ``Settled``; its status
is the last money event's. A receipt row takes ``Received`` (order id, gross, fee, net, date) and
becomes ``reversed`` on ``Reversed``. Dates are WIB calendar dates of the events' ``at``.

From a file (``read_ledger_parquet``): a Parquet file already in the canonical ledger schema.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from ledger.application import Ledger
from reconciliation.errors import StatementError
from reconciliation.schema import LEDGER, validate_ledger

WIB = timezone(timedelta(hours=7))
_PAGE = 5_000
_DISBURSEMENT = "ledger.disbursement:Disbursement."
_REVENUE = "ledger.revenue:Revenue."
_STATUS = {
    "Authorised": "authorised",
    "Sent": "sent",
    "Settled": "settled",
    "Failed": "failed",
    "Returned": "returned",
    "Cancelled": "cancelled",
}


def _day(moment: datetime) -> date:
    return moment.astimezone(WIB).date()


def ledger_rows(ledger: Ledger, pemda: str | None = None) -> list[dict[str, Any]]:
    """One dict per disbursement that reached SP2D and per receipt, in the canonical columns (of one
    pemda, or of every pemda in the store)."""
    rows, owner = _read(ledger)
    return [row for key, row in rows.items() if pemda is None or owner.get(key) == pemda]


def _read(ledger: Ledger) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The rows by aggregate id, and the pemda of each aggregate."""
    rows: dict[str, dict[str, Any]] = {}
    owner: dict[str, str] = {}
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=_PAGE)
        for notification in page:
            topic = notification.topic
            if not topic.startswith((_DISBURSEMENT, _REVENUE)):
                continue
            name = topic.rsplit(".", 1)[-1]
            if topic.startswith(_DISBURSEMENT) and name not in _STATUS and name != "Requested":
                continue
            event: Any = ledger.mapper.to_domain_event(notification)
            key = str(event.originator_id)
            if name == "Requested":  # only its pemda: the row starts at the SP2D
                owner[key] = event.pemda
            elif name == "Authorised":
                rows[key] = {
                    "ledger_id": key,
                    "kind": "disbursement",
                    "direction": "D",
                    "sp2d_number": event.sp2d_number,
                    "payout_reference": None,
                    "order_id": None,
                    "gross": event.gross,
                    "fee": 0,
                    "net": event.net,
                    "beneficiary_bank": event.bank_account.get("bank_code"),
                    "beneficiary_account": event.bank_account.get("number"),
                    "authorised_on": _day(event.at),
                    "sent_on": None,
                    "settled_on": None,
                    "status": "authorised",
                }
            elif name == "Received":
                owner[key] = event.pemda
                rows[key] = {
                    "ledger_id": key,
                    "kind": "receipt",
                    "direction": "C",
                    "sp2d_number": None,
                    "payout_reference": None,
                    "order_id": event.reference,
                    "gross": event.gross,
                    "fee": event.fee,
                    "net": event.net,
                    "beneficiary_bank": None,
                    "beneficiary_account": None,
                    "authorised_on": _day(event.at),
                    "sent_on": _day(event.at),
                    "settled_on": _day(event.at),
                    "status": "received",
                }
            elif key in rows:
                row = rows[key]
                if name == "Reversed":
                    row["status"] = "reversed"
                    continue
                row["status"] = _STATUS[name]
                if name == "Sent":
                    row["payout_reference"] = event.reference
                    row["sent_on"] = _day(event.at)
                    row["settled_on"] = None
                elif name == "Settled":
                    row["settled_on"] = _day(event.at)
        if len(page) < _PAGE:
            break
        start = page[-1].id + 1
    return rows, owner


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """References in canonical form (trimmed, upper case), as the statement readers write them."""
    return frame.with_columns(
        pl.col(c).str.strip_chars().str.to_uppercase()
        for c in ("sp2d_number", "payout_reference", "order_id")
    )


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=LEDGER)
    return validate_ledger(
        normalise(frame.filter(pl.col("status") != "cancelled")), "<ledger store>"
    )


def ledger_frame(ledger: Ledger, pemda: str | None = None) -> pl.DataFrame:
    """The canonical ledger frame of a live store (cancelled SP2Ds are left out: no money moves), of
    one pemda or of all."""
    return _frame(ledger_rows(ledger, pemda))


def ledger_frames(ledger: Ledger) -> dict[str, pl.DataFrame]:
    """The canonical ledger frame of each pemda in the store (one pass over the log)."""
    rows, owner = _read(ledger)
    by_pemda: dict[str, list[dict[str, Any]]] = {}
    for key, row in rows.items():
        by_pemda.setdefault(owner.get(key, ""), []).append(row)
    return {pemda: _frame(found) for pemda, found in by_pemda.items()}


def read_ledger_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.ComputeError) as error:
        raise StatementError(path, 0, f"not a readable Parquet file: {error}") from None
    return normalise(validate_ledger(frame, str(path)))
