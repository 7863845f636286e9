"""Idempotency-Key on every POST: a retry returns the first response (status and body), another
body under the same key is a 422, and an optimistic-concurrency conflict is a 409 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import REPLAYED_HEADER
from api.settings import ApiSettings
from ledger.errors import ConcurrencyConflict
from ledger.roles import Role
from testkit.api import (
    adopt_body,
    bearer,
    build_world,
    expect,
    get,
    post,
    request_body,
    settings,
    vendor_body,
)
from tests.conftest import make_url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ApiSettings]:
    url = make_url(str(request.param), tmp_path, request)
    return url, settings(url)


@pytest.fixture
def api(store: tuple[str, ApiSettings]) -> Iterator[tuple[TestClient, ApiSettings]]:
    _, config = store
    with TestClient(create_app(config)) as client:
        yield client, config


def test_a_retry_returns_the_first_response(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    build_world(client, config)
    first = post(client, config, Role.PPTK, "/disbursements", request_body("SPP-R"), key="r-1")
    again = post(client, config, Role.PPTK, "/disbursements", request_body("SPP-R"), key="r-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.content == again.content  # the position too: nothing was written in between
    assert REPLAYED_HEADER not in first.headers
    assert again.headers[REPLAYED_HEADER] == "true"
    # one payment, one commitment
    found = expect(get(client, config, Role.AUDITOR, "/disbursements"), 200)
    assert [x["spp_number"] for x in found["items"]].count("SPP-R") == 1


def test_a_retried_step_returns_the_first_response_after_the_state_moved_on(
    api: tuple[TestClient, ApiSettings],
) -> None:
    client, config = api
    d = build_world(client, config)["disbursement_id"]
    first = post(client, config, Role.PPK, f"/disbursements/{d}/verify", key="v-1")
    expect(
        post(client, config, Role.PA_KPA, f"/disbursements/{d}/approve", {"spm_number": "SPM-1"}),
        200,
    )
    again = post(client, config, Role.PPK, f"/disbursements/{d}/verify", key="v-1")
    assert (first.status_code, again.status_code) == (200, 200)
    # The first answer, but for the position: the log's head now, past the approval's events.
    assert {**first.json(), "position": None} == {**again.json(), "position": None}
    assert again.json()["position"] > first.json()["position"]
    assert again.json()["result"]["status"] == "verified"  # the first answer, not "approved"
    # without the key it would be a lifecycle conflict
    fresh = post(client, config, Role.PPK, f"/disbursements/{d}/verify", key="v-2")
    assert fresh.status_code == 409


def test_same_key_with_another_body_is_422(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    build_world(client, config)
    expect(post(client, config, Role.PPTK, "/disbursements", request_body("SPP-A"), key="a-1"), 201)
    other = post(
        client,
        config,
        Role.PPTK,
        "/disbursements",
        request_body("SPP-A", gross=99_000_000),
        key="a-1",
    )
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["rule"] == "idempotency_key_reused_with_other_command"
    # on another route (another command) too, and by another user
    d = expect(get(client, config, Role.AUDITOR, "/disbursements"), 200)["items"][0]["id"]
    again = post(client, config, Role.PPK, f"/disbursements/{d}/verify", key="a-1")
    assert again.json()["rule"] == "idempotency_key_reused_with_other_command"
    by_other_user = post(
        client,
        config,
        Role.PPTK,
        "/disbursements",
        request_body("SPP-A"),
        key="a-1",
        user="pptk.other",
    )
    assert by_other_user.status_code == 422


def test_every_post_needs_the_key(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    posts = [
        (path, item["post"]["x-kasda-roles"][0])
        for path, item in client.get("/openapi.json").json()["paths"].items()
        if "post" in item and "x-kasda-roles" in item["post"]
    ]
    assert len(posts) >= 19
    for path, role in posts:
        response = client.post(
            path.replace("{pemda}", "32.73")
            .replace("{year}", "2026")
            .replace("{npwp}", "012345678901000")
            .replace("{disbursement_id}", "00000000-0000-4000-8000-000000000000"),
            json={},
            headers=bearer(config, Role(role)),
        )
        assert response.status_code == 422, (path, response.text)
        locations = [e["loc"] for e in response.json()["errors"]]
        assert ["header", "Idempotency-Key"] in locations, (path, locations)


def test_the_replay_survives_a_restart_and_another_worker(
    store: tuple[str, ApiSettings],
) -> None:
    _, config = store
    with TestClient(create_app(config)) as one:
        expect(post(one, config, Role.BPKAD_ADMIN, "/budgets", adopt_body(), key="adopt-1"), 201)
        first = post(one, config, Role.BPKAD_ADMIN, "/vendors", vendor_body(), key="vendor-1")
    with TestClient(create_app(config)) as two:
        again = post(two, config, Role.BPKAD_ADMIN, "/vendors", vendor_body(), key="vendor-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.content == again.content


def test_a_concurrency_conflict_is_409_with_a_retry_hint(
    api: tuple[TestClient, ApiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, config = api
    build_world(client, config)
    ledger: Any = client.app.state.ledger  # type: ignore[attr-defined]

    def conflict(commands: Any) -> Any:
        return [ConcurrencyConflict("gave up after 8 attempts; retry with the same key")]

    monkeypatch.setattr(ledger, "execute_batch", conflict)
    response = post(client, config, Role.PPTK, "/disbursements", request_body("SPP-C"))
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert response.json()["rule"] == "optimistic_concurrency"


def test_an_unavailable_store_is_503_not_500(
    api: tuple[TestClient, ApiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsourcing.persistence import OperationalError

    client, config = api
    ledger: Any = client.app.state.ledger  # type: ignore[attr-defined]

    def down(commands: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(ledger, "execute_batch", down)
    response = post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["rule"] == "store_unavailable"


def test_racing_retries_on_two_workers_pay_once(store: tuple[str, ApiSettings]) -> None:
    """The same request sent at once to two workers (two apps on one store): both answer the
    same 201 body, and the store holds one payment."""
    import threading

    _, config = store
    with TestClient(create_app(config)) as one, TestClient(create_app(config)) as two:
        build_world(one, config)
        answers: list[Any] = [None] * 8
        start = threading.Barrier(len(answers))

        def send(slot: int) -> None:
            client = one if slot % 2 == 0 else two
            start.wait()
            answers[slot] = post(
                client, config, Role.PPTK, "/disbursements", request_body("SPP-RACE"), key="race"
            )

        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(answers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
        assert len({a.content for a in answers}) == 1
        assert sum(1 for a in answers if REPLAYED_HEADER not in a.headers) == 1
        listed = expect(get(two, config, Role.AUDITOR, "/disbursements"), 200)
        assert [x["spp_number"] for x in listed["items"]].count("SPP-RACE") == 1
