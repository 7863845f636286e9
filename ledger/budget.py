"""The APBD of one pemda and fiscal year, and its lines.

A ``BudgetLine`` is its own aggregate so that spending on different lines never contends: every
commitment appends to exactly one line, and the event store's optimistic concurrency on that line is
what stops two writers from overspending it.

Invariant of every line, checked before any event is triggered:
    0 <= committed, 0 <= realised, committed + realised <= pagu
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.codes import LineKey
from ledger.errors import AmendmentBelowUsage, InvalidInput, LineBlocked, PaguExceeded
from ledger.money import Rupiah


class Budget(Aggregate):
    """The adopted APBD (and its APBD-P), a register of its lines and the documents that changed it."""

    @staticmethod
    def create_id(pemda: str, year: int) -> UUID:
        return ids.budget_id(pemda, year)

    @event("Adopted")
    def __init__(
        self,
        pemda: str,
        year: int,
        document: str,
        line_ids: list[str],
        total_pagu: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.documents = [document]
        self.line_ids = list(line_ids)
        self.total_pagu = total_pagu
        self.amendments = 0
        self.shifts = 0

    @event("Amended")
    def record_amendment(
        self,
        document: str,
        new_line_ids: list[str],
        changed_line_ids: list[str],
        pagu_delta: int,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.documents.append(document)
        self.line_ids.extend(new_line_ids)
        self.total_pagu += pagu_delta
        self.amendments += 1

    @event("Shifted")
    def record_shift(
        self,
        document: str,
        from_line_id: str,
        to_line_id: str,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.documents.append(document)
        self.shifts += 1


class BudgetLine(Aggregate):
    """One line of the DPA: SKPD x sub kegiatan x kode rekening, with its pagu and what is used of it."""

    @staticmethod
    def create_id(
        pemda: str, year: int, skpd: str, sub_kegiatan: str | None, rekening: str
    ) -> UUID:
        return ids.budget_line_id(pemda, year, skpd, sub_kegiatan, rekening)

    @event("Allocated")
    def __init__(
        self,
        pemda: str,
        year: int,
        skpd: str,
        sub_kegiatan: str | None,
        rekening: str,
        uraian: str,
        pagu: Rupiah,
        document: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.skpd = skpd
        self.sub_kegiatan = sub_kegiatan
        self.rekening = rekening
        self.uraian = uraian
        self.pagu = pagu
        self.committed = 0
        self.realised = 0
        self.blocked = False
        # Open commitments by disbursement id (str: JSON object keys), so that a commitment is
        # released or realised exactly once and for exactly the amount committed.
        self.open_commitments: dict[str, Rupiah] = {}

    # -- derived state -------------------------------------------------------------------------
    @property
    def key(self) -> LineKey:
        return LineKey(self.skpd, self.sub_kegiatan, self.rekening)

    @property
    def used(self) -> Rupiah:
        return self.committed + self.realised

    @property
    def available(self) -> Rupiah:
        return self.pagu - self.used

    # -- commands ------------------------------------------------------------------------------
    def amend(self, new_pagu: Rupiah, document: str, actor: dict[str, Any]) -> None:
        if new_pagu < self.used:
            raise AmendmentBelowUsage(
                f"line {self.key}: new pagu {new_pagu} is below committed {self.committed} "
                f"+ realised {self.realised}"
            )
        if new_pagu != self.pagu:
            self._amended(delta=new_pagu - self.pagu, pagu=new_pagu, document=document, **actor)

    def shift_out(
        self, amount: Rupiah, to_line_id: UUID, document: str, actor: dict[str, Any]
    ) -> None:
        if amount > self.available:
            raise PaguExceeded(
                f"line {self.key}: cannot shift {amount} out, only {self.available} is available"
            )
        self._shifted_out(amount=amount, to_line_id=str(to_line_id), document=document, **actor)

    def shift_in(
        self, amount: Rupiah, from_line_id: UUID, document: str, actor: dict[str, Any]
    ) -> None:
        self._shifted_in(amount=amount, from_line_id=str(from_line_id), document=document, **actor)

    def block(self, reason: str, actor: dict[str, Any]) -> None:
        if self.blocked:
            raise InvalidInput(f"line {self.key} is already blocked")
        self._blocked(reason=reason, **actor)

    def unblock(self, reason: str, actor: dict[str, Any]) -> None:
        if not self.blocked:
            raise InvalidInput(f"line {self.key} is not blocked")
        self._unblocked(reason=reason, **actor)

    def check_commit(self, amount: Rupiah) -> None:
        """Raise unless ``amount`` may be committed now. Handlers call this before touching anything."""
        if self.blocked:
            raise LineBlocked(
                f"line {self.key} is blocked (blokir); nothing may be committed on it"
            )
        if amount > self.available:
            raise PaguExceeded(
                f"line {self.key}: committing {amount} would exceed the pagu {self.pagu} "
                f"(committed {self.committed}, realised {self.realised}, available {self.available})"
            )

    def commit(self, disbursement_id: UUID, amount: Rupiah, actor: dict[str, Any]) -> None:
        self.check_commit(amount)
        if str(disbursement_id) in self.open_commitments:
            raise InvalidInput(f"disbursement {disbursement_id} already holds a commitment")
        self._committed(disbursement_id=str(disbursement_id), amount=amount, **actor)

    def release(self, disbursement_id: UUID, actor: dict[str, Any]) -> None:
        amount = self._open(disbursement_id)
        self._released(disbursement_id=str(disbursement_id), amount=amount, **actor)

    def realise(self, disbursement_id: UUID, actor: dict[str, Any]) -> None:
        amount = self._open(disbursement_id)
        self._realised(disbursement_id=str(disbursement_id), amount=amount, **actor)

    def reverse_realisation(
        self, disbursement_id: UUID, amount: Rupiah, actor: dict[str, Any]
    ) -> None:
        if amount > self.realised:
            raise InvalidInput(
                f"line {self.key}: cannot reverse {amount}, realised is {self.realised}"
            )
        self._realisation_reversed(disbursement_id=str(disbursement_id), amount=amount, **actor)

    def check_open(self, disbursement_id: UUID) -> Rupiah:
        """The amount of the open commitment of ``disbursement_id``; raise if there is none."""
        return self._open(disbursement_id)

    def _open(self, disbursement_id: UUID) -> Rupiah:
        try:
            return self.open_commitments[str(disbursement_id)]
        except KeyError:
            raise InvalidInput(
                f"line {self.key} holds no open commitment for disbursement {disbursement_id}"
            ) from None

    # -- facts ---------------------------------------------------------------------------------
    @event("Amended")
    def _amended(
        self, delta: int, pagu: Rupiah, document: str, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.pagu = pagu

    @event("ShiftedOut")
    def _shifted_out(
        self,
        amount: Rupiah,
        to_line_id: str,
        document: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pagu -= amount

    @event("ShiftedIn")
    def _shifted_in(
        self,
        amount: Rupiah,
        from_line_id: str,
        document: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pagu += amount

    @event("Blocked")
    def _blocked(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.blocked = True

    @event("Unblocked")
    def _unblocked(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.blocked = False

    @event("Committed")
    def _committed(
        self, disbursement_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.committed += amount
        self.open_commitments[disbursement_id] = amount

    @event("CommitmentReleased")
    def _released(
        self, disbursement_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.committed -= amount
        del self.open_commitments[disbursement_id]

    @event("Realised")
    def _realised(
        self, disbursement_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.committed -= amount
        self.realised += amount
        del self.open_commitments[disbursement_id]

    @event("RealisationReversed")
    def _realisation_reversed(
        self, disbursement_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.realised -= amount
