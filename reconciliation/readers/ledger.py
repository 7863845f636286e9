"""The ledger's own side: every SP2D disbursement and every receipt of income, as canonical rows.

From a live store (``ledger_frame``/``ledger_frames``): the read models (``projections/``), brought
up to date first, so a nightly run reads one row per payment instead of replaying the whole log. A
disbursement row is a ``proj_payment`` row that reached the SP2D: its number, gross, net and the
vendor's bank account recorded at ``Authorised``, the gateway reference of the last ``Sent``, the
days of ``Authorised``, the last ``Sent`` and ``Settled``, and its status (the last money event's:
a transfer the gateway refused changes none). A returned transfer paid again (``Reissued``) is one row
per transfer that reached the bank: each that came back is a row of its own (``<id>/<n>``, status
``returned``, with the account, payout reference and days of that transfer), and the payment's own
row is its latest transfer, to the new account, authorised on the day of the re-issue; so the
statement's first debit, its return and the second debit (all naming the one SP2D) each find their
transfer. A receipt row is a ``proj_receipt`` row (order id,
gross, fee, net, the day it was received; ``reversed`` after ``Reversed``). Days are calendar days in
the pemda's time zone (``KASDA_TIMEZONE``), as in every report.

The bendahara's advance moves RKUD money too (``projections.advance``): the SP2D of an SPP-UP, -GU or
-TU pays the bendahara's account, so it is a disbursement row like an LS one (its SP2D number in the
remark, its exact amount, the bendahara's account); a setoran of what is left of the UP or a TU
comes back into the RKUD, a receipt row whose reference is the deposit's (the STS number). A GU
nihil moves no money and is no row.

From a file (``read_ledger_parquet``): a Parquet file already in the canonical ledger schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from ledger.application import Ledger
from projections.db import Cursor, ReadDatabase
from projections.runner import DEFAULT_TIMEZONE, Projector
from reconciliation.errors import StatementError
from reconciliation.schema import LEDGER, check_ledger, validate_ledger

_PAYMENTS = (
    "SELECT disbursement_id, pemda, sp2d_number, gateway_reference, gross, net, bank_code,"
    " account_number, COALESCE(reissued_at, authorised_at), sent_at, settled_at, status"
    " FROM proj_payment WHERE sp2d_number IS NOT NULL AND status <> 'cancelled'"
)
_REISSUED = (
    "SELECT disbursement_id FROM proj_payment"
    " WHERE reissues > 0 AND sp2d_number IS NOT NULL AND status <> 'cancelled'"
)
_TRANSFER_EVENTS = (
    "Disbursement.Authorised",
    "Disbursement.Sent",
    "Disbursement.Settled",
    "Disbursement.Reissued",
)
_HISTORY = ("aggregate_id", "event", "at", "detail")
_CHUNK = 500
_RECEIPTS = (
    "SELECT revenue_id, pemda, reference, gross, fee, net, received_at, status FROM proj_receipt"
)
_ADVANCE_ORDERS = (
    "SELECT order_id, pemda, sp2d_number, amount, bank_code, account_number, authorised_at,"
    " settled_at, status FROM proj_advance_order WHERE sp2d_number IS NOT NULL"
    " AND mechanism <> 'gu_nihil' AND status <> 'cancelled'"
)
_SETORAN = (
    "SELECT r.advance_id, r.seq, a.pemda, r.reference, r.amount, r.at FROM proj_advance_register r"
    " JOIN proj_advance a ON a.advance_id = r.advance_id WHERE r.kind = 'setoran'"
)
_ORDER = ("authorised_on", "ledger_id")  # a stable row order: ties in matching are ranked by it


def _day(column: str, zone: str) -> pl.Expr:
    """A stored moment (UTC ISO text) as the calendar day where the pemda is."""
    return (
        pl.col(column)
        .str.to_datetime(time_unit="us", time_zone="UTC")
        .dt.convert_time_zone(zone)
        .dt.date()
    )


def _returned_transfers(db: ReadDatabase, cursor: Cursor) -> list[tuple[Any, ...]]:
    """The transfers of re-issued payments that came back, as payment rows (``_PAYMENTS``'s
    columns, sealed as stored): folded from the payments' history, the one place they are kept."""
    found: list[tuple[Any, ...]] = []
    ids = [str(r[0]) for r in cursor.fetchall(_REISSUED)]
    events = ", ".join(f"'{e}'" for e in _TRANSFER_EVENTS)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = cursor.fetchall(
            f"SELECT {', '.join(_HISTORY)} FROM proj_history"  # noqa: S608
            f" WHERE aggregate_id IN ({', '.join('?' * len(chunk))}) AND event IN ({events})"
            " ORDER BY aggregate_id, position",
            chunk,
        )
        transfer: dict[str, Any] = {}
        for row in db.sealer.opened(_HISTORY, rows):
            detail, at = json.loads(row["detail"]), row["at"]
            match row["event"]:
                case "Disbursement.Authorised":
                    transfer = {"authorised_at": at}
                case "Disbursement.Sent":
                    transfer.update(reference=detail["reference"], sent_at=at, settled_at=None)
                case "Disbursement.Settled":
                    transfer["settled_at"] = at
                case _:  # Reissued: the transfer before it came back from previous_account
                    account = detail["previous_account"]
                    found.append((
                        f"{row['aggregate_id']}/{detail['reissue']}", detail["pemda"],
                        detail["sp2d_number"], transfer.get("reference"), detail["gross"],
                        detail["net"], account.get("bank_code"), account.get("number"),
                        transfer.get("authorised_at"), transfer.get("sent_at"),
                        transfer.get("settled_at"), "returned",
                    ))  # fmt: skip
                    transfer = {"authorised_at": at}
    return found


def _read(db: ReadDatabase, zone: str) -> pl.DataFrame:
    """Every SP2D disbursement and receipt of the store, with its pemda, in canonical columns."""
    with db.transaction(write=False) as cursor:
        payments = cursor.fetchall(_PAYMENTS)
        receipts = cursor.fetchall(_RECEIPTS)
        returned = _returned_transfers(db, cursor)
        advance_orders = cursor.fetchall(_ADVANCE_ORDERS)
        setoran = cursor.fetchall(_SETORAN)
    # The account number is sealed in an encrypted store: opened where the read side opens them.
    stored = ("disbursement_id", "pemda", "sp2d_number", "gateway_reference", "gross", "net",
              "bank_code", "account_number", "authorised_at", "sent_at", "settled_at", "status")  # fmt: skip
    payment_columns = ["ledger_id", "pemda", "sp2d_number", "payout_reference", "gross", "net",
                       "beneficiary_bank", "beneficiary_account", "authorised_at", "sent_at",
                       "settled_at", "status"]  # fmt: skip
    opened = [tuple(row.values()) for row in db.sealer.opened(stored, payments)]
    paid = pl.DataFrame(
        opened + returned,
        schema={c: pl.Int64 if c in ("gross", "net") else pl.String for c in payment_columns},
        orient="row",
    ).select(
        pl.col("ledger_id").cast(pl.String),
        "pemda",
        kind=pl.lit("disbursement"),
        direction=pl.lit("D"),
        sp2d_number="sp2d_number",
        payout_reference="payout_reference",
        order_id=pl.lit(None, pl.String),
        gross="gross",
        fee=pl.lit(0, pl.Int64),
        net="net",
        beneficiary_bank="beneficiary_bank",
        beneficiary_account="beneficiary_account",
        authorised_on=_day("authorised_at", zone),
        sent_on=_day("sent_at", zone),
        settled_on=_day("settled_at", zone),
        status="status",
    )
    receipt_columns = ["ledger_id", "pemda", "order_id", "gross", "fee", "net", "received_at",
                       "status"]  # fmt: skip
    received = pl.DataFrame(
        receipts,
        schema={
            c: pl.Int64 if c in ("gross", "fee", "net") else pl.String for c in receipt_columns
        },
        orient="row",
    ).select(
        pl.col("ledger_id").cast(pl.String),
        "pemda",
        kind=pl.lit("receipt"),
        direction=pl.lit("C"),
        sp2d_number=pl.lit(None, pl.String),
        payout_reference=pl.lit(None, pl.String),
        order_id="order_id",
        gross="gross",
        fee="fee",
        net="net",
        beneficiary_bank=pl.lit(None, pl.String),
        beneficiary_account=pl.lit(None, pl.String),
        authorised_on=_day("received_at", zone),
        sent_on=_day("received_at", zone),
        settled_on=_day("received_at", zone),
        status="status",
    )
    return pl.concat([paid, received, *_advance_rows(advance_orders, setoran, zone)]).sort(_ORDER)


def _advance_rows(
    orders: list[tuple[Any, ...]], setoran: list[tuple[Any, ...]], zone: str
) -> list[pl.DataFrame]:
    """The advance's SP2D (UP, GU, TU) as disbursements and its setoran as receipts."""
    order_columns = ["ledger_id", "pemda", "sp2d_number", "amount", "beneficiary_bank",
                     "beneficiary_account", "authorised_at", "settled_at", "status"]  # fmt: skip
    paid = pl.DataFrame(
        orders,
        schema={c: pl.Int64 if c == "amount" else pl.String for c in order_columns},
        orient="row",
    ).select(
        "ledger_id",
        "pemda",
        kind=pl.lit("disbursement"),
        direction=pl.lit("D"),
        sp2d_number="sp2d_number",
        payout_reference=pl.lit(None, pl.String),
        order_id=pl.lit(None, pl.String),
        gross="amount",
        fee=pl.lit(0, pl.Int64),
        net="amount",
        beneficiary_bank="beneficiary_bank",
        beneficiary_account="beneficiary_account",
        authorised_on=_day("authorised_at", zone),
        sent_on=pl.lit(None, pl.Date),
        settled_on=_day("settled_at", zone),
        status="status",
    )
    returned = pl.DataFrame(
        [(f"{a}#{seq}", p, ref, amount, at) for a, seq, p, ref, amount, at in setoran],
        schema={
            "ledger_id": pl.String,
            "pemda": pl.String,
            "order_id": pl.String,
            "amount": pl.Int64,
            "at": pl.String,
        },
        orient="row",
    ).select(
        "ledger_id",
        "pemda",
        kind=pl.lit("receipt"),
        direction=pl.lit("C"),
        sp2d_number=pl.lit(None, pl.String),
        payout_reference=pl.lit(None, pl.String),
        order_id="order_id",
        gross="amount",
        fee=pl.lit(0, pl.Int64),
        net="amount",
        beneficiary_bank=pl.lit(None, pl.String),
        beneficiary_account=pl.lit(None, pl.String),
        authorised_on=_day("at", zone),
        sent_on=_day("at", zone),
        settled_on=_day("at", zone),
        status=pl.lit("received"),
    )
    return [paid, returned]


def _rows(ledger: Ledger, timezone: str) -> pl.DataFrame:
    projector = Projector(ledger, timezone=timezone)
    try:
        projector.catch_up()  # the models hold everything recorded before this run
        return _read(projector.db, projector.timezone)
    finally:
        projector.close()


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def normalise(frame: Frame) -> Frame:
    """References in canonical form (trimmed, upper case), as the statement readers write them."""
    return frame.with_columns(
        pl.col(c).str.strip_chars().str.to_uppercase()
        for c in ("sp2d_number", "payout_reference", "order_id")
    )


def _frame(rows: pl.DataFrame) -> pl.DataFrame:
    return validate_ledger(normalise(rows.select(LEDGER.names())), "<ledger store>")


def ledger_frame(
    ledger: Ledger, pemda: str | None = None, *, timezone: str = DEFAULT_TIMEZONE
) -> pl.DataFrame:
    """The canonical ledger frame of a live store (cancelled SP2Ds are left out: no money moves), of
    one pemda or of all."""
    rows = _rows(ledger, timezone)
    return _frame(rows if pemda is None else rows.filter(pl.col("pemda") == pemda))


def ledger_frames(ledger: Ledger, *, timezone: str = DEFAULT_TIMEZONE) -> dict[str, pl.DataFrame]:
    """The canonical ledger frame of each pemda in the store (one read of the read models)."""
    rows = _rows(ledger, timezone)
    return {str(p): _frame(part) for (p,), part in rows.partition_by("pemda", as_dict=True).items()}


def read_ledger_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.ComputeError) as error:
        raise StatementError(path, 0, f"not a readable Parquet file: {error}") from None
    return normalise(validate_ledger(frame, str(path)))


def scan_ledger_parquet(path: Path) -> tuple[pl.LazyFrame, int]:
    """``read_ledger_parquet`` without holding the file: the schema and every value rule checked
    (the same errors, the same row) by reading only the columns the rules name; the lines,
    normalised, as a lazy frame for the caller to stream; and how many lines the file has."""
    try:
        scan = pl.scan_parquet(path)
        check_ledger(scan, str(path))
        lines = int(scan.select(pl.len()).collect().item())
    except (OSError, pl.exceptions.ComputeError) as error:
        raise StatementError(path, 0, f"not a readable Parquet file: {error}") from None
    return normalise(scan), lines
