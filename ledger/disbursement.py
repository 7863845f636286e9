"""One direct (LS) payment to a vendor, from SPP to settlement.

    requested (SPP) -> verified (PPK) -> approved (SPM) -> authorised (SP2D) -> sent -> settled
                                                                                   \\-> failed -> sent (resend)
    authorised | failed -> authorised | failed (the gateway refused an attempt before any money moved)
    settled -> returned (the bank bounced it)
    returned -> authorised (paid again to the vendor's corrected account: ``reissue``)
    requested | verified | approved -> rejected (with reason, by the step's own role)
    requested | verified | approved | authorised | failed -> cancelled (no money with the vendor)
    requested | verified | approved -> lapsed (the year closed before its SP2D: ``ledger.yearend``)

Separation of duties is a rule of one disbursement: one person never performs two different human
steps of it (request, verify, approve, authorise, reject). The maker may withdraw (cancel) their own
request; a checker may not cancel what they checked. "One person" compares user ids as
``roles.identity`` normalises them (NFKC, case-folded, trimmed), so a second spelling of one id is
still the same person. Those checks are ``ledger.steps.HumanSteps``, shared with the orders of the
bendahara's advance (SPP-UP/GU/TU), which take the same four hands.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids, roles
from ledger.errors import (
    BankAccountChanged,
    InvalidTransition,
    LimitExceeded,
    ReturnedToSameAccount,
    SeparationOfDuties,
)
from ledger.money import Deduction, Rupiah
from ledger.roles import Actor
from ledger.stamp import Stamp
from ledger.steps import DECIDING_STEP, HumanSteps, Status
from ledger.triggers import fast_triggers

if TYPE_CHECKING:
    from ledger.vendor import Vendor


__all__ = [
    "CANCELLABLE",
    "SP2D_WITHOUT_TRANSFER",
    "TERMINAL",
    "Disbursement",
    "Status",
]

# A failed transfer never reached the vendor, so its SP2D may still be withdrawn (e.g. when the
# vendor's account changed and the payment must be re-issued).
CANCELLABLE = frozenset(
    {Status.REQUESTED, Status.VERIFIED, Status.APPROVED, Status.AUTHORISED, Status.FAILED}
)
# Statuses in which the SP2D has realised spending but no money has reached the vendor.
SP2D_WITHOUT_TRANSFER = frozenset({Status.AUTHORISED, Status.FAILED})
# Returned is final unless the Kuasa BUD pays it again to a corrected account (``reissue``).
TERMINAL = frozenset(
    {Status.SETTLED, Status.RETURNED, Status.REJECTED, Status.CANCELLED, Status.LAPSED}
)
# How many times one SP2D may be paid again after a return: each time needs another account change,
# so a vendor whose accounts keep bouncing is a matter for a person, not for one more attempt.
MAX_REISSUES = 3


@fast_triggers
class Disbursement(HumanSteps, Aggregate):
    @staticmethod
    def create_id(pemda: str, year: int, spp_number: str) -> UUID:
        return ids.disbursement_id(pemda, year, spp_number)

    @classmethod
    def request(
        cls,
        pemda: str,
        year: int,
        spp_number: str,
        line_id: UUID,
        vendor_id: UUID,
        gross: Rupiah,
        deductions: tuple[Deduction, ...],
        description: str,
        documents: dict[str, str],
        by: Stamp,
    ) -> Disbursement:
        """An SPP: ``gross`` out of one line to one vendor, less the taxes withheld from it."""
        return cls(
            pemda=pemda,
            year=year,
            spp_number=spp_number,
            line_id=str(line_id),
            vendor_id=str(vendor_id),
            gross=gross,
            deductions=[d.as_dict() for d in deductions],
            net=gross - sum(d.amount for d in deductions),
            description=description,
            documents=documents,
            **by.recorded(),
        )

    @event("Requested")
    def __init__(
        self,
        pemda: str,
        year: int,
        spp_number: str,
        line_id: str,
        vendor_id: str,
        gross: Rupiah,
        deductions: list[dict[str, Any]],
        net: Rupiah,
        description: str,
        documents: dict[str, str],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.spp_number = spp_number
        self.line_id = line_id
        self.vendor_id = vendor_id
        self.gross = gross
        self.deductions = list(deductions)
        self.net = net
        self.description = description
        self.documents = dict(documents)
        self.status = Status.REQUESTED
        self.performers: dict[str, str] = {"request": actor_id}
        self.spm_number: str | None = None
        self.sp2d_number: str | None = None
        self.bank_account: dict[str, str] | None = None
        self.vendor_version: int | None = None
        self.gateway_reference: str | None = None
        self.attempts = 0  # transfer attempts: sent, or refused by the gateway before sending
        self.references: list[str] = []  # every gateway reference used, sent or refused
        self.requested_at = at
        self.authorised_at: datetime | None = None
        self.reissues = 0  # times a returned transfer was paid again (``reissue``)
        self.settled_at: datetime | None = None

    # -- rules of this aggregate (the human steps' are ``HumanSteps``') ------------------------
    CANCELLABLE = CANCELLABLE

    def check_lapse(self) -> None:
        """Only a commitment without its SP2D lapses at year end; an SP2D is a payable that stays."""
        self._require_status("lapse", Status.REQUESTED, Status.VERIFIED, Status.APPROVED)

    def check_send(self, actor: Actor) -> None:
        self._require_status("send", Status.AUTHORISED, Status.FAILED)
        actor.require(roles.GATEWAY, "send")

    def check_transfer_rejected(self, actor: Actor) -> None:
        """The gateway refused an attempt before any money moved (e.g. the Iris approver said no):
        only while no transfer is under way (authorised, or the last one failed)."""
        self._require_status(
            "record a transfer refused by the gateway for", Status.AUTHORISED, Status.FAILED
        )
        actor.require(roles.GATEWAY, "record a refused transfer")

    def check_new_reference(self, reference: str) -> None:
        """A refused attempt is a new attempt: not a reference this disbursement already used."""
        if reference in self.references or reference == self.gateway_reference:
            raise InvalidTransition(
                f"SPP {self.spp_number}: transfer {reference} was already sent or refused; a "
                "refused attempt is a new attempt with a reference of its own"
            )

    def check_payee(self, vendor: Vendor) -> None:
        """Raise unless this SP2D's money may go to ``vendor`` now: the vendor is active, and its
        account is still the one authorised at the SP2D. The one statement of that rule: the
        gateways ask it before any money moves, the ledger again when the transfer is recorded."""
        vendor.check_payable()
        if vendor.bank_account != self.bank_account:
            raise BankAccountChanged(
                f"SPP {self.spp_number}: vendor {vendor.name} changed bank account after SP2D "
                f"{self.sp2d_number}; the transfer may only go to the account authorised then"
            )

    def check_settle(self, actor: Actor) -> None:
        self._require_status("settle", Status.SENT)
        actor.require(roles.GATEWAY, "settle")

    def check_fail(self, actor: Actor) -> None:
        self._require_status("record a failed transfer for", Status.SENT)
        actor.require(roles.GATEWAY, "fail")

    def check_return(self, actor: Actor) -> None:
        self._require_status("record a returned transfer for", Status.SETTLED)
        actor.require(roles.GATEWAY, "return")

    def check_reissue(self, actor: Actor) -> None:
        """The Kuasa BUD may pay a returned transfer again, once per return, at most
        ``MAX_REISSUES`` times, and only someone who performed no step of this payment (the
        re-issue fixes a new beneficiary account: a second pair of eyes, as at the SP2D)."""
        self._require_status("pay again", Status.RETURNED)
        actor.require(roles.AUTHORISE, "pay a returned transfer again")
        if self.reissues >= MAX_REISSUES:
            raise LimitExceeded(
                f"SPP {self.spp_number}: SP2D {self.sp2d_number} was paid again {self.reissues} "
                f"times already (at most {MAX_REISSUES})"
            )
        for done, user in self.performers.items():
            if actor.same_person(user) and done != "reissue":
                raise SeparationOfDuties(
                    f"SPP {self.spp_number}: {actor.user_id} already performed '{done}' and may "
                    "not also pay it again"
                )

    def check_reissue_to(self, vendor: Vendor, actor: Actor) -> None:
        """The vendor is payable and its account was changed (``ChangeVendorBankAccount``) since
        the transfer that bounced, by someone else than the one paying again."""
        vendor.check_payable()
        if vendor.bank_account == self.bank_account:
            raise ReturnedToSameAccount(
                f"SPP {self.spp_number}: vendor {vendor.name}'s account is still the one the "
                f"transfer of SP2D {self.sp2d_number} came back from; change it first"
            )
        if vendor.account_changed_by is not None and actor.same_person(vendor.account_changed_by):
            raise SeparationOfDuties(
                f"SPP {self.spp_number}: {actor.user_id} changed vendor {vendor.name}'s account "
                "and may not also pay to it"
            )

    def money(self) -> dict[str, Any]:
        """The amounts and parties that every money event of this disbursement repeats."""
        return {
            "line_id": self.line_id,
            "vendor_id": self.vendor_id,
            "gross": self.gross,
            "net": self.net,
            "deductions": list(self.deductions),
        }

    def transfer(self) -> dict[str, Any]:
        return {"vendor_id": self.vendor_id, "amount": self.net}

    @property
    def commitment_open(self) -> bool:
        """Pagu is committed (not yet realised) from SPP until SP2D."""
        return self.status in (Status.REQUESTED, Status.VERIFIED, Status.APPROVED)

    # -- commands ------------------------------------------------------------------------------
    def verify(self, by: Stamp) -> None:
        self.check_verify(by.actor)
        self._verified(**by.recorded())

    def approve(self, spm_number: str, by: Stamp) -> None:
        self.check_approve(by.actor)
        self._approved(spm_number=spm_number, **by.recorded())

    def authorise(
        self, sp2d_number: str, bank_account: dict[str, str], vendor_version: int, by: Stamp
    ) -> None:
        """The SP2D: spending is realised, and the account the transfer goes to is fixed."""
        self.check_authorise(by.actor)
        self._authorised(
            sp2d_number=sp2d_number,
            bank_account=bank_account,
            vendor_version=vendor_version,
            **self.money(),
            **by.recorded(),
        )

    def reject(self, reason: str, by: Stamp) -> None:
        self.check_reject(by.actor)
        step, _ = DECIDING_STEP[self.status]
        self._rejected(step=step, reason=reason, **by.recorded())

    def cancel(self, reason: str, by: Stamp) -> None:
        self.check_cancel(by.actor)
        self._cancelled(
            previous_status=Status(self.status).value,
            reason=reason,
            **self.money(),
            **by.recorded(),
        )

    def lapse(self, document: str, carried_to: int | None, by: Stamp) -> None:
        """Tutup tahun: the commitment lapses (``carried_to``: the year whose DPAL continues it)."""
        self.check_lapse()
        self._lapsed(
            previous_status=Status(self.status).value,
            document=document,
            carried_to=carried_to,
            **self.money(),
            **by.recorded(),
        )

    def record_sent(self, gateway: str, reference: str, by: Stamp) -> None:
        self.check_send(by.actor)
        self._sent(gateway=gateway, reference=reference, **self.transfer(), **by.recorded())

    def record_transfer_rejected(
        self, gateway: str, reference: str, reason: str, by: Stamp
    ) -> None:
        self.check_transfer_rejected(by.actor)
        self.check_new_reference(reference)
        self._transfer_rejected(
            gateway=gateway, reference=reference, reason=reason, **by.recorded()
        )

    def record_settled(self, bank_reference: str, by: Stamp) -> None:
        self.check_settle(by.actor)
        self._settled(bank_reference=bank_reference, **self.transfer(), **by.recorded())

    def record_failed(self, reason: str, by: Stamp) -> None:
        self.check_fail(by.actor)
        self._failed(reason=reason, **self.transfer(), **by.recorded())

    def record_returned(self, reason: str, by: Stamp) -> None:
        self.check_return(by.actor)
        self._returned(reason=reason, **self.transfer(), **by.recorded())

    def reissue(self, vendor: Vendor, reason: str, by: Stamp) -> None:
        """Pay the returned transfer again to the vendor's corrected account: the same SP2D (no new
        SPP, SP2D number or realisation), authorised again with the account fixed anew."""
        self.check_reissue(by.actor)
        self.check_reissue_to(vendor, by.actor)
        self._reissued(
            reissue=self.reissues + 1,
            returned_reference=self.gateway_reference or "",
            previous_account=dict(self.bank_account or {}),
            previous_vendor_version=self.vendor_version or 0,
            bank_account=dict(vendor.bank_account),
            vendor_version=vendor.version,
            reason=reason,
            pemda=self.pemda,
            year=self.year,
            spp_number=self.spp_number,
            sp2d_number=self.sp2d_number or "",
            requested_at=self.requested_at,
            **self.money(),
            **by.recorded(),
        )

    # -- facts ---------------------------------------------------------------------------------
    @event("Verified")
    def _verified(self, actor_id: str, actor_role: str, at: datetime) -> None:
        self.status = Status.VERIFIED
        self.performers["verify"] = actor_id

    @event("Approved")
    def _approved(self, spm_number: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.status = Status.APPROVED
        self.spm_number = spm_number
        self.performers["approve"] = actor_id

    # Money events carry their own amounts and parties (deliberately redundant with the Requested
    # event), so postings, projections and auditors can read each fact without any other state.
    @event("Authorised")
    def _authorised(
        self,
        sp2d_number: str,
        bank_account: dict[str, str],
        vendor_version: int,
        line_id: str,
        vendor_id: str,
        gross: Rupiah,
        net: Rupiah,
        deductions: list[dict[str, Any]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.AUTHORISED
        self.sp2d_number = sp2d_number
        self.bank_account = dict(bank_account)
        self.vendor_version = vendor_version
        self.performers["authorise"] = actor_id
        self.authorised_at = at

    @event("Sent")
    def _sent(
        self,
        gateway: str,
        reference: str,
        vendor_id: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.SENT
        self.gateway_reference = reference
        self.attempts += 1
        self.references.append(reference)

    # No money left the RKUD: the status stays (authorised or failed), the payable stays open, and
    # the attempt number moves on so that the next attempt gets a reference of its own.
    @event("TransferRejected")
    def _transfer_rejected(
        self,
        gateway: str,
        reference: str,
        reason: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.attempts += 1
        self.references.append(reference)

    @event("Settled")
    def _settled(
        self,
        bank_reference: str,
        vendor_id: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.SETTLED
        self.settled_at = at

    @event("Failed")
    def _failed(
        self,
        reason: str,
        vendor_id: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.FAILED

    @event("Returned")
    def _returned(
        self,
        reason: str,
        vendor_id: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.RETURNED

    # No money moves: the payable was reopened by ``Returned``; the next Sent / Settled move it as
    # for any SP2D. The event names both accounts and the bounced transfer, so the history shows
    # both attempts; it repeats what a queue row needs, as the SP2D's own event does.
    @event("Reissued")
    def _reissued(
        self,
        reissue: int,
        returned_reference: str,
        previous_account: dict[str, str],
        previous_vendor_version: int,
        bank_account: dict[str, str],
        vendor_version: int,
        reason: str,
        pemda: str,
        year: int,
        spp_number: str,
        sp2d_number: str,
        requested_at: datetime,
        line_id: str,
        vendor_id: str,
        gross: Rupiah,
        net: Rupiah,
        deductions: list[dict[str, Any]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.AUTHORISED
        self.bank_account = dict(bank_account)
        self.vendor_version = vendor_version
        self.reissues = reissue
        self.performers["reissue"] = actor_id

    @event("Rejected")
    def _rejected(
        self, step: str, reason: str, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.status = Status.REJECTED
        self.performers["reject"] = actor_id

    @event("Cancelled")
    def _cancelled(
        self,
        previous_status: str,
        reason: str,
        line_id: str,
        vendor_id: str,
        gross: Rupiah,
        net: Rupiah,
        deductions: list[dict[str, Any]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.CANCELLED

    @event("Lapsed")
    def _lapsed(
        self,
        previous_status: str,
        document: str,
        carried_to: int | None,
        line_id: str,
        vendor_id: str,
        gross: Rupiah,
        net: Rupiah,
        deductions: list[dict[str, Any]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.status = Status.LAPSED
