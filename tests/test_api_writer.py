"""Group commit (``api/writer.py``): commands waiting while a batch is written go together into
the next ledger batch, and each still gets its own answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.testing import bearer, build_world, request_body, settings
from ledger.application import Ledger
from ledger.commands import Command
from ledger.roles import Role
from tests.conftest import make_url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_waiting_commands_share_a_batch_and_keep_their_own_answers(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    config = settings(make_url(backend, tmp_path, request))
    ledger = Ledger(config.database_url)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            build_world(client, config)
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

        ledger.execute_batch = spy  # type: ignore[method-assign]
        bodies = [request_body(f"SPP-G{n}", gross=10_000_000) for n in range(6)]
        bodies.append(request_body("SPP-G0", gross=10_000_000))  # the same SPP number again
        bodies.append(request_body("SPP-HUGE", gross=999_000_000_000))  # over the pagu
        headers = bearer(config, Role.PPTK)

        async def main() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kasda") as http:

                async def send(n: int, body: dict[str, Any]) -> httpx.Response:
                    return await http.post(
                        "/pemda/32.73/disbursements",
                        json=body,
                        headers={**headers, "Idempotency-Key": f"g-{n}"},
                    )

                first = asyncio.create_task(send(0, bodies[0]))
                await asyncio.to_thread(first_running.wait, 60)
                rest = [asyncio.create_task(send(n, b)) for n, b in enumerate(bodies) if n]
                writer = app.state.writer
                while len(writer._pending) < len(rest):
                    await asyncio.sleep(0.01)
                release.set()
                return [await first, *[await task for task in rest]]

        answers = asyncio.run(main())
        assert sizes == [1, len(bodies) - 1]
        assert [a.status_code for a in answers] == [201] * 6 + [409, 409]
        assert [a.json()["rule"] for a in answers[6:]] == [
            "unique_identity",
            "committed_plus_realised_within_pagu",
        ]
        assert len({a.json()["id"] for a in answers[:6]}) == 6
    finally:
        ledger.close()
