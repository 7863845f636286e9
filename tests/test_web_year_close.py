"""The Tutup Tahun Anggaran page: the BPKAD admin previews (nothing recorded), chooses a carry-over
and confirms with the form (CSRF); the LRA then shows the year as Final; other roles are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.disbursement import Status
from ledger.roles import Role
from testkit.web import sign_in, submit, web_settings
from tests import factory as f
from tests.conftest import make_url
from tests.test_year_close import a_year

Web = tuple[TestClient, ApiSettings, Ledger]


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    url = make_url(str(request.param), tmp_path, request)
    ledger = Ledger(url)
    try:
        a_year(ledger)
        config = web_settings(url)
        with TestClient(create_app(config, ledger=ledger)) as client:
            yield client, config, ledger
    finally:
        ledger.close()


def test_preview_choose_a_carry_over_and_close(web: Web) -> None:
    client, config, ledger = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    head = ledger.recorder.max_notification_id()
    shown = client.get(f"/tutup-tahun?tahun={f.YEAR}")
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "Tutup Tahun Anggaran" in text and "Pratinjau" in text
    assert "Rp 510.000.000" in text  # the SiLPA
    assert "SPP-2" in text and "SPP-3" in text and "SPP-4" not in text  # SPP-4 has its SP2D
    assert ledger.recorder.max_notification_id() == head  # the preview recorded nothing
    carried = str(f.disbursement_id("SPP-3"))
    done = submit(
        client, f"/tutup-tahun?tahun={f.YEAR}", "/tutup-tahun",
        {"key": "close-1", "tahun": str(f.YEAR), "dokumen": "KEP-TUTUP-1", "bawa": carried,
         "silpa_skpd": f.SKPD},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, done.text
    assert ledger.budget(f.PEMDA, f.YEAR).closed
    assert ledger.disbursement(f.disbursement_id("SPP-3")).status == Status.LAPSED
    closed = client.get(done.headers["location"])
    assert "telah ditutup" in closed.text and "Final" in closed.text
    lra = client.get(f"/lra?tahun={f.YEAR}")
    assert re.search(r'class="badge badge-final">Final<', lra.text)
    history = client.get(f"/pembayaran/{f.disbursement_id('SPP-2')}")
    assert "Kedaluwarsa (tutup tahun)" in history.text


def test_a_refused_close_shows_why_and_records_nothing(web: Web) -> None:
    client, config, ledger = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    refused = submit(
        client, f"/tutup-tahun?tahun={f.YEAR}", "/tutup-tahun",
        {"key": "close-2", "tahun": str(f.YEAR), "dokumen": "KEP-TUTUP-1",
         "bawa": str(f.disbursement_id("SPP-4")), "silpa_skpd": f.SKPD},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "invalid_input" in refused.text
    assert not ledger.budget(f.PEMDA, f.YEAR).closed


def test_only_the_bpkad_admin_closes(web: Web) -> None:
    client, config, _ = web
    sign_in(client, config, Role.KUASA_BUD)
    assert client.get("/tutup-tahun").status_code == 403
    assert client.post("/tutup-tahun", data={"tahun": str(f.YEAR)}).status_code == 403
