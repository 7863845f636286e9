"""The APBD of one pemda and fiscal year, and its lines.

A ``BudgetLine`` is its own aggregate so that spending on different lines never contends: every
commitment appends to exactly one line, and the event store's optimistic concurrency on that line is
what stops two writers from overspending it.

Invariant of every line, checked by its command methods before they trigger an event (and asserted
again on every write, ``ledger.invariants``):
    0 <= committed, 0 <= realised, committed + realised <= pagu

As everywhere in kasda (the ``eventsourcing`` library's documented style): a public command method
checks the aggregate's own rules, then calls a private ``@event`` method named for the fact, whose
body only applies it (and runs again on every replay). ``check_*`` methods are those checks alone,
for a handler that must ask before it changes anything (see ``ledger.handlers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.codes import SILPA_JENIS, LineKey, is_spending
from ledger.errors import (
    AmendmentBelowUsage,
    InvalidInput,
    LimitExceeded,
    LineBlocked,
    PaguExceeded,
    YearClosed,
)
from ledger.money import MAX_TOTAL, Rupiah
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers


@fast_triggers
class Budget(Aggregate):
    """The adopted APBD (and its APBD-P), a register of its lines and the documents that changed it."""

    @staticmethod
    def create_id(pemda: str, year: int) -> UUID:
        return ids.budget_id(pemda, year)

    @classmethod
    def adopt(
        cls, pemda: str, year: int, document: str, lines: Sequence[BudgetLine], by: Stamp
    ) -> Budget:
        total = sum(line.pagu for line in lines)
        _check_total(total, f"APBD {year}")
        return cls(
            pemda=pemda,
            year=year,
            document=document,
            line_ids=[str(line.id) for line in lines],
            total_pagu=total,
            **by.recorded(),
        )

    def amend(
        self,
        document: str,
        new_line_ids: list[str],
        changed_line_ids: list[str],
        pagu_delta: int,
        by: Stamp,
    ) -> None:
        self.check_open("amend")
        _check_total(self.total_pagu + pagu_delta, f"APBD-P {self.year}")
        self._amended(
            document=document,
            new_line_ids=new_line_ids,
            changed_line_ids=changed_line_ids,
            pagu_delta=pagu_delta,
            **by.recorded(),
        )

    def shift(
        self, document: str, from_line_id: UUID, to_line_id: UUID, amount: Rupiah, by: Stamp
    ) -> None:
        self.check_open("shift pagu of")
        self._shifted(
            document=document,
            from_line_id=str(from_line_id),
            to_line_id=str(to_line_id),
            amount=amount,
            **by.recorded(),
        )

    def require_cash_plan(self, by: Stamp) -> None:
        """From now on every SKPD spends only within its anggaran kas and SPD (``ledger.cashplan``):
        set by the first anggaran kas adopted for the year, never unset."""
        self.check_open("adopt an anggaran kas for")
        if not self.cash_plan_required:
            self._cash_plan_required(**by.recorded())

    # -- year-end (tutup tahun, ``ledger.yearend``) --------------------------------------------
    def check_open(self, step: str) -> None:
        if self.closed:
            raise YearClosed(f"cannot {step} APBD {self.year}: the year is closed")

    def close(self, document: str, figures: dict[str, int], next_year: int, by: Stamp) -> None:
        """Tutup tahun: the year's LRA is final; ``figures`` are its final totals and SiLPA."""
        self.check_open("close")
        facts: dict[str, Any] = {**figures, **by.recorded()}
        self._year_closed(
            pemda=self.pemda, year=self.year, document=document, next_year=next_year, **facts
        )

    def open_from(
        self,
        document: str,
        previous_year: int,
        silpa: int,
        carried: list[dict[str, str | int]],
        new_line_ids: list[str],
        by: Stamp,
    ) -> None:
        """The next year takes over the closed year's SiLPA and its carried-over contracts (DPAL)."""
        self.check_open("open")
        if self.opened_from is not None:
            raise YearClosed(f"APBD {self.year} was already opened from {self.opened_from}")
        amount = sum(int(item["amount"]) for item in carried)
        _check_total(self.total_pagu + amount, f"APBD {self.year} with carry-over")
        self._year_opened(
            document=document,
            previous_year=previous_year,
            silpa=silpa,
            carried=carried,
            carried_amount=amount,
            new_line_ids=new_line_ids,
            **by.recorded(),
        )

    # -- facts ---------------------------------------------------------------------------------
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
        self.cash_plan_required = False
        self.closed = False
        self.silpa: int | None = None
        self.closed_at: datetime | None = None
        self.final: dict[str, int] = {}
        self.opened_from: int | None = None

    @event("Amended")
    def _amended(
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
    def _shifted(
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

    @event("CashPlanRequired")
    def _cash_plan_required(self, actor_id: str, actor_role: str, at: datetime) -> None:
        self.cash_plan_required = True

    @event("YearClosed")
    def _year_closed(
        self,
        pemda: str,
        year: int,
        document: str,
        next_year: int,
        pendapatan: int,
        penerimaan_pembiayaan: int,
        belanja: int,
        pengeluaran_pembiayaan: int,
        silpa: int,
        lapsed: int,
        lapsed_amount: int,
        carried: int,
        carried_amount: int,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.documents.append(document)
        self.closed = True
        self.silpa = silpa
        self.closed_at = at
        self.final = {
            "pendapatan": pendapatan, "penerimaan_pembiayaan": penerimaan_pembiayaan,
            "belanja": belanja, "pengeluaran_pembiayaan": pengeluaran_pembiayaan, "silpa": silpa,
            "lapsed": lapsed, "lapsed_amount": lapsed_amount, "carried": carried,
            "carried_amount": carried_amount,
        }  # fmt: skip

    @event("YearOpened")
    def _year_opened(
        self,
        document: str,
        previous_year: int,
        silpa: int,
        carried: list[dict[str, str | int]],
        carried_amount: int,
        new_line_ids: list[str],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.documents.append(document)
        self.line_ids.extend(new_line_ids)
        self.total_pagu += carried_amount
        self.opened_from = previous_year


def _check_total(total: Rupiah, what: str) -> None:
    if total > MAX_TOTAL:
        raise LimitExceeded(f"{what} would total {total}, above the limit of {MAX_TOTAL}")


@fast_triggers
class BudgetLine(Aggregate):
    """One line of the DPA: SKPD x sub kegiatan x kode rekening, with its pagu and what is used of it."""

    @staticmethod
    def create_id(
        pemda: str, year: int, skpd: str, sub_kegiatan: str | None, rekening: str
    ) -> UUID:
        return ids.budget_line_id(pemda, year, skpd, sub_kegiatan, rekening)

    @classmethod
    def allocate(
        cls,
        pemda: str,
        year: int,
        key: LineKey,
        uraian: str,
        pagu: Rupiah,
        document: str,
        by: Stamp,
    ) -> BudgetLine:
        return cls(
            pemda=pemda,
            year=year,
            skpd=key.skpd,
            sub_kegiatan=key.sub_kegiatan,
            rekening=key.rekening,
            uraian=uraian,
            pagu=pagu,
            document=document,
            **by.recorded(),
        )

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

    # -- rules ---------------------------------------------------------------------------------
    def check_open(self, step: str) -> None:
        """Raise if the line's year is closed: nothing of a closed year changes any more."""
        if self.closed:
            raise YearClosed(f"line {self.key}: cannot {step}, the year {self.year} is closed")

    def check_amend(self, new_pagu: Rupiah) -> None:
        self.check_open("amend its pagu")
        if new_pagu < self.used:
            raise AmendmentBelowUsage(
                f"line {self.key}: new pagu {new_pagu} is below committed {self.committed} "
                f"+ realised {self.realised}"
            )

    def check_spending(self) -> None:
        """Raise unless money may be paid out of this line (a belanja line, not an income one)."""
        if not is_spending(self.rekening):
            raise InvalidInput(f"line {self.key} is an income line; nothing is paid out of it")

    def check_income(self) -> None:
        """Raise unless income may be recorded on this line."""
        if is_spending(self.rekening):
            raise InvalidInput(
                f"line {self.key} is a spending line; income is recorded on 4.x lines"
            )
        self.check_open("record income")

    def check_commit(self, amount: Rupiah) -> None:
        """Raise unless ``amount`` may be committed now."""
        self.check_open("commit")
        if self.blocked:
            raise LineBlocked(
                f"line {self.key} is blocked (blokir); nothing may be committed on it"
            )
        if amount > self.available:
            raise PaguExceeded(
                f"line {self.key}: committing {amount} would exceed the pagu {self.pagu} "
                f"(committed {self.committed}, realised {self.realised}, available {self.available})"
            )

    def check_realise(self, disbursement_id: UUID) -> None:
        """Raise unless the commitment of ``disbursement_id`` may be realised (its SP2D issued)."""
        self.check_open("issue an SP2D")
        if self.blocked:
            raise LineBlocked(f"line {self.key} is blocked (blokir); no SP2D may be issued on it")
        self._open(disbursement_id)

    def _open(self, disbursement_id: UUID) -> Rupiah:
        """The amount of the open commitment of ``disbursement_id``; raise if there is none."""
        try:
            return self.open_commitments[str(disbursement_id)]
        except KeyError:
            raise InvalidInput(
                f"line {self.key} holds no open commitment for disbursement {disbursement_id}"
            ) from None

    # -- commands ------------------------------------------------------------------------------
    def amend(self, new_pagu: Rupiah, document: str, by: Stamp) -> None:
        self.check_amend(new_pagu)
        if new_pagu != self.pagu:
            self._amended(
                delta=new_pagu - self.pagu, pagu=new_pagu, document=document, **by.recorded()
            )

    def shift_out(self, amount: Rupiah, to_line_id: UUID, document: str, by: Stamp) -> None:
        self.check_open("shift pagu out")
        if amount > self.available:
            raise PaguExceeded(
                f"line {self.key}: cannot shift {amount} out, only {self.available} is available"
            )
        self._shifted_out(
            amount=amount, to_line_id=str(to_line_id), document=document, **by.recorded()
        )

    def shift_in(self, amount: Rupiah, from_line_id: UUID, document: str, by: Stamp) -> None:
        self.check_open("shift pagu in")
        self._shifted_in(
            amount=amount, from_line_id=str(from_line_id), document=document, **by.recorded()
        )

    def block(self, reason: str, by: Stamp) -> None:
        self.check_open("block it")
        if self.blocked:
            raise InvalidInput(f"line {self.key} is already blocked")
        self._blocked(reason=reason, **by.recorded())

    def unblock(self, reason: str, by: Stamp) -> None:
        self.check_open("unblock it")
        if not self.blocked:
            raise InvalidInput(f"line {self.key} is not blocked")
        self._unblocked(reason=reason, **by.recorded())

    def commit(self, disbursement_id: UUID, amount: Rupiah, by: Stamp) -> None:
        self.check_spending()
        self.check_commit(amount)
        if str(disbursement_id) in self.open_commitments:
            raise InvalidInput(f"disbursement {disbursement_id} already holds a commitment")
        self._committed(disbursement_id=str(disbursement_id), amount=amount, **by.recorded())

    def release(self, disbursement_id: UUID, by: Stamp) -> None:
        amount = self._open(disbursement_id)
        self._released(disbursement_id=str(disbursement_id), amount=amount, **by.recorded())

    def realise(self, disbursement_id: UUID, by: Stamp) -> None:
        self.check_realise(disbursement_id)
        amount = self._open(disbursement_id)
        self._realised(disbursement_id=str(disbursement_id), amount=amount, **by.recorded())

    def reverse_realisation(self, disbursement_id: UUID, amount: Rupiah, by: Stamp) -> None:
        self.check_open("withdraw an SP2D")
        if amount > self.realised:
            raise InvalidInput(
                f"line {self.key}: cannot reverse {amount}, realised is {self.realised}"
            )
        self._realisation_reversed(
            disbursement_id=str(disbursement_id), amount=amount, **by.recorded()
        )

    # -- income and year-end (``ledger.yearend``) ------------------------------------------------
    # Income is tallied on its line too, so that the close computes SiLPA from the lines alone and a
    # receipt racing the close conflicts with it on the line's version (a receipt is never lost).
    def record_income(self, revenue_id: UUID, gross: Rupiah, by: Stamp) -> None:
        self.check_income()
        self._income_recorded(revenue_id=str(revenue_id), gross=gross, **by.recorded())

    def reverse_income(self, revenue_id: UUID, gross: Rupiah, by: Stamp) -> None:
        self.check_open("reverse a receipt")
        self._income_reversed(revenue_id=str(revenue_id), gross=gross, **by.recorded())

    def close(self, document: str, by: Stamp) -> None:
        """The year is closed: every commitment has lapsed; pagu and realisation are final."""
        self.check_open("close it")
        if self.committed:
            raise InvalidInput(f"line {self.key}: {self.committed} is still committed")
        self._closed(document=document, **by.recorded())

    def carry_in(
        self, amount: Rupiah, from_line_id: UUID, disbursement_id: UUID, document: str, by: Stamp
    ) -> None:
        """A contract of the closed year continues here (DPAL): its remaining value joins the pagu."""
        self.check_open("carry a contract over into it")
        self._carried_over(
            amount=amount,
            from_line_id=str(from_line_id),
            disbursement_id=str(disbursement_id),
            document=document,
            **by.recorded(),
        )

    def receive_silpa(self, amount: Rupiah, previous_year: int, document: str, by: Stamp) -> None:
        """Penggunaan SiLPA: the closed year's surplus, realised as this year's financing receipt."""
        self.check_income()
        if not self.rekening.startswith(SILPA_JENIS):
            raise InvalidInput(f"line {self.key} is not a SiLPA line ({SILPA_JENIS}.x)")
        self._silpa_received(
            amount=amount, previous_year=previous_year, document=document, **by.recorded()
        )

    # -- facts ---------------------------------------------------------------------------------
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
        self.closed = False
        self.income = 0  # gross receipts recorded on an income line, less reversals
        self.silpa_received = 0  # penggunaan SiLPA of the previous year (a 6.1.01 line)
        # Open commitments by disbursement id (str: JSON object keys), so that a commitment is
        # released or realised exactly once and for exactly the amount committed.
        self.open_commitments: dict[str, Rupiah] = {}

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

    @event("IncomeRecorded")
    def _income_recorded(
        self, revenue_id: str, gross: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.income += gross

    @event("IncomeReversed")
    def _income_reversed(
        self, revenue_id: str, gross: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.income -= gross

    @event("Closed")
    def _closed(self, document: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.closed = True

    @event("CarriedOver")
    def _carried_over(
        self,
        amount: Rupiah,
        from_line_id: str,
        disbursement_id: str,
        document: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pagu += amount

    @event("SilpaReceived")
    def _silpa_received(
        self,
        amount: Rupiah,
        previous_year: int,
        document: str,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.silpa_received += amount
