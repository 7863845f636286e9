"""``DemoYear``: plans the fiscal year from a seed, then plays it through a ``Ledger`` and the
gateway simulator, one batch per working day and time slot."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from kasda.demo.admin import AdminCommands, BudgetChanges
from kasda.demo.advance import Advances
from kasda.demo.cashplan import CashPlans
from kasda.demo.gateway import DemoGateway, write_daily_files
from kasda.demo.income import Income
from kasda.demo.lifecycle import Lifecycle
from kasda.demo.payments import Payments
from kasda.demo.pemda import DEFAULT_LIFECYCLES, YEAR
from kasda.demo.people import People
from kasda.demo.plan import Planner
from kasda.demo.schemes import Schemes
from kasda.demo.state import Calendar, Schedule
from kasda.demo.stories import Stories
from kasda.demo.treasury import Treasury
from kasda.demo.world import Action, BuildReport, DemoError, SimulatedClock, Slot
from ledger import commands as c
from ledger.application import CommandResult, Ledger, Outcome


class DemoYear:
    """Plans the fiscal year from a seed, then plays it through a ``Ledger``. Its parts share one
    random stream, drawn in the order they plan, so that a seed always makes the same year."""

    def __init__(self, seed: int, lifecycles: int = DEFAULT_LIFECYCLES) -> None:
        if lifecycles < 1:
            raise ValueError("lifecycles must be at least 1")
        self.seed = seed
        rng = random.Random(seed)
        self.calendar = Calendar(rng)
        self.clock = SimulatedClock(self.calendar.at(0, Slot.ADMIN))
        self.schedule = Schedule(self.calendar)
        self.people = People(rng)
        self.admin = AdminCommands(self.people, BudgetChanges())
        self.payments = Payments(rng, self.calendar, self.schedule, self.people, self.admin)
        self.stories = Stories(rng, self.calendar, self.schedule, self.admin, self.payments)
        self.income = Income(seed, self.calendar, self.schedule, self.people)
        self.schemes = Schemes(
            seed, self.calendar, self.schedule, self.people, self.admin, self.payments
        )
        parts = (self.people, self.payments, self.stories, self.income, self.schemes)
        Planner(rng, self.calendar, *parts).plan(lifecycles)
        # The bendahara's advances, on their own stream: the year above is drawn as it was.
        self.advances = Advances(seed, self.calendar, self.schedule, self.people)
        self.advances.plan()
        # The year runs on anggaran kas and SPD, planned from the rest of the plan (``cashplan``).
        self.cash_plans = CashPlans(
            self.calendar,
            self.schedule,
            self.people,
            self.admin,
            self.payments,
            self.stories,
            self.advances.purchases,
        )
        self.cash_plans.plan()

    @property
    def actions(self) -> list[Action]:
        """Every planned command, on its working day and time slot."""
        return self.schedule.actions

    @property
    def lifecycles(self) -> list[Lifecycle]:
        """Every planned disbursement (not the probes the ledger is meant to refuse)."""
        return self.payments.lifecycles

    # -- playing the year through the ledger ---------------------------------------------------
    def run(self, ledger: Ledger, files_dir: Path | None = None) -> BuildReport:
        """Execute every planned command, one batch per working day and time slot, on the
        simulated clock, paying through an in-process simulator at every SEND slot and letting
        the bank run at every BANK slot; raise ``DemoError`` if the ledger or the gateway answers
        anything but what was planned. With ``files_dir``, write the year's daily files there."""
        if ledger.clock is not self.clock:
            raise ValueError("run the ledger on the demo's clock: Ledger(url, clock=plan.clock)")
        report = BuildReport()
        built: dict[str, c.Command] = {}  # a retry sends exactly the command it retries
        planned = self._batches()
        treasury = Treasury(self.payments.bank, self.income)
        with DemoGateway(
            ledger, seed=self.seed, clock=self.clock, instant_payouts=False, resend_failed=True
        ) as gateway:
            for day, slot in self._slots(planned):
                batch = planned.get((day, slot), [])
                self.clock.now = self.calendar.at(day, slot)
                _execute(ledger, [a for a in batch if a.at is None], built, report)
                treasury.after(slot, day, gateway, report)
                self.advances.after(slot, day, gateway)
                for action in sorted(batch, key=lambda a: (a.at is not None, a.at, a.seq)):
                    if action.at is not None:  # off the timetable: a night, a Sunday, a holiday
                        self.clock.now = action.at
                        _execute(ledger, [action], built, report)
            if files_dir is not None:
                report.files = _write_files(gateway, files_dir)
                report.files.append(self.advances.write_kkpd_statement(files_dir))
        return report

    def _batches(self) -> dict[tuple[int, int], list[Action]]:
        """The planned commands by (working day, slot), in the order they were planned."""
        planned: dict[tuple[int, int], list[Action]] = {}
        for action in sorted(self.schedule.actions, key=lambda a: (a.day, a.slot, a.seq)):
            planned.setdefault((action.day, action.slot), []).append(action)
        return planned

    def _slots(self, planned: dict[tuple[int, int], list[Action]]) -> list[tuple[int, int]]:
        """Every slot with a batch, and every day's SEND and BANK slots, in time order."""
        days = range(len(self.calendar.days))
        return sorted(planned.keys() | {(d, s) for d in days for s in (Slot.SEND, Slot.BANK)})


def _execute(
    ledger: Ledger, actions: list[Action], built: dict[str, c.Command], report: BuildReport
) -> None:
    """One batch: build the commands (a retry's once, with its first try), run, check each."""
    if not actions:
        return
    commands = []
    for action in actions:
        if action.key not in built:
            built[action.key] = action.build(ledger, action.key)
        commands.append(built[action.key])
    outcomes = ledger.execute_batch(commands)
    report.batches += 1
    report.commands += len(commands)
    for action, command, outcome in zip(actions, commands, outcomes, strict=True):
        _check(action, command, outcome, report)


DAILY_FILES = ("payouts-*.csv", "settlements-*.csv", "rkud-*.sta", "rkud-*.csv")


def _write_files(gateway: DemoGateway, folder: Path) -> list[Path]:
    """The daily files of every day of the year (and of any day after it that still moved money,
    e.g. the settlement of the last day's receipts), replacing those of an earlier build."""
    if folder.is_dir():
        for pattern in DAILY_FILES:
            for old in folder.glob(pattern):
                old.unlink()
    moved = gateway.sim.state.days()
    last = max([date(YEAR, 12, 31), *moved])
    days = [date(YEAR, 1, 1) + timedelta(days=n) for n in range((last - date(YEAR, 1, 1)).days + 1)]
    return write_daily_files(gateway.sim, folder, days)


def _check(action: Action, command: c.Command, outcome: Outcome, report: BuildReport) -> None:
    expect = action.expect
    if isinstance(outcome, CommandResult):
        if expect is None and not outcome.replayed:
            return
        if expect == "replay" and outcome.replayed:
            report.replays += 1
            return
    elif isinstance(expect, type) and type(outcome) is expect:
        report.refused[outcome.rule] += 1
        return
    raise DemoError(
        f"{command.command_name} {action.key} on working day {action.day}, slot {action.slot}: "
        f"expected {getattr(expect, '__name__', expect) or 'success'}, got {outcome!r}"
    )
