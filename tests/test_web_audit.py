"""The auditor's pages over HTTP, on a real SQLite file and a real PostgreSQL schema: finding any
payment (by number, vendor, status, days, SKPD; paginated), the chain's verification and the latest
signed checkpoint, the pemda's export (the API's, every page of it), and the refusals: the roles the
API's audit routes refuse are refused here too."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from ledger.verify import checkpoint, new_signing_key, signing_key
from testkit.api import build_world, expect, get, post, request_body
from testkit.web import csrf_of, sign_in, submit, web_settings
from testkit.world import NPWP_WRITTEN, OTHER_PEMDA, OTHER_SKPD, OTHER_VENDOR_NAME, PEMDA, SKPD
from tests.conftest import make_url
from web.pages.audit import PAGE_SIZE

Web = tuple[TestClient, ApiSettings]
FOUND = re.compile(r'<a class="found" href="/pembayaran/[0-9a-f-]{36}">SPP ([^<]+)</a>')
REFUSED = (Role.PPTK, Role.BENDAHARA, Role.PPK, Role.PA_KPA, Role.KUASA_BUD, Role.VENDOR)
AUDIT_PAGES = ("/audit", "/audit/integritas", "/audit/integritas/ekspor.jsonl",
               "/audit/integritas/checkpoint.json")  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


@pytest.fixture
def web_sqlite(tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings, Path]]:
    path = tmp_path / "kasda.db"
    config = web_settings(f"sqlite:///{path}")
    with TestClient(create_app(config)) as client:
        yield client, config, path


def test_officials_who_are_not_auditors_are_refused_as_the_api_refuses_them(web: Web) -> None:
    client, config = web
    world = build_world(client, config)
    for role in REFUSED:
        api = get(client, config, role, "/verify")
        assert api.status_code == 403, role
        assert get(client, config, role, "/export/events").status_code == 403
        sign_in(client, config, role)
        for path in AUDIT_PAGES:
            refused = client.get(path, params={"nomor": "SPP-1"})
            assert refused.status_code == api.status_code, (role, path)
            assert "Anda tidak berwenang untuk langkah ini" in refused.text
            assert "SPP-1" not in refused.text.replace('value="SPP-1"', "")
            assert world["disbursement_id"] not in refused.text
        token = csrf_of(client.get("/beranda").text)
        posted = client.post("/audit/integritas", data={"csrf": token}, follow_redirects=False)
        assert posted.status_code == 403, role
    # Signed out: the sign-in page, then back here.
    client.cookies.clear()
    answer = client.get("/audit", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/masuk?next=/audit"


def test_the_auditor_and_bpkad_pass_as_in_the_api(web: Web) -> None:
    client, config = web
    for role in (Role.AUDITOR, Role.BPKAD_ADMIN):
        assert get(client, config, role, "/verify").status_code == 200
        sign_in(client, config, role)
        for path in ("/audit", "/audit/integritas"):
            assert client.get(path).status_code == 200, (role, path)


def _found(text: str) -> list[str]:
    """The SPP numbers a result page lists, in order."""
    return FOUND.findall(text)


def test_find_any_payment(web: Web) -> None:
    client, config = web
    world = build_world(client, config)  # SPP-1 to the vendor, SPP-2 to the other vendor
    d = world["disbursement_id"]
    for role, step, body in (
        (Role.PPK, "verify", {}),
        (Role.PA_KPA, "approve", {"spm_number": "SPM/0001/LS/2026"}),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D/0042/LS/2026"}),
    ):
        expect(post(client, config, role, f"/disbursements/{d}/{step}", body), 200)
    sign_in(client, config, Role.AUDITOR)
    everything = client.get("/audit")
    assert everything.status_code == 200
    assert _found(everything.text) == ["SPP-1", "SPP-2"]
    assert f'href="/pembayaran/{d}">SPP SPP-1' in everything.text
    assert (
        f'href="/pembayaran/{world["other_vendor_disbursement_id"]}">SPP SPP-2' in everything.text
    )
    searches = {
        "spp-1": {"nomor": "spp-1"},  # any case, part of the number
        "SPM": {"nomor": "SPM/0001"},
        "SP2D": {"nomor": "0042/LS"},
        "NPWP as written": {"penyedia": NPWP_WRITTEN},
        "name": {"penyedia": "pikiran rakyat"},
        "status": {"status": "authorised"},
        "SKPD": {"skpd": SKPD, "nomor": "1"},
        "days": {"dari": "2000-01-01", "sampai": "2099-12-31", "nomor": "SPP-1"},
    }
    for case, params in searches.items():
        answer = client.get("/audit", params=params)
        assert answer.status_code == 200, case
        assert _found(answer.text) == ["SPP-1"], case
    assert _found(client.get("/audit", params={"penyedia": OTHER_VENDOR_NAME[3:]}).text) == [
        "SPP-2"
    ]
    for case, params in {
        "no such number": {"nomor": "SPP-99"},
        "a LIKE wildcard is a character": {"nomor": "SPP_1"},
        "another SKPD": {"skpd": OTHER_SKPD},
        "no vendor of that name": {"penyedia": "Tidak Ada"},
        "other days": {"dari": "2099-01-01"},
        "rejected": {"status": "rejected"},
    }.items():
        answer = client.get("/audit", params=params)
        assert answer.status_code == 200 and _found(answer.text) == [], case
        assert "Tidak ada pembayaran yang cocok" in answer.text


def test_a_search_with_bad_input_says_why_and_keeps_it(web: Web) -> None:
    client, config = web
    build_world(client, config)
    sign_in(client, config, Role.AUDITOR)
    for params in (
        {"penyedia": "12.345"},  # not an NPWP
        {"status": "lunas"},
        {"dari": "kemarin"},
        {"dari": "2026-02-01", "sampai": "2026-01-01"},
        {"skpd": "bukan.kode"},  # said as the ledger's rule of codes
    ):
        answer = client.get("/audit", params=params)
        assert answer.status_code == 422, params
        assert 'class="alert alert-error" role="alert"' in answer.text
        assert _found(answer.text) == []
        for field in ("penyedia", "dari"):
            if field in params:
                assert f'value="{params[field]}"' in answer.text


def test_results_are_paginated(web_sqlite: tuple[TestClient, ApiSettings, Path]) -> None:
    client, config, _ = web_sqlite
    build_world(client, config)
    for n in range(PAGE_SIZE):
        expect(
            post(
                client,
                config,
                Role.PPTK,
                "/disbursements",
                request_body(f"SPP-P{n}", gross=3_000_000),
            ),
            201,
        )
    sign_in(client, config, Role.AUDITOR)
    first = client.get("/audit").text
    assert (
        len(_found(first)) == PAGE_SIZE and f"1\N{EN DASH}{PAGE_SIZE} dari {PAGE_SIZE + 2}" in first
    )
    assert f'href="/audit?offset={PAGE_SIZE}"' in first
    second = client.get("/audit", params={"offset": PAGE_SIZE}).text
    assert _found(second) == [f"SPP-P{PAGE_SIZE - 2}", f"SPP-P{PAGE_SIZE - 1}"]
    filtered = client.get("/audit", params={"nomor": "P1"}).text
    assert "offset" not in filtered  # one page: no pager
    assert set(_found(filtered)) == {f"SPP-P{n}" for n in range(PAGE_SIZE) if "P1" in f"SPP-P{n}"}


def test_the_chain_is_verified_on_request_and_matches_the_api(web: Web) -> None:
    client, config = web
    build_world(client, config)
    sign_in(client, config, Role.AUDITOR)
    before = client.get("/audit/integritas")
    assert "Belum diverifikasi sejak server ini dijalankan" in before.text
    assert "Belum ada checkpoint" in before.text
    # The form needs its CSRF token.
    assert client.post("/audit/integritas", data={}, follow_redirects=False).status_code == 403
    done = submit(client, "/audit/integritas", "/audit/integritas", {}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/audit/integritas"
    shown = client.get("/audit/integritas").text
    api = expect(get(client, config, Role.AUDITOR, "/verify"), 200)
    assert api["ok"] and "Rantai hash utuh" in shown
    assert f"{api['events']:,}".replace(",", ".") + " (posisi 1" in shown
    assert api["head_hash"] in shown and "oleh auditor.fajar" in shown and " WIB" in shown


def test_the_latest_signed_checkpoint(web: Web) -> None:
    client, config = web
    build_world(client, config)
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    seed, public = new_signing_key()
    signed = checkpoint(ledger, signing_key(seed))
    sign_in(client, config, Role.AUDITOR)
    shown = client.get("/audit/integritas").text
    assert signed.chain_hash in shown and public in shown
    assert ">sah<" in shown and "belum diperiksa sejak ditandatangani" in shown
    submit(client, "/audit/integritas", "/audit/integritas", {})
    shown = client.get("/audit/integritas").text
    assert "ya, pada verifikasi terakhir" in shown
    download = client.get("/audit/integritas/checkpoint.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert json.loads(download.text) == json.loads(signed.to_json())


def test_a_broken_chain_is_shown_broken(web_sqlite: tuple[TestClient, ApiSettings, Path]) -> None:
    client, config, path = web_sqlite
    build_world(client, config)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "UPDATE stored_events_chain SET chain_hash = ? WHERE position = 3", (b"\0" * 32,)
        )
    sign_in(client, config, Role.AUDITOR)
    submit(client, "/audit/integritas", "/audit/integritas", {})
    shown = client.get("/audit/integritas").text
    assert "Rantai hash RUSAK pada posisi 3" in shown and "Rantai hash utuh" not in shown
    assert "does not match its chain link" in shown


def test_the_export_is_the_apis_export_of_this_pemda(web: Web) -> None:
    client, config = web
    ours = build_world(client, config)
    theirs = build_world(client, config, pemda=OTHER_PEMDA)
    sign_in(client, config, Role.AUDITOR)
    download = client.get("/audit/integritas/ekspor.jsonl")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in download.headers["content-disposition"]
    lines = [json.loads(line) for line in download.text.splitlines()]
    api: list[dict[str, object]] = []
    after = 0
    while True:
        page = expect(get(client, config, Role.AUDITOR, "/export/events",
                          params={"after": after, "limit": 7}), 200)  # fmt: skip
        api += page["items"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert lines == api and len(lines) > 7
    positions = [line["position"] for line in lines]
    assert positions == sorted(positions)
    aggregates = {line["aggregate_id"] for line in lines}
    assert ours["disbursement_id"] in aggregates
    assert theirs["disbursement_id"] not in aggregates
    assert all(line["body"].get("pemda", PEMDA) == PEMDA for line in lines)
