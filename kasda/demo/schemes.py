"""The schemes the red-flag rules look for (docs/red-flags.md), planted a few times in the year.

Each ``Planted`` case names its scheme, the rule that should flag it, and the payments and vendors a
flag of that rule must name: the summary prints them, and tests/test_demo_redflags.py checks that
every case whose rule is registered is flagged. The cases are drawn from a random stream of their
own, so that the rest of the year is drawn from the seed as it was before they were planted; they
go through the demo's own commands and clock (``Schedule.add_at`` for a night or a Sunday).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial

from kasda.demo.admin import AdminCommands
from kasda.demo.lifecycle import Lifecycle
from kasda.demo.payments import Payments
from kasda.demo.pemda import HOLIDAYS, KPP_BANDUNG, PEMDA, WIB, YEAR
from kasda.demo.people import People
from kasda.demo.state import Calendar, Schedule
from kasda.demo.world import Line, Slot, Vendor
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.vendor import normalise_npwp

DIRECT_PROCUREMENT = 200_000_000  # Perpres 12/2021: goods, construction and other services


@dataclass(frozen=True)
class Case:
    """A planted case once the year is built: what a flag of ``rule`` must name to find it."""

    scheme: str
    rule: str
    match: str  # "payments": every planted payment; "vendors": every planted vendor; "skpd"
    spp_numbers: tuple[str, ...]
    disbursement_ids: tuple[str, ...]
    vendor_ids: tuple[str, ...]
    skpd: str


@dataclass(eq=False)
class Planted:
    scheme: str
    rule: str
    match: str
    payments: list[Lifecycle] = field(default_factory=list)
    vendors: list[Vendor] = field(default_factory=list)
    skpd: str = ""

    def case(self) -> Case:
        return Case(
            self.scheme, self.rule, self.match,
            tuple(lc.spp for lc in self.payments),
            tuple(str(lc.id) for lc in self.payments),
            tuple(str(ids.vendor_id(PEMDA, normalise_npwp(v.npwp))) for v in self.vendors),
            self.skpd,
        )  # fmt: skip


class Schemes:
    """Plants each scheme in the year, through the demo's lifecycles, commands and clock."""

    def __init__(
        self,
        seed: int,
        calendar: Calendar,
        schedule: Schedule,
        people: People,
        admin: AdminCommands,
        payments: Payments,
    ) -> None:
        self.rng = random.Random(f"kasda demo schemes {seed}")
        self.calendar, self.schedule, self.people = calendar, schedule, people
        self.admin, self.payments = admin, payments
        self.planted: list[Planted] = []
        self._invoices = 0

    def cases(self) -> list[Case]:
        return [p.case() for p in self.planted]

    # -- the pieces a case is made of ------------------------------------------------------------
    def line(self, *categories: str, skpd: str | None = None) -> Line:
        plain = [
            x for x in self.people.lines
            if x.rekening is not None and x.special == "" and x.category in categories
            and (skpd is None or x.skpd.short == skpd)
        ]  # fmt: skip
        return self.rng.choice(plain)

    def vendor(self, category: str, *, avoid: tuple[Vendor, ...] = ()) -> Vendor:
        """A vendor of ``category`` with no story of its own (no change of account, no blacklist)."""
        p = self.payments
        free = [
            v for v in self.people.pool[category]
            if id(v) not in p.switching and v is not p.deactivated and v not in avoid
        ]  # fmt: skip
        return self.rng.choice(free)

    def new_vendor(
        self, name: str, category: str, account: tuple[str, str] | None = None
    ) -> Vendor:
        taken = {normalise_npwp(v.npwp) for v in self.people.vendors}
        npwp = ""
        while not npwp or npwp in taken:
            npwp = f"{self.rng.randint(10, 99)}{self.rng.randrange(10**7):07d}"
            npwp += f"{self.rng.choice(KPP_BANDUNG)}000"
        bank, number = account or ("110", self.account())  # bank bjb: 13 digits
        return Vendor(name, category, npwp, bank, number)

    def account(self) -> str:
        return str(self.rng.randint(1, 9)) + "".join(str(self.rng.randrange(10)) for _ in range(12))

    def gross(self, low: int, high: int) -> int:
        return self.rng.randrange(low // 1_000, high // 1_000) * 1_000

    def payment(
        self, case: Planted, line: Line, vendor: Vendor, gross: int, day: int, invoice: str = ""
    ) -> Lifecycle:
        """A payment of the case, planned (the line's pagu makes room for it) but not scheduled."""
        skpd, rng = line.skpd, self.rng
        lc = Lifecycle(
            books=self.payments, line=line, vendor=vendor, gross=gross, day=day,
            outcome="settled", maker=line.pptk, verifier=rng.choice(skpd.ppk),
            approver=rng.choice(skpd.pa), authoriser=rng.choice(self.people.kuasa_bud),
            scheme=case.scheme,
        )  # fmt: skip
        self._invoices += 1
        n, month = self._invoices, self.calendar.month(day)
        lc.documents = {
            "kontrak": f"{n:03d}/SPK-PL/{skpd.short}/{month:02d}/{YEAR}",
            "faktur": invoice
            or f"INV/{YEAR}/{skpd.short}/{normalise_npwp(vendor.npwp)[-6:-3]}/{9000 + n}",
            "bast": f"{n:03d}/BAST-PL/{skpd.short}/{month:02d}/{YEAR}",
        }
        if vendor.category == "media":
            lc.documents["bukti_tayang"] = f"BT/{skpd.short}/{9000 + n}/{YEAR}"
        line.planned.append(lc)
        self.payments.lifecycles.append(lc)
        case.payments.append(lc)
        return lc

    def play(self, lc: Lifecycle, gaps: tuple[int, int, int] = (1, 1, 1), **at: datetime) -> None:
        """Request, verify, approve and authorise ``lc``, ``gaps`` working days apart, or at the
        moments of ``at`` (verify=, approve=, authorise=); paid at the next SEND slot."""
        add, day = self.schedule.add, lc.day
        add(day, Slot.REQUEST, lc.request)
        steps = (("verify", Slot.VERIFY, lc.verify), ("approve", Slot.SPM, lc.approve),
                 ("authorise", Slot.SP2D, lc.authorise))  # fmt: skip
        for (name, slot, build), gap in zip(steps, gaps, strict=True):
            day += gap
            if name in at:
                self.schedule.add_at(at[name], build)
                day = self.calendar.slot_before(at[name])[0]
            else:
                add(day, slot, build)
        lc.verify_day, lc.sp2d_day = lc.day + gaps[0], day

    def case(self, scheme: str, rule: str, match: str = "payments") -> Planted:
        case = Planted(scheme, rule, match)
        self.planted.append(case)
        return case

    def wib(self, day: date, hour: int, minute: int) -> datetime:
        return datetime.combine(day, time(hour, minute), WIB)

    # -- the schemes -----------------------------------------------------------------------------
    def plan(self) -> None:
        """Every scheme, after the year's own lifecycles are scheduled and before the pagu."""
        from kasda.demo.scheme_plans import plant_all

        plant_all(self)

    def change_account(
        self, _ledger: Ledger, key: str, *, vendor: Vendor, to: tuple[str, str], reason: str
    ) -> c.Command:
        vendor.bank_code, vendor.account = to
        return c.ChangeVendorBankAccount(
            idempotency_key=key, actor=self.admin.admins[1], pemda=PEMDA, npwp=vendor.npwp,
            bank_code=to[0], account_number=to[1], account_holder=vendor.name, reason=reason,
        )  # fmt: skip

    def register(self, vendor: Vendor, day: int) -> None:
        self.schedule.add(day, Slot.ADMIN, partial(self.admin.register, vendor=vendor))

    def fridays(self, month: int) -> list[int]:
        """Working days of ``month`` that are Fridays followed by a working Monday."""
        days = self.calendar.days
        return [
            i for i, d in enumerate(days[:-1])
            if d.month == month and d.weekday() == 4 and days[i + 1] == d + timedelta(days=3)
        ]  # fmt: skip

    def holiday(self) -> tuple[int, date]:
        """A national holiday between February and November and the working day before it."""
        day = self.rng.choice(sorted(h for h in HOLIDAYS if 2 <= h.month <= 11))
        before = max(i for i, d in enumerate(self.calendar.days) if d < day)
        return before, day
