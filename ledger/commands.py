"""What users ask the ledger to do. A command is a plain value: it carries an idempotency key, the
authenticated actor and the pemda it is scoped to; handlers validate everything else.

Time is not part of a command: the ledger's clock stamps every event, so nobody can backdate one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from uuid import UUID

from ledger.roles import Actor


@dataclass(frozen=True, kw_only=True)
class Command:
    idempotency_key: str
    actor: Actor
    pemda: str

    @property
    def command_name(self) -> str:
        return type(self).__name__

    def fingerprint(self) -> str:
        """A digest of everything the command says, except its idempotency key.

        The same key with a different fingerprint is a different command reusing a key: refused.
        """
        body = {name: plain_value(getattr(self, name)) for name in _fingerprinted(type(self))}
        raw = _FINGERPRINT_JSON.encode([self.command_name, body])
        return hashlib.sha256(raw.encode()).hexdigest()


# What ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` builds on every call: one is kept
# (the same encoder, so the same text; a receipt's fingerprint must never change).
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


_FINGERPRINTED: dict[type[Command], tuple[str, ...]] = {}


def _fingerprinted(command: type[Command]) -> tuple[str, ...]:
    """The fields a fingerprint covers, in field order: all but the idempotency key."""
    names = _FINGERPRINTED.get(command)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(command) if f.name != "idempotency_key")
        _FINGERPRINTED[command] = names
    return names


def plain_value(value: Any) -> Any:
    """A JSON-able form of a command field (dataclasses.asdict deep-copies: too slow here)."""
    if type(value) is str or type(value) is int:  # most fields: exactly what JSON takes
        return value
    if value is None or isinstance(value, (str, int, bool)):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Actor):
        # Who and in which role; not the SKPD, which is the user's, not the request's: fingerprints
        # of receipts recorded before actors carried an SKPD stay the same.
        return {"user_id": value.user_id, "role": value.role.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return repr(value)


# -- budget ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class LineSpec:
    """A budget line as written in the DPA: key, description (uraian) and pagu in rupiah."""

    skpd: str
    sub_kegiatan: str | None
    rekening: str
    uraian: str
    pagu: int


@dataclass(frozen=True, kw_only=True)
class LineRef:
    skpd: str
    sub_kegiatan: str | None
    rekening: str


@dataclass(frozen=True, kw_only=True)
class AdoptBudget(Command):
    year: int
    document: str  # Perda APBD number
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True, kw_only=True)
class AmendBudget(Command):
    """APBD-P: sets the pagu of existing lines and adds new ones, all or nothing."""

    year: int
    document: str  # Perda APBD-P number
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True, kw_only=True)
class ShiftBudget(Command):
    """Pergeseran: moves pagu from one line to another within the fiscal year."""

    year: int
    document: str  # Perkada / SK pergeseran
    from_line: LineRef
    to_line: LineRef
    amount: int


@dataclass(frozen=True, kw_only=True)
class BlockLine(Command):
    year: int
    line: LineRef
    reason: str


@dataclass(frozen=True, kw_only=True)
class UnblockLine(Command):
    year: int
    line: LineRef
    reason: str


# -- anggaran kas and SPD ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class LinePlan:
    """One line's anggaran kas: 12 monthly or 4 quarterly amounts that add up to its pagu."""

    line: LineRef
    months: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class AdoptCashPlan(Command):
    """The PPKD sets an SKPD's anggaran kas for the year (from then on the year runs on SPD)."""

    year: int
    skpd: str
    document: str  # the decision that sets it
    lines: tuple[LinePlan, ...]


@dataclass(frozen=True, kw_only=True)
class AmendCashPlan(Command):
    """Replaces the plan of the lines named (after an APBD-P or a pergeseran, say)."""

    year: int
    skpd: str
    document: str
    lines: tuple[LinePlan, ...]


@dataclass(frozen=True, kw_only=True)
class IssueSpd(Command):
    """The Kuasa BUD releases ``amount`` to an SKPD for months ``first_month``..``last_month``."""

    year: int
    skpd: str
    spd_number: str
    first_month: int
    last_month: int
    amount: int


# -- the bendahara's advance: UP / GU / TU, SPJ and KKPD -----------------------------------------
@dataclass(frozen=True, kw_only=True)
class SetAdvance(Command):
    """The kepala daerah's decision on an SKPD's UP: its ceiling, the part given as KKPD limits,
    the most one TU may add, and the bendahara pengeluaran's account it is paid into."""

    year: int
    skpd: str
    document: str
    ceiling: int
    kkpd_ceiling: int = 0
    tu_ceiling: int = 0
    bank_code: str
    account_number: str
    account_holder: str


@dataclass(frozen=True, kw_only=True)
class RegisterCard(Command):
    """A KKPD issued to a holder of the SKPD, with its credit limit."""

    year: int
    skpd: str
    card: str  # the masked number as the bank prints it, e.g. "5264-xxxx-xxxx-1234"
    holder: str
    limit: int


@dataclass(frozen=True, kw_only=True)
class RequestAdvance(Command):
    """SPP-UP (``amount``), SPP-TU (``amount`` and ``deadline``), SPP-GU or SPP-GU nihil (the SPJ
    entries it accounts for, and for a TU's last SPJ the TU's SPP number)."""

    year: int
    skpd: str
    spp_number: str
    mechanism: str  # ledger.advance.Mechanism: up, gu, tu, gu_nihil
    amount: int | None = None
    spj_numbers: tuple[str, ...] = ()
    tu: str | None = None
    deadline: str | None = None  # ISO date a TU is to be used by
    description: str


@dataclass(frozen=True, kw_only=True)
class AdvanceOrderCommand(Command):
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class VerifyAdvance(AdvanceOrderCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class ApproveAdvance(AdvanceOrderCommand):
    spm_number: str


@dataclass(frozen=True, kw_only=True)
class AuthoriseAdvance(AdvanceOrderCommand):
    sp2d_number: str


@dataclass(frozen=True, kw_only=True)
class RejectAdvance(AdvanceOrderCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class CancelAdvance(AdvanceOrderCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordAdvanceSettled(AdvanceOrderCommand):
    bank_reference: str


@dataclass(frozen=True, kw_only=True)
class RecordSpj(Command):
    """One purchase paid from the advance, in cash or by card, with its evidence and line."""

    year: int
    skpd: str
    spj_number: str
    line: LineRef
    amount: int
    channel: str  # ledger.advance.Channel: tunai or kkpd
    card: str | None = None
    tu: str | None = None  # the SPP-TU number when the purchase is paid from a TU
    merchant: str
    spent_on: str  # ISO date of the purchase
    evidence: dict[str, str] = field(default_factory=dict)  # kuitansi, nota, faktur numbers


@dataclass(frozen=True, kw_only=True)
class WithdrawSpj(Command):
    year: int
    skpd: str
    spj_number: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class PayCardBill(Command):
    year: int
    skpd: str
    card: str
    amount: int
    reference: str  # the bank's bill (tagihan) reference


@dataclass(frozen=True, kw_only=True)
class ReturnAdvance(Command):
    """Setoran sisa UP/TU: the bendahara pays cash back into the RKUD."""

    year: int
    skpd: str
    amount: int
    reference: str  # the deposit's bank reference
    tu: str | None = None


# -- vendors -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RegisterVendor(Command):
    npwp: str
    name: str
    kind: str
    bank_code: str
    account_number: str
    account_holder: str


@dataclass(frozen=True, kw_only=True)
class ChangeVendorBankAccount(Command):
    npwp: str
    bank_code: str
    account_number: str
    account_holder: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class DeactivateVendor(Command):
    npwp: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ReactivateVendor(Command):
    npwp: str
    reason: str


# -- year-end (tutup tahun) ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CloseYear(Command):
    """Tutup tahun by the PPKD: open commitments lapse (those named in ``carry_over`` continue in
    the next year's DPAL), SiLPA is computed and received by the next year on ``silpa_line``, and
    the year is closed. All or nothing: see ``ledger.yearend``."""

    year: int
    document: str  # the PPKD's decision closing the year
    carry_over: tuple[UUID, ...] = ()  # disbursements whose contract continues next year
    silpa_line: LineRef | None = None  # the next APBD's penggunaan SiLPA line (6.1.01...)


# -- disbursements -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RequestDisbursement(Command):
    """SPP-LS: the PPTK / bendahara asks to pay a vendor from one budget line."""

    year: int
    spp_number: str
    line: LineRef
    vendor_npwp: str
    gross: int
    deductions: tuple[dict[str, Any], ...] = ()
    description: str
    documents: dict[str, str] = field(default_factory=dict)  # contract, invoice, BAST numbers


@dataclass(frozen=True, kw_only=True)
class DisbursementCommand(Command):
    disbursement_id: UUID


@dataclass(frozen=True, kw_only=True)
class VerifyDisbursement(DisbursementCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class ApproveSpm(DisbursementCommand):
    spm_number: str


@dataclass(frozen=True, kw_only=True)
class AuthoriseSp2d(DisbursementCommand):
    sp2d_number: str


@dataclass(frozen=True, kw_only=True)
class RejectDisbursement(DisbursementCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class CancelDisbursement(DisbursementCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordTransferSent(DisbursementCommand):
    gateway: str
    reference: str


@dataclass(frozen=True, kw_only=True)
class RecordSettlement(DisbursementCommand):
    bank_reference: str


@dataclass(frozen=True, kw_only=True)
class RecordTransferFailed(DisbursementCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordTransferReturned(DisbursementCommand):
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordTransferRejected(DisbursementCommand):
    """The gateway refused a transfer attempt before any money moved (e.g. the payout's approver
    rejected it); the SP2D stays payable and the next attempt gets a new reference."""

    gateway: str
    reference: str
    reason: str


# -- a returned transfer paid again (issue 16) -----------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ReissueReturnedTransfer(DisbursementCommand):
    """The Kuasa BUD pays a returned transfer again, to the vendor's corrected account: the same
    SP2D, no new SPP (``Disbursement.reissue``)."""

    reason: str


# -- income ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RecordRevenue(Command):
    """A settled receipt of income (a tax or retribusi paid by QRIS, virtual account, teller)."""

    year: int
    line: LineRef  # an income line: kode rekening 4.x (or financing receipts 6.1)
    channel: str  # e.g. "midtrans:qris", "midtrans:bank_transfer", "teller"
    reference: str  # the gateway's order id: unique per channel and year
    payer: str
    gross: int
    fee: int = 0  # the gateway's MDR, kept from the gross before it reaches the RKUD


@dataclass(frozen=True, kw_only=True)
class ReverseRevenue(Command):
    """A refund or chargeback of a receipt."""

    year: int
    channel: str
    reference: str
    reason: str


# -- reconciliation ----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RecordReconciliation(Command):
    """The outcome of one reconciliation run of the RKUD (see ``reconciliation/``)."""

    business_date: str  # ISO date the statements cover
    inputs: tuple[dict[str, Any], ...]  # {"name", "kind", "sha256", "rows"} per input file
    counts: dict[str, int]  # lines per status, e.g. {"matched": 9_812, "unmatched_bank": 2}
    exceptions: tuple[dict[str, Any], ...]  # {"id", "status", "amount", "reference", "detail"}


@dataclass(frozen=True, kw_only=True)
class ResolveReconciliationException(Command):
    run_id: UUID
    exception_id: str
    resolution: str  # one of ledger.reconciliation.RESOLUTIONS
    reason: str


# -- red flags ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RecordRedFlagRun(Command):
    """What one run of the red-flag rules (``audit/``) found over the log up to ``position``."""

    position: int  # the read models' log position the rules read
    as_of: str | None  # the last day read (ISO), or None for everything
    thresholds: dict[str, Any]  # the effective thresholds, table by table
    thresholds_digest: str  # their SHA-256 (``audit.thresholds.Thresholds.digest``)
    rules: tuple[str, ...]  # the codes of the rules that ran
    flags: tuple[dict[str, Any], ...]  # ``audit.flags.Flag.as_dict`` each
    truncated: dict[str, int] = field(default_factory=dict)  # rule -> flags left off


@dataclass(frozen=True, kw_only=True)
class ReviewRedFlag(Command):
    """An inspector's decision on a flag: confirmed, dismissed (with the reason) or escalated."""

    flag_id: UUID  # the flag's own id (``FLAG_FIELDS`` id), not its aggregate's
    decision: str  # one of ledger.redflags.DECISIONS
    reason: str


# -- the event feed (``ledger.feed``, docs/feed.md) ------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CreateFeedSubscription(Command):
    """BPKAD subscribes one of the pemda's systems to kinds of events."""

    name: str
    url: str  # where the CloudEvents are posted (http or https)
    kinds: tuple[str, ...]  # known kinds (``ledger.feed.FEED_KINDS``) or prefixes ``Vendor.*``


@dataclass(frozen=True, kw_only=True)
class FeedSubscriptionCommand(Command):
    subscription_id: UUID


@dataclass(frozen=True, kw_only=True)
class ChangeFeedSubscriptionKinds(FeedSubscriptionCommand):
    kinds: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PauseFeedSubscription(FeedSubscriptionCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class ResumeFeedSubscription(FeedSubscriptionCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class RotateFeedSecret(FeedSubscriptionCommand):
    """A new secret (and pull token) for the subscriber: the old ones stop working."""


@dataclass(frozen=True, kw_only=True)
class DeleteFeedSubscription(FeedSubscriptionCommand):
    pass
