"""A ledger clock for tests: every reading one second after the one before."""

from __future__ import annotations

from datetime import datetime, timedelta

from testkit.world import START


class FixedClock:
    """A clock that moves forward one second per reading, from the world's first working morning
    (2026-01-02 08:00 WIB)."""

    def __init__(self) -> None:
        self._now = START
        self._step = timedelta(seconds=1)

    def __call__(self) -> datetime:
        self._now += self._step
        return self._now
