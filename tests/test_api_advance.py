"""The bendahara's advance over HTTP, on a real SQLite file and a real PostgreSQL schema: BPKAD sets
the UP and a card, the bendahara spends in cash and by card, pays the bill and asks a GU, the same
four hands take it to its SP2D; reads of the advance, register, SPJ, cards, TU and orders; every
refusal a problem document with its rule, and another SKPD's official refused (skpd_scope)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.cashplan import WIB
from ledger.roles import Role
from testkit.api import adopt_body, expect, get, line, post, settings
from testkit.world import GOODS, OTHER_SKPD, SKPD, YEAR
from tests.conftest import make_url

JT = 1_000_000
BASE = f"/advances/{YEAR}/{SKPD}"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def problem(response: Any, status: int, rule: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == rule


def _set_up(client: TestClient, config: ApiSettings) -> None:
    admin = Role.BPKAD_ADMIN
    expect(post(client, config, admin, "/budgets", adopt_body()), 201)
    body = {"year": YEAR, "skpd": SKPD, "document": "KEP-UP/01", "ceiling": 50 * JT,
            "kkpd_ceiling": 20 * JT, "tu_ceiling": 10 * JT, "bank_code": "110",
            "account_number": "0099887766", "account_holder": "Bendahara Pengeluaran"}  # fmt: skip
    expect(post(client, config, admin, "/advances", body), 201)
    card = {"card": "5264-xxxx-xxxx-1234", "holder": "Eka", "limit": 15 * JT}
    expect(post(client, config, admin, f"{BASE}/cards", card), 201)


def _order(client: TestClient, config: ApiSettings, body: dict[str, Any], settle: bool) -> str:
    done = expect(post(client, config, Role.BENDAHARA, f"{BASE}/orders", body), 201)
    oid, spp = done["id"], body["spp_number"]
    steps = [
        (Role.PPK, "verify", None),
        (Role.PA_KPA, "approve", {"spm_number": f"SPM/{spp}"}),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": f"SP2D/{spp}"}),
    ]
    if settle:
        steps.append((Role.GATEWAY, "settled", {"bank_reference": f"BANK/{spp}"}))
    for role, step, payload in steps:
        expect(post(client, config, role, f"/advances/orders/{oid}/{step}", payload), 200)
    return str(oid)


def rows(response: Any) -> list[dict[str, Any]]:
    """A list answer (``expect`` types its answer as one document)."""
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def _spj(number: str, amount: Any, **kw: Any) -> dict[str, Any]:
    return {"spj_number": number, "line": line(GOODS), "amount": amount, "channel": "tunai",
            "merchant": "Toko Rejeki", "spent_on": f"{YEAR}-01-15",
            "evidence": {"kuitansi": f"KW/{number}"}, **kw}  # fmt: skip


def test_an_advance_from_up_to_gu_over_http(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    _set_up(client, config)
    bendahara = Role.BENDAHARA
    _order(client, config, {"spp_number": "SPP-UP/1", "mechanism": "up", "amount": 30 * JT,
                            "description": "UP 2026"}, settle=True)  # fmt: skip
    expect(post(client, config, bendahara, f"{BASE}/spj", _spj("SPJ/1", 5 * JT)), 201)
    card = _spj("SPJ/2", 8 * JT, channel="kkpd", card="5264 XXXX XXXX 1234")
    expect(post(client, config, bendahara, f"{BASE}/spj", card), 201)
    bill = {"card": "5264-xxxx-xxxx-1234", "amount": 8 * JT, "reference": "TAGIHAN/01"}
    expect(post(client, config, bendahara, f"{BASE}/card-bills", bill), 201)
    gu = {"spp_number": "SPP-GU/1", "mechanism": "gu", "spj_numbers": ["SPJ/1", "SPJ/2"],
          "description": "GU 1"}  # fmt: skip
    oid = _order(client, config, gu, settle=True)
    expect(post(client, config, bendahara, f"{BASE}/returns",
                {"amount": 2 * JT, "reference": "STS/01"}), 201)  # fmt: skip

    advance = expect(get(client, config, Role.PPK, BASE), 200)
    assert (advance["cash"], advance["accounted"], advance["owed_on_cards"]) == (28 * JT, 0, 0)
    assert (advance["cash_ceiling"], advance["outstanding"]) == (30 * JT, 28 * JT)
    register = rows(get(client, config, bendahara, f"{BASE}/register"))
    assert [r["kind"] for r in register] == [
        "up_received", "spj", "spj", "card_bill", "gu_accounted", "gu_received", "setoran",
    ]  # fmt: skip
    assert register[-1]["balance"] == 28 * JT
    spj = rows(get(client, config, Role.AUDITOR, f"{BASE}/spj"))
    assert {(s["number"], s["status"], s["spp_number"]) for s in spj} == {
        ("SPJ/1", "accounted", "SPP-GU/1"), ("SPJ/2", "accounted", "SPP-GU/1"),
    }  # fmt: skip
    [held] = rows(get(client, config, bendahara, f"{BASE}/cards"))
    assert (held["card"], held["owed"], held["billed"]) == ("5264XXXXXXXX1234", 0, 8 * JT)
    orders = rows(get(client, config, Role.KUASA_BUD, f"{BASE}/orders"))
    assert [(o["spp_number"], o["status"]) for o in orders] == [
        ("SPP-UP/1", "settled"), ("SPP-GU/1", "settled"),
    ]  # fmt: skip
    one = expect(get(client, config, Role.AUDITOR, f"/advances/orders/{oid}"), 200)
    assert (one["sp2d_number"], one["verified_by"]) == ("SP2D/SPP-GU/1", "ppk.budi")
    [listed] = rows(get(client, config, Role.BPKAD_ADMIN, "/advances"))
    assert listed["skpd"] == SKPD
    line_row = next(
        x
        for x in expect(get(client, config, Role.PPK, f"/budgets/{YEAR}/lines"), 200)["items"]
        if x["rekening"] == GOODS
    )
    assert line_row["realised"] == 13 * JT


def test_a_tu_and_the_queue_over_http(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    _set_up(client, config)
    deadline = (datetime.now(WIB) + timedelta(days=10)).date().isoformat()
    tu = {"spp_number": "SPP-TU/1", "mechanism": "tu", "amount": 5 * JT, "deadline": deadline,
          "description": "TU pameran"}  # fmt: skip
    expect(post(client, config, Role.BENDAHARA, f"{BASE}/orders", tu), 201)
    queue = expect(
        get(client, config, Role.PPK, "/queues/ppk", params={"freshness": "latest"}), 200
    )
    [waiting] = queue["items"]["items"]
    assert (waiting["kind"], waiting["skpd"], waiting["gross"]) == ("tu", SKPD, 5 * JT)
    assert waiting["line_id"] is None
    [row] = rows(get(client, config, Role.BENDAHARA, f"{BASE}/tu"))
    assert (row["amount"], row["given"], row["closed"], row["overdue"]) == (5 * JT, 0, False, False)


def test_refusals_are_problems_with_their_rule(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    _set_up(client, config)
    bendahara = Role.BENDAHARA
    # nothing in hand yet: a cash SPJ is refused by the advance's rule
    problem(post(client, config, bendahara, f"{BASE}/spj", _spj("SPJ/1", JT)), 422,
            "advance_within_its_rules")  # fmt: skip
    too_much = {"spp_number": "SPP-UP/9", "mechanism": "up", "amount": 30 * JT + 1,
                "description": "UP"}  # fmt: skip
    problem(post(client, config, bendahara, f"{BASE}/orders", too_much), 422,
            "advance_within_its_rules")  # fmt: skip
    # only the bendahara keeps the advance; only BPKAD sets it
    problem(post(client, config, Role.PPTK, f"{BASE}/spj", _spj("SPJ/1", JT)), 403,
            "role_not_permitted")  # fmt: skip
    card = {"card": "5264-xxxx-xxxx-9999", "holder": "X", "limit": JT}
    problem(post(client, config, bendahara, f"{BASE}/cards", card), 403, "role_not_permitted")
    # another SKPD's official neither reads nor writes this SKPD's advance
    problem(get(client, config, bendahara, BASE, skpd=OTHER_SKPD), 403, "skpd_scope")
    problem(post(client, config, bendahara, f"{BASE}/spj", _spj("SPJ/1", JT), skpd=OTHER_SKPD),
            403, "skpd_scope")  # fmt: skip
    # bad input is a 422 before the ledger; an unknown advance a 404
    problem(post(client, config, bendahara, f"{BASE}/spj", _spj("SPJ/1", 1.5)), 422,
            "request_validation")  # fmt: skip
    problem(get(client, config, Role.AUDITOR, f"/advances/{YEAR}/{OTHER_SKPD}"), 404, "not_found")
    problem(get(client, config, Role.VENDOR, BASE), 403, "role_not_permitted")
