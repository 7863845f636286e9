"""The tutup tahun API: preview (dry run), close, status; roles and problem+json like the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import build_world, expect, get, line, post, request_body, settings
from testkit.world import INCOME, MEDIA, SKPD, YEAR
from tests.conftest import make_url
from tests.test_api_flow import problem

ADMIN = Role.BPKAD_ADMIN
SILPA = {"skpd": SKPD, "sub_kegiatan": None, "rekening": "6.1.01.01.01.0001"}


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def _year(client: TestClient, config: ApiSettings) -> dict[str, str]:
    """SPP-1 and SPP-2 requested (both with a contract), 300 M of income, and the next APBD."""
    world = build_world(client, config)
    receipt = {"year": YEAR, "line": line(INCOME), "channel": "teller",
               "reference": "R-1", "payer": "Hotel Asri", "gross": 300_000_000}  # fmt: skip
    expect(post(client, config, ADMIN, "/revenues", receipt), 201)
    nxt = {"year": YEAR + 1, "document": f"PERDA-APBD-{YEAR + 1}",
           "lines": [{**line(MEDIA), "uraian": "Belanja Jasa Iklan", "pagu": 100_000_000},
                     {**SILPA, "uraian": "SiLPA Tahun Sebelumnya", "pagu": 1_000_000}]}  # fmt: skip
    expect(post(client, config, ADMIN, "/budgets", nxt), 201)
    return world


def _close_body(world: dict[str, str], **kw: Any) -> dict[str, Any]:
    return {"document": f"KEP-TUTUP-{YEAR}", "carry_over": [world["disbursement_id"]],
            "silpa_line": SILPA, **kw}  # fmt: skip


def test_preview_then_close_then_status(api: tuple[TestClient, ApiSettings]) -> None:
    client, config = api
    world = _year(client, config)
    path = f"/years/{YEAR}/close"
    preview = expect(
        client.post(f"/pemda/32.73{path}", params={"dry_run": "true"}, json=_close_body(world),
                    headers={**_auth(config), "Idempotency-Key": "preview-1"}),
        200,
    )  # fmt: skip
    assert preview["dry_run"] is True
    assert preview["silpa"] == 300_000_000 and preview["lapsed"] == 2
    assert preview["carried_amount"] == 100_000_000
    assert {x["spp_number"]: x["carried"] for x in preview["lapsing"]} == {
        "SPP-1": True, "SPP-2": False,
    }  # fmt: skip
    status = expect(get(client, config, Role.AUDITOR, f"/years/{YEAR}"), 200)
    assert status["closed"] is False  # the preview recorded nothing

    closed = expect(post(client, config, ADMIN, path, _close_body(world)), 200)
    assert (closed["dry_run"], closed["silpa"], closed["lapsed"]) == (False, 300_000_000, 2)
    status = expect(get(client, config, Role.AUDITOR, f"/years/{YEAR}"), 200)
    assert status["closed"] is True and status["final"]["silpa"] == 300_000_000
    lra = get(
        client, config, Role.AUDITOR, "/lra", params={"year": YEAR, "after": closed["position"]}
    )
    assert expect(lra, 200)["final"] is True
    nxt = expect(get(client, config, Role.AUDITOR, f"/years/{YEAR + 1}"), 200)
    assert (nxt["closed"], nxt["opened_from"]) == (False, YEAR)
    missing = expect(get(client, config, Role.AUDITOR, f"/years/{YEAR + 5}"), 200)
    assert missing["adopted"] is False

    payment = expect(
        get(client, config, Role.AUDITOR, f"/disbursements/{world['disbursement_id']}"), 200
    )
    assert payment["status"] == "lapsed"
    # After the close: an SPP of the closed year is a conflict, with its rule.
    problem(
        post(client, config, Role.PPTK, "/disbursements", request_body("SPP-9")),
        409, "closed_year_accepts_no_spending",
    )  # fmt: skip
    problem(post(client, config, ADMIN, path, _close_body(world, carry_over=[])), 409,
            "closed_year_accepts_no_spending")  # fmt: skip


def test_only_the_ppkd_closes_and_bad_input_is_a_problem(
    api: tuple[TestClient, ApiSettings],
) -> None:
    client, config = api
    world = _year(client, config)
    path = f"/years/{YEAR}/close"
    problem(
        post(client, config, Role.KUASA_BUD, path, _close_body(world)), 403, "role_not_permitted"
    )
    problem(post(client, config, ADMIN, path, {"carry_over": "x"}), 422, "request_validation")
    plain = _close_body(world, silpa_line=None, carry_over=[])
    problem(post(client, config, ADMIN, path, plain), 422, "invalid_input")  # SiLPA needs a line


def _auth(config: ApiSettings) -> dict[str, str]:
    from testkit.api import bearer

    return bearer(config, ADMIN)
