"""The history as Polars frames: what every rule reads.

``load`` reads one pemda's read models (``projections``) as of a day into ``Frames``; tests and
benchmarks build ``Frames`` directly from frames of the same schemas. Moments are UTC
(``Datetime("us", "UTC")``); a rule that needs the pemda's calendar converts with ``timezone``.
Nothing sealed leaves this module in clear except what a rule compares: a bank account is a keyed
digest (``account_key``, equal accounts equal keys) and a hint (bank code and last four digits).

Schemas (every frame may be empty, never missing a column):
- ``payments``: one row a disbursement (``PAYMENTS``).
- ``steps``: one row an event of a disbursement, with its version and log position (``STEPS``).
- ``vendors``: one row a vendor (``VENDORS``).
- ``accounts``: one row a bank account a vendor had, from its registration or a change (``ACCOUNTS``).
- ``exceptions``: one row an exception of a recorded reconciliation run (``EXCEPTIONS``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from audit.flags import schema
from projections.db import ReadDatabase

UTC_TIME = pl.Datetime("us", "UTC")
PAYMENTS = schema(
    {
        "disbursement_id": pl.String, "pemda": pl.String, "year": pl.Int64,
        "spp_number": pl.String, "sp2d_number": pl.String, "line_id": pl.String,
        "skpd": pl.String, "sub_kegiatan": pl.String, "rekening": pl.String,
        "vendor_id": pl.String, "gross": pl.Int64, "status": pl.String,
        "invoice": pl.String,  # the faktur / invoice number the SPP names, if any
        "contract": pl.String,  # the kontrak (SPK) number, if any
        "requested_at": UTC_TIME, "verified_at": UTC_TIME, "approved_at": UTC_TIME,
        "authorised_at": UTC_TIME, "sent_at": UTC_TIME, "settled_at": UTC_TIME,
    }
)  # fmt: skip
STEPS = schema(
    {
        "disbursement_id": pl.String,
        "event": pl.String,  # Requested, Verified, Approved, Authorised, Sent, Settled, Failed, ...
        "at": UTC_TIME,
        "actor_id": pl.String,
        "actor_role": pl.String,
        "version": pl.Int64,
        "position": pl.Int64,
    }
)
VENDORS = schema(
    {
        "vendor_id": pl.String, "pemda": pl.String, "kind": pl.String,
        "registered_at": UTC_TIME, "version": pl.Int64, "position": pl.Int64,
    }
)  # fmt: skip
ACCOUNTS = schema(
    {
        "vendor_id": pl.String,
        "account_key": pl.String,  # keyed digest of bank code and number: equal accounts, equal keys
        "account_hint": pl.String,  # e.g. "014 ****5678": enough for an explanation, not a payment
        "since": UTC_TIME,
        "event": pl.String,  # Registered or BankAccountChanged
        "version": pl.Int64,
        "position": pl.Int64,
    }
)
EXCEPTIONS = schema(
    {
        "run_id": pl.String, "business_date": pl.Date, "exception_id": pl.String,
        "status": pl.String,  # reconciliation.schema.STATUSES, e.g. unmatched_bank, account_mismatch
        "direction": pl.String,  # D (money out of the RKUD) or C, when the line says
        "ledger_id": pl.String,  # the disbursement the line matched, when it did
        "amount": pl.Int64, "reference": pl.String, "resolution": pl.String,
        "version": pl.Int64, "position": pl.Int64,  # of the run's Recorded event
        "detail": pl.String,  # as recorded: ``key=value`` words (a KKPD line's card, merchant)
    }
)  # fmt: skip
_TEXT = ("spp_number", "sp2d_number", "line_id", "skpd", "sub_kegiatan", "rekening", "vendor_id")
_MOMENTS = ("requested_at", "verified_at", "approved_at", "authorised_at", "sent_at", "settled_at")


@dataclass(frozen=True, slots=True)
class Frames:
    pemda: str
    timezone: str  # the pemda's, e.g. Asia/Jakarta
    as_of: date | None  # the last day the history was read up to (None: everything)
    position: int  # the log position of the last event the frames hold (``last_position``)
    payments: pl.LazyFrame
    steps: pl.LazyFrame
    vendors: pl.LazyFrame
    accounts: pl.LazyFrame
    exceptions: pl.LazyFrame

    def local(self, column: str | pl.Expr) -> pl.Expr:
        """A UTC moment as the pemda's wall-clock time (naive), for days, hours and weekdays."""
        expr = pl.col(column) if isinstance(column, str) else column
        return expr.dt.convert_time_zone(self.timezone).dt.replace_time_zone(None)

    def day(self, column: str | pl.Expr) -> pl.Expr:
        return self.local(column).dt.date()


def empty(pemda: str = "-", timezone: str = "Asia/Jakarta") -> Frames:
    return Frames(
        pemda, timezone, None, 0,
        *(pl.LazyFrame(schema=s) for s in (PAYMENTS, STEPS, VENDORS, ACCOUNTS, EXCEPTIONS)),
    )  # fmt: skip


def account_key(secret: bytes, bank_code: str, number: str) -> str:
    return hmac.new(secret, f"{bank_code}:{number}".encode(), hashlib.sha256).hexdigest()[:32]


def account_hint(bank_code: str, number: str) -> str:
    return f"{bank_code} ****{number[-4:]}"


# -- reading the read models -------------------------------------------------------------------
def _cutoff(as_of: date | None, timezone: str) -> datetime | None:
    if as_of is None:
        return None
    end = datetime.combine(as_of + timedelta(days=1), time(), ZoneInfo(timezone))
    return end.astimezone(UTC)


def _utc(column: str) -> pl.Expr:
    # Cast first: a column no row has set yet (no SP2D sent) is read as nulls of no type.
    return pl.col(column).cast(pl.String).str.to_datetime(time_zone="UTC", time_unit="us")


def _frame(rows: list[Any], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


_PAYMENTS_SQL = (
    "SELECT p.disbursement_id, p.pemda, p.year, p.spp_number, p.sp2d_number, p.line_id, l.skpd,"  # noqa: S608
    " l.sub_kegiatan, l.rekening, p.vendor_id, p.gross, p.status, p.documents, "
    + ", ".join(f"p.{m}" for m in _MOMENTS)
    + " FROM proj_payment p JOIN proj_lra_line l ON l.line_id = p.line_id WHERE p.pemda = ?"
)


def _payments(db: ReadDatabase, pemda: str, vendor_id: str | None) -> pl.LazyFrame:
    columns = ["disbursement_id", "pemda", "year", "spp_number", "sp2d_number", "line_id",
               "skpd", "sub_kegiatan", "rekening", "vendor_id", "gross", "status", "documents",
               *_MOMENTS]  # fmt: skip
    with db.transaction(write=False) as cursor:
        if vendor_id is None:
            rows = cursor.fetchall(_PAYMENTS_SQL, (pemda,))
        else:
            rows = cursor.fetchall(_PAYMENTS_SQL + " AND p.vendor_id = ?", (pemda, vendor_id))
    if db.sealer.on:
        opened = db.sealer.opened(columns, rows)
        rows = [tuple(r.values()) for r in opened]
    frame = (
        _frame(rows, columns) if rows else pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    )
    documents = pl.col("documents").cast(pl.String)
    return frame.lazy().select(
        pl.col("disbursement_id", "pemda").cast(pl.String),
        pl.col("year").cast(pl.Int64),
        pl.col(*_TEXT).cast(pl.String),
        pl.col("gross").cast(pl.Int64),
        pl.col("status").cast(pl.String),
        pl.coalesce(
            documents.str.json_path_match("$.faktur"), documents.str.json_path_match("$.invoice")
        ).alias("invoice"),
        pl.coalesce(
            documents.str.json_path_match("$.kontrak"), documents.str.json_path_match("$.contract")
        ).alias("contract"),
        *(_utc(m).alias(m) for m in _MOMENTS),
    )


# One vendor's part of the history (``load(vendor_id=...)``): its own events, and those of the
# payments to it; both lookups are indexed (proj_history_of, proj_payment_vendor).
_OF_VENDOR = {
    "Vendor": " AND h.aggregate_id = ?",
    "Disbursement": " AND h.aggregate_id IN (SELECT disbursement_id FROM proj_payment"
    " WHERE vendor_id = ?)",
}


def _history(
    db: ReadDatabase, prefix: str, pemda: str, kind: str, vendor_id: str | None = None
) -> list[Any]:
    sql = (
        "SELECT h.aggregate_id, h.event, h.at, h.actor_id, h.actor_role, h.version,"
        " h.position, h.detail FROM proj_history h"
        " JOIN proj_owner o ON o.aggregate_id = h.aggregate_id"
        " WHERE o.pemda = ? AND o.kind = ? AND h.event LIKE ?"
    )
    params: list[Any] = [pemda, kind, prefix + "%"]
    if vendor_id is not None:
        sql += _OF_VENDOR[kind]
        params.append(vendor_id)
    with db.transaction(write=False) as cursor:
        return cursor.fetchall(sql + " ORDER BY h.position", params)


def _steps(db: ReadDatabase, pemda: str, vendor_id: str | None) -> pl.LazyFrame:
    rows = [r[:7] for r in _history(db, "Disbursement.", pemda, "Disbursement", vendor_id)]
    columns = ["disbursement_id", "event", "at", "actor_id", "actor_role", "version", "position"]
    if not rows:
        return pl.LazyFrame(schema=STEPS)
    return (
        _frame(rows, columns)
        .lazy()
        .select(
            pl.col("disbursement_id").cast(pl.String),
            pl.col("event").cast(pl.String).str.strip_prefix("Disbursement."),
            _utc("at").alias("at"),
            pl.col("actor_id", "actor_role").cast(pl.String),
            pl.col("version", "position").cast(pl.Int64),
        )
    )


def _accounts(db: ReadDatabase, pemda: str, secret: bytes, vendor_id: str | None) -> pl.LazyFrame:
    rows: list[dict[str, Any]] = []
    # One row per vendor event that sets an account: vendors are few beside payments, and each
    # detail is sealed on its own, so this loop is over accounts, not over the history.
    for aggregate_id, event, at, _a, _r, version, position, detail in _history(
        db, "Vendor.", pemda, "Vendor", vendor_id
    ):
        body = json.loads(db.sealer.opened(["detail"], [(detail,)])[0]["detail"])
        account = body.get("bank_account") if event == "Vendor.Registered" else body.get("new")
        if not isinstance(account, dict):
            continue
        bank, number = str(account.get("bank_code", "")), str(account.get("number", ""))
        rows.append(
            {
                "vendor_id": aggregate_id, "account_key": account_key(secret, bank, number),
                "account_hint": account_hint(bank, number), "since": at,
                "event": event.removeprefix("Vendor."), "version": version, "position": position,
            }
        )  # fmt: skip
    if not rows:
        return pl.LazyFrame(schema=ACCOUNTS)
    return (
        pl.DataFrame(rows)
        .lazy()
        .with_columns(_utc("since").alias("since"), pl.col("version", "position").cast(pl.Int64))
        .select(list(ACCOUNTS))
    )


def _vendors(db: ReadDatabase, pemda: str, vendor_id: str | None) -> pl.LazyFrame:
    sql = (
        "SELECT v.vendor_id, v.pemda, v.kind, v.registered_at, h.version, h.position"
        " FROM proj_vendor v JOIN proj_history h"
        " ON h.aggregate_id = v.vendor_id AND h.version = 1 WHERE v.pemda = ?"
    )
    with db.transaction(write=False) as cursor:
        if vendor_id is None:
            rows = cursor.fetchall(sql, (pemda,))
        else:
            rows = cursor.fetchall(sql + " AND v.vendor_id = ?", (pemda, vendor_id))
    if not rows:
        return pl.LazyFrame(schema=VENDORS)
    return (
        _frame(rows, list(VENDORS))
        .lazy()
        .select(
            pl.col("vendor_id", "pemda", "kind").cast(pl.String),
            _utc("registered_at").alias("registered_at"),
            pl.col("version", "position").cast(pl.Int64),
        )
    )


def _exceptions(db: ReadDatabase, pemda: str, vendor_id: str | None) -> pl.LazyFrame:
    if vendor_id is not None:
        # The exceptions of reconciliation runs are the RKUD's lines, not a vendor's: one
        # vendor's frames hold none (the live rules of ``audit.service.warnings`` read none).
        return pl.LazyFrame(schema=EXCEPTIONS)
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT e.run_id, r.business_date, e.exception_id, e.status, e.detail, e.amount,"
            " e.reference, e.resolution, r.version, r.position"
            " FROM proj_run_exception e JOIN proj_run r ON r.run_id = e.run_id"
            " WHERE r.pemda = ? ORDER BY r.position, e.ordinal",
            (pemda,),
        )
    columns = ["run_id", "business_date", "exception_id", "status", "detail", "amount",
               "reference", "resolution", "version", "position"]  # fmt: skip
    if not rows:
        return pl.LazyFrame(schema=EXCEPTIONS)
    rows = [tuple(r.values()) for r in db.sealer.opened(columns, rows)]
    detail = pl.col("detail").cast(pl.String)
    return (
        _frame(rows, columns)
        .lazy()
        .select(
            pl.col("run_id").cast(pl.String),
            pl.col("business_date").cast(pl.String).str.to_date(),
            pl.col("exception_id", "status").cast(pl.String),
            detail.str.extract(r"direction=(\w)").alias("direction"),
            detail.str.extract(r"ledger=([0-9a-f-]{36})").alias("ledger_id"),
            pl.col("amount").cast(pl.Int64),
            pl.col("reference", "resolution").cast(pl.String),
            pl.col("version", "position").cast(pl.Int64),
            detail,
        )
    )


def _timezone(db: ReadDatabase) -> str:
    with db.transaction(write=False) as cursor:
        found = cursor.fetchone("SELECT timezone FROM proj_position")
    return str(found[0]) if found is not None else "Asia/Jakarta"


def secret_of(db: ReadDatabase) -> bytes:
    """The key of the account digests in this deployment (derived from the ledger's cipher key)."""
    return db.sealer.key_for(b"kasda audit: bank accounts")


def load(
    db: ReadDatabase,
    pemda: str,
    secret: bytes,
    as_of: date | None = None,
    *,
    vendor_id: str | None = None,
) -> Frames:
    """``pemda``'s history from the read models, up to the end of ``as_of`` (its time zone).

    ``secret`` keys the account digests (the deployment's; any bytes in tests): a flag shows a
    hint of an account, never its number, and two vendors share an account iff their keys agree.
    ``vendor_id`` narrows every query to one vendor: the vendor, its accounts, the payments to it
    and their steps (no reconciliation exceptions), so that the warnings at the moment a payment
    is decided cost that vendor's history, not the pemda's. A rule that compares vendors (a
    shared account) sees only this one in such frames.
    """
    timezone = _timezone(db)
    frames = Frames(
        pemda, timezone, as_of, 0, _payments(db, pemda, vendor_id),
        _steps(db, pemda, vendor_id), _vendors(db, pemda, vendor_id),
        _accounts(db, pemda, secret, vendor_id), _exceptions(db, pemda, vendor_id),
    )  # fmt: skip
    frames = cut(frames, as_of)
    return replace(frames, position=last_position(frames))


def last_position(frames: Frames) -> int:
    """The log position of the last event the frames hold: what a run says it read. Not the read
    models' position, which a recorded run itself moves on."""
    last = (
        pl.concat(
            [
                f.select(pl.col("position").max())
                for f in (frames.steps, frames.vendors, frames.accounts, frames.exceptions)
            ],
        )
        .select(pl.col("position").max().fill_null(0))
        .collect()
    )
    return int(last.item())


def cut(frames: Frames, as_of: date | None) -> Frames:
    """``frames`` as they stood at the end of ``as_of``: later events and what they set, gone."""
    end = _cutoff(as_of, frames.timezone)
    if end is None:
        return frames
    before = pl.lit(end, dtype=UTC_TIME)
    payments = frames.payments.filter(pl.col("requested_at") < before).with_columns(
        pl.when(pl.col(m) < before).then(pl.col(m)).alias(m) for m in _MOMENTS
    )
    return Frames(
        frames.pemda, frames.timezone, as_of, frames.position,
        payments,
        frames.steps.filter(pl.col("at") < before),
        frames.vendors.filter(pl.col("registered_at") < before),
        frames.accounts.filter(pl.col("since") < before),
        frames.exceptions.filter(pl.col("business_date") <= as_of),
    )  # fmt: skip
