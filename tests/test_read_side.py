"""One read side: the lists, pages and ownership checks the API serves come from the read models
(``projections/queries.py``) on every backend, equal to what the events say; the API's start-up
reads no event; a read waits for its position only so long (then 503 with Retry-After)."""

from __future__ import annotations

import base64
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.readmodels import POSITION_HEADER
from ledger import commands as c
from ledger import history, ids
from ledger.application import Ledger
from ledger.roles import Role
from projections import queries as q
from projections.runner import Projector
from projections.source import EventSource
from testkit.api import build_world, expect, get, post, request_body, settings
from testkit.clock import FixedClock
from tests import factory as f
from tests.conftest import make_url

OTHER_PEMDA = "32.04"
OTHER_NPWP = "019876543210000"
HEALTH = f.line_spec("5.1.02.01.01.0026", 300_000_000, skpd=f.OTHER_SKPD, uraian="Belanja Obat")
HEALTH_PPTK = f.actor("pptk.gita", Role.PPTK, f.OTHER_SKPD)


def _run(day: str, exceptions: int) -> c.RecordReconciliation:
    return c.RecordReconciliation(
        idempotency_key=f.key("run"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        business_date=day,
        inputs=({"name": f"rkud-{day}.sta", "kind": "mt940", "sha256": "a" * 64, "rows": 9},),
        counts={"matched": 9 - exceptions, "unmatched_bank": exceptions},
        exceptions=tuple(
            {"id": f"EX-{n}", "status": "unmatched_bank", "amount": n * 1_000,
             "reference": f"BANK-{n}", "detail": f"debit tanpa SP2D ke Toko {n}"}
            for n in range(1, exceptions + 1)
        ),
    )  # fmt: skip


def _world(ledger: Ledger) -> dict[str, Any]:
    """Two pemda; in the first, two SKPD, two vendors, payments in several states, and two
    reconciliation runs with a resolved exception."""
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, HEALTH)
    f.register_vendor(ledger)
    f.register_vendor(ledger, npwp=OTHER_NPWP, name="CV Sumber Sehat", kind="company")
    ledger.execute(f.request("SPP-1"))
    ledger.execute(f.request("SPP-2", 50_000_000, f.GOODS_LINE, npwp=OTHER_NPWP))
    ledger.execute(f.request("SPP-3", 70_000_000, HEALTH, actor=HEALTH_PPTK))
    ledger.execute(f.verify("SPP-1"))
    ledger.execute(f.reject("SPP-2", f.PPK))
    march = ledger.execute(_run("2026-03-31", 3)).id
    ledger.execute(_run("2026-04-01", 0))
    ledger.execute(
        c.ResolveReconciliationException(
            idempotency_key=f.key("resolve"),
            actor=f.BUD,
            pemda=f.PEMDA,
            run_id=UUID(march),
            exception_id="EX-2",
            resolution="explained",
            reason="dana dalam perjalanan ke rekening Toko 2",
        )
    )
    f.adopt(ledger, pemda=OTHER_PEMDA)
    f.register_vendor(ledger, pemda=OTHER_PEMDA)
    ledger.execute(f.request("SPP-1", pemda=OTHER_PEMDA))
    return {"march": str(march)}


@pytest.fixture
def projected(ledger: Ledger) -> Iterator[tuple[Ledger, Projector, dict[str, Any]]]:
    world = _world(ledger)
    projector = Projector(ledger, batch=7)  # several batches: rows move across them
    try:
        projector.catch_up()
        yield ledger, projector, world
    finally:
        projector.close()


def _spp(rows: list[dict[str, Any]]) -> list[str]:
    return [r["spp_number"] for r in rows]


def test_payments_list_in_request_order_with_scope_and_filters(
    projected: tuple[Ledger, Projector, dict[str, Any]],
) -> None:
    ledger, projector, _ = projected
    db = projector.db
    every = q.disbursements(db, f.PEMDA)
    assert (_spp(every.rows), every.total) == (["SPP-1", "SPP-2", "SPP-3"], 3)
    for row in every.rows:  # each row says what its aggregate says
        d = ledger.disbursement(f.disbursement_id(row["spp_number"]))
        line = ledger.budget_line(UUID(d.line_id))
        vendor = ledger.vendor(UUID(d.vendor_id))
        assert (row["disbursement_id"], row["status"], row["gross"], row["net"]) == (
            str(d.id),
            d.status,
            d.gross,
            d.net,
        )
        assert (row["skpd"], row["npwp_sealed"], row["year"]) == (line.skpd, vendor.npwp, d.year)
    other = str(ids.vendor_id(f.PEMDA, OTHER_NPWP))
    assert _spp(q.disbursements(db, f.PEMDA, vendor_ids=(other,)).rows) == ["SPP-2"]
    assert _spp(q.disbursements(db, f.PEMDA, skpds=(f.SKPD,)).rows) == ["SPP-1", "SPP-2"]
    # a scope and a filter of the same column both hold
    assert q.disbursements(db, f.PEMDA, skpds=(f.SKPD, f.OTHER_SKPD)).total == 0
    assert _spp(q.disbursements(db, f.PEMDA, status="rejected").rows) == ["SPP-2"]
    paged = q.disbursements(db, f.PEMDA, limit=2, offset=2)
    assert (_spp(paged.rows), paged.total) == (["SPP-3"], 3)
    assert _spp(q.disbursements(db, OTHER_PEMDA).rows) == ["SPP-1"]


def test_vendors_lines_runs_and_owners_from_the_read_models(
    projected: tuple[Ledger, Projector, dict[str, Any]],
) -> None:
    ledger, projector, world = projected
    db = projector.db
    vendors = q.vendors(db, f.PEMDA)
    assert [(v["npwp"], v["name"], v["active"]) for v in vendors.rows] == [
        (f.NPWP_DIGITS, "PT Pikiran Rakyat Bandung", 1),
        (OTHER_NPWP, "CV Sumber Sehat", 1),
    ]
    assert [v["name"] for v in q.vendors(db, f.PEMDA, name="SEHAT").rows] == ["CV Sumber Sehat"]
    assert q.vendors(db, f.PEMDA, kind="media", limit=1, offset=1).total == 1

    lines = q.budget_lines(db, f.PEMDA, f.YEAR)
    budget = ledger.budget(f.PEMDA, f.YEAR)
    assert [r["line_id"] for r in lines.rows] == list(budget.line_ids)  # the APBD's order
    for row in lines.rows:
        line = ledger.budget_line(UUID(row["line_id"]))
        assert (row["pagu"], row["committed"], row["realised"], row["skpd"]) == (
            line.pagu, line.committed, line.realised, line.skpd
        )  # fmt: skip
    assert q.budget_lines(db, f.PEMDA, f.YEAR, skpds=(f.OTHER_SKPD,)).total == 1
    assert q.budget_lines(db, f.PEMDA, f.YEAR, rekening="5.1.02.01").total == 2
    assert q.budget_lines(db, f.PEMDA, f.YEAR, rekening="5.1.02.0_").total == 0  # no wildcard
    assert q.budget_line(db, OTHER_PEMDA, budget.line_ids[0]) is None

    runs = q.runs(db, f.PEMDA)
    assert [(r["business_date"], r["exceptions"], r["resolved"]) for r in runs.rows] == [
        ("2026-03-31", 3, 1),
        ("2026-04-01", 0, 0),
    ]
    assert [r["business_date"] for r in q.runs(db, f.PEMDA, state="open").rows] == ["2026-03-31"]
    assert q.runs(db, OTHER_PEMDA).total == 0
    march = q.run(db, f.PEMDA, world["march"], state="resolved")
    assert march is not None and march.run["version"] == 2
    [resolved] = march.exceptions.rows
    assert (resolved["exception_id"], resolved["resolution"], resolved["resolved_by"]) == (
        "EX-2",
        "explained",
        "kuasabud.dedi",
    )
    assert resolved["reason"] == "dana dalam perjalanan ke rekening Toko 2"
    still = q.run(db, f.PEMDA, world["march"], state="open")
    assert still is not None and [e["exception_id"] for e in still.exceptions.rows] == [
        "EX-1",
        "EX-3",
    ]
    assert q.run(db, OTHER_PEMDA, world["march"]) is None


def test_a_vendors_history_from_the_read_models_is_its_events_in_its_pemda_only(
    projected: tuple[Ledger, Projector, dict[str, Any]],
) -> None:
    ledger, projector, _ = projected
    db = projector.db
    vendor = q.vendor(db, f.PEMDA, f.NPWP_DIGITS)
    assert vendor is not None
    ledger.execute(c.DeactivateVendor(idempotency_key=f.key("off"), actor=f.ADMIN, pemda=f.PEMDA,
                                      npwp=f.NPWP_DIGITS, reason="izin dicabut"))  # fmt: skip
    projector.catch_up()
    found = q.vendor_history(db, f.PEMDA, vendor["vendor_id"])
    events = history.history(ledger, ids.vendor_id(f.PEMDA, f.NPWP_DIGITS))
    assert [e["event"] for e in found] == [f"Vendor.{e.event}" for e in events]
    assert [e["actor_id"] for e in found] == [e.actor_id for e in events]
    assert found[-1]["reason"] == "izin dicabut"
    assert found[0]["detail"]["bank_account"] == events[0].details["bank_account"]
    assert q.vendor_history(db, OTHER_PEMDA, vendor["vendor_id"]) == []


def test_every_aggregate_of_the_log_has_its_owner(
    projected: tuple[Ledger, Projector, dict[str, Any]],
) -> None:
    ledger, projector, _ = projected
    firsts = [
        n for n in ledger.recorder.select_notifications(start=1, limit=10_000)
        if n.originator_version == 1
    ]  # fmt: skip
    assert len(firsts) > 10  # (receipts and number claims are kept apart from the log)
    for notification in firsts:
        event: Any = ledger.mapper.to_domain_event(notification)
        found = q.owner(projector.db, str(notification.originator_id))
        assert found is not None
        assert (found.pemda, found.kind) == (event.pemda, type(event).__qualname__.split(".")[0])
    payment = q.owner(projector.db, str(f.disbursement_id("SPP-3")))
    assert payment is not None and (payment.skpd, payment.kind) == (f.OTHER_SKPD, "Disbursement")
    assert payment.vendor_id == str(ids.vendor_id(f.PEMDA, f.NPWP_DIGITS))
    everything = [str(n.originator_id) for n in firsts]
    mine = q.kinds_owned(projector.db, OTHER_PEMDA, everything)
    assert set(mine.values()) >= {"Budget", "BudgetLine", "Vendor", "Disbursement"}
    assert all(q.owner(projector.db, a).pemda == OTHER_PEMDA for a in mine)  # type: ignore[union-attr]


def test_sealed_columns_open_in_the_lists_and_stay_sealed_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kasda.db"
    key = base64.b64encode(os.urandom(32)).decode()
    ledger = Ledger(f"sqlite:///{path}", clock=FixedClock(), env={"KASDA_CIPHER_KEY": key})
    try:
        world = _world(ledger)
        projector = Projector(ledger)
        projector.catch_up()
        vendors = q.vendors(projector.db, f.PEMDA, name="sehat")
        assert [(v["npwp"], v["name"]) for v in vendors.rows] == [(OTHER_NPWP, "CV Sumber Sehat")]
        assert q.disbursements(projector.db, f.PEMDA).rows[0]["npwp_sealed"] == f.NPWP_DIGITS
        march = q.run(projector.db, f.PEMDA, world["march"])
        assert march is not None and march.exceptions.rows[0]["detail"] == (
            "debit tanpa SP2D ke Toko 1"
        )
        projector.close()
    finally:
        ledger.close()
    with sqlite3.connect(path) as raw:
        stored = b"".join(
            repr(row).encode()
            for table in ("proj_vendor", "proj_run_exception", "proj_payment", "proj_history")
            for row in raw.execute(f"SELECT * FROM {table}")
        )
    for secret in (OTHER_NPWP, "Sumber Sehat", "Toko 1", "dokumen tidak lengkap"):
        assert secret.encode() not in stored


def test_stored_models_of_the_older_version_are_rebuilt(tmp_path: Path) -> None:
    """A database whose read models an older kasda built (version 1: no owners, no runs) is
    rebuilt from the log when a projector of this version opens it."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}", clock=FixedClock())
    try:
        _world(ledger)
        first = Projector(ledger)
        first.catch_up()
        with first.db.transaction() as cursor:
            cursor.execute("UPDATE proj_position SET version = 1")
            cursor.execute("DROP TABLE proj_owner")
        first.close()
        again = Projector(ledger)
        assert again.position() == 0
        again.catch_up()
        assert q.owner(again.db, str(f.disbursement_id("SPP-1"))) is not None
        again.close()
    finally:
        ledger.close()


# -- the API -----------------------------------------------------------------------------------
def _projection_thread() -> bool:
    return threading.current_thread().name.startswith(("kasda-projector", "kasda-read-ahead"))


def test_start_up_reads_no_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the API on a store with a history reads none of it (the read models carry their
    position); only the projector thread reads the log, and a list then shows the history."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    config = settings(url)
    with TestClient(create_app(config)) as client:
        world = build_world(client, config)
    ledger = Ledger(url)
    readers: list[str] = []

    def spy(original: Any) -> Any:
        def reading(*args: Any, **kw: Any) -> Any:
            if not _projection_thread():
                readers.append(threading.current_thread().name)
            return original(*args, **kw)

        return reading

    recorder = type(ledger.recorder)
    monkeypatch.setattr(recorder, "select_notifications", spy(recorder.select_notifications))
    monkeypatch.setattr(EventSource, "page", spy(EventSource.page))
    try:
        app = create_app(config, ledger=ledger)
        assert readers == [], "building the application read the event log"
        with TestClient(app) as client:
            assert readers == [], "start-up read the event log"
            # The history is there once the projector thread reached the last write.
            listed = get(
                client, config, Role.AUDITOR, "/disbursements", params={"after": world["position"]}
            )
            assert [x["spp_number"] for x in expect(listed, 200)["items"]] == ["SPP-1", "SPP-2"]
            assert int(listed.headers[POSITION_HEADER]) >= int(world["position"])
        assert readers == [], "a list read the event log instead of the read models"
    finally:
        ledger.close()


@pytest.fixture(params=["sqlite", "postgres"])
def api_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_url(str(request.param), tmp_path, request)


def test_a_page_is_stable_while_payments_are_added(api_url: str) -> None:
    """Pages in request order: paging through while payments are requested neither repeats nor
    skips one, and what the client wrote is in the next page it asks for (``latest``)."""
    config = settings(api_url)
    with TestClient(create_app(config)) as client:
        build_world(client, config)
        seen: list[str] = []
        offset: int | None = 0
        for n in itertools.count(1):
            if n <= 4:  # a write before each page: it comes after every row already listed
                body = request_body(f"N-{n}")
                expect(post(client, config, Role.PPTK, "/disbursements", body), 201)
            params = {"limit": 2, "offset": offset}
            response = get(client, config, Role.AUDITOR, "/disbursements", params=params)
            page = expect(response, 200)
            assert int(response.headers[POSITION_HEADER]) > 0
            seen += [x["spp_number"] for x in page["items"]]
            offset = page["next_offset"]
            if offset is None:
                break
        everything = expect(get(client, config, Role.AUDITOR, "/disbursements"), 200)["items"]
        assert seen == [x["spp_number"] for x in everything]
        assert seen == ["SPP-1", "SPP-2", "N-1", "N-2"]  # each once, the writes last


def test_a_read_waits_for_its_position_only_so_long(tmp_path: Path) -> None:
    """A projection that cannot reach the position a read needs: 503 with Retry-After after the
    read's wait limit, not a wait without end; once it moves again, the read answers."""
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    app = create_app(config)
    with TestClient(app) as client:
        build_world(client, config)
        models = app.state.read_models
        models.wait_limit = 0.3
        held = threading.Event()
        catch_up = models.projector.catch_up

        def stuck(*args: Any, **kw: Any) -> Any:
            held.wait(10)
            return catch_up(*args, **kw)

        models.projector.catch_up = stuck
        try:
            body = request_body("SPP-LATE")
            written = expect(post(client, config, Role.PPTK, "/disbursements", body), 201)
            refused = get(client, config, Role.AUDITOR, "/disbursements")
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["rule"] == "store_unavailable"
        finally:
            held.set()
            models.projector.catch_up = catch_up
        params = {"after": written["position"]}
        listed = expect(get(client, config, Role.AUDITOR, "/disbursements", params=params), 200)
        assert "SPP-LATE" in [x["spp_number"] for x in listed["items"]]
