"""The anggaran kas and SPD over HTTP, on a real SQLite file and a real PostgreSQL schema: BPKAD
adopts and amends the plan, the Kuasa BUD issues SPD, officials read them within their SKPD, and
every refusal is a problem document with its rule (never a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import adopt_body, expect, get, line, post, request_body, settings, vendor_body
from testkit.world import GOODS, MEDIA, OTHER_SKPD, SKPD, YEAR
from tests.conftest import make_url
from tests.test_api_flow import problem

PAGU = 1_000_000_000
QUARTER = PAGU // 4
PLAN = f"/budgets/{YEAR}/cash-plans"


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        admin = Role.BPKAD_ADMIN
        expect(post(client, config, admin, "/budgets", adopt_body(PAGU)), 201)
        expect(post(client, config, admin, "/vendors", vendor_body()), 201)
        yield client, config


def plan_body(months: list[int] | None = None) -> dict[str, Any]:
    quarters = months or [QUARTER] * 4
    return {
        "skpd": SKPD,
        "document": "PERKADA-AK-1-2026",
        "lines": [
            {"line": line(MEDIA), "months": quarters},
            {"line": line(GOODS), "months": quarters},
        ],
    }


def spd_body(number: str, amount: int, first: int = 1, last: int = 3) -> dict[str, Any]:
    return {"spd_number": number, "first_month": first, "last_month": last, "amount": amount}


def test_a_year_on_spd_over_http(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    adopted = expect(post(client, config, Role.BPKAD_ADMIN, PLAN, plan_body()), 201)
    assert adopted["result"]["planned"] == 2 * PAGU
    # No SPD yet: the SPP is refused by the SPD rule, as the pagu rule refuses (409).
    refused = post(client, config, Role.PPTK, "/disbursements", request_body("SPP-1"))
    assert "SPD" in problem(refused, 409, "spending_within_spd")["detail"]
    expect(
        post(client, config, Role.KUASA_BUD, f"{PLAN}/{SKPD}/spd", spd_body("SPD-1", QUARTER)), 201
    )
    written = expect(post(client, config, Role.PPTK, "/disbursements", request_body("SPP-1")), 201)

    read = expect(
        get(client, config, Role.PPTK, f"{PLAN}/{SKPD}", params={"after": written["position"]}), 200
    )
    assert (read["planned"], read["issued"], read["committed"]) == (2 * PAGU, QUARTER, 100_000_000)
    assert read["months"][0]["available"] == QUARTER - 100_000_000
    assert read["months"][0]["planned"] == 2 * QUARTER
    assert [s["number"] for s in read["spd"]] == ["SPD-1"]
    assert read["spd"][0]["actor_role"] == "kuasa_bud"
    assert {row["rekening"]: row["months"][3] for row in read["lines"]} == {
        MEDIA: QUARTER,
        GOODS: QUARTER,
    }
    register = expect(get(client, config, Role.AUDITOR, f"/budgets/{YEAR}/spd"), 200)
    assert (register["total"], register["items"][0]["amount"]) == (1, QUARTER)
    [summary] = get(client, config, Role.AUDITOR, PLAN).json()
    assert (summary["skpd"], summary["issued"]) == (SKPD, QUARTER)

    # APBD-P style: the media line's plan moves a quarter to the last quarter.
    amended = {
        "document": "PERKADA-AK-2-2026",
        "lines": [{"line": line(MEDIA), "months": [QUARTER, 0, QUARTER, 2 * QUARTER]}],
    }
    expect(post(client, config, Role.BPKAD_ADMIN, f"{PLAN}/{SKPD}/amendments", amended), 200)
    read = expect(get(client, config, Role.AUDITOR, f"{PLAN}/{SKPD}"), 200)
    assert read["decisions"] == ["PERKADA-AK-1-2026", "PERKADA-AK-2-2026"]
    assert read["months"][3]["planned"] == QUARTER  # April: the goods line's quarter only


def test_refusals_are_problems_with_their_rule(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    admin, bud = Role.BPKAD_ADMIN, Role.KUASA_BUD
    short = plan_body([QUARTER, QUARTER, QUARTER, QUARTER - 1])
    problem(post(client, config, admin, PLAN, short), 422, "anggaran_kas_covers_pagu_and_spd")
    assert post(client, config, admin, PLAN, plan_body([QUARTER] * 5)).status_code == 422
    problem(post(client, config, bud, f"{PLAN}/{SKPD}/spd", spd_body("SPD-0", 1)), 404, "not_found")
    expect(post(client, config, admin, PLAN, plan_body()), 201)
    problem(post(client, config, admin, PLAN, plan_body()), 409, "unique_identity")
    spd = f"{PLAN}/{SKPD}/spd"
    problem(post(client, config, Role.PPTK, spd, spd_body("SPD-1", 1)), 403, "role_not_permitted")
    problem(
        post(client, config, bud, spd, spd_body("SPD-1", 2 * QUARTER + 1)),
        409,
        "spending_within_spd",
    )
    assert post(client, config, bud, spd, spd_body("SPD-1", 1, first=4, last=2)).status_code == 422
    assert post(client, config, bud, spd, spd_body("SPD-1", 1, first=0)).status_code == 422
    assert post(client, config, bud, f"{PLAN}/1.x/spd", spd_body("SPD-1", 1)).status_code == 422
    expect(post(client, config, bud, spd, spd_body("SPD-1", 2 * QUARTER)), 201)
    problem(post(client, config, bud, spd, spd_body("SPD-1", 1, 4, 6)), 409, "unique_identity")
    late = {"document": "AK-P", "lines": [{"line": line(MEDIA), "months": [0, 0, 0, PAGU]}]}
    problem(
        post(client, config, admin, f"{PLAN}/{SKPD}/amendments", late),
        422,
        "anggaran_kas_covers_pagu_and_spd",
    )
    assert get(client, config, Role.AUDITOR, f"{PLAN}/{OTHER_SKPD}").status_code == 404
    assert get(client, config, Role.AUDITOR, f"{PLAN}/not-a-code").status_code == 422


def test_an_official_reads_only_their_own_skpds_plan(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    expect(post(client, config, Role.BPKAD_ADMIN, PLAN, plan_body()), 201)
    expect(post(client, config, Role.KUASA_BUD, f"{PLAN}/{SKPD}/spd", spd_body("SPD-1", 5)), 201)
    problem(get(client, config, Role.PPTK, f"{PLAN}/{SKPD}", skpd=OTHER_SKPD), 403, "skpd_scope")
    assert get(client, config, Role.PPTK, PLAN, skpd=OTHER_SKPD).json() == []
    assert (
        expect(get(client, config, Role.PPTK, f"/budgets/{YEAR}/spd", skpd=OTHER_SKPD), 200)[
            "total"
        ]
        == 0
    )
    assert expect(get(client, config, Role.PPTK, f"/budgets/{YEAR}/spd"), 200)["total"] == 1
    problem(get(client, config, Role.VENDOR, PLAN), 403, "role_not_permitted")
