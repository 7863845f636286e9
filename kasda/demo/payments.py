"""Payment lifecycles: each disbursement's SPP, checks, SP2D and payout, and every way a life
can end besides "settled" (rejected, cancelled, failed and sent again, returned, re-issued)."""

from __future__ import annotations

import random
from functools import partial

from kasda.demo.admin import AdminCommands
from kasda.demo.chart import AMOUNTS
from kasda.demo.lifecycle import CANCEL_REASONS, REJECT_REASONS, REPAID_REASON, Lifecycle
from kasda.demo.pemda import MONTH_WEIGHTS
from kasda.demo.people import People
from kasda.demo.state import Calendar, Schedule
from kasda.demo.treasury import BankPlan
from kasda.demo.world import Line, Slot, Vendor
from ledger.errors import SeparationOfDuties
from ledger.roles import Actor, Role

# How a life ends before its payout (rejected or withdrawn): outcome -> the step where it ends.
ENDS_EARLY = {
    **dict.fromkeys(("reject_verify", "cancel_requested"), "verify"),
    **dict.fromkeys(("reject_approve", "cancel_verified"), "approve"),
    **dict.fromkeys(("reject_authorise", "cancel_approved"), "authorise"),
}
# A vendor whose bank account changes, or who is blacklisted, has nothing in flight across that day.
VENDOR_QUIET_DAYS = 30


class Payments:
    """Payment lifecycles: who pays whom, when, and how each life ends. Also the books a lifecycle
    numbers its documents in (``lifecycle.Books``)."""

    def __init__(
        self,
        rng: random.Random,
        calendar: Calendar,
        schedule: Schedule,
        people: People,
        admin: AdminCommands,
    ) -> None:
        self.rng, self.calendar, self.add = rng, calendar, schedule.add
        self.people, self.admin = people, admin
        self.lifecycles: list[Lifecycle] = []
        self.bank = BankPlan()
        self.sp2d_seq = 0
        # Vendors and a PPTK with a part to play, cast by the plan.
        self.switching: set[int] = set()  # id() of the vendors whose bank account changes
        self.deactivated: Vendor | None = None  # blacklisted on ``deactivate_day``
        self.deactivate_day = 0
        self.acting_pptk: Lifecycle | None = None  # an SPP by the unit's PPK, acting as PPTK
        # (the story, the day its vendor's bank account changes)
        self.account_changes: list[tuple[Lifecycle, int]] = []
        self.returned = 0  # transfers planned to come back, the first one paid again

    # -- the books ---------------------------------------------------------------------------------
    def month(self, day: int) -> int:
        return self.calendar.month(day)

    def vendor_no(self, vendor: Vendor) -> int:
        return self.people.vendor_no(vendor)

    def next_sp2d(self) -> int:
        self.sp2d_seq += 1
        return self.sp2d_seq

    # -- lifecycles ------------------------------------------------------------------------------
    def gross(self, category: str) -> int:
        low, high, _w = AMOUNTS[category]
        value = low * (high / low) ** self.rng.random()
        return max(1_000_000, int(value) // 1_000 * 1_000)

    def request_day(self, latest: int | None = None) -> int:
        calendar = self.calendar
        first = calendar.day_of(1, 12)
        latest = calendar.last_day if latest is None else latest
        while True:
            month = self.rng.choices(range(1, 13), weights=MONTH_WEIGHTS)[0]
            days = [
                i for i, d in enumerate(calendar.days) if d.month == month and first <= i <= latest
            ]
            if days:
                return self.rng.choice(days)

    def lifecycle(
        self,
        line: Line,
        day: int,
        outcome: str = "settled",
        *,
        gross: int | None = None,
        planned: bool = True,
    ) -> Lifecycle:
        """A disbursement of ``line`` requested on ``day``; ``planned=False`` for a probe that the
        ledger is meant to refuse (it spends nothing)."""
        skpd, rng = line.skpd, self.rng
        vendor = rng.choice(self.people.pool[line.category])
        if not self.vendor_free(vendor, day):
            vendor = self.other_vendor(vendor)
        lc = Lifecycle(
            books=self,
            line=line,
            vendor=vendor,
            gross=gross or self.gross(line.category),
            day=day,
            outcome=outcome,
            maker=line.pptk if rng.random() < 0.8 else skpd.bendahara,
            verifier=rng.choice(skpd.ppk),
            approver=rng.choice(skpd.pa),
            authoriser=rng.choice(self.people.kuasa_bud),
        )
        if planned:
            line.planned.append(lc)
            self.lifecycles.append(lc)
        return lc

    def vendor_free(self, vendor: Vendor, day: int) -> bool:
        """False if a payment to ``vendor`` starting on ``day`` could meet its blacklisting."""
        return vendor is not self.deactivated or day < self.deactivate_day - VENDOR_QUIET_DAYS

    def other_vendor(self, vendor: Vendor) -> Vendor:
        return next(
            v for v in self.people.pool[vendor.category]
            if v is not vendor and id(v) not in self.switching and v is not self.deactivated
        )  # fmt: skip

    def _step(self) -> int:
        """Working days a step waits for the next one (the rules allow two)."""
        return self.rng.choice((0, 1, 1, 2))

    def _followup(self, lc: Lifecycle, day: int, note: str) -> None:
        """A new SPP for the same work after a rejection or a withdrawn SP2D."""
        again = self.lifecycle(lc.line, day, gross=lc.gross)
        again.vendor, again.maker, again.note = lc.vendor, lc.maker, note
        again.documents = dict(lc.documents)  # same contract, invoice and BAST
        self.schedule(again)

    def _ends_at(self, step: str, lc: Lifecycle, day: int, slot: int, checker: Actor) -> bool:
        """If ``lc`` ends at ``step``: rejected by ``checker`` (most often the SPP is submitted
        again a little later) or withdrawn by its maker, on ``day``."""
        if ENDS_EARLY.get(lc.outcome) != step:
            return False
        if lc.outcome.startswith("reject"):
            reason = self.rng.choice(REJECT_REASONS[step])
            self.add(day, slot, partial(lc.reject, actor=checker, reason=reason))
            if self.rng.random() < 0.6:
                self._followup(lc, day + self.rng.randint(2, 8), " (pengajuan ulang)")
        else:
            reason = self.rng.choice(CANCEL_REASONS)
            self.add(day, slot, partial(lc.cancel, actor=lc.maker, reason=reason))
        return True

    def schedule(self, lc: Lifecycle) -> None:
        """The commands of one lifecycle up to its SPM (``from_sp2d`` does the rest)."""
        add = self.add
        add(lc.day, Slot.REQUEST, lc.request)
        lc.verify_day = verify_day = lc.day + self._step()
        if self._ends_at("verify", lc, verify_day, Slot.VERIFY, lc.verifier):
            return
        if lc is self.acting_pptk:  # the acting PPTK may not verify their own SPP
            wrong = Actor(lc.maker.user_id, Role.PPK, lc.skpd.code)
            add(verify_day, Slot.VERIFY, partial(lc.verify, actor=wrong), SeparationOfDuties)
        add(verify_day, Slot.VERIFY, lc.verify)
        spm_day = verify_day + self._step()
        if self._ends_at("approve", lc, spm_day, Slot.SPM, lc.approver):
            return
        add(spm_day, Slot.SPM, lc.approve)
        if lc.outcome != "blocked":  # the blokir story issues its SP2D itself
            self.from_sp2d(lc, spm_day + self._step())

    def from_sp2d(self, lc: Lifecycle, sp2d_day: int) -> None:
        """The SP2D of ``lc`` on ``sp2d_day`` and what becomes of its payout."""
        if self._ends_at("authorise", lc, sp2d_day, Slot.SP2D, lc.authoriser):
            return
        o, admin, add = lc.outcome, self.admin.admins[0], self.add
        add(sp2d_day, Slot.SP2D, lc.authorise)
        lc.sp2d_day = sp2d_day
        if o == "cancel_authorised":
            reason = "SP2D ditarik: rekanan mengajukan keberatan atas potongan pajak"
            add(sp2d_day, Slot.SEND, partial(lc.cancel, actor=admin, reason=reason))
        elif o == "account_changed":
            # The vendor's new account arrives after the SP2D: the payout service refuses to pay
            # the old one, BPKAD withdraws the SP2D and the work is paid on a new SPP.
            self._change_account(lc, sp2d_day, Slot.SP2D)
            self.bank.blocked_payouts.append(lc)
            reason = "SP2D ditarik: rekening rekanan berubah setelah SP2D terbit"
            add(sp2d_day, Slot.BANK, partial(lc.cancel, actor=admin, reason=reason))
            self._followup(lc, sp2d_day + 1, " (penerbitan ulang ke rekening baru)")
        else:
            self._paid(lc, sp2d_day)

    def _paid(self, lc: Lifecycle, sp2d_day: int) -> None:
        """Paid through the gateway at the SEND slot of ``sp2d_day``, settled (or failed) at the
        bank's run the same afternoon; a failed disbursement is paid again the next working day."""
        o, rng, bank = lc.outcome, self.rng, self.bank
        if o == "fail_resend":
            bank.fail_first.append(lc)
            return
        if o == "fail_cancel":
            bank.fail_first.append(lc)
            nxt = sp2d_day + 1
            self._change_account(lc, nxt, Slot.ADMIN)
            reason = "SP2D dibatalkan: transfer gagal, rekening rekanan ditutup"
            self.add(nxt, Slot.SPM, partial(lc.cancel, actor=self.admin.admins[0], reason=reason))
            self._followup(lc, nxt + 1, " (penerbitan ulang ke rekening baru)")
            return
        if rng.random() < 0.02:  # Iris delivers its notification of the settlement twice
            bank.notified_twice.setdefault(sp2d_day, []).append(lc)
        if o == "returned":  # the vendor's bank sends the money back a few days later
            back = sp2d_day + rng.randint(2, 5)
            bank.returns.setdefault(back, []).append(lc)
            self.returned += 1
            if self.returned % 3:  # every third vendor never sends a new account: it stays returned
                self._pay_again(lc, back + rng.randint(1, 3))

    def _pay_again(self, lc: Lifecycle, day: int) -> None:
        """The vendor gives a new bank account, BPKAD records it, and a Kuasa BUD who did not
        issue the SP2D pays the returned transfer again to it that afternoon: the same SP2D, no new
        SPP. After the year's end it stays returned."""
        self._change_account(lc, day, Slot.ADMIN)
        other = next(k for k in self.people.kuasa_bud if not k.same_person(lc.authoriser.user_id))
        self.add(day, Slot.SP2D, partial(lc.reissue, actor=other, reason=REPAID_REASON))

    def _change_account(self, lc: Lifecycle, day: int, slot: int) -> None:
        """The vendor of ``lc``'s story gives a new bank account on ``day``."""
        self.account_changes.append((lc, day))
        self.add(day, slot, partial(self.admin.change_account, vendor=lc.vendor))

    def clear_of_account_changes(self) -> None:
        """No SP2D to a vendor is in flight across its change of bank account, but the story's:
        one authorised on or before that day and paid on or after it (a resend is paid the next
        day) would be refused by the payout service, which only the ``account_changed`` story
        plans. Such a payment goes to another vendor of its kind. Run once every lifecycle is
        scheduled (the payment's vendor is read when its commands are built)."""
        for story, day in self.account_changes:
            for lc in self.lifecycles:
                issued = lc.sp2d_day >= 0  # an SP2D is planned for it
                paid_across = issued and lc.sp2d_day <= day <= lc.sp2d_day + 1
                if paid_across and lc is not story and lc.vendor is story.vendor:
                    lc.vendor = self.other_vendor(lc.vendor)
