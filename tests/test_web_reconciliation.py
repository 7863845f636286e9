"""The reconciliation pages over HTTP, on a real SQLite file and a real PostgreSQL schema: a day's
bank statement uploaded and reconciled as ``kasda reconcile`` does, the run recorded once, its
summary, the exceptions worklist and resolving one with a reason; a bad line named with its line
number and nothing recorded; and the roles of the API's reconciliation routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from kasda.cli import main
from ledger.application import Ledger
from ledger.roles import Role
from testkit.clock import FixedClock
from testkit.web import csrf_of, sign_in, submit, web_settings
from tests import factory as f
from tests.conftest import make_url

DAY = "2026-01-02"  # the day the world's clock pays SPP-1
HEADER = "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"
PAID = "02/01/2026;SP2D/SPP-1 PT PIKIRAN RAKYAT;98.000.000,00;0,00;;FT1;0012345678;110\n"
STRANGER = "02/01/2026;TRF 0099887766 TANPA SP2D;5.000.000,00;0,00;;FT2;0099887766;008\n"
Web = tuple[TestClient, ApiSettings]


def paid_day(ledger: Ledger) -> None:
    """An APBD, a vendor and SPP-1 paid in full on ``DAY`` (Rp 98.000.000 net)."""
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-1")


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    url = make_url(str(request.param), tmp_path, request)
    ledger = Ledger(url, clock=FixedClock())
    try:
        paid_day(ledger)
        config = web_settings(url)
        with TestClient(create_app(config, ledger=ledger)) as client:
            yield client, config
    finally:
        ledger.close()


def upload(
    client: TestClient, statement: str, *, name: str = "rkud-2026-01-02.csv", day: str = DAY,
    **kw: Any,
) -> httpx.Response:  # fmt: skip
    shown = client.get("/rekonsiliasi")
    assert shown.status_code == 200, shown.text
    answer: httpx.Response = client.post(
        "/rekonsiliasi/jalankan",
        data={"csrf": csrf_of(shown.text), "tanggal": day, "profile": "bpd", "window": "3"},
        files=[("bank", (name, statement.encode(), "text/csv"))],
        follow_redirects=False,
        **kw,
    )
    return answer


def test_bpkad_runs_a_day_sees_the_exception_and_resolves_it(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    answer = upload(client, HEADER + PAID + STRANGER)
    assert answer.status_code == 303, answer.text
    run_page = answer.headers["location"]
    assert run_page.startswith("/rekonsiliasi/") and run_page.endswith("?pesan=baru")
    summary = client.get(run_page)
    assert summary.status_code == 200
    assert "Rekonsiliasi 2 Jan 2026" in summary.text
    assert "rkud-2026-01-02.csv" in summary.text and "Tidak ada di kasda" in summary.text
    assert "1 terbuka" in summary.text and "bpkad.admin" in summary.text
    # The same files of the same day again: one run, never a second.
    again = upload(client, HEADER + PAID + STRANGER)
    assert again.status_code == 303 and again.headers["location"].endswith("?pesan=sudah")
    listed = client.get("/rekonsiliasi")
    assert "1 rekonsiliasi tercatat" in listed.text
    # Beranda counts what waits for BPKAD.
    home = client.get("/beranda")
    assert "Pengecualian rekonsiliasi terbuka" in home.text
    assert '<span class="card-count">1</span>' in home.text
    # The worklist: the stranger's transfer, with its amount; resolve it with a reason.
    worklist = client.get("/rekonsiliasi/pengecualian")
    assert "Rp 5.000.000" in worklist.text and "rkud-2026-01-02.csv:3" in worklist.text
    done = submit(client, "/rekonsiliasi/pengecualian", "/rekonsiliasi/pengecualian/selesaikan", {
        "key": "k-1", "run_id": run_page.split("/")[2].split("?")[0],
        "exception_id": "rkud-2026-01-02.csv:3", "resolution": "explained",
        "reason": "transfer BOS ke sekolah, nota dinas 12/2026",
    }, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    assert "Belum ada data" in client.get("/rekonsiliasi/pengecualian").text  # none open
    resolved = client.get("/rekonsiliasi/pengecualian?keadaan=resolved")
    assert "nota dinas 12/2026" in resolved.text and "bpkad.admin" in resolved.text
    assert '<span class="card-count">0</span>' in client.get("/beranda").text


def test_the_page_and_kasda_reconcile_record_one_and_the_same_run(
    web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No second copy of the matching: the same files of the same day, reconciled on the page and
    by ``kasda reconcile``, are one run."""
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    answer = upload(client, HEADER + PAID + STRANGER)
    run_id = answer.headers["location"].split("/")[2].split("?")[0]
    statement = tmp_path / "in" / "rkud-2026-01-02.csv"
    statement.parent.mkdir()
    statement.write_text(HEADER + PAID + STRANGER, encoding="utf-8")
    monkeypatch.setenv("KASDA_DATABASE_URL", config.database_url)
    argv = ["reconcile", "--date", DAY, "--bank", str(statement), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    assert f"already recorded: run {run_id}" in capsys.readouterr().out


def test_a_bad_line_is_named_with_its_line_number_and_nothing_is_recorded(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    bad = HEADER + PAID + STRANGER.replace("5.000.000,00", "5.000.000,50")
    answer = upload(client, bad, name="rkud.csv")
    assert answer.status_code == 422
    assert "rkud.csv:3:" in answer.text and "fraction of a rupiah" in answer.text
    assert "tidak ada yang dicatat" in answer.text
    assert "kasda-web-recon" not in answer.text  # the server's folders are not shown
    assert 'value="2026-01-02"' in answer.text  # the input is kept
    assert "Belum ada data" in client.get("/rekonsiliasi").text
    # A statement larger than a form may be (the edge lets uploads through under /rekonsiliasi/):
    # its bad last line is found and named.
    many = "".join(STRANGER.replace("FT2", f"FT{k}") for k in range(5_000))
    large = HEADER + many + STRANGER.replace("5.000.000,00", "5.000.000,50")
    assert len(large) > 256 * 1024
    answer = upload(client, large, name="rkud-besar.csv")
    assert answer.status_code == 422 and "rkud-besar.csv:5002:" in answer.text
    missing = upload(client, HEADER + PAID, day="")
    assert missing.status_code == 422 and "tanggal rekening koran harus diisi" in missing.text


def test_roles_and_csrf_of_the_reconciliation_pages(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    run_page = upload(client, HEADER + PAID + STRANGER).headers["location"].split("?")[0]
    run_id = run_page.split("/")[2]
    # Without its CSRF token the upload changes nothing.
    forged = client.post("/rekonsiliasi/jalankan", data={"tanggal": DAY},
                         files=[("bank", ("x.csv", b"x", "text/csv"))])  # fmt: skip
    assert forged.status_code == 403
    resolve = {"key": "k-2", "run_id": run_id, "exception_id": "rkud-2026-01-02.csv:3",
               "resolution": "written_off", "reason": "x"}  # fmt: skip
    assert client.post("/rekonsiliasi/pengecualian/selesaikan", data=resolve).status_code == 403
    # An auditor reads everything and writes nothing; a PPTK and a vendor see none of it.
    for role, reads in ((Role.AUDITOR, True), (Role.PPTK, False), (Role.VENDOR, False)):
        client.cookies.clear()
        sign_in(client, config, role)
        for path in ("/rekonsiliasi", "/rekonsiliasi/pengecualian", run_page):
            assert client.get(path).status_code == (200 if reads else 403), (role, path)
        shown = client.get("/beranda")
        refused = client.post("/rekonsiliasi/pengecualian/selesaikan",
                              data={"csrf": csrf_of(shown.text), **resolve})  # fmt: skip
        assert refused.status_code == 403 and "Anda tidak berwenang" in refused.text
    client.cookies.clear()
    sign_in(client, config, Role.AUDITOR)
    worklist = client.get("/rekonsiliasi/pengecualian").text
    assert "rkud-2026-01-02.csv:3" in worklist and "/selesaikan" not in worklist  # no form
    # A Kuasa BUD resolves exceptions but does not record runs (as the API).
    client.cookies.clear()
    sign_in(client, config, Role.KUASA_BUD)
    shown = client.get("/rekonsiliasi")
    assert shown.status_code == 200 and "Jalankan dan catat" not in shown.text
    refused = client.post("/rekonsiliasi/jalankan", data={"csrf": csrf_of(shown.text),
                          "tanggal": DAY}, files=[("bank", ("x.csv", b"x", "text/csv"))])  # fmt: skip
    assert refused.status_code == 403
    # A resolution the ledger does not know is its refusal, on the page; then a good one.
    bad = submit(client, "/rekonsiliasi/pengecualian", "/rekonsiliasi/pengecualian/selesaikan",
                 {**resolve, "resolution": "forgotten", "reason": "alasan saya"})  # fmt: skip
    assert bad.status_code == 422 and "alasan saya" in bad.text
    good = submit(client, "/rekonsiliasi/pengecualian", "/rekonsiliasi/pengecualian/selesaikan",
                  resolve, follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    # Resolving it twice is the ledger's refusal, shown in plain words.
    twice = submit(client, "/rekonsiliasi/pengecualian", "/rekonsiliasi/pengecualian/selesaikan",
                   {**resolve, "key": "k-3"})  # fmt: skip
    assert twice.status_code == 422 and "is already resolved" in twice.text
    # Another pemda's run, or none, is not found.
    assert client.get("/rekonsiliasi/00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_worklist_filters_by_run_kind_and_state(web: Web) -> None:
    client, config = web
    sign_in(client, config, Role.BPKAD_ADMIN)
    first = upload(client, HEADER + PAID + STRANGER).headers["location"].split("?")[0]
    second_day = STRANGER.replace("02/01/2026", "03/01/2026").replace("FT2", "FT3")
    second = upload(client, HEADER + second_day, name="rkud-2026-01-03.csv", day="2026-01-03")
    assert second.status_code == 303, second.text
    both = client.get("/rekonsiliasi/pengecualian")
    assert "2 pengecualian" in both.text
    one = client.get(f"/rekonsiliasi/pengecualian?run={first.split('/')[2]}")
    assert "1 pengecualian" in one.text and "rkud-2026-01-02.csv:3" in one.text
    assert 'value="matched"' not in both.text  # a match is never an exception
    assert "2 pengecualian" in client.get("/rekonsiliasi/pengecualian?jenis=unmatched_bank").text
    none = client.get("/rekonsiliasi/pengecualian?jenis=duplicate")
    assert "Belum ada data" in none.text
    assert client.get("/rekonsiliasi/pengecualian?keadaan=semua").status_code == 200
    assert client.get("/rekonsiliasi/pengecualian?keadaan=x").status_code == 422
