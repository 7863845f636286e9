"""Scripted stories: the blokir of a works line, the pergeseran and the APBD-P with the payments
they make room for, and the commands the ledger must refuse, each in a realistic place."""

from __future__ import annotations

from functools import partial

from kasda.demo.payments import Payments
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


class Stories(Payments):
    """Scripted stories: the blokir, the APBD's changes, and commands the ledger must refuse."""

    def _blocked_story(self) -> None:
        """Blokir: a works line is blocked for an Inspektorat review while an SPM waits for its
        SP2D; the SP2D and a new SPP on the line are refused; after the review the SP2D is issued
        (``_demonstrations`` schedules it, once every other lifecycle is scheduled)."""
        line, admin = self.blocked_line, self.admins[1]
        request_day = self.day_of(4, 6)
        self.blocked_lc = lc = self._lifecycle(line, request_day, "blocked")
        block_day, self.unblock_day = request_day + 5, self.day_of(6, 3)
        self.add(block_day, Slot.ADMIN, partial(self.block, line=line, actor=admin))
        self.add(block_day, Slot.SP2D, lc.authorise, LineBlocked)
        probe = self._lifecycle(line, block_day + 2, "refused", planned=False)
        self.add(block_day + 2, Slot.REQUEST, partial(probe.request, refused=True), LineBlocked)
        self.add(self.unblock_day, Slot.ADMIN, partial(self.unblock, line=line, actor=admin))
        for day in (self.unblock_day + 10, self.day_of(9, 1)):
            self._lifecycle(line, day)

    def _budget_events(self) -> None:
        rng = self.rng
        self.add(0, Slot.ADMIN, self.adopt)
        for n, vendor in enumerate(self.vendors):
            self.add(n // 40, Slot.VERIFY, partial(self.register, vendor=vendor))
        # Pergeseran: pagu moved to a line that then pays for more work.
        for (source, target), (month, dom), number in zip(
            self.shifts, ((4, 20), (8, 10)), (21, 47), strict=True
        ):
            day = self.day_of(month, dom)
            amount = max(million_down(source.slack * rng.randint(30, 60) // 100), 10_000_000)
            if source.slack < amount:  # too little room: the DPA gave this line some more
                source.pagu += amount
            shift = partial(self.shift, source=source, target=target, amount=amount, number=number)
            self.add(day, Slot.ADMIN, shift)
            self._extras(target, day, amount * 9 // 10)
        # APBD-P: raises that pay for more work, cuts of what will not be spent, new lines.
        self.amend_day = self.day_of(10, 1)
        self.raises: dict[int, int] = {}
        for line in self.raised:
            spent = self._extras(
                line, self.amend_day, self._gross(line.category) * rng.randint(1, 2)
            )
            self.raises[id(line)] = million_up(spent * 11 // 10)
        self.cuts: dict[int, int] = {}
        for line in self.cut:
            cut = million_down(line.slack * rng.randint(30, 60) // 100)
            if cut >= 1_000_000:
                self.cuts[id(line)] = line.pagu - cut
        for line in self.new_lines:
            spent = self._extras(
                line, self.amend_day, self._gross(line.category) * rng.randint(1, 3)
            )
            line.pagu = million_up(spent * rng.randint(110, 130) // 100)
        self.add(self.amend_day, Slot.ADMIN, self.amend)
        # A vendor put on the LKPP blacklist is deactivated (an SPP to it is refused later).
        self.add(self.deactivate_day, Slot.ADMIN, partial(self.deactivate, vendor=self.deactivated))

    def _extras(self, line: Line, after: int, budget: int) -> int:
        """One or two payments on ``line`` after day ``after``, together at most ``budget``."""
        count = self.rng.randint(1, 2)
        each = max(budget // count // 1_000 * 1_000, 1_000_000)
        latest, spent = self.day_of(12, 10), 0
        for _ in range(count):
            lc = self._lifecycle(line, min(after + self.rng.randint(1, 25), latest), gross=each)
            self._schedule(lc)
            spent += lc.gross
        return spent

    def _demonstrations(self) -> None:
        """Commands the ledger must refuse, each in a realistic place in the year."""
        rng = self.rng
        normal = [
            lc for lc in self.lifecycles
            if lc.outcome == "settled" and lc.line.special == "" and lc is not self.plt
            and not lc.note and self.day_of(2, 2) <= lc.day <= self.day_of(11, 2)
        ]  # fmt: skip
        # A PPTK tries to verify an SPP of their unit (before the PPK does): only a PPK may.
        lc = rng.choice(normal)
        wrong = Actor(lc.skpd.pptk[-1].user_id, Role.PPTK, lc.skpd.code)
        self.add(lc.verify_day, Slot.REQUEST, partial(lc.verify, actor=wrong), RoleNotPermitted)
        # A PPTK of another unit tries to withdraw that SPP: officials act for their own SKPD.
        stranger = next(s for s in self.skpds if s is not lc.skpd).pptk[0]
        withdraw = partial(lc.cancel, actor=stranger, reason="SPP ganda")
        self.add(lc.verify_day, Slot.REQUEST, withdraw, SkpdScope)
        # The same SPP keyed in again under a new idempotency key: its number is taken. The line
        # gets room for it, so that it is the number that refuses it.
        original = rng.choice([x for x in normal if x is not lc])
        original.line.pagu += original.gross
        twin = self._lifecycle(original.line, original.day + 1, gross=original.gross, planned=False)
        twin.documents = original.documents
        self.add(twin.day, Slot.ADMIN, partial(twin.duplicate, of=original), AlreadyExists)
        # An SPP above what is left of its line's pagu.
        over = rng.choice([x for x in normal if x.line is not original.line])
        probe = self._lifecycle(over.line, self.day_of(7, 6), planned=False)
        self.add(probe.day, Slot.REQUEST, probe.over_pagu, PaguExceeded)
        # An SPP to the blacklisted vendor.
        line = next(
            x for x in self.lines
            if x.rekening is not None and x.category == self.deactivated.category and not x.special
        )  # fmt: skip
        probe = self._lifecycle(line, self.deactivate_day + 2, gross=5_000_000, planned=False)
        probe.vendor = self.deactivated
        self.add(probe.day, Slot.REQUEST, partial(probe.request, refused=True), VendorNotPayable)
        # The blokir story's SP2D, once the line is open again; from there a normal life.
        self.blocked_lc.outcome = "settled"
        self._from_sp2d(self.blocked_lc, self.unblock_day)
