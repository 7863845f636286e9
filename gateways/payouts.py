"""The payout service: authorised SP2D leave the RKUD through a payout gateway, exactly once.

For each authorised disbursement:

1. derive its payout reference (``gateways.references``): the same for every retry;
2. look the reference up at the gateway FIRST: a payout already there (an earlier run that timed out
   or crashed before recording) is taken over, never created again;
3. before a vendor's first payment to an account, validate the account at the gateway and register it
   as a beneficiary (the registration is the durable mark of "validated");
4. create the payout with the creator key; on a timeout or a 5xx look it up again before any retry;
5. approve it with the approver key (a second credential: maker-checker);
6. record the facts in the ledger (``gateways.facts``) with idempotency keys derived from the
   reference, so the webhook and the poller never record anything twice.

When the gateway cannot say whether a payout exists the disbursement is left alone (``UNRESOLVED``)
and the next run starts again at step 2. A payout the approver rejected is a ledger fact
(``TransferRejected``: no money moved, the SP2D stays payable, the attempt moves on), so the next
run creates a new payout under the next attempt's reference (``REJECTED``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from uuid import UUID

from gateways.facts import GATEWAY_ACTOR, Applied, PayoutMismatch, apply, payout_mismatch
from gateways.port import (
    AccountInvalid,
    Beneficiary,
    GatewayError,
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    Payout,
    PayoutGateway,
    PayoutNotFound,
    PayoutRequest,
    PayoutStatus,
)
from gateways.references import (
    IRIS_BANKS,
    MAX_ATTEMPT,
    beneficiary_alias,
    payout_reference,
    reference_channel,
)
from ledger.application import Ledger
from ledger.disbursement import Disbursement, Status
from ledger.errors import DomainError
from ledger.roles import Actor

log = logging.getLogger(__name__)

# The disbursement events after the SP2D, and the status each leaves behind. Topics are stored in
# clear (also with KASDA_CIPHER_KEY), so the payable set is followed from the notification log
# without loading every aggregate.
_AFTER_SP2D = {
    "Authorised": Status.AUTHORISED,
    "Sent": Status.SENT,
    "Settled": Status.SETTLED,
    "Failed": Status.FAILED,
    "Returned": Status.RETURNED,
    "Reissued": Status.AUTHORISED,  # a returned transfer to be paid again, to a new account
    "Cancelled": Status.CANCELLED,
}
TOPICS = {
    f"ledger.disbursement:Disbursement.{name}": status for name, status in _AFTER_SP2D.items()
}
AUTHORISED_TOPIC = "ledger.disbursement:Disbursement.Authorised"
PAGE = 1_000


class Outcome(StrEnum):
    SENT = "sent"  # approved at the gateway, Sent recorded, not final yet
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"
    AWAITING_APPROVAL = "awaiting_approval"  # created, approval did not go through this run
    REJECTED = "rejected"  # the approver refused it: TransferRejected recorded, next run retries
    SKIPPED = "skipped"  # not payable now (status)
    BLOCKED = "blocked"  # must not be paid: account changed, vendor inactive, unknown bank
    INVALID_ACCOUNT = "invalid_account"  # the bank says the account does not exist
    UNRESOLVED = "unresolved"  # the gateway could not say whether the payout exists: retry later
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class PayoutResult:
    disbursement_id: UUID
    spp_number: str
    sp2d_number: str
    reference: str
    outcome: Outcome
    detail: str = ""
    # The red flags open on this payment or its vendor when it was about to be sent (``Warnings``):
    # advice for whoever reads the run, never a reason not to pay.
    warnings: tuple[dict[str, Any], ...] = ()


# What the wiring (``kasda.redflags.PayoutWarnings``) gives the service: a payment's warnings, each
# ``{id, rule, severity, explanation: {id, en}, ...}``. The gateways read neither the audit rules nor
# the read models themselves.
Warnings = Callable[[Disbursement], list[dict[str, Any]]]


class PayoutUnresolved(GatewayError):
    """The gateway would not say whether a payout exists; nothing may be created now."""


@dataclass
class Hooks:
    """Injection points for tests: a hook that raises simulates a crash at that moment."""

    after_create: Callable[[Payout], None] | None = None
    after_approve: Callable[[Payout], None] | None = None


_FINAL = {
    Status.SENT: Outcome.SENT,
    Status.SETTLED: Outcome.SETTLED,
    Status.FAILED: Outcome.FAILED,
    Status.RETURNED: Outcome.RETURNED,
}


@dataclass
class PayoutService:
    ledger: Ledger
    gateway: PayoutGateway
    actor: Actor = GATEWAY_ACTOR
    lookup_attempts: int = 4
    create_attempts: int = 3
    backoff_seconds: float = 0.05
    resend_failed: bool = False  # pay FAILED disbursements again (a new attempt, a new reference)
    hooks: Hooks = field(default_factory=Hooks)
    warnings: Warnings | None = None  # the red flags of a payment about to be sent
    _beneficiaries: dict[str, tuple[str, str]] | None = None
    _statuses: dict[UUID, Status] = field(default_factory=dict)  # after the SP2D, in SP2D order
    _position: int = 0

    # -- which disbursements ---------------------------------------------------------------------
    def disbursements(
        self, statuses: Iterable[Status], pemda: str | None = None
    ) -> list[Disbursement]:
        """Disbursements whose SP2D was issued, in SP2D order, now in one of ``statuses``."""
        wanted = set(statuses)
        self._follow()
        found = []
        for disbursement_id, status in self._statuses.items():
            if status not in wanted:
                continue
            d = self.ledger.disbursement(disbursement_id)  # the truth, not the log's hint
            if d.status in wanted and (pemda is None or d.pemda == pemda):
                found.append(d)
        return found

    def _follow(self) -> None:
        """Read the disbursement events recorded since the last call (one page query each)."""
        recorder = self.ledger.recorder
        while True:
            page = recorder.select_notifications(
                start=self._position + 1, limit=PAGE, topics=list(TOPICS)
            )
            for notification in page:
                originator = notification.originator_id
                key = originator if isinstance(originator, UUID) else UUID(str(originator))
                if notification.topic == AUTHORISED_TOPIC or key in self._statuses:
                    self._statuses[key] = TOPICS[notification.topic]
                self._position = notification.id
            if len(page) < PAGE:
                return

    # -- paying --------------------------------------------------------------------------------
    def pay_all(self, pemda: str | None = None) -> list[PayoutResult]:
        statuses = {Status.AUTHORISED} | ({Status.FAILED} if self.resend_failed else set())
        results = []
        for d in self.disbursements(statuses, pemda):
            results.append(self.pay(d.id))
        return results

    def pay(self, disbursement_id: UUID) -> PayoutResult:
        d = self.ledger.disbursement(disbursement_id)
        payable = {Status.AUTHORISED} | ({Status.FAILED} if self.resend_failed else set())
        if d.attempts >= MAX_ATTEMPT:
            detail = f"{d.attempts} transfer attempts; no reference left for another"
            return self._result(d, "", Outcome.BLOCKED, detail)
        ref = payout_reference(d.id, d.attempts + 1)
        if d.status not in payable:
            return self._result(d, ref, Outcome.SKIPPED, f"disbursement is {d.status}")
        warned = self._warnings(d)
        return replace(self._pay(d, ref), warnings=warned)

    def _pay(self, d: Disbursement, ref: str) -> PayoutResult:
        try:
            payout = self._send(d, ref)
        except (_Blocked, PayoutMismatch, GatewayError) as error:
            return self._not_sent(d, ref, error)
        if payout.status is PayoutStatus.QUEUED:
            return self._result(d, ref, Outcome.AWAITING_APPROVAL, "approval pending")
        if payout.status is PayoutStatus.REJECTED:
            return self._rejected(d, ref, payout)
        return self._record(d, ref, payout)

    def _warnings(self, d: Disbursement) -> tuple[dict[str, Any], ...]:
        """The payment's red flags, logged before it is sent; they never stop it."""
        if self.warnings is None:
            return ()
        found = tuple(self.warnings(d))
        for w in found:
            log.warning(
                "SP2D %s: red flag %s (%s, %s): %s",
                d.sp2d_number, w.get("rule"), w.get("severity"), w.get("id"),
                (w.get("explanation") or {}).get("en", ""),
            )  # fmt: skip
        return found

    def _send(self, d: Disbursement, ref: str) -> Payout:
        """This attempt's payout: created unless the gateway has it already, held to the SP2D, and
        approved while it waits (``PayoutMismatch`` when it is not the SP2D's)."""
        payout = self._lookup(ref)
        if payout is None:
            request = self._request(d, ref)
            self._ensure_beneficiary(d, request.beneficiary)
            payout = self._create(request)
        if self.hooks.after_create is not None:
            self.hooks.after_create(payout)
        mismatch = payout_mismatch(d, payout)
        if mismatch:
            # Never approve (or record) a payout that is not this SP2D's.
            log.error("payout %s does not match SP2D %s: %s", ref, d.sp2d_number, mismatch)
            raise PayoutMismatch(mismatch)
        if payout.status is PayoutStatus.QUEUED:
            self._request(d, ref)  # still payable (vendor active, account as at SP2D)?
            payout = self._approve(ref)
            if self.hooks.after_approve is not None:
                self.hooks.after_approve(payout)
        return payout

    def _not_sent(self, d: Disbursement, ref: str, error: Exception) -> PayoutResult:
        """The outcome of a payout that was not sent, by why not."""
        if isinstance(error, _Blocked):
            return self._result(d, ref, Outcome.BLOCKED, str(error))
        if isinstance(error, AccountInvalid):
            return self._result(d, ref, Outcome.INVALID_ACCOUNT, str(error))
        if isinstance(error, (PayoutUnresolved, GatewayTimeout, GatewayUnavailable)):
            log.warning("payout %s unresolved: %s", ref, error)
            return self._result(d, ref, Outcome.UNRESOLVED, str(error))
        if isinstance(error, GatewayError):
            log.error("payout %s refused by the gateway: %s", ref, error)
        return self._result(d, ref, Outcome.ERROR, str(error))

    def _rejected(self, d: Disbursement, ref: str, payout: Payout) -> PayoutResult:
        """The checker said no before any money moved: recorded as ``TransferRejected`` (the same
        command and key as the webhook's), which moves the attempt on. The SP2D stays authorised
        (or failed): the next run creates a new payout under the next reference, for the approver
        to decide again, unless a person cancels the SP2D meanwhile."""
        try:
            applied: Applied = apply(self.ledger, payout, self.actor)
        except DomainError as error:
            log.error("ledger refused the rejection of payout %s: %s", ref, error)
            return self._result(d, ref, Outcome.ERROR, f"{error.rule}: {error}")
        log.warning("payout %s rejected by the approver (%s)", ref, applied.verdict.value)
        fresh = self.ledger.disbursement(d.id)
        return self._result(fresh, ref, Outcome.REJECTED, "payout rejected by the approver")

    def sync(
        self, pemda: str | None = None, *, include_settled: bool = False
    ) -> list[PayoutResult]:
        """Track sent payouts to completed / failed (and settled ones to returned)."""
        statuses = {Status.SENT} | ({Status.SETTLED} if include_settled else set())
        results = []
        for d in self.disbursements(statuses, pemda):
            ref = d.gateway_reference or ""
            if reference_channel(ref) != "iris":
                continue  # sent another way (the bank's bulk file): not Iris's to tell

            try:
                payout = self._lookup(ref)
            except PayoutUnresolved as error:
                results.append(self._result(d, ref, Outcome.UNRESOLVED, str(error)))
                continue
            if payout is None:
                results.append(self._result(d, ref, Outcome.ERROR, "the gateway lost the payout"))
                continue
            results.append(self._record(d, ref, payout))
        return results

    def _record(self, d: Disbursement, ref: str, payout: Payout) -> PayoutResult:
        try:
            applied: Applied = apply(self.ledger, payout, self.actor)
        except DomainError as error:
            log.error("ledger refused the facts of payout %s: %s", ref, error)
            return self._result(d, ref, Outcome.ERROR, f"{error.rule}: {error}")
        fresh = self.ledger.disbursement(d.id)
        outcome = _FINAL.get(Status(fresh.status), Outcome.ERROR)
        return self._result(fresh, ref, outcome, applied.verdict.value)

    # -- steps ---------------------------------------------------------------------------------
    def _request(self, d: Disbursement, ref: str) -> PayoutRequest:
        try:  # the ledger's rule: vendor active, account as at SP2D
            d.check_payee(self.ledger.vendor(UUID(d.vendor_id)))
        except DomainError as refused:
            raise _Blocked(refused.message) from None
        if d.bank_account is None:
            raise _Blocked(f"SP2D {d.sp2d_number} fixed no account")
        bank = IRIS_BANKS.get(d.bank_account["bank_code"])
        if bank is None:
            raise _Blocked(f"no Iris bank code for kode bank {d.bank_account['bank_code']}")
        beneficiary = Beneficiary(
            bank=bank, account=d.bank_account["number"], name=d.bank_account["holder"][:100]
        )
        notes = f"{d.sp2d_number} {ref}"[:100]
        return PayoutRequest(reference=ref, beneficiary=beneficiary, amount=d.net, notes=notes)

    def _lookup(self, ref: str) -> Payout | None:
        last: Exception | None = None
        for attempt in range(self.lookup_attempts):
            try:
                return self.gateway.get_payout(ref)
            except PayoutNotFound:
                return None
            except (GatewayTimeout, GatewayUnavailable) as error:
                last = error
                time.sleep(self.backoff_seconds * (attempt + 1))
        raise PayoutUnresolved(f"could not learn whether payout {ref} exists: {last}")

    def _create(self, request: PayoutRequest) -> Payout:
        last: Exception | None = None
        for _ in range(self.create_attempts):
            try:
                return self.gateway.create_payout(request)
            except (GatewayTimeout, GatewayUnavailable) as error:
                # The gateway may have created it: ask before anything else.
                log.warning("create payout %s: %s; looking it up", request.reference, error)
                last = error
                found = self._lookup(request.reference)
                if found is not None:
                    return found
        raise PayoutUnresolved(f"payout {request.reference} not created: {last}")

    def _approve(self, ref: str) -> Payout:
        payout: Payout | None = None
        for _ in range(self.create_attempts):
            try:
                self.gateway.approve_payouts([ref])
            except (GatewayTimeout, GatewayUnavailable) as error:
                log.warning("approve payout %s: %s; looking it up", ref, error)
            except GatewayRejected as error:  # e.g. rejected meanwhile: the lookup says
                log.warning("approve payout %s refused: %s", ref, error)
            payout = self._lookup(ref)
            if payout is None:
                raise PayoutUnresolved(f"payout {ref} vanished before approval")
            if payout.status is not PayoutStatus.QUEUED:
                return payout
        assert payout is not None
        return payout

    def _ensure_beneficiary(self, d: Disbursement, beneficiary: Beneficiary) -> None:
        """Validate the account before the vendor's first payment to it, then register it."""
        if self._beneficiaries is None:
            self._beneficiaries = {
                b.alias: (b.bank, b.account) for b in self.gateway.beneficiaries()
            }
        alias = beneficiary_alias(UUID(d.vendor_id))
        known = self._beneficiaries.get(alias)
        if known == (beneficiary.bank, beneficiary.account):
            return
        validation = self.gateway.validate_account(beneficiary.bank, beneficiary.account)
        log.info(
            "validated %s/%s for vendor %s: holder %s",
            beneficiary.bank,
            beneficiary.account,
            d.vendor_id,
            validation.account_name,
        )
        self.gateway.save_beneficiary(alias, beneficiary, update=known is not None)
        self._beneficiaries[alias] = (beneficiary.bank, beneficiary.account)

    @staticmethod
    def _result(d: Disbursement, ref: str, outcome: Outcome, detail: str) -> PayoutResult:
        return PayoutResult(d.id, d.spp_number, d.sp2d_number or "", ref, outcome, detail)


class _Blocked(Exception):
    pass
