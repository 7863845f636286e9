"""Commands from several callers sent so that they meet in one group commit: the first request's
batch is held in the ledger until every other request waits in the writer, then all of those go
into the next batch together. Shared by the writer's and the edge's tests."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI

from ledger.application import Ledger
from ledger.commands import Command
from testkit.world import PEMDA


def post_in_one_batch(
    app: FastAPI, ledger: Ledger, headers: dict[str, str], bodies: Sequence[dict[str, Any]]
) -> tuple[list[int], list[httpx.Response]]:
    """POST each body as an SPP request; the sizes of the ledger's batches and the answers in the
    order of ``bodies``. The JSON is written with escapes (``ensure_ascii``), so a body may hold a
    lone surrogate, which httpx would refuse to encode."""
    sizes: list[int] = []
    first_running = threading.Event()
    release = threading.Event()
    original = ledger.execute_batch

    def spy(commands: Sequence[Command]) -> Any:
        sizes.append(len(commands))
        if len(sizes) == 1:  # hold the first batch until every other command is waiting
            first_running.set()
            assert release.wait(timeout=60)
        return original(commands)

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kasda") as http:

            async def send(n: int, body: dict[str, Any]) -> httpx.Response:
                return await http.post(
                    f"/pemda/{PEMDA}/disbursements",
                    content=json.dumps(body).encode(),
                    headers={
                        **headers,
                        "Idempotency-Key": f"g-{n}",
                        "Content-Type": "application/json",
                    },
                )

            first = asyncio.create_task(send(0, bodies[0]))
            await asyncio.to_thread(first_running.wait, 60)
            rest = [asyncio.create_task(send(n, b)) for n, b in enumerate(bodies) if n]
            writer = app.state.writer
            while writer.waiting < len(rest):
                await asyncio.sleep(0.01)
            release.set()
            return [await first, *[await task for task in rest]]

    ledger.execute_batch = spy  # type: ignore[method-assign]
    try:
        return sizes, asyncio.run(main())
    finally:
        ledger.execute_batch = original  # type: ignore[method-assign]
