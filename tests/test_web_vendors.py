"""The vendor registry pages over HTTP, on a real SQLite file and a real PostgreSQL schema: search
by name, status and kind, paged; a vendor's page with its bank account and the history of its
account (who, when, from what, why); registering, changing an account, deactivating and
reactivating with the commands and roles of the API; names rendered inert; and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.roles import Role
from testkit.clock import FixedClock
from testkit.web import csrf_of, sign_in, submit, web_settings
from testkit.world import OTHER_NPWP, OTHER_VENDOR_NAME, VENDOR_NAME
from tests import factory as f
from tests.conftest import make_url

Web = tuple[TestClient, ApiSettings]
SCRIPT_NAME = "<script>alert('x')</script> CV Jahil"
NEW_VENDOR = {
    "npwp": "02.111.222.3-444.000", "name": SCRIPT_NAME, "kind": "company", "bank_code": "008",
    "account_number": "1234567890", "account_holder": "CV Jahil",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    url = make_url(str(request.param), tmp_path, request)
    ledger = Ledger(url, clock=FixedClock())
    try:
        f.register_vendor(ledger)
        f.register_vendor(ledger, OTHER_NPWP, OTHER_VENDOR_NAME, kind="company")
        config = web_settings(url)
        with TestClient(create_app(config, ledger=ledger)) as client:
            yield client, config
    finally:
        ledger.close()


def test_search_the_registry_by_name_status_and_kind(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    every = client.get("/penyedia")
    assert every.status_code == 200 and "2 penyedia" in every.text
    assert VENDOR_NAME in every.text and OTHER_VENDOR_NAME in every.text
    found = client.get("/penyedia?nama=priangan")
    assert "1 penyedia" in found.text and OTHER_VENDOR_NAME in found.text
    assert 'value="priangan"' in found.text  # the search is kept in its field
    media = client.get("/penyedia?jenis=media")
    assert "1 penyedia" in media.text and VENDOR_NAME in media.text
    assert "Belum ada data" in client.get("/penyedia?status=nonaktif").text
    assert client.get("/penyedia?jenis=perusahaan").status_code == 422
    assert client.get("/penyedia?offset=-1").status_code == 422


def test_the_registry_pages(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    for k in range(50):
        npwp = f"03{k:013d}"
        done = submit(client, "/penyedia/baru", "/penyedia", {
            **NEW_VENDOR, "npwp": npwp, "name": f"CV Nomor {k:02d}", "key": f"v-{k}",
        }, follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, done.text
    first = client.get("/penyedia")
    assert "52 penyedia" in first.text and "1\N{EN DASH}50 dari 52" in first.text
    assert 'href="/penyedia?offset=50"' in first.text and "CV Nomor 47" in first.text
    second = client.get("/penyedia?offset=50")
    assert "CV Nomor 48" in second.text and "CV Nomor 47" not in second.text


def test_register_a_vendor_whose_name_is_rendered_inert(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    done = submit(client, "/penyedia/baru", "/penyedia", {**NEW_VENDOR, "key": "v-1"},
                  follow_redirects=False)  # fmt: skip
    assert (
        done.status_code == 303
        and done.headers["location"] == "/penyedia/021112223444000?pesan=daftar"
    )
    shown = client.get(done.headers["location"])
    assert "Penyedia terdaftar." in shown.text
    for text in (shown.text, client.get("/penyedia").text):
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; CV Jahil" in text
    # The same NPWP again: the ledger's refusal, in plain words, with the input kept.
    again = submit(client, "/penyedia/baru", "/penyedia", {**NEW_VENDOR, "key": "v-2"})
    assert again.status_code == 409 and "sudah tercatat sebelumnya" in again.text
    assert 'value="02.111.222.3-444.000"' in again.text
    bad = submit(client, "/penyedia/baru", "/penyedia",
                 {**NEW_VENDOR, "npwp": "123", "key": "v-3"})  # fmt: skip
    assert bad.status_code == 422 and "Isian tidak valid" in bad.text


def test_change_an_account_and_see_who_changed_it_when(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    page = f"/penyedia/{f.NPWP_DIGITS}"
    before = client.get(page)
    assert before.status_code == 200 and "0012345678" in before.text and "0 kali" in before.text
    change = {"key": "b-1", "bank_code": "009", "account_number": "5550001112",
              "account_holder": VENDOR_NAME, "reason": "surat permohonan 7/2026"}  # fmt: skip
    done = submit(client, page, f"{page}/rekening", change, follow_redirects=False)
    assert done.status_code == 303, done.text
    after = client.get(done.headers["location"])
    assert "Rekening bank diubah." in after.text and "1 kali, terakhir" in after.text
    assert "Rekening diubah" in after.text and "oleh bpkad.admin" in after.text
    assert "<code>0012345678</code>" in after.text and "<code>5550001112</code>" in after.text
    assert "surat permohonan 7/2026" in after.text and " WIB" in after.text
    # The same account again is the ledger's refusal, shown with the input kept.
    same = submit(client, page, f"{page}/rekening", {**change, "key": "b-2", "reason": "lagi"})
    assert same.status_code == 422 and "equals the current one" in same.text
    assert 'value="lagi"' in same.text
    # Deactivate, then reactivate, each with a reason in the history.
    off = submit(client, page, f"{page}/nonaktifkan", {"key": "s-1", "reason": "izin dicabut"},
                 follow_redirects=False)  # fmt: skip
    assert off.status_code == 303
    shown = client.get(page)
    assert "Dinonaktifkan" in shown.text and "izin dicabut" in shown.text
    assert "1 penyedia" in client.get("/penyedia?status=nonaktif").text
    on = submit(client, page, f"{page}/aktifkan", {"key": "s-2", "reason": "izin terbit lagi"},
                follow_redirects=False)  # fmt: skip
    assert on.status_code == 303


def test_refusals_of_the_vendor_pages(web: Web) -> None:
    client, config = web
    page = f"/penyedia/{f.NPWP_DIGITS}"
    change = {"key": "b-9", "bank_code": "009", "account_number": "5550001112",
              "account_holder": "Siapa Saja", "reason": "x"}  # fmt: skip
    sign_in(client, config, Role.BPKAD_ADMIN)
    assert client.post(f"{page}/rekening", data=change).status_code == 403  # no CSRF token
    assert client.post("/penyedia", data={**NEW_VENDOR, "key": "v-9"}).status_code == 403
    assert client.get("/penyedia/999").status_code == 404
    # Officials read the registry; only BPKAD registers and changes accounts.
    for role in (Role.PPTK, Role.KUASA_BUD, Role.AUDITOR):
        client.cookies.clear()
        sign_in(client, config, role)
        assert client.get("/penyedia").status_code == 200, role
        shown = client.get(page)
        assert shown.status_code == 200 and "/rekening" not in shown.text, role
        assert client.get("/penyedia/baru").status_code == 403, role
        token = csrf_of(shown.text)
        for action in (f"{page}/rekening", f"{page}/nonaktifkan", "/penyedia"):
            data = {"csrf": token, **change, **NEW_VENDOR}
            assert client.post(action, data=data).status_code == 403, (role, action)
    # A vendor has the portal: neither the registry nor a vendor's page, not even its own.
    client.cookies.clear()
    sign_in(client, config, Role.VENDOR)
    for path in ("/penyedia", page, f"/penyedia/{OTHER_NPWP}", "/penyedia/baru"):
        assert client.get(path).status_code == 403, path
    client.cookies.clear()
    sign_in(client, config, Role.BPKAD_ADMIN)
    assert "0 kali" in client.get(page).text  # nothing was changed
