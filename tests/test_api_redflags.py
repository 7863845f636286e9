"""Red flags over HTTP, on a real SQLite file and a real PostgreSQL schema, over a history written
through the ledger's commands: run and record (twice: replayed), list and filter, one flag with its
evidence linked to the payments' histories, reviews by the auditor only, another pemda's flags
unseen, and the warnings the Kuasa BUD gets when authorising an SP2D."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from audit import service, thresholds
from ledger.roles import Role
from projections.db import ReadDatabase
from projections.runner import Projector
from testkit.api import expect, get, post, settings
from testkit.world import OTHER_PEMDA
from tests import factory as f
from tests.conftest import make_url
from tests.redflag_scene import SECRET, Scene, disbursement, vendor_uuid

PROBLEM = "application/problem+json"
FLAGS = "/redflags"
RUNS = "/redflag-runs"
RULE = "duplicate_payment"
AUDITOR = f.actor("inspektur.satu", Role.AUDITOR)


@dataclass
class Api:
    client: TestClient
    config: ApiSettings
    scene: Scene

    def get(self, role: Role, path: str, **kw: Any) -> Any:
        return get(self.client, self.config, role, path, **kw)

    def post(self, role: Role, path: str, body: Any, **kw: Any) -> Any:
        return post(self.client, self.config, role, path, body, **kw)


def _history(scene: Scene) -> None:
    """CV Ganda's faktur F-9 paid twice (a flag); CV Bulanan's fee a month apart (none). SPP-5 to
    CV Ganda and SPP-6 to CV Bersih wait for their SP2D."""
    scene.vendor("CV Ganda", when=datetime(2026, 1, 5, 9))
    scene.vendor("CV Bulanan", when=datetime(2026, 1, 5, 10))
    scene.vendor("CV Bersih", when=datetime(2026, 1, 5, 11))
    scene.pay("SPP-1", "CV Ganda", 30_000_000, datetime(2026, 2, 2, 9), invoice="F-9")
    scene.pay("SPP-2", "CV Ganda", 30_000_000, datetime(2026, 3, 2, 9), invoice="F-9")
    scene.pay("SPP-3", "CV Bulanan", 12_500_000, datetime(2026, 2, 3, 9), invoice="B-1")
    scene.pay("SPP-4", "CV Bulanan", 12_500_000, datetime(2026, 3, 3, 9), invoice="B-2")
    scene.pay("SPP-5", "CV Ganda", 7_000_000, datetime(2026, 4, 6, 9), invoice="F-10",
              until="approved")  # fmt: skip
    scene.pay("SPP-6", "CV Bersih", 7_000_000, datetime(2026, 4, 6, 10), invoice="C-1",
              until="approved")  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    url = make_url(str(request.param), tmp_path, request)
    scene = Scene.open(tmp_path, url if request.param == "postgres" else None)
    _history(scene)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scene.db'}"
    scene.close()
    config = settings(url)
    with TestClient(create_app(config)) as client:
        yield Api(client, config, scene)


def problem(response: Any, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["rule"] == rule
    return body


def test_run_twice_records_once_then_list_filter_and_read(api: Api) -> None:
    first = expect(api.post(Role.AUDITOR, RUNS, {"rules": [RULE]}), 201)
    assert first["replayed"] is False and first["raised"] == 1
    assert first["counts"] == {RULE: 1} and first["flags"] == 1
    again = expect(api.post(Role.BPKAD_ADMIN, RUNS, {"rules": [RULE]}), 201)
    assert again["replayed"] is True and again["run_id"] == first["run_id"]
    assert again["raised"] == 0
    runs = expect(api.get(Role.BPKAD_ADMIN, RUNS), 200)
    assert [r["run_id"] for r in runs["items"]] == [first["run_id"]]
    assert runs["items"][0]["rules"] == [RULE] and runs["items"][0]["flags"] == 1

    listed = expect(api.get(Role.AUDITOR, FLAGS), 200)
    [flag] = listed["items"]
    assert flag["rule"] == RULE and flag["status"] == "open" and flag["amount"] == 30_000_000
    assert set(flag["disbursement_ids"]) == {disbursement("SPP-1"), disbursement("SPP-2")}
    assert flag["period"]["from"] <= flag["period"]["to"]
    ganda = str(vendor_uuid(api.scene.vendors["CV Ganda"]))
    bulanan = str(vendor_uuid(api.scene.vendors["CV Bulanan"]))
    for params, count in (
        ({"rule": RULE}, 1), ({"rule": "split_purchase"}, 0), ({"severity": "high"}, 1),
        ({"severity": "low"}, 0), ({"status": "open"}, 1), ({"status": "dismissed"}, 0),
        ({"skpd": f.SKPD}, 1), ({"skpd": f.OTHER_SKPD}, 0), ({"vendor_id": ganda}, 1),
        ({"vendor_id": bulanan}, 0), ({"disbursement_id": disbursement("SPP-2")}, 1),
        ({"disbursement_id": disbursement("SPP-3")}, 0),
    ):  # fmt: skip
        assert expect(api.get(Role.AUDITOR, FLAGS, params=params), 200)["total"] == count, params

    one = expect(api.get(Role.AUDITOR, f"{FLAGS}/{flag['id']}"), 200)
    assert one["id"] == flag["id"] and one["reviews"] == []
    links = {e["link"] for e in one["evidence"]}
    pemda = f"/pemda/{f.PEMDA}"
    assert {
        f"{pemda}/disbursements/{disbursement('SPP-1')}/history",
        f"{pemda}/disbursements/{disbursement('SPP-2')}/history",
    } <= links
    assert all(e["kind"] == "Disbursement" for e in one["evidence"])


def test_reviews_are_the_auditors_alone(api: Api) -> None:
    expect(api.post(Role.AUDITOR, RUNS, None), 201)
    [flag] = expect(api.get(Role.AUDITOR, FLAGS), 200)["items"]
    path = f"{FLAGS}/{flag['id']}/reviews"
    body = {"decision": "escalated", "reason": "faktur F-9 dua kali: diteruskan ke APIP"}
    for role in (Role.PPK, Role.KUASA_BUD, Role.BPKAD_ADMIN):
        problem(api.post(role, path, body), 403, "role_not_permitted")
    reviewed = expect(api.post(Role.AUDITOR, path, body), 201)
    assert reviewed["result"]["status"] == "escalated"
    confirmed = {"decision": "confirmed", "reason": "dikembalikan penyedia (STS 12/2026)"}
    expect(api.post(Role.AUDITOR, path, confirmed), 201)
    problem(api.post(Role.AUDITOR, path, {"decision": "dismissed", "reason": "x"}), 409,
            "disbursement_lifecycle")  # fmt: skip
    one = expect(api.get(Role.AUDITOR, f"{FLAGS}/{flag['id']}"), 200)
    assert one["status"] == "confirmed"
    assert [r["decision"] for r in one["reviews"]] == ["escalated", "confirmed"]
    assert one["review"]["reason"] == confirmed["reason"]
    assert expect(api.get(Role.AUDITOR, FLAGS, params={"status": "confirmed"}), 200)["total"] == 1
    problem(api.post(Role.AUDITOR, path, {"decision": "forgotten", "reason": "x"}), 422,
            "request_validation")  # fmt: skip


def test_unknown_or_foreign_flags_and_roles(api: Api) -> None:
    expect(api.post(Role.AUDITOR, RUNS, None), 201)
    [flag] = expect(api.get(Role.AUDITOR, FLAGS), 200)["items"]
    problem(
        api.get(Role.AUDITOR, f"{FLAGS}/0b8d6c8e-15a1-5f0e-9d43-6b1f7a2c9e55"), 404, "not_found"
    )
    problem(api.get(Role.AUDITOR, f"{FLAGS}/not-a-uuid"), 422, "request_validation")
    review = {"decision": "confirmed", "reason": "x"}
    problem(api.post(Role.AUDITOR, f"{FLAGS}/0b8d6c8e-15a1-5f0e-9d43-6b1f7a2c9e55/reviews",
                     review), 404, "not_found")  # fmt: skip
    # Another pemda's auditor sees none of this pemda's flags, nor this one by id.
    other = api.get(Role.AUDITOR, FLAGS, pemda=OTHER_PEMDA)
    assert expect(other, 200)["total"] == 0
    problem(api.get(Role.AUDITOR, f"{FLAGS}/{flag['id']}", pemda=OTHER_PEMDA), 404, "not_found")
    assert expect(api.get(Role.AUDITOR, RUNS, pemda=OTHER_PEMDA), 200)["total"] == 0
    for role in (Role.PPK, Role.KUASA_BUD, Role.VENDOR):
        problem(api.get(role, FLAGS), 403, "role_not_permitted")
    problem(api.post(Role.KUASA_BUD, RUNS, None), 403, "role_not_permitted")
    problem(api.post(Role.AUDITOR, RUNS, {"rules": ["no_such_rule"]}), 422, "invalid_input")
    problem(api.post(Role.AUDITOR, RUNS, {"as_of": "2026-02-31"}), 422, "invalid_input")


def _record_on_the_store(api: Api) -> None:
    """A run recorded the nightly way (``audit.service.record``), not over HTTP."""
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    Projector(ledger).catch_up()
    db = ReadDatabase(ledger)
    try:
        service.record(ledger, db, AUDITOR, f.PEMDA, thresholds.defaults(), SECRET, rules=[RULE])
    finally:
        db.close()


def test_authorising_warns_of_the_flags_of_the_vendor(api: Api) -> None:
    _record_on_the_store(api)
    ganda = disbursement("SPP-5")
    answer = expect(
        api.post(Role.KUASA_BUD, f"/disbursements/{ganda}/authorise", {"sp2d_number": "SP2D/5"}),
        200,
    )
    assert answer["command"] == "AuthoriseSp2d"
    [warning] = answer["warnings"]
    assert warning["rule"] == RULE and warning["severity"] == "high" and warning["recorded"]
    assert "F-9" in warning["explanation"]["id"] and warning["explanation"]["en"]
    assert warning["link"] == f"/pemda/{f.PEMDA}/redflags/{warning['id']}"

    clean = disbursement("SPP-6")
    quiet = expect(
        api.post(Role.KUASA_BUD, f"/disbursements/{clean}/authorise", {"sp2d_number": "SP2D/6"}),
        200,
    )
    assert quiet["warnings"] == []


def test_authorising_a_second_payment_of_one_invoice_warns_at_once(api: Api) -> None:
    """No run recorded since: the live rule finds it in the vendor's history."""
    scene = Scene(api.client.app.state.ledger, api.scene.clock)  # type: ignore[attr-defined]
    scene.vendors = api.scene.vendors
    scene.lines = api.scene.lines
    again = scene.pay("SPP-7", "CV Bulanan", 12_500_000, datetime(2026, 4, 7, 9), invoice="B-2",
                      until="approved")  # fmt: skip
    answer = expect(
        api.post(Role.KUASA_BUD, f"/disbursements/{again}/authorise", {"sp2d_number": "SP2D/7"}),
        200,
    )
    [warning] = answer["warnings"]
    assert warning["rule"] == RULE and warning["recorded"] is False
    assert "B-2" in warning["explanation"]["id"]
    # Nothing was recorded by the warning: it is advice, not a run.
    assert expect(api.get(Role.AUDITOR, FLAGS), 200)["total"] == 0


def test_authorising_right_after_an_account_change_warns_at_once(api: Api) -> None:
    """The vendor's account changed just now and no run has been recorded since: the live rule
    warns the Kuasa BUD before the SP2D goes to the new account; it does not block it."""
    ledger = api.client.app.state.ledger  # type: ignore[attr-defined]
    ledger.execute(
        f.change_account("7700112233", holder="CV Bersih", npwp=api.scene.vendors["CV Bersih"])
    )
    clean = disbursement("SPP-6")
    answer = expect(
        api.post(Role.KUASA_BUD, f"/disbursements/{clean}/authorise", {"sp2d_number": "SP2D/6"}),
        200,
    )
    rules = {w["rule"]: w for w in answer["warnings"]}
    warning = rules["account_changed_before_payment"]
    assert warning["recorded"] is False and "****2233" in warning["explanation"]["id"]
    assert "7700112233" not in str(answer)  # a hint of the account, never its number
