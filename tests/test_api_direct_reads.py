"""The busiest reads answered without FastAPI's routing and dependencies (``api.routing.
DirectReads``): every answer, success or refusal, byte for byte the answer FastAPI gives when the
shortcut is taken out of the app; forms of the request it does not take reach FastAPI.

Also the guard and tenant as one dependency (``api.deps.Serve``): its refusals come in the
guard's order, before the tenant's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.routing import DirectReads
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.roles import Role
from testkit.api import build_world, settings, token
from testkit.world import NPWP, OTHER_NPWP, OTHER_PEMDA, OTHER_SKPD, PEMDA
from tests.conftest import make_url


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    url = make_url(str(request.param), tmp_path, request)
    config = settings(url)
    ledger = Ledger(url)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            yield client, config
    finally:
        app.state.read_models.close()
        ledger.close()


def direct(app: FastAPI) -> DirectReads:
    [found] = [r for r in app.router.routes if isinstance(r, DirectReads)]
    return found


def answers(client: TestClient, requests: list[tuple[str, dict[str, str]]]) -> list[Any]:
    out = []
    for path, headers in requests:
        response = client.get(path, headers=headers)
        out.append((path, response.status_code, response.headers.raw, response.content))
    return out


def test_direct_reads_answer_as_fastapi_does(
    served: tuple[TestClient, ApiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, config = served
    world = build_world(client, config)
    mine, theirs = world["disbursement_id"], world["other_vendor_disbursement_id"]

    def bearer(role: Role, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(config, role, **kw)}"}

    readers = [
        bearer(Role.AUDITOR),
        bearer(Role.PPTK),  # of the payments' SKPD
        bearer(Role.PPK, skpd=OTHER_SKPD),  # another SKPD's: 403 skpd_scope
        bearer(Role.VENDOR, npwp=NPWP),  # its own payment only: 404 for the other
        bearer(Role.VENDOR, npwp=OTHER_NPWP),
        bearer(Role.AUDITOR, pemda=OTHER_PEMDA),  # another pemda's token: 404 tenant_scope
        {"Authorization": "Bearer not-a-token"},  # the edge's 401, before any route
    ]
    paths = []
    for base in (f"/pemda/{PEMDA}", f"/pemda/{OTHER_PEMDA}"):
        for id_ in (mine, theirs, str(uuid4())):  # the last one does not exist: 404
            paths += [f"{base}/disbursements/{id_}", f"{base}/disbursements/{id_}/history"]
    requests = [(path, headers) for path in paths for headers in readers]
    shortcut = direct(client.app)  # type: ignore[arg-type]
    handled = []
    real = DirectReads.handle

    async def counted(self: DirectReads, scope: Any, receive: Any, send: Any) -> None:
        handled.append(scope["path"])
        await real(self, scope, receive, send)

    monkeypatch.setattr(DirectReads, "handle", counted)
    fast = answers(client, requests)
    assert len(handled) == len([r for r in requests if "not-a-token" not in r[1]["Authorization"]])
    client.app.router.routes.remove(shortcut)  # type: ignore[attr-defined]
    slow = answers(client, requests)
    assert fast == slow
    statuses = {status for _, status, _, _ in fast}
    assert statuses == {200, 401, 403, 404}, statuses
    assert b"application/json" in dict(fast[0][2])[b"content-type"]


def test_other_forms_of_the_request_reach_fastapi(
    served: tuple[TestClient, ApiSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, config = served
    world = build_world(client, config)
    id_ = world["disbursement_id"]
    auditor = {"Authorization": f"Bearer {token(config, Role.AUDITOR)}"}
    handled: list[str] = []
    real = DirectReads.handle

    async def counted(self: DirectReads, scope: Any, receive: Any, send: Any) -> None:
        handled.append(scope["path"])
        await real(self, scope, receive, send)

    monkeypatch.setattr(DirectReads, "handle", counted)
    base = f"/pemda/{PEMDA}/disbursements"
    plain = client.get(f"{base}/{id_}", headers=auditor)
    history = client.get(f"{base}/{id_}/history", headers=auditor)
    assert handled == [f"{base}/{id_}", f"{base}/{id_}/history"]
    handled.clear()
    for path, expected in (
        (f"{base}/{id_.upper()}", plain),  # another spelling of the same id
        (f"{base}/{UUID(id_).hex}", plain),
        (f"{base}/{id_}/history?limit=100", history),
        (f"{base}/{id_}?at=2999-01-01T00:00:00%2B07:00", None),  # time travel
        (f"{base}/not-a-uuid", None),  # FastAPI's 422
        (f"/pemda/{PEMDA}xx/disbursements/{id_}", None),  # a pemda code too long: 422
        (f"{base}/{id_}/", None),  # FastAPI's redirect to the path without the slash
    ):
        response = client.get(path, headers=auditor, follow_redirects=False)
        if expected is not None:
            assert (response.status_code, response.content) == (200, expected.content), path
        else:
            assert response.status_code in (200, 307, 404, 422), (path, response.status_code)
    assert handled == []
    refused = client.get(f"{base}/not-a-uuid", headers=auditor)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "request_validation"
    assert client.post(f"{base}/{id_}", headers=auditor).status_code == 405


def test_serve_refuses_in_the_guards_order_before_the_tenant(tmp_path: Path) -> None:
    """A store per pemda, the path's pemda not served here: a token of that pemda gets the
    tenant's 404, another pemda's token the guard's 404 (both ``tenant_scope``); a missing
    ``Idempotency-Key`` or a bad body on a write is still looked at only after both."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    config = settings(url, tenancy="schema")
    app = create_app(config)
    with TestClient(app) as client:
        for pemda in (PEMDA, OTHER_PEMDA):
            headers = {"Authorization": f"Bearer {token(config, Role.AUDITOR, pemda=pemda)}"}
            for path in (f"/disbursements/{uuid4()}", f"/disbursements/{uuid4()}/history"):
                response = client.get(f"/pemda/{OTHER_PEMDA}{path}", headers=headers)
                assert response.status_code == 404, response.text
                assert response.json()["rule"] == "tenant_scope"
        pptk = {"Authorization": f"Bearer {token(config, Role.PPTK, pemda=OTHER_PEMDA)}"}
        write = client.post(f"/pemda/{OTHER_PEMDA}/disbursements", headers=pptk, json={})
        assert write.status_code == 404, write.text
        assert write.json()["rule"] == "tenant_scope"
        auditor = {"Authorization": f"Bearer {token(config, Role.AUDITOR, pemda=OTHER_PEMDA)}"}
        wrong_role = client.post(f"/pemda/{OTHER_PEMDA}/disbursements", headers=auditor, json={})
        assert wrong_role.status_code == 403, wrong_role.text
        assert wrong_role.json()["rule"] == "role_not_permitted"
