"""Group commit (``api/writer.py``): commands waiting while a batch is written go together into
the next ledger batch, and each still gets its own answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.roles import Role
from testkit.api import bearer, build_world, request_body, settings
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
