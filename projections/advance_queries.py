"""Reads of the bendahara's advance (``projections.advance``): the advance of an SKPD and year, its
register, SPJ entries, cards, TU and orders; and the frames the KKPD reconciliation takes
(``reconciliation/kkpd.py``'s contract: SPJ by card, cards, the SKPD's UP KKPD, bills paid), so
``kasda reconcile-kkpd`` can read them from the ledger instead of from files.

Cards are keyed as the ledger keys them (``ledger.advance_handlers.card_id``); the KKPD matcher
normalises that form like the bank's own.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import polars as pl

from projections.advance import (
    ADVANCE_COLUMNS,
    CARD_COLUMNS,
    ORDER_COLUMNS,
    REGISTER_COLUMNS,
    SPJ_COLUMNS,
    TU_COLUMNS,
)
from projections.db import Cursor, ReadDatabase

WIB = ZoneInfo("Asia/Jakarta")  # the day a TU is overdue on, where the pemda is

SPJ_STATUSES = ("open", "claimed", "accounted", "withdrawn")
# Keys of an SPJ entry's evidence that hold the card slip's authorisation code.
AUTHORISATION_KEYS = ("otorisasi", "kode_otorisasi", "authorisation")


def _rows(
    cursor: Cursor, columns: tuple[str, ...], sql: str, params: list[Any]
) -> list[dict[str, Any]]:
    found = cursor.fetchall(f"SELECT {', '.join(columns)} {sql}", params)
    return [dict(zip(columns, r, strict=True)) for r in found]


def _where(pemda: str, year: int | None, skpd: str | None) -> tuple[str, list[Any]]:
    where, params = "pemda = ?", list[Any]([pemda])
    if year is not None:
        where, params = f"{where} AND year = ?", [*params, year]
    if skpd is not None:
        where, params = f"{where} AND skpd = ?", [*params, skpd]
    return where, params


# -- the advance -----------------------------------------------------------------------------------
def advances(
    db: ReadDatabase, pemda: str, *, year: int | None = None, skpd: str | None = None
) -> list[dict[str, Any]]:
    """Every advance of ``pemda`` (of ``year``, of ``skpd``), by year and SKPD."""
    where, params = _where(pemda, year, skpd)
    with db.transaction(write=False) as cursor:
        rows = _rows(
            cursor, ADVANCE_COLUMNS, f"FROM proj_advance WHERE {where} ORDER BY year, skpd", params
        )
    return [_shown(r) for r in rows]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in row.items() if k != "pending_up"}
    shown["cash_ceiling"] = row["ceiling"] - row["kkpd_ceiling"]
    return shown


def advance(db: ReadDatabase, pemda: str, year: int, skpd: str) -> dict[str, Any] | None:
    found = advances(db, pemda, year=year, skpd=skpd)
    return found[0] if found else None


def register(
    db: ReadDatabase, advance_id: str, *, limit: int = 1000, offset: int = 0
) -> list[dict[str, Any]]:
    """The advance's register (BKU): every movement in order, with the cash balance after it."""
    with db.transaction(write=False) as cursor:
        return _rows(
            cursor,
            REGISTER_COLUMNS,
            "FROM proj_advance_register WHERE advance_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            [advance_id, limit, offset],
        )


def spj_entries(
    db: ReadDatabase, advance_id: str, *, status: str | None = None
) -> list[dict[str, Any]]:
    """The advance's SPJ entries (of ``status``), in the order they were recorded."""
    sql, params = "FROM proj_spj WHERE advance_id = ?", [advance_id]
    if status is not None:
        sql, params = f"{sql} AND status = ?", [*params, status]
    with db.transaction(write=False) as cursor:
        rows = _rows(cursor, SPJ_COLUMNS, f"{sql} ORDER BY position, number", params)
    return [r | {"evidence": orjson.loads(r["evidence"])} for r in rows]


def cards(db: ReadDatabase, advance_id: str) -> list[dict[str, Any]]:
    with db.transaction(write=False) as cursor:
        return _rows(
            cursor, CARD_COLUMNS, "FROM proj_card WHERE advance_id = ? ORDER BY card", [advance_id]
        )


def tus(db: ReadDatabase, advance_id: str, today: date) -> list[dict[str, Any]]:
    """The advance's TU; ``overdue``: past its deadline with money still unaccounted."""
    with db.transaction(write=False) as cursor:
        rows = _rows(
            cursor, TU_COLUMNS, "FROM proj_tu WHERE advance_id = ? ORDER BY number", [advance_id]
        )
    return [
        r
        | {
            "closed": bool(r["closed"]),
            "left": r["given"] - r["spent"] - r["returned"],
            "overdue": bool(r["given"]) and not r["closed"] and r["deadline"] < today.isoformat(),
        }
        for r in rows
    ]


def _order_shown(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"spj_numbers": orjson.loads(row["spj_numbers"])}


def orders(
    db: ReadDatabase,
    pemda: str,
    *,
    year: int | None = None,
    skpd: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Advance orders (SPP-UP/GU/TU/GU nihil) of ``pemda``, oldest first."""
    where, params = _where(pemda, year, skpd)
    if status is not None:
        where, params = f"{where} AND status = ?", [*params, status]
    with db.transaction(write=False) as cursor:
        rows = _rows(
            cursor,
            ORDER_COLUMNS,
            f"FROM proj_advance_order WHERE {where} ORDER BY position",
            params,
        )
    return [_order_shown(r) for r in rows]


def order(db: ReadDatabase, pemda: str, order_id: str) -> dict[str, Any] | None:
    with db.transaction(write=False) as cursor:
        rows = _rows(
            cursor,
            ORDER_COLUMNS,
            "FROM proj_advance_order WHERE pemda = ? AND order_id = ?",
            [pemda, order_id],
        )
    return _order_shown(rows[0]) if rows else None


# -- the KKPD reconciliation's frames --------------------------------------------------------------
KKPD_SPJ = pl.Schema(
    {
        "spj_id": pl.String,
        "skpd": pl.String,
        "card": pl.String,
        "spent_on": pl.Date,
        "amount": pl.Int64,
        "merchant": pl.String,
        "reference": pl.String,
        "line_id": pl.String,
    }
)
KKPD_CARDS = pl.Schema({"card": pl.String, "skpd": pl.String, "limit": pl.Int64})
KKPD_SKPD_LIMITS = pl.Schema({"skpd": pl.String, "limit": pl.Int64})
KKPD_BILL_PAYMENTS = pl.Schema(
    {"payment_id": pl.String, "card": pl.String, "paid_on": pl.Date, "amount": pl.Int64}
)


def _authorisation(evidence: str) -> str | None:
    found = orjson.loads(evidence)
    for key in AUTHORISATION_KEYS:
        if found.get(key):
            return str(found[key]).strip().upper()
    return None


def kkpd_spj(db: ReadDatabase, pemda: str, year: int) -> pl.DataFrame:
    """Every card purchase the bendahara of each SKPD accounted for (SPJ by KKPD, not withdrawn);
    ``spj_id`` is ``<skpd>/<SPJ number>`` (an SPJ number is unique within its SKPD's year)."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT a.skpd, s.number, s.card, s.spent_on, s.amount, s.merchant, s.evidence,"
            " s.line_id FROM proj_spj s JOIN proj_advance a ON a.advance_id = s.advance_id"
            " WHERE a.pemda = ? AND a.year = ? AND s.channel = 'kkpd' AND s.status <> 'withdrawn'"
            " ORDER BY a.skpd, s.position",
            (pemda, year),
        )
    data = [
        (
            f"{skpd}/{number}",
            skpd,
            card,
            date.fromisoformat(on),
            amount,
            merchant,
            _authorisation(evidence),
            line,
        )
        for skpd, number, card, on, amount, merchant, evidence, line in rows
    ]
    return pl.DataFrame(data, schema=KKPD_SPJ, orient="row")


def kkpd_cards(db: ReadDatabase, pemda: str, year: int) -> pl.DataFrame:
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT c.card, a.skpd, c.card_limit FROM proj_card c"
            " JOIN proj_advance a ON a.advance_id = c.advance_id"
            " WHERE a.pemda = ? AND a.year = ? ORDER BY a.skpd, c.card",
            (pemda, year),
        )
    return pl.DataFrame(rows, schema=KKPD_CARDS, orient="row")


def kkpd_skpd_limits(db: ReadDatabase, pemda: str, year: int) -> pl.DataFrame:
    """The UP KKPD of each SKPD that has one."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT skpd, kkpd_ceiling FROM proj_advance"
            " WHERE pemda = ? AND year = ? AND kkpd_ceiling > 0 ORDER BY skpd",
            (pemda, year),
        )
    return pl.DataFrame(rows, schema=KKPD_SKPD_LIMITS, orient="row")


def kkpd_bill_payments(db: ReadDatabase, pemda: str, year: int) -> pl.DataFrame:
    """The card bills the bendahara paid from the UP; ``payment_id`` is ``<skpd>/<reference>``."""
    with db.transaction(write=False) as cursor:
        rows = cursor.fetchall(
            "SELECT a.skpd, r.reference, r.seq, r.card, r.day, r.amount"
            " FROM proj_advance_register r JOIN proj_advance a ON a.advance_id = r.advance_id"
            " WHERE a.pemda = ? AND a.year = ? AND r.kind = 'card_bill' ORDER BY a.skpd, r.seq",
            (pemda, year),
        )
    data = [
        (f"{skpd}/{reference}#{seq}", card, date.fromisoformat(day), amount)
        for skpd, reference, seq, card, day, amount in rows
    ]
    return pl.DataFrame(data, schema=KKPD_BILL_PAYMENTS, orient="row")
