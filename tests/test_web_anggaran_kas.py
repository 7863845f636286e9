"""The Anggaran Kas & SPD page over HTTP, on a real SQLite file and a real PostgreSQL schema: plan,
SPD and realisation by month; the Kuasa BUD issues an SPD in the form (CSRF, refusals in
Indonesian with the input kept); the roles and SKPD scope of the API; and the SPP form showing the
SKPD's Sisa SPD next to the remaining pagu, its refusal by the SPD rule said in Indonesian."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import build_world, expect, get, line, post
from testkit.web import sign_in, submit, web_settings
from testkit.world import GOODS, MEDIA, NPWP, OTHER_SKPD, SKPD, YEAR
from tests.conftest import make_url

Web = tuple[TestClient, ApiSettings, dict[str, str]]
QUARTER = 250_000_000  # of a line's pagu of 1.000.000.000


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    """The test world (its two SPPs requested before the year ran on SPD) and the SKPD's anggaran
    kas adopted by BPKAD: each spending line's pagu in four equal quarters."""
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        world = build_world(client, config)
        plan = {
            "skpd": SKPD,
            "document": "PERKADA-AK-1-2026",
            "lines": [{"line": line(r), "months": [QUARTER] * 4} for r in (MEDIA, GOODS)],
        }
        expect(post(client, config, Role.BPKAD_ADMIN, f"/budgets/{YEAR}/cash-plans", plan), 201)
        yield client, config, world


def _spd(**changes: str) -> dict[str, Any]:
    values = {"key": "k-spd-1", "year": str(YEAR), "skpd": SKPD, "spd_number": "SPD-WEB-1",
              "first_month": "1", "last_month": "12", "amount": "400.000.000"}  # fmt: skip
    return {**values, **changes}


def _issued(client: TestClient, config: ApiSettings) -> int:
    listed = expect(get(client, config, Role.AUDITOR, f"/budgets/{YEAR}/spd"), 200)
    return int(listed["total"])


def test_the_kuasa_bud_issues_an_spd_and_sees_it_by_month(web: Web) -> None:
    client, config, _ = web
    sign_in(client, config, Role.KUASA_BUD)
    shown = client.get("/anggaran-kas")
    assert shown.status_code == 200
    assert "Anggaran Kas &amp; SPD" in shown.text and "Januari" in shown.text
    assert "Rp 500.000.000" in shown.text  # January: a quarter of each of the two lines
    assert "Terbitkan SPD" in shown.text and "Belum ada SPD" in shown.text
    done = submit(client, "/anggaran-kas", "/anggaran-kas/spd", _spd(), follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"])
    assert "SPD diterbitkan." in page.text
    assert "SPD-WEB-1" in page.text and "Januari \u2013 Desember" in page.text
    assert "kuasabud.dedi" in page.text and "Rp 400.000.000" in page.text
    assert _issued(client, config) == 1


def test_a_refused_spd_is_said_in_indonesian_with_the_input_kept(web: Web) -> None:
    client, config, _ = web
    sign_in(client, config, Role.KUASA_BUD)
    above = _spd(amount="600.000.000", last_month="3")  # Q1 of the plan holds 500.000.000
    refused = submit(client, "/anggaran-kas", "/anggaran-kas/spd", above)
    assert refused.status_code == 409
    assert "Melebihi sisa SPD (Surat Penyediaan Dana)" in refused.text
    assert "spending_within_spd" in refused.text and 'value="600.000.000"' in refused.text
    bad_month = submit(client, "/anggaran-kas", "/anggaran-kas/spd", _spd(first_month="13"))
    assert bad_month.status_code == 422 and "Bulan awal harus bulan 1..12" in bad_month.text
    for token in ({}, {"csrf": "palsu"}):
        answer = client.post("/anggaran-kas/spd", data={**_spd(key="k-2"), **token})
        assert answer.status_code == 403
    assert _issued(client, config) == 0


def test_the_page_follows_the_apis_roles_and_skpd_scope(web: Web) -> None:
    client, config, _ = web
    sign_in(client, config, Role.PPTK)
    mine = client.get("/anggaran-kas")
    assert mine.status_code == 200 and f"SKPD {SKPD}" in mine.text
    assert "Terbitkan SPD" not in mine.text
    assert client.get("/anggaran-kas", params={"skpd": OTHER_SKPD}).status_code == 403
    assert client.post("/anggaran-kas/spd", data=_spd()).status_code == 403
    sign_in(client, config, Role.AUDITOR)
    seen = client.get("/anggaran-kas", params={"per": f"{YEAR}-01-01"})
    assert seen.status_code == 200 and "Terbitkan SPD" not in seen.text
    assert client.get("/anggaran-kas", params={"per": "kemarin"}).status_code == 422
    sign_in(client, config, Role.VENDOR)
    assert client.get("/anggaran-kas").status_code in (303, 403)
    assert _issued(client, config) == 0


def test_the_spp_form_shows_the_sisa_spd_and_its_refusal(web: Web) -> None:
    client, config, world = web
    sign_in(client, config, Role.KUASA_BUD)
    submit(client, "/anggaran-kas", "/anggaran-kas/spd", _spd(), follow_redirects=False)
    sign_in(client, config, Role.PPTK)
    live = client.get(
        "/spp/baru/hitung", params={"line_id": world["line_id"], "gross": "500.000.000"}
    )
    assert re.search(r'id="sisa-pagu">\s*<span class="money">Rp 800\.000\.000', live.text)
    assert re.search(r'id="sisa-spd">\s*<span class="money">Rp 400\.000\.000', live.text)
    assert "Melebihi sisa SPD SKPD ini bulan ini." in live.text
    form = {"year": str(YEAR), "key": "k-spp-spd", "spp_number": "SPP-SPD-1",
            "line_id": world["line_id"], "vendor_npwp": NPWP, "gross": "500.000.000",
            "description": "Publikasi", "doc_kind_0": "kontrak", "doc_number_0": "K/1"}  # fmt: skip
    refused = submit(client, "/spp/baru", "/spp/baru", form)
    assert refused.status_code == 409
    assert "Melebihi sisa SPD (Surat Penyediaan Dana) SKPD ini" in refused.text
    assert 'value="SPP-SPD-1"' in refused.text
