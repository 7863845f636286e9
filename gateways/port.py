"""The gateway ports of the application layer. The ledger never sees an SDK: adapters implement these
protocols and the payout / receipt services speak only to them.

Every amount is an integer number of rupiah. Gateways that speak decimal strings ("10000.00") are
parsed exactly at the edge (``gateways.amounts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class GatewayError(Exception):
    """Something went wrong talking to a gateway. The outcome of the request is KNOWN: it failed."""


class GatewayTimeout(GatewayError):
    """No answer in time. The outcome is UNKNOWN: the gateway may have acted on the request."""


class GatewayUnavailable(GatewayError):
    """A 5xx answer or a broken connection. The outcome is UNKNOWN for writes."""


class GatewayRejected(GatewayError):
    """A 4xx answer: the gateway refused the request and did nothing."""

    def __init__(self, message: str, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class PayoutNotFound(GatewayRejected):
    """The gateway has no payout with this reference."""


class AccountInvalid(GatewayError):
    """Bank account validation said the account does not exist (or is closed)."""


class PayoutStatus(StrEnum):
    QUEUED = "queued"  # created, waiting for the approver
    APPROVED = "approved"
    PROCESSED = "processed"  # sent to the bank
    COMPLETED = "completed"  # credited to the beneficiary
    FAILED = "failed"  # the bank refused it, or it came back after completion
    REJECTED = "rejected"  # the approver refused it: no money moved


@dataclass(frozen=True, slots=True)
class Beneficiary:
    bank: str  # the gateway's bank code, e.g. "bca", "bri", "bpd_jabar"
    account: str
    name: str
    email: str = ""


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    reference: str  # derived from the disbursement: the same for every retry
    beneficiary: Beneficiary
    amount: int  # rupiah
    notes: str  # shown to the beneficiary bank; carries the SP2D number


@dataclass(frozen=True, slots=True)
class Payout:
    reference: str
    status: PayoutStatus
    amount: int  # rupiah
    beneficiary_account: str = ""
    beneficiary_bank: str = ""
    notes: str = ""
    error_code: str = ""
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True, slots=True)
class AccountValidation:
    bank: str
    account: str
    account_name: str


@dataclass(frozen=True, slots=True)
class RegisteredBeneficiary:
    alias: str
    bank: str
    account: str
    name: str


class PayoutGateway(Protocol):
    """A payout gateway with maker-checker: one credential creates, another approves."""

    name: str

    def create_payout(self, request: PayoutRequest) -> Payout: ...

    def approve_payouts(self, references: list[str]) -> None: ...

    def reject_payouts(self, references: list[str], reason: str) -> None: ...

    def get_payout(self, reference: str) -> Payout: ...

    def validate_account(self, bank: str, account: str) -> AccountValidation: ...

    def beneficiaries(self) -> list[RegisteredBeneficiary]: ...

    def save_beneficiary(self, alias: str, beneficiary: Beneficiary, *, update: bool) -> None: ...


class ReceiptStatus(StrEnum):
    PENDING = "pending"
    SETTLEMENT = "settlement"
    CAPTURE = "capture"
    EXPIRE = "expire"
    CANCEL = "cancel"
    DENY = "deny"
    REFUND = "refund"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class ReceiptOrder:
    """A tax or fee a citizen or firm is asked to pay, tagged with the income line it belongs to."""

    order_id: str
    amount: int  # rupiah
    payer: str
    pemda: str
    year: int
    skpd: str
    sub_kegiatan: str | None
    rekening: str  # income kode rekening 4.x


@dataclass(frozen=True, slots=True)
class ReceiptCharge:
    order_id: str
    channel: str  # "snap", "qris", "bank_transfer"
    token: str = ""  # Snap token
    redirect_url: str = ""
    va_number: str = ""
    qr_string: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptState:
    """The gateway's authoritative word on one order (from a status query)."""

    order_id: str
    status: ReceiptStatus
    payment_type: str
    gross: int  # rupiah
    fee: int  # rupiah the gateway keeps (MDR)
    settled_at: str
    custom: tuple[str, str, str]  # custom_field1..3 as sent at creation


class ReceiptGateway(Protocol):
    name: str

    def snap(self, order: ReceiptOrder) -> ReceiptCharge: ...

    def charge_qris(self, order: ReceiptOrder) -> ReceiptCharge: ...

    def charge_virtual_account(self, order: ReceiptOrder, bank: str) -> ReceiptCharge: ...

    def status(self, order_id: str) -> ReceiptState: ...
