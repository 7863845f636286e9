"""A returned transfer paid again through the payment page, on a real SQLite file and a real
PostgreSQL schema: the Kuasa BUD sees "Bayar ulang ke rekening baru" only on a returned payment;
paying the dead account again is refused in plain words; a form without its CSRF token or its
reason changes nothing; once paid again the history shows both attempts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import build_world, expect, get, post
from testkit.web import sign_in, submit, web_settings
from testkit.world import NPWP
from tests.conftest import make_url

World = tuple[TestClient, ApiSettings, str]
NEW_ACCOUNT = "0055566677"
FORM = 'id="form-bayar-ulang"'


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """SPP-1 paid and returned, its SP2D issued by another Kuasa BUD than the demo's one."""
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        d = build_world(client, config)["disbursement_id"]
        for role, step, body, user in [
            (Role.PPK, "verify", None, None),
            (Role.PA_KPA, "approve", {"spm_number": "SPM-1"}, None),
            (Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-1"}, "kuasabud.eka"),
            (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-1"}, None),
            (Role.GATEWAY, "transfer/settled", {"bank_reference": "BANK-1"}, None),
            (Role.GATEWAY, "transfer/returned", {"reason": "rekening ditutup"}, None),
        ]:
            expect(post(client, config, role, f"/disbursements/{d}/{step}", body, user=user), 200)
        yield client, config, d


def _as(client: TestClient, config: ApiSettings, role: Role) -> TestClient:
    browser = TestClient(client.app)
    sign_in(browser, config, role)
    return browser


def _pay_again(browser: TestClient, d: str, **data: Any) -> Any:
    path = f"/pembayaran/{d}"
    return submit(browser, path, f"{path}/bayar-ulang", {"key": f"k-{time.time_ns()}", **data},
                  follow_redirects=False)  # fmt: skip


def _payment(client: TestClient, config: ApiSettings, d: str) -> dict[str, Any]:
    return expect(get(client, config, Role.AUDITOR, f"/disbursements/{d}"), 200)


def _change_account(client: TestClient, config: ApiSettings) -> None:
    change = {
        "bank_code": "110",
        "account_number": NEW_ACCOUNT,
        "account_holder": "PT Pikiran Rakyat Bandung",
        "reason": "rekening lama ditutup",
    }
    expect(post(client, config, Role.BPKAD_ADMIN, f"/vendors/{NPWP}/bank-account", change), 200)


def test_the_kuasa_bud_pays_a_returned_transfer_again_from_its_page(world: World) -> None:
    client, config, d = world
    bud = _as(client, config, Role.KUASA_BUD)
    shown = bud.get(f"/pembayaran/{d}")
    assert FORM in shown.text and "Bayar ulang ke rekening baru" in shown.text
    assert FORM not in _as(client, config, Role.PPK).get(f"/pembayaran/{d}").text
    # The account is still the one the money bounced from: refused, explained, nothing changed.
    refused = _pay_again(bud, d, reason="rekening baru")
    assert refused.status_code == 409
    assert "Rekening penyedia masih rekening yang mengembalikan transfer ini" in refused.text
    assert "repay_only_to_changed_account" in refused.text
    assert "rekening baru</textarea>" in refused.text  # the input kept
    assert _payment(client, config, d)["status"] == "returned"
    _change_account(client, config)
    empty = _pay_again(bud, d, reason="  ")
    assert empty.status_code == 422 and "Alasan wajib diisi" in empty.text
    done = _pay_again(bud, d, reason="rekening baru sesuai surat penyedia")
    assert done.status_code == 303 and done.headers["location"].endswith("?selesai=bayar-ulang")
    payment = _payment(client, config, d)
    assert (payment["status"], payment["bank_account"]["number"]) == ("authorised", NEW_ACCOUNT)
    for step, body in [
        ("transfer/sent", {"gateway": "iris", "reference": "IRIS-2"}),
        ("transfer/settled", {"bank_reference": "BANK-2"}),
    ]:
        expect(post(client, config, Role.GATEWAY, f"/disbursements/{d}/{step}", body), 200)
    page = bud.get(f"/pembayaran/{d}?selesai=bayar-ulang")
    assert "Pembayaran ulang tercatat" in page.text and FORM not in page.text
    assert "Dibayar ulang ke rekening baru" in page.text
    assert f"dari rekening 110 0012345678 ke 110 {NEW_ACCOUNT}" in page.text
    assert "transfer IRIS-1 dikembalikan" in page.text
    # Both attempts, in order.
    history = page.text[page.text.index('id="riwayat"') :]
    order = [
        history.index("iris referensi IRIS-1"),
        history.index("Transfer dikembalikan (retur)"),
        history.index("Dibayar ulang ke rekening baru"),
        history.index("iris referensi IRIS-2"),
    ]
    assert order == sorted(order)
    assert history.count("Transfer berhasil (masuk rekening)") == 2


def test_a_form_without_its_csrf_token_or_of_another_role_changes_nothing(world: World) -> None:
    client, config, d = world
    _change_account(client, config)
    bud = _as(client, config, Role.KUASA_BUD)
    for token in ({}, {"csrf": "palsu"}):
        answer = bud.post(
            f"/pembayaran/{d}/bayar-ulang", data={"key": "k-1", "reason": "x", **token}
        )
        assert answer.status_code == 403 and "Formulir kedaluwarsa" in answer.text
    ppk = _as(client, config, Role.PPK)
    assert ppk.post(f"/pembayaran/{d}/bayar-ulang", data={"key": "k-2"}).status_code == 403
    assert _payment(client, config, d)["status"] == "returned"
