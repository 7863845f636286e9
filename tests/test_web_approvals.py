"""The approval queue and the payment page over HTTP, on a real SQLite file and a real PostgreSQL
schema: verify -> approve SPM -> authorise SP2D through the pages, each by its own official;
separation of duties (the PPK acting as PA/KPA) refused in plain words with nothing changed; a
reject needs its reason; the payment page's history and its warning on a changed bank account; and
the scope of the API: another SKPD's official, another pemda's user and another vendor get the
API's refusal, a form without its CSRF token changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import build_world, expect, get, post
from testkit.web import sign_in, submit, web_settings
from testkit.world import NPWP, OTHER_PEMDA, OTHER_SKPD, USERS
from tests.conftest import make_url
from web.session import COOKIE

World = tuple[TestClient, ApiSettings, dict[str, str]]


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The test world built through the API: SPP-1 (to the vendor user's company) and SPP-2 (to
    another vendor), both requested by the PPTK and waiting for the PPK."""
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config, build_world(client, config)


def _as(client: TestClient, config: ApiSettings, role: Role, user: str | None = None) -> TestClient:
    browser = TestClient(client.app)
    sign_in(browser, config, role, user)
    return browser


def _status(client: TestClient, config: ApiSettings, disbursement_id: str) -> str:
    found = expect(get(client, config, Role.AUDITOR, f"/disbursements/{disbursement_id}"), 200)
    return str(found["status"])


def _step(browser: TestClient, disbursement_id: str, action: str, **data: Any) -> Any:
    path = f"/pembayaran/{disbursement_id}"
    return submit(browser, path, f"{path}/{action}", {"key": f"k-{action}-{time.time_ns()}", **data},
                  follow_redirects=False)  # fmt: skip


def test_verify_approve_authorise_through_the_pages(world: World) -> None:
    client, config, w = world
    spp = w["disbursement_id"]
    ppk = _as(client, config, Role.PPK)
    queue = ppk.get("/antrean")
    assert queue.status_code == 200
    assert queue.text.index("SPP-1") < queue.text.index("SPP-2")  # oldest first
    assert "Rp 100.000.000" in queue.text and "menit" in queue.text
    shown = ppk.get(f"/pembayaran/{spp}")
    assert 'id="form-verifikasi"' in shown.text and 'id="form-setujui"' not in shown.text
    assert "Sisa pagu" in shown.text and "Rp 800.000.000" in shown.text
    assert "0012345678" in shown.text and "PT Pikiran Rakyat Bandung" in shown.text
    done = _step(ppk, spp, "verifikasi")
    assert done.status_code == 303 and done.headers["location"].endswith("?selesai=verifikasi")
    assert _status(client, config, spp) == "verified"
    assert "SPP-1" not in ppk.get("/antrean").text

    approver = _as(client, config, Role.PA_KPA)
    assert "SPP-1" in approver.get("/antrean").text
    assert _step(approver, spp, "setujui", spm_number="SPM-1").status_code == 303
    assert _status(client, config, spp) == "approved"

    bud = _as(client, config, Role.KUASA_BUD)
    assert "SPP-1" in bud.get("/antrean").text
    assert _step(bud, spp, "terbitkan", sp2d_number="SP2D-1").status_code == 303
    assert _status(client, config, spp) == "authorised"
    page = bud.get(f"/pembayaran/{spp}?selesai=terbitkan")
    assert "SP2D telah diterbitkan" in page.text
    for who in ("pptk.ani", "ppk.budi", "kadis.citra", "kuasabud.dedi"):
        assert who in page.text  # the history names every official
    for what in ("SPP diajukan", "Diverifikasi PPK-SKPD", "SPM disetujui", "SP2D diterbitkan"):
        assert what in page.text
    assert "Nomor SP2D SP2D-1" in page.text and "posisi peristiwa #" in page.text
    assert " WIB" in page.text


def test_the_same_person_may_not_take_two_steps(world: World) -> None:
    client, config, w = world
    spp = w["disbursement_id"]
    assert _step(_as(client, config, Role.PPK), spp, "verifikasi").status_code == 303
    # ppk.budi, who verified, signs in as PA/KPA (the demo offers it) and tries to approve.
    same = _as(client, config, Role.PA_KPA, USERS[Role.PPK])
    refused = _step(same, spp, "setujui", spm_number="SPM-9")
    assert refused.status_code == 403
    assert "Satu orang tidak boleh melakukan dua tahap pada satu pembayaran." in refused.text
    assert "separation_of_duties" in refused.text
    assert 'value="SPM-9"' in refused.text  # the input kept
    assert _status(client, config, spp) == "verified"
    # Nor may he reject what he verified.
    rejected = _step(same, spp, "tolak", reason="tidak setuju")
    assert rejected.status_code == 403 and "Satu orang tidak boleh" in rejected.text
    assert _status(client, config, spp) == "verified"


def test_a_step_of_another_role_or_status_is_refused(world: World) -> None:
    client, config, w = world
    spp = w["disbursement_id"]
    approver = _as(client, config, Role.PA_KPA)
    # Not yet verified: the PA/KPA's approve is refused by the lifecycle, explained.
    early = _step(approver, spp, "setujui", spm_number="SPM-1")
    assert early.status_code == 409 and "tidak berlaku pada status" in early.text
    # A PPTK may not verify: the page's guard is the API's.
    pptk = _as(client, config, Role.PPTK)
    assert _step(pptk, spp, "verifikasi").status_code == 403
    assert _status(client, config, spp) == "requested"


def test_a_reject_needs_its_reason(world: World) -> None:
    client, config, w = world
    spp = w["disbursement_id"]
    ppk = _as(client, config, Role.PPK)
    empty = _step(ppk, spp, "tolak", reason="  ")
    assert empty.status_code == 422 and "Alasan penolakan wajib diisi" in empty.text
    assert _status(client, config, spp) == "requested"
    assert _step(ppk, spp, "tolak", reason="faktur belum ada").status_code == 303
    assert _status(client, config, spp) == "rejected"
    shown = ppk.get(f"/pembayaran/{spp}")
    assert "Alasan: faktur belum ada" in shown.text and 'id="form-tolak"' not in shown.text


def test_a_form_without_its_csrf_token_changes_nothing(world: World) -> None:
    client, config, w = world
    spp = w["disbursement_id"]
    ppk = _as(client, config, Role.PPK)
    for token in ({}, {"csrf": "palsu"}):
        answer = ppk.post(f"/pembayaran/{spp}/verifikasi", data={"key": "k-1", **token})
        assert answer.status_code == 403 and "Formulir kedaluwarsa" in answer.text
    assert _status(client, config, spp) == "requested"


def _forged(config: ApiSettings, role: Role, **claims: Any) -> str:
    """A session cookie for a user the demo does not offer (another SKPD's, another pemda's)."""
    now = int(time.time())
    body = {"sub": f"{role.value}.lain", "role": role.value, "pemda": "32.73", "sid": "s",
            "aud": "kasda-web", "iat": now, "exp": now + 600, **claims}  # fmt: skip
    return jwt.encode(body, config.pages.session_secret, algorithm="HS256")


def test_the_payment_page_has_the_scope_of_the_api(world: World) -> None:
    client, config, w = world
    spp, theirs = w["disbursement_id"], w["other_vendor_disbursement_id"]
    # The API's answers, for comparison.
    assert (
        get(client, config, Role.PPK, f"/disbursements/{spp}", skpd=OTHER_SKPD).status_code == 403
    )
    assert get(client, config, Role.VENDOR, f"/disbursements/{theirs}").status_code == 404

    other_skpd = TestClient(client.app)
    other_skpd.cookies.set(COOKIE, _forged(config, Role.PPK, skpd=OTHER_SKPD))
    seen = other_skpd.get(f"/pembayaran/{spp}")
    assert seen.status_code == 403 and "Data ini milik SKPD lain." in seen.text
    assert "SPP-1" not in other_skpd.get("/antrean").text
    # Nor can it act: the verify of another SKPD's payment is refused by the ledger.
    other_skpd.cookies.set(COOKIE, _forged(config, Role.PPK, skpd=OTHER_SKPD))
    token = other_skpd.get("/antrean").text.split('name="csrf" value="')[1].split('"')[0]
    acted = other_skpd.post(f"/pembayaran/{spp}/verifikasi", data={"csrf": token, "key": "k-x"})
    assert acted.status_code == 403
    assert _status(client, config, spp) == "requested"

    other_pemda = TestClient(client.app)
    other_pemda.cookies.set(COOKIE, _forged(config, Role.AUDITOR, pemda=OTHER_PEMDA))
    assert other_pemda.get(f"/pembayaran/{spp}").status_code == 404

    vendor = _as(client, config, Role.VENDOR)
    own = vendor.get(f"/pembayaran/{spp}")
    assert own.status_code == 200 and "SPP-1" in own.text and "form-" not in own.text
    other = vendor.get(f"/pembayaran/{theirs}")
    assert other.status_code == 404 and "SPP-2" not in other.text
    assert vendor.get("/pembayaran/00000000-0000-0000-0000-000000000000").status_code == 404
    assert vendor.get("/antrean").status_code == 403


def test_a_recently_changed_bank_account_is_flagged(world: World) -> None:
    client, config, w = world
    spp = w["disbursement_id"]
    ppk = _as(client, config, Role.PPK)
    assert "perubahan rekening</p>" not in ppk.get(f"/pembayaran/{spp}").text
    change = {"bank_code": "008", "account_number": "9990001112", "account_holder": "PT PRB",
              "reason": "rekening lama ditutup"}  # fmt: skip
    expect(post(client, config, Role.BPKAD_ADMIN, f"/vendors/{NPWP}/bank-account", change), 200)
    shown = ppk.get(f"/pembayaran/{spp}").text
    assert "Perhatian: perubahan rekening" in shown
    assert "setelah SPP ini diajukan" in shown
    assert "9990001112" in shown and "rekening lama ditutup" in shown and "0012345678" in shown
