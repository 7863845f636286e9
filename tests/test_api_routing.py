"""Where the API's speed work could change an answer: area routers that skip the routes of other
areas (``api.routing``), and owners kept per worker (``ReadModels.owner``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match, Route

from api.app import create_app
from api.routes import ROUTERS
from api.routing import AreaRouter, area_of, areas
from ledger.roles import Role
from testkit.api import build_world, expect, get, settings
from testkit.world import OTHER_NPWP, PEMDA

SOME_ID = "0b6f8a3e-1111-4222-8333-944455556666"


def http(path: str, method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "root_path": ""}


def test_every_route_is_found_at_its_own_path(tmp_path: Path) -> None:
    app = create_app(settings(f"sqlite:///{tmp_path / 'kasda.db'}"))
    checked = 0
    for router in ROUTERS:
        assert isinstance(router, AreaRouter)
        for route in router.routes:
            assert isinstance(route, Route)
            path = re.sub(r"\{[^}]+\}", SOME_ID, route.path)
            for method in route.methods or ():
                scope = {**http(path, method), "app": app}
                found = [r for r in app.router.routes if r.matches(scope)[0] is Match.FULL]
                assert found, (method, route.path)
                checked += 1
    assert checked > 50


def test_an_area_router_tries_no_route_for_a_path_of_another_area(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = AreaRouter(prefix="/pemda/{pemda}/disbursements")

    @router.get("/{disbursement_id}")
    async def one(disbursement_id: str) -> None: ...

    def tried(self: Route, scope: Any) -> tuple[Match, Any]:
        raise AssertionError("a route of another area was tried")

    monkeypatch.setattr(Route, "matches", tried)
    assert router.matches(http(f"/pemda/{PEMDA}/budgets/{SOME_ID}")) == (Match.NONE, {})
    assert router.matches(http("/healthz")) == (Match.NONE, {})


def test_an_area_router_compares_nothing_where_a_comparison_could_be_wrong() -> None:
    assert area_of("/pemda/32.73/lra") == "lra"
    assert area_of("/pemda/32.73") is None
    fixed = AreaRouter(prefix="/pemda/{pemda}")
    fixed.add_api_route("/lra", lambda: None)
    fixed.add_api_route("/vendors/{npwp}/statement", lambda: None)
    assert areas(fixed.routes) == frozenset({"lra", "vendors"})
    loose = AreaRouter()
    loose.add_api_route("/pemda/{pemda}/{area}", lambda: None)
    assert areas(loose.routes) is None
    short = AreaRouter()
    short.add_api_route("/pemda/{pemda}", lambda: None)
    assert areas(short.routes) is None
    paths = AreaRouter()
    paths.add_api_route("/files/{rest:path}", lambda: None)
    assert areas(paths.routes) is None


def test_an_owner_found_is_kept_and_one_not_found_is_asked_again(tmp_path: Path) -> None:
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    app = create_app(config)
    with TestClient(app) as client:
        world = build_world(client, config)
        models = app.state.read_models
        asked: list[str] = []
        read = models.read

        async def counting(query: Any, **kw: Any) -> Any:
            asked.append("read")
            return await read(query, **kw)

        models.read = counting
        payment = world["disbursement_id"]
        for _ in range(3):
            body = expect(get(client, config, Role.AUDITOR, f"/disbursements/{payment}"), 200)
            assert body["id"] == payment
        assert asked == ["read"]  # the owner was read once, then kept
        for _ in range(2):
            response = get(client, config, Role.AUDITOR, f"/disbursements/{SOME_ID}")
            assert response.status_code == 404
        assert asked == ["read"] * 3  # no owner: asked each time (it may be written next)
        # The kept owner is checked as a read one: another vendor's payment is still a 404.
        other = get(client, config, Role.VENDOR, f"/disbursements/{payment}", npwp=OTHER_NPWP)
        assert other.status_code == 404
        assert asked == ["read"] * 3
