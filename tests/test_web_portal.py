"""The vendor portal over HTTP, on a real SQLite file and a real PostgreSQL schema: a vendor's
payments with their timeline and taxes, its statement and its downloads (integer rupiah, read back
from the CSV and the XLSX), Beranda's cards, and the scope: a vendor sees nothing of another
vendor, whatever it puts in the address, and officials have no portal."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import adopt_body, expect, get, post, request_body, vendor_body
from testkit.web import sign_in, web_settings
from testkit.world import NPWP, NPWP_WRITTEN, OTHER_NPWP, OTHER_VENDOR_NAME
from tests.conftest import make_url
from web.pages.portal import timeline

Web = tuple[TestClient, ApiSettings]
EVIL_NAME = '<script>alert("x")</script> Media & Co'
STEPS: tuple[tuple[Role, str, dict[str, str]], ...] = (
    (Role.PPK, "verify", {}),
    (Role.PA_KPA, "approve", {"spm_number": "SPM-7"}),
    (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-7"}),
    (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-7"}),
    (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-7"}),
)


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def request_payment(client: TestClient, config: ApiSettings, spp: str, **kw: Any) -> str:
    body = request_body(spp, **{k: v for k, v in kw.items() if k in ("gross", "npwp")})
    if "deductions" in kw:
        body["deductions"] = kw["deductions"]
    if "description" in kw:
        body["description"] = kw["description"]
    made = expect(post(client, config, Role.PPTK, "/disbursements", body), 201)
    return str(made["id"])


def settle(client: TestClient, config: ApiSettings, disbursement_id: str) -> None:
    for role, step, body in STEPS:
        path = f"/disbursements/{disbursement_id}/{step}"
        expect(post(client, config, role, path, body), 200)


def build(
    client: TestClient, config: ApiSettings, vendor_name: str = "PT Pikiran Rakyat"
) -> dict[str, str]:
    """An APBD, the vendor user's company and another vendor; the vendor's payment SPP-7 settled
    (PPN and PPh 23 withheld), SPP-8 only requested; the other vendor's SPP-9."""
    admin = Role.BPKAD_ADMIN
    expect(post(client, config, admin, "/budgets", adopt_body()), 201)
    expect(post(client, config, admin, "/vendors", vendor_body(NPWP, vendor_name)), 201)
    expect(post(client, config, admin, "/vendors", vendor_body(OTHER_NPWP, OTHER_VENDOR_NAME)), 201)
    taxes = [{"code": "PPN", "amount": 9_909_909}, {"code": "PPH23", "amount": 1_801_801}]
    settled = request_payment(client, config, "SPP-7", gross=110_000_000, deductions=taxes,
                              description="=HYPERLINK(\"http://x\") iklan")  # fmt: skip
    settle(client, config, settled)
    waiting = request_payment(client, config, "SPP-8", gross=5_000_000)
    theirs = request_payment(client, config, "SPP-9", gross=77_777_777, npwp=OTHER_NPWP,
                             description="Rahasia milik penyedia lain")  # fmt: skip
    return {"settled": settled, "waiting": waiting, "theirs": theirs}


def test_my_payments_with_their_timeline_and_taxes(web: Web) -> None:
    client, config = web
    made = build(client, config)
    sign_in(client, config, Role.VENDOR)
    shown = client.get("/portal")
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "SPP-7" in text and "SPP-8" in text
    assert f'href="/pembayaran/{made["settled"]}"' in text
    # The settled payment: gross, each tax withheld, net, and every step with its moment in WIB.
    assert "Rp 110.000.000" in text and "Rp 9.909.909" in text and "Rp 1.801.801" in text
    assert "Rp 98.288.290" in text  # 110.000.000 - 9.909.909 - 1.801.801
    assert ">PPN<" in text and ">PPh 23<" in text
    for step in ("SPP diajukan", "Terverifikasi PPK", "SPM disetujui", "SP2D terbit",
                 "Transfer terkirim", "Berhasil (masuk rekening)"):  # fmt: skip
        assert step in text, step
    assert " WIB" in text and "SP2D-7" in text and "BANK-7" in text
    # The waiting one has steps still to come.
    assert "belum" in text
    # Filtered by status: only the settled one.
    settled_only = client.get("/portal", params={"status": "settled"}).text
    assert "SPP-7" in settled_only and "SPP-8" not in settled_only
    bad = client.get("/portal", params={"status": "dibayar"})
    assert bad.status_code == 422 and "tidak dikenal" in bad.text


def _nothing_of_the_other_vendor(text: str) -> None:
    for secret in ("SPP-9", OTHER_VENDOR_NAME, "Rahasia milik penyedia lain", "77.777.777",
                   "77777777", OTHER_NPWP):  # fmt: skip
        assert secret not in text, secret


def test_a_vendor_sees_nothing_of_another_vendor(web: Web) -> None:
    client, config = web
    made = build(client, config)
    sign_in(client, config, Role.VENDOR)
    # The API refuses the other vendor's statement to this vendor with a 404 ...
    api = get(client, config, Role.VENDOR, f"/vendors/{OTHER_NPWP}/statement")
    assert api.status_code == 404
    # ... and so does every page of the portal given the other vendor's NPWP (or its id).
    for path in ("/portal", "/portal/rekening-koran", "/portal/rekening-koran.csv",
                 "/portal/rekening-koran.xlsx"):  # fmt: skip
        for other in (OTHER_NPWP, "01.987.654.3-210.000", "bukan-npwp"):
            answer = client.get(path, params={"npwp": other})
            assert answer.status_code == api.status_code, (path, other)
            assert "Data ini tidak ditemukan" in answer.text
            _nothing_of_the_other_vendor(answer.text)
        own = client.get(path, params={"npwp": NPWP_WRITTEN})  # its own NPWP, as people write it
        assert own.status_code == 200, path
    # Whatever else is in the address, the pages show this vendor's payments only.
    for path in ("/portal", "/portal/rekening-koran"):
        answer = client.get(path, params={"vendor": OTHER_NPWP, "vendor_id": made["theirs"]})
        assert answer.status_code == 200
        _nothing_of_the_other_vendor(answer.text)
    body = client.get("/portal/rekening-koran.csv").text
    _nothing_of_the_other_vendor(body)
    # The other vendor's payment is not this vendor's to open in the API either.
    assert get(client, config, Role.VENDOR, f"/disbursements/{made['theirs']}").status_code == 404
    # The auditor's pages are not the vendor's.
    for path in ("/audit", "/audit/integritas", "/audit/integritas/ekspor.jsonl"):
        refused = client.get(path)
        assert refused.status_code == 403 and "tidak dapat membuka" in refused.text


def test_officials_have_no_portal(web: Web) -> None:
    client, config = web
    for role in (Role.PPTK, Role.AUDITOR, Role.BPKAD_ADMIN):
        sign_in(client, config, role)
        for path in ("/portal", "/portal/rekening-koran", "/portal/rekening-koran.csv"):
            refused = client.get(path)
            assert refused.status_code == 403, (role, path)
            assert "Anda tidak berwenang" in refused.text


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_the_statement_and_its_downloads_in_integer_rupiah(web: Web) -> None:
    client, config = web
    build(client, config)
    sign_in(client, config, Role.VENDOR)
    page = client.get("/portal/rekening-koran")
    assert page.status_code == 200
    assert "Rp 115.000.000" in page.text  # the gross of both payments, from the statement's totals
    assert 'href="/portal/rekening-koran.csv"' in page.text

    answer = client.get("/portal/rekening-koran.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = {r["no_spp"]: r for r in _csv_rows(answer.content)}
    assert set(rows) == {"SPP-7", "SPP-8"}
    settled = rows["SPP-7"]
    assert int(settled["bruto"]) == 110_000_000
    assert int(settled["potongan_ppn"]) == 9_909_909
    assert int(settled["potongan_pph23"]) == 1_801_801
    assert int(settled["jumlah_potongan"]) == 11_711_710
    assert int(settled["netto"]) == 98_288_290
    assert settled["status"] == "settled" and settled["no_sp2d"] == "SP2D-7"
    assert settled["tanggal_masuk_rekening"] != ""
    assert settled["uraian"].startswith("'=")  # never a formula in a spreadsheet
    assert (
        int(rows["SPP-8"]["potongan_ppn"]) == 0
        and int(rows["SPP-8"]["potongan_pph23"]) == 2_000_000
    )
    # The statement's own figures agree with the API's.
    api = expect(get(client, config, Role.VENDOR, f"/vendors/{NPWP}/statement"), 200)
    assert sum(int(r["netto"]) for r in rows.values()) == api["totals"]["net"]

    answer = client.get("/portal/rekening-koran.xlsx")
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["content-type"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    headers = values[1]
    book = {r[0]: dict(zip(headers, r, strict=True)) for r in values[2:]}
    assert book["SPP-7"]["bruto"] == 110_000_000 and isinstance(book["SPP-7"]["netto"], int)
    assert book["SPP-7"]["netto"] == 98_288_290 and book["SPP-7"]["potongan_ppn"] == 9_909_909
    assert book["SPP-8"]["netto"] == 3_000_000
    assert str(book["SPP-7"]["uraian"]).startswith("'=")
    uraian = headers.index("uraian") + 1
    assert sheet.cell(row=3, column=uraian).data_type == "s"


def test_the_statement_period_filter(web: Web) -> None:
    client, config = web
    build(client, config)
    sign_in(client, config, Role.VENDOR)
    later = {"dari": "2099-01-01", "sampai": "2099-12-31"}
    empty = client.get("/portal/rekening-koran", params=later)
    assert empty.status_code == 200 and "SPP-7" not in empty.text and "Belum ada data" in empty.text
    assert "rekening-koran.csv?dari=2099-01-01&amp;sampai=2099-12-31" in empty.text
    assert _csv_rows(client.get("/portal/rekening-koran.csv", params=later).content) == []
    today = {"dari": "2000-01-01", "sampai": "2099-12-31", "status": "settled"}
    rows = _csv_rows(client.get("/portal/rekening-koran.csv", params=today).content)
    assert [r["no_spp"] for r in rows] == ["SPP-7"]
    # Bad input: the message, the input kept, nothing filtered; never a 500.
    for bad in ({"dari": "31-12-2026"}, {"dari": "2026-12-31", "sampai": "2026-01-01"},
                {"status": "lunas"}):  # fmt: skip
        answer = client.get("/portal/rekening-koran", params=bad)
        assert answer.status_code == 422, bad
        assert "Isian tidak valid" in answer.text
        for field in ("dari", "sampai"):
            assert f'name="{field}" value="{bad.get(field, "")}"' in answer.text  # kept
        assert client.get("/portal/rekening-koran.csv", params=bad).status_code == 422


def test_a_stored_script_is_shown_as_text(web: Web) -> None:
    client, config = web
    build(client, config, vendor_name=EVIL_NAME)
    sign_in(client, config, Role.VENDOR)
    for path in ("/portal", "/portal/rekening-koran"):
        text = client.get(path).text
        assert "<script>alert" not in text, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Media &amp; Co" in text, path
    sign_in(client, config, Role.AUDITOR)
    found = client.get("/audit", params={"penyedia": "script"})
    assert found.status_code == 200 and "SPP-7" in found.text
    assert "<script>alert" not in found.text and "&lt;script&gt;" in found.text


def test_the_vendors_home_cards(web: Web) -> None:
    client, config = web
    build(client, config)
    sign_in(client, config, Role.VENDOR)
    home = client.get("/beranda").text
    assert "Pembayaran dalam proses" in home and "Berhasil masuk rekening bulan" in home
    counts = home.split('<span class="card-count">')[1:]
    assert [c.split("<", 1)[0] for c in counts] == ["1", "1"]  # SPP-8 under way; SPP-7 settled
    assert "Netto Rp 98.288.290" in home
    assert 'href="/portal?status=settled"' in home
    # An official's Beranda has no vendor cards.
    sign_in(client, config, Role.AUDITOR)
    assert "Pembayaran dalam proses" not in client.get("/beranda").text


AT = "2026-03-02T03:04:05.000000+00:00"  # 10.04 WIB


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"status": "requested", "requested_at": AT},
         "requested:now verified:todo approved:todo authorised:todo sent:todo settled:todo"),
        ({"status": "rejected", "requested_at": AT, "rejected_at": AT},
         "requested:done rejected:bad"),
        ({"status": "cancelled", "requested_at": AT, "verified_at": AT, "approved_at": AT,
          "authorised_at": AT, "cancelled_at": AT},
         "requested:done verified:done approved:done authorised:done cancelled:bad"),
        ({"status": "failed", "requested_at": AT, "verified_at": AT, "approved_at": AT,
          "authorised_at": AT, "sent_at": AT, "failed_at": AT},
         "requested:done verified:done approved:done authorised:done sent:done failed:bad "
         "settled:todo"),
        ({"status": "returned", "requested_at": AT, "verified_at": AT, "approved_at": AT,
          "authorised_at": AT, "sent_at": AT, "settled_at": AT, "returned_at": AT},
         "requested:done verified:done approved:done authorised:done sent:done settled:done "
         "returned:bad"),
    ],
)  # fmt: skip
def test_a_payments_timeline_shows_where_it_stopped(row: dict[str, str], expected: str) -> None:
    steps = timeline(row)
    assert " ".join(f"{s.status}:{s.state}" for s in steps) == expected
    assert all((s.at is None) == (s.state == "todo") for s in steps)
