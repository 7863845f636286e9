"""The read-model routes (LRA, vendor statement, cash position, approval queues) end to end, on a
real SQLite file and a real PostgreSQL schema.

The ledger's clock is set by the test, so that the facts fall on known days of the pemda's time zone
(Asia/Jakarta): the APBD and two requests on 2 January, a payment settled and an income received on
10 February, more requests on 5 March. Each report is checked against ``projections.queries`` run
by a separate ledger and projector on the same database, and against a recomputation from the
ledger's own aggregates.

The reports answer by default from what the read models hold (``freshness=recent``): a test that
writes and then reads passes the position its last write returned (``after``), as a client that
reads its own writes does (``Api.mine``).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.readmodels import POSITION_HEADER
from api.routes import reports
from api.settings import ApiSettings
from ledger import ids
from ledger.application import Ledger
from ledger.roles import Role
from projections import queries as q
from projections.queues import WAITING_FOR
from projections.runner import Projector
from testkit.api import build_world, expect, get, line, post, request_body, settings
from testkit.world import GOODS, INCOME, NPWP, OTHER_NPWP, OTHER_PEMDA, PEMDA, WIB, YEAR
from tests.conftest import make_url

PROBLEM = "application/problem+json"


class Clock:
    """The ledger's clock: one second per reading, from a day the test chooses (09:00 WIB)."""

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
    url: str
    clock: Clock
    ledger: Ledger
    written: int = 0  # the highest position a write through ``post`` returned

    def mine(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """``params`` with ``after``: the report includes every write this test made."""
        return {**(params or {}), "after": self.written}

    def get(self, role: Role, path: str, **kw: Any) -> Any:
        return get(self.client, self.config, role, path, **kw)

    def ok(self, role: Role, path: str, **kw: Any) -> dict[str, Any]:
        return expect(self.get(role, path, **kw), 200)

    def post(self, role: Role, path: str, body: dict[str, Any] | None = None) -> Any:
        response = post(self.client, self.config, role, path, body)
        if response.is_success:
            self.written = max(self.written, response.json()["position"])
        return response


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    url = make_url(str(request.param), tmp_path, request)
    config = settings(url)
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            yield Api(client, config, url, clock, ledger)
    finally:
        app.state.read_models.close()
        ledger.close()


def pay(api: Api, disbursement_id: str, n: int) -> None:
    steps = [
        (Role.PPK, "verify", None),
        (Role.PA_KPA, "approve", {"spm_number": f"SPM-{n}"}),
        (Role.KUASA_BUD, "authorise", {"sp2d_number": f"SP2D-{n}"}),
        (Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": f"IRIS-{n}"}),
        (Role.GATEWAY, "transfer/settled", {"bank_reference": f"BANK-{n}"}),
    ]
    for role, step, body in steps:
        expect(api.post(role, f"/disbursements/{disbursement_id}/{step}", body), 200)


def revenue(api: Api, reference: str, gross: int) -> None:
    body = {
        "year": YEAR,
        "line": line(INCOME),
        "channel": "teller",
        "reference": reference,
        "payer": "Hotel Savoy Homann",
        "gross": gross,
    }
    expect(api.post(Role.GATEWAY, "/revenues", body), 201)


@pytest.fixture
def year(api: Api) -> dict[str, str]:
    """2 Jan: APBD, SPP-1 and SPP-2 (100M each, media line). 10 Feb: SPP-1 settled, 25M income.
    5 Mar: SPP-3..SPP-6 (3M each, 1M net, goods line) to the first vendor."""
    world = build_world(api.client, api.config)
    api.written = int(world["position"])
    api.clock.to(date(YEAR, 2, 10))
    pay(api, world["disbursement_id"], 1)
    revenue(api, "T-1", 25_000_000)
    api.clock.to(date(YEAR, 3, 5))
    for n in range(3, 7):
        expect(
            api.post(
                Role.PPTK,
                "/disbursements",
                request_body(f"SPP-{n}", gross=3_000_000, rekening=GOODS),
            ),
            201,
        )
    return world


def queries_lra(url: str, level: str, as_of: date | None = None) -> list[dict[str, Any]]:
    """The LRA as ``projections.queries`` gives it, from a ledger and projector of its own."""
    ledger = Ledger(url)
    try:
        projector = Projector(ledger)
        try:
            projector.catch_up()
            return list(
                q.lra(projector.db, PEMDA, YEAR, level=level, as_of=as_of).iter_rows(named=True)
            )
        finally:
            projector.close()
    finally:
        ledger.close()


def recomputed(
    api: Api, level: str, revenue_by_rekening: dict[str, int]
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(side, kode) -> (anggaran, committed, realisasi), from the ledger's own budget lines."""
    segments = {"akun": 1, "kelompok": 2, "jenis": 3, "objek": 4, "rincian": 5, "rekening": None}
    lines = api.ok(Role.AUDITOR, f"/budgets/{YEAR}/lines", params={"limit": 500})["items"]
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for x in lines:
        rekening = x["rekening"]
        side = "pendapatan" if rekening.startswith("4") else "belanja"
        if level == "skpd":
            kode = x["skpd"]
        else:
            n = segments[level]
            kode = rekening if n is None else ".".join(rekening.split(".")[:n])
        row = rows[(side, kode)]
        row[0] += x["pagu"]
        row[1] += x["committed"]
        row[2] += x["realised"] + revenue_by_rekening.get(rekening, 0)
    return {k: (a, c, r) for k, (a, c, r) in rows.items()}


def basis_points(part: int, whole: int) -> int:
    return (part * 20_000 + whole) // (whole * 2) if whole > 0 else 0


@pytest.mark.parametrize("level", ["skpd", "akun", "kelompok", "objek", "rekening"])
def test_lra_equals_the_queries_and_a_recomputation(
    api: Api, year: dict[str, str], level: str
) -> None:
    response = api.get(Role.PA_KPA, "/lra", params=api.mine({"year": YEAR, "level": level}))
    body = expect(response, 200)
    assert int(response.headers[POSITION_HEADER]) == body["position"]
    # Read-your-writes: the answer includes at least the last write (here, the head: one writer).
    assert body["position"] >= api.written == (api.ledger.recorder.max_notification_id() or 0)
    rows = body["rows"]["items"]
    assert body["rows"]["total"] == len(rows)
    expected = queries_lra(api.url, level)
    keys = ("side", "kode", "uraian", "anggaran", "committed", "realisasi", "lebih_kurang",
            "persen_bp", "lines")  # fmt: skip
    assert [{k: r[k] for k in keys} for r in rows] == [{k: r[k] for k in keys} for r in expected]
    again = recomputed(api, level, {INCOME: 25_000_000})
    assert {
        (r["side"], r["kode"]): (r["anggaran"], r["committed"], r["realisasi"]) for r in rows
    } == again
    for r in rows:
        assert r["sisa"] == r["anggaran"] - r["committed"] - r["realisasi"]
        assert r["persen_bp"] == basis_points(r["realisasi"], r["anggaran"])
        assert r["persen"] == f"{r['persen_bp'] // 100}.{r['persen_bp'] % 100:02d}"
        assert all(type(r[k]) is int for k in ("anggaran", "committed", "realisasi", "sisa"))
    totals = body["totals"]
    assert totals["pendapatan_realisasi"] == 25_000_000
    assert totals["belanja_realisasi"] == 100_000_000
    assert totals["surplus_defisit_realisasi"] == 25_000_000 - 100_000_000


def test_lra_as_of_a_day(api: Api, year: dict[str, str]) -> None:
    def report(as_of: str) -> dict[tuple[str, str], tuple[int, int]]:
        body = api.ok(
            Role.AUDITOR,
            "/lra",
            params=api.mine({"year": YEAR, "level": "rekening", "as_of": as_of}),
        )
        assert body["as_of"] == as_of
        expected = queries_lra(api.url, "rekening", date.fromisoformat(as_of))
        assert [(r["kode"], r["realisasi"], r["committed"]) for r in body["rows"]["items"]] == [
            (r["kode"], r["realisasi"], r["committed"]) for r in expected
        ]
        return {(r["kode"], "c"): (r["committed"], r["realisasi"]) for r in body["rows"]["items"]}

    media = "5.1.02.02.01.0055"
    # 31 January: both requests committed, nothing paid, no income yet
    jan = report("2026-01-31")
    assert jan[(media, "c")] == (200_000_000, 0)
    assert jan[(INCOME, "c")] == (0, 0)
    assert jan[(GOODS, "c")] == (0, 0)
    # 28 February: SPP-1 settled (committed moves to realised), the income received
    feb = report("2026-02-28")
    assert feb[(media, "c")] == (100_000_000, 100_000_000)
    assert feb[(INCOME, "c")] == (0, 25_000_000)
    # after 5 March: the goods requests are committed; as of a late day equals now
    late = report("2026-12-31")
    assert late[(GOODS, "c")] == (12_000_000, 0)
    now = api.ok(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    assert {
        (r["kode"], "c"): (r["committed"], r["realisasi"]) for r in now["rows"]["items"]
    } == late
    # before the APBD existed: there is no report
    before = api.get(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "as_of": "2026-01-01"}))
    assert before.status_code == 404 and before.json()["rule"] == "not_found"


def test_lra_pages_and_refuses_bad_input(api: Api, year: dict[str, str]) -> None:
    full = api.ok(Role.PPK, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))["rows"]
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        got = api.ok(
            Role.PPK,
            "/lra",
            params=api.mine({"year": YEAR, "level": "rekening", "limit": 1, "offset": offset}),
        )["rows"]
        assert got["total"] == full["total"] == 3
        seen.extend(got["items"])
        offset = got["next_offset"]
    assert seen == full["items"]
    for params in (
        {"year": YEAR, "level": "kabupaten"},
        {"year": YEAR, "limit": 501},
        {"year": YEAR, "limit": 0},
        {"year": YEAR, "offset": -1},
        {"year": 10**12},
        {"year": "tahun"},
        {},
        {"year": YEAR, "as_of": "2026-13-01"},
        {"year": YEAR, "as_of": "kemarin"},
    ):
        response = api.get(Role.PPK, "/lra", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    assert api.get(Role.PPK, "/lra", params=api.mine({"year": YEAR + 1})).status_code == 404
    for role in (Role.VENDOR, Role.GATEWAY):
        assert api.get(role, "/lra", params={"year": YEAR}).status_code == 403


def test_vendor_statement_filters_pages_and_totals(api: Api, year: dict[str, str]) -> None:
    path = f"/vendors/{NPWP}/statement"
    body = api.ok(Role.BENDAHARA, path, params=api.mine())
    assert body["vendor"]["npwp"] == NPWP
    assert body["vendor"]["id"] == str(ids.vendor_id(PEMDA, NPWP))
    payments = body["payments"]["items"]
    assert [p["spp_number"] for p in payments] == ["SPP-6", "SPP-5", "SPP-4", "SPP-3", "SPP-1"]
    assert body["totals"] == {
        "payments": 5,
        "gross": 112_000_000,
        "deductions": 5 * 2_000_000,
        "net": 102_000_000,
        "settled_net": 98_000_000,
    }
    settled = api.ok(Role.AUDITOR, path, params=api.mine({"status": "settled"}))["payments"][
        "items"
    ]
    assert [(p["spp_number"], p["sp2d_number"], p["bank_reference"]) for p in settled] == [
        ("SPP-1", "SP2D-1", "BANK-1")
    ]
    march = api.ok(
        Role.AUDITOR, path, params=api.mine({"requested_from": "2026-03-01T00:00:00+07:00"})
    )
    assert march["totals"]["payments"] == 4
    january = api.ok(
        Role.AUDITOR,
        path,
        params=api.mine(
            {
                "requested_from": "2026-01-01T00:00:00+07:00",
                "requested_to": "2026-02-01T00:00:00+07:00",
            }
        ),
    )
    assert [p["spp_number"] for p in january["payments"]["items"]] == ["SPP-1"]
    # paging: every payment exactly once, in the same order
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        got = api.ok(Role.AUDITOR, path, params=api.mine({"limit": 2, "offset": offset}))[
            "payments"
        ]
        assert got["total"] == 5
        seen.extend(p["spp_number"] for p in got["items"])
        offset = got["next_offset"]
    assert seen == [p["spp_number"] for p in payments]
    # by id as well as by NPWP
    by_id = api.ok(
        Role.AUDITOR, f"/vendors/{ids.vendor_id(PEMDA, NPWP)}/statement", params=api.mine()
    )
    assert by_id["payments"] == body["payments"]
    for params in (
        {"status": "paid"},
        {"limit": 10_000},
        {"requested_from": "2026-03-01T00:00:00"},  # no zone
        {
            "requested_from": "2026-03-02T00:00:00+07:00",
            "requested_to": "2026-03-01T00:00:00+07:00",
        },
        {"year": 0},
    ):
        response = api.get(Role.AUDITOR, path, params=params)
        assert response.status_code == 422, (params, response.text)
    assert api.get(Role.AUDITOR, "/vendors/not-an-npwp/statement").status_code == 422
    unknown = api.get(Role.AUDITOR, "/vendors/011111111111000/statement", params=api.mine())
    assert unknown.status_code == 404


def test_a_vendor_sees_only_its_own_statement(api: Api, year: dict[str, str]) -> None:
    own = api.ok(Role.VENDOR, f"/vendors/{NPWP}/statement", npwp=NPWP, params=api.mine())
    assert own["totals"]["payments"] == 5
    assert api.ok(
        Role.VENDOR,
        f"/vendors/{ids.vendor_id(PEMDA, NPWP)}/statement",
        npwp=NPWP,
        params=api.mine(),
    )
    other_id = ids.vendor_id(PEMDA, OTHER_NPWP)
    refused = [
        api.get(Role.VENDOR, f"/vendors/{ref}/statement", npwp=NPWP, params=api.mine())
        for ref in (OTHER_NPWP, str(other_id))
    ]
    unknown = api.get(
        Role.VENDOR, "/vendors/011111111111000/statement", npwp=NPWP, params=api.mine()
    )
    for response in (*refused, unknown):
        # the same answer as a vendor that does not exist: nothing says the other one does
        assert response.status_code == 404, response.text
        assert response.json()["rule"] == "not_found"
        assert "SPP-2" not in response.text and "Priangan" not in response.text
    theirs = api.ok(
        Role.VENDOR, f"/vendors/{OTHER_NPWP}/statement", npwp=OTHER_NPWP, params=api.mine()
    )
    assert [p["spp_number"] for p in theirs["payments"]["items"]] == ["SPP-2"]
    # the same NPWP's token in another pemda: no such vendor there, nothing of this pemda's
    foreign = get(
        api.client,
        api.config,
        Role.VENDOR,
        f"/vendors/{NPWP}/statement",
        pemda=OTHER_PEMDA,
        params=api.mine(),
    )
    assert foreign.status_code == 404 and "SPP-1" not in foreign.text


def test_cash_position_by_day(api: Api, year: dict[str, str]) -> None:
    response = api.get(Role.KUASA_BUD, "/cash-position", params=api.mine())
    body = expect(response, 200)
    days = {d["day"]: d for d in body["days"]["items"]}
    assert days["2026-02-10"]["payments_out"] == 98_000_000
    assert days["2026-02-10"]["receipts_in"] == 25_000_000
    assert days["2026-02-10"]["closing_balance"] == 25_000_000 - 98_000_000
    ledger = Ledger(api.url)
    try:
        projector = Projector(ledger)
        try:
            projector.catch_up()
            frame = q.cash_position(projector.db, PEMDA)
        finally:
            projector.close()
    finally:
        ledger.close()
    assert [(d["day"], d["net"], d["closing_balance"]) for d in body["days"]["items"]] == [
        (r["day"].isoformat(), r["net"], r["closing_balance"]) for r in frame.iter_rows(named=True)
    ]
    outside = api.ok(
        Role.AUDITOR, "/cash-position", params=api.mine({"from": "2026-03-01", "to": "2026-03-31"})
    )
    assert outside["days"]["items"] == []
    assert (
        api.get(
            Role.AUDITOR, "/cash-position", params={"from": "2026-03-02", "to": "2026-03-01"}
        ).status_code
        == 422
    )
    assert api.get(Role.AUDITOR, "/cash-position", params={"from": "2026-02-30"}).status_code == 422
    assert api.get(Role.AUDITOR, "/cash-position", params={"limit": 100_000}).status_code == 422


def test_queues_oldest_first_and_read_your_writes(api: Api, year: dict[str, str]) -> None:
    sizes = api.ok(Role.PPK, "/queues", params=api.mine())["sizes"]
    assert sizes == {"ppk": 5, "pa_kpa": 0, "kuasa_bud": 0, "gateway": 0}
    queue = api.ok(Role.PPK, "/queues/ppk", params=api.mine())["items"]
    assert [x["spp_number"] for x in queue["items"]] == [
        "SPP-2",
        "SPP-3",
        "SPP-4",
        "SPP-5",
        "SPP-6",
    ]
    assert queue["total"] == 5
    first = api.ok(Role.PPK, "/queues/ppk", params=api.mine({"limit": 2, "offset": 4}))["items"]
    assert ([x["spp_number"] for x in first["items"]], first["next_offset"]) == (["SPP-6"], None)
    # a verification moves SPP-3 to PA/KPA's queue, visible in the very next read that passes
    # the position the verification returned
    spp3 = str(ids.disbursement_id(PEMDA, YEAR, "SPP-3"))
    verified = expect(api.post(Role.PPK, f"/disbursements/{spp3}/verify"), 200)
    response = api.get(Role.PA_KPA, "/queues/pa_kpa", params={"after": verified["position"]})
    moved = expect(response, 200)
    assert [x["disbursement_id"] for x in moved["items"]["items"]] == [spp3]
    assert moved["position"] >= verified["position"]
    assert moved["position"] == api.ledger.recorder.max_notification_id()
    assert api.get(Role.PPK, "/queues/vendor").status_code == 422
    assert api.get(Role.VENDOR, "/queues").status_code == 403
    assert api.ok(Role.GATEWAY, "/queues/gateway", params=api.mine())["items"]["items"] == []


def test_two_workers_project_the_same_models_once(api: Api, year: dict[str, str]) -> None:
    """A second app (another worker) on the same database: both catch up on demand, each range is
    applied once, and both answer the same LRA as the recomputation. A position the other worker
    returned is good on this one too (one log)."""
    config = api.config
    ledger = Ledger(api.url, clock=api.clock)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as other:
            for n in range(7, 12):
                written = expect(
                    post(
                        other,
                        config,
                        Role.PPTK,
                        "/disbursements",
                        request_body(f"SPP-{n}", gross=3_000_000),
                    ),
                    201,
                )
                params = {"year": YEAR, "level": "rekening", "after": written["position"]}
                mine = api.ok(Role.AUDITOR, "/lra", params=params)
                theirs = expect(
                    get(
                        other,
                        config,
                        Role.AUDITOR,
                        "/lra",
                        params={**params, "freshness": "latest"},
                    ),
                    200,
                )
                assert mine["position"] >= written["position"]
                assert mine["position"] == theirs["position"]  # nobody writes in between
                assert mine["rows"] == theirs["rows"]
            again = recomputed(api, "rekening", {INCOME: 25_000_000})
            assert {
                (r["side"], r["kode"]): (r["anggaran"], r["committed"], r["realisasi"])
                for r in mine["rows"]["items"]
            } == again
    finally:
        app.state.read_models.close()
        ledger.close()


def test_reports_of_a_fresh_store(api: Api) -> None:
    assert api.get(Role.AUDITOR, "/lra", params={"year": YEAR}).status_code == 404
    assert api.ok(Role.AUDITOR, "/cash-position")["days"]["items"] == []
    assert api.ok(Role.AUDITOR, "/queues")["sizes"] == {
        "ppk": 0,
        "pa_kpa": 0,
        "kuasa_bud": 0,
        "gateway": 0,
    }
    assert api.get(Role.AUDITOR, f"/vendors/{NPWP}/statement").status_code == 404


def test_statement_of_an_encrypted_store(tmp_path: Path) -> None:
    """Sealed read models (KASDA_CIPHER_KEY): the statement shows the vendor's name and NPWP in
    clear, though the table holds only ciphertext and a keyed hash of the NPWP."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    config = settings(
        url, ledger_env={"KASDA_CIPHER_KEY": base64.b64encode(os.urandom(32)).decode()}
    )
    with TestClient(create_app(config)) as client:
        world = build_world(client, config)
        body = expect(
            get(
                client,
                config,
                Role.VENDOR,
                f"/vendors/{NPWP}/statement",
                params={"after": world["position"]},
            ),
            200,
        )
        assert (body["vendor"]["npwp"], body["vendor"]["name"]) == (
            NPWP,
            "PT Pikiran Rakyat Bandung",
        )
        assert [p["spp_number"] for p in body["payments"]["items"]] == ["SPP-1"]
        assert body["payments"]["items"][0]["description"] == "Publikasi kegiatan"
    with sqlite3.connect(tmp_path / "kasda.db") as raw:
        stored = raw.execute("SELECT npwp, name FROM proj_vendor").fetchall()
    assert stored and all(npwp != NPWP and not name.startswith("PT") for npwp, name in stored)


def test_recent_answers_without_waiting_and_catches_up(api: Api, year: dict[str, str]) -> None:
    """``freshness=recent`` (the default) answers from what the models hold: the follower keeps them
    within about half a second, so without further writes they reach the head soon."""
    spp = str(ids.disbursement_id(PEMDA, YEAR, "SPP-4"))
    expect(api.post(Role.PPK, f"/disbursements/{spp}/verify"), 200)
    head = api.ledger.recorder.max_notification_id() or 0
    recent = api.get(Role.PA_KPA, "/queues/pa_kpa", params={"freshness": "recent"})
    assert recent.status_code == 200
    assert 0 <= int(recent.headers[POSITION_HEADER]) <= head
    deadline = time.monotonic() + 10
    while int(recent.headers[POSITION_HEADER]) < head:
        assert time.monotonic() < deadline, "the follower did not catch up"
        time.sleep(0.05)
        recent = api.get(Role.PA_KPA, "/queues/pa_kpa", params={"freshness": "recent"})
    assert [x["disbursement_id"] for x in recent.json()["items"]["items"]] == [spp]
    for path, params in (("/lra", {"year": YEAR}), ("/cash-position", {}), ("/queues", {})):
        assert (
            api.get(Role.AUDITOR, path, params={**params, "freshness": "recent"}).status_code == 200
        )
        refused = api.get(Role.AUDITOR, path, params={**params, "freshness": "stale"})
        assert refused.status_code == 422, refused.text


def test_lra_answer_is_kept_while_the_position_stands(api: Api, year: dict[str, str]) -> None:
    first = api.get(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    again = api.get(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    assert first.json() == again.json()
    expect(api.post(Role.PPTK, "/disbursements", request_body("SPP-K", gross=3_000_000)), 201)
    after = api.ok(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    assert after["position"] >= api.written > first.json()["position"]
    media = {r["kode"]: r["committed"] for r in after["rows"]["items"]}["5.1.02.02.01.0055"]
    before = {r["kode"]: r["committed"] for r in first.json()["rows"]["items"]}["5.1.02.02.01.0055"]
    assert media == before + 3_000_000


REPORTS = [
    ("/lra", {"year": YEAR}),
    (f"/vendors/{NPWP}/statement", {}),
    ("/cash-position", {}),
    ("/queues", {}),
    ("/queues/ppk", {}),
]


@pytest.mark.parametrize(("path", "params"), REPORTS)
def test_recent_does_not_wait_after_and_latest_do(
    api: Api, year: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    models = api.client.app.state.read_models  # type: ignore[attr-defined]
    at_head = api.get(Role.AUDITOR, path, params={**params, "freshness": "latest"})
    assert int(expect(at_head, 200)["position"]) == api.written  # the models are at the head
    models.stop()  # no follower: nothing projects unless a request asks for a position
    written = expect(
        api.post(Role.PPTK, "/disbursements", request_body("SPP-R", gross=3_000_000)), 201
    )
    head = api.ledger.recorder.max_notification_id() or 0
    assert head >= written["position"] > at_head.json()["position"]
    for recent in (
        api.get(Role.AUDITOR, path, params=params),  # the default
        api.get(Role.AUDITOR, path, params={**params, "freshness": "recent"}),
        # a position the models already hold: no wait either
        api.get(Role.AUDITOR, path, params={**params, "after": at_head.json()["position"]}),
    ):
        assert recent.status_code == 200
        assert int(recent.headers[POSITION_HEADER]) == at_head.json()["position"] < head
    # read-your-writes: the write's position, waited for
    mine = api.get(Role.AUDITOR, path, params={**params, "after": written["position"]})
    assert mine.status_code == 200
    assert int(mine.headers[POSITION_HEADER]) >= written["position"]
    assert mine.json()["position"] == int(mine.headers[POSITION_HEADER])
    latest = api.get(Role.AUDITOR, path, params={**params, "freshness": "latest"})
    assert latest.status_code == 200
    assert int(latest.headers[POSITION_HEADER]) == head


def test_after_makes_the_write_visible(api: Api, year: dict[str, str]) -> None:
    """With no follower, each report read with the write's position includes the write."""
    models = api.client.app.state.read_models  # type: ignore[attr-defined]
    models.stop()
    spp = str(ids.disbursement_id(PEMDA, YEAR, "SPP-5"))
    before = api.ok(Role.PPK, "/queues", params=api.mine())["sizes"]
    verified = expect(api.post(Role.PPK, f"/disbursements/{spp}/verify"), 200)
    assert verified["result"]["status"] == "verified"
    stale = api.ok(Role.PPK, "/queues")  # the default, recent: the models did not move
    assert stale["sizes"] == before and stale["position"] < verified["position"]
    sizes = api.ok(Role.PPK, "/queues", params={"after": verified["position"]})["sizes"]
    assert (sizes["ppk"], sizes["pa_kpa"]) == (before["ppk"] - 1, before["pa_kpa"] + 1)
    queue = api.ok(Role.PA_KPA, "/queues/pa_kpa", params={"after": verified["position"]})
    assert [x["disbursement_id"] for x in queue["items"]["items"]] == [spp]
    statement = api.ok(
        Role.AUDITOR, f"/vendors/{NPWP}/statement", params={"after": verified["position"]}
    )
    assert {p["disbursement_id"]: p["status"] for p in statement["payments"]["items"]}[
        spp
    ] == "verified"
    # an LRA after a new request: its commitment is in
    lra = api.ok(Role.AUDITOR, "/lra", params={"year": YEAR, "level": "rekening"})
    requested = expect(
        api.post(Role.PPTK, "/disbursements", request_body("SPP-V", gross=7_000_000)), 201
    )
    fresh = api.ok(
        Role.AUDITOR,
        "/lra",
        params={"year": YEAR, "level": "rekening", "after": requested["position"]},
    )
    media = "5.1.02.02.01.0055"

    def committed(body: dict[str, Any]) -> int:
        return int({r["kode"]: r["committed"] for r in body["rows"]["items"]}[media])

    assert committed(fresh) == committed(lra) + 7_000_000
    assert fresh["position"] >= requested["position"] > lra["position"]


def positions_queried(models: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The positions ``models.query_at`` is asked for from now on, in order (it still answers)."""
    queries: list[int] = []
    real = models.query_at

    def counted(*args: Any) -> Any:
        queries.append(args[1])
        return real(*args)

    monkeypatch.setattr(models, "query_at", counted)
    return queries


def test_after_a_recorded_position_waits_then_reads_once(
    api: Api, year: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read after a position this process's writer answered (so in the log: no 422 to give)
    that the models have not reached waits for the follower first, then reads once: one trip to
    a worker thread (``ReadModels.query_at``), not one to find out that it must wait and another
    after. The answer includes the write, and names a position at or after it."""
    models = api.client.app.state.read_models  # type: ignore[attr-defined]
    models.stop()
    models.interval = 3600.0  # the follower projects only when a reader waits
    models.start()
    before = api.ok(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    written = expect(
        api.post(Role.PPTK, "/disbursements", request_body("SPP-W", gross=5_000_000)), 201
    )
    assert models.reached < written["position"] <= models.known_recorded  # the writer told it
    queries = positions_queried(models, monkeypatch)
    after = api.ok(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    assert queries == [written["position"]]
    assert after["position"] >= written["position"] > before["position"]

    def committed(body: dict[str, Any]) -> int:
        return int({r["kode"]: r["committed"] for r in body["rows"]["items"]}["5.1.02.02.01.0055"])

    assert committed(after) == committed(before) + 5_000_000
    # Beyond what the log holds: still refused at once, not waited for.
    beyond = api.get(
        Role.AUDITOR, "/lra", params={"year": YEAR, "after": models.known_recorded + 10}
    )
    assert expect(beyond, 422)["rule"] == "position_not_recorded"


def test_after_a_position_another_worker_returned_waits_then_reads_once(
    api: Api, year: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read after a position that another worker's write returned (this process has not seen
    it: not known to be in the log) also waits for the follower first and then reads once. The
    follower reads the log's head before it projects, so a position beyond the head is still a
    422 ``position_not_recorded``, given by the follower without a trip to a worker thread."""
    models = api.client.app.state.read_models  # type: ignore[attr-defined]
    models.stop()
    models.interval = 3600.0  # the follower projects only when a reader waits
    models.start()
    before = api.ok(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "rekening"}))
    ledger = Ledger(api.url, clock=api.clock)
    app = create_app(api.config, ledger=ledger)
    try:
        with TestClient(app) as other:
            body = request_body("SPP-W2", gross=7_000_000)
            written = expect(post(other, api.config, Role.PPTK, "/disbursements", body), 201)
    finally:
        app.state.read_models.close()
        ledger.close()
    assert models.known_recorded < written["position"]  # this worker was not told
    queries = positions_queried(models, monkeypatch)
    params = {"year": YEAR, "level": "rekening", "after": written["position"]}
    after = api.ok(Role.AUDITOR, "/lra", params=params)
    assert queries == [written["position"]]
    assert after["position"] >= written["position"] > before["position"]
    rows = {r["kode"]: r["committed"] for r in after["rows"]["items"]}
    was = {r["kode"]: r["committed"] for r in before["rows"]["items"]}
    assert rows["5.1.02.02.01.0055"] == was["5.1.02.02.01.0055"] + 7_000_000
    queries.clear()
    head = api.ledger.recorder.max_notification_id() or 0
    for beyond in (head + 1, 2**62):
        response = api.get(Role.AUDITOR, "/lra", params={"year": YEAR, "after": beyond})
        problem = expect(response, 422)
        assert problem["rule"] == "position_not_recorded"
        assert (
            f"after={beyond} is beyond the head of the ledger's log ({head})" in problem["detail"]
        )
    assert queries == []
    # The follower keeps serving: a read at the head is answered.
    assert api.ok(Role.AUDITOR, "/lra", params={"year": YEAR, "after": head})["position"] >= head


@pytest.mark.parametrize(("path", "params"), REPORTS)
def test_after_beyond_the_head_is_422_not_a_wait(
    api: Api, year: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    head = api.ledger.recorder.max_notification_id() or 0
    for extra in (
        {"after": head + 1},
        {"after": 2**62},
        {"after": head + 1, "freshness": "latest"},
        {"after": head + 1, "freshness": "recent"},
    ):
        response = api.get(Role.AUDITOR, path, params={**params, **extra})
        assert response.status_code == 422, (extra, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["rule"] == "position_not_recorded", response.text
    for bad in (-1, 2**62 + 1, "head", 1.5):
        response = api.get(Role.AUDITOR, path, params={**params, "after": bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["rule"] == "request_validation"
    # the head itself, and latest with an older position (latest wins): answered
    for extra in ({"after": head}, {"after": 0, "freshness": "latest"}):
        answer = api.get(Role.AUDITOR, path, params={**params, **extra})
        assert answer.status_code == 200, (extra, answer.text)
        assert int(answer.headers[POSITION_HEADER]) == head


def test_a_command_returns_a_position_at_or_after_its_events(api: Api) -> None:
    """``CommandOut.position``: monotone across writes, at or after the positions of the events
    the command recorded (as the ledger's recorder has them), and on a replay too."""
    world = build_world(api.client, api.config)
    positions = [int(world["position"])]
    answers = []
    for n in range(3, 8):
        response = api.post(
            Role.PPTK, "/disbursements", request_body(f"SPP-{n}", gross=3_000_000, rekening=GOODS)
        )
        answers.append(expect(response, 201))
        positions.append(answers[-1]["position"])
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    recorder = api.ledger.recorder
    head = recorder.max_notification_id() or 0
    assert positions[-1] == head  # one writer: the last write's position is the head
    notifications = recorder.select_notifications(start=1, limit=head)
    for answer in answers:
        mine = [n.id for n in notifications if str(n.originator_id) == answer["id"]]
        assert mine and max(mine) <= answer["position"], answer
    # a replay (same key, same body) answers the same, with a position at least as high
    key = "position-replay"
    body = request_body("SPP-P", gross=3_000_000, rekening=GOODS)
    first = post(api.client, api.config, Role.PPTK, "/disbursements", body, key=key)
    expect(api.post(Role.PPTK, "/disbursements", request_body("SPP-Q", gross=3_000_000)), 201)
    again = post(api.client, api.config, Role.PPTK, "/disbursements", body, key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["position"] > first.json()["position"] >= positions[-1]
    assert {**again.json(), "position": 0} == {**first.json(), "position": 0}
    seen = api.ok(Role.PPK, "/queues/ppk", params={"after": again.json()["position"]})
    assert "SPP-P" in [x["spp_number"] for x in seen["items"]["items"]]
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["CommandOut"]
    assert "position" in schema["required"]
    assert schema["properties"]["position"]["description"]
    assert schema["properties"]["position"]["examples"]


def test_the_edge_names_every_level_and_queue_the_read_models_have() -> None:
    assert set(get_args(reports.LevelName)) == set(q.LEVELS)
    assert set(get_args(reports.QueueRole)) == set(reports.QUEUE_ROLES)
    assert set(reports.QUEUE_ROLES) == {role.value for role, _ in WAITING_FOR.values()}


def test_lra_of_one_skpd_with_uraian_and_the_sign_note(api: Api, year: dict[str, str]) -> None:
    from projections import nomenclature
    from tests import factory as f

    whole = api.ok(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "program"}))
    assert whole["skpd"] is None and whole["catatan"] == q.SIGN_NOTE
    for r in whole["rows"]["items"]:
        assert r["uraian"] == nomenclature.uraian("program", r["kode"])
    mine = api.ok(
        Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "level": "program", "skpd": f.SKPD})
    )
    assert (mine["skpd"], mine["skpd_uraian"]) == (f.SKPD, "Dinas Pendidikan")
    assert mine["rows"] == whole["rows"]  # the test world's lines all belong to this SKPD
    unpadded = api.ok(
        Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "skpd": "1.1.0.0.0.0.1.0"})
    )
    assert (
        unpadded["skpd"] == f.SKPD and unpadded["rows"]["items"][0]["uraian"] == "Dinas Pendidikan"
    )
    other = api.get(
        Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "skpd": "2.15.0.00.0.00.01.0000"})
    )
    assert other.status_code == 404 and "with lines of SKPD" in other.text
    bad = api.get(Role.AUDITOR, "/lra", params=api.mine({"year": YEAR, "skpd": "DISHUB"}))
    assert 400 <= bad.status_code < 500 and bad.headers["content-type"].startswith(PROBLEM)
