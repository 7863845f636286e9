"""The plan of the year from a seed: which lines and vendors have a part to play, how every
lifecycle ends, the pagu of each line, then the stories, the refusals and the income."""

from __future__ import annotations

import random

from kasda.demo.admin import BudgetChanges
from kasda.demo.chart import AMOUNTS
from kasda.demo.income import Income
from kasda.demo.payments import Payments
from kasda.demo.people import People
from kasda.demo.schemes import Schemes
from kasda.demo.state import Calendar
from kasda.demo.stories import Stories
from kasda.demo.world import Line, million_up
from ledger.roles import Actor, Role

# How lifecycles end besides "settled": share of all lifecycles, at least one of each.
SPECIAL_OUTCOMES = {
    "reject_verify": 0.030,
    "reject_approve": 0.020,
    "reject_authorise": 0.012,
    "cancel_requested": 0.010,
    "cancel_verified": 0.006,
    "cancel_approved": 0.005,
    "cancel_authorised": 0.004,
    "fail_resend": 0.012,
    "returned": 0.006,
    "fail_cancel": 0.0,  # exactly one: failed, vendor's account changed, SP2D withdrawn, paid again
    "account_changed": 0.0,  # exactly one: account changed after SP2D, transfer refused, re-issued
}


class Planner:
    """Plans the whole year from the seed, through the parts that hold it."""

    def __init__(
        self,
        rng: random.Random,
        calendar: Calendar,
        people: People,
        payments: Payments,
        stories: Stories,
        income: Income,
        schemes: Schemes,
    ) -> None:
        self.rng, self.calendar, self.people = rng, calendar, people
        self.payments, self.stories, self.income = payments, stories, income
        self.schemes = schemes
        self.changes: BudgetChanges = stories.changes

    def plan(self, n: int) -> None:
        """``n`` lifecycles and the stories around them, every command scheduled."""
        spending = [x for x in self.people.lines if x.rekening is not None]
        blocked = self._lines_with_a_part(spending)
        eligible = [x for x in spending if x.special != "blocked"]
        late = self.calendar.day_of(11, 20)  # anything but a plain payment starts early enough
        self._lifecycles(n, eligible, late)
        self._vendors_with_a_part(spending, late)
        # Scripted stories: the blokir, and an acting PPTK who is also the unit's PPK.
        self.stories.blocked_story(blocked)
        self._acting_pptk(eligible)
        for lc in list(self.payments.lifecycles):
            self.payments.schedule(lc)
        self.schemes.plan()  # the red-flag schemes, each a few times (``schemes``)
        self._pagu(spending)
        self.stories.budget_events()
        self.stories.demonstrations()
        self.payments.clear_of_account_changes()
        self.income.plan()

    def _lines_with_a_part(self, spending: list[Line]) -> Line:
        """The line the blokir story blocks (returned), the pergeseran's and the APBD-P's."""
        blocked = next(
            x for x in spending if x.skpd.short == "DISDIK" and x.category == "konstruksi"
        )
        blocked.special = "blocked"
        pick = self.rng.sample([x for x in spending if x.special == ""], 2 + 2 + 10 + 8)
        changes = self.changes
        changes.shifts = [(pick[0], pick[1]), (pick[2], pick[3])]
        for source, target in changes.shifts:
            source.special, target.special = "shift_from", "shift_to"
        changes.raised, changes.cut = pick[4:14], pick[14:]
        for x in changes.raised:
            x.special = "raised"
        for x in changes.cut:
            x.special = "cut"
        return blocked

    def _lifecycles(self, n: int, eligible: list[Line], late: int) -> None:
        """At least one of each way a payment can end; the rest are paid in full."""
        rng = self.rng
        outcomes = [
            kind
            for kind, share in SPECIAL_OUTCOMES.items()
            for _ in range(max(1, round(share * n)))
        ]
        outcomes += ["settled"] * max(0, n - len(outcomes))
        rng.shuffle(outcomes)
        weights = [AMOUNTS[x.category][2] for x in eligible]
        for outcome in outcomes:
            line = rng.choices(eligible, weights=weights)[0]
            day = self.payments.request_day(None if outcome == "settled" else late)
            self.payments.lifecycle(line, day, outcome)

    def _vendors_with_a_part(self, spending: list[Line], late: int) -> None:
        """Two vendors change their bank account, one is blacklisted. Nothing paid to them may be
        in flight across that change (resends after a failure especially). Each of them is a
        vendor of a kind with others to turn to: a payment in flight across the change goes to
        another vendor of the kind (``Payments.clear_of_account_changes``)."""
        payments, pool = self.payments, self.people.pool
        for story in ("fail_cancel", "account_changed"):
            lc = next(x for x in payments.lifecycles if x.outcome == story)
            if len(pool[lc.vendor.category]) < 3:
                other = next(
                    x for x in payments.lifecycles
                    if x.outcome == "settled" and x.day <= late and len(pool[x.vendor.category]) >= 3
                )  # fmt: skip
                lc.outcome, other.outcome = other.outcome, lc.outcome
        fail_cancel = next(lc for lc in payments.lifecycles if lc.outcome == "fail_cancel")
        changed = next(lc for lc in payments.lifecycles if lc.outcome == "account_changed")
        if changed.vendor is fail_cancel.vendor:
            changed.vendor = payments.other_vendor(changed.vendor)
        payments.switching = switching = {id(fail_cancel.vendor), id(changed.vendor)}
        payments.deactivate_day = self.calendar.day_of(10, 15)
        # The SPP refused for the blacklisted vendor needs a plain line of the vendor's kind.
        plain = {x.category for x in spending if x.special == ""}
        payments.deactivated = self.rng.choice(
            [
                v for v in self.people.vendors
                if id(v) not in switching
                and sum(id(x) not in switching for x in pool[v.category]) >= 3
                and v.category != "media" and v.category in plain
            ]
        )  # fmt: skip
        for lc in payments.lifecycles:
            if lc.outcome == "fail_resend" and id(lc.vendor) in switching:
                lc.vendor = payments.other_vendor(lc.vendor)
            if not payments.vendor_free(lc.vendor, lc.day):
                lc.vendor = payments.other_vendor(lc.vendor)

    def _acting_pptk(self, eligible: list[Line]) -> None:
        """An SPP made by the unit's PPK as acting (Plt.) PPTK, verified by another PPK."""
        skpd = next(s for s in self.people.skpds if len(s.ppk) >= 2)
        line = next(x for x in eligible if x.skpd is skpd and x.special == "")
        lc = self.payments.lifecycle(line, self.calendar.day_of(3, 2))
        lc.maker = Actor(skpd.ppk[0].user_id, Role.PPTK, skpd.code)
        lc.verifier = skpd.ppk[1]
        lc.note = " (SPP oleh Plt. PPTK)"
        self.payments.acting_pptk = lc

    def _pagu(self, spending: list[Line]) -> None:
        """What the plan spends on each line and some room that nobody uses; income targets in
        proportion to spending."""
        rng = self.rng
        for line in spending:
            planned = line.planned_gross or self.payments.gross(line.category)
            line.pagu = million_up(planned * rng.randint(105, 140) // 100)
        shares = {code: share for s in self.people.skpds for code, _u, share in s.spec.income}
        income = sum(x.pagu for x in spending) * rng.randint(102, 106) // 100
        for line in self.people.lines:
            if line.rekening is None:
                line.pagu = million_up(income * shares[line.code] // sum(shares.values()))
