"""The simulator's memory: payouts, beneficiaries, receipts, the RKUD ledger of the bank, fault
injection. Thread-safe (one lock); deterministic for a given seed and clock."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

WIB = timezone(timedelta(hours=7))


def wib_now() -> datetime:
    return datetime.now(WIB)


@dataclass(frozen=True, slots=True)
class SimKeys:
    server_key: str = "SB-Mid-server-kasda-sim"
    client_key: str = "SB-Mid-client-kasda-sim"
    creator_key: str = "IRIS-creator-kasda-sim"
    approver_key: str = "IRIS-approver-kasda-sim"
    merchant_key: str = "IRIS-merchant-kasda-sim"


SIM_KEYS = SimKeys()

# What a planned fault does to one matching request.
#   "500", "502", "503": answer that status and do nothing
#   "hang": do the work, then hold the answer for ``hang_seconds`` (the client times out although
#           the gateway acted: the dangerous case)
#   "late": hold the request for ``hang_seconds`` first, then do the work (it lands after the
#           client gave up)
#   "done-500": do the work, then answer 500
#   "ok": no fault (keeps a place in the plan)
FAULT_KINDS = frozenset({"500", "502", "503", "hang", "late", "done-500", "ok"})


@dataclass
class Faults:
    """Fault injection. Planned faults are consumed in order by requests that match them."""

    delay_seconds: float = 0.0  # added to every API request
    hang_seconds: float = 2.0
    error_rate: float = 0.0  # random 503s on API requests, nothing done (seeded)
    after_error_rate: float = 0.0  # random 500s AFTER the request was carried out (seeded)
    invalid_accounts: set[str] = field(default_factory=set)  # account validation says no
    fail_accounts: set[str] = field(default_factory=set)  # payouts to these fail
    fail_references: set[str] = field(default_factory=set)  # these payouts fail
    reject_references: set[str] = field(default_factory=set)  # the approver rejects these
    return_accounts: set[str] = field(default_factory=set)  # complete, then come back (failed)
    account_names: dict[str, str] = field(default_factory=dict)  # account -> holder name
    injected: int = 0  # faults handed out so far
    _plan: list[tuple[str, str, str]] = field(default_factory=list)

    def plan(self, method: str, path_prefix: str, *kinds: str) -> None:
        """The next requests ``method path_prefix...`` get these faults, one each, in order."""
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
            self._plan.append((method.upper(), path_prefix, kind))

    def take(self, method: str, path: str, rng: random.Random) -> str | None:
        kind = self._choose(method, path, rng)
        if kind is not None and kind != "ok":
            self.injected += 1
        return kind

    def _choose(self, method: str, path: str, rng: random.Random) -> str | None:
        for index, (m, prefix, kind) in enumerate(self._plan):
            if m == method and path.startswith(prefix):
                del self._plan[index]
                return kind
        if self.error_rate and rng.random() < self.error_rate:
            return "503"
        if self.after_error_rate and rng.random() < self.after_error_rate:
            return "done-500"
        return None

    @property
    def pending(self) -> int:
        return len(self._plan)


@dataclass
class SimPayout:
    reference_no: str
    idempotency_key: str
    beneficiary_name: str
    beneficiary_account: str
    beneficiary_bank: str
    beneficiary_email: str
    amount: int
    notes: str
    created_by: str
    created_at: datetime
    status: str = "queued"
    updated_at: datetime | None = None
    approved_by: str = ""
    error_code: str = ""
    completed_at: datetime | None = None
    returned_at: datetime | None = None
    fee: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "amount": f"{self.amount}.00",
            "beneficiary_name": self.beneficiary_name,
            "beneficiary_account_number": self.beneficiary_account,
            "bank": self.beneficiary_bank,
            "beneficiary_email": self.beneficiary_email,
            "reference_no": self.reference_no,
            "notes": self.notes,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at or self.created_at),
            **({"error_code": self.error_code} if self.error_code else {}),
        }


@dataclass
class SimOrder:
    order_id: str
    gross: int
    kind: str  # "snap" or the Core API payment_type ("qris", "bank_transfer")
    bank: str
    transaction_id: str
    created_at: datetime
    custom: tuple[str, str, str]
    customer: str
    token: str = ""
    va_number: str = ""
    status: str = "pending"
    payment_type: str = ""
    settled_at: datetime | None = None
    fee: int = 0

    def status_code(self) -> str:
        return {"settlement": "200", "capture": "200", "refund": "200", "pending": "201"}.get(
            self.status, "202"
        )

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "status_code": self.status_code(),
            "status_message": "Success, transaction is found",
            "transaction_id": self.transaction_id,
            "order_id": self.order_id,
            "merchant_id": "G000KASDA",
            "gross_amount": f"{self.gross}.00",
            "currency": "IDR",
            "payment_type": self.payment_type or self.kind,
            "transaction_time": _midtrans_time(self.created_at),
            "transaction_status": self.status,
            "fraud_status": "accept",
            "custom_field1": self.custom[0],
            "custom_field2": self.custom[1],
            "custom_field3": self.custom[2],
        }
        if self.settled_at is not None:
            doc["settlement_time"] = _midtrans_time(self.settled_at)
        if self.va_number:
            doc["va_numbers"] = [{"bank": self.bank, "va_number": self.va_number}]
        return doc


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


def _midtrans_time(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class SimCredit:
    """Money paid into the RKUD at the bank, not through the gateway: a teller deposit, a transfer
    from the centre (DAU/DAK from the RKUN). Its remark starts with the payer's reference."""

    at: datetime
    amount: int
    reference: str
    remark: str
    counterparty_account: str = ""
    counterparty_bank: str = ""
    debit: bool = False  # money out of the RKUD by the bank's own transfer (``bank_debit``)


@dataclass
class Notification:
    url: str
    headers: dict[str, str]
    body: bytes
    delivered_status: int | None = None
    attempts: int = 0


@dataclass
class SimState:
    """Everything the simulated gateway and bank know."""

    clock: Callable[[], datetime] = wib_now
    seed: int = 2026
    payout_fee: int = 2_500  # rupiah per payout, charged by the gateway
    va_fee: int = 4_000  # rupiah per virtual-account payment
    qris_mdr_per_mille: int = 7  # 0.7 % of the gross for QRIS
    settlement_lag_days: int = 1  # receipts of day D reach the RKUD on D + lag
    opening_balance: int = 50_000_000_000  # the RKUD's balance before the first simulated day
    iris_balance: int = 100_000_000_000
    instant_payouts: bool = True  # approve -> completed/failed at once; else stays "processed"
    batch_payouts: bool = True  # the RKUD sees one debit per day's payout batch, else per payout
    faults: Faults = field(default_factory=Faults)
    lock: threading.RLock = field(default_factory=threading.RLock)
    payouts: dict[str, SimPayout] = field(default_factory=dict)
    beneficiaries: dict[str, dict[str, str]] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    credits: list[SimCredit] = field(default_factory=list)  # paid in at the bank, in order
    tokens: dict[str, str] = field(default_factory=dict)  # snap token -> order id
    create_requests: int = 0  # payouts created (a replayed create does not count)
    create_calls: int = 0  # create-payout items received, replays included
    validations: int = 0  # account validations answered
    inflight: int = 0  # API requests being served now
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def now(self) -> datetime:
        return self.clock().astimezone(WIB)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def receipt_fee(self, order: SimOrder) -> int:
        if order.payment_type == "qris":
            return (order.gross * self.qris_mdr_per_mille + 500) // 1000
        if order.payment_type in ("bank_transfer", "echannel"):
            return self.va_fee
        return (order.gross * 2 + 99) // 100  # cards and others: 2 %, rounded up

    def days(self) -> list[date]:
        lag = timedelta(days=self.settlement_lag_days)
        with self.lock:
            moments = [p.created_at for p in self.payouts.values()]
            moments += [p.completed_at for p in self.payouts.values() if p.completed_at]
            moments += [p.returned_at for p in self.payouts.values() if p.returned_at]
            settled = [o.settled_at for o in self.orders.values() if o.settled_at]
            moments += [c.at for c in self.credits]
        found = {m.astimezone(WIB).date() for m in moments + settled}
        found |= {m.astimezone(WIB).date() + lag for m in settled}
        return sorted(found)
