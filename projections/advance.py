"""The bendahara's advance as it reads (``ledger.advance``): per SKPD and year its balances, its
BKU-like register, its SPJ entries, cards, TU and orders (SPP-UP/GU/TU/GU nihil).

An advance's facts name only the aggregate (the pemda, year and SKPD are on its first event), and
several of them need what came before (a lapsed claim frees the entries its SPP claimed; an
accounted GU closes them). So this model keeps the facts of a batch and folds them in ``flush``,
over the advance's stored row and its *open* SPJ entries, cards and TU read back in the same
transaction: an accounted or withdrawn entry is never touched again, so it is never read back.

The balances follow ``Advance`` exactly (its docstring gives the identity); the register lists
every movement of the bendahara's money and every SPJ entry, with the cash balance after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger import ids
from projections.db import Cursor
from projections.model import ReadModel, RowChanges, insert_rows
from projections.source import Fact

ADVANCE_COLUMNS = ("advance_id", "pemda", "year", "skpd", "document", "ceiling", "kkpd_ceiling",
                   "tu_ceiling", "bank_code", "account_number", "account_holder", "cash",
                   "entrusted", "accounted", "owed_on_cards", "replenishing", "up_given",
                   "up_requested", "pending_up", "tu_unpaid", "tu_open", "outstanding", "entries",
                   "set_at")  # fmt: skip
SPJ_COLUMNS = ("advance_id", "number", "line_id", "amount", "channel", "card", "tu", "merchant",
               "spent_on", "evidence", "status", "spp_number", "recorded_at", "position")  # fmt: skip
CARD_COLUMNS = ("advance_id", "card", "holder", "card_limit", "owed", "paid", "billed")
TU_COLUMNS = ("advance_id", "number", "amount", "deadline", "given", "spent", "returned", "closed")
REGISTER_COLUMNS = ("advance_id", "seq", "day", "at", "kind", "reference", "channel", "card",
                    "amount", "money_in", "money_out", "balance")  # fmt: skip
ORDER_COLUMNS = ("order_id", "advance_id", "pemda", "year", "skpd", "spp_number", "mechanism",
                 "amount", "tu", "description", "spj_numbers", "status", "spm_number",
                 "sp2d_number", "bank_code", "account_number", "bank_reference", "reason",
                 "requested_by", "verified_by", "approved_by", "authorised_by", "rejected_by",
                 "requested_at", "authorised_at", "settled_at", "position")  # fmt: skip
_MONEY = ("ceiling", "kkpd_ceiling", "tu_ceiling", "cash", "entrusted", "accounted",
          "owed_on_cards", "replenishing", "up_given", "up_requested", "tu_unpaid", "tu_open",
          "outstanding", "entries", "year", "amount", "card_limit", "owed", "paid", "billed",
          "given", "spent", "returned", "closed", "seq", "money_in", "money_out", "balance",
          "position")  # fmt: skip


def _ddl(table: str, columns: tuple[str, ...], key: str) -> str:
    types = ", ".join(f"{c} {'BIGINT' if c in _MONEY else 'TEXT'}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} ({types}, PRIMARY KEY ({key}))"


@dataclass
class Book:
    """One advance while a batch is folded: its row, open entries, cards and TU, what changed."""

    row: dict[str, Any]
    spj: dict[str, dict[str, Any]] = field(default_factory=dict)
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    tu: dict[str, dict[str, Any]] = field(default_factory=dict)
    register: list[dict[str, Any]] = field(default_factory=list)
    touched_spj: set[str] = field(default_factory=set)
    touched_cards: set[str] = field(default_factory=set)
    touched_tu: set[str] = field(default_factory=set)
    dropped_tu: set[str] = field(default_factory=set)
    pending: dict[str, int] = field(default_factory=dict)  # SPP-UP requested, not yet received

    def row_pending(self, spp_number: str) -> int:
        return self.pending.pop(spp_number, 0)

    def add(self, **deltas: int) -> None:
        for column, amount in deltas.items():
            self.row[column] += amount

    def log(self, fact: Fact, kind: str, reference: str, amount: int, cash: int, **kw: Any) -> None:
        """A line of the register: ``cash`` is what it moved in (positive) or out (negative)."""
        self.row["cash"] += cash
        self.row["entries"] += 1
        self.register.append(
            {
                "advance_id": self.row["advance_id"],
                "seq": self.row["entries"],
                "day": fact.day,
                "at": fact.stamp,
                "kind": kind,
                "reference": reference,
                "channel": kw.get("channel"),
                "card": kw.get("card"),
                "amount": amount,
                "money_in": max(cash, 0),
                "money_out": max(-cash, 0),
                "balance": self.row["cash"],
            }
        )

    def card(self, number: str) -> dict[str, Any]:
        self.touched_cards.add(number)
        return self.cards[number]

    def entry(self, number: str) -> dict[str, Any]:
        self.touched_spj.add(number)
        return self.spj[number]

    def a_tu(self, number: str) -> dict[str, Any]:
        self.touched_tu.add(number)
        return self.tu[number]

    def settle_outstanding(self) -> None:
        r = self.row
        r["tu_unpaid"] = sum(t["amount"] for t in self.tu.values() if t["given"] == 0)
        r["tu_open"] = sum(1 for t in self.tu.values() if t["given"] and not t["closed"])
        r["owed_on_cards"] = sum(c["owed"] for c in self.cards.values())
        # As ``Advance.outstanding``: rupiah only (an open TU counts by what it still holds).
        r["outstanding"] = (
            r["entrusted"] + r["owed_on_cards"] + r["replenishing"] + r["up_requested"]
            + r["tu_unpaid"]
        )  # fmt: skip


# -- the facts of the advance, folded --------------------------------------------------------------
def _card_registered(book: Book, fact: Fact) -> None:
    b = fact.body
    book.cards[b["card"]] = {"advance_id": book.row["advance_id"], "card": b["card"],
                             "holder": b["holder"], "card_limit": b["limit"], "owed": 0,
                             "paid": 0, "billed": 0}  # fmt: skip
    book.touched_cards.add(b["card"])


def _spent(book: Book, fact: Fact) -> None:
    b = fact.body
    book.spj[b["number"]] = {
        "advance_id": book.row["advance_id"],
        **{
            k: b[k]
            for k in (
                "number",
                "line_id",
                "amount",
                "channel",
                "card",
                "tu",
                "merchant",
                "spent_on",
            )
        },
        "evidence": orjson.dumps(b["evidence"], option=orjson.OPT_SORT_KEYS).decode(),
        "status": "open",
        "spp_number": None,
        "recorded_at": fact.stamp,
        "position": fact.position,
    }
    book.touched_spj.add(b["number"])
    book.add(accounted=b["amount"])
    if b["channel"] == "kkpd":
        book.card(b["card"])["owed"] += b["amount"]
        book.log(fact, "spj", b["number"], b["amount"], 0, channel="kkpd", card=b["card"])
    else:
        book.log(fact, "spj", b["number"], b["amount"], -b["amount"], channel="tunai")
    if b["tu"] is not None:
        book.a_tu(b["tu"])["spent"] += b["amount"]


def _withdrawn(book: Book, fact: Fact) -> None:
    b = fact.body
    found = book.entry(b["number"])
    found["status"] = "withdrawn"
    book.add(accounted=-b["amount"])
    if found["channel"] == "kkpd":
        book.card(found["card"])["owed"] -= b["amount"]
        book.log(fact, "spj_withdrawn", b["number"], b["amount"], 0, channel="kkpd",
                 card=found["card"])  # fmt: skip
    else:
        book.log(fact, "spj_withdrawn", b["number"], b["amount"], b["amount"], channel="tunai")
    if found["tu"] is not None:
        book.a_tu(found["tu"])["spent"] -= b["amount"]


def _bill_paid(book: Book, fact: Fact) -> None:
    b = fact.body
    card = book.card(b["card"])
    card["owed"] -= b["amount"]
    card["paid"] += b["amount"]
    card["billed"] += b["amount"]
    book.log(fact, "card_bill", b["reference"], b["amount"], -b["amount"], channel="kkpd",
             card=b["card"])  # fmt: skip


def _returned(book: Book, fact: Fact) -> None:
    b = fact.body
    book.add(entrusted=-b["amount"])
    if b["tu"] is not None:
        book.a_tu(b["tu"])["returned"] += b["amount"]
    book.log(fact, "setoran", b["reference"], b["amount"], -b["amount"])


def _up_requested(book: Book, fact: Fact) -> None:
    book.add(up_requested=fact.body["amount"])
    book.pending[fact.body["spp_number"]] = fact.body["amount"]


def _tu_requested(book: Book, fact: Fact) -> None:
    b = fact.body
    book.tu[b["number"]] = {"advance_id": book.row["advance_id"], "number": b["number"],
                            "amount": b["amount"], "deadline": b["deadline"], "given": 0,
                            "spent": 0, "returned": 0, "closed": 0}  # fmt: skip
    book.touched_tu.add(b["number"])


def _by_card(entries: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in entries:
        if entry["channel"] == "kkpd":
            totals[entry["card"]] = totals.get(entry["card"], 0) + entry["amount"]
    return totals


def _claimed(book: Book, fact: Fact) -> None:
    b = fact.body
    entries = [book.entry(n) for n in b["spj_numbers"]]
    for entry in entries:
        entry["status"], entry["spp_number"] = "claimed", b["spp_number"]
    for card, total in _by_card(entries).items():
        book.card(card)["paid"] -= total


def _unclaimed(book: Book, fact: Fact) -> None:
    b = fact.body
    numbers = [n for n, e in book.spj.items() if e["spp_number"] == b["spp_number"]]
    entries = [book.entry(n) for n in numbers]
    for card, total in _by_card(entries).items():
        book.card(card)["paid"] += total
    for entry in entries:
        entry["status"], entry["spp_number"] = "open", None
    if b["mechanism"] == "up":
        book.add(up_requested=-book.row_pending(b["spp_number"]))
    if b["mechanism"] == "tu" and b["spp_number"] in book.tu:
        del book.tu[b["spp_number"]]  # as the aggregate forgets it: never paid, never owed
        book.dropped_tu.add(b["spp_number"])


def _accounted(book: Book, fact: Fact) -> None:
    b = fact.body
    for entry in b["entries"]:
        book.entry(entry["number"])["status"] = "accounted"
    book.add(accounted=-b["amount"])
    if b["mechanism"] == "gu":
        book.add(replenishing=b["amount"])
        kind = "gu_accounted"
    else:
        book.add(entrusted=-b["amount"])
        kind = "gu_nihil"
        if b["tu"] is not None:
            book.a_tu(b["tu"])["closed"] = 1
    book.log(fact, kind, b["spp_number"], b["amount"], 0)


def _received(book: Book, fact: Fact) -> None:
    b = fact.body
    mechanism = b["mechanism"]
    if mechanism == "gu":
        book.add(replenishing=-b["amount"])
    else:
        book.add(entrusted=b["amount"])
    if mechanism == "up":
        book.add(up_given=b["amount"], up_requested=-book.row_pending(b["spp_number"]))
    if mechanism == "tu":
        book.a_tu(b["spp_number"])["given"] = b["amount"]
    book.log(fact, f"{mechanism}_received", b["spp_number"], b["amount"], b["amount"])


_FOLD: dict[str, Callable[[Book, Fact], None]] = {
    "Advance.CardRegistered": _card_registered,
    "Advance.Spent": _spent,
    "Advance.Withdrawn": _withdrawn,
    "Advance.CardBillPaid": _bill_paid,
    "Advance.CashReturned": _returned,
    "Advance.UpRequested": _up_requested,
    "Advance.TuRequested": _tu_requested,
    "Advance.SpjClaimed": _claimed,
    "Advance.ClaimLapsed": _unclaimed,
    "Advance.Accounted": _accounted,
    "Advance.Received": _received,
}


def _set_up(fact: Fact) -> Book:
    b = fact.body
    account = b["account"]
    row: dict[str, Any] = {c: 0 for c in ADVANCE_COLUMNS if c in _MONEY}
    row.update(
        advance_id=fact.aggregate_id,
        pemda=b["pemda"],
        year=b["year"],
        skpd=b["skpd"],
        document=b["document"],
        ceiling=b["ceiling"],
        kkpd_ceiling=b["kkpd_ceiling"],
        tu_ceiling=b["tu_ceiling"],
        bank_code=account["bank_code"],
        account_number=account["number"],
        account_holder=account["holder"],
        pending_up="{}",
        set_at=fact.stamp,
    )
    return Book(row)


# -- the orders ------------------------------------------------------------------------------------
def _order_requested(fact: Fact) -> dict[str, Any]:
    b = fact.body
    row: dict[str, Any] = dict.fromkeys(ORDER_COLUMNS)
    row.update(
        {
            k: b[k]
            for k in (
                "pemda",
                "year",
                "skpd",
                "spp_number",
                "mechanism",
                "amount",
                "tu",
                "description",
            )
        },
        order_id=fact.aggregate_id,
        advance_id=_advance_of(b["pemda"], b["year"], b["skpd"]),
        spj_numbers=orjson.dumps(b["spj_numbers"]).decode(),
        status="requested",
        requested_by=b["actor_id"],
        requested_at=fact.stamp,
        position=fact.position,
    )
    return row


def _advance_of(pemda: str, year: int, skpd: str) -> str:
    return str(ids.advance_id(pemda, year, skpd))


def _order_step(fact: Fact) -> dict[str, Any]:
    """The columns one step of an order sets."""
    b, step = fact.body, fact.name.split(".")[1]
    if step == "Verified":
        return {"status": "verified", "verified_by": b["actor_id"]}
    if step == "Approved":
        return {"status": "approved", "spm_number": b["spm_number"], "approved_by": b["actor_id"]}
    if step == "Authorised":
        return {
            "status": "settled" if b["mechanism"] == "gu_nihil" else "authorised",
            "sp2d_number": b["sp2d_number"],
            "bank_code": b["account"]["bank_code"],
            "account_number": b["account"]["number"],
            "authorised_by": b["actor_id"],
            "authorised_at": fact.stamp,
        }
    if step == "Settled":
        return {
            "status": "settled",
            "bank_reference": b["bank_reference"],
            "settled_at": fact.stamp,
        }
    if step == "Rejected":
        return {"status": "rejected", "reason": b["reason"], "rejected_by": b["actor_id"]}
    return {"status": "cancelled", "reason": b["reason"]}


class AdvanceModel(ReadModel):
    name = "advance"
    tables = ("proj_advance", "proj_advance_register", "proj_spj", "proj_card", "proj_tu",
              "proj_advance_order")  # fmt: skip
    kinds = frozenset({"Advance", "AdvanceOrder"})

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.orders = RowChanges("proj_advance_order", "order_id")

    def schema(self) -> list[str]:
        return [
            _ddl("proj_advance", ADVANCE_COLUMNS, "advance_id"),
            "CREATE INDEX IF NOT EXISTS proj_advance_skpd ON proj_advance (pemda, year, skpd)",
            _ddl("proj_advance_register", REGISTER_COLUMNS, "advance_id, seq"),
            _ddl("proj_spj", SPJ_COLUMNS, "advance_id, number"),
            "CREATE INDEX IF NOT EXISTS proj_spj_status ON proj_spj (advance_id, status)",
            _ddl("proj_card", CARD_COLUMNS, "advance_id, card"),
            _ddl("proj_tu", TU_COLUMNS, "advance_id, number"),
            _ddl("proj_advance_order", ORDER_COLUMNS, "order_id"),
            "CREATE INDEX IF NOT EXISTS proj_advance_order_of ON proj_advance_order"
            " (advance_id, position)",
        ]

    def apply(self, fact: Fact) -> None:
        if fact.name.startswith("Advance."):
            self.facts.append(fact)
        elif fact.name == "AdvanceOrder.Requested":
            self.orders.insert(fact.aggregate_id, _order_requested(fact))
        elif fact.name.startswith("AdvanceOrder."):
            self.orders.set(fact.aggregate_id, **_order_step(fact))

    def flush(self, cursor: Cursor) -> None:
        books = _load(cursor, {f.aggregate_id for f in self.facts if f.name != "Advance.SetUp"})
        for fact in self.facts:
            if fact.name == "Advance.SetUp":
                books[fact.aggregate_id] = _set_up(fact)
            else:
                _FOLD[fact.name](books[fact.aggregate_id], fact)
        for book in books.values():
            book.settle_outstanding()
            book.row["pending_up"] = orjson.dumps(book.pending).decode()
        _store(cursor, list(books.values()))
        self.facts.clear()
        self.orders.flush(cursor)

    def discard(self) -> None:
        self.facts.clear()
        self.orders.clear()


def _select(
    cursor: Cursor, table: str, columns: tuple[str, ...], where: str, ids: list[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found = cursor.fetchall(
            f"SELECT {', '.join(columns)} FROM {table} WHERE advance_id IN ({marks}){where}",  # noqa: S608
            chunk,
        )
        rows += [dict(zip(columns, r, strict=True)) for r in found]
    return rows


def _load(cursor: Cursor, advance_ids: set[str]) -> dict[str, Book]:
    """The stored state of the advances a batch touches (their open entries only)."""
    keys = sorted(advance_ids)
    books: dict[str, Book] = {}
    for row in _select(cursor, "proj_advance", ADVANCE_COLUMNS, "", keys):
        books[row["advance_id"]] = Book(row, pending=orjson.loads(row["pending_up"]))
    open_entries = " AND status IN ('open', 'claimed')"
    for entry in _select(cursor, "proj_spj", SPJ_COLUMNS, open_entries, keys):
        books[entry["advance_id"]].spj[entry["number"]] = entry
    for card in _select(cursor, "proj_card", CARD_COLUMNS, "", keys):
        books[card["advance_id"]].cards[card["card"]] = card
    for tu in _select(cursor, "proj_tu", TU_COLUMNS, "", keys):
        books[tu["advance_id"]].tu[tu["number"]] = tu
    return books


def _upsert(cursor: Cursor, table: str, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(f"{c} = excluded.{c}" for c in rows[0] if c not in keys)
    insert_rows(cursor, table, rows, f"ON CONFLICT ({key}) DO UPDATE SET {updates}")


def _store(cursor: Cursor, books: list[Book]) -> None:
    _upsert(cursor, "proj_advance", [b.row for b in books], "advance_id")
    _upsert(cursor, "proj_spj", [b.spj[n] for b in books for n in sorted(b.touched_spj)],
            "advance_id, number")  # fmt: skip
    _upsert(cursor, "proj_card", [b.cards[n] for b in books for n in sorted(b.touched_cards)],
            "advance_id, card")  # fmt: skip
    _upsert(cursor, "proj_tu",
            [b.tu[n] for b in books for n in sorted(b.touched_tu) if n in b.tu],
            "advance_id, number")  # fmt: skip
    dropped = [(b.row["advance_id"], n) for b in books for n in b.dropped_tu]
    cursor.executemany("DELETE FROM proj_tu WHERE advance_id = ? AND number = ?", dropped)
    insert_rows(cursor, "proj_advance_register", [r for b in books for r in b.register])
