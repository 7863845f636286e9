"""The HTTP API end to end, on a real SQLite file and a real PostgreSQL schema: a payment's whole
life, reads and filters, and every refusal as a problem document with its rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import (
    adopt_body,
    bearer,
    build_world,
    expect,
    get,
    line,
    post,
    request_body,
    settings,
)
from testkit.world import GOODS, INCOME, NPWP, OTHER_NPWP, YEAR
from tests.conftest import make_url

PROBLEM = "application/problem+json"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def problem(response: Any, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["rule"] == rule
    assert body["status"] == status
    assert body["type"] == f"urn:kasda:rule:{rule}"
    assert body["title"] and body["detail"]
    return body


def test_a_payment_from_spp_to_settlement(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    world = build_world(client, config)
    d = world["disbursement_id"]
    steps = [
        (Role.PPK, "verify", None, "verified"),
        (Role.PA_KPA, "approve", {"spm_number": "SPM-1"}, "approved"),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-1"}, "authorised"),
        (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-1"}, "sent"),
        (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-1"}, "settled"),
    ]
    for role, step, body, status in steps:
        answer = expect(post(client, config, role, f"/disbursements/{d}/{step}", body), 200)
        assert answer["result"]["status"] == status
        assert answer["id"] == d

    payment = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}"), 200)
    assert payment["status"] == "settled"
    assert (payment["gross"], payment["net"]) == (100_000_000, 98_000_000)
    assert payment["sp2d_number"] == "SP2D-1"
    assert payment["bank_account"]["number"] == "0012345678"
    assert payment["performers"] == {
        "request": "pptk.ani",
        "verify": "ppk.budi",
        "approve": "kadis.citra",
        "authorise": "kuasabud.dedi",
    }

    history = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}/history"), 200)
    assert [e["event"] for e in history["items"]] == [
        "Requested",
        "Verified",
        "Approved",
        "Authorised",
        "Sent",
        "Settled",
    ]
    assert history["items"][1]["actor_id"] == "ppk.budi"
    page = expect(
        get(client, config, Role.AUDITOR, f"/disbursements/{d}/history", params={"limit": 2}),
        200,
    )
    assert [e["version"] for e in page["items"]] == [1, 2]
    assert (page["total"], page["next_offset"]) == (6, 2)

    lines = expect(get(client, config, Role.PPK, f"/budgets/{YEAR}/lines"), 200)
    media = next(x for x in lines["items"] if x["rekening"] == "5.1.02.02.01.0055")
    # SPP-2 (to the other vendor) is still committed; SPP-1 is realised.
    assert (media["realised"], media["committed"]) == (100_000_000, 100_000_000)
    assert media["available"] == 1_000_000_000 - 200_000_000


def test_a_gateway_refusal_keeps_the_sp2d_payable(api: tuple[TestClient, ApiSettings]) -> None:
    """The gateway refusing an attempt is a fact with no money in it: the SP2D stays authorised,
    the refused reference cannot be sent, and a new attempt under a new reference pays once."""
    client, config = api
    world = build_world(client, config)
    d = world["disbursement_id"]
    for role, step, body in [
        (Role.PPK, "verify", None),
        (Role.PA_KPA, "approve", {"spm_number": "SPM-R"}),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-R"}),
    ]:
        expect(post(client, config, role, f"/disbursements/{d}/{step}", body), 200)
    refusal = {"gateway": "iris", "reference": "IRIS-R-01", "reason": "ditolak approver"}
    path = f"/disbursements/{d}/transfer/rejected"
    answer = expect(post(client, config, Role.GATEWAY, path, refusal), 200)
    assert answer["result"]["status"] == "authorised"
    # only the gateway records what the gateway said
    problem(
        post(client, config, Role.KUASA_BUD, f"/disbursements/{d}/transfer/rejected", refusal),
        403,
        "role_not_permitted",
    )
    # the refused reference is spent: it can be neither refused again nor sent
    again = {**refusal, "reason": "lagi"}
    problem(
        post(client, config, Role.GATEWAY, f"/disbursements/{d}/transfer/rejected", again),
        409,
        "disbursement_lifecycle",
    )
    sent = {"gateway": "iris", "reference": "IRIS-R-02"}
    answer = expect(
        post(client, config, Role.GATEWAY, f"/disbursements/{d}/transfer/sent", sent), 200
    )
    assert answer["result"]["status"] == "sent"
    history = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}/history"), 200)
    events = [e["event"] for e in history["items"]]
    assert events[-2:] == ["TransferRejected", "Sent"]


def test_reject_with_reason_and_cancel(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    world = build_world(client, config)
    d, other = world["disbursement_id"], world["other_vendor_disbursement_id"]
    body = {"reason": "dokumen tidak lengkap"}
    answer = expect(post(client, config, Role.PPK, f"/disbursements/{d}/reject", body), 200)
    assert answer["result"]["status"] == "rejected"
    history = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}/history"), 200)
    assert history["items"][-1]["details"]["reason"] == "dokumen tidak lengkap"
    assert history["items"][-1]["details"]["step"] == "verify"
    # a reason is required
    problem(
        post(client, config, Role.PPK, f"/disbursements/{other}/reject", {}),
        422,
        "request_validation",
    )
    problem(
        post(client, config, Role.PPK, f"/disbursements/{other}/reject", {"reason": "  "}),
        422,
        "invalid_input",
    )
    answer = expect(
        post(client, config, Role.PPTK, f"/disbursements/{other}/cancel", {"reason": "batal"}),
        200,
    )
    assert answer["result"]["status"] == "cancelled"


def test_refusals_are_problems_with_the_rule(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    world = build_world(client, config)
    d = world["disbursement_id"]
    # wrong role for the route: refused at the edge
    problem(
        post(client, config, Role.PPTK, f"/disbursements/{d}/verify"), 403, "role_not_permitted"
    )
    problem(
        post(client, config, Role.AUDITOR, "/disbursements", request_body("SPP-9")),
        403,
        "role_not_permitted",
    )
    # separation of duties: the user who verified may not also approve
    expect(post(client, config, Role.PPK, f"/disbursements/{d}/verify", user="dual.hat"), 200)
    problem(
        post(
            client,
            config,
            Role.PA_KPA,
            f"/disbursements/{d}/approve",
            {"spm_number": "S-1"},
            user="dual.hat",
        ),
        403,
        "separation_of_duties",
    )
    # lifecycle: verifying twice
    problem(
        post(client, config, Role.PPK, f"/disbursements/{d}/verify"), 409, "disbursement_lifecycle"
    )
    # pagu exhausted
    problem(
        post(
            client, config, Role.PPTK, "/disbursements", request_body("SPP-BIG", gross=900_000_000)
        ),
        409,
        "committed_plus_realised_within_pagu",
    )
    # unknown payment, unknown vendor, unknown line
    missing = "00000000-0000-4000-8000-000000000000"
    problem(get(client, config, Role.AUDITOR, f"/disbursements/{missing}"), 404, "not_found")
    problem(post(client, config, Role.PPK, f"/disbursements/{missing}/verify"), 404, "not_found")
    problem(get(client, config, Role.AUDITOR, "/vendors/019999999999000"), 404, "not_found")
    problem(
        post(
            client,
            config,
            Role.PPTK,
            "/disbursements",
            request_body("SPP-X", npwp="019999999999000"),
        ),
        409,
        "payment_to_registered_vendor_only",
    )
    # an income line pays nothing out; a bad code is named
    problem(
        post(client, config, Role.PPTK, "/disbursements", request_body("SPP-I", rekening=INCOME)),
        422,
        "invalid_input",
    )
    problem(
        post(client, config, Role.PPTK, "/disbursements", request_body("SPP-C", rekening="9.9")),
        422,
        "permendagri_90_code",
    )
    problem(
        post(
            client,
            config,
            Role.PPTK,
            "/disbursements",
            request_body("SPP-U", rekening="5.1.02.01.01.0099"),
        ),
        404,
        "not_found",
    )
    # the same SPP number twice
    problem(
        post(client, config, Role.PPTK, "/disbursements", request_body("SPP-1")),
        409,
        "unique_identity",
    )
    # the APBD adopted twice
    problem(
        post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body()), 409, "unique_identity"
    )


@pytest.mark.parametrize(
    "gross", [1.5, 100_000_000.0, True, "100000000", None, -1, 0, 10**16 + 1, [1], {"a": 1}]
)
def test_money_is_an_integer_number_of_rupiah(
    api: tuple[TestClient, ApiSettings], gross: Any
) -> None:
    client, config = api
    body = request_body("SPP-M")
    body["gross"] = gross
    found = problem(
        post(client, config, Role.PPTK, "/disbursements", body), 422, "request_validation"
    )
    assert found["errors"][0]["loc"][-1] == "gross"


def test_amounts_in_deductions_and_budgets_are_strict_too(
    api: tuple[TestClient, ApiSettings],
) -> None:
    client, config = api
    body = request_body("SPP-D")
    body["deductions"] = [{"code": "PPH23", "amount": 2_000_000.0}]
    problem(post(client, config, Role.PPTK, "/disbursements", body), 422, "request_validation")
    adopt = adopt_body()
    adopt["lines"][0]["pagu"] = "1000"
    problem(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt), 422, "request_validation")
    problem(
        client.post(
            "/pemda/32.73/budgets",
            content=b"{not json",
            headers={
                "Idempotency-Key": "raw-1",
                "Content-Type": "application/json",
                **bearer(config, Role.BPKAD_ADMIN),
            },
        ),
        422,
        "request_validation",
    )


def test_budget_administration_and_filters(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    build_world(client, config)
    admin = Role.BPKAD_ADMIN
    block = {"line": line(GOODS), "reason": "menunggu reviu"}
    expect(post(client, config, admin, f"/budgets/{YEAR}/blocks", block), 200)
    blocked = expect(
        get(client, config, admin, f"/budgets/{YEAR}/lines", params={"blocked": "true"}), 200
    )
    assert [x["rekening"] for x in blocked["items"]] == [GOODS]
    problem(
        post(client, config, Role.PPTK, "/disbursements", request_body("SPP-G", rekening=GOODS)),
        409,
        "no_commitment_on_blocked_line",
    )
    expect(post(client, config, admin, f"/budgets/{YEAR}/unblocks", block), 200)
    shift = {
        "document": "PERKADA-1",
        "from_line": line(GOODS),
        "to_line": line(),
        "amount": 10_000_000,
    }
    expect(post(client, config, admin, f"/budgets/{YEAR}/shifts", shift), 200)
    amend = {
        "document": "PERDA-P-1",
        "lines": [{**line(GOODS), "uraian": "Belanja ATK", "pagu": 50_000_000}],
    }
    result = expect(post(client, config, admin, f"/budgets/{YEAR}/amendments", amend), 200)
    assert result["result"]["changed"] == 1
    budget = expect(get(client, config, Role.AUDITOR, f"/budgets/{YEAR}"), 200)
    assert (budget["amendments"], budget["shifts"]) == (1, 1)
    prefix = expect(
        get(client, config, admin, f"/budgets/{YEAR}/lines", params={"rekening": "5.1.02.01"}), 200
    )
    assert [(x["rekening"], x["pagu"]) for x in prefix["items"]] == [(GOODS, 50_000_000)]
    one = expect(
        get(client, config, admin, f"/budgets/{YEAR}/lines/{prefix['items'][0]['id']}"), 200
    )
    assert one["uraian"] == "Belanja Alat Tulis Kantor"

    # disbursement list: filters and pagination
    for n in range(3, 8):
        expect(
            post(
                client,
                config,
                Role.PPTK,
                "/disbursements",
                request_body(f"SPP-{n}", gross=10_000_000),
            ),
            201,
        )
    everything = expect(
        get(client, config, Role.AUDITOR, "/disbursements", params={"limit": 500}), 200
    )
    assert everything["total"] == 7
    assert [x["spp_number"] for x in everything["items"]][:2] == ["SPP-1", "SPP-2"]
    pages: list[str] = []
    offset: int | None = 0
    while offset is not None:
        chunk = expect(
            get(
                client,
                config,
                Role.AUDITOR,
                "/disbursements",
                params={"limit": 3, "offset": offset},
            ),
            200,
        )
        pages.extend(x["spp_number"] for x in chunk["items"])
        offset = chunk["next_offset"]
    assert pages == [x["spp_number"] for x in everything["items"]]
    by_vendor = expect(
        get(client, config, Role.AUDITOR, "/disbursements", params={"vendor": OTHER_NPWP}), 200
    )
    assert [x["spp_number"] for x in by_vendor["items"]] == ["SPP-2"]
    assert by_vendor["items"][0]["vendor_npwp"] == OTHER_NPWP
    d = everything["items"][0]["id"]
    expect(post(client, config, Role.PPK, f"/disbursements/{d}/verify"), 200)
    verified = expect(
        get(client, config, Role.AUDITOR, "/disbursements", params={"status": "verified"}), 200
    )
    assert [x["id"] for x in verified["items"]] == [d]
    assert verified["items"][0]["skpd"] == "1.01.0.00.0.00.01.0000"
    window = expect(
        get(
            client,
            config,
            Role.AUDITOR,
            "/disbursements",
            params={
                "requested_from": "2000-01-01T00:00:00+07:00",
                "requested_to": "2000-01-02T00:00:00+07:00",
            },
        ),
        200,
    )
    assert window["total"] == 0
    problem(
        get(
            client,
            config,
            Role.AUDITOR,
            "/disbursements",
            params={"requested_from": "2026-01-01T00:00:00"},
        ),
        422,
        "invalid_input",
    )
    problem(
        get(client, config, Role.AUDITOR, "/disbursements", params={"limit": 501}),
        422,
        "request_validation",
    )
    problem(
        get(client, config, Role.AUDITOR, "/disbursements", params={"status": "paid"}),
        422,
        "request_validation",
    )

    vendors = expect(
        get(client, config, Role.AUDITOR, "/vendors", params={"name": "priangan"}), 200
    )
    assert [v["npwp"] for v in vendors["items"]] == [OTHER_NPWP]
    expect(post(client, config, admin, f"/vendors/{OTHER_NPWP}/deactivate", {"reason": "x"}), 200)
    active = expect(get(client, config, Role.AUDITOR, "/vendors", params={"active": "true"}), 200)
    assert [v["npwp"] for v in active["items"]] == [NPWP]
    expect(post(client, config, admin, f"/vendors/{OTHER_NPWP}/reactivate", {"reason": "x"}), 200)
    change = {
        "bank_code": "008",
        "account_number": "1234567890",
        "account_holder": "CV MP",
        "reason": "rekening baru",
    }
    expect(post(client, config, admin, f"/vendors/{OTHER_NPWP}/bank-account", change), 200)
    vendor = expect(get(client, config, Role.AUDITOR, f"/vendors/{OTHER_NPWP}"), 200)
    assert vendor["bank_account"]["bank_code"] == "008"
    assert vendor["active"] is True


def test_revenue_and_audit_routes(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    build_world(client, config)
    receipt = {
        "year": YEAR,
        "line": line(INCOME),
        "channel": "midtrans:qris",
        "reference": "ORDER-1",
        "payer": "Hotel Savoy",
        "gross": 1_000_000,
        "fee": 7_000,
    }
    answer = expect(post(client, config, Role.GATEWAY, "/revenues", receipt), 201)
    assert answer["result"]["net"] == 993_000
    reversal = {
        "year": YEAR,
        "channel": "midtrans:qris",
        "reference": "ORDER-1",
        "reason": "chargeback",
    }
    expect(post(client, config, Role.BPKAD_ADMIN, "/revenues/reversals", reversal), 200)

    report = expect(get(client, config, Role.AUDITOR, "/verify"), 200)
    assert report["ok"] is True and report["problem"] is None
    assert report["events"] > 10
    events: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        chunk = expect(
            get(
                client, config, Role.AUDITOR, "/export/events", params={"after": after, "limit": 7}
            ),
            200,
        )
        events.extend(chunk["items"])
        after = chunk["next_after"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert len(events) == report["events"]  # one pemda only: all of them
    kinds = {e["aggregate_type"] for e in events}
    # Facts only: idempotency receipts and number claims are kept apart from the log.
    assert kinds >= {"Budget", "Disbursement"} and "CommandReceipt" not in kinds
    assert all(e["body"].get("pemda", "32.73") == "32.73" for e in events)


def test_lists_include_what_another_worker_wrote(tmp_path: Path) -> None:
    """Two applications on one SQLite file (as two uvicorn workers): each list catches up with
    the notification log first, so it shows what the other one recorded."""
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as one, TestClient(create_app(config)) as two:
        build_world(one, config)
        expect(post(one, config, Role.PPTK, "/disbursements", request_body("SPP-W")), 201)
        listed = expect(get(two, config, Role.AUDITOR, "/disbursements"), 200)
        assert "SPP-W" in [x["spp_number"] for x in listed["items"]]
        d = listed["items"][-1]["id"]
        expect(post(two, config, Role.PPK, f"/disbursements/{d}/verify"), 200)
        verified = expect(
            get(one, config, Role.AUDITOR, "/disbursements", params={"status": "verified"}), 200
        )
        assert [x["id"] for x in verified["items"]] == [d]
        vendors = expect(get(two, config, Role.AUDITOR, "/vendors"), 200)
        assert vendors["total"] == 2


def test_health_docs_and_openapi(tmp_path: Path) -> None:
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert "swagger" in client.get("/docs").text.lower()
        spec = client.get("/openapi.json").json()
        request = spec["paths"]["/pemda/{pemda}/disbursements"]["post"]
        assert request["x-kasda-roles"] == ["bendahara", "pptk"]
        body = request["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        model = spec["components"]["schemas"][body.rsplit("/", 1)[1]]
        assert model["examples"][0]["gross"] == 100_000_000
        assert model["properties"]["gross"]["type"] == "integer"
        assert set(request["responses"]) >= {"201", "401", "403", "404", "409", "422"}
        for status in ("401", "403", "409", "422"):
            assert "application/problem+json" in request["responses"][status]["content"]
        # An unknown path of the API is a problem; any other is the web app's page (web/).
        unknown = client.get("/pemda/32.73/nowhere", headers=bearer(config, Role.AUDITOR))
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")
        page = client.get("/nowhere")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")


def test_the_budget_as_of_a_past_moment(api: tuple[TestClient, ApiSettings]) -> None:
    from datetime import datetime, timedelta

    client, config = api
    build_world(client, config)
    listed = expect(get(client, config, Role.AUDITOR, "/disbursements"), 200)["items"]
    second = datetime.fromisoformat(listed[1]["requested_at"])
    before = (second - timedelta(microseconds=1)).isoformat()
    past = expect(
        get(client, config, Role.PPK, f"/budgets/{YEAR}/as-of", params={"at": before}), 200
    )
    now = expect(
        get(
            client,
            config,
            Role.PPK,
            f"/budgets/{YEAR}/as-of",
            params={"at": "2100-01-01T00:00:00+07:00"},
        ),
        200,
    )

    def media(answer: dict[str, Any]) -> int:
        return next(
            int(x["committed"])
            for x in answer["lines"]["items"]
            if x["rekening"] == "5.1.02.02.01.0055"
        )

    assert (media(past), past["disbursements_by_status"]) == (100_000_000, {"requested": 1})
    assert (media(now), now["disbursements_by_status"]) == (200_000_000, {"requested": 2})
    assert now["budget"]["total_pagu"] == 3_000_000_000
    at_start = expect(
        get(client, config, Role.AUDITOR, f"/budgets/{YEAR}/as-of", params={"position": 1}), 200
    )
    assert at_start["budget"]["lines"] == 3 and at_start["disbursements_by_status"] == {}
    problem(get(client, config, Role.PPK, f"/budgets/{YEAR}/as-of"), 422, "invalid_input")
    problem(
        get(
            client, config, Role.PPK, f"/budgets/{YEAR}/as-of", params={"at": "2026-01-01T00:00:00"}
        ),
        422,
        "invalid_input",
    )
    problem(
        get(client, config, Role.PPK, f"/budgets/{YEAR}/as-of", params={"position": 0}),
        404,
        "not_found",
    )
    problem(
        get(client, config, Role.VENDOR, f"/budgets/{YEAR}/as-of", params={"position": 1}),
        403,
        "role_not_permitted",
    )


def test_a_payment_as_it_was(api: tuple[TestClient, ApiSettings]) -> None:
    from datetime import datetime, timedelta

    client, config = api
    d = build_world(client, config)["disbursement_id"]
    expect(post(client, config, Role.PPK, f"/disbursements/{d}/verify"), 200)
    history = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}/history"), 200)
    verified_at = datetime.fromisoformat(history["items"][1]["at"])
    path = f"/disbursements/{d}"
    then = (verified_at - timedelta(microseconds=1)).isoformat()
    assert (
        expect(get(client, config, Role.AUDITOR, path, params={"at": then}), 200)["status"]
        == "requested"
    )
    assert (
        expect(
            get(client, config, Role.AUDITOR, path, params={"at": verified_at.isoformat()}), 200
        )["status"]
        == "verified"
    )
    requested_at = datetime.fromisoformat(history["items"][0]["at"])
    before = (requested_at - timedelta(seconds=1)).isoformat()
    problem(get(client, config, Role.AUDITOR, path, params={"at": before}), 404, "not_found")
    problem(
        get(client, config, Role.AUDITOR, path, params={"at": "2026-01-01T00:00:00"}),
        422,
        "invalid_input",
    )
    # another pemda's user cannot look into the past of this payment either
    problem(
        get(client, config, Role.AUDITOR, path, pemda="32.04", params={"at": then}),
        404,
        "not_found",
    )


def test_a_returned_transfer_is_paid_again_to_the_new_account(
    api: tuple[TestClient, ApiSettings],
) -> None:
    """Returned, the vendor's account changed, the Kuasa BUD who did no step pays it again: the
    same SP2D, authorised to the new account; the refusals are problems with their rule."""
    client, config = api
    world = build_world(client, config)
    d = world["disbursement_id"]
    for role, step, body in [
        (Role.PPK, "verify", None),
        (Role.PA_KPA, "approve", {"spm_number": "SPM-B"}),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-B"}),
        (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-B-1"}),
        (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-B-1"}),
        (Role.GATEWAY, "transfer/returned", {"reason": "rekening ditutup"}),
    ]:
        expect(post(client, config, role, f"/disbursements/{d}/{step}", body), 200)
    path = f"/disbursements/{d}/reissue"
    again = {"reason": "rekening baru sesuai surat penyedia"}
    other_bud = "kuasabud.eka"
    # The dead account again: refused until the account is changed.
    problem(
        post(client, config, Role.KUASA_BUD, path, again, user=other_bud),
        409,
        "repay_only_to_changed_account",
    )
    change = {
        "bank_code": "110",
        "account_number": "0055566677",
        "account_holder": "PT Pikiran Rakyat Bandung",
        "reason": "rekening lama ditutup",
    }
    expect(post(client, config, Role.BPKAD_ADMIN, f"/vendors/{NPWP}/bank-account", change), 200)
    problem(post(client, config, Role.PPK, path, again), 403, "role_not_permitted")
    # Whoever issued the SP2D may not also pay it again.
    problem(post(client, config, Role.KUASA_BUD, path, again), 403, "separation_of_duties")
    answer = expect(post(client, config, Role.KUASA_BUD, path, again, user=other_bud), 200)
    assert answer["result"]["status"] == "authorised"
    assert answer["result"]["reissue"] == 1
    problem(
        post(client, config, Role.KUASA_BUD, path, again, user=other_bud),
        409,
        "disbursement_lifecycle",
    )
    payment = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}"), 200)
    assert (payment["status"], payment["sp2d_number"], payment["reissues"]) == (
        "authorised",
        "SP2D-B",
        1,
    )
    assert payment["bank_account"]["number"] == "0055566677"
    for role, step, body in [
        (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-B-2"}),
        (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-B-2"}),
    ]:
        expect(post(client, config, role, f"/disbursements/{d}/{step}", body), 200)
    history = expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}/history"), 200)
    items = history["items"]
    assert [e["event"] for e in items][-6:] == [
        "Sent",
        "Settled",
        "Returned",
        "Reissued",
        "Sent",
        "Settled",
    ]
    reissued = items[-3]["details"]
    assert reissued["previous_account"]["number"] == "0012345678"
    assert reissued["bank_account"]["number"] == "0055566677"
    assert reissued["returned_reference"] == "IRIS-B-1"
