"""Group commit (``api/writer.py``): commands waiting while a batch is written go together into
the next ledger batch, and each still gets its own answer."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.writer import BatchWriter
from ledger.application import Ledger
from ledger.roles import Role
from testkit.api import bearer, build_world, request_body, settings
from tests import factory as f
from tests.conftest import make_url
from tests.group_commit import post_in_one_batch


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
        bodies = [request_body(f"SPP-G{n}", gross=10_000_000) for n in range(6)]
        bodies.append(request_body("SPP-G0", gross=10_000_000))  # the same SPP number again
        bodies.append(request_body("SPP-HUGE", gross=999_000_000_000))  # over the pagu
        headers = bearer(config, Role.PPTK)
        sizes, answers = post_in_one_batch(app, ledger, headers, bodies)
        assert sizes == [1, len(bodies) - 1]
        assert [a.status_code for a in answers] == [201] * 6 + [409, 409]
        assert [a.json()["rule"] for a in answers[6:]] == [
            "unique_identity",
            "committed_plus_realised_within_pagu",
        ]
        assert len({a.json()["id"] for a in answers[:6]}) == 6
    finally:
        ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_batch_answers_with_its_last_event_without_reading_the_head(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer read the log's head after every batch: one more query per write. A batch that
    recorded events now answers with its own last event; a retry still reads the head."""
    ledger = Ledger(make_url(backend, tmp_path, request))
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        heads = 0
        head = ledger.recorder.max_notification_id

        def counted() -> int | None:
            nonlocal heads
            heads += 1
            return head()

        monkeypatch.setattr(ledger.recorder, "max_notification_id", counted)
        writer = BatchWriter(ledger)
        command = f.request("SPP-W1")
        written = asyncio.run(writer.execute(command))
        assert heads == 0
        assert written.position == head() and not written.result.replayed
        again = asyncio.run(writer.execute(dataclasses.replace(command)))
        assert again.result.replayed and again.position == head() and heads == 1
    finally:
        ledger.close()
