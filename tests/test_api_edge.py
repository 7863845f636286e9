"""The HTTP edge (``api/edge.py``, ``api/auth.py``, ``api/docs.py``, ``api/writer.py``): one
caller's bad input fails only that caller's request, the worst inputs get a 4xx on every route
class, sizes are checked before bodies are read and before tokens are, 401 comes before 422,
every answer carries the security headers, tokens have a maximum lifetime, and /docs needs no CDN."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import MAX_TOKEN_LENGTH, make_token
from api.edge import MAX_API_BODY, MAX_WEBHOOK_BODY
from api.settings import ApiSettings
from gateways.config import GatewaySettings
from ledger import ids
from ledger.application import Ledger
from ledger.commands import Command
from ledger.errors import InvalidInput
from ledger.roles import Role
from testkit.api import bearer, build_world, new_key, request_body, settings, vendor_body
from testkit.world import PEMDA
from tests.conftest import make_url
from tests.group_commit import post_in_one_batch

PROBLEM = "application/problem+json"


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    gateways = GatewaySettings.for_simulator("http://127.0.0.1:9", timeout_seconds=0.5)
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}", gateway_settings=gateways)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client, config


def assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


# -- one caller cannot hurt another -----------------------------------------------------------
BAD_BODIES: dict[str, dict[str, Any]] = {
    "surrogate in a document kind": {**request_body("SPP-BAD"), "documents": {"k\ud800": "K/1"}},
    "surrogate in a document number": {**request_body("SPP-BAD"), "documents": {"c": "K\udfff"}},
    "bidi override in the description": {**request_body("SPP-BAD"), "description": "a\u202eb"},
    "zero width in the SPP number": {**request_body("SPP-BAD"), "spp_number": "SPP\u200b-1"},
}


@pytest.mark.parametrize("bad", sorted(BAD_BODIES))
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_bad_command_in_a_group_commit_fails_alone(
    backend: str, bad: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Commands from several callers wait while a batch is written and go together into the next
    one; the one that cannot be stored gets its 422, every other its 201."""
    config = settings(make_url(backend, tmp_path, request))
    ledger = Ledger(config.database_url)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            build_world(client, config)
        bodies = [request_body(f"SPP-G{n}", gross=10_000_000) for n in range(4)]
        bodies.insert(2, BAD_BODIES[bad])
        headers = bearer(config, Role.PPTK)
        sizes, answers = post_in_one_batch(app, ledger, headers, bodies)
        assert sizes[0] == 1 and sizes[1] == len(bodies) - 1  # the bad one shared the batch
        assert [a.status_code for a in answers] == [201, 201, 422, 201, 201], [
            a.text for a in answers
        ]
        refused = answers[2].json()
        assert answers[2].headers["content-type"].startswith(PROBLEM)
        assert refused["rule"] == "invalid_input"
        assert not ledger.recorder.select_events(ids.disbursement_id(PEMDA, 2026, "SPP-BAD"))
    finally:
        ledger.close()


def test_a_batch_that_fails_unexpectedly_is_run_again_one_by_one(tmp_path: Path) -> None:
    """Whatever one command does to a batch (here: its handler raises an unexpected error), the
    writer runs the members alone: only that command's caller gets the error."""
    from api.writer import BatchWriter

    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}")
    config = settings(ledger.url)
    try:
        with TestClient(create_app(config, ledger=ledger)) as client:
            build_world(client, config)
        original = ledger.execute_batch

        def fragile(commands: Sequence[Command]) -> Any:
            if any(getattr(c, "spp_number", "") == "SPP-BOOM" for c in commands):
                raise RuntimeError("a bug that only this command triggers")
            return original(commands)

        ledger.execute_batch = fragile  # type: ignore[method-assign]
        writer = BatchWriter(ledger)
        from tests import factory as f

        commands = [f.request(f"SPP-W{n}", 1_000, deductions=()) for n in range(3)]
        commands.insert(1, f.request("SPP-BOOM", 1_000, deductions=()))

        async def main() -> list[Any]:
            return await asyncio.gather(
                *(writer.execute(c) for c in commands), return_exceptions=True
            )

        results = asyncio.run(main())
        assert isinstance(results[1], RuntimeError)
        assert [type(r).__name__ for i, r in enumerate(results) if i != 1] == ["Written"] * 3
    finally:
        ledger.close()


# -- the worst inputs against every route class -----------------------------------------------
def _deep(depth: int) -> bytes:
    return b'{"year": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE: dict[str, bytes] = {
    "nested 100k deep": _deep(100_000),
    "nested 900 deep": _deep(900),
    "escaped lone surrogates": b'{"\\ud800": "\\udfff", "name": "\\ud800", "reason": "\\udc00"}',
    "not UTF-8": b'{"name": "\xff\xfe\xed\xa0\x80"}',
    "array": b"[" + b"1," * 10_000 + b"1]",
    "string": b'"x"',
    "huge number": b'{"year": 1' + b"0" * 5_000 + b"}",
    "NaN": b'{"year": NaN}',
    "empty": b"",
}
ROUTES = [
    ("POST", f"/pemda/{PEMDA}/disbursements"),
    ("POST", f"/pemda/{PEMDA}/vendors"),
    ("POST", f"/pemda/{PEMDA}/budgets"),
    ("POST", f"/pemda/{PEMDA}/reconciliation/runs"),
    ("POST", f"/pemda/{PEMDA}/disbursements/00000000-0000-0000-0000-000000000000/reject"),
    ("GET", f"/pemda/{PEMDA}/lra?year=2026&level=%ED%A0%80"),
    ("GET", f"/pemda/{PEMDA}/vendors?name=%00%ED%A0%80"),
    ("POST", "/webhooks/iris"),
    ("POST", "/webhooks/midtrans"),
    ("GET", "/healthz"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_worst_inputs_get_a_4xx_on_every_route_class(
    edge: tuple[TestClient, ApiSettings], name: str
) -> None:
    client, config = edge
    raw = HOSTILE[name]
    for authenticated in (True, False):
        for method, path in ROUTES:
            headers = {"Content-Type": "application/json", "Idempotency-Key": new_key()}
            if authenticated:
                headers.update(bearer(config, Role.BPKAD_ADMIN))
            answer = client.request(method, path, content=raw, headers=headers)
            assert answer.status_code < 500, (method, path, answer.status_code, answer.text)
            if answer.status_code >= 400:
                answer.json()  # a readable refusal
            assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_refusal_that_quotes_a_lone_surrogate_still_encodes(
    edge: tuple[TestClient, ApiSettings],
) -> None:
    client, config = edge
    build_world(client, config)
    raw = json.dumps({**request_body("SPP-Q"), "documents": {"\ud800": "K/1"}})
    headers = {**bearer(config, Role.PPTK), "Idempotency-Key": new_key()}
    headers["Content-Type"] = "application/json"
    answer = client.post(f"/pemda/{PEMDA}/disbursements", content=raw, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["rule"] == "invalid_input"
    answer.content.decode("utf-8")


# -- sizes before reading, before authentication ----------------------------------------------
def _asgi(
    app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], int]:
    """Call ``app`` directly: the status, headers and how many times it asked for the body."""
    asked = 0
    started: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"{}", "more_body": True}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("kasda", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    found = {k.decode(): v.decode() for k, v in started["headers"]}
    return int(started["status"]), found, asked


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (f"/pemda/{PEMDA}/disbursements", MAX_API_BODY),
        (f"/pemda/{PEMDA}/budgets", MAX_API_BODY),
        ("/webhooks/iris", MAX_WEBHOOK_BODY),
        ("/webhooks/midtrans", MAX_WEBHOOK_BODY),
        ("/healthz", 0),
    ],
)
def test_a_body_over_the_limit_is_refused_unread_and_before_the_token(
    edge: tuple[TestClient, ApiSettings], path: str, limit: int
) -> None:
    client, _ = edge
    declared = [(b"content-length", str(limit + 1).encode())]
    # No token at all: the size is refused first (413), not the missing token (401).
    status, headers, asked = _asgi(client.app, "POST", path, declared)  # type: ignore[arg-type]
    assert (status, asked) == (413, 0)
    assert headers["content-type"].startswith(PROBLEM)
    assert headers["cache-control"] == "no-store"
    # Chunked (no length): read up to the limit and no further.
    if limit:
        big = b"x" * (limit + 1)

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(big), 1 << 20):
                yield big[start : start + (1 << 20)]

        headers_ = {"Content-Type": "application/json"}
        if path.startswith("/pemda/"):
            headers_.update(bearer(_config(client), Role.PPTK))
        assert client.post(path, content=chunks(), headers=headers_).status_code == 413


def _config(client: TestClient) -> ApiSettings:
    config: ApiSettings = client.app.state.settings  # type: ignore[attr-defined]
    return config


# -- 401 before 422 -----------------------------------------------------------------------------
def test_an_unauthenticated_request_is_401_whatever_else_is_wrong(
    edge: tuple[TestClient, ApiSettings],
) -> None:
    client, config = edge
    valid = make_token(config, sub="x", role=Role.PPTK, pemda=PEMDA)
    for authorization in (
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer not-a-jwt",
        "Bearer " + "a" * (MAX_TOKEN_LENGTH + 1),
        "Bearer " + valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB"),  # forged
    ):
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        for method, path, body in (
            ("POST", f"/pemda/{PEMDA}/disbursements", b"{not json"),  # malformed body
            ("POST", f"/pemda/{PEMDA}/disbursements", b"{}"),  # no Idempotency-Key, no fields
            ("GET", f"/pemda/{PEMDA}/lra?year=nineteen", b""),  # bad query
            ("GET", "/pemda/too-long-a-pemda/lra", b""),  # bad path parameter
            ("GET", f"/pemda/{PEMDA}/no-such-route", b""),
        ):
            answer = client.request(method, path, content=body, headers=headers)
            assert answer.status_code == 401, (authorization, path, answer.text)
            assert answer.json()["rule"] == "authentication_required"
            assert answer.headers["www-authenticate"] == "Bearer"
            assert_secured(answer)


# -- token lifetime -----------------------------------------------------------------------------
def _signed(config: ApiSettings, **claims: Any) -> str:
    now = int(time.time())
    base = {
        "sub": "bud.sari",
        "role": "kuasa_bud",  # pemda-wide: no skpd claim needed
        "pemda": PEMDA,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + 3600,
    }
    base.update(claims)
    for key in [k for k, v in base.items() if v is None]:
        del base[key]
    assert config.jwt_secret is not None
    return jwt.encode(base, config.jwt_secret, algorithm="HS256")


def test_tokens_live_at_most_the_configured_lifetime(edge: tuple[TestClient, ApiSettings]) -> None:
    client, config = edge
    now = int(time.time())
    longest = config.max_token_lifetime_seconds

    def me(token: str) -> httpx.Response:
        answer: httpx.Response = client.get(
            f"/pemda/{PEMDA}/me", headers={"Authorization": f"Bearer {token}"}
        )
        return answer

    assert me(_signed(config, exp=now + longest)).status_code == 200
    for token in (
        _signed(config, exp=now + longest + 60),  # lives too long
        _signed(config, iat=now - 10 * longest, exp=now + 60),  # issued long ago, still valid
        _signed(config, exp=None),  # never expires
        _signed(config, iat=None),  # does not say when it was issued
        _signed(config, sub="bud\ud800"),  # a sub the ledger could not record
        _signed(config, sub="bud\u202esari"),
    ):
        answer = me(token)
        assert answer.status_code == 401, answer.text
        assert answer.json()["rule"] == "authentication_required"
    with pytest.raises(InvalidInput):
        make_token(config, sub="x", role=Role.KUASA_BUD, pemda=PEMDA, ttl_seconds=longest + 1)
    with pytest.raises(InvalidInput):
        ApiSettings(database_url="memory://", jwt_secret="s" * 32, max_token_lifetime_seconds=0)


# -- headers on every answer; docs without a CDN -------------------------------------------------
def test_every_answer_carries_the_security_headers(edge: tuple[TestClient, ApiSettings]) -> None:
    client, config = edge
    build_world(client, config)
    answers = [
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/nowhere"),
        client.get(f"/pemda/{PEMDA}/me", headers=bearer(config, Role.PPK)),
        client.get(f"/pemda/{PEMDA}/budgets/2026/lines", headers=bearer(config, Role.PPK)),
        client.post(
            f"/pemda/{PEMDA}/vendors",
            json=vendor_body(),
            headers={**bearer(config, Role.BPKAD_ADMIN), "Idempotency-Key": new_key()},
        ),
        client.get(f"/pemda/{PEMDA}/lra?year=1", headers=bearer(config, Role.PPK)),
        client.post("/webhooks/iris", content=b"{}"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 200, 200, 409, 422, 401]
    for answer in answers:
        assert_secured(answer)


def test_swagger_ui_is_served_by_kasda(edge: tuple[TestClient, ApiSettings]) -> None:
    client, _ = edge
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text and "//" not in page.text
    assert "<script>" not in page.text  # no inline script: the policy allows none
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    for asset, kind in (
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-init.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ):
        answer = client.get(f"/docs/assets/{asset}")
        assert answer.status_code == 200, asset
        assert answer.headers["content-type"].startswith(kind)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert f"/docs/assets/{asset}" in page.text
    assert "/openapi.json" in client.get("/docs/assets/swagger-init.js").text
    for missing in ("index.html", "swagger-initializer.js", "..%2Fswagger-ui.js"):
        assert client.get(f"/docs/assets/{missing}").status_code == 404
    assert client.get("/redoc").status_code in (401, 404)
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/docs") for p in paths)
