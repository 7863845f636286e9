"""Support of the event feed's tests: fast delivery settings, a small world of facts in two pemda,
and a loop that turns a dispatcher until a condition holds (bounded). The receiver on 127.0.0.1 is
``testkit.feed``'s (the benchmark uses it too)."""

from __future__ import annotations

import time
from collections.abc import Callable

from feed.dispatcher import Dispatcher
from feed.settings import FeedSettings
from ledger import commands as c
from ledger.application import Ledger
from ledger.roles import Role
from testkit.feed import FAIL, OK, SLOW, TRICKLE, Receiver, receiver
from testkit.world import OTHER_NPWP, OTHER_PEMDA, OTHER_VENDOR_NAME, PEMDA
from tests import factory as f

KEY = "feed-key-of-the-tests-" + "x" * 16
# Small waits, so that a test of retries and dead letters takes a second, not minutes.
FAST = FeedSettings(
    key=KEY,
    timeout=1.0,  # generous: a loaded machine must not make a healthy receiver look down
    max_attempts=3,
    backoff=0.02,
    backoff_max=0.05,
    interval=0.01,
    dispatch=False,
)


def subscribe(
    ledger: Ledger, url: str, kinds: tuple[str, ...], *, name: str = "sipd", pemda: str = PEMDA
) -> str:
    result = ledger.execute(
        c.CreateFeedSubscription(
            idempotency_key=f.key("feed"),
            actor=f.ADMIN,
            pemda=pemda,
            name=name,
            url=url,
            kinds=kinds,
        )
    )
    return result.id


def world(ledger: Ledger) -> None:
    """An APBD and a vendor in two pemda; in the first, two payments paid and one requested."""
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.register_vendor(ledger, OTHER_NPWP, OTHER_VENDOR_NAME, account="5550001111")
    f.pay_in_full(ledger, "SPP-1", 10_000_000)
    f.pay_in_full(ledger, "SPP-2", 20_000_000)
    ledger.execute(f.request("SPP-3", 30_000_000, npwp=OTHER_NPWP))
    other_admin = f.actor("admin.lain", Role.BPKAD_ADMIN)
    ledger.execute(
        c.AdoptBudget(
            idempotency_key=f.key("adopt"),
            actor=other_admin,
            pemda=OTHER_PEMDA,
            year=f.YEAR,
            document="PERDA-9-2025",
            lines=(f.MEDIA_LINE,),
        )
    )


def turn(dispatcher: Dispatcher, until: Callable[[], bool], *, seconds: float = 15.0) -> None:
    """Turn ``dispatcher`` until ``until()`` holds (``AssertionError`` after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dispatcher.tick()
        dispatcher.collect(wait=True)
        if until():
            return
        time.sleep(0.01)
    raise AssertionError("the dispatcher did not get there in time")


__all__ = [
    "FAIL",
    "FAST",
    "KEY",
    "OK",
    "SLOW",
    "TRICKLE",
    "Receiver",
    "receiver",
    "subscribe",
    "turn",
    "world",
]
