"""The PPTK's pages over HTTP, on a real SQLite file and a real PostgreSQL schema: create an SPP-LS
in the form (the line's pagu and the deductions from the tax table shown, the net computed), the
refusals of the ledger shown on the form with the input kept and nothing recorded (above the
available pagu, a blocked line, an inactive vendor, no CSRF token), my SKPD's SPPs with their
status, and a stored ``<script>`` rendered inert."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import build_world, expect, get, line, post, request_body, vendor_body
from testkit.web import sign_in, submit, web_settings
from testkit.world import MEDIA, NPWP, OTHER_NPWP, OTHER_SKPD, PEMDA, YEAR
from tests.conftest import make_url
from web.session import COOKIE

Web = tuple[TestClient, ApiSettings, dict[str, str]]


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    """The app with the test world built through the API (an APBD, two vendors, SPP-1 and SPP-2 of
    Rp 100.000.000 each on the media line), and a PPTK signed in."""
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        world = build_world(client, config)
        sign_in(client, config, Role.PPTK)
        yield client, config, world


def _count(client: TestClient, config: ApiSettings) -> int:
    listed = expect(get(client, config, Role.BPKAD_ADMIN, "/disbursements"), 200)
    return int(listed["total"])


def _form(world: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {
        "year": str(YEAR),
        "key": f"k-{changes.get('spp_number', 'SPP-WEB-1')}-{len(changes)}",
        "spp_number": "SPP-WEB-1",
        "line_id": world["line_id"],
        "vendor_npwp": NPWP,
        "gross": "111.000.000",
        "pajak": ["PPN", "PPH23"],
        "description": "Publikasi kegiatan di koran",
        "doc_kind_0": "kontrak",
        "doc_number_0": "KONTRAK/07/2026",
        "doc_kind_1": "faktur",
        "doc_number_1": "INV/2026/07",
        **changes,
    }


def test_the_form_shows_the_lines_pagu_and_the_net_live(web: Web) -> None:
    client, _, world = web
    shown = client.get("/spp/baru")
    assert shown.status_code == 200
    assert "Belanja Jasa Iklan" in shown.text and "PT Pikiran Rakyat Bandung" in shown.text
    assert 'hx-get="/spp/baru/hitung"' in shown.text
    live = client.get(
        "/spp/baru/hitung",
        params={"line_id": world["line_id"], "gross": "111.000.000", "pajak": ["PPN", "PPH23"]},
    )
    assert live.status_code == 200
    text = live.text
    # Pagu 1.000.000.000, SPP-1 and SPP-2 committed 200.000.000, 800.000.000 available.
    assert "Rp 1.000.000.000" in text and "Rp 200.000.000" in text
    assert re.search(r'id="sisa-pagu">\s*<span class="money">Rp 800\.000\.000', text)
    # PPN is in the gross: DPP = 111.000.000 x 100/111 = 100.000.000; PPN 11% and PPh 23 2% of it.
    assert "(Rp 11.000.000)" in text and "(Rp 2.000.000)" in text
    assert re.search(r'id="netto">\s*<span class="money">Rp 98\.000\.000', text)
    above = client.get(
        "/spp/baru/hitung", params={"line_id": world["line_id"], "gross": "900.000.000"}
    )
    assert "Melebihi sisa pagu" in above.text
    wrong = client.get("/spp/baru/hitung", params={"gross": "1,5"})
    assert wrong.status_code == 200 and "bilangan bulat rupiah" in wrong.text


def test_a_pptk_creates_an_spp_in_the_form(web: Web) -> None:
    client, config, world = web
    done = submit(client, "/spp/baru", "/spp/baru", _form(world), follow_redirects=False)
    assert done.status_code == 303, done.text
    target = done.headers["location"]
    assert target.startswith("/pembayaran/") and target.endswith("?selesai=baru")
    disbursement_id = target.removeprefix("/pembayaran/").split("?")[0]
    recorded = expect(get(client, config, Role.AUDITOR, f"/disbursements/{disbursement_id}"), 200)
    assert recorded["gross"] == 111_000_000 and recorded["net"] == 98_000_000
    assert recorded["deductions"] == [
        {"code": "PPN", "amount": 11_000_000},
        {"code": "PPH23", "amount": 2_000_000},
    ]
    assert recorded["documents"] == {"kontrak": "KONTRAK/07/2026", "faktur": "INV/2026/07"}
    assert recorded["status"] == "requested"
    shown = client.get(target)
    assert "SPP telah diajukan" in shown.text and "SPP-WEB-1" in shown.text
    mine = client.get("/spp")
    assert "SPP-WEB-1" in mine.text and "SPP diajukan" in mine.text


def _refused(client: TestClient, world: dict[str, str], **changes: Any) -> str:
    answer = submit(client, "/spp/baru", "/spp/baru", _form(world, **changes))
    assert 400 <= answer.status_code < 500, answer.text
    return answer.text


def test_an_spp_above_the_available_pagu_is_refused_and_nothing_is_recorded(web: Web) -> None:
    client, config, world = web
    before = _count(client, config)
    text = _refused(client, world, gross="900.000.000", spp_number="SPP-BESAR")
    assert "Melebihi sisa pagu rincian anggaran ini." in text
    assert "committed_plus_realised_within_pagu" in text
    # The input is kept.
    assert 'value="SPP-BESAR"' in text and 'value="900.000.000"' in text
    assert "Publikasi kegiatan di koran" in text and 'value="KONTRAK/07/2026"' in text
    assert _count(client, config) == before


def test_a_blocked_line_and_an_inactive_vendor_are_refused_in_plain_words(web: Web) -> None:
    client, config, world = web
    before = _count(client, config)
    admin = Role.BPKAD_ADMIN
    expect(post(client, config, admin, "/vendors/" + OTHER_NPWP + "/deactivate",
                {"reason": "izin usaha dicabut"}), 200)  # fmt: skip
    text = _refused(client, world, vendor_npwp=OTHER_NPWP, spp_number="SPP-NONAKTIF")
    assert "Penyedia ini tidak terdaftar atau tidak aktif" in text
    # The picker offers active vendors only.
    assert OTHER_NPWP not in client.get("/spp/baru").text.split('id="vendor_npwp"')[1]
    expect(post(client, config, admin, f"/budgets/{YEAR}/blocks",
                {"line": line(MEDIA), "reason": "menunggu reviu APIP"}), 200)  # fmt: skip
    text = _refused(client, world, spp_number="SPP-BLOKIR")
    assert "sedang diblokir" in text
    assert _count(client, config) == before


def test_bad_input_is_refused_on_the_form(web: Web) -> None:
    client, config, world = web
    before = _count(client, config)
    assert "bilangan bulat rupiah" in _refused(client, world, gross="1.500,50")
    assert "Nomor SPP wajib diisi" in _refused(client, world, spp_number="")
    assert "pilih rincian anggaran" in _refused(client, world, line_id="")
    assert "belum diberi jenis" in _refused(client, world, doc_kind_0="")
    assert _count(client, config) == before


def test_a_form_without_its_csrf_token_records_nothing(web: Web) -> None:
    client, config, world = web
    before = _count(client, config)
    for token in ({}, {"csrf": "palsu"}):
        answer = client.post("/spp/baru", data={**_form(world), **token})
        assert answer.status_code == 403
        assert "Formulir kedaluwarsa atau tidak sah" in answer.text
    assert _count(client, config) == before


def test_only_the_makers_open_the_spp_pages(web: Web) -> None:
    client, config, _ = web
    for role in (Role.PPK, Role.VENDOR, Role.AUDITOR, Role.KUASA_BUD):
        other = TestClient(client.app)
        sign_in(other, config, role)
        for path in ("/spp", "/spp/baru", "/spp/baru/hitung"):
            assert other.get(path).status_code == 403, (role, path)
        refused = submit(other, "/beranda", "/spp/baru", {"spp_number": "X"})
        assert refused.status_code == 403


def test_my_spps_filter_by_status_and_page(web: Web) -> None:
    client, config, world = web
    expect(post(client, config, Role.PPK,
                f"/disbursements/{world['disbursement_id']}/verify"), 200)  # fmt: skip
    listed = client.get("/spp")
    assert "SPP-1" in listed.text and "SPP-2" in listed.text and "Tarik kembali" in listed.text
    verified = client.get("/spp", params={"status": "verified"})
    assert "SPP-1" in verified.text and "SPP-2" not in verified.text
    second = client.get("/spp", params={"offset": 1})
    assert ">SPP-2<" in second.text and ">SPP-1<" not in second.text
    assert client.get("/spp", params={"status": "dibayar"}).status_code == 422


def test_a_pptk_withdraws_an_spp_with_a_reason(web: Web) -> None:
    client, config, world = web
    page_path = f"/pembayaran/{world['disbursement_id']}"
    shown = client.get(page_path)
    assert 'id="form-tarik"' in shown.text and "Tarik kembali" in shown.text
    empty = submit(client, page_path, f"{page_path}/tarik", {"key": "k-tarik-0", "reason": ""})
    assert empty.status_code == 422 and "Alasan wajib diisi" in empty.text
    done = submit(client, page_path, f"{page_path}/tarik",
                  {"key": "k-tarik-1", "reason": "salah rekening"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    recorded = expect(get(client, config, Role.AUDITOR, f"/disbursements/{world['disbursement_id']}"),
                      200)  # fmt: skip
    assert recorded["status"] == "cancelled"
    after = client.get(page_path)
    assert "Dibatalkan / ditarik kembali" in after.text and "salah rekening" in after.text


def test_a_stored_script_is_rendered_inert(web: Web) -> None:
    client, config, _ = web
    evil = "<script>alert('kasda')</script>"
    expect(post(client, config, Role.BPKAD_ADMIN, "/vendors",
                vendor_body("013333333333000", f"CV {evil}")), 201)  # fmt: skip
    body = request_body("SPP-XSS", npwp="013333333333000")
    body["description"] = f"Iklan {evil}"
    created = expect(post(client, config, Role.PPTK, "/disbursements", body), 201)
    for path in ("/spp", f"/pembayaran/{created['id']}", "/spp/baru"):
        text = client.get(path).text
        assert evil not in text, path
        assert "&lt;script&gt;alert(" in text, path


def test_the_live_summary_shows_no_line_of_another_skpd(web: Web) -> None:
    client, config, world = web
    now = int(time.time())
    claims = {"sub": "pptk.lain", "role": "pptk", "pemda": PEMDA, "skpd": OTHER_SKPD, "sid": "s",
              "aud": "kasda-web", "iat": now, "exp": now + 600}  # fmt: skip
    other = TestClient(client.app)
    other.cookies.set(COOKIE, jwt.encode(claims, config.pages.session_secret, algorithm="HS256"))
    live = other.get("/spp/baru/hitung", params={"line_id": world["line_id"], "gross": "1"})
    assert live.status_code == 200
    assert "Rp 1.000.000.000" not in live.text and "Pilih rincian anggaran" in live.text
    assert "Belanja Jasa Iklan" not in other.get("/spp/baru").text
    # Posting the other SKPD's line is the ledger's refusal, as through the API.
    refused = submit(other, "/spp/baru", "/spp/baru", _form(world, spp_number="SPP-LAIN"))
    assert refused.status_code == 403 and "Data ini milik SKPD lain." in refused.text
    assert _count(client, config) == 2
