"""The year's time and its schedule: the working days and the minutes each time slot runs late
(``Calendar``), and the commands planned on them (``Schedule``).

``DemoYear`` is composed of named parts, each with its own state and the parts it works with:
``Calendar`` and ``Schedule`` (this module), ``People`` (people), ``AdminCommands`` and
``BudgetChanges`` (admin), ``Payments`` and ``BankPlan`` (payments), ``Stories`` (stories),
``Income`` (income), ``Planner`` (plan), ``Treasury`` (treasury); ``DemoYear`` (year) builds them,
lets the planner plan the year and plays it."""

from __future__ import annotations

import random
from datetime import date, datetime

from kasda.demo.pemda import WIB, YEAR
from kasda.demo.world import Action, Build, Expect, Slot, working_days


class Calendar:
    """The working days of the year, and how late (in minutes) each slot of each day runs."""

    def __init__(self, rng: random.Random) -> None:
        self.days = working_days(YEAR)
        self.last_day = len(self.days) - 1
        self.jitter = [[rng.randrange(0, 25) for _ in Slot.TIMES] for _ in self.days]

    def at(self, day: int, slot: int) -> datetime:
        hour, minute = Slot.TIMES[slot]
        d = self.days[day]
        return datetime(d.year, d.month, d.day, hour, minute + self.jitter[day][slot], tzinfo=WIB)

    def day_of(self, month: int, dom: int) -> int:
        """Index of the first working day on or after ``dom``/``month``."""
        target = date(YEAR, month, dom)
        return next(i for i, d in enumerate(self.days) if d >= target)

    def month(self, day: int) -> int:
        return self.days[day].month

    def slot_before(self, moment: datetime) -> tuple[int, int]:
        """The last (working day, slot) that runs before ``moment``: a command off the timetable
        runs right after that slot's batch."""
        day = max(i for i, d in enumerate(self.days) if d <= moment.date())
        slots = [s for s in range(len(Slot.TIMES)) if self.at(day, s) <= moment]
        return (day, slots[-1]) if slots else (day - 1, len(Slot.TIMES) - 1)


class Schedule:
    """The commands of the year, each on a working day and time slot, keyed in planning order."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.actions: list[Action] = []
        self._serial = 0

    def add(
        self, day: int, slot: int, build: Build, expect: Expect = None, *, key: str = ""
    ) -> str:
        """Schedule a command; one on a day after the end of the year is dropped (whatever it
        belongs to is still in flight at year end)."""
        self._serial += 1
        key = key or f"demo-{YEAR}-{self._serial:06d}"
        if day <= self.calendar.last_day:
            self.actions.append(Action(day, slot, self._serial, key, build, expect))
        return key

    def add_at(self, moment: datetime, build: Build) -> str:
        """Schedule a command at ``moment``, off the timetable (at night, on a Sunday or a
        holiday): it runs after the batch of the last slot before it."""
        day, slot = self.calendar.slot_before(moment)
        self._serial += 1
        key = f"demo-{YEAR}-{self._serial:06d}"
        self.actions.append(Action(day, slot, self._serial, key, build, None, moment))
        return key
