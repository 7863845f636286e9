"""A Midtrans-compatible HTTP server on 127.0.0.1: Iris (``/iris/api/v1/...``), Snap
(``/snap/v1/transactions``) and the Core API (``/v2/charge``, ``/v2/{order_id}/status``), plus
``/sim/...`` endpoints that play the customer and the bank. Runs in-process (``Simulator`` is a
context manager on a port the OS picks) or as ``kasda gateway-sim --port N``.

The application (``gateways.simulator.app``) runs under uvicorn, in a thread of its own
in-process. The listening socket is opened when the ``Simulator`` is made, so its URL is known
before it starts (clients can be configured first); ``start`` returns once the server accepts
connections, and ``stop`` ends it within a bounded time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import uvicorn

from gateways.simulator import reports
from gateways.simulator.app import create_app
from gateways.simulator.gateway import Gateway
from gateways.simulator.state import (
    SIM_KEYS,
    Faults,
    SimCredit,
    SimKeys,
    SimPayout,
    SimState,
    wib_now,
)

__all__ = ["Gateway", "Simulator"]

START_TIMEOUT_SECONDS = 10.0
# A request still held by a fault when the simulator stops is cut after this long.
GRACEFUL_STOP_SECONDS = 1
STOP_TIMEOUT_SECONDS = GRACEFUL_STOP_SECONDS + 5.0
# Clients keep their connections (httpx, requests pools); a server that dropped idle ones early
# would race a client's next request on them.
KEEP_ALIVE_SECONDS = 300


class Simulator:
    """The simulator in-process: ``with Simulator() as sim: sim.url ...``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 2026,
        clock: Callable[[], datetime] = wib_now,
        keys: SimKeys = SIM_KEYS,
        faults: Faults | None = None,
        **state_options: Any,
    ) -> None:
        self.state = SimState(clock=clock, seed=seed, faults=faults or Faults(), **state_options)
        self.keys = keys
        self._socket = socket.create_server((host, port))  # port 0: the OS picks a free one
        bound = self._socket.getsockname()
        self.host, self.port = str(bound[0]), int(bound[1])
        self.gateway = Gateway(self.state, keys, lambda: self.url)
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.gateway),
                lifespan="off",
                log_config=None,  # no dictConfig of the process's logging
                access_log=False,  # as before: requests are not logged
                proxy_headers=False,  # clients connect directly
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
                timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.state.faults

    def start(self) -> Simulator:
        """Serve in a background thread; returns once the server accepts connections."""
        assert self._thread is None, "a simulator starts once"
        self._thread = threading.Thread(
            target=self._server.run, args=([self._socket],), daemon=True, name="gateway-sim"
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the gateway simulator on {self.url} did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving (requests still held by a fault are cut after ``GRACEFUL_STOP_SECONDS``),
        close the port, and deliver the notifications already queued."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._server.should_exit = True
            thread.join(timeout=STOP_TIMEOUT_SECONDS)
        self._socket.close()
        self.gateway.close()
        if thread is not None and thread.is_alive():
            raise RuntimeError(f"the gateway simulator on {self.url} did not stop")

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (SIGINT or SIGTERM): ``kasda gateway-sim``."""
        try:
            self._server.run([self._socket])
        finally:
            self._socket.close()
            self.gateway.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences for tests and the demo ---------------------------------------------------
    def set_webhooks(self, *, payments: str | None = None, iris: str | None = None) -> None:
        self.gateway.receipts.webhook_url = payments
        self.gateway.iris.webhook_url = iris

    def pay(self, order_id: str, payment_type: str = "") -> dict[str, Any]:
        reply = self.gateway.pay(order_id, payment_type)
        return dict(reply.body)

    def bank_credit(
        self, reference: str, amount: int, remark: str, *, account: str = "", bank: str = ""
    ) -> SimCredit:
        """Money paid into the RKUD at the bank now, outside the gateway (a teller deposit, a
        transfer from the centre): a credit on the day's statement whose remark starts with
        ``reference`` (after a lead word such as ``TRF``)."""
        if type(amount) is not int or amount <= 0:
            raise ValueError(f"a credit is a positive integer number of rupiah, got {amount!r}")
        credit = SimCredit(self.state.now(), amount, reference, remark, account, bank)
        with self.state.lock:
            self.state.credits.append(credit)
        return credit

    def bank_debit(
        self, reference: str, amount: int, remark: str, *, account: str = "", bank: str = ""
    ) -> SimCredit:
        """Money paid out of the RKUD at the bank now, outside the gateway (the SP2D of a
        bendahara's UP, GU or TU, paid by the bank's own transfer): a debit on the day's
        statement whose remark starts with ``reference``."""
        if type(amount) is not int or amount <= 0:
            raise ValueError(f"a debit is a positive integer number of rupiah, got {amount!r}")
        debit = SimCredit(self.state.now(), amount, reference, remark, account, bank, debit=True)
        with self.state.lock:
            self.state.credits.append(debit)
        return debit

    def payouts(self) -> list[SimPayout]:
        with self.state.lock:
            return list(self.state.payouts.values())

    def payout(self, reference: str) -> SimPayout:
        with self.state.lock:
            return self.state.payouts[reference]

    def flush(self, timeout: float = 10.0) -> None:
        self.gateway.flush(timeout)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no API request is being served (e.g. a late one still sleeping)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if self.state.inflight == 0:
                    return
            time.sleep(0.01)

    def payout_report(self, day: date) -> str:
        return reports.payout_report(self.state, day)

    def settlement_report(self, day: date) -> str:
        return reports.settlement_report(self.state, day)

    def rkud_statement(self, day: date, fmt: str = "mt940") -> str:
        return reports.rkud_statement(self.state, day, fmt)
