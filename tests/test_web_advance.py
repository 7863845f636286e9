"""The Uang Persediaan page over HTTP, on a real SQLite file and a real PostgreSQL schema: the
bendahara sees the advance's balances, BKU, SPJ, cards and TU; records an SPJ in the form (a refusal
of the advance's rules shown in Indonesian with the input kept); asks an SPP-GU choosing the open
SPJ; PPK, PA/KPA and Kuasa BUD find it in their queue and take it to its SP2D on its own page; other
roles and forms without CSRF are refused."""

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
from testkit.api import adopt_body, expect, get, post
from testkit.web import sign_in, submit, web_settings
from testkit.world import GOODS, SKPD, YEAR
from tests.conftest import make_url

JT = 1_000_000
PAGE = "/uang-persediaan"
Web = tuple[TestClient, ApiSettings, str]


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    """An APBD, an UP of Rp 30 juta received (through the API), a card; the bendahara signed in."""
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        admin = Role.BPKAD_ADMIN
        expect(post(client, config, admin, "/budgets", adopt_body()), 201)
        body = {"year": YEAR, "skpd": SKPD, "document": "KEP-UP/01", "ceiling": 50 * JT,
                "kkpd_ceiling": 20 * JT, "tu_ceiling": 10 * JT, "bank_code": "110",
                "account_number": "0099887766", "account_holder": "Bendahara"}  # fmt: skip
        expect(post(client, config, admin, "/advances", body), 201)
        card = {"card": "5264-xxxx-xxxx-1234", "holder": "Eka", "limit": 15 * JT}
        expect(post(client, config, admin, f"/advances/{YEAR}/{SKPD}/cards", card), 201)
        up = {"spp_number": "SPP-UP/1", "mechanism": "up", "amount": 30 * JT, "description": "UP"}
        oid = expect(post(client, config, Role.BENDAHARA, f"/advances/{YEAR}/{SKPD}/orders", up),
                     201)["id"]  # fmt: skip
        for role, step, payload in [
            (Role.PPK, "verify", None), (Role.PA_KPA, "approve", {"spm_number": "SPM-UP/1"}),
            (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-UP/1"}),
            (Role.GATEWAY, "settled", {"bank_reference": "BANK-1"}),
        ]:  # fmt: skip
            expect(post(client, config, role, f"/advances/orders/{oid}/{step}", payload), 200)
        lines = expect(get(client, config, admin, f"/budgets/{YEAR}/lines"), 200)["items"]
        goods = next(x["id"] for x in lines if x["rekening"] == GOODS)
        sign_in(client, config, Role.BENDAHARA)
        yield client, config, goods


def _spj(line_id: str, **changes: Any) -> dict[str, Any]:
    return {"year": str(YEAR), "key": f"k-spj-{len(changes)}-{changes.get('spj_number', '')}",
            "spj_number": "SPJ/WEB/1", "line_id": line_id, "amount": "4.000.000",
            "channel": "tunai", "card": "", "tu": "", "merchant": "Toko Rejeki",
            "spent_on": f"{YEAR}-01-15", "evidence_kind": "kuitansi", "evidence": "KW/1",
            "otorisasi": "", **changes}  # fmt: skip


def test_the_bendahara_records_spj_and_asks_a_gu(web: Web) -> None:
    client, config, goods = web
    shown = client.get(PAGE)
    assert shown.status_code == 200
    assert "Uang Persediaan" in shown.text and "Rp 30.000.000" in shown.text
    done = submit(client, PAGE, f"{PAGE}/spj", _spj(goods), follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(PAGE).text
    assert "SPJ/WEB/1" in page and "Rp 26.000.000" in page  # the cash, and the BKU's balance
    # Beyond the cash held: refused with the advance's sentence, the input kept.
    refused = submit(client, PAGE, f"{PAGE}/spj",
                     _spj(goods, spj_number="SPJ/WEB/2", amount="27.000.000"))  # fmt: skip
    assert refused.status_code == 422
    assert "Tidak sesuai aturan uang persediaan" in refused.text
    assert 'value="SPJ/WEB/2"' in refused.text
    gu = {"year": str(YEAR), "key": "k-gu-1", "mechanism": "gu", "spp_number": "SPP-GU/WEB/1",
          "amount": "", "deadline": "", "tu": "", "spj": ["SPJ/WEB/1"],
          "description": "GU pertama"}  # fmt: skip
    asked = submit(client, PAGE, f"{PAGE}/spp", gu, follow_redirects=False)
    assert asked.status_code == 303, asked.text
    assert "SPP-GU/WEB/1" in client.get(PAGE).text

    for role, step, fields in [
        (Role.PPK, "verifikasi", {}),
        (Role.PA_KPA, "setujui", {"spm_number": "SPM-GU/WEB/1"}),
        (Role.KUASA_BUD, "terbitkan", {"sp2d_number": "SP2D-GU/WEB/1"}),
    ]:
        client.cookies.clear()
        sign_in(client, config, role)
        queue = client.get("/antrean").text
        assert "SPP-GU" in queue and "SPP-GU/WEB/1" in queue, role
        found = re.search(r'href="(/uang-persediaan/spp/[0-9a-f-]+)"', queue)
        assert found is not None
        order = found.group(1)
        data = {"key": f"k-{step}", **fields}
        moved = submit(client, order, f"{order}/{step}", data, follow_redirects=False)
        assert moved.status_code == 303, moved.text
    assert "SP2D-GU/WEB/1" in client.get(order).text
    line = expect(get(client, config, Role.AUDITOR, f"/budgets/{YEAR}/lines/{goods}"), 200)
    assert line["realised"] == 4 * JT


def test_others_may_not_keep_the_advance_and_forms_need_csrf(web: Web) -> None:
    client, config, goods = web
    no_token = client.post(f"{PAGE}/spj", data=_spj(goods))
    assert no_token.status_code == 403
    client.cookies.clear()
    sign_in(client, config, Role.PPTK)
    assert client.get(PAGE).status_code == 200  # an official of the SKPD reads it
    shown = client.get(PAGE).text
    assert "Catat SPJ" not in shown  # but keeps no advance
    refused = client.post(f"{PAGE}/spj", data=_spj(goods))
    assert refused.status_code == 403
    assert "SPJ/WEB/1" not in client.get(PAGE).text
