"""Approval queues: what waits for which role, oldest first.

A disbursement waits in exactly one queue while it is open, and in none once it is settled,
returned, rejected or cancelled:

    requested  -> PPK verifies                  verified -> PA/KPA approves (SPM)
    approved   -> Kuasa BUD authorises (SP2D)   authorised -> the gateway sends the transfer
    sent       -> the gateway confirms it       failed -> Kuasa BUD decides: resend or cancel

A transfer the gateway refused before sending (``TransferRejected``) leaves the status as it was
(authorised or failed), so the disbursement stays in its queue, since the same moment. A returned
transfer paid again (``Reissued``) is authorised again: back in the gateway's queue.

The bendahara's advance orders (SPP-UP/GU/TU/GU nihil, ``ledger.advance.AdvanceOrder``) wait in the
same queues for the same hands (``kind`` is their mechanism, ``ls`` for a payment; their SKPD is
on the row, they have no line or vendor): PPK verifies, PA/KPA approves, Kuasa BUD authorises, and
the bank's confirmation of an UP/GU/TU transfer settles it. A GU nihil is done at its SP2D.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.roles import Role
from projections.db import Cursor
from projections.model import ReadModel, RowChanges
from projections.source import Fact

WAITING_FOR: dict[str, tuple[Role, str]] = {
    "requested": (Role.PPK, "verify"),
    "verified": (Role.PA_KPA, "approve"),
    "approved": (Role.KUASA_BUD, "authorise"),
    "authorised": (Role.GATEWAY, "send"),
    "sent": (Role.GATEWAY, "settle"),
    "failed": (Role.KUASA_BUD, "resend or cancel"),
}

# Where an advance order waits, by status (settled, rejected, cancelled: nowhere).
ADVANCE_WAITING_FOR: dict[str, tuple[Role, str]] = {
    "requested": (Role.PPK, "verify"),
    "verified": (Role.PA_KPA, "approve"),
    "approved": (Role.KUASA_BUD, "authorise"),
    "authorised": (Role.GATEWAY, "settle"),
}

# Disbursement events that change no status: the disbursement waits where it waited.
_STATUS_UNCHANGED = frozenset({"Disbursement.TransferRejected"})


class QueueModel(ReadModel):
    name = "queues"
    tables = ("proj_queue",)
    kinds = frozenset({"Disbursement", "AdvanceOrder"})

    def __init__(self) -> None:
        self.items = RowChanges("proj_queue", "disbursement_id")
        self.leaving: set[str] = set()

    def schema(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS proj_queue ("
            " disbursement_id TEXT PRIMARY KEY, pemda TEXT NOT NULL, year INTEGER NOT NULL,"
            " line_id TEXT, vendor_id TEXT, spp_number TEXT NOT NULL,"
            " kind TEXT NOT NULL, skpd TEXT,"
            " gross BIGINT NOT NULL, status TEXT NOT NULL, role TEXT NOT NULL,"
            " step TEXT NOT NULL, since TEXT NOT NULL, requested_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS proj_queue_role ON proj_queue (pemda, role, since)",
        ]

    def apply(self, fact: Fact) -> None:
        if fact.name.startswith("AdvanceOrder."):
            self._advance_order(fact)
            return
        if not fact.name.startswith("Disbursement.") or fact.name in _STATUS_UNCHANGED:
            return
        key, at = fact.aggregate_id, fact.stamp
        status = fact.name.split(".")[1].lower()
        if fact.name == "Disbursement.Reissued":
            status = "authorised"
        waiting = WAITING_FOR.get(status)
        if fact.name in ("Disbursement.Requested", "Disbursement.Reissued"):
            b = fact.body
            role, step = WAITING_FOR[status]
            requested = at if status == "requested" else _moment(b["requested_at"])
            self.items.insert(
                key,
                {
                    "disbursement_id": key,
                    "pemda": b["pemda"],
                    "year": b["year"],
                    "line_id": b["line_id"],
                    "vendor_id": b["vendor_id"],
                    "spp_number": b["spp_number"],
                    "kind": "ls",
                    "skpd": None,
                    "gross": b["gross"],
                    "status": status,
                    "role": role.value,
                    "step": step,
                    "since": at,
                    "requested_at": requested,
                },
            )
        elif waiting is None:  # settled, returned, rejected, cancelled: out of every queue
            self._leave(key)
        else:
            role, step = waiting
            self.items.set(key, status=status, role=role.value, step=step, since=at)

    def _leave(self, key: str) -> None:
        self.items.new.pop(key, None)
        self.items.sets.pop(key, None)
        self.leaving.add(key)

    def _advance_order(self, fact: Fact) -> None:
        key, at, b = fact.aggregate_id, fact.stamp, fact.body
        status = fact.name.split(".")[1].lower()
        if status == "authorised" and b["mechanism"] == "gu_nihil":
            status = "settled"  # moves no money: done at its SP2D
        waiting = ADVANCE_WAITING_FOR.get(status)
        if waiting is None:
            self._leave(key)
            return
        role, step = waiting
        if status == "requested":
            self.items.insert(
                key,
                {
                    "disbursement_id": key,
                    "pemda": b["pemda"],
                    "year": b["year"],
                    "line_id": None,
                    "vendor_id": None,
                    "spp_number": b["spp_number"],
                    "kind": b["mechanism"],
                    "skpd": b["skpd"],
                    "gross": b["amount"],
                    "status": status,
                    "role": role.value,
                    "step": step,
                    "since": at,
                    "requested_at": at,
                },
            )
        else:
            self.items.set(key, status=status, role=role.value, step=step, since=at)

    def flush(self, cursor: Cursor) -> None:
        # Leave first: a row that left is updated again in the same batch only once it is back
        # (a returned transfer paid again: inserted anew after this delete), and a row inserted
        # in this batch was dropped in ``apply``.
        if self.leaving and cursor.db.kind == "postgres":
            cursor.execute(
                "DELETE FROM proj_queue WHERE disbursement_id = ANY(?)", (list(self.leaving),)
            )
        else:
            cursor.executemany(
                "DELETE FROM proj_queue WHERE disbursement_id = ?", [(k,) for k in self.leaving]
            )
        self.leaving.clear()
        self.items.flush(cursor)

    def discard(self) -> None:
        self.items.clear()
        self.leaving.clear()


def _moment(stored: dict[str, str]) -> str:
    """A datetime an event carries (the library's transcoding), as sortable UTC text."""
    at = datetime.fromisoformat(stored["_data_"])
    return at.astimezone(UTC).isoformat(timespec="microseconds")
