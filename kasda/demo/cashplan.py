"""The demo year runs on anggaran kas and SPD (``ledger.cashplan``, docs/penatausahaan.md).

On the first working day BPKAD adopts an anggaran kas for every SKPD: each spending line's pagu spread over
the months in which the year's own plan requests its payments (a month's planned SPPs first, what no payment
will use in December). On the first working day of every month the Kuasa BUD issues each SKPD an SPD for that
month, releasing what its plan holds through the month and was not released before. After each pergeseran and
the APBD-P, BPKAD amends the plan of the SKPDs whose lines changed so that every line's plan still equals its
pagu (a raise or a new line in the month of the change, a cut or a shift out from December backwards), and the
Kuasa BUD releases by a supplementary SPD what the change made available this month. So no planned payment is
refused for lack of SPD; one SPP is, on purpose: in late June a PPTK submits an SPP for Rp 1 juta more than
the SPD still available to the SKPD (refused by ``spending_within_spd``).

The bendahara's advances spend from SPD too: their planned SPJ count like SPPs. Everything is worked out when
the year is planned, from the plan alone (no random draws but the probe's), so a seed gives the same commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from kasda.demo.admin import AdminCommands
from kasda.demo.lifecycle import Lifecycle
from kasda.demo.payments import Payments
from kasda.demo.pemda import PEMDA, YEAR
from kasda.demo.people import People
from kasda.demo.state import Calendar, Schedule
from kasda.demo.stories import Stories
from kasda.demo.world import DemoError, Line, Skpd, Slot
from ledger import commands as c
from ledger.application import Ledger
from ledger.errors import SpdExceeded

MONTHS = 12
PROBE_MONTH, PROBE_DAY = 6, 24  # the SPP submitted ahead of the SPD, late in a month


@dataclass
class SkpdBooks:
    """One SKPD's plan as the year goes: each line's twelve months, and the SPD released."""

    skpd: Skpd
    plans: dict[int, list[int]] = field(default_factory=dict)  # id(line) -> months
    lines: dict[int, Line] = field(default_factory=dict)
    issued: int = 0
    spd_seq: int = 0

    def through(self, month: int) -> int:
        return sum(sum(months[:month]) for months in self.plans.values())


class CashPlans:
    """Plans the anggaran kas, its amendments and the SPD of the year, and schedules them."""

    def __init__(
        self,
        calendar: Calendar,
        schedule: Schedule,
        people: People,
        admin: AdminCommands,
        payments: Payments,
        stories: Stories,
        purchases: Iterable[tuple[Line, int, int]] = (),  # the advances' SPJ: charged to SPD too
    ) -> None:
        self.calendar, self.schedule, self.people = calendar, schedule, people
        self.admin, self.payments, self.stories = admin, payments, stories
        self.purchases = list(purchases)
        self.books: dict[str, SkpdBooks] = {}
        self.probe: Lifecycle | None = None
        self.amendments = 0

    # -- planning --------------------------------------------------------------------------------
    def plan(self) -> None:
        """Run once the rest of the year is planned: every command added here comes after it."""
        wanted = self._wanted()
        for line in self._spending(self.people.lines):
            books = self.books.setdefault(line.skpd.code, SkpdBooks(line.skpd))
            books.plans[id(line)] = _spread(wanted.get(id(line), [0] * MONTHS), line.pagu)
            books.lines[id(line)] = line
        for books in self.books.values():
            self.schedule.add(0, Slot.ADMIN, partial(self._adopt, books=books, lines=_copy(books)))
        changes = self._changes()
        month_starts = {self.calendar.day_of(m, 1) for m in range(1, MONTHS + 1)}
        for day in sorted(month_starts | set(changes)):
            for line, delta in changes.get(day, []):
                self._change(line, delta, wanted, self.calendar.month(day))
            for books in {id(b): b for b in self._touched(changes.get(day, []))}.values():
                self.amendments += 1
                build = partial(self._amend, books=books, lines=_copy(books), n=self.amendments)
                self.schedule.add(day, Slot.ADMIN, build)
            self._release(day)
        self._plant_probe()

    def _spending(self, lines: Iterable[Line]) -> list[Line]:
        return [x for x in lines if x.rekening is not None]

    def _wanted(self) -> dict[int, list[int]]:
        """What the year's plan spends on each line, by month: its SPPs (none after the year) and
        its advances' SPJ."""
        wanted: dict[int, list[int]] = {}
        spent = [
            (x, lc.day, lc.gross)
            for x in self._spending([*self.people.lines, *self.people.new_lines])
            for lc in x.planned
            if lc.day <= self.calendar.last_day
        ]
        for line, day, amount in [*spent, *self.purchases]:
            wanted.setdefault(id(line), [0] * MONTHS)[self.calendar.month(day) - 1] += amount
        return wanted

    def _changes(self) -> dict[int, list[tuple[Line, int]]]:
        """The pergeseran (found in the schedule) and the APBD-P: day -> (line, change of pagu)."""
        changes: dict[int, list[tuple[Line, int]]] = {}
        for action in self.schedule.actions:
            build = action.build
            if isinstance(build, partial) and build.func == self.admin.shift:
                kw = build.keywords
                changes.setdefault(action.day, []).extend(
                    [(kw["source"], -kw["amount"]), (kw["target"], kw["amount"])]
                )
        budget = self.admin.changes
        apbd_p = [(x, budget.raises[id(x)]) for x in budget.raised]
        apbd_p += [(x, budget.cuts[id(x)] - x.pagu) for x in budget.cut if id(x) in budget.cuts]
        apbd_p += [(x, x.pagu) for x in self._spending(self.people.new_lines)]
        changes.setdefault(self.stories.amend_day, []).extend(apbd_p)
        return changes

    def _change(self, line: Line, delta: int, wanted: dict[int, list[int]], month: int) -> None:
        """A line's plan after its pagu changed by ``delta`` in ``month``: more from this month,
        less from December backwards (what is released already stays covered)."""
        books = self.books.setdefault(line.skpd.code, SkpdBooks(line.skpd))
        books.lines[id(line)] = line
        months = books.plans.setdefault(id(line), [0] * MONTHS)
        if delta >= 0:
            months[month - 1] += delta
            return
        left = -delta
        for m in range(MONTHS - 1, month - 1, -1):
            taken = min(left, months[m])
            months[m] -= taken
            left -= taken
        if left:
            raise DemoError(
                f"the plan of line {line.code} cannot give up {-delta} after month {month}"
            )

    def _touched(self, changes: list[tuple[Line, int]]) -> list[SkpdBooks]:
        return [self.books[line.skpd.code] for line, _ in changes]

    def _release(self, day: int) -> None:
        """An SPD to every SKPD for what its plan holds through this month and is not released."""
        month = self.calendar.month(day)
        for books in self.books.values():
            amount = books.through(month) - books.issued
            if amount > 0:
                books.issued += amount
                books.spd_seq += 1
                number = f"{PEMDA}/{books.spd_seq:03d}/SPD/{books.skpd.short}/{YEAR}"
                build = partial(
                    self._spd, skpd=books.skpd, number=number, month=month, amount=amount
                )
                self.schedule.add(day, Slot.ADMIN, build)

    def _plant_probe(self) -> None:
        day = self.calendar.day_of(PROBE_MONTH, PROBE_DAY)
        line = next(x for x in self._spending(self.people.lines) if not x.special)
        self.probe = probe = self.payments.lifecycle(line, day, planned=False)
        self.schedule.add(day, Slot.SPM, partial(self._ahead_of_spd, lc=probe), SpdExceeded)

    # -- commands, built when their batch runs ---------------------------------------------------
    def _adopt(
        self, _ledger: Ledger, key: str, *, books: SkpdBooks, lines: list[c.LinePlan]
    ) -> c.Command:
        return c.AdoptCashPlan(
            idempotency_key=key,
            actor=self.admin.admins[0],
            pemda=PEMDA,
            year=YEAR,
            skpd=books.skpd.code,
            document=f"PERWAL KOTA BANDUNG 3 TAHUN {YEAR} ANGGARAN KAS",
            lines=tuple(lines),
        )

    def _amend(
        self, _ledger: Ledger, key: str, *, books: SkpdBooks, lines: list[c.LinePlan], n: int
    ) -> c.Command:
        return c.AmendCashPlan(
            idempotency_key=key,
            actor=self.admin.admins[0],
            pemda=PEMDA,
            year=YEAR,
            skpd=books.skpd.code,
            document=f"KEPWAL KOTA BANDUNG {900 + n} TAHUN {YEAR} PERUBAHAN ANGGARAN KAS",
            lines=tuple(lines),
        )

    def _spd(
        self, _ledger: Ledger, key: str, *, skpd: Skpd, number: str, month: int, amount: int
    ) -> c.Command:
        return c.IssueSpd(
            idempotency_key=key,
            actor=self.people.kuasa_bud[0],
            pemda=PEMDA,
            year=YEAR,
            skpd=skpd.code,
            spd_number=number,
            first_month=month,
            last_month=month,
            amount=amount,
        )

    def _ahead_of_spd(self, ledger: Ledger, key: str, *, lc: Lifecycle) -> c.Command:
        """An SPP for Rp 1 juta more than the SPD still available to its SKPD this month, on the
        line of any SKPD with that much pagu left (so it is the SPD rule that refuses it)."""
        month = self.calendar.month(lc.day)
        best: tuple[int, Line] | None = None
        apbd = {id(x) for x in self.people.lines}  # new lines of the APBD-P do not exist yet
        for books in self.books.values():
            need = ledger.cash_plan(PEMDA, YEAR, books.skpd.code).available(month) + 1_000_000
            for line in books.lines.values():
                if line.special or id(line) not in apbd:
                    continue
                room = ledger.budget_line(line.id).available - need
                if room >= 0 and (best is None or room > best[0]):
                    best = (room, line)
        if best is None:
            raise DemoError("no line has pagu enough to show an SPP ahead of its SPD")
        room, lc.line = best
        lc.maker = lc.line.pptk
        lc.gross = ledger.budget_line(lc.line.id).available - room
        lc.documents = {"kontrak": f"SPK/{lc.skpd.short}/MENDAHULUI-SPD/{YEAR}"}
        return lc.request(ledger, key, refused=True)


def _spread(wanted: list[int], pagu: int) -> list[int]:
    """``pagu`` over the months: each month what the plan requests then while the pagu lasts, the
    rest in December."""
    months, left = [], pagu
    for amount in wanted:
        months.append(taken := min(amount, left))
        left -= taken
    months[-1] += left
    return months


def _copy(books: SkpdBooks) -> list[c.LinePlan]:
    """The plan of every line of ``books`` as it stands now (later changes do not reach it)."""
    return [c.LinePlan(line=books.lines[k].ref, months=tuple(m)) for k, m in books.plans.items()]
