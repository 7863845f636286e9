"""Turning what a payout gateway says about one payout into ledger facts. Shared by the payout service
(which polls) and the webhooks (which are told), so that both write the SAME commands with the SAME
idempotency keys: whoever comes second gets the first result back, and nothing is recorded twice.

A payout's gateway status only moves forward, and so does a disbursement: a notification that would
move the disbursement backwards (a late "processed" after "completed", a duplicate) changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from gateways.port import Payout, PayoutStatus
from gateways.references import (
    MAX_ATTEMPT,
    parse_reference,
    payout_reference,
    reference_channel,
)
from ledger import commands as c
from ledger.application import Ledger
from ledger.disbursement import Disbursement, Status
from ledger.errors import DomainError
from ledger.roles import Actor, Role

log = logging.getLogger(__name__)

GATEWAY_ACTOR = Actor("gateway.iris", Role.GATEWAY)
RETURN_CODES = frozenset({"returned", "return", "bank_return"})


class Verdict(StrEnum):
    RECORDED = "recorded"  # at least one new fact
    NOTHING_NEW = "nothing_new"  # duplicate, out of order, or not a money fact yet
    UNKNOWN = "unknown"  # not a kasda payout, or no such disbursement
    MISMATCH = "mismatch"  # the gateway's payout disagrees with the SP2D (amount or account)
    STALE = "stale"  # an older attempt, superseded


@dataclass(frozen=True, slots=True)
class Applied:
    verdict: Verdict
    recorded: tuple[str, ...] = ()
    status: str = ""
    detail: str = ""


class PayoutMismatch(Exception):
    """The gateway holds a payout under our reference that is not the SP2D's (amount, account)."""


def payout_mismatch(d: Disbursement, payout: Payout) -> str:
    """Why ``payout`` is not the transfer SP2D ``d`` orders ("" when it is): amount or account."""
    account = (d.bank_account or {}).get("number", "")
    if payout.amount != d.net:
        return f"payout {payout.reference} is Rp {payout.amount}, SP2D {d.sp2d_number} Rp {d.net}"
    # An account that is missing or empty is not the SP2D's either: a notification that does not
    # say where the money went cannot settle (or send, or fail) an SP2D.
    if not account or payout.beneficiary_account != account:
        return (
            f"payout {payout.reference} goes to {payout.beneficiary_account or 'no account'}, "
            f"SP2D {d.sp2d_number} to {account}"
        )
    return ""


# Gateway statuses after the approval: the transfer left the RKUD (and maybe failed since).
_MONEY_MOVED = frozenset(
    {PayoutStatus.APPROVED, PayoutStatus.PROCESSED, PayoutStatus.COMPLETED, PayoutStatus.FAILED}
)


def plan(d: Disbursement, payout: Payout, actor: Actor = GATEWAY_ACTOR) -> list[c.Command]:
    """The commands that bring disbursement ``d`` up to date with ``payout`` (maybe none)."""
    ref = payout.reference
    recorded = d.gateway_reference == ref
    next_attempt = (
        d.status in (Status.AUTHORISED, Status.FAILED)
        and d.attempts < MAX_ATTEMPT
        and ref == payout_reference(d.id, d.attempts + 1)
    )
    if not (recorded or next_attempt):
        return []
    mismatch = payout_mismatch(d, payout)
    if mismatch:
        raise PayoutMismatch(mismatch)
    if recorded:
        return _after_sending(d, Status(d.status), payout, actor)
    if payout.status is PayoutStatus.REJECTED:
        return [_rejected(d, payout, actor)]
    if payout.status not in _MONEY_MOVED:
        return []  # queued: no money left the RKUD yet
    sent = c.RecordTransferSent(
        idempotency_key=f"iris:{ref}:sent",
        gateway="iris",
        reference=ref,
        actor=actor,
        pemda=d.pemda,
        disbursement_id=d.id,
    )
    return [sent, *_after_sending(d, Status.SENT, payout, actor)]


def _rejected(d: Disbursement, payout: Payout, actor: Actor) -> c.Command:
    """The approver refused it before any money moved: a fact of its own, which moves the attempt
    on (the next payout gets a new reference) and leaves the SP2D payable."""
    ref = payout.reference
    why = payout.error_code or "rejected by the approver"
    return c.RecordTransferRejected(
        idempotency_key=f"iris:{ref}:rejected",
        gateway="iris",
        reference=ref,
        reason=f"iris: payout {ref} rejected before sending ({why})",
        actor=actor,
        pemda=d.pemda,
        disbursement_id=d.id,
    )


def _after_sending(
    d: Disbursement, status: Status, payout: Payout, actor: Actor
) -> list[c.Command]:
    """What follows a transfer in ``status`` (sent or settled) by the gateway's word: settled,
    returned by the bank (settled first if it was not yet), or failed."""
    if status is not Status.SENT and status is not Status.SETTLED:
        return []
    ref = payout.reference
    gateway_status = payout.status
    # A payout that fails after it settled can only have been returned by the bank.
    returned = gateway_status is PayoutStatus.FAILED and (
        payout.error_code.lower() in RETURN_CODES or status is Status.SETTLED
    )
    settle = c.RecordSettlement(
        idempotency_key=f"iris:{ref}:settled",
        bank_reference=ref,
        actor=actor,
        pemda=d.pemda,
        disbursement_id=d.id,
    )
    if gateway_status is PayoutStatus.COMPLETED and status is Status.SENT:
        return [settle]
    if returned:
        reason = f"iris: payout {ref} returned by the bank ({payout.error_code or 'returned'})"
        back = c.RecordTransferReturned(
            idempotency_key=f"iris:{ref}:returned",
            reason=reason,
            actor=actor,
            pemda=d.pemda,
            disbursement_id=d.id,
        )
        return [settle, back] if status is Status.SENT else [back]
    if status is Status.SENT and gateway_status in (PayoutStatus.FAILED, PayoutStatus.REJECTED):
        reason = f"iris: payout {ref} {gateway_status.value} ({payout.error_code or 'no code'})"
        failed = c.RecordTransferFailed(
            idempotency_key=f"iris:{ref}:failed",
            reason=reason,
            actor=actor,
            pemda=d.pemda,
            disbursement_id=d.id,
        )
        return [failed]
    return []


def apply(ledger: Ledger, payout: Payout, actor: Actor = GATEWAY_ACTOR) -> Applied:
    """Record what ``payout`` says about its disbursement. Idempotent; raises ``DomainError`` only
    when the ledger refuses a fact it should accept (e.g. the vendor's account changed), and store
    errors (the caller answers 503 and the gateway retries)."""
    parsed = parse_reference(payout.reference)
    if parsed is None or reference_channel(payout.reference) != "iris":
        return Applied(Verdict.UNKNOWN, detail=f"{payout.reference} is not a kasda payout")
    disbursement_id, _attempt = parsed
    for _ in range(3):
        try:
            d = ledger.disbursement(disbursement_id)
        except DomainError:
            return Applied(Verdict.UNKNOWN, detail=f"no disbursement for {payout.reference}")
        try:
            commands = plan(d, payout, actor)
        except PayoutMismatch as error:
            log.error("payout mismatch: %s", error)
            return Applied(Verdict.MISMATCH, detail=str(error))
        if not commands:
            latest = d.references[-1] if d.references else None  # the last attempt, sent or refused
            stale = latest not in (None, payout.reference)
            verdict = Verdict.STALE if stale else Verdict.NOTHING_NEW
            return Applied(verdict, status=str(d.status))
        outcomes = ledger.execute_batch(commands)
        errors = [o for o in outcomes if isinstance(o, DomainError)]
        if not errors:
            names = tuple(o.command for o in outcomes if not isinstance(o, DomainError))
            fresh = [o for o in outcomes if not isinstance(o, DomainError) and not o.replayed]
            verdict = Verdict.RECORDED if fresh else Verdict.NOTHING_NEW
            return Applied(verdict, names, status=_status_after(ledger, disbursement_id))
        # Someone (the webhook or the poller) recorded part of it meanwhile: read again and redo.
        log.info("payout %s: %s; reading the disbursement again", payout.reference, errors[0])
    raise errors[0]


def _status_after(ledger: Ledger, disbursement_id: UUID) -> str:
    return str(ledger.disbursement(disbursement_id).status)
