"""The plan of the year from a seed: which lines and vendors have a part to play, how every
lifecycle ends, the pagu of each line, then the stories, the refusals and the income."""

from __future__ import annotations

from kasda.demo.chart import AMOUNTS
from kasda.demo.income import Income
from kasda.demo.world import million_up
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


class Plan(Income):
    """The whole plan of the year, from the seed."""

    # -- the plan ------------------------------------------------------------------------------
    def _plan(self, n: int) -> None:
        rng = self.rng
        spending = [x for x in self.lines if x.rekening is not None]
        # Lines with a part to play.
        self.blocked_line = next(
            x for x in spending if x.skpd.short == "DISDIK" and x.category == "konstruksi"
        )
        self.blocked_line.special = "blocked"
        pick = rng.sample([x for x in spending if x.special == ""], 2 + 2 + 10 + 8)
        self.shifts = [(pick[0], pick[1]), (pick[2], pick[3])]
        for source, target in self.shifts:
            source.special, target.special = "shift_from", "shift_to"
        self.raised, self.cut = pick[4:14], pick[14:]
        for x in self.raised:
            x.special = "raised"
        for x in self.cut:
            x.special = "cut"

        # Outcomes: at least one of each way a payment can end; the rest are paid in full.
        outcomes = [
            kind
            for kind, share in SPECIAL_OUTCOMES.items()
            for _ in range(max(1, round(share * n)))
        ]
        outcomes += ["settled"] * max(0, n - len(outcomes))
        rng.shuffle(outcomes)
        eligible = [x for x in spending if x.special != "blocked"]
        weights = [AMOUNTS[x.category][2] for x in eligible]
        late = self.day_of(11, 20)  # anything but a plain payment starts early enough to finish
        self.switching: set[int] = set()
        for outcome in outcomes:
            line = rng.choices(eligible, weights=weights)[0]
            self._lifecycle(
                line, self._request_day(None if outcome == "settled" else late), outcome
            )

        # Vendors with a part to play: two change their bank account, one is blacklisted. Nothing
        # paid to them may be in flight across that change (resends after a failure especially).
        # Each of them pays a vendor of a kind with others to turn to: a payment in flight across
        # the change goes to another vendor of the kind (``_clear_of_account_changes``).
        for story in ("fail_cancel", "account_changed"):
            lc = next(x for x in self.lifecycles if x.outcome == story)
            if len(self.pool[lc.vendor.category]) < 3:
                other = next(
                    x for x in self.lifecycles
                    if x.outcome == "settled" and x.day <= late
                    and len(self.pool[x.vendor.category]) >= 3
                )  # fmt: skip
                lc.outcome, other.outcome = other.outcome, lc.outcome
        fail_cancel = next(lc for lc in self.lifecycles if lc.outcome == "fail_cancel")
        changed = next(lc for lc in self.lifecycles if lc.outcome == "account_changed")
        if changed.vendor is fail_cancel.vendor:
            changed.vendor = self._other_vendor(changed.vendor)
        self.switching = {id(fail_cancel.vendor), id(changed.vendor)}
        self.deactivate_day = self.day_of(10, 15)
        # The SPP refused for the blacklisted vendor needs a plain line of the vendor's kind.
        plain = {x.category for x in spending if x.special == ""}
        self.deactivated = rng.choice(
            [
                v for v in self.vendors
                if id(v) not in self.switching
                and sum(id(x) not in self.switching for x in self.pool[v.category]) >= 3
                and v.category != "media" and v.category in plain
            ]
        )  # fmt: skip
        for lc in self.lifecycles:
            if lc.outcome == "fail_resend" and id(lc.vendor) in self.switching:
                lc.vendor = self._other_vendor(lc.vendor)
            if not self._vendor_free(lc.vendor, lc.day):
                lc.vendor = self._other_vendor(lc.vendor)

        # Scripted stories: the blokir, and an acting PPTK who is also the unit's PPK.
        self._blocked_story()
        plt_skpd = next(s for s in self.skpds if len(s.ppk) >= 2)
        plt_line = next(x for x in eligible if x.skpd is plt_skpd and x.special == "")
        self.plt = self._lifecycle(plt_line, self.day_of(3, 2))
        self.plt.maker = Actor(plt_skpd.ppk[0].user_id, Role.PPTK, plt_skpd.code)
        self.plt.verifier = plt_skpd.ppk[1]
        self.plt.note = " (SPP oleh Plt. PPTK)"

        for lc in list(self.lifecycles):
            self._schedule(lc)

        # Pagu: what the plan spends on each line and some room that nobody uses.
        for line in spending:
            planned = line.planned_gross or self._gross(line.category)
            line.pagu = million_up(planned * rng.randint(105, 140) // 100)
        shares = {code: share for s in self.skpds for code, _u, share in s.spec.income}
        income = sum(x.pagu for x in spending) * rng.randint(102, 106) // 100
        for line in self.lines:
            if line.rekening is None:
                line.pagu = million_up(income * shares[line.code] // sum(shares.values()))

        self._budget_events()
        self._demonstrations()
        self._clear_of_account_changes()
        self._receipts()
