"""A subscriber's endpoint for the event feed's tests and benchmarks: a real HTTP server on
127.0.0.1 (a threaded ``http.server``) that records every delivery and answers 2xx, 500, or
nothing in time (it sleeps past the dispatcher's timeout), or 200 with a body trickled a byte at a
time for ``sleep`` seconds (each byte well within the client's read timeout), as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OK, FAIL, SLOW, TRICKLE = "ok", "fail", "slow", "trickle"
TRICKLE_EVERY = 0.05  # seconds between two bytes of a trickled body


@dataclass
class Attempt:
    headers: dict[str, str]
    body: bytes
    event: dict[str, Any]
    answered: str  # OK, FAIL, SLOW (the client gave up before the answer) or TRICKLE


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

    trickled: int = 0  # trickled bodies sent to their end

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The events answered 2xx, in the order they arrived."""
        with self.lock:
            return [a.event for a in self.attempts if a.answered in (OK, TRICKLE)]

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
            if answered == TRICKLE:
                self.trickle()
                return
            status = 500 if answered == FAIL else 200
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the dispatcher gave up waiting
                pass

        def trickle(self) -> None:
            length = max(1, int(seen.sleep / TRICKLE_EVERY))
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                for _ in range(length):
                    self.wfile.write(b".")
                    self.wfile.flush()
                    time.sleep(TRICKLE_EVERY)
            except OSError:  # the dispatcher closed the connection: it read the status only
                return
            with seen.lock:
                seen.trickled += 1

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
