"""The event feed as a read model: what the pemda's other systems may hear, and who listens.

``proj_feed`` has one row per event of a kind a system may subscribe to (``ledger.feed.FEED_KINDS``),
never updated: its log position (the feed's order and the subscriber's cursor), its pemda, the
aggregate, its version, the kind, when (UTC ISO text) and its **public data** (``detail``, JSON).
The public data is chosen field by field (``PUBLIC``): amounts, codes, numbers of documents, ids,
a vendor's name and kind, a payment's purpose; never a bank account, an NPWP, a person's identity
number, a payer, an actor or a reason (free text that may name a person). With encryption at rest
the JSON is sealed like every other detail (``projections.sealing``).

``proj_feed_subscription`` has one row per subscription (``ledger.feed.FeedSubscription``): its
name, URL, kinds, state, rotation counter, who made it and when, who changed it last.

Delivery state (``feed_cursor``, ``feed_delivery``, ``feed_lease``, ``feed_action``: ``feed/``) is
created here with the read models, so it exists wherever they do, but it is not one of this model's
``tables``: a rebuild drops and re-projects ``proj_feed`` with the very same positions, and leaves
every subscriber's cursor, attempts and dead letters as they were.
"""

from __future__ import annotations

import json
import logging
from operator import itemgetter
from typing import Any

from ledger.feed import FEED_KINDS
from projections.db import Cursor
from projections.model import ReadModel, RowChanges, compact_json, insert_values
from projections.sealing import Sealer
from projections.source import Fact

log = logging.getLogger(__name__)
_PEMDA = itemgetter(1)  # of a pending row (``COLUMNS``)

_MONEY_OF_LINE = ("disbursement_id", "amount")
_PAYMENT = ("line_id", "vendor_id", "gross", "net", "deductions")
# The public fields of each kind (everything else in the event stays out of the feed).
PUBLIC: dict[str, tuple[str, ...]] = {
    "Budget.Adopted": ("pemda", "year", "document", "total_pagu"),
    "Budget.YearClosed": (
        "pemda",
        "year",
        "document",
        "next_year",
        "pendapatan",
        "penerimaan_pembiayaan",
        "belanja",
        "pengeluaran_pembiayaan",
        "silpa",
        "lapsed",
        "lapsed_amount",
        "carried",
        "carried_amount",
    ),
    "BudgetLine.Allocated": (
        "pemda",
        "year",
        "skpd",
        "sub_kegiatan",
        "rekening",
        "uraian",
        "pagu",
        "document",
    ),
    "BudgetLine.Amended": ("delta", "pagu", "document"),
    "BudgetLine.ShiftedOut": ("amount", "to_line_id", "document"),
    "BudgetLine.ShiftedIn": ("amount", "from_line_id", "document"),
    "BudgetLine.Blocked": (),
    "BudgetLine.Unblocked": (),
    "BudgetLine.Committed": _MONEY_OF_LINE,
    "BudgetLine.CommitmentReleased": _MONEY_OF_LINE,
    "BudgetLine.Realised": _MONEY_OF_LINE,
    "BudgetLine.RealisationReversed": _MONEY_OF_LINE,
    "Vendor.Registered": ("pemda", "name", "kind"),
    "Vendor.Deactivated": (),
    "Vendor.Reactivated": (),
    "Disbursement.Requested": ("pemda", "year", "spp_number", *_PAYMENT, "description"),
    "Disbursement.Verified": (),
    "Disbursement.Approved": ("spm_number",),
    "Disbursement.Authorised": ("sp2d_number", *_PAYMENT),
    "Disbursement.Sent": ("gateway", "vendor_id", "amount"),
    "Disbursement.Settled": ("vendor_id", "amount"),
    "Disbursement.Failed": ("vendor_id", "amount"),
    "Disbursement.Returned": ("vendor_id", "amount"),
    "Disbursement.Reissued": ("reissue", "pemda", "year", "spp_number"),
    "Disbursement.TransferRejected": ("gateway",),
    "Disbursement.Rejected": ("step",),
    "Disbursement.Cancelled": ("previous_status", *_PAYMENT),
    "Disbursement.Lapsed": ("previous_status", "document", "carried_to", *_PAYMENT),
    "Revenue.Received": ("pemda", "year", "line_id", "channel", "gross", "fee", "net"),
    "Revenue.Reversed": ("line_id", "gross", "fee", "net"),
}
assert tuple(PUBLIC) == FEED_KINDS, "every kind of the feed has its public fields, in order"

_PEMDAS = 100_000  # aggregates whose pemda is remembered between batches
# A pending row of ``proj_feed``'s values, in this order (``insert_values``); the pemda second.
COLUMNS = ("position", "pemda", "aggregate_id", "version", "kind", "at", "detail")

# The dispatcher's state (``feed.delivery``): created with the read models, never dropped by them.
DELIVERY_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS feed_cursor ("
    " subscription_id TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS feed_delivery ("
    " subscription_id TEXT NOT NULL, position BIGINT NOT NULL, aggregate_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_at DOUBLE PRECISION NOT NULL, last_error TEXT, last_attempt_at TEXT, dead_at TEXT,"
    " PRIMARY KEY (subscription_id, position))",
    "CREATE INDEX IF NOT EXISTS feed_delivery_aggregate"
    " ON feed_delivery (subscription_id, aggregate_id, position)",
    "CREATE TABLE IF NOT EXISTS feed_lease ("
    " name TEXT PRIMARY KEY, holder TEXT NOT NULL, until DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS feed_action ("
    " subscription_id TEXT NOT NULL, at TEXT NOT NULL, actor_id TEXT NOT NULL,"
    " action TEXT NOT NULL, detail TEXT NOT NULL)",
]


def public_data(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The public part of an event of ``kind`` (a kind of the feed)."""
    return {field: body[field] for field in PUBLIC[kind] if field in body}


class FeedModel(ReadModel):
    name = "feed"
    tables = ("proj_feed", "proj_feed_subscription")
    kinds = frozenset(
        {"Budget", "BudgetLine", "Vendor", "Disbursement", "Revenue", "FeedSubscription"}
    )

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.pending: list[tuple[Any, ...]] = []  # values in the order of COLUMNS
        self.subscriptions = RowChanges("proj_feed_subscription", "subscription_id")
        self._pemdas: dict[str, str] = {}  # aggregate id -> pemda, from first events

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_feed ("
            " position BIGINT PRIMARY KEY, pemda TEXT NOT NULL, aggregate_id TEXT NOT NULL,"
            " version INTEGER NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL,"
            " detail TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_feed_pemda ON proj_feed (pemda, position)",
            "CREATE TABLE IF NOT EXISTS proj_feed_subscription ("
            " subscription_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, name TEXT NOT NULL,"
            " url TEXT NOT NULL, kinds TEXT NOT NULL, state TEXT NOT NULL,"
            " rotation INTEGER NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,"
            " changed_at TEXT NOT NULL, changed_by TEXT NOT NULL, version INTEGER NOT NULL,"
            " position BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_feed_subscription_pemda"
            " ON proj_feed_subscription (pemda, position)",
            *DELIVERY_SCHEMA,
        ]

    def apply(self, fact: Fact) -> None:
        if fact.name.startswith("FeedSubscription."):
            self._subscription(fact)
            return
        body = fact.body
        pemda = body.get("pemda")
        if fact.version == 1 and isinstance(pemda, str):
            if len(self._pemdas) >= _PEMDAS:
                self._pemdas.clear()
            self._pemdas[fact.aggregate_id] = pemda
        fields = PUBLIC.get(fact.name)
        if fields is None:
            return
        self.pending.append(
            (
                fact.position,
                # An aggregate's pemda is said by its first event, which comes before any other:
                # known here if that event was folded lately, else found at flush (proj_owner).
                self._pemdas.get(fact.aggregate_id),
                fact.aggregate_id,
                fact.version,
                fact.name,
                fact.stamp,
                self.sealer.seal(
                    compact_json({field: body[field] for field in fields if field in body})
                ),
            )
        )

    def _subscription(self, fact: Fact) -> None:
        b, key = fact.body, fact.aggregate_id
        changed = {"changed_at": fact.stamp, "changed_by": b["actor_id"], "version": fact.version}
        event = fact.name.partition(".")[2]
        if event == "Created":
            self.subscriptions.insert(
                key,
                {
                    "subscription_id": key,
                    "pemda": b["pemda"],
                    "name": b["name"],
                    "url": b["url"],
                    "kinds": json.dumps(b["kinds"]),
                    "state": "active",
                    "rotation": 0,
                    "created_at": fact.stamp,
                    "created_by": b["actor_id"],
                    "position": fact.position,
                    **changed,
                },
            )
        elif event == "KindsChanged":
            self.subscriptions.set(key, kinds=json.dumps(b["kinds"]), **changed)
        elif event == "SecretRotated":
            self.subscriptions.set(key, rotation=b["rotation"], **changed)
        else:
            state = {"Paused": "paused", "Resumed": "active", "Deleted": "deleted"}[event]
            self.subscriptions.set(key, state=state, **changed)

    def flush(self, cursor: Cursor) -> None:
        rows = self.pending
        if None in map(_PEMDA, rows):
            found = self._look_up_pemdas(cursor, sorted({r[2] for r in rows if r[1] is None}))
            known = []
            for row in rows:
                if row[1] is not None:
                    known.append(row)
                elif (pemda := found.get(row[2])) is not None:
                    known.append((row[0], pemda, *row[2:]))
                else:  # an aggregate kasda never saw begin: in no feed
                    log.warning("feed: no pemda for %s at %d", row[2], row[0])
            rows = known
        insert_values(cursor, "proj_feed", COLUMNS, rows)
        self.subscriptions.flush(cursor)
        self.discard()

    def _look_up_pemdas(self, cursor: Cursor, unknown: list[str]) -> dict[str, str]:
        """The pemda of aggregates whose first event was not folded lately (``proj_owner``)."""
        looked_up: dict[str, str] = {}
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            marks = cursor.db.placeholders(len(chunk))
            found = cursor.fetchall(
                f"SELECT aggregate_id, pemda FROM proj_owner WHERE aggregate_id IN ({marks})",  # noqa: S608
                chunk,
            )
            looked_up.update({str(a): str(p) for a, p in found})
        if len(self._pemdas) + len(looked_up) >= _PEMDAS:
            self._pemdas.clear()
        self._pemdas.update(looked_up)
        return looked_up

    def discard(self) -> None:
        self.pending.clear()
        self.subscriptions.clear()
