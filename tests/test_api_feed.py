"""The event feed over HTTP, on a real SQLite file and a real PostgreSQL schema: BPKAD's
subscriptions (only BPKAD, only its pemda), the secret and pull token shown once, the subscribers'
pull route (its pemda and kinds only, the same CloudEvents the dispatcher pushes), every refusal a
problem+json, and the dispatcher the API's lifespan starts delivering to a receiver on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from feed import events, signing
from ledger.roles import Role
from testkit.api import build_world, expect, get, post, settings, vendor_body
from testkit.world import OTHER_PEMDA, PEMDA
from tests.conftest import make_url
from tests.feed_kit import FAST, receiver

PROBLEM = "application/problem+json"
SUBS = "/feed/subscriptions"
ADMIN = Role.BPKAD_ADMIN
KINDS = ["Disbursement.Requested", "Vendor.*"]


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def problem(response: Any, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["rule"] == rule


def subscription_body(name: str = "sipd", kinds: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "url": "https://sipd.example.go.id/kasda",
        "kinds": KINDS if kinds is None else kinds,
    }


def pull(client: TestClient, token: str, pemda: str = PEMDA, **params: Any) -> Any:
    return client.get(
        f"/feed/{pemda}/events", params=params, headers={"Authorization": f"Bearer {token}"}
    )


def test_bpkad_subscribes_and_the_subscriber_pulls_its_own(
    api: tuple[TestClient, ApiSettings],
) -> None:
    client, config = api
    build_world(client, config)
    build_world(client, config, pemda=OTHER_PEMDA)
    made = expect(post(client, config, ADMIN, SUBS, subscription_body()), 201)
    sid, token = made["id"], made["pull_token"]
    assert made["secret"] == signing.secret(config.events.key, sid, 0)
    assert token == signing.pull_token(config.events.key, sid, 0)

    listed = expect(get(client, config, ADMIN, SUBS), 200)
    assert [s["id"] for s in listed["items"]] == [sid]
    assert "secret" not in listed["items"][0] and "pull_token" not in listed["items"][0]
    one = expect(get(client, config, ADMIN, f"{SUBS}/{sid}"), 200)
    assert one["kinds"] == sorted(KINDS) and one["delivery"] == {
        "cursor": 0,
        "pending": 0,
        "dead": 0,
    }

    answer = pull(client, token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(events.BATCH_CONTENT_TYPE)
    batch = answer.json()
    assert {e["type"] for e in batch} == {
        "id.go.kasda.disbursement.requested",
        "id.go.kasda.vendor.registered",
    }
    assert {e["source"] for e in batch} == {f"urn:kasda:pemda:{PEMDA}"}
    assert len(batch) == 4  # two vendors, two payments requested: none of the other pemda's
    positions = [e["kasdaposition"] for e in batch]
    assert positions == sorted(positions)
    assert answer.headers["X-Kasda-Feed-Next-After"] == str(positions[-1])
    page = pull(client, token, after=positions[1], limit=1).json()
    assert page == [batch[2]]
    assert pull(client, token, after=positions[-1]).json() == []

    # The log position validates a page: asked again unchanged, 304 without a body; once the log
    # moved (here: a vendor registered), the page again, with a new tag.
    tag = answer.headers["ETag"]
    again = client.get(
        f"/feed/{PEMDA}/events",
        headers={"Authorization": f"Bearer {token}", "If-None-Match": tag},
    )
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    expect(post(client, config, ADMIN, "/vendors", vendor_body("019999999999000", "CV Baru")), 201)
    moved = client.get(
        f"/feed/{PEMDA}/events",
        headers={"Authorization": f"Bearer {token}", "If-None-Match": tag},
    )
    assert moved.status_code == 200 and moved.headers["ETag"] != tag
    assert len(moved.json()) == 5

    # Its kinds changed: it hears what it is allowed now, and nothing else.
    changed = post(client, config, ADMIN, f"{SUBS}/{sid}/kinds", {"kinds": ["Budget.*"]})
    assert expect(changed, 200)["result"]["kinds"] == ["Budget.*"]
    assert {e["type"] for e in pull(client, token).json()} == {"id.go.kasda.budget.adopted"}

    # A rotation: a new token and secret; the old token stops working.
    rotated = expect(post(client, config, ADMIN, f"{SUBS}/{sid}/rotate"), 200)
    assert rotated["secret"] != made["secret"] and rotated["pull_token"] != token
    problem(pull(client, token), 401, "authentication_required")
    assert pull(client, rotated["pull_token"]).status_code == 200

    for path, state in (("pause", "paused"), ("resume", "active"), ("delete", "deleted")):
        assert (
            expect(post(client, config, ADMIN, f"{SUBS}/{sid}/{path}"), 200)["result"]["state"]
            == state
        )
    problem(post(client, config, ADMIN, f"{SUBS}/{sid}/resume"), 409, "subscription_lifecycle")
    problem(pull(client, rotated["pull_token"]), 401, "authentication_required")


def test_refusals_are_problems(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    made = expect(post(client, config, ADMIN, SUBS, subscription_body()), 201)
    sid, token = made["id"], made["pull_token"]
    problem(
        post(client, config, Role.KUASA_BUD, SUBS, subscription_body("x")),
        403,
        "role_not_permitted",
    )
    problem(get(client, config, Role.AUDITOR, SUBS), 403, "role_not_permitted")
    problem(post(client, config, ADMIN, SUBS, subscription_body()), 409, "unique_identity")
    problem(
        post(client, config, ADMIN, SUBS, subscription_body("y", ["Disbursement.Paid"])),
        422,
        "invalid_input",
    )
    bad_url = subscription_body("z") | {"url": "ftp://sipd.example.go.id/x"}
    problem(post(client, config, ADMIN, SUBS, bad_url), 422, "invalid_input")
    problem(
        post(client, config, ADMIN, SUBS, subscription_body("w", [])), 422, "request_validation"
    )
    # Another pemda's BPKAD: its own path does not have it; this pemda's path is not its.
    problem(get(client, config, ADMIN, f"{SUBS}/{sid}", pemda=OTHER_PEMDA), 404, "not_found")
    problem(post(client, config, ADMIN, f"{SUBS}/{sid}/pause", pemda=OTHER_PEMDA), 404, "not_found")
    problem(
        post(client, config, ADMIN, f"{SUBS}/{sid}/rewind", {"position": 10**12}),
        422,
        "position_not_recorded",
    )
    problem(
        post(client, config, ADMIN, f"{SUBS}/{sid}/rewind", {"position": -1}),
        422,
        "request_validation",
    )

    for params in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 5000}, {"after": 2**63}):
        problem(pull(client, token, **params), 422, "request_validation")
    problem(pull(client, token, pemda=OTHER_PEMDA), 401, "authentication_required")
    problem(pull(client, "not-a-token"), 401, "authentication_required")
    problem(client.get(f"/feed/{PEMDA}/events"), 401, "authentication_required")
    jwt = get(client, config, ADMIN, SUBS).request.headers["Authorization"].split()[1]
    problem(pull(client, jwt), 401, "authentication_required")
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    problem(pull(client, forged), 401, "authentication_required")


def test_dead_letters_replay_and_rewind_routes(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    world = build_world(client, config)
    sid = expect(post(client, config, ADMIN, SUBS, subscription_body()), 201)["id"]
    letters = expect(get(client, config, ADMIN, f"{SUBS}/{sid}/dead-letters"), 200)
    assert letters["items"] == [] and letters["total"] == 0
    replayed = post(client, config, ADMIN, f"{SUBS}/{sid}/dead-letters/replay", {})
    assert expect(replayed, 200) == {"replayed": 0}
    position = int(world["position"])
    rewound = post(client, config, ADMIN, f"{SUBS}/{sid}/rewind", {"position": position})
    assert expect(rewound, 200) == {"cursor": position}
    delivery = expect(get(client, config, ADMIN, f"{SUBS}/{sid}"), 200)["delivery"]
    assert delivery == {"cursor": position, "pending": 0, "dead": 0}


def test_the_api_process_dispatches(tmp_path: Path) -> None:
    """With the dispatcher on (``KASDA_FEED_DISPATCH``), ``kasda serve``'s lifespan starts it: a
    subscription made over HTTP gets its events pushed, signed, without anything else running."""
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    config = replace(config, feed=replace(FAST, key=config.events.key, dispatch=True))
    with receiver() as seen, TestClient(create_app(config)) as client:
        build_world(client, config)
        body = subscription_body() | {"url": seen.url}
        made = expect(post(client, config, ADMIN, SUBS, body), 201)
        deadline = time.monotonic() + 15
        while len(seen.delivered) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        pulled = pull(client, made["pull_token"]).json()
    assert seen.delivered == pulled
    attempt = seen.attempts[0]
    assert signing.signature_valid(
        made["secret"],
        attempt.headers[signing.TIMESTAMP_HEADER],
        attempt.body,
        attempt.headers[signing.SIGNATURE_HEADER],
    )
