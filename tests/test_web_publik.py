"""The public transparency portal (``/publik``, web/pages/publik.py) over HTTP, signed out, on a real
SQLite file and a real PostgreSQL schema: only final payments (SP2D authorised or paid) appear, never
an account number, an NPWP or a person's full name; the figures are the budget's and the SP2D's;
search, filters and pages; ETag and 304, computed once per log position; a bad address is a 4xx
page in Indonesian; the signed checkpoint and how to verify.

The year: an APBD of two lines of Dinas Pendidikan and an income line; a media company and a person
(``Budi Santoso Wijaya``) registered with their accounts; SPP-1 (media) paid, SPP-2 (the person)
with its SP2D authorised, SPP-3 requested, SPP-4 verified, SPP-5 approved (SPM), SPP-6 rejected.
Only SPP-1 and SPP-2 are public."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from kasda import cli
from ledger import commands as c
from ledger.application import Ledger
from ledger.roles import Role
from ledger.verify import checkpoint, new_signing_key, newest_checkpoint, signing_key
from projections import public
from projections.db import ReadDatabase
from projections.public import MASK
from projections.runner import Projector
from testkit.api import adopt_body, expect, post
from testkit.clock import FixedClock
from testkit.web import sign_in
from testkit.web import web_settings as settings_for_pages
from testkit.world import INCOME, OTHER_NPWP, OTHER_PEMDA, OTHER_SKPD, USERS
from tests import factory as f
from tests.conftest import make_url
from web import format as fmt
from web.pages import publik


@pytest.fixture(autouse=True)
def views_follow_every_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests look at each write at once: a view does not settle (``publik.SETTLE``), except
    in the test of settling itself, which gives its own."""
    monkeypatch.setattr(publik, "SETTLE", 0.0)


PERSON = "Budi Santoso Wijaya"
PERSON_ACCOUNT = "9988776655"
MEDIA_ACCOUNT = "0012345678"
SECRET_IN_PURPOSE = "3273012345678901"  # a NIK typed into the purpose of SPP-1
INCOME_LINE = c.LineSpec(skpd=f.SKPD, sub_kegiatan=None, rekening=INCOME, uraian="Pajak Hotel",
                         pagu=300_000_000)  # fmt: skip
PUBLIC_SPP = ("SPP-1", "SPP-2")
PRIVATE_SPP = ("SPP-3", "SPP-4", "SPP-5", "SPP-6")
IDS = {spp: str(f.disbursement_id(spp)) for spp in PUBLIC_SPP + PRIVATE_SPP}


@dataclass
class Site:
    client: TestClient
    config: ApiSettings
    ledger: Ledger

    def catch_up(self) -> int:
        """The read models up to the log's head (the portal reads them as they are)."""
        return int(self.client.app.state.read_models.catch_up())  # type: ignore[attr-defined]

    def get(self, path: str, **kw: Any) -> str:
        answer: httpx.Response = self.client.get(path, **kw)
        assert answer.status_code == 200, answer.text
        return answer.text


def build_year(ledger: Ledger) -> None:
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, INCOME_LINE)
    f.register_vendor(ledger, account=MEDIA_ACCOUNT)
    f.register_vendor(ledger, npwp=OTHER_NPWP, name=PERSON, kind="individual",
                      account=PERSON_ACCOUNT)  # fmt: skip
    first = dataclasses.replace(
        f.request("SPP-1", 100_000_000),
        description=f"Iklan layanan masyarakat, NIK {SECRET_IN_PURPOSE}, rek {MEDIA_ACCOUNT}",
    )
    for command in (first, f.verify("SPP-1"), f.approve("SPP-1"), f.authorise("SPP-1"),
                    f.send("SPP-1"), f.settle("SPP-1")):  # fmt: skip
        ledger.execute(command)
    ledger.execute(f.request("SPP-2", 7_500_000, f.GOODS_LINE, npwp=OTHER_NPWP, deductions=()))
    for command in (f.verify("SPP-2"), f.approve("SPP-2"), f.authorise("SPP-2")):
        ledger.execute(command)
    for n in range(3, 7):
        ledger.execute(f.request(f"SPP-{n}", 1_000_000 * n, f.GOODS_LINE))
    ledger.execute(f.verify("SPP-4"))
    ledger.execute(f.verify("SPP-5"))
    ledger.execute(f.approve("SPP-5"))
    ledger.execute(f.reject("SPP-6", f.PPK))


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    url = make_url(str(request.param), tmp_path, request)
    config = settings_for_pages(url)
    ledger = Ledger(url, clock=FixedClock())
    build_year(ledger)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            built = Site(client, config, ledger)
            built.catch_up()
            yield built
    finally:
        app.state.read_models.close()
        ledger.close()


def shown_ids(html: str) -> set[str]:
    return set(re.findall(r'<tr data-id="([^"]+)"', html))


def rupiah_of(html: str, element_id: str) -> int:
    found = re.search(rf'data-rupiah="(-?\d+)" id="{element_id}"', html)
    assert found is not None, f"no {element_id} on the page"
    return int(found.group(1))


# -- what is shown ---------------------------------------------------------------------------------
def test_only_final_payments_are_public(site: Site) -> None:
    html = site.get("/publik/pembayaran")
    assert shown_ids(html) == {IDS["SPP-1"], IDS["SPP-2"]}
    assert 'data-total="2"' in html
    assert rupiah_of(html, "jumlah-hasil") == 107_500_000
    assert "SP2D/SPP-1" in html and "SP2D/SPP-2" in html
    for spp in PRIVATE_SPP:
        assert spp not in html
        answer = site.client.get(f"/publik/pembayaran/{IDS[spp]}")
        assert answer.status_code == 404, spp
        assert "belum final" in answer.text
    one = site.get(f"/publik/pembayaran/{IDS['SPP-1']}")
    assert "SP2D/SPP-1" in one and 'data-rupiah="100000000"' in one and "Dibayar" in one


def test_the_headline_figures_are_the_budget_and_the_sp2d(site: Site) -> None:
    html = site.get("/publik")
    pagu = f.MEDIA_LINE.pagu + f.GOODS_LINE.pagu
    assert f'data-kolom="belanja_anggaran" data-rupiah="{pagu}"' in html
    assert 'data-kolom="belanja_realisasi" data-rupiah="107500000"' in html
    assert f'data-kolom="pendapatan_anggaran" data-rupiah="{INCOME_LINE.pagu}"' in html
    assert "Rp 1.500.000.000" in html  # Rupiah as people write them
    assert 'id="grafik-publik-skpd"' in html and 'id="grafik-publik-bulan"' in html
    assert 'id="tabel-skpd"' in html and 'id="tabel-bulan"' in html
    assert "style=" not in html and "<script>" not in html  # the pages' CSP holds


def test_every_page_says_its_log_position_and_links_to_verification(site: Site) -> None:
    position = site.catch_up()
    for path in ("/publik", "/publik/pembayaran", f"/publik/pembayaran/{IDS['SPP-2']}",
                 "/publik/verifikasi"):  # fmt: skip
        html = site.get(path)
        assert f'data-position="{position}"' in html, path
        assert 'href="/publik/verifikasi?pemda=32.73&amp;tahun=2026"' in html, path
        assert "WIB" in html, path


def test_no_private_data_on_any_public_page(site: Site) -> None:
    pages = [
        "/publik",
        "/publik/pembayaran",
        "/publik/pembayaran?jenis=individual",
        "/publik/pembayaran?cari=iklan",
        *(f"/publik/pembayaran/{IDS[spp]}" for spp in PUBLIC_SPP),
        "/publik/verifikasi",
    ]
    html = "".join(site.get(path) for path in pages)
    forbidden = [MEDIA_ACCOUNT, PERSON_ACCOUNT, f.NPWP_DIGITS, f.NPWP, OTHER_NPWP, PERSON,
                 "Santoso", "Wijaya", SECRET_IN_PURPOSE]  # fmt: skip
    for secret in forbidden:
        assert secret not in html, secret
    assert "B. S. W." in html  # the person, by initials
    assert MASK in html  # the NIK and the account typed into the purpose, masked


# -- search, filters, pages ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"cari": "IKLAN layanan"}, {"SPP-1"}),
        ({"cari": "b. s. w."}, {"SPP-2"}),
        ({"cari": "SP2D/SPP-2"}, {"SPP-2"}),
        ({"cari": "tidak ada"}, set()),
        ({"jenis": "individual"}, {"SPP-2"}),
        ({"jenis": "media"}, {"SPP-1"}),
        ({"status": "dibayar"}, {"SPP-1"}),
        ({"status": "sp2d_terbit"}, {"SPP-2"}),
        ({"skpd": f.SKPD}, {"SPP-1", "SPP-2"}),
        ({"skpd": OTHER_SKPD}, set()),
        ({"bulan": "1"}, {"SPP-1", "SPP-2"}),  # the factory's clock stands in January
        ({"bulan": "2"}, set()),
    ],
)
def test_search_and_filters(site: Site, query: dict[str, str], expected: set[str]) -> None:
    html = site.get("/publik/pembayaran", params=query)
    assert shown_ids(html) == {IDS[spp] for spp in expected}
    assert f'data-total="{len(expected)}"' in html
    amounts = {"SPP-1": 100_000_000, "SPP-2": 7_500_000}
    assert rupiah_of(html, "jumlah-hasil") == sum(amounts[spp] for spp in expected)


def test_pages_of_results(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publik, "PAGE_SIZE", 1)
    first = site.get("/publik/pembayaran", params={"cari": "sp2d/spp"})
    assert shown_ids(first) == {IDS["SPP-2"]}  # the newest SP2D first
    assert 'data-total="2"' in first and rupiah_of(first, "jumlah-hasil") == 107_500_000
    following = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert following is not None and "halaman=2" in following.group(1)
    second = site.get(following.group(1).replace("&amp;", "&"))
    assert shown_ids(second) == {IDS["SPP-1"]}
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert "cari=sp2d%2Fspp" in second  # the search is kept from page to page
    assert shown_ids(site.get("/publik/pembayaran?halaman=3")) == set()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/publik?tahun=abc", 422),
        ("/publik?tahun=1999", 422),
        ("/publik?tahun=2031", 404),
        ("/publik?pemda=99.99", 404),
        ("/publik?pemda=" + "9" * 300, 404),
        ("/publik/pembayaran?bulan=13", 422),
        ("/publik/pembayaran?bulan=x", 422),
        ("/publik/pembayaran?cari=" + "x" * 101, 422),
        ("/publik/pembayaran?jenis=bank", 422),
        ("/publik/pembayaran?status=requested", 422),
        ("/publik/pembayaran?skpd=abc", 422),
        ("/publik/pembayaran?skpd=1.2.3", 422),
        ("/publik/pembayaran?halaman=0", 422),
        ("/publik/pembayaran?halaman=-1", 422),
        ("/publik/pembayaran/tidak-ada", 404),
        ("/publik/verifikasi?tahun=20x6", 422),
        ("/publik?tahun=%C2%B2", 422),  # a superscript two: a digit to str.isdigit, not to int
        ("/publik/pembayaran?bulan=%D9%A2", 422),  # an Arabic-Indic two
        ("/publik/pembayaran?halaman=%EF%BC%92", 422),  # a full-width two
    ],
)
def test_a_bad_address_is_a_4xx_page_in_indonesian(site: Site, path: str, status: int) -> None:
    answer = site.client.get(path)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "etag" not in answer.headers
    assert "Kembali ke portal publik" in answer.text
    assert any(word in answer.text for word in ("tidak valid", "tidak ada", "harus", "belum",
                                                 "paling panjang", "tidak dikenal"))  # fmt: skip
    assert not any(word in answer.text for word in (" must ", " code ", " not a "))  # English


# -- caching ---------------------------------------------------------------------------------------
def test_etag_and_304_follow_the_log_position(site: Site) -> None:
    first = site.client.get("/publik/pembayaran")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=30"
    assert tag.startswith(f'"{site.catch_up()}-')
    again = site.client.get("/publik/pembayaran", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    weak = site.client.get("/publik/pembayaran", headers={"If-None-Match": f'"x", W/{tag}'})
    assert weak.status_code == 304
    other = site.client.get("/publik/pembayaran?status=dibayar", headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag
    # SPP-5's SP2D: a new public fact, a new position, a new page.
    site.ledger.execute(f.authorise("SPP-5"))
    site.catch_up()
    moved = site.client.get("/publik/pembayaran", headers={"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["etag"] != tag
    assert IDS["SPP-5"] in shown_ids(moved.text)
    # Only the portal's own paths may be cached: another page (here a 404) stays no-store.
    assert site.client.get("/publikasi").headers["cache-control"] == "no-store"


def test_a_year_is_computed_once_per_log_position(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[str, int]] = []
    original = publik.year_view

    def counted(db: object, pemda: str, year: int) -> object:
        made.append((pemda, year))
        return original(db, pemda, year)  # type: ignore[arg-type]

    monkeypatch.setattr(publik, "year_view", counted)
    for path in ("/publik", "/publik/pembayaran", "/publik/pembayaran?cari=x", "/publik"):
        site.get(path)
    assert made == [(f.PEMDA, f.YEAR)]
    site.ledger.execute(f.authorise("SPP-5"))
    site.catch_up()
    site.get("/publik")
    site.get("/publik/pembayaran")
    assert made == [(f.PEMDA, f.YEAR)] * 2


def test_while_the_log_moves_a_view_is_made_again_at_most_once_a_settle() -> None:
    now = [100.0]
    views = publik.Views(settle=5.0, clock=lambda: now[0])
    assert views.get("a", 1, lambda: ("A1", 1)) == "A1"
    now[0] += 4.9  # the log moved twice within the settle: the kept view (at 1) serves
    assert views.get("a", 2, lambda: ("A2", 2)) == "A1"
    assert views.get("a", 3, lambda: ("A3", 3)) == "A1"
    now[0] += 0.2  # settled: made again at the newest position, and kept from now
    assert views.get("a", 3, lambda: ("A3", 3)) == "A3"
    assert views.get("a", 4, lambda: ("A4", 4)) == "A3"


def test_the_kept_views_are_bounded_least_recently_used_first() -> None:
    views = publik.Views(size=2)
    assert views.get("a", 1, lambda: ("A1", 1)) == "A1"
    assert views.get("a", 1, lambda: ("again", 1)) == "A1"  # kept at its position
    assert views.get("a", 2, lambda: ("A2", 2)) == "A2"  # the log moved: made again
    assert views.get("a", 1, lambda: ("old", 1)) == "A2"  # what is kept is newer: it serves
    views.get("b", 1, lambda: ("B1", 1))
    views.get("a", 2, lambda: ("again", 2))  # a is the most recent; c will drop b
    views.get("c", 1, lambda: ("C1", 1))
    assert len(views) == 2
    assert views.get("b", 1, lambda: ("B again", 1)) == "B again"
    # Read at two positions (a projector committed between the reads): given, not kept.
    assert views.get("d", 3, lambda: ("D", -1)) == "D"
    assert views.get("d", 3, lambda: ("D again", 3)) == "D again"


def test_one_request_makes_a_view_while_the_others_get_the_kept_one() -> None:
    views = publik.Views()
    views.get("a", 1, lambda: ("A1", 1))
    started, release = threading.Event(), threading.Event()
    made: list[str] = []

    def slow() -> tuple[str, int]:
        made.append("A2")
        started.set()
        assert release.wait(10)
        return "A2", 2

    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(views.get, "a", 2, slow)
        assert started.wait(10)
        # While A2 is made, another request at position 2 gets A1 (it says its own position).
        assert views.get("a", 2, lambda: ("not made twice", 2)) == "A1"
        # With nothing kept yet, a second request for a new key waits for the first one.
        started_b, release_b = threading.Event(), threading.Event()

        def slow_b() -> tuple[str, int]:
            started_b.set()
            assert release_b.wait(10)
            return "B1", 1

        b_first = pool.submit(views.get, "b", 1, slow_b)
        assert started_b.wait(10)
        b_second = pool.submit(views.get, "b", 1, lambda: ("B made twice", 1))
        release_b.set()
        assert b_first.result(10) == "B1" and b_second.result(10) == "B1"
        release.set()
        assert first.result(10) == "A2"
    assert views.get("a", 2, lambda: ("again", 2)) == "A2" and made == ["A2"]


def test_a_signed_in_official_gets_the_same_public_page(site: Site) -> None:
    signed_out = site.client.get("/publik/pembayaran")
    sign_in(site.client, site.config, Role.PPTK)
    signed_in = site.client.get("/publik/pembayaran")
    assert signed_in.text == signed_out.text  # nothing of the user: a shared cache may keep it
    assert USERS[Role.PPTK] not in signed_in.text and "Keluar" not in signed_in.text
    home = site.get("/beranda")
    assert 'href="/publik"' in home  # "Portal publik" in the menu


def test_the_sign_in_page_links_to_the_portal(site: Site) -> None:
    assert '<a href="/publik">Portal publik</a>' in site.get("/masuk")


# -- verification ----------------------------------------------------------------------------------
def test_the_verification_page_shows_the_newest_signed_checkpoint(site: Site) -> None:
    site.client.app.state.kasda_public_checkpoints = publik.Checkpoints(ttl=0.0)  # type: ignore[attr-defined]
    before = site.client.get("/publik/verifikasi")
    assert 'id="checkpoint-kosong"' in before.text
    assert site.client.get("/publik/verifikasi/checkpoint.json").status_code == 404
    seed, public_key = new_signing_key()
    key = signing_key(seed)
    older = checkpoint(site.ledger, key)
    # A checkpoint adds no event (the position stays), yet the page changed: a new ETag.
    assert site.catch_up() == older.position
    signed_now = site.client.get(
        "/publik/verifikasi", headers={"If-None-Match": before.headers["etag"]}
    )
    assert signed_now.status_code == 200 and f"{older.chain_hash}" in signed_now.text
    site.ledger.execute(f.authorise("SPP-5"))
    newer = checkpoint(site.ledger, key)
    site.catch_up()
    html = site.get("/publik/verifikasi")
    assert f"{newer.position:,}".replace(",", ".") in html
    assert newer.chain_hash in html and older.chain_hash not in html and public_key in html
    assert "sah untuk kunci di atas" in html and "kasda verify --export" in html
    download = site.client.get("/publik/verifikasi/checkpoint.json")
    assert download.status_code == 200
    assert download.json()["position"] == newer.position
    assert download.json()["chain_hash"] == newer.chain_hash


def test_the_newest_checkpoint_is_read_without_making_a_table(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        f.adopt(ledger)
        assert newest_checkpoint(ledger) is None
        with ledger.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE '%checkpoints'")
            assert cursor.fetchall() == []
        key = signing_key(new_signing_key()[0])
        older = checkpoint(ledger, key)
        f.register_vendor(ledger)
        newer = checkpoint(ledger, key)
        assert newer.position > older.position
        assert newest_checkpoint(ledger) == newer
    finally:
        ledger.close()


# -- the year the portal opens on, and when its facts last changed ---------------------------------
class Clock:
    """The ledger's clock: one second per reading, from 09:00 WIB of a day the test chooses."""

    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 1, 2, 9, 0, tzinfo=fmt.WIB)

    def to(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=fmt.WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_the_latest_year_with_payments_and_the_last_public_change(tmp_path: Path) -> None:
    clock = Clock()
    ledger = Ledger(f"sqlite:///{tmp_path / 'k.db'}", clock=clock)
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        clock.to(date(f.YEAR, 2, 10))
        f.pay_in_full(ledger, "SPP-1")
        clock.to(date(f.YEAR, 3, 5))
        ledger.execute(
            f.request("SPP-2", 1_000_000, deductions=())
        )  # not public: no change to the public
        ledger.execute(
            c.AdoptBudget(idempotency_key=f.key("adopt"), actor=f.ADMIN, pemda=f.PEMDA,
                          year=f.YEAR + 1, document="PERDA-2027", lines=(f.MEDIA_LINE,))
        )  # fmt: skip
        projector = Projector(ledger)
        projector.catch_up()
        projector.close()
        db = ReadDatabase(ledger)
        try:
            assert public.years(db, f.PEMDA) == [f.YEAR, f.YEAR + 1]
            assert public.payment_years(db, f.PEMDA) == [f.YEAR]
            changed = public.updated_at(db, f.PEMDA, f.YEAR)
            assert changed is not None and fmt.local(changed).date() == date(f.YEAR, 2, 10)
            assert public.updated_at(db, f.PEMDA, f.YEAR + 1) is None
        finally:
            db.close()
        app = create_app(settings_for_pages(f"sqlite:///{tmp_path / 'k.db'}"), ledger=ledger)
        try:
            with TestClient(app) as client:
                html = client.get("/publik").text
                assert f"tahun {f.YEAR}</h1>" in html  # the latest year with a payment
                assert f'<option value="{f.YEAR + 1}">' in html  # the next one may be chosen
                assert "diperbarui 10 Feb 2026 09.00 WIB" in html
                later = client.get("/publik", params={"tahun": f.YEAR + 1}).text
                assert 'data-kolom="belanja_realisasi" data-rupiah="0"' in later
        finally:
            app.state.read_models.close()
    finally:
        ledger.close()


# -- a store per pemda ---------------------------------------------------------------------------
def test_a_store_per_pemda_serves_each_pemdas_portal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url = f"sqlite:///{tmp_path / 'kasda.db'}"
    monkeypatch.setenv("KASDA_DATABASE_URL", base_url)
    monkeypatch.setenv("KASDA_TENANCY", "schema")
    pagu = {f.PEMDA: 1_000_000_000, OTHER_PEMDA: 7_000_000_000}
    for pemda in pagu:
        assert cli.main(["tenant-add", "--pemda", pemda]) == 0
    config = settings_for_pages(base_url, tenancy="schema")
    with TestClient(create_app(config)) as client:
        assert client.get("/publik").status_code == 404  # no pemda named, none open yet
        for pemda, amount in pagu.items():
            expect(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body(amount),
                        pemda=pemda), 201)  # fmt: skip
        for tenant in client.app.state.tenants.opened().values():  # type: ignore[attr-defined]
            tenant.read_models.catch_up()
        for pemda, amount in pagu.items():
            html = client.get("/publik", params={"pemda": pemda}).text
            assert f"Pemda {pemda}, tahun {f.YEAR}" in html
            assert f'data-kolom="belanja_anggaran" data-rupiah="{2 * amount}"' in html
            assert f'<option value="{OTHER_PEMDA}"' in html and f'<option value="{f.PEMDA}"' in html
        assert client.get("/publik", params={"pemda": "35.78"}).status_code == 404  # no store
        assert client.get("/publik").status_code == 200  # the first pemda open
