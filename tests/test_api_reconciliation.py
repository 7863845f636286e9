"""Reconciliation runs over HTTP, on a real SQLite file and a real PostgreSQL schema: recording a run,
listing and reading runs with their exceptions, resolving exceptions, and every refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.models import ResolveExceptionIn
from api.settings import ApiSettings
from ledger.reconciliation import RESOLUTIONS
from ledger.roles import Role
from testkit.api import expect, get, new_key, post, settings
from testkit.world import OTHER_PEMDA
from tests.conftest import make_url

PROBLEM = "application/problem+json"
RUNS = "/reconciliation/runs"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def run_body(day: str = "2026-03-31", digest: str = "a", exceptions: int = 3) -> dict[str, Any]:
    return {
        "business_date": day,
        "inputs": [
            {"name": f"rkud-{day}.sta", "kind": "mt940", "sha256": digest * 64, "rows": 120},
            {"name": f"iris-{day}.csv", "kind": "iris_payouts", "sha256": "f" * 64, "rows": 80},
        ],
        "counts": {"matched": 117, "unmatched_bank": exceptions},
        "exceptions": [
            {
                "id": f"EX-{n}",
                "status": "unmatched_bank",
                "amount": 1_000_000 * n,
                "reference": f"BANK-{n}",
                "detail": "debit with no SP2D",
            }
            for n in range(1, exceptions + 1)
        ],
    }


def problem(response: Any, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["rule"] == rule


def test_record_list_read_and_resolve(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    recorded = expect(post(client, config, Role.BPKAD_ADMIN, RUNS, run_body()), 201)
    assert recorded["command"] == "RecordReconciliation"
    run_id = recorded["id"]
    assert recorded["result"] == {"id": run_id, "exceptions": 3}
    clean = expect(
        post(client, config, Role.BPKAD_ADMIN, RUNS, run_body("2026-04-01", "b", 0)), 201
    )

    listed = expect(get(client, config, Role.AUDITOR, RUNS), 200)
    assert [(r["id"], r["open"], r["exceptions"]) for r in listed["items"]] == [
        (run_id, 3, 3),
        (clean["id"], 0, 0),
    ]
    assert listed["items"][0]["recorded_by"] == "bpkad.admin"
    opened = expect(get(client, config, Role.AUDITOR, RUNS, params={"state": "open"}), 200)
    assert [r["id"] for r in opened["items"]] == [run_id]
    april = expect(
        get(client, config, Role.KUASA_BUD, RUNS, params={"business_date_from": "2026-04-01"}), 200
    )
    assert [r["id"] for r in april["items"]] == [clean["id"]]

    one = expect(get(client, config, Role.AUDITOR, f"{RUNS}/{run_id}"), 200)
    assert one["business_date"] == "2026-03-31"
    assert one["counts"] == {"matched": 117, "unmatched_bank": 3}
    assert [i["sha256"] for i in one["inputs"]] == ["a" * 64, "f" * 64]
    assert [(e["id"], e["amount"], e["resolved"]) for e in one["items"]["items"]] == [
        ("EX-1", 1_000_000, False),
        ("EX-2", 2_000_000, False),
        ("EX-3", 3_000_000, False),
    ]

    # BPKAD resolves one, a Kuasa BUD another; each with a reason
    resolve = f"{RUNS}/{run_id}/exceptions/EX-2/resolve"
    body = {"resolution": "explained", "reason": "dana dalam perjalanan, masuk 1 April"}
    done = expect(post(client, config, Role.BPKAD_ADMIN, resolve, body), 200)
    assert done["result"] == {"id": run_id, "open": 2}
    expect(
        post(
            client,
            config,
            Role.KUASA_BUD,
            f"{RUNS}/{run_id}/exceptions/EX-3/resolve",
            {"resolution": "recovered", "reason": "dikembalikan bank, nota 12"},
        ),
        200,
    )
    after = expect(get(client, config, Role.AUDITOR, f"{RUNS}/{run_id}"), 200)
    assert (after["open"], after["resolved"], after["version"]) == (1, 2, 3)
    resolved = {e["id"]: e["resolution"] for e in after["items"]["items"] if e["resolved"]}
    assert resolved == {
        "EX-2": {"resolution": "explained", "reason": body["reason"], "by": "bpkad.admin"},
        "EX-3": {
            "resolution": "recovered",
            "reason": "dikembalikan bank, nota 12",
            "by": "kuasabud.dedi",
        },
    }
    still = expect(
        get(client, config, Role.AUDITOR, f"{RUNS}/{run_id}", params={"state": "open"}), 200
    )
    assert [e["id"] for e in still["items"]["items"]] == ["EX-1"]
    closed = expect(
        get(client, config, Role.AUDITOR, f"{RUNS}/{run_id}", params={"state": "resolved"}), 200
    )
    assert [e["id"] for e in closed["items"]["items"]] == ["EX-2", "EX-3"]
    paged = expect(
        get(client, config, Role.AUDITOR, f"{RUNS}/{run_id}", params={"limit": 2, "offset": 2}), 200
    )
    assert ([e["id"] for e in paged["items"]["items"]], paged["items"]["next_offset"]) == (
        ["EX-3"],
        None,
    )
    listed = expect(get(client, config, Role.AUDITOR, RUNS), 200)
    assert listed["items"][0]["open"] == 1

    # resolving again is refused and changes nothing
    problem(
        post(client, config, Role.KUASA_BUD, resolve, {"resolution": "written_off", "reason": "x"}),
        422,
        "invalid_input",
    )
    # the last one closes the run
    expect(
        post(
            client,
            config,
            Role.BPKAD_ADMIN,
            f"{RUNS}/{run_id}/exceptions/EX-1/resolve",
            {"resolution": "escalated", "reason": "ke Inspektorat"},
        ),
        200,
    )
    assert (
        expect(get(client, config, Role.AUDITOR, RUNS, params={"state": "open"}), 200)["items"]
        == []
    )
    assert (
        len(
            expect(get(client, config, Role.AUDITOR, RUNS, params={"state": "resolved"}), 200)[
                "items"
            ]
        )
        == 2
    )


def test_refusals(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    run_id = expect(post(client, config, Role.BPKAD_ADMIN, RUNS, run_body()), 201)["id"]
    resolve = f"{RUNS}/{run_id}/exceptions/EX-1/resolve"
    ok = {"resolution": "corrected", "reason": "koreksi SP2D 12"}
    # the same inputs of the same day: already recorded
    problem(post(client, config, Role.BPKAD_ADMIN, RUNS, run_body()), 409, "unique_identity")
    # roles: the auditor reads but never writes; others neither read nor write
    for role in (Role.AUDITOR, Role.KUASA_BUD, Role.PPTK, Role.VENDOR, Role.GATEWAY):
        problem(
            post(client, config, role, RUNS, run_body("2026-05-01", "c")), 403, "role_not_permitted"
        )
    for role in (Role.AUDITOR, Role.PPTK, Role.PPK, Role.VENDOR, Role.GATEWAY):
        problem(post(client, config, role, resolve, ok), 403, "role_not_permitted")
    for role in (Role.PPTK, Role.PA_KPA, Role.VENDOR, Role.GATEWAY):
        problem(get(client, config, role, RUNS), 403, "role_not_permitted")
        problem(get(client, config, role, f"{RUNS}/{run_id}"), 403, "role_not_permitted")
    # unknown exception, unknown run, another pemda's run
    problem(
        post(client, config, Role.BPKAD_ADMIN, f"{RUNS}/{run_id}/exceptions/EX-9/resolve", ok),
        404,
        "not_found",
    )
    missing = "00000000-0000-0000-0000-000000000000"
    problem(
        post(client, config, Role.BPKAD_ADMIN, f"{RUNS}/{missing}/exceptions/EX-1/resolve", ok),
        404,
        "not_found",
    )
    problem(get(client, config, Role.AUDITOR, f"{RUNS}/{missing}"), 404, "not_found")
    problem(
        get(client, config, Role.AUDITOR, f"{RUNS}/{run_id}", pemda=OTHER_PEMDA), 404, "not_found"
    )
    problem(
        post(client, config, Role.BPKAD_ADMIN, resolve, ok, pemda=OTHER_PEMDA), 404, "not_found"
    )
    assert expect(get(client, config, Role.AUDITOR, RUNS, pemda=OTHER_PEMDA), 200)["items"] == []
    # bad input: 422 at the edge
    for bad in (
        {**ok, "resolution": "forgotten"},
        {**ok, "reason": ""},
        {"resolution": "corrected"},
        {**ok, "extra": 1},
    ):
        problem(post(client, config, Role.BPKAD_ADMIN, resolve, bad), 422, "request_validation")
    for bad_run in (
        {**run_body(), "business_date": "31-03-2026"},
        {**run_body(), "inputs": []},
        {**run_body(), "inputs": [{**run_body()["inputs"][0], "sha256": "XYZ"}]},
        {**run_body(), "counts": {"matched": -1}},
        {**run_body(), "counts": {"matched": 1.5}},
        {**run_body(), "exceptions": [{"id": "E", "status": "x", "amount": 10.0}]},
    ):
        problem(post(client, config, Role.BPKAD_ADMIN, RUNS, bad_run), 422, "request_validation")
    # the ledger's own checks: an impossible day, an exception named twice
    problem(
        post(client, config, Role.BPKAD_ADMIN, RUNS, run_body("2026-02-30", "d")),
        422,
        "invalid_input",
    )
    twice = run_body("2026-06-01", "e", 1)
    twice["exceptions"] = twice["exceptions"] * 2
    problem(post(client, config, Role.BPKAD_ADMIN, RUNS, twice), 422, "invalid_input")
    for params in ({"state": "closed"}, {"limit": 501}, {"business_date_from": "kemarin"}):
        problem(get(client, config, Role.AUDITOR, RUNS, params=params), 422, "request_validation")
    problem(get(client, config, Role.AUDITOR, f"{RUNS}/not-a-uuid"), 422, "request_validation")


def test_idempotent_retries(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    key = new_key("run")
    first = post(client, config, Role.BPKAD_ADMIN, RUNS, run_body(), key=key)
    again = post(client, config, Role.BPKAD_ADMIN, RUNS, run_body(), key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    run_id = first.json()["id"]
    resolve = f"{RUNS}/{run_id}/exceptions/EX-1/resolve"
    body = {"resolution": "explained", "reason": "selisih waktu"}
    key = new_key("resolve")
    one = post(client, config, Role.BPKAD_ADMIN, resolve, body, key=key)
    two = post(client, config, Role.BPKAD_ADMIN, resolve, body, key=key)
    assert (one.status_code, two.status_code) == (200, 200)
    assert two.json() == one.json()
    other = post(client, config, Role.BPKAD_ADMIN, resolve, {**body, "reason": "lain"}, key=key)
    problem(other, 422, "idempotency_key_reused_with_other_command")


def test_the_edge_offers_exactly_the_ledgers_resolutions() -> None:
    field = ResolveExceptionIn.model_fields["resolution"]
    assert set(get_args(field.annotation)) == RESOLUTIONS
