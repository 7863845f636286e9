"""A store per pemda (``KASDA_TENANCY=schema``, ``api/tenants.py``), on SQLite and PostgreSQL.

Two pemda are made with ``kasda tenant-add``; each adopts an APBD and registers a vendor through
the API of one app. Then: each pemda's events are in its own store and only there (nothing in the
configured store itself), each store's hash chain verifies (``verify``, and ``kasda verify --pemda``),
each pemda reads only its own data through the API and the web pages, a token of one pemda on the
other's routes is a 404, and a pemda whose store was never made is a 404 that makes no store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api import tenants as tenancy
from api.app import create_app
from api.problems import ProblemError
from api.settings import ApiSettings
from api.tenants import Tenants
from gateways.config import GatewaySettings
from kasda import cli
from ledger import ids
from ledger.application import Ledger
from ledger.errors import NotFound
from ledger.roles import Role
from ledger.store import store_exists, tenant_url
from ledger.verify import verify
from testkit.api import adopt_body, bearer, expect, get, post, vendor_body
from testkit.web import sign_in, web_settings
from testkit.world import NPWP, OTHER_PEMDA, PEMDA, YEAR
from tests.conftest import postgres_url, require_postgres

UNSERVED = "35.78"  # Kota Surabaya: a valid code with no store here
PAGU = {PEMDA: 1_000_000_000, OTHER_PEMDA: 7_000_000_000}


@pytest.fixture(params=["sqlite", "postgres"])
def base_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The configured store's URL; each pemda's store is made beside it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kasda.db'}"
        return
    require_postgres()
    prefix = f"t_{uuid.uuid4().hex[:12]}"
    base = postgres_url()
    yield f"{base}{'&' if '?' in base else '?'}schema={prefix}"
    with psycopg.connect(base, autocommit=True) as conn:
        found = conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
            (f"{prefix}%",),
        ).fetchall()
        for (schema,) in found:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def kasda(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str) -> int:
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    monkeypatch.setenv("KASDA_TENANCY", "schema")
    return cli.main(list(argv))


def write_both(client: TestClient, config: ApiSettings) -> None:
    for pemda, pagu in PAGU.items():
        expect(
            post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body(pagu), pemda=pemda), 201
        )
        expect(post(client, config, Role.BPKAD_ADMIN, "/vendors", vendor_body(), pemda=pemda), 201)


def test_each_pemda_writes_reads_and_verifies_its_own_store(
    base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for pemda in PAGU:
        assert kasda(monkeypatch, base_url, "tenant-add", "--pemda", pemda) == 0
    config = web_settings(base_url, tenancy="schema")
    with TestClient(create_app(config)) as client:
        write_both(client, config)
        for pemda, pagu in PAGU.items():
            lines = expect(
                get(client, config, Role.PPK, f"/budgets/{YEAR}/lines", pemda=pemda), 200
            )
            assert {line["pagu"] for line in lines["items"]} == {pagu}
            found = expect(get(client, config, Role.AUDITOR, f"/vendors/{NPWP}", pemda=pemda), 200)
            assert found["id"] == str(ids.vendor_id(pemda, NPWP))
        assert sorted(client.app.state.tenants.opened()) == sorted(PAGU)  # type: ignore[attr-defined]
        sign_in(client, config, Role.AUDITOR)  # a demo user of PEMDA
        exported = client.get("/audit/integritas/ekspor.jsonl")
        assert exported.status_code == 200
        assert str(ids.budget_id(PEMDA, YEAR)) in exported.text
        assert str(ids.budget_id(OTHER_PEMDA, YEAR)) not in exported.text
    assert not store_exists(base_url)  # nothing went to the configured store itself
    for pemda in PAGU:
        other = OTHER_PEMDA if pemda == PEMDA else PEMDA
        ledger = Ledger(tenant_url(base_url, pemda))
        try:
            assert ledger.budget(pemda, YEAR).year == YEAR
            with pytest.raises(NotFound):
                ledger.budget(other, YEAR)
            report = verify(ledger)
            assert report.ok and report.events > 0, report
        finally:
            ledger.close()
        capsys.readouterr()
        assert kasda(monkeypatch, base_url, "verify", "--pemda", pemda) == 0
        assert "kasda verify: OK" in capsys.readouterr().out


def test_another_pemda_and_a_pemda_not_served_get_404(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kasda(monkeypatch, base_url, "tenant-add", "--pemda", PEMDA) == 0
    config = web_settings(base_url, tenancy="schema")
    with TestClient(create_app(config)) as client:
        expect(post(client, config, Role.BPKAD_ADMIN, "/budgets", adopt_body()), 201)
        for pemda in (OTHER_PEMDA, UNSERVED):
            answer = get(client, config, Role.AUDITOR, f"/budgets/{YEAR}", pemda=pemda)
            assert answer.status_code == 404, answer.text
            assert answer.json()["rule"] == "tenant_scope"
        # A token of PEMDA on OTHER_PEMDA's routes: 404 before any store is looked at.
        crossed = client.get(
            f"/pemda/{OTHER_PEMDA}/budgets/{YEAR}",
            headers=bearer(config, Role.AUDITOR, pemda=PEMDA),
        )
        assert crossed.status_code == 404, crossed.text
        assert sorted(client.app.state.tenants.opened()) == [PEMDA]  # type: ignore[attr-defined]
    for pemda in (OTHER_PEMDA, UNSERVED):
        assert not store_exists(tenant_url(base_url, pemda))  # a request makes no store


def test_commands_need_the_pemda_when_each_has_its_store(
    base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert kasda(monkeypatch, base_url, "verify") == 2
    assert "--pemda" in capsys.readouterr().err
    assert not store_exists(base_url)
    monkeypatch.setenv("KASDA_TENANCY", "shared")
    assert cli.main(["tenant-add", "--pemda", PEMDA]) == 2


def test_tenant_urls_keep_every_pemda_apart() -> None:
    assert tenant_url("postgresql://u@h:5432/db", "32.73").endswith("?schema=kasda_3273")
    assert tenant_url("postgresql://u@h/db?schema=prov", "32").endswith("?schema=prov_32")
    assert (
        tenant_url("sqlite:////srv/kasda/kasda.db", "32.04") == "sqlite:////srv/kasda/kasda_3204.db"
    )
    assert tenant_url("memory://", "32.73") == "memory://"


def test_a_process_opens_at_most_its_limit_of_pemda(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    for pemda in PAGU:
        Ledger(tenant_url(url, pemda)).close()  # what kasda tenant-add makes
    tenants = Tenants(web_settings(url, tenancy="schema"), limit=1)
    try:
        assert tenants.open(PEMDA) is tenants.open(PEMDA)  # opened once, then kept
        with pytest.raises(ProblemError) as refused:
            tenants.open(OTHER_PEMDA)
        assert (refused.value.status, refused.value.rule) == (503, "too_many_pemda")
    finally:
        tenants.close()
    assert tenants.opened() == {}


def test_gateway_notifications_reach_the_store_their_path_names(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a store per pemda the gateway is given one notification URL per pemda
    (``/webhooks/{pemda}/midtrans``): it opens that pemda's store and the signature is checked as
    on the shared path; the path without a pemda names no store (503, the gateway retries), and a
    pemda not served is a 404 that makes no store."""
    assert kasda(monkeypatch, base_url, "tenant-add", "--pemda", PEMDA) == 0
    config = web_settings(base_url, tenancy="schema")
    forged = {"order_id": "KASDA-1", "status_code": "200", "gross_amount": "1000.00",
              "signature_key": "0" * 128}  # fmt: skip
    with TestClient(create_app(config)) as client:
        client.app.state.gateway_settings = GatewaySettings(  # type: ignore[attr-defined]
            server_key="SB-Mid-server-test", iris_creator_key="c", iris_approver_key="a",
            iris_merchant_key="m")  # fmt: skip
        assert client.post("/webhooks/midtrans", json=forged).status_code == 503
        answer = client.post(f"/webhooks/{PEMDA}/midtrans", json=forged)
        assert answer.status_code == 401, answer.text  # reached the handler, on PEMDA's store
        assert answer.json() == {"error": "invalid signature"}
        assert sorted(client.app.state.tenants.opened()) == [PEMDA]  # type: ignore[attr-defined]
        unserved = client.post(f"/webhooks/{UNSERVED}/iris", json=forged)
        assert unserved.status_code == 404, unserved.text
    assert not store_exists(tenant_url(base_url, UNSERVED))


def test_a_pemda_not_served_is_answered_from_memory_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway paths take no sign-in: requests naming a pemda not served must not each take
    the opening lock and a look at the database. A store made later is served once that memory
    lapses (``ABSENT_FOR``)."""
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    looked: list[str] = []

    def exists(store: str) -> bool:
        looked.append(store)
        return store_exists(store)

    monkeypatch.setattr(tenancy, "store_exists", exists)
    now = [0.0]
    tenants = Tenants(web_settings(url, tenancy="schema"), clock=lambda: now[0])
    try:
        for _ in range(50):
            with pytest.raises(ProblemError) as refused:
                asyncio.run(tenants.of(UNSERVED))
            assert (refused.value.status, refused.value.rule) == (404, "tenant_scope")
        assert len(looked) == 1
        Ledger(tenant_url(url, UNSERVED)).close()  # kasda tenant-add, meanwhile
        with pytest.raises(ProblemError):
            asyncio.run(tenants.of(UNSERVED))  # still remembered as not served
        now[0] += tenancy.ABSENT_FOR + 1  # the memory lapses
        assert asyncio.run(tenants.of(UNSERVED)).ledger is not None
        assert len(looked) == 2
    finally:
        tenants.close()
