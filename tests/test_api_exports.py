"""``GET /pemda/{p}/exports/sipd-lra.{csv,xlsx}`` and ``/exports/ebupot.{csv,xlsx}`` over HTTP, on a
real SQLite file and a real PostgreSQL schema: the files are the read side's (the LRA's totals,
the month's taxes withheld), only BPKAD, the Kuasa BUD and the auditor of the pemda get them
(every other role 403, another pemda 404), and a bad period or format is a 422 problem.

The world: the APBD, two vendors, SPP-1 (100 jt, PPh 23 2 jt) paid in February; SPP-2 (to the
other vendor) authorised in February and then cancelled; SPP-3 (PPN and PPh 22) authorised in
March, its transfer failed."""

from __future__ import annotations

import csv
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
from api.readmodels import POSITION_HEADER
from api.settings import ApiSettings
from exports import ebupot, sipd
from ledger.application import Ledger
from ledger.money import withholdings_on_gross
from ledger.roles import Role
from testkit.api import bearer, build_world, expect, get, post, request_body, settings
from testkit.world import GOODS, OTHER_NPWP, OTHER_PEMDA, PEMDA, WIB, YEAR
from tests.conftest import make_url

PROBLEM = "application/problem+json"
EXPORTERS = (Role.BPKAD_ADMIN, Role.KUASA_BUD, Role.AUDITOR)
REFUSED = tuple(r for r in Role if r not in EXPORTERS)
PPN_PPH22 = [d.as_dict() for d in withholdings_on_gross(55_500_000, ["PPN", "PPH22"])]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(YEAR, 1, 2, 9, 0, tzinfo=WIB)

    def to(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Api:
    client: TestClient
    config: ApiSettings
    clock: Clock

    def get(self, role: Role, path: str, **kw: Any) -> Any:
        params = {"freshness": "latest", **kw.pop("params", {})}
        return get(self.client, self.config, role, path, params=params, **kw)

    def step(self, role: Role, disbursement_id: str, step: str, body: Any = None) -> None:
        path = f"/disbursements/{disbursement_id}/{step}"
        expect(post(self.client, self.config, role, path, body), 200)

    def authorise(self, disbursement_id: str, n: int) -> None:
        self.step(Role.PPK, disbursement_id, "verify")
        self.step(Role.PA_KPA, disbursement_id, "approve", {"spm_number": f"SPM-{n}"})
        self.step(Role.KUASA_BUD, disbursement_id, "authorise", {"sp2d_number": f"SP2D-{n}"})
        self.step(Role.GATEWAY, disbursement_id, "transfer/sent",
                  {"gateway": "iris", "reference": f"IRIS-{n}"})  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    url = make_url(str(request.param), tmp_path, request)
    config = settings(url)
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            site = Api(client, config, clock)
            world = build_world(client, config)
            clock.to(date(YEAR, 2, 10))
            site.authorise(world["disbursement_id"], 1)
            site.step(Role.GATEWAY, world["disbursement_id"], "transfer/settled",
                      {"bank_reference": "BANK-1"})  # fmt: skip
            site.authorise(world["other_vendor_disbursement_id"], 2)
            site.step(Role.GATEWAY, world["other_vendor_disbursement_id"], "transfer/failed",
                      {"reason": "rekening tidak aktif"})  # fmt: skip
            site.step(Role.PPTK, world["other_vendor_disbursement_id"], "cancel",
                      {"reason": "kontrak dibatalkan"})  # fmt: skip
            clock.to(date(YEAR, 3, 5))
            body = {**request_body("SPP-3", 55_500_000, OTHER_NPWP, GOODS),
                    "deductions": PPN_PPH22}  # fmt: skip
            third = expect(post(client, config, Role.PPTK, "/disbursements", body), 201)
            site.authorise(third["id"], 3)
            site.step(Role.GATEWAY, third["id"], "transfer/failed", {"reason": "bank tutup"})
            yield site
    finally:
        app.state.read_models.close()
        ledger.close()


def rows_of(made: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(made.decode())))


def test_the_ebupot_file_has_the_months_withholdings(api: Api) -> None:
    answer = api.get(Role.KUASA_BUD, "/exports/ebupot.csv", params={"year": YEAR, "month": 2})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="ebupot-32.73-{YEAR}-02.csv"'
    )
    assert int(answer.headers[POSITION_HEADER]) > 0
    rows = rows_of(answer.content)
    # SPP-1's PPh 23; SPP-2's SP2D was cancelled after its transfer failed: not withheld.
    assert [(r["nomor_sp2d"], r["kode_pajak"], r["pph_dipotong"], r["dpp"], r["tarif_persen"])
            for r in rows] == [("SP2D-1", "PPH23", "2000000", "100000000", "2.00")]  # fmt: skip
    march = rows_of(api.get(Role.AUDITOR, "/exports/ebupot.csv",
                            params={"year": YEAR, "month": 3}).content)  # fmt: skip
    assert [(r["nomor_sp2d"], r["kode_pajak"], int(r["pph_dipotong"])) for r in march] == [
        ("SP2D-3", "PPH22", PPN_PPH22[1]["amount"])
    ]
    assert march[0]["npwp_penerima"] == OTHER_NPWP
    answer = api.get(Role.BPKAD_ADMIN, "/exports/ebupot.xlsx", params={"year": YEAR, "month": 3})
    assert answer.status_code == 200 and "spreadsheetml" in answer.headers["content-type"]
    book = load_workbook(io.BytesIO(answer.content))
    sheet = [[str(v) if v is not None else "" for v in r]
             for r in book["42152223"].iter_rows(values_only=True)]  # fmt: skip
    assert sheet == [list(ebupot.BUKTI_HEADERS), *(list(r.values()) for r in march)]
    others = list(book["Bukan e-Bupot"].iter_rows(values_only=True))[1:]
    assert [(r[4], r[8]) for r in others] == [("PPN", PPN_PPH22[0]["amount"])]


def test_the_sipd_file_is_the_lra(api: Api) -> None:
    lra = expect(api.get(Role.AUDITOR, "/lra", params={"year": YEAR, "level": "rekening"}), 200)
    answer = api.get(Role.AUDITOR, "/exports/sipd-lra.csv", params={"year": YEAR})
    assert answer.status_code == 200, answer.text
    rows = rows_of(answer.content)
    assert tuple(rows[0]) == sipd.HEADERS
    totals = lra["totals"]
    spending = [r for r in rows if r["kode_akun"] == "5"]
    assert sum(int(r["pagu"]) for r in spending) == totals["belanja_anggaran"]
    assert sum(int(r["realisasi"]) for r in spending) == totals["belanja_realisasi"]
    income = [r for r in rows if r["kode_akun"] == "4"]
    assert sum(int(r["pagu"]) for r in income) == totals["pendapatan_anggaran"]
    # SPP-1 (100 jt) and SPP-3 (55,5 jt; its transfer failed, the SP2D stands) are realised.
    assert totals["belanja_realisasi"] == 155_500_000
    before = rows_of(api.get(Role.AUDITOR, "/exports/sipd-lra.csv",
                             params={"year": YEAR, "as_of": f"{YEAR}-02-28"}).content)  # fmt: skip
    assert sum(int(r["realisasi"]) for r in before) == 100_000_000
    answer = api.get(Role.KUASA_BUD, "/exports/sipd-lra.xlsx", params={"year": YEAR})
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.content))
    shown = [[str(v) if v is not None else "" for v in r]
             for r in book["Realisasi"].iter_rows(values_only=True)]  # fmt: skip
    assert shown == [list(sipd.HEADERS), *(list(r.values()) for r in rows)]


@pytest.mark.parametrize("role", REFUSED)
def test_other_roles_are_refused(api: Api, role: Role) -> None:
    for path, params in (("/exports/ebupot.csv", {"year": YEAR, "month": 2}),
                         ("/exports/sipd-lra.xlsx", {"year": YEAR})):  # fmt: skip
        answer = api.get(role, path, params=params)
        assert answer.status_code == 403, (role, path, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert answer.json()["rule"] == "role_not_permitted"


@pytest.mark.parametrize("role", EXPORTERS)
def test_another_pemdas_user_gets_404_and_its_own_pemda_holds_nothing_of_ours(
    api: Api, role: Role
) -> None:
    theirs = bearer(api.config, role, pemda=OTHER_PEMDA)
    for path, params in (("ebupot.csv", {"year": YEAR, "month": 2}),
                         ("sipd-lra.csv", {"year": YEAR})):  # fmt: skip
        answer = api.client.get(f"/pemda/{PEMDA}/exports/{path}", params=params, headers=theirs)
        assert answer.status_code == 404 and answer.json()["rule"] == "tenant_scope"
    own = get(api.client, api.config, role, "/exports/ebupot.csv", pemda=OTHER_PEMDA,
              params={"year": YEAR, "month": 2})  # fmt: skip
    assert own.status_code == 200 and rows_of(own.content) == []
    none = get(api.client, api.config, role, "/exports/sipd-lra.csv", pemda=OTHER_PEMDA,
               params={"year": YEAR})  # fmt: skip
    assert none.status_code == 404  # no APBD of that pemda


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/exports/ebupot.csv", {"year": YEAR, "month": 13}, 422),
        ("/exports/ebupot.csv", {"year": YEAR, "month": 0}, 422),
        ("/exports/ebupot.csv", {"year": YEAR}, 422),
        ("/exports/ebupot.csv", {"year": 1800, "month": 1}, 422),
        ("/exports/ebupot.pdf", {"year": YEAR, "month": 1}, 422),
        ("/exports/sipd-lra.csv", {"year": YEAR, "as_of": "2026-02-30"}, 422),
        ("/exports/sipd-lra.json", {"year": YEAR}, 422),
        ("/exports/sipd-lra.csv", {"year": YEAR + 2}, 404),
        ("/exports/sipd-lra.csv", {"year": YEAR, "as_of": "2020-01-01"}, 404),
    ],
)
def test_bad_parameters_are_problems(
    api: Api, path: str, params: dict[str, Any], status: int
) -> None:
    answer = api.get(Role.BPKAD_ADMIN, path, params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
