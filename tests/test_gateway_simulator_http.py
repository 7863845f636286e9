"""The simulator on the wire: Midtrans's order of refusals and its 404s, the simulator's own
``/sim`` answers, and a start and stop that leave no thread and no open port behind."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateways.simulator import SIM_KEYS, Simulator
from gateways.simulator.server import STOP_TIMEOUT_SECONDS


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3) as running:
        yield running


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


CREATOR, APPROVER, SERVER = (
    basic(SIM_KEYS.creator_key),
    basic(SIM_KEYS.approver_key),
    basic(SIM_KEYS.server_key),
)


def call(
    sim: Simulator, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, Any]:
    response = httpx.request(method, sim.url + path, headers=headers, content=body)
    return response.status_code, response.json()


def test_a_request_is_refused_for_its_body_then_its_key_then_its_route(sim: Simulator) -> None:
    assert call(sim, "POST", "/v2/charge", {}, b"{not json") == (
        400,
        {"error_message": "body is not JSON"},
    )
    assert call(sim, "POST", "/v2/charge", {}, b"{}") == (
        401,
        {"error_message": "Unauthorized: basic auth required"},
    )
    assert call(sim, "GET", "/v2/X/status", basic("someone-else")) == (
        401,
        {"error_message": "Unauthorized: unknown key"},
    )
    assert call(sim, "GET", "/v2/X/status", CREATOR) == (
        401,
        {"status_code": "401", "status_message": "server key required"},
    )
    assert call(sim, "GET", "/iris/api/v1/nowhere", SERVER) == (
        401,
        {"error_message": "Iris needs an Iris key"},
    )
    assert call(sim, "POST", "/iris/api/v1/payouts/approve", CREATOR, b"{}") == (
        401,
        {"error_message": "this action needs the approver key, not the creator key"},
    )
    assert call(sim, "GET", "/v2/X/status", SERVER) == (
        404,
        {"status_code": "404", "status_message": "Transaction doesn't exist."},
    )


def test_a_path_no_product_serves_gets_that_products_404(sim: Simulator) -> None:
    assert call(sim, "PATCH", "/iris/api/v1/payouts/R1", CREATOR) == (
        404,
        {"error_message": "no Iris endpoint PATCH /payouts/R1"},
    )
    assert call(sim, "GET", "/snap/v1/transactions", SERVER) == (
        404,
        {"status_code": "404", "status_message": "no endpoint /snap/v1/transactions"},
    )
    assert call(sim, "GET", "/docs", {})[0] == 401  # no pages of the framework's own
    assert call(sim, "GET", "/sim/pay/X", {}) == (405, {"error": "POST only"})
    assert call(sim, "POST", "/sim/reports/rkud/2026-01-02", {}) == (
        404,
        {"error": "no simulator endpoint /sim/reports/rkud/2026-01-02"},
    )
    assert call(sim, "GET", "/sim/reports/rkud/2026-13-40", {}) == (
        400,
        {"error": "not a date: 2026-13-40"},
    )
    assert httpx.put(sim.url + "/iris/api/v1/balance", headers=CREATOR).status_code == 501


def test_stop_ends_a_request_held_by_a_fault_and_leaves_nothing_running() -> None:
    before = set(threading.enumerate())
    sim = Simulator(seed=3)
    sim.faults.hang_seconds = 60.0
    sim.faults.plan("GET", "/v2/", "hang")
    outcome: list[str] = []

    def held() -> None:
        try:
            response = httpx.get(sim.url + "/v2/X/status", headers=SERVER, timeout=120)
            outcome.append(str(response.status_code))
        except httpx.HTTPError as error:
            outcome.append(type(error).__name__)

    client = threading.Thread(target=held)
    with sim, httpx.Client(base_url=sim.url, headers=CREATOR) as kept_alive:
        assert kept_alive.get("/iris/api/v1/balance").status_code == 200
        client.start()
        deadline = time.monotonic() + 10
        while sim.state.inflight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.state.inflight == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < STOP_TIMEOUT_SECONDS
    client.join(timeout=10)
    assert outcome and outcome != ["404"]  # cut by the stop, not answered after the hang
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((sim.host, sim.port), timeout=2).close()
