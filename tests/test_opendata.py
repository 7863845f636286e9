"""Open data (``/publik/data/``, issue 18 part 2) over HTTP, without signing in, on a real SQLite
file and a real PostgreSQL schema: every format holds the same public facts (CSV, JSON and Parquet
row for row), only final payments (a requested SPP is absent), nothing private in any file, the
LRA per budget line, the data dictionary, ETag / 304 by log position, and refusals that are 4xx."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.roles import Role
from ledger.store import tenant_url
from opendata import files
from opendata.cache import Rendition, Renditions
from opendata.dictionary import DATASETS
from projections.db import ReadDatabase
from testkit.api import adopt_body, expect, post, request_body, vendor_body
from testkit.web import web_settings
from testkit.world import GOODS, INCOME, MEDIA, NPWP, NPWP_WRITTEN, OTHER_PEMDA, PEMDA, YEAR
from tests.conftest import make_url

Web = tuple[TestClient, ApiSettings]
PERSON = "Budi Santoso Wijaya"  # a vendor that is a person: initials only in public
PERSON_NPWP = "031234567890123"
COMPANY_ACCOUNT = "0012345678"
PERSON_ACCOUNT = "7771234560"
TYPED_ACCOUNT = "1234509876123"  # an account number an official typed into the purpose
PAGU = 1_000_000_000
# (spp, vendor npwp, rekening, gross, how far it goes, purpose)
PAYMENTS: tuple[tuple[str, str, str, int, str, str], ...] = (
    ("SPP-1", NPWP, MEDIA, 110_000_000, "settled", f"=HYPERLINK(1) iklan, rek {TYPED_ACCOUNT}"),
    ("SPP-2", PERSON_NPWP, GOODS, 7_500_000, "authorised", "Honor narasumber"),
    ("SPP-3", NPWP, MEDIA, 5_000_000, "requested", "Belum final: masih diajukan"),
    ("SPP-4", PERSON_NPWP, MEDIA, 12_345_678, "settled", "Desain publikasi"),
)
STEPS: tuple[tuple[Role, str, dict[str, str]], ...] = (
    (Role.PPK, "verify", {}),
    (Role.PA_KPA, "approve", {"spm_number": "SPM-{n}"}),
    (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-{n}/2026"}),
    (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-{n}"}),
    (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-{n}"}),
)
UNTIL = {"requested": 0, "authorised": 3, "settled": 5}
FINAL = [p for p in PAYMENTS if p[4] != "requested"]
PRIVATE = (COMPANY_ACCOUNT, PERSON_ACCOUNT, TYPED_ACCOUNT, NPWP, NPWP_WRITTEN, PERSON_NPWP,
           PERSON, "Santoso", "Wijaya")  # fmt: skip
FILES = tuple(DATASETS)


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


def caught_up(client: TestClient) -> None:
    """The read models up to the log's head: a download reads them as they are, never waiting."""
    client.app.state.tenants.shared.read_models.catch_up()  # type: ignore[attr-defined]


def pay(client: TestClient, config: ApiSettings, spp: str, npwp: str, rekening: str, gross: int,
        until: str, purpose: str) -> str:  # fmt: skip
    body = {**request_body(spp, gross=gross, npwp=npwp, rekening=rekening),
            "description": purpose, "deductions": []}  # fmt: skip
    made = expect(post(client, config, Role.PPTK, "/disbursements", body), 201)
    n = spp.split("-")[1]
    for role, step, template in STEPS[: UNTIL[until]]:
        step_body = {k: v.format(n=n) for k, v in template.items()}
        expect(post(client, config, role, f"/disbursements/{made['id']}/{step}", step_body), 200)
    return str(made["id"])


def build(client: TestClient, config: ApiSettings) -> dict[str, str]:
    """An APBD; a media company and a person as vendors; the payments of ``PAYMENTS``; ids by SPP."""
    admin = Role.BPKAD_ADMIN
    expect(post(client, config, admin, "/budgets", adopt_body(PAGU)), 201)
    expect(post(client, config, admin, "/vendors", vendor_body(NPWP, "PT Pikiran Rakyat")), 201)
    person = {**vendor_body(PERSON_NPWP, PERSON), "kind": "individual",
              "account_number": PERSON_ACCOUNT}  # fmt: skip
    expect(post(client, config, admin, "/vendors", person), 201)
    ids = {p[0]: pay(client, config, *p) for p in PAYMENTS}
    caught_up(client)
    return ids


def download(client: TestClient, file: str, **headers: str) -> httpx.Response:
    answer: httpx.Response = client.get(
        f"/publik/data/{file}", params={"pemda": PEMDA, "tahun": YEAR}, headers=headers
    )
    return answer


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_every_format_holds_the_same_final_payments_and_nothing_private(web: Web) -> None:
    client, config = web
    ids = build(client, config)
    answers = {file: download(client, file) for file in FILES}
    for file, answer in answers.items():
        assert answer.status_code == 200, (file, answer.text)
        stem, extension = file.split(".")
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="kasda-{stem}-{PEMDA.replace(".", "")}-{YEAR}.{extension}"'
        )
        assert "set-cookie" not in answer.headers  # no session is made for a download

    from_csv = csv_rows(answers["payments.csv"].content)
    from_json = orjson.loads(answers["payments.json"].content)
    from_parquet = pl.read_parquet(io.BytesIO(answers["payments.parquet"].content))

    # Only the final payments, in the order their SP2D was authorised; the requested one is absent.
    expected_ids = [ids[p[0]] for p in FINAL]
    assert [r["id"] for r in from_csv] == expected_ids
    assert [r["id"] for r in from_json["data"]] == expected_ids
    assert from_parquet["id"].to_list() == expected_ids
    assert ids["SPP-3"] not in answers["payments.csv"].text

    # The same facts in each format: amounts integers, dates ISO days, the same text (the CSV's
    # text cells guarded against spreadsheet formulas).
    parquet_rows = from_parquet.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d")).to_dicts()
    assert parquet_rows == from_json["data"]
    for row_csv, row_json in zip(from_csv, from_json["data"], strict=True):
        assert list(row_csv) == list(row_json) == [c.name for c in DATASETS["payments.csv"].columns]
        for name, value in row_json.items():
            shown = "" if value is None else str(value)
            if isinstance(value, str) and value[:1] in "=+-@":
                shown = "'" + shown
            assert row_csv[name] == shown, name
    assert from_parquet.schema["jumlah"] == pl.Int64
    assert from_parquet.schema["tanggal_sp2d"] == pl.Date
    by_spp = dict(zip([p[0] for p in FINAL], from_json["data"], strict=True))
    for spp, _, rekening, gross, until, _ in FINAL:
        row = by_spp[spp]
        assert row["jumlah"] == gross and isinstance(row["jumlah"], int)
        assert row["rekening"] == rekening
        assert row["sp2d_number"] == f"SP2D-{spp.split('-')[1]}/2026"
        assert row["status"] == ("dibayar" if until == "settled" else "sp2d_terbit")
        assert (row["tanggal_bayar"] is None) == (until != "settled")
    assert by_spp["SPP-2"]["penerima"] == "B. S. W."
    assert by_spp["SPP-1"]["keperluan"].startswith("=HYPERLINK(1) iklan, rek [disamarkan]")
    assert from_json["pemda"] == PEMDA and from_json["tahun"] == YEAR
    assert from_json["posisi_log"] == int(
        answers["payments.json"].headers["x-kasda-projection-position"]
    )
    assert from_json["jumlah_baris"] == len(FINAL)
    assert from_parquet.height == len(FINAL)

    # Nothing private anywhere: not in any file's bytes, nor in the Parquet's cells and metadata.
    parquet_text = str(from_parquet.to_dicts()) + str(pl.read_parquet_metadata(
        io.BytesIO(answers["payments.parquet"].content)))  # fmt: skip
    for file, answer in answers.items():
        text = parquet_text if file.endswith(".parquet") else answer.text
        for secret in PRIVATE:
            assert secret not in text, (file, secret)


def test_the_lra_per_budget_line_counts_only_what_is_realised(web: Web) -> None:
    client, config = web
    build(client, config)
    answer = download(client, "lra.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    lines = csv_rows(answer.content)
    assert list(lines[0]) == [c.name for c in DATASETS["lra.csv"].columns]
    by_rekening = {r["rekening"]: r for r in lines}
    assert set(by_rekening) == {MEDIA, GOODS, INCOME}
    for rekening, line in by_rekening.items():
        realised = sum(p[3] for p in FINAL if p[2] == rekening)  # SPP-3's commitment is not
        assert (int(line["anggaran"]), int(line["realisasi"])) == (PAGU, realised)
    assert by_rekening[INCOME]["kelompok"] == "pendapatan"
    assert by_rekening[MEDIA]["kelompok"] == "belanja"
    assert [r["kelompok"] for r in lines] == ["pendapatan", "belanja", "belanja"]


def test_a_file_has_the_log_position_as_its_etag(web: Web) -> None:
    client, config = web
    build(client, config)
    first = download(client, "payments.json")
    tag = first.headers["etag"]
    assert (
        tag.startswith('W/"payments.json-') and first.headers["x-kasda-projection-position"] in tag
    )
    assert first.headers["cache-control"] == "public, max-age=60"
    kept: Renditions = client.app.state.opendata_renditions  # type: ignore[attr-defined]
    assert [r.body for r in kept.values()] == [first.content]  # rendered once, then kept
    assert download(client, "payments.json").content == first.content
    assert len(kept) == 1

    held = download(client, "payments.json", **{"If-None-Match": tag})
    assert held.status_code == 304 and held.content == b""
    assert held.headers["etag"] == tag and held.headers["cache-control"] == "public, max-age=60"
    other = download(client, "payments.csv", **{"If-None-Match": tag})
    assert other.status_code == 200  # another dataset's tag is not this one's

    pay(client, config, "SPP-5", NPWP, GOODS, 1_000_000, "authorised", "Kertas")
    caught_up(client)
    moved = download(client, "payments.json", **{"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["etag"] != tag
    assert orjson.loads(moved.content)["jumlah_baris"] == len(FINAL) + 1


@pytest.mark.parametrize(
    ("file", "params", "status"),
    [
        ("payments.csv", {"pemda": PEMDA, "tahun": "abc"}, 422),
        ("payments.csv", {"pemda": PEMDA, "tahun": "99999"}, 422),
        ("payments.csv", {"pemda": PEMDA}, 422),
        ("payments.csv", {"tahun": str(YEAR)}, 422),
        ("payments.json", {"pemda": "../32.73", "tahun": str(YEAR)}, 422),
        ("payments.json", {"pemda": "..", "tahun": str(YEAR)}, 422),
        ("ocds.json", {"pemda": "32.73; DROP", "tahun": str(YEAR)}, 422),
        ("lra.csv", {"pemda": "99.99", "tahun": str(YEAR)}, 404),
        ("payments.parquet", {"pemda": PEMDA, "tahun": "1999"}, 404),
        ("secrets.csv", {"pemda": PEMDA, "tahun": str(YEAR)}, 404),
        ("..%2Fkasda.db", {"pemda": PEMDA, "tahun": str(YEAR)}, 404),
    ],
)
def test_a_bad_request_is_refused_in_indonesian(
    tmp_path: Path, file: str, params: dict[str, str], status: int
) -> None:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        expect(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body()), 201)
        caught_up(client)
        answer = client.get(f"/publik/data/{file}", params=params)
        assert answer.status_code == status, answer.text
        if "/" in file.replace("%2F", "/"):  # no file route matches: the app's 404 page
            assert "Tidak ditemukan" in answer.text
            return
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == status
        assert any(w in problem["detail"] for w in ("harus", "wajib", "tidak ada")), problem


def test_the_index_lists_each_file_and_the_dictionary(web: Web) -> None:
    client, config = web
    build(client, config)
    page = client.get("/publik/data/", params={"pemda": PEMDA, "tahun": YEAR})
    assert page.status_code == 200, page.text
    for file in FILES:
        assert f'href="/publik/data/{file}?pemda={PEMDA}&amp;tahun={YEAR}"' in page.text
    for column in DATASETS["payments.csv"].columns + DATASETS["lra.csv"].columns:
        assert f"<code>{column.name}</code>" in page.text
    assert "Kamus data" in page.text and "rupiah" in page.text
    assert "no-store" in page.headers["cache-control"]  # a page: a signed-in user's menu in it
    refused = client.get("/publik/data/", params={"tahun": "abc"})
    assert refused.status_code == 422 and "tahun harus empat angka" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    assert client.get("/publik/data/", params={"pemda": "32.04"}).status_code == 404

    package = client.get("/publik/data/kamus.json")
    assert package.status_code == 200
    resources = {r["name"]: r for r in package.json()["resources"]}
    assert set(resources) == {d.name for d in DATASETS.values()}
    for file in ("payments.csv", "lra.csv"):
        header = download(client, file).text.splitlines()[0].split(",")
        fields = resources[DATASETS[file].name]["schema"]["fields"]
        assert [f["name"] for f in fields] == header
        assert all(f["description"] and f["type"] in ("string", "integer", "date") for f in fields)
    money = [f for f in resources["payments-csv"]["schema"]["fields"] if f["name"] == "jumlah"]
    assert money[0]["unit"].startswith("rupiah")


def test_the_files_say_so_when_there_is_nothing_final_yet(tmp_path: Path) -> None:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        expect(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body()), 201)
        caught_up(client)
        assert csv_rows(download(client, "payments.csv").content) == []
        assert download(client, "payments.csv").text.startswith("id,sp2d_number,")
        assert orjson.loads(download(client, "payments.json").content)["data"] == []
        # An OCDS release package has at least one release.
        assert download(client, "ocds.json").status_code == 404


def test_the_documentation_describes_every_column() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "opendata.md").read_text("utf-8")
    for dataset in DATASETS.values():
        for column in dataset.columns:
            assert f"| `{column.name}` | {column.type} | {column.meaning} | {column.unit} |" in page


def test_with_a_store_per_pemda_each_file_comes_from_its_pemdas_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    pagu = {PEMDA: 700_000_000, OTHER_PEMDA: 300_000_000}
    for pemda in pagu:
        Ledger(tenant_url(url, pemda)).close()  # what kasda tenant-add makes
    config = web_settings(url, tenancy="schema")
    with TestClient(create_app(config)) as client:
        for pemda, amount in pagu.items():
            expect(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body(amount),
                        pemda=pemda), 201)  # fmt: skip
        opened = client.app.state.tenants.opened()  # type: ignore[attr-defined]
        for tenant in opened.values():
            tenant.read_models.catch_up()
        for pemda, amount in pagu.items():
            answer = client.get("/publik/data/lra.csv", params={"pemda": pemda, "tahun": YEAR})
            assert answer.status_code == 200, answer.text
            assert {int(r["anggaran"]) for r in csv_rows(answer.content)} == {amount}
        unserved = client.get("/publik/data/lra.csv", params={"pemda": "33.01", "tahun": YEAR})
        assert unserved.status_code == 404
        assert unserved.headers["content-type"] == "application/problem+json"
        index = client.get("/publik/data/")
        assert index.status_code == 200
        for pemda in pagu:
            assert f"?pemda={pemda}&amp;tahun={YEAR}" in index.text
        assert client.get("/publik/data/", params={"pemda": "33.01"}).status_code == 404


def test_downloads_that_miss_together_render_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of requests for a file the log just moved past: one renders, the rest take it."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    config = web_settings(url)
    with TestClient(create_app(config)) as client:
        build(client, config)
    rendered: list[int] = []
    real = files.render_file

    def counted(db: ReadDatabase, wanted: files.Wanted, context: files.Context) -> Rendition:
        rendered.append(1)
        time.sleep(0.2)  # long enough for every thread to miss the cache
        return real(db, wanted, context)

    monkeypatch.setattr(files, "render_file", counted)
    context = files.Context("store", Renditions(), "http://127.0.0.1", "ocds-kasda")
    wanted = files.Wanted.parse("payments.json", PEMDA, str(YEAR))
    ledger = Ledger(url)

    def one(_: int) -> bytes | None:
        db = ReadDatabase(ledger)
        try:
            return files.produce(db, wanted, context).body
        finally:
            db.close()

    try:
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(one, range(8)))
    finally:
        ledger.close()
    assert len(rendered) == 1
    assert len(set(bodies)) == 1 and bodies[0] is not None
