"""The ledger's notification log, read raw and fast for projections.

Projections need a handful of fields from each event, not the library's domain event objects, so the
stored body is decrypted and decompressed with the ledger's own mapper and then parsed with
``orjson.loads`` alone (a C call). Events no read model uses are filtered out in SQL. (Command
receipts and number claims are kept apart from the log since issue 17, ``ledger.chained``; in a log
written before, ``proj_owner`` still reads their pemda.)

A page is a *range* of positions, read together with the log's head in one snapshot. The position
a batch reaches is the end of the range it scanned, not the last event it used, so a range of
events no projection needs still moves the position on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson
from psycopg.rows import tuple_row

from ledger.application import Ledger
from ledger.connections import retrying

ADVANCE_EVENTS = ("SetUp", "CardRegistered", "Spent", "Withdrawn", "CardBillPaid",
                  "CashReturned", "UpRequested", "TuRequested", "SpjClaimed", "ClaimLapsed",
                  "Accounted", "Received")  # fmt: skip
ADVANCE_ORDER_EVENTS = ("Requested", "Verified", "Approved", "Authorised", "Settled", "Rejected",
                        "Cancelled")  # fmt: skip
FEED_SUBSCRIPTION_EVENTS = ("Created", "KindsChanged", "Paused", "Resumed", "SecretRotated",
                            "Deleted")  # fmt: skip

# Every event a read model uses, by the aggregate's class name and the event's name.
PROJECTED = frozenset(
    {
        "BudgetLine.Allocated",
        "BudgetLine.Amended",
        "BudgetLine.ShiftedOut",
        "BudgetLine.ShiftedIn",
        "BudgetLine.Blocked",
        "BudgetLine.Unblocked",
        "BudgetLine.Committed",
        "BudgetLine.CommitmentReleased",
        "BudgetLine.Realised",
        "BudgetLine.RealisationReversed",
        "BudgetLine.CarriedOver",
        "BudgetLine.SilpaReceived",
        "Vendor.Registered",
        "Vendor.BankAccountChanged",
        "Vendor.Deactivated",
        "Vendor.Reactivated",
        "Disbursement.Requested",
        "Disbursement.Verified",
        "Disbursement.Approved",
        "Disbursement.Authorised",
        "Disbursement.Sent",
        "Disbursement.Settled",
        "Disbursement.Failed",
        "Disbursement.Returned",
        "Disbursement.Reissued",
        "Disbursement.TransferRejected",
        "Disbursement.Rejected",
        "Disbursement.Cancelled",
        "Disbursement.Lapsed",
        "Revenue.Received",
        "Revenue.Reversed",
        "ReconciliationRun.Recorded",
        "ReconciliationRun.ExceptionResolved",
        "RedFlagRun.Recorded",
        "RedFlag.Raised",
        "RedFlag.Reviewed",
        # Anggaran kas and SPD (projections.cashplan).
        "CashPlan.Adopted",
        "CashPlan.Amended",
        "CashPlan.SpdIssued",
        "CashPlan.Charged",
        "CashPlan.ChargeReleased",
        "CashPlan.ChargeRealised",
        "CashPlan.ChargeReversed",
        # The bendahara's advance and its orders (projections.advance, queues, cash).
        *(f"Advance.{e}" for e in ADVANCE_EVENTS),
        *(f"AdvanceOrder.{e}" for e in ADVANCE_ORDER_EVENTS),
        # The event feed's subscriptions (projections.feed).
        *(f"FeedSubscription.{e}" for e in FEED_SUBSCRIPTION_EVENTS),
        # The first event of the aggregates no other model reads: their pemda (projections.owners).
        "Budget.Adopted",
        "Budget.YearClosed",
        "CommandReceipt.Recorded",
        "DocumentNumber.Claimed",
    }
)
_MODULES = {
    "Budget": "ledger.budget",
    "BudgetLine": "ledger.budget",
    "Vendor": "ledger.vendor",
    "Disbursement": "ledger.disbursement",
    "Revenue": "ledger.revenue",
    "ReconciliationRun": "ledger.reconciliation",
    "RedFlagRun": "ledger.redflags",
    "RedFlag": "ledger.redflags",
    "CashPlan": "ledger.cashplan",
    "CommandReceipt": "ledger.receipts",
    "Advance": "ledger.advance",
    "AdvanceOrder": "ledger.advance",
    "DocumentNumber": "ledger.receipts",
    "FeedSubscription": "ledger.feed",
}
TOPICS = tuple(sorted(f"{_MODULES[name.split('.')[0]]}:{name}" for name in PROJECTED))


class Fact(NamedTuple):
    """One projected event: where it is in the log, whose it is, what it says, and when.

    A named tuple, not a frozen dataclass: as immutable, and made in a third of the time (one
    is made per event of a rebuild)."""

    position: int
    aggregate_id: str  # the originator's UUID as text
    version: int
    name: str  # "Disbursement.Settled"
    body: dict[str, Any]  # the stored JSON, amounts as int
    at: datetime  # the ledger clock's stamp
    day: str  # ``at`` as a calendar date where the pemda is, ISO ``YYYY-MM-DD``
    stamp: str  # ``at`` as sortable text: UTC, ISO 8601, microseconds


@dataclass(frozen=True, slots=True)
class Page:
    facts: list[Fact]
    upto: int  # every position <= upto has now been read
    head: int  # the log's last position when this page was read


class EventSource:
    def __init__(self, ledger: Ledger, timezone: str) -> None:
        self.ledger = ledger
        self.zone = ZoneInfo(timezone)
        module = ledger.env.get("PERSISTENCE_MODULE", "")
        self.kind = (
            "postgres"
            if module.endswith("postgres")
            else "sqlite"
            if module.endswith("sqlite")
            else "memory"
        )
        self._cipher = ledger.mapper.cipher
        self._compressor = ledger.mapper.compressor
        self._moments: dict[str, tuple[datetime, str, str]] = {}
        self._ids: dict[Any, str] = {}  # an aggregate's events come in runs: format its id once
        self._names: dict[str, str] = {}  # topic -> event name ("Disbursement.Settled")

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def page(self, after: int, size: int) -> Page:
        # A pooled connection the server dropped fails at once: read again on a new one.
        rows, head = retrying(lambda: self._read(after, size))
        upto = min(after + size, head)
        return Page([self._fact(row) for row in rows], max(upto, after), head)

    def events_table(self) -> str:
        recorder: Any = self.ledger.recorder
        return f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'

    # -- reading ----------------------------------------------------------------------------------
    def _read(self, after: int, size: int) -> tuple[list[tuple[Any, ...]], int]:
        recorder: Any = self.ledger.recorder
        if self.kind == "memory":
            head = self.head()
            found = recorder.select_notifications(
                start=after + 1, limit=size, stop=after + size, topics=TOPICS
            )
            return [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                    for n in found], head  # fmt: skip
        table = recorder.events_table_name
        marks = ",".join("?" * len(TOPICS))
        if self.kind == "sqlite":
            statement = (
                "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
                f"FROM {table} WHERE rowid > ? AND rowid <= ? AND topic IN ({marks}) "
                "ORDER BY rowid"
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                # One read transaction: the head and the range come from the same snapshot.
                cursor.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}")  # noqa: S608
                head = int(cursor.fetchone()[0])
                upto = min(after + size, head)
                cursor.execute(statement, (after, upto, *TOPICS))
                return [tuple(r) for r in cursor.fetchall()], head
        qualified = self.events_table()
        # The id as text from the server: psycopg makes a ``uuid.UUID`` of each binary uuid in
        # Python (about 0.45 µs a row, a tenth of the decoding); the text is what ``str`` of
        # it gives, and a ``str`` comes out of the driver in C.
        statement = (
            "SELECT notification_id, originator_id::text, originator_version, topic, state "  # noqa: S608
            f"FROM {qualified} WHERE notification_id > %s AND notification_id <= %s "
            "AND topic = ANY(%s) ORDER BY notification_id"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.row_factory = tuple_row
            # The library serialises inserts with a table lock, so ids commit in order: every
            # id up to the head seen here is either committed or rolled back for good.
            cursor.execute(f"SELECT COALESCE(MAX(notification_id), 0) FROM {qualified}")  # noqa: S608
            head = int(cursor.fetchone()[0])
            upto = min(after + size, head)
            cursor.execute(statement, (after, upto, list(TOPICS)), binary=True)
            return [tuple(r) for r in cursor.fetchall()], head

    # -- decoding ---------------------------------------------------------------------------------
    def _fact(self, row: tuple[Any, ...]) -> Fact:
        position, originator_id, version, topic, state = row
        data = bytes(state)
        if self._cipher is not None:
            data = self._cipher.decrypt(data)
        if self._compressor is not None:
            data = self._compressor.decompress(data)
        body = orjson.loads(data)
        at, day, stamp = self._moment(body["at"]["_data_"])
        name = self._names.get(topic)
        if name is None:
            name = self._names[topic] = topic[topic.index(":") + 1 :]
        aggregate_id = self._ids.get(originator_id)
        if aggregate_id is None:
            if len(self._ids) > 100_000:
                self._ids.clear()
            aggregate_id = self._ids[originator_id] = _uuid_text(originator_id)
        return Fact(int(position), aggregate_id, int(version), name, body, at, day, stamp)

    def _moment(self, iso: str) -> tuple[datetime, str, str]:
        # Events of one command share one stamp: parse each distinct stamp once.
        found = self._moments.get(iso)
        if found is None:
            if len(self._moments) > 100_000:
                self._moments.clear()
            at = datetime.fromisoformat(iso)
            found = self._moments[iso] = (
                at,
                at.astimezone(self.zone).date().isoformat(),
                at.astimezone(UTC).isoformat(timespec="microseconds"),
            )
        return found


def _uuid_text(value: Any) -> str:
    if isinstance(value, str):
        if len(value) == 32:  # SQLite stores the hex form
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        return value
    return str(value)


def uuid_texts(values: Iterable[Any]) -> list[str]:
    return [_uuid_text(v) for v in values]
