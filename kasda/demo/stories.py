"""Scripted stories: the blokir of a works line, the pergeseran and the APBD-P with the payments
they make room for, and the commands the ledger must refuse, each in a realistic place."""

from __future__ import annotations

import random
from functools import partial

from kasda.demo.admin import AdminCommands, BudgetChanges
from kasda.demo.lifecycle import Lifecycle
from kasda.demo.payments import Payments
from kasda.demo.state import Calendar, Schedule
from kasda.demo.world import Line, Slot, million_down, million_up
from ledger.errors import (
    AlreadyExists,
    LineBlocked,
    PaguExceeded,
    RoleNotPermitted,
    SkpdScope,
    VendorNotPayable,
)
from ledger.roles import Actor, Role


class Stories:
    """Scripted stories: the blokir, the APBD's changes, and commands the ledger must refuse."""

    def __init__(
        self,
        rng: random.Random,
        calendar: Calendar,
        schedule: Schedule,
        admin: AdminCommands,
        payments: Payments,
    ) -> None:
        self.rng, self.calendar, self.add = rng, calendar, schedule.add
        self.admin, self.payments = admin, payments
        self.changes: BudgetChanges = admin.changes
        self.blocked: Lifecycle | None = None  # the SPM that waits out the blokir of its line
        self.unblock_day = 0
        self.amend_day = 0

    def blocked_story(self, line: Line) -> None:
        """Blokir: a works line is blocked for an Inspektorat review while an SPM waits for its
        SP2D; the SP2D and a new SPP on the line are refused; after the review the SP2D is issued
        (``demonstrations`` schedules it, once every other lifecycle is scheduled)."""
        admin, payments, day_of = self.admin.admins[1], self.payments, self.calendar.day_of
        request_day = day_of(4, 6)
        self.blocked = lc = payments.lifecycle(line, request_day, "blocked")
        block_day, self.unblock_day = request_day + 5, day_of(6, 3)
        self.add(block_day, Slot.ADMIN, partial(self.admin.block, line=line, actor=admin))
        self.add(block_day, Slot.SP2D, lc.authorise, LineBlocked)
        probe = payments.lifecycle(line, block_day + 2, "refused", planned=False)
        self.add(block_day + 2, Slot.REQUEST, partial(probe.request, refused=True), LineBlocked)
        self.add(self.unblock_day, Slot.ADMIN, partial(self.admin.unblock, line=line, actor=admin))
        for day in (self.unblock_day + 10, day_of(9, 1)):
            payments.lifecycle(line, day)

    def budget_events(self) -> None:
        """The APBD and the vendors' registration; two pergeseran; the APBD-P; a blacklisting."""
        admin, payments = self.admin, self.payments
        self.add(0, Slot.ADMIN, admin.adopt)
        for n, vendor in enumerate(admin.people.vendors):
            self.add(n // 40, Slot.VERIFY, partial(admin.register, vendor=vendor))
        self._shifts()
        self._amendment()
        # A vendor put on the LKPP blacklist is deactivated (an SPP to it is refused later).
        assert payments.deactivated is not None, "the plan blacklists a vendor first"
        deactivate = partial(admin.deactivate, vendor=payments.deactivated)
        self.add(payments.deactivate_day, Slot.ADMIN, deactivate)

    def _shifts(self) -> None:
        """Pergeseran: pagu moved to a line that then pays for more work."""
        for (source, target), (month, dom), number in zip(
            self.changes.shifts, ((4, 20), (8, 10)), (21, 47), strict=True
        ):
            day = self.calendar.day_of(month, dom)
            amount = max(million_down(source.slack * self.rng.randint(30, 60) // 100), 10_000_000)
            if source.slack < amount:  # too little room: the DPA gave this line some more
                source.pagu += amount
            shift = partial(
                self.admin.shift, source=source, target=target, amount=amount, number=number
            )
            self.add(day, Slot.ADMIN, shift)
            self.extras(target, day, amount * 9 // 10)

    def _amendment(self) -> None:
        """APBD-P: raises that pay for more work, cuts of what will not be spent, new lines."""
        rng, changes, gross = self.rng, self.changes, self.payments.gross
        self.amend_day = self.calendar.day_of(10, 1)
        for line in changes.raised:
            spent = self.extras(line, self.amend_day, gross(line.category) * rng.randint(1, 2))
            changes.raises[id(line)] = million_up(spent * 11 // 10)
        for line in changes.cut:
            cut = million_down(line.slack * rng.randint(30, 60) // 100)
            if cut >= 1_000_000:
                changes.cuts[id(line)] = line.pagu - cut
        for line in self.admin.people.new_lines:
            spent = self.extras(line, self.amend_day, gross(line.category) * rng.randint(1, 3))
            line.pagu = million_up(spent * rng.randint(110, 130) // 100)
        self.add(self.amend_day, Slot.ADMIN, self.admin.amend)

    def extras(self, line: Line, after: int, budget: int) -> int:
        """One or two payments on ``line`` after day ``after``, together at most ``budget``."""
        count = self.rng.randint(1, 2)
        each = max(budget // count // 1_000 * 1_000, 1_000_000)
        latest, spent = self.calendar.day_of(12, 10), 0
        for _ in range(count):
            day = min(after + self.rng.randint(1, 25), latest)
            lc = self.payments.lifecycle(line, day, gross=each)
            self.payments.schedule(lc)
            spent += lc.gross
        return spent

    def demonstrations(self) -> None:
        """Commands the ledger must refuse, each in a realistic place in the year."""
        rng, payments, day_of = self.rng, self.payments, self.calendar.day_of
        normal = [
            lc for lc in payments.lifecycles
            if lc.outcome == "settled" and lc.line.special == "" and lc is not payments.acting_pptk
            and not lc.note and not lc.scheme and day_of(2, 2) <= lc.day <= day_of(11, 2)
        ]  # fmt: skip
        # A PPTK tries to verify an SPP of their unit (before the PPK does): only a PPK may.
        lc = rng.choice(normal)
        wrong = Actor(lc.skpd.pptk[-1].user_id, Role.PPTK, lc.skpd.code)
        self.add(lc.verify_day, Slot.REQUEST, partial(lc.verify, actor=wrong), RoleNotPermitted)
        # A PPTK of another unit tries to withdraw that SPP: officials act for their own SKPD.
        stranger = next(s for s in self.admin.people.skpds if s is not lc.skpd).pptk[0]
        withdraw = partial(lc.cancel, actor=stranger, reason="SPP ganda")
        self.add(lc.verify_day, Slot.REQUEST, withdraw, SkpdScope)
        # The same SPP keyed in again under a new idempotency key: its number is taken. The line
        # gets room for it, so that it is the number that refuses it.
        original = rng.choice([x for x in normal if x is not lc])
        original.line.pagu += original.gross
        twin = payments.lifecycle(
            original.line, original.day + 1, gross=original.gross, planned=False
        )
        twin.documents = original.documents
        self.add(twin.day, Slot.ADMIN, partial(twin.duplicate, of=original), AlreadyExists)
        # An SPP above what is left of its line's pagu.
        over = rng.choice([x for x in normal if x.line is not original.line])
        probe = payments.lifecycle(over.line, day_of(7, 6), planned=False)
        self.add(probe.day, Slot.REQUEST, probe.over_pagu, PaguExceeded)
        self._to_the_blacklisted_vendor()
        # The blokir story's SP2D, once the line is open again; from there a normal life.
        assert self.blocked is not None, "the blokir story comes first"
        self.blocked.outcome = "settled"
        payments.from_sp2d(self.blocked, self.unblock_day)

    def _to_the_blacklisted_vendor(self) -> None:
        """An SPP to the blacklisted vendor, on a plain line of its kind."""
        payments, deactivated = self.payments, self.payments.deactivated
        assert deactivated is not None, "the plan blacklists a vendor first"
        line = next(
            x for x in self.admin.people.lines
            if x.rekening is not None and x.category == deactivated.category and not x.special
        )  # fmt: skip
        probe = payments.lifecycle(
            line, payments.deactivate_day + 2, gross=5_000_000, planned=False
        )
        probe.vendor = deactivated
        self.add(probe.day, Slot.REQUEST, partial(probe.request, refused=True), VendorNotPayable)
