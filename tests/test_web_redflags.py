"""The red-flag pages over HTTP on a real SQLite file: the auditor runs the rules from the page (once:
the same run again records nothing new), lists and filters the flags, opens one with its payments,
vendors, evidence and reviews, and reviews it; the roles the ledger refuses are refused here too;
a form without its CSRF token does nothing; a flag's words are escaped; and the open flags of a
payment or its vendor warn on the payment's page (never blocking it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.roles import Role
from testkit.web import csrf_of, sign_in, submit, web_settings
from testkit.world import OTHER_SKPD, SKPD
from tests import factory as f
from web.pages.redflags import OTHER_SKPD_WORDS, PAGE_SIZE

Web = tuple[TestClient, ApiSettings]
GROSS = 30_000_000
OTHER_NPWP = "987654321098765"
FLAG_LINK = re.compile(r'class="flag-link" href="/indikasi-risiko/([0-9a-f-]{36})"')
WARNING = "Perhatian: ada indikasi risiko terbuka pada pembayaran/penyedia ini"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        yield client, config


def ledger_of(client: TestClient) -> Ledger:
    ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
    return ledger


def build(client: TestClient) -> dict[str, str]:
    """Two SP2D of the same gross to one vendor within days (a duplicate_payment flag), and a
    clean payment to another vendor."""
    ledger = ledger_of(client)
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.register_vendor(ledger, npwp=OTHER_NPWP, name="CV Bersih", kind="company",
                      account="0099887766")  # fmt: skip
    f.pay_in_full(ledger, "SPP-1", GROSS)
    f.pay_in_full(ledger, "SPP-2", GROSS)
    ledger.execute(f.request("SPP-3", 12_000_000, npwp=OTHER_NPWP))
    return {
        "first": str(f.disbursement_id("SPP-1")),
        "second": str(f.disbursement_id("SPP-2")),
        "clean": str(f.disbursement_id("SPP-3")),
        "vendor": str(ids.vendor_id(f.PEMDA, f.NPWP_DIGITS)),
    }


def run_from_page(client: TestClient) -> str:
    answer = submit(client, "/indikasi-risiko/jalankan", "/indikasi-risiko/jalankan",
                    {"key": str(uuid4())})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.text


def the_flag(client: TestClient, **params: str) -> list[str]:
    """The flags listed of the rule this world plants (its payments, seconds apart on the test
    clock, also look fast-tracked to the other rules)."""
    shown = client.get("/indikasi-risiko", params={"aturan": "duplicate_payment"} | params)
    assert shown.status_code == 200, shown.text
    return FLAG_LINK.findall(shown.text)


def review(client: TestClient, flag_id: str, decision: str, reason: str) -> Any:
    return submit(client, f"/indikasi-risiko/{flag_id}", f"/indikasi-risiko/{flag_id}/tinjau",
                  {"decision": decision, "reason": reason, "key": str(uuid4())},
                  follow_redirects=False)  # fmt: skip


def test_the_auditor_runs_lists_filters_opens_and_reviews_a_flag(web: Web) -> None:
    client, config = web
    world = build(client)
    sign_in(client, config, Role.AUDITOR)
    empty = client.get("/indikasi-risiko")
    assert empty.status_code == 200
    assert "Indikasi, bukan tuduhan." in empty.text and "Belum ada data" in empty.text
    assert 'href="/indikasi-risiko"' in empty.text  # the auditor's menu

    first = run_from_page(client)
    found = re.search(r"(\d+) indikasi ditemukan, (\d+) di antaranya baru", first)
    assert found is not None and found[1] == found[2] != "0"
    again = run_from_page(client)
    assert "Sudah tercatat: tidak ada yang baru" in again
    assert again.count('data-label="Posisi log"') == 1  # one run recorded, not two

    [flag_id] = the_flag(client)
    listed = client.get("/indikasi-risiko", params={"aturan": "duplicate_payment"}).text
    assert "Pembayaran ganda" in listed and "Rp 30.000.000" in listed
    assert 'class="badge sev-medium">Sedang' in listed and "Terbuka" in listed
    assert "Penyedia yang sama menerima dua SP2D sebesar Rp 30.000.000" in listed
    assert f'href="/penyedia/{f.NPWP_DIGITS}"' in listed  # the subject, by name, linked
    for params, expected in (
        ({"aturan": "duplicate_payment"}, [flag_id]),
        ({"tingkat": "medium"}, [flag_id]),
        ({"tingkat": "high"}, []),
        ({"status": "open"}, [flag_id]),
        ({"status": "dismissed"}, []),
        ({"skpd": SKPD}, [flag_id]),
        ({"skpd": OTHER_SKPD}, []),
    ):
        assert the_flag(client, **params) == expected, params
    refused = client.get("/indikasi-risiko", params={"skpd": "bukan-kode"})
    assert refused.status_code == 422 and "alert-error" in refused.text

    detail = client.get(f"/indikasi-risiko/{flag_id}")
    assert detail.status_code == 200
    text = detail.text
    assert "The same vendor received two SP2D of Rp 30.000.000" in text  # English, below
    assert f'href="/pembayaran/{world["first"]}"' in text
    assert f'href="/pembayaran/{world["second"]}"' in text
    assert f'href="/penyedia/{f.NPWP_DIGITS}"' in text
    assert "kasda verify" in text and world["first"] in text  # evidence: the payments' events
    assert "Belum ditinjau." in text and 'name="decision"' in text

    escalated = review(client, flag_id, "escalated", "diteruskan ke APIP untuk audit")
    assert escalated.status_code == 303
    assert escalated.headers["location"] == f"/indikasi-risiko/{flag_id}?pesan=ditinjau"
    shown = client.get(escalated.headers["location"]).text
    assert "Tinjauan dicatat." in shown and "diteruskan ke APIP untuk audit" in shown
    assert "auditor.fajar" in shown and "WIB" in shown and "Dieskalasi ke APIP" in shown
    assert review(client, flag_id, "confirmed", "dibayar dua kali").status_code == 303
    closed = client.get(f"/indikasi-risiko/{flag_id}").text
    assert "sudah ditutup" in closed and 'name="decision"' not in closed
    # A stale form on a closed flag: the ledger's refusal, the input kept.
    token = csrf_of(client.get("/beranda").text)
    late = client.post(f"/indikasi-risiko/{flag_id}/tinjau", data={
        "csrf": token, "decision": "dismissed", "reason": "salah ketik faktur", "key": "k-late",
    })  # fmt: skip
    assert late.status_code == 409, late.text
    assert "alert-error" in late.text and "salah ketik faktur</textarea>" in late.text
    assert 'value="dismissed" checked' in late.text
    assert the_flag(client, status="confirmed") == [flag_id]


def test_a_review_needs_a_decision_and_a_reason(web: Web) -> None:
    client, config = web
    build(client)
    sign_in(client, config, Role.AUDITOR)
    run_from_page(client)
    [flag_id] = the_flag(client)
    for decision, reason in (("dismissed", "   "), ("forgotten", "alasan"), ("", "alasan")):
        answer = review(client, flag_id, decision, reason)
        assert answer.status_code == 422, (decision, answer.text)
        assert "alert-error" in answer.text
    assert the_flag(client, status="open") == [flag_id]


def test_the_beranda_card_counts_open_flags_by_severity(web: Web) -> None:
    client, config = web
    build(client)
    sign_in(client, config, Role.AUDITOR)
    run_from_page(client)
    home = client.get("/beranda").text
    counted = re.search(r"tinggi (\d+) · sedang (\d+) · rendah (\d+)", home)
    assert "Indikasi risiko terbuka" in home and counted is not None
    listed = client.get("/indikasi-risiko", params={"tingkat": "medium", "status": "open"}).text
    assert int(counted[2]) == len(set(FLAG_LINK.findall(listed))) >= 1
    assert 'href="/indikasi-risiko?status=open"' in home


def test_officials_who_do_not_review_are_refused_and_do_not_see_the_menu(web: Web) -> None:
    client, config = web
    build(client)
    sign_in(client, config, Role.AUDITOR)
    run_from_page(client)
    [flag_id] = the_flag(client)
    for role in (Role.PPK, Role.KUASA_BUD, Role.PPTK, Role.VENDOR, Role.BPKAD_ADMIN):
        client.cookies.clear()
        sign_in(client, config, role)
        home = client.get("/beranda").text
        assert 'href="/indikasi-risiko"' not in home, role
        assert "Indikasi risiko terbuka" not in home, role
        for path in ("/indikasi-risiko", f"/indikasi-risiko/{flag_id}"):
            refused = client.get(path)
            assert refused.status_code == 403, (role, path)
            assert "Anda tidak berwenang untuk langkah ini" in refused.text
            assert "Penyedia yang sama" not in refused.text
        token = csrf_of(home)
        posted = client.post(f"/indikasi-risiko/{flag_id}/tinjau", data={
            "csrf": token, "decision": "dismissed", "reason": "bukan urusan saya", "key": "k",
        }, follow_redirects=False)  # fmt: skip
        assert posted.status_code == 403, role
        ran = client.post("/indikasi-risiko/jalankan", data={"csrf": token, "key": "k2"})
        assert ran.status_code == (200 if role is Role.BPKAD_ADMIN else 403), role
    # BPKAD runs the rules from its own page (its menu entry), without reading the flags.
    assert 'href="/indikasi-risiko/jalankan"' in client.get("/beranda").text
    assert "Sudah tercatat" in run_from_page(client)
    client.cookies.clear()
    sign_in(client, config, Role.AUDITOR)
    assert the_flag(client, status="open") == [flag_id]  # nobody else changed it


def test_a_form_without_its_csrf_token_is_refused_and_does_nothing(web: Web) -> None:
    client, config = web
    build(client)
    sign_in(client, config, Role.AUDITOR)
    run_from_page(client)
    [flag_id] = the_flag(client)
    for data in ({}, {"csrf": "forged"}):
        body = {"decision": "dismissed", "reason": "tanpa token", "key": str(uuid4())} | data
        answer = client.post(f"/indikasi-risiko/{flag_id}/tinjau", data=body)
        assert answer.status_code == 403 and "Formulir kedaluwarsa" in answer.text
        ran = client.post("/indikasi-risiko/jalankan", data={"key": "k"} | data)
        assert ran.status_code == 403
    assert the_flag(client, status="open") == [flag_id]
    runs = client.get("/indikasi-risiko/jalankan").text
    assert runs.count('data-label="Posisi log"') == 1


def crafted_run(
    ledger: Ledger, disbursement_id: str, count: int, skpd: str = SKPD, words: str = ""
) -> list[str]:
    """A run of a rule this kasda does not know, recorded directly, whose flags' words carry
    markup (or are ``words``): ``count`` flags about ``skpd``, the first naming
    ``disbursement_id``."""
    flags = []
    for n in range(count):
        flags.append({
            "id": str(uuid4()), "rule": "split_purchase", "severity": "high",
            "subject": {"kind": "skpd", "id": skpd}, "amount": 1_000_000 * (n + 1),
            "period": {"from": "2026-03-01", "to": "2026-03-31"},
            "disbursement_ids": [disbursement_id] if n == 0 else [], "vendor_ids": [],
            "evidence": [{"aggregate_id": disbursement_id, "version": 1, "position": 1}],
            "explanation": {"id": words or f"<script>alert({n})</script> pecah paket <b>{n}</b>",
                            "en": "<img src=x onerror=alert(1)> split"},
        })  # fmt: skip
    ledger.execute(
        c.RecordRedFlagRun(
            idempotency_key=f"crafted-run-{uuid4()}", actor=f.actor("auditor.fajar", Role.AUDITOR),
            pemda=f.PEMDA, position=1, as_of=None, thresholds={}, thresholds_digest="0" * 64,
            rules=("split_purchase",), flags=tuple(flags),
        )
    )  # fmt: skip
    return [str(item["id"]) for item in flags]


def test_a_flags_words_are_escaped_and_the_list_is_paginated(web: Web) -> None:
    client, config = web
    world = build(client)
    flags = crafted_run(ledger_of(client), world["first"], PAGE_SIZE + 3)
    sign_in(client, config, Role.AUDITOR)
    first = client.get("/indikasi-risiko")
    assert "<script>alert" not in first.text and "<b>" not in first.text
    assert "&lt;script&gt;alert(" in first.text
    assert "split_purchase" in first.text  # an unknown rule shows by its code
    assert len(FLAG_LINK.findall(first.text)) == PAGE_SIZE and "Halaman berikutnya" in first.text
    rest = client.get("/indikasi-risiko", params={"offset": PAGE_SIZE}).text
    assert len(FLAG_LINK.findall(rest)) == 3
    # Most money first: the last crafted flag has the largest amount.
    assert FLAG_LINK.findall(first.text)[0] == flags[-1]
    detail = client.get(f"/indikasi-risiko/{flags[0]}").text
    assert "<script>alert" not in detail and "<img" not in detail
    assert "&lt;img src=x onerror=alert(1)&gt; split" in detail
    sign_in(client, config, Role.KUASA_BUD)
    payment = client.get(f"/pembayaran/{world['first']}").text
    assert WARNING in payment and "<script>alert" not in payment
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in payment


def test_open_flags_warn_on_the_payment_page_and_never_block(web: Web) -> None:
    client, config = web
    world = build(client)
    ledger = ledger_of(client)
    ledger.execute(f.request("SPP-4", 5_000_000))  # a new payment to the flagged vendor
    flagged_vendor_payment = str(f.disbursement_id("SPP-4"))
    sign_in(client, config, Role.AUDITOR)
    run_from_page(client)
    [flag_id] = the_flag(client)
    auditor_view = client.get(f"/pembayaran/{world['first']}").text
    assert WARNING in auditor_view and f'href="/indikasi-risiko/{flag_id}"' in auditor_view
    assert "Pembayaran ganda" not in client.get(f"/pembayaran/{world['clean']}").text

    client.cookies.clear()
    sign_in(client, config, Role.PPK)
    page = client.get(f"/pembayaran/{flagged_vendor_payment}").text
    assert WARNING in page and "Penyedia yang sama menerima dua SP2D" in page
    assert "/indikasi-risiko/" not in page  # the flag's page is the inspectorate's
    assert page.index(WARNING) < page.index('id="langkah"')  # above the decision step
    assert "Pembayaran ganda" not in client.get(f"/pembayaran/{world['clean']}").text
    # It never blocks: the PPK verifies the warned payment.
    verified = submit(client, f"/pembayaran/{flagged_vendor_payment}",
                      f"/pembayaran/{flagged_vendor_payment}/verifikasi", {"key": str(uuid4())},
                      follow_redirects=False)  # fmt: skip
    assert verified.status_code == 303, verified.text

    # A dismissed flag warns no more.
    client.cookies.clear()
    sign_in(client, config, Role.AUDITOR)
    assert review(client, flag_id, "dismissed", "dua tagihan berbeda").status_code == 303
    client.cookies.clear()
    sign_in(client, config, Role.PPK)
    assert "Pembayaran ganda" not in client.get(f"/pembayaran/{flagged_vendor_payment}").text


def test_an_skpd_official_does_not_read_another_skpds_figures_in_a_warning(web: Web) -> None:
    client, config = web
    world = build(client)
    crafted_run(ledger_of(client), world["first"], 1, skpd=OTHER_SKPD,
                words="Dinas lain membayar Rp 77.000.000 kepada penyedia ini")  # fmt: skip
    sign_in(client, config, Role.PPK)
    page = client.get(f"/pembayaran/{world['first']}").text
    assert WARNING in page and OTHER_SKPD_WORDS in page and "Rp 77.000.000" not in page
    client.cookies.clear()
    sign_in(client, config, Role.KUASA_BUD)  # pemda-wide: the whole sentence
    assert "Dinas lain membayar Rp 77.000.000" in client.get(f"/pembayaran/{world['first']}").text


def test_the_vendor_is_not_told_of_a_flag_on_its_payment(web: Web) -> None:
    client, config = web
    world = build(client)
    sign_in(client, config, Role.AUDITOR)
    run_from_page(client)
    client.cookies.clear()
    sign_in(client, config, Role.VENDOR)
    own = client.get(f"/pembayaran/{world['first']}")
    assert own.status_code == 200, own.text
    assert WARNING not in own.text and "Penyedia yang sama" not in own.text


def test_a_flag_that_does_not_exist_is_a_404(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.AUDITOR)
    answer = client.get(f"/indikasi-risiko/{UUID(int=7)}")
    assert answer.status_code == 404 and "Data ini tidak ditemukan" in answer.text
