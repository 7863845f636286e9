"""Support of the event feed's tests: a real HTTP receiver on 127.0.0.1 that can fail (500), time
out (sleep past the dispatcher's timeout) and come back; a small world of facts in two pemda; and a
loop that turns a dispatcher until a condition holds (bounded)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from feed.dispatcher import Dispatcher
from feed.settings import FeedSettings
from ledger import commands as c
from ledger.application import Ledger
from ledger.roles import Role
from testkit.world import OTHER_NPWP, OTHER_PEMDA, OTHER_VENDOR_NAME, PEMDA
from tests import factory as f

KEY = "feed-key-of-the-tests-" + "x" * 16
# Small waits, so that a test of retries and dead letters takes a second, not minutes.
FAST = FeedSettings(
    key=KEY,
    timeout=0.3,
    max_attempts=3,
    backoff=0.02,
    backoff_max=0.05,
    interval=0.01,
    dispatch=False,
)
OK, FAIL, SLOW = "ok", "fail", "slow"


@dataclass
class Attempt:
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]
    answered: str  # OK, FAIL or SLOW (the client gave up before the answer)


@dataclass
class Receiver:
    """What a subscriber's endpoint saw. ``mode`` decides the answer to every request;
    ``failing`` names subjects (aggregate ids) answered 500 whatever the mode."""

    url: str = ""
    mode: str = OK
    sleep: float = 1.0
    failing: set[str] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, event: dict[str, Any]) -> str:
        if event.get("subject") in self.failing:
            return FAIL
        return self.mode

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The events answered 2xx, in the order they arrived."""
        with self.lock:
            return [a.event for a in self.attempts if a.answered == OK]

    def set(self, mode: str) -> None:
        with self.lock:
            self.mode = mode


@contextmanager
def receiver() -> Iterator[Receiver]:
    seen = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            event = json.loads(body)
            with seen.lock:
                answered = seen.answer(event)
                seen.attempts.append(Attempt(dict(self.headers), body, event, answered))
            if answered == SLOW:
                time.sleep(seen.sleep)
            status = 500 if answered == FAIL else 200
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the dispatcher gave up waiting
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen.url = f"http://127.0.0.1:{server.server_address[1]}/events"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


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
