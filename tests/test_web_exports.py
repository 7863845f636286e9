"""The downloads for other systems on the signed-in pages, over HTTP, on a real SQLite file and a
real PostgreSQL schema: the LRA page offers the SIPD file to BPKAD, the Kuasa BUD and the auditor
(and to no one else), ``/pajak`` shows the month's taxes withheld per vendor with the full NPWP
and offers the e-Bupot file; each file is byte for byte the API's; other roles get 403 and a
period that does not exist a sentence (422).

The world: the APBD, two vendors; SPP-1 (100 jt, PPh 23 2 jt) paid on 10 February."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.roles import Role
from testkit.api import build_world, expect, get, post
from testkit.web import sign_in
from testkit.web import web_settings as settings_for_pages
from testkit.world import NPWP, WIB, YEAR
from tests.conftest import make_url

EXPORTERS = (Role.BPKAD_ADMIN, Role.KUASA_BUD, Role.AUDITOR)
FEBRUARY = {"tahun": str(YEAR), "bulan": "2"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(YEAR, 1, 2, 9, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Site:
    client: TestClient
    config: ApiSettings

    def api_file(self, path: str, params: dict[str, Any]) -> bytes:
        answer = get(self.client, self.config, Role.AUDITOR, path,
                     params={**params, "freshness": "latest"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.content


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = make_url(str(request.param), tmp_path, request)
    config = settings_for_pages(url)
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            world = build_world(client, config)
            clock.now = datetime(YEAR, 2, 10, 9, 0, tzinfo=WIB)
            paid = world["disbursement_id"]
            for role, step, body in (
                (Role.PPK, "verify", None),
                (Role.PA_KPA, "approve", {"spm_number": "SPM-1"}),
                (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-1"}),
            ):
                expect(post(client, config, role, f"/disbursements/{paid}/{step}", body), 200)
            # The API's read, with everything written: the pages then read the same models.
            expect(get(client, config, Role.AUDITOR, "/queues",
                       params={"freshness": "latest"}), 200)  # fmt: skip
            yield Site(client, config)
    finally:
        app.state.read_models.close()
        ledger.close()


@pytest.mark.parametrize("role", EXPORTERS)
def test_the_lra_page_offers_the_sipd_file_and_it_is_the_apis(site: Site, role: Role) -> None:
    sign_in(site.client, site.config, role)
    page = site.client.get("/lra", params={"tahun": YEAR})
    assert page.status_code == 200
    assert f'id="unduh-sipd-csv" href="/lra/sipd.csv?tahun={YEAR}"' in page.text
    assert f'id="unduh-sipd-xlsx" href="/lra/sipd.xlsx?tahun={YEAR}"' in page.text
    answer = site.client.get("/lra/sipd.csv", params={"tahun": YEAR})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content == site.api_file("/exports/sipd-lra.csv", {"year": YEAR})
    assert "attachment" in answer.headers["content-disposition"]
    on_day = site.client.get("/lra/sipd.csv", params={"tahun": YEAR, "per": f"{YEAR}-02-09"})
    assert on_day.content == site.api_file(
        "/exports/sipd-lra.csv", {"year": YEAR, "as_of": f"{YEAR}-02-09"}
    )
    assert on_day.content != answer.content  # the SP2D of 10 February is not in it
    book = site.client.get("/lra/sipd.xlsx", params={"tahun": YEAR})
    assert load_workbook(io.BytesIO(book.content)).sheetnames == ["Realisasi", "Ringkasan"]


@pytest.mark.parametrize("role", EXPORTERS)
def test_the_tax_page_shows_the_month_and_offers_the_ebupot_file(site: Site, role: Role) -> None:
    sign_in(site.client, site.config, role)
    home = site.client.get("/")
    assert 'href="/pajak"' in home.text  # in the menu
    page = site.client.get("/pajak", params=FEBRUARY)
    assert page.status_code == 200, page.text
    assert f'data-kode="PPH23" data-npwp="{NPWP}"' in page.text  # the NPWP in full
    assert 'data-rupiah="2000000"' in page.text and "SP2D-1" in page.text
    assert "10 Mar 2026" in page.text  # due by the 10th of the next month
    assert f'href="/pajak/ebupot.csv?tahun={YEAR}&amp;bulan=2"' in page.text
    answer = site.client.get("/pajak/ebupot.csv", params=FEBRUARY)
    assert answer.status_code == 200
    assert answer.content == site.api_file("/exports/ebupot.csv", {"year": YEAR, "month": 2})
    book = site.client.get("/pajak/ebupot.xlsx", params=FEBRUARY)
    assert load_workbook(io.BytesIO(book.content)).sheetnames[1] == "42152223"
    empty = site.client.get("/pajak", params={"tahun": str(YEAR), "bulan": "1"})
    assert empty.status_code == 200 and "Belum ada potongan pajak" in empty.text
    assert site.client.get("/pajak").status_code == 200  # the month before today


@pytest.mark.parametrize("role", [r for r in Role if r not in EXPORTERS and r is not Role.GATEWAY])
def test_other_roles_get_neither_button_nor_file(site: Site, role: Role) -> None:
    sign_in(site.client, site.config, role)
    lra = site.client.get("/lra", params={"tahun": YEAR})
    assert "unduh-sipd" not in lra.text
    for path, params in (("/lra/sipd.csv", {"tahun": str(YEAR)}), ("/pajak", FEBRUARY),
                         ("/pajak/ebupot.xlsx", FEBRUARY)):  # fmt: skip
        answer = site.client.get(path, params=params)
        assert answer.status_code == 403, (role, path)
        assert NPWP not in answer.text


@pytest.mark.parametrize(
    ("path", "params", "status", "said"),
    [
        ("/pajak", {"tahun": str(YEAR), "bulan": "13"}, 422, "Masa pajak (bulan) tidak valid"),
        ("/pajak", {"tahun": "20x6", "bulan": "1"}, 422, "Tahun pajak tidak valid"),
        ("/pajak/ebupot.csv", {"tahun": str(YEAR), "bulan": "0"}, 422, "tidak valid"),
        ("/pajak/ebupot.pdf", FEBRUARY, 404, "csv atau xlsx"),
        ("/lra/sipd.csv", {"tahun": str(YEAR), "per": "2099-01-01"}, 422, "belum tiba"),
        ("/lra/sipd.csv", {"tahun": str(YEAR), "per": "31-02-2026"}, 422, "Tanggal tidak valid"),
        ("/lra/sipd.csv", {"tahun": str(YEAR + 3)}, 404, f"APBD {YEAR + 3} belum tercatat"),
    ],
)
def test_a_period_that_does_not_exist_is_refused(
    site: Site, path: str, params: dict[str, str], status: int, said: str
) -> None:
    sign_in(site.client, site.config, Role.BPKAD_ADMIN)
    answer = site.client.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert said in answer.text


def test_the_default_month_is_the_one_before_today() -> None:
    from web.pages.exports import period_of

    january = period_of(None, None, date(YEAR, 1, 15))
    assert (january.year, january.month, january.problem) == (YEAR - 1, 12, None)
    assert (
        period_of("", "", date(YEAR, 7, 1)).month,
        period_of("2025", "3", date(YEAR, 7, 1)).year,
    ) == (6, 2025)
