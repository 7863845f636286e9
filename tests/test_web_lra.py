"""The LRA pages over HTTP, on a real SQLite file and a real PostgreSQL schema: the dashboard's
figures are the API's LRA report for the same data (integer rupiah, compared with the API called
with a bearer token), an SKPD official sees its own SKPD only, the report as of a day before a
payment's SP2D shows it unrealised, every drill-down level sums to its parent's row, and a day
still to come or before the fiscal year is refused with a plain sentence.

The ledger's clock is set by the test: the APBD (Dinas Pendidikan, then Dinas Kesehatan by APBD-P)
and three requests on 2 January; SPP-1 (Dinas Pendidikan, 100 jt) through SP2D and an income of
25 jt on 10 February; the Dinas Kesehatan payment through SP2D on 5 March."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.roles import Role
from testkit.api import build_world, expect, get, line, post, request_body
from testkit.web import sign_in
from testkit.web import web_settings as settings_for_pages
from testkit.world import INCOME, MEDIA, OTHER_SKPD, SKPD, WIB, YEAR
from tests.conftest import make_url
from web import format as fmt
from web.pages.lra import month_end

DINKES_LINE = {"skpd": OTHER_SKPD, "sub_kegiatan": "1.02.02.2.01.0004", "rekening": MEDIA}
SP2D_DAY = date(YEAR, 2, 10)


class Clock:
    """The ledger's clock: one second per reading, from 09:00 WIB of a day the test chooses."""

    def __init__(self) -> None:
        self.now = datetime(YEAR, 1, 2, 9, 0, tzinfo=WIB)

    def to(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Site:
    client: TestClient
    config: ApiSettings
    clock: Clock

    def api(self, role: Role, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """The API's LRA report, read with a bearer token, everything recorded included."""
        asked = {"year": YEAR, "limit": 500, "freshness": "latest", **params}
        return expect(get(self.client, self.config, role, "/lra", params=asked, **kw), 200)

    def post(self, role: Role, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
        return expect(post(self.client, self.config, role, path, body, **kw), 200)

    def pay(self, disbursement_id: str, n: int, skpd: str = SKPD) -> None:
        """Through SP2D (the realisation) and the transfer."""
        for role, step, body in (
            (Role.PPK, "verify", None),
            (Role.PA_KPA, "approve", {"spm_number": f"SPM-{n}"}),
            (Role.KUASA_BUD, "authorise", {"sp2d_number": f"SP2D-{n}"}),
            (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": f"IRIS-{n}"}),
            (Role.GATEWAY, "transfer/settled", {"bank_reference": f"BANK-{n}"}),
        ):
            self.post(role, f"/disbursements/{disbursement_id}/{step}", body, skpd=skpd)


def build_year(site: Site) -> None:
    client, config = site.client, site.config
    world = build_world(client, config)
    amended = {
        "document": "PERDA-P-DINKES",
        "lines": [{**DINKES_LINE, "uraian": "Belanja Jasa Iklan", "pagu": 500_000_000}],
    }
    site.post(Role.BPKAD_ADMIN, f"/budgets/{YEAR}/amendments", amended)
    body = {**request_body("SPP-DINKES-1", gross=40_000_000), "line": DINKES_LINE}
    dinkes = expect(post(client, config, Role.PPTK, "/disbursements", body, skpd=OTHER_SKPD), 201)
    site.clock.to(SP2D_DAY)
    site.pay(world["disbursement_id"], 1)
    income = {"year": YEAR, "line": line(INCOME), "channel": "teller", "reference": "T-1",
              "payer": "Hotel Savoy Homann", "gross": 25_000_000}  # fmt: skip
    expect(post(client, config, Role.GATEWAY, "/revenues", income), 201)
    site.clock.to(date(YEAR, 3, 5))
    site.pay(dinkes["id"], 2, skpd=OTHER_SKPD)


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = make_url(str(request.param), tmp_path, request)
    config = settings_for_pages(url)
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            built = Site(client, config, clock)
            build_year(built)
            yield built
    finally:
        app.state.read_models.close()
        ledger.close()


# -- reading the pages' tables ---------------------------------------------------------------------
@dataclass
class Row:
    attrs: dict[str, str]
    cells: dict[str, int] = field(default_factory=dict)  # data-kolom -> data-rupiah
    texts: dict[str, str] = field(default_factory=dict)  # data-kolom -> the text shown
    links: list[str] = field(default_factory=list)


class Tables(HTMLParser):
    """The rows of every table with an id: their attributes, money cells and links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[Row]] = defaultdict(list)
        self._table: str | None = None
        self._row: Row | None = None
        self._cell: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "id" in a:
            self._table = a["id"]
        elif tag == "tr" and self._table is not None:
            self._row = Row(a)
            self.tables[self._table].append(self._row)
        elif tag == "td" and self._row is not None and "data-kolom" in a:
            self._cell = a["data-kolom"]
            if "data-rupiah" in a:
                self._row.cells[self._cell] = int(a["data-rupiah"])
            self._row.texts[self._cell] = ""
        elif tag == "a" and self._row is not None:
            self._row.links.append(a["href"])

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._cell is not None:
            self._row.texts[self._cell] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "table":
            self._table = self._row = None


def shown(client: TestClient, path: str, status: int = 200) -> dict[str, list[Row]]:
    answer = client.get(path)
    assert answer.status_code == status, answer.text
    tables = Tables(answer.text).tables
    for rows in tables.values():
        for row in rows:
            for kolom, amount in row.cells.items():  # the number shown is the number carried
                assert row.texts[kolom] == fmt.rupiah(amount), (kolom, row.texts[kolom])
    return tables


def figures(row: Row) -> tuple[int, int]:
    return row.cells["anggaran"], row.cells["realisasi"]


def api_rows(body: dict[str, Any], side: str | None = None) -> dict[str, tuple[int, int]]:
    return {
        r["kode"]: (r["anggaran"], r["realisasi"])
        for r in body["rows"]["items"]
        if side is None or r["side"] == side
    }


# -- the tests -------------------------------------------------------------------------------------
def test_the_dashboard_shows_the_apis_figures(site: Site) -> None:
    client = site.client
    sign_in(client, site.config, Role.AUDITOR)
    for side in ("belanja", "pendapatan"):
        tables = shown(client, f"/lra?sisi={side}")
        per_skpd = {r.attrs["data-kode"]: figures(r) for r in tables["tabel-skpd"][1:]}
        api = site.api(Role.AUDITOR, {"level": "skpd"})
        assert per_skpd == api_rows(api, side)
        assert per_skpd  # both SKPDs spend; Dinas Pendidikan has income too
        # The summary is the API's totals.
        totals = api["totals"]
        summary = {r.attrs["data-jumlah"]: figures(r) for r in tables["tabel-ringkasan"][1:]}
        assert summary["JUMLAH BELANJA"] == (
            totals["belanja_anggaran"],
            totals["belanja_realisasi"],
        )
        assert summary["JUMLAH PENDAPATAN"] == (
            totals["pendapatan_anggaran"],
            totals["pendapatan_realisasi"],
        )
        # Each month's cumulative figures are the API's report as of that month's last day.
        months = tables["tabel-bulan"][1:]
        assert [int(r.attrs["data-month"]) for r in months] == [1, 2, 3]
        for row in months:
            end = month_end(YEAR, int(row.attrs["data-month"]))
            then = site.api(Role.AUDITOR, {"level": "skpd", "as_of": end.isoformat()})["totals"]
            assert figures(row) == (then[f"{side}_anggaran"], then[f"{side}_realisasi"])
    # The month's own realisation: SPP-1 in February, the Dinas Kesehatan payment in March.
    months = shown(client, "/lra")["tabel-bulan"][1:]
    assert [r.cells["realisasi_bulan"] for r in months] == [0, 100_000_000, 40_000_000]


def test_the_charts_carry_the_tables_numbers_and_no_style(site: Site) -> None:
    sign_in(site.client, site.config, Role.BPKAD_ADMIN)
    html = site.client.get("/lra").text
    assert html.count('role="img"') == 2 and "<title id=" in html and "<desc id=" in html
    assert "style=" not in html and "<script>" not in html
    tables = Tables(html).tables
    for chart, table in (("grafik-skpd", "tabel-skpd"), ("grafik-bulan", "tabel-bulan")):
        start = html.index(f'id="{chart}"')
        svg = html[start : html.index("</svg>", start)]
        drawn = [int(v) for v in re.findall(r'class="bar bar-\w+"[^>]*data-rupiah="(\d+)"', svg)]
        assert drawn == [v for r in tables[table][1:] for v in figures(r)], chart
        assert drawn


def test_an_skpd_official_sees_only_its_own_skpd(site: Site) -> None:
    client = site.client
    sign_in(client, site.config, Role.PPK)  # an official of Dinas Pendidikan
    tables = shown(client, "/lra")
    assert [r.attrs["data-kode"] for r in tables["tabel-skpd"][1:]] == [SKPD]
    scoped = site.api(Role.PPK, {"level": "skpd"})  # the API scopes the same official the same way
    summary = {r.attrs["data-jumlah"]: figures(r) for r in tables["tabel-ringkasan"][1:]}
    totals = scoped["totals"]
    assert summary["JUMLAH BELANJA"] == (totals["belanja_anggaran"], totals["belanja_realisasi"])
    assert [r.cells["realisasi_bulan"] for r in tables["tabel-bulan"][1:]] == [0, 100_000_000]
    report = client.get("/lra/laporan?tingkat=rekening")
    assert OTHER_SKPD not in report.text and "Rp 500.000.000" not in report.text
    # Another SKPD named in the address: refused as the API refuses it.
    refused = client.get(f"/lra/laporan?skpd={OTHER_SKPD}&tingkat=program")
    assert refused.status_code == 403 and "Data ini milik SKPD lain." in refused.text
    api = get(client, site.config, Role.PPK, "/lra", params={"year": YEAR, "skpd": OTHER_SKPD})
    assert api.status_code == 403 and api.json()["rule"] == "skpd_scope"
    # Another SKPD's programme without naming the SKPD: the official's own lines only (none).
    theirs = client.get("/lra/laporan?program=1.02.02&tingkat=kegiatan")
    assert theirs.status_code == 200 and "Belum ada data" in theirs.text
    assert "40.000.000" not in theirs.text


@pytest.mark.parametrize("role", [Role.VENDOR])
def test_roles_that_may_not_read_the_books_are_refused(site: Site, role: Role) -> None:
    assert site.client.get("/lra", follow_redirects=False).status_code == 303  # sign in first
    sign_in(site.client, site.config, role)
    for path in ("/lra", "/lra/laporan", f"/lra/laporan?skpd={SKPD}&tingkat=rekening"):
        answer = site.client.get(path)
        assert answer.status_code == 403 and "Anda tidak berwenang" in answer.text, path
        assert "Rp" not in answer.text
    assert get(site.client, site.config, role, "/lra", params={"year": YEAR}).status_code == 403


def test_as_of_a_day_before_the_sp2d_the_payment_is_unrealised(site: Site) -> None:
    sign_in(site.client, site.config, Role.AUDITOR)
    base = f"/lra/laporan?skpd={SKPD}&tingkat=rekening&tahun={YEAR}"
    for day, realised in ((SP2D_DAY - timedelta(days=1), 0), (SP2D_DAY, 100_000_000)):
        rows = shown(site.client, f"{base}&per={day.isoformat()}")["tabel-lra"]
        media = next(r for r in rows if r.attrs.get("data-kode") == MEDIA)
        assert media.cells["realisasi"] == realised
        api = site.api(Role.AUDITOR, {"level": "rekening", "skpd": SKPD, "as_of": day.isoformat()})
        assert {r.attrs["data-kode"]: figures(r) for r in rows if "data-kode" in r.attrs} == (
            api_rows(api)
        )
    now = shown(site.client, base)["tabel-lra"]
    assert next(r for r in now if r.attrs.get("data-kode") == MEDIA).cells["realisasi"] == (
        100_000_000
    )


def _children(client: TestClient, link: str) -> list[Row]:
    return [r for r in shown(client, link.replace("&amp;", "&"))["tabel-lra"] if r.cells]


def test_every_drill_down_level_sums_to_its_parents_row(site: Site) -> None:
    sign_in(site.client, site.config, Role.KUASA_BUD)
    levels = ["program", "kegiatan", "subkegiatan", "rekening"]
    per = f"&per={date(YEAR, 3, 31).isoformat()}"
    top = [
        r
        for r in _children(site.client, f"/lra/laporan?tingkat=skpd{per}")
        if "data-kode" in r.attrs
    ]
    assert {r.attrs["data-kode"] for r in top} == {SKPD, OTHER_SKPD}
    walked = 0
    frontier = top
    for level in levels:
        following: list[Row] = []
        for parent in frontier:
            [target] = parent.links
            assert f"tingkat={level}" in target and "per=2026-03-31" in target
            rows = [r for r in _children(site.client, target) if "data-kode" in r.attrs]
            mine = [r for r in rows if r.attrs["data-side"] == parent.attrs["data-side"]]
            for kolom in ("anggaran", "realisasi", "lebih_kurang"):
                assert sum(r.cells[kolom] for r in mine) == parent.cells[kolom], (level, kolom)
            following += mine
            walked += 1
        frontier = following
    assert walked >= 8 and all(not r.links for r in frontier)  # rekening: the last level
    assert {r.attrs["data-kode"] for r in frontier} >= {MEDIA, INCOME}


def test_a_day_to_come_or_before_the_year_is_refused_plainly(site: Site) -> None:
    sign_in(site.client, site.config, Role.AUDITOR)
    tomorrow = (datetime.now(WIB) + timedelta(days=1)).date()
    cases = {
        f"per={tomorrow.isoformat()}": "belum tiba",
        f"per={YEAR - 1}-12-31": f"sebelum tahun anggaran {YEAR}",
        "per=31-12-2026": "Tanggal tidak valid",
        "tahun=dua&per=": "Tahun anggaran tidak valid",
        "tingkat=walikota": "Tingkat tidak dikenal",
    }
    for query, message in cases.items():
        for path in ("/lra", "/lra/laporan"):
            if "tingkat" in query and path == "/lra":
                continue
            answer = site.client.get(f"{path}?{query}")
            assert answer.status_code == 422, (path, query)
            assert message in answer.text and "Isian tidak valid." in answer.text
            assert "data-rupiah" not in answer.text and 'role="img"' not in answer.text
            if query.startswith("per="):  # the day as typed stays in the form
                assert f'value="{query.removeprefix("per=")}"' in answer.text
