"""The simulator's HTTP application: the routes of ``gateways.simulator.routes`` behind the fault
injection, with ``ApiError`` answered as the product's error body."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateways.simulator.gateway import Gateway
from gateways.simulator.replies import ApiError, Reply
from gateways.simulator.routes import ROUTES, SERVED_METHODS, answer, raw_path
from gateways.simulator.state import SimState

CONTROL_PREFIX = "/sim/"  # the simulator's own endpoints: no faults
ERRORS_BEFORE_WORK = frozenset({"500", "502", "503"})
HELD_AFTER_WORK = frozenset({"hang", "done-500"})


def create_app(gateway: Gateway) -> Starlette:
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(FaultInjection, state=gateway.state)],
        exception_handlers={ApiError: _refused},
    )
    app.state.gateway = gateway
    return app


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return answer(Reply(error.status, error.body))


class FaultInjection:
    """Counts the requests in flight (``SimState.inflight``) and plays the planned ``Faults`` on
    the API's requests (not on ``/sim/...``): a delay; a 5xx instead of the work; the request held
    before the work (``late``: it lands after its client gave up) or its answer held after the work
    (``hang``); a 500 after the work (``done-500``).

    The body is read in full first, as the client sent it: the route then reads that copy, so a
    request held ``late`` is still carried out after its client hung up."""

    def __init__(self, app: ASGIApp, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SERVED_METHODS:
            unsupported = {"error_message": f"Unsupported method ({scope['method']!r})"}
            await answer(Reply(501, unsupported))(scope, receive, send)
            return
        body = await _read_body(receive)
        with self._in_flight():
            replay = _replay(body, receive)
            if raw_path(scope).startswith(CONTROL_PREFIX):
                await self.app(scope, replay, send)
            else:
                await self._with_faults(scope, replay, send)

    async def _with_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        with state.lock:
            fault = state.faults.take(scope["method"], raw_path(scope), state.rng)
            delay, hang = state.faults.delay_seconds, state.faults.hang_seconds
        if delay:
            await asyncio.sleep(delay)
        if fault in ERRORS_BEFORE_WORK:
            error = Reply(int(fault), {"error_message": "simulated gateway error"})
            await answer(error)(scope, receive, send)
            return
        if fault == "late":
            await asyncio.sleep(hang)
        if fault not in HELD_AFTER_WORK:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if fault == "done-500":
            error = Reply(500, {"error_message": "simulated error after processing"})
            await answer(error)(scope, receive, send)
            return
        await asyncio.sleep(hang)
        for message in held:
            await send(message)

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        with self.state.lock:
            self.state.inflight += 1
        try:
            yield
        finally:
            with self.state.lock:
                self.state.inflight -= 1


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client hung up while sending
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives the body already read, then whatever the connection says next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
