"""Notification delivery: the webhooks the gateway sends to kasda, one thread, in order.

A notification that meets a connection error or a 5xx is tried again, ``attempts`` times in all,
as Midtrans retries; every notification is kept (``notifications``) so that tests can read what
was sent and deliver it again themselves.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import httpx

from gateways.simulator.state import Notification

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 5.0
RETRY_PAUSE_SECONDS = 0.01  # times the attempt number


class Notifier:
    def __init__(self, attempts: int = 3) -> None:
        assert attempts >= 1
        self.attempts = attempts
        self.notifications: list[Notification] = []
        self._outbox: queue.Queue[Notification | None] = queue.Queue()
        self._worker = threading.Thread(target=self._deliver_loop, daemon=True, name="sim-notify")
        self._worker.start()

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Queue a JSON notification to ``url``; it goes out after those queued before it."""
        note = Notification(url, {"Content-Type": "application/json", **headers}, body)
        self.notifications.append(note)
        self._outbox.put(note)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued notification was delivered or given up."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self, timeout: float = 5.0) -> None:
        self._outbox.put(None)
        self._worker.join(timeout=timeout)

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=DELIVERY_TIMEOUT_SECONDS) as client:
            while True:
                note = self._outbox.get()
                try:
                    if note is None:
                        return
                    self._deliver(client, note)
                finally:
                    self._outbox.task_done()

    def _deliver(self, client: httpx.Client, note: Notification) -> None:
        for attempt in range(1, self.attempts + 1):
            note.attempts = attempt
            try:
                response = client.post(note.url, content=note.body, headers=note.headers)
            except httpx.HTTPError as error:
                log.info("notification to %s failed: %s", note.url, error)
                time.sleep(RETRY_PAUSE_SECONDS * attempt)
                continue
            note.delivered_status = response.status_code
            if response.status_code < 500:
                return
            time.sleep(RETRY_PAUSE_SECONDS * attempt)
