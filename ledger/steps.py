"""The human steps every payment order takes, and who may take them: SPP -> SPM -> SP2D.

An LS disbursement (``ledger.disbursement``) and an order of the bendahara's advance
(``ledger.advance``: SPP-UP, SPP-GU, SPP-TU) go through the same four hands: the PPTK or the
bendahara prepares the SPP, the PPK-SKPD verifies it, the PA/KPA signs the SPM and the Kuasa BUD
issues the SP2D. One person never performs two different human steps of one order (request,
verify, approve, authorise, reject); the maker may withdraw (cancel) their own request; a checker
may not cancel what they checked. The rules live here once; each aggregate keeps its own facts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from ledger import roles
from ledger.errors import InvalidTransition, SeparationOfDuties
from ledger.roles import Actor


class Status(StrEnum):
    REQUESTED = "requested"
    VERIFIED = "verified"
    APPROVED = "approved"
    AUTHORISED = "authorised"
    SENT = "sent"
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


# The step that moves an order out of each status awaiting a human decision, and hence who may
# reject it there.
DECIDING_STEP = {
    Status.REQUESTED: ("verify", roles.VERIFY),
    Status.VERIFIED: ("approve", roles.APPROVE),
    Status.APPROVED: ("authorise", roles.AUTHORISE),
}


class HumanSteps:
    """The checks of the human steps, for an aggregate with ``status``, ``performers`` (step ->
    user id) and ``spp_number``. Each ``check_*`` raises without side effect."""

    CANCELLABLE: ClassVar[frozenset[Status]]
    status: Status
    performers: dict[str, str]
    spp_number: str

    def _require_status(self, step: str, *allowed: Status) -> None:
        if self.status not in allowed:
            expected = " or ".join(s.value for s in allowed)
            raise InvalidTransition(
                f"SPP {self.spp_number}: cannot {step} a disbursement that is {self.status}; "
                f"it must be {expected}"
            )

    def _require_distinct_user(self, actor: Actor, step: str) -> None:
        # One person, however their id is spelt (``roles.identity``): " alice" is "ALICE".
        for done, user in self.performers.items():
            if actor.same_person(user) and done != step:
                raise SeparationOfDuties(
                    f"SPP {self.spp_number}: {actor.user_id} already performed '{done}' and may "
                    f"not also '{step}'"
                )

    def _check_human_step(self, actor: Actor, step: str, allowed: frozenset[roles.Role]) -> None:
        actor.require(allowed, step)
        self._require_distinct_user(actor, step)

    def check_verify(self, actor: Actor) -> None:
        self._require_status("verify", Status.REQUESTED)
        self._check_human_step(actor, "verify", roles.VERIFY)

    def check_approve(self, actor: Actor) -> None:
        self._require_status("approve", Status.VERIFIED)
        self._check_human_step(actor, "approve", roles.APPROVE)

    def check_authorise(self, actor: Actor) -> None:
        self._require_status("authorise", Status.APPROVED)
        self._check_human_step(actor, "authorise", roles.AUTHORISE)

    def check_reject(self, actor: Actor) -> None:
        if self.status not in DECIDING_STEP:
            self._require_status("reject", *DECIDING_STEP)
        step, allowed = DECIDING_STEP[self.status]
        actor.require(allowed, f"reject at {step}")
        self._require_distinct_user(actor, "reject")

    def check_cancel(self, actor: Actor) -> None:
        self._require_status("cancel", *self.CANCELLABLE)
        actor.require(roles.CANCEL, "cancel")
        for done, user in self.performers.items():
            if actor.same_person(user) and done != "request":
                raise SeparationOfDuties(
                    f"SPP {self.spp_number}: {actor.user_id} performed '{done}' and may not cancel it"
                )
