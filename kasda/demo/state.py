"""What a planned year holds, and how a command is scheduled on a working day and time slot.

``DemoYear`` is built in layers, one module each, every layer a subclass of the one before:
``YearState`` -> ``People`` (people) -> ``AdminCommands`` (admin) -> ``Payments`` (payments) ->
``Stories`` (stories) -> ``Income`` (income) -> ``Plan`` (plan) -> ``DemoYear`` (year). The
attributes a layer reads before a later layer sets them are declared here."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import TYPE_CHECKING

from gateways.port import ReceiptOrder
from kasda.demo.pemda import WIB, YEAR
from kasda.demo.world import Action, Build, Expect, Line, SimulatedClock, Slot, Vendor

if TYPE_CHECKING:
    from kasda.demo.lifecycle import Lifecycle


class YearState:
    """The state of a planned year and the scheduling of commands; every layer of ``DemoYear``
    builds on it."""

    # Set by ``DemoYear.__init__``.
    seed: int
    rng: random.Random
    days: list[date]
    last_day: int
    jitter: list[list[int]]
    clock: SimulatedClock
    actions: list[Action]
    lifecycles: list[Lifecycle]
    sp2d_seq: int
    fail_first: list[Lifecycle]
    blocked_payouts: list[Lifecycle]
    returns: dict[int, list[Lifecycle]]
    notified_twice: dict[int, list[Lifecycle]]
    in_flight: list[str]
    receipt_orders: dict[int, list[tuple[ReceiptOrder, str]]]
    receipt_seq: int
    bank_credits: dict[int, list[tuple[str, int, str]]]  # day -> (reference, amount, channel)
    # (the story, the day its vendor's bank account changes)
    account_changes: list[tuple[Lifecycle, int]]
    _serial: int
    # Set by ``Plan._plan``, ``Stories._blocked_story`` and ``Stories._budget_events``, and read by
    # earlier layers (``getattr`` where they may not be set yet).
    blocked_line: Line
    shifts: list[tuple[Line, Line]]
    raised: list[Line]
    cut: list[Line]
    switching: set[int]
    deactivate_day: int
    deactivated: Vendor
    plt: Lifecycle
    blocked_lc: Lifecycle
    unblock_day: int
    amend_day: int
    raises: dict[int, int]
    cuts: dict[int, int]

    # -- time ----------------------------------------------------------------------------------
    def at(self, day: int, slot: int) -> datetime:
        hour, minute = Slot.TIMES[slot]
        d = self.days[day]
        return datetime(d.year, d.month, d.day, hour, minute + self.jitter[day][slot], tzinfo=WIB)

    def day_of(self, month: int, dom: int) -> int:
        """Index of the first working day on or after ``dom``/``month``."""
        target = date(YEAR, month, dom)
        return next(i for i, d in enumerate(self.days) if d >= target)

    def add(
        self, day: int, slot: int, build: Build, expect: Expect = None, *, key: str = ""
    ) -> str:
        """Schedule a command; one on a day after the end of the year is dropped (whatever it
        belongs to is still in flight at year end)."""
        self._serial += 1
        key = key or f"demo-{YEAR}-{self._serial:06d}"
        if day <= self.last_day:
            self.actions.append(Action(day, slot, self._serial, key, build, expect))
        return key
