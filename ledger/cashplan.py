"""The anggaran kas of one SKPD and fiscal year, the SPDs issued within it, and what is charged to them.

Permendagri 77/2020 (penatausahaan belanja): the PPKD sets each SKPD's anggaran kas, the cash plan of
its DPA month by month (or quarter by quarter); the Kuasa BUD then releases money to the SKPD period
by period with an SPD (Surat Penyediaan Dana), within that plan; and no SPP may ask for, nor SP2D pay,
more than the SPD has made available to the SKPD for the period. Three rules, one aggregate per SKPD
and year, so that the event store's optimistic concurrency on it is what stops two writers from
spending the same SPD (as ``BudgetLine`` does for the pagu):

    plan:   each line's planned months add up to its pagu when the plan is adopted or amended
    SPD:    SPD issued through a period's last month  <=  the plan through that month
    spend:  used (committed + realised)  <=  SPD issued for periods begun by the month of spending

A month is a month of the fiscal year in WIB. A quarterly plan is kept as months (each quarter's
amount in its first month), so one rule serves both. Commitments are keyed by the id of what commits
(a disbursement, an SPJ entry) and are released, realised or reversed exactly once, as on the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.errors import AlreadyExists, CashPlanMismatch, InvalidInput, SpdExceeded, YearClosed
from ledger.money import MAX_TOTAL, Rupiah
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers

MONTHS = 12
QUARTERS = 4
MAX_SPD_PER_YEAR = 1_000  # an SPD a month per sub kegiatan of a large SKPD, with room to spare
# The fiscal month of an instant. kasda's pemda keep their books in WIB; a pemda in WITA/WIT is an
# hour or two ahead, which moves only the last hours of a month (see docs/penatausahaan.md).
WIB = timezone(timedelta(hours=7), "WIB")


def fiscal_month(at: datetime, year: int) -> int:
    """The month (1..12) of fiscal year ``year`` that ``at`` falls in, in WIB; 0 before the year
    begins (nothing is available yet), 12 after it ends (what was left of December)."""
    local = at.astimezone(WIB)
    if local.year < year:
        return 0
    if local.year > year:
        return MONTHS
    return local.month


def months_of(amounts: Sequence[int]) -> list[int]:
    """Twelve monthly amounts from twelve months or four quarters (a quarter's in its first month)."""
    if len(amounts) == MONTHS:
        return list(amounts)
    if len(amounts) == QUARTERS:
        months = [0] * MONTHS
        for quarter, amount in enumerate(amounts):
            months[quarter * 3] = amount
        return months
    raise InvalidInput(
        f"a cash plan gives {MONTHS} monthly or {QUARTERS} quarterly amounts, got {len(amounts)}"
    )


@fast_triggers
class CashPlan(Aggregate):
    """Anggaran kas, SPD and their use for one SKPD and year (the SKPD's *kendali SPD*)."""

    @staticmethod
    def create_id(pemda: str, year: int, skpd: str) -> UUID:
        return ids.cash_plan_id(pemda, year, skpd)

    @classmethod
    def adopt(
        cls, pemda: str, year: int, skpd: str, document: str, plans: dict[str, list[int]], by: Stamp
    ) -> CashPlan:
        return cls(
            pemda=pemda, year=year, skpd=skpd, document=document, plans=plans, **by.recorded()
        )

    # -- derived state -------------------------------------------------------------------------
    def planned_through(self, month: int) -> Rupiah:
        """What the plan of every line holds for months 1..``month``."""
        return sum(sum(months[:month]) for months in self.plans.values())

    def issued_through(self, month: int) -> Rupiah:
        """SPD issued for periods that begin in months 1..``month``: what may be spent by then."""
        return sum(self.spd_by_month[:month])

    @property
    def issued(self) -> Rupiah:
        return sum(self.spd_by_month)

    @property
    def used(self) -> Rupiah:
        return self.committed + self.realised

    def available(self, month: int) -> Rupiah:
        return self.issued_through(month) - self.used

    # -- rules ---------------------------------------------------------------------------------
    def check_open(self, step: str) -> None:
        if self.closed:
            raise YearClosed(f"SKPD {self.skpd}: cannot {step}, the year {self.year} is closed")

    def check_amend(self, plans: Mapping[str, list[int]]) -> None:
        """The amended plan must still cover every SPD already issued, period by period."""
        self.check_open("amend the anggaran kas")
        merged = {**self.plans, **plans}
        for month in range(1, MONTHS + 1):
            planned = sum(sum(months[:month]) for months in merged.values())
            issued = sum(amount for first, last, amount in self._periods() if last <= month)
            if issued > planned:
                raise CashPlanMismatch(
                    f"SKPD {self.skpd}: the amended plan holds {planned} through month {month}, "
                    f"below the {issued} already released by SPD for those months"
                )

    def check_spd(self, number: str, first: int, last: int, amount: Rupiah) -> None:
        self.check_open("issue an SPD")
        if number in self.spd:
            raise AlreadyExists(f"SPD {number} is already issued to SKPD {self.skpd}")
        if len(self.spd) >= MAX_SPD_PER_YEAR:
            raise InvalidInput(f"SKPD {self.skpd} already holds {MAX_SPD_PER_YEAR} SPD this year")
        if not 1 <= first <= last <= MONTHS:
            raise InvalidInput(
                f"an SPD period runs from month 1..12 to a later one, got {first}..{last}"
            )
        # Through its last month and every later one (an SPD for an earlier period may come after
        # one for a later period: each is held to the plan through its own last month).
        periods = [*self._periods(), (first, last, amount)]
        for month in range(last, MONTHS + 1):
            issued = sum(spd for _, ends, spd in periods if ends <= month)
            planned = self.planned_through(month)
            if issued > planned:
                raise SpdExceeded(
                    f"SKPD {self.skpd}: SPD {number} of {amount} would release {issued} "
                    f"through month {month}, above the anggaran kas of {planned}"
                )

    def check_commit(self, commitment_id: UUID, amount: Rupiah, month: int) -> None:
        self.check_open("charge the SPD")
        if str(commitment_id) in self.open:
            raise InvalidInput(f"{commitment_id} is already charged to the SPD of SKPD {self.skpd}")
        available = self.available(month)
        if amount > available:
            raise SpdExceeded(
                f"SKPD {self.skpd}: {amount} would exceed the SPD available in month {month} "
                f"(released {self.issued_through(month)}, used {self.used}, available {available})"
            )

    def check_pay(self, commitment_id: UUID, amount: Rupiah, month: int) -> None:
        """Raise unless the SP2D of ``commitment_id`` may be paid in ``month``: its charge is within
        the SPD released by then (an SPP from before the year ran on SPD is charged now)."""
        self.check_open("pay out of the SPD")
        if not self.holds(commitment_id):
            self.check_commit(commitment_id, amount, month)
        elif self.used > self.issued_through(month):
            raise SpdExceeded(
                f"SKPD {self.skpd}: paying {commitment_id} would leave {self.used} used, above the "
                f"{self.issued_through(month)} released by SPD through month {month}"
            )

    def holds(self, commitment_id: UUID) -> bool:
        return str(commitment_id) in self.open

    def was_realised(self, commitment_id: UUID) -> bool:
        return str(commitment_id) in self.paid

    # -- commands ------------------------------------------------------------------------------
    def amend(self, document: str, plans: dict[str, list[int]], by: Stamp) -> None:
        self.check_amend(plans)
        self._amended(document=document, plans=plans, **by.recorded())

    def issue_spd(self, number: str, first: int, last: int, amount: Rupiah, by: Stamp) -> None:
        self.check_spd(number, first, last, amount)
        self._spd_issued(
            number=number, first_month=first, last_month=last, amount=amount, **by.recorded()
        )

    def commit(self, commitment_id: UUID, amount: Rupiah, month: int, by: Stamp) -> None:
        self.check_commit(commitment_id, amount, month)
        self._committed(commitment_id=str(commitment_id), amount=amount, **by.recorded())

    def release(self, commitment_id: UUID, by: Stamp) -> None:
        amount = self._open(commitment_id)
        self._released(commitment_id=str(commitment_id), amount=amount, **by.recorded())

    def pay(self, commitment_id: UUID, amount: Rupiah, month: int, by: Stamp) -> None:
        """The SP2D: the charge becomes spending (charged first if the SPP predates the SPD)."""
        self.check_pay(commitment_id, amount, month)
        if not self.holds(commitment_id):
            self._committed(commitment_id=str(commitment_id), amount=amount, **by.recorded())
        amount = self._open(commitment_id)
        self._realised(commitment_id=str(commitment_id), amount=amount, **by.recorded())

    def reverse(self, commitment_id: UUID, by: Stamp) -> None:
        """A withdrawn SP2D gives its amount back to the SPD."""
        try:
            amount = self.paid[str(commitment_id)]
        except KeyError:
            raise InvalidInput(f"{commitment_id} holds no realised SPD charge") from None
        self._reversed(commitment_id=str(commitment_id), amount=amount, **by.recorded())

    def close(self, document: str, by: Stamp) -> None:
        """Tutup tahun: every charge has lapsed; no SPD is issued nor charged any more."""
        self.check_open("close the SPD register")
        if self.committed:
            raise InvalidInput(f"SKPD {self.skpd}: {self.committed} is still charged to the SPD")
        self._closed(document=document, **by.recorded())

    def _open(self, commitment_id: UUID) -> Rupiah:
        try:
            return self.open[str(commitment_id)]
        except KeyError:
            raise InvalidInput(
                f"SKPD {self.skpd}: {commitment_id} holds no open charge on its SPD"
            ) from None

    def _periods(self) -> list[tuple[int, int, int]]:
        return [(p["first_month"], p["last_month"], p["amount"]) for p in self.spd.values()]

    # -- facts ---------------------------------------------------------------------------------
    @event("Adopted")
    def __init__(
        self,
        pemda: str,
        year: int,
        skpd: str,
        document: str,
        plans: dict[str, list[int]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.skpd = skpd
        self.documents = [document]
        self.plans: dict[str, list[int]] = {k: list(v) for k, v in plans.items()}
        self.spd: dict[str, dict[str, Any]] = {}
        self.spd_by_month = [0] * MONTHS
        self.committed = 0
        self.realised = 0
        self.open: dict[str, Rupiah] = {}
        self.paid: dict[str, Rupiah] = {}
        self.closed = False

    @event("Amended")
    def _amended(
        self,
        document: str,
        plans: dict[str, list[int]],
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.documents.append(document)
        self.plans.update({k: list(v) for k, v in plans.items()})

    @event("SpdIssued")
    def _spd_issued(
        self,
        number: str,
        first_month: int,
        last_month: int,
        amount: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.spd[number] = {"first_month": first_month, "last_month": last_month, "amount": amount}
        self.spd_by_month[first_month - 1] += amount

    @event("Charged")
    def _committed(
        self, commitment_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.committed += amount
        self.open[commitment_id] = amount

    @event("ChargeReleased")
    def _released(
        self, commitment_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.committed -= amount
        del self.open[commitment_id]

    @event("ChargeRealised")
    def _realised(
        self, commitment_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.committed -= amount
        self.realised += amount
        del self.open[commitment_id]
        self.paid[commitment_id] = amount

    @event("ChargeReversed")
    def _reversed(
        self, commitment_id: str, amount: Rupiah, actor_id: str, actor_role: str, at: datetime
    ) -> None:
        self.realised -= amount
        del self.paid[commitment_id]

    @event("Closed")
    def _closed(self, document: str, actor_id: str, actor_role: str, at: datetime) -> None:
        self.closed = True


def check_plan_total(line: str, months: list[int], pagu: Rupiah) -> None:
    """A line's anggaran kas spreads exactly its pagu over the year (Permendagri 77/2020)."""
    total = sum(months)
    if total != pagu or total > MAX_TOTAL:
        raise CashPlanMismatch(
            f"line {line}: the anggaran kas adds up to {total}, not to its pagu of {pagu}"
        )
