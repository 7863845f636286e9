"""The transfers page over HTTP, on a real SQLite file and a real PostgreSQL schema: sent, settled,
failed and returned transfers by tab, each SKPD's own only, linking to the payment's page; a failed
transfer's SP2D cancelled with a reason by the roles of the API's cancel (kasda has no re-send by a
person); Beranda's cards; and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from ledger.application import Ledger
from ledger.commands import Command
from ledger.roles import Role
from testkit.clock import FixedClock
from testkit.web import csrf_of, sign_in, submit, web_settings
from tests import factory as f
from tests.conftest import make_url

Web = tuple[TestClient, ApiSettings]
OTHER_LINE = f.line_spec(skpd=f.OTHER_SKPD, uraian="Belanja Jasa Iklan Dinas Kesehatan")
OTHER_PPTK = f.actor("pptk.other", Role.PPTK, f.OTHER_SKPD)
OTHER_PPK = f.actor("ppk.other", Role.PPK, f.OTHER_SKPD)
OTHER_PA = f.actor("pa.other", Role.PA_KPA, f.OTHER_SKPD)


def transfers(ledger: Ledger) -> None:
    """SPP-1 settled, SPP-2 failed, SPP-3 returned, SPP-4 sent (Dinas Pendidikan), and SPP-9 of
    Dinas Kesehatan failed."""
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, OTHER_LINE)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-1")
    for spp in ("SPP-2", "SPP-3", "SPP-4"):
        for command in (f.request(spp), f.verify(spp), f.approve(spp), f.authorise(spp),
                        f.send(spp)):  # fmt: skip
            ledger.execute(command)
    ledger.execute(f.fail("SPP-2", "rekening tujuan tidak aktif"))
    ledger.execute(f.settle("SPP-3"))
    ledger.execute(f.return_("SPP-3"))
    other: tuple[Command, ...] = (
        f.request("SPP-9", spec=OTHER_LINE, actor=OTHER_PPTK), f.verify("SPP-9", OTHER_PPK),
        f.approve("SPP-9", OTHER_PA), f.authorise("SPP-9"), f.send("SPP-9"), f.fail("SPP-9"),
    )  # fmt: skip
    for step in other:
        ledger.execute(step)


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    url = make_url(str(request.param), tmp_path, request)
    ledger = Ledger(url, clock=FixedClock())
    try:
        transfers(ledger)
        config = web_settings(url)
        with TestClient(create_app(config, ledger=ledger)) as client:
            yield client, config
    finally:
        ledger.close()


def test_the_bendahara_sees_the_transfers_of_its_skpd_by_status(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BENDAHARA)
    every = client.get("/transfer")
    assert every.status_code == 200
    assert "4 transfer" in every.text  # SPP-9 is another SKPD's
    assert "SP2D/SPP-9" not in every.text
    failed = client.get("/transfer?status=failed")
    assert "1 transfer" in failed.text and "SP2D/SPP-2" in failed.text
    assert f'href="/pembayaran/{f.disbursement_id("SPP-2")}"' in failed.text
    assert "Rp 98.000.000" in failed.text and "rekening tujuan tidak aktif" in failed.text
    assert "IRIS-SPP-2" in failed.text and " WIB" in failed.text
    assert "tidak memiliki perintah kirim ulang" in failed.text  # says how a re-send happens
    settled = client.get("/transfer?status=settled")
    assert "SP2D/SPP-1" in settled.text and "BANK-SPP-1" in settled.text
    assert "SP2D/SPP-3" in client.get("/transfer?status=returned").text
    assert "SP2D/SPP-4" in client.get("/transfer?status=sent").text
    assert client.get("/transfer?status=requested").status_code == 422
    home = client.get("/beranda")
    assert "Transfer gagal menunggu keputusan" in home.text
    assert "Transfer dikembalikan (retur)" in home.text


def test_the_kuasa_bud_sees_every_skpd(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.KUASA_BUD)
    failed = client.get("/transfer?status=failed")
    assert "2 transfer" in failed.text and "SP2D/SPP-9" in failed.text
    assert '<span class="card-count">2</span>' in client.get("/beranda").text


def test_a_failed_transfers_sp2d_is_cancelled_with_a_reason(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BENDAHARA)
    action = f"/transfer/{f.disbursement_id('SPP-2')}/batalkan"
    empty = submit(client, "/transfer?status=failed", action, {"key": "k-1", "reason": ""})
    assert empty.status_code == 422 and "SP2D/SPP-2" in empty.text  # still there, refused
    done = submit(client, "/transfer?status=failed", action,
                  {"key": "k-2", "reason": "kontrak diputus"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    after = client.get(done.headers["location"])
    assert "SP2D dibatalkan" in after.text and "SP2D/SPP-2" not in after.text
    # A settled transfer cannot be cancelled: the ledger's rule, in plain words.
    settled = f"/transfer/{f.disbursement_id('SPP-1')}/batalkan"
    refused = submit(client, "/transfer?status=failed", settled, {"key": "k-3", "reason": "x"})
    assert refused.status_code == 409  # InvalidTransition, as the API answers
    assert "tidak berlaku pada status pembayaran" in refused.text


def test_refusals_of_the_transfers_page(web: Web) -> None:
    client, config = web
    action = f"/transfer/{f.disbursement_id('SPP-2')}/batalkan"
    # The Kuasa BUD who issued the SP2D may not cancel it (separation of duties).
    sign_in(client, config, Role.KUASA_BUD)
    mine = submit(client, "/transfer?status=failed", action, {"key": "k-4", "reason": "batal"})
    assert mine.status_code == 403 and "Satu orang tidak boleh" in mine.text
    assert 'value="batal"' in mine.text  # the input is kept
    # Without its CSRF token nothing is done.
    assert client.post(action, data={"key": "k-5", "reason": "batal"}).status_code == 403
    # The bendahara of one SKPD may not cancel another SKPD's SP2D.
    client.cookies.clear()
    sign_in(client, config, Role.BENDAHARA)
    theirs = f"/transfer/{f.disbursement_id('SPP-9')}/batalkan"
    other = submit(client, "/transfer", theirs, {"key": "k-6", "reason": "batal"})
    assert other.status_code == 403 and "SKPD lain" in other.text
    # A PPK, an auditor and a vendor may not cancel; a vendor does not see the page at all.
    for role, reads in ((Role.PPK, True), (Role.AUDITOR, True), (Role.VENDOR, False)):
        client.cookies.clear()
        sign_in(client, config, role)
        assert client.get("/transfer").status_code == (200 if reads else 403), role
        token = csrf_of(client.get("/beranda").text)
        refused = client.post(action, data={"csrf": token, "key": "k-7", "reason": "batal"})
        assert refused.status_code == 403, role
    client.cookies.clear()
    sign_in(client, config, Role.KUASA_BUD)
    assert "SP2D/SPP-2" in client.get("/transfer?status=failed").text  # nothing was cancelled
    client.cookies.clear()
    assert client.get("/transfer", follow_redirects=False).status_code == 303  # sign in first
