"""Faults heal by themselves: each test injects one fault into a real store and asserts that kasda
recovers without a restart, answers 503 with ``Retry-After`` (never a 500, never a wait without
bound) while it cannot serve, and loses no acknowledged write.

- PostgreSQL drops the server's connections (``pg_terminate_backend`` on this test's backends, found
  by their ``application_name``);
- the network to PostgreSQL drops connections and black-holes traffic (``FaultyProxy``, a small TCP
  proxy on 127.0.0.1 in front of the server);
- a SQLite file is briefly unwritable (immutable as root, read-only otherwise);
- ``kasda serve`` cannot start (the database is down).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from eventsourcing.persistence import PersistenceError
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app
from api.readmodels import POSITION_HEADER
from kasda.settings import Settings
from ledger import ids
from ledger.application import Ledger
from ledger.roles import Role
from ledger.vendor import normalise_npwp
from projections.runner import NAME as PROJECTOR_NAME
from projections.runner import Projector
from testkit.api import adopt_body, expect, request_body, settings, vendor_body
from testkit.api import get as api_get
from testkit.api import post as api_post
from testkit.world import MEDIA, YEAR
from tests import factory as f
from tests.conftest import postgres_url

TIMEOUTS = {"KASDA_DB_STATEMENT_TIMEOUT": "1", "KASDA_DB_CONNECT_TIMEOUT": "2"}
BOUND = 8.0  # seconds: the longest a request may take to answer while the database is unreachable
HEAL = 20.0
GROSS = 5_000_000  # seconds allowed to recover once the database is back


class FaultyProxy:
    """TCP proxy on 127.0.0.1 in front of one server. ``drop()`` closes every connection through
    it; ``black_hole()`` keeps accepting and keeps every socket open but forwards nothing (bytes
    are swallowed, as on a network that drops packets); ``forward()`` heals it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.swallowing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if self.swallowing.is_set():
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        try:
            while data := source.recv(65536):
                if sink is not None and not self.swallowing.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def black_hole(self) -> None:
        self.swallowing.set()

    def forward(self) -> None:
        self.swallowing.clear()

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.drop()


@pytest.fixture
def bounded(monkeypatch: pytest.MonkeyPatch) -> str:
    """Short timeouts, and an ``application_name`` that tells this test's backends apart."""
    for name, value in TIMEOUTS.items():
        monkeypatch.setenv(name, value)
    name = f"kasda-faults-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", name)
    return name


def terminate(application_name: str) -> int:
    with psycopg.connect(postgres_url(), autocommit=True, application_name="kasda-killer") as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def until(check: Callable[[], Any], seconds: float = HEAL) -> Any:
    """Call ``check`` until it returns something truthy (the recovery), at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not healed within {seconds} s"
        time.sleep(0.1)


class Api:
    def __init__(self, client: TestClient, url: str) -> None:
        self.client = client
        self.config = settings(url)

    def post(
        self, path: str, body: dict[str, Any], key: str, role: Role = Role.BPKAD_ADMIN
    ) -> httpx.Response:
        return api_post(self.client, self.config, role, path, body, key=key)

    def request(self, spp: str) -> httpx.Response:
        """A disbursement request of ``GROSS`` on the media line, its SPP number as its key."""
        return self.post("/disbursements", request_body(spp, GROSS), spp, Role.PPTK)

    def lra(self, **params: Any) -> httpx.Response:
        return api_get(
            self.client,
            self.config,
            Role.AUDITOR,
            "/lra",
            params={"year": YEAR, "level": "rekening", **params},
        )

    def set_up(self) -> None:
        expect(self.post("/budgets", adopt_body(), "adopt"), 201)
        expect(self.post("/vendors", vendor_body(), "vendor"), 201)


@contextlib.contextmanager
def serving(url: str) -> Iterator[Api]:
    ledger = Settings.from_env().open_ledger(url)  # the timeouts of ``bounded``
    app = create_app(settings(url), ledger=ledger)
    try:
        with TestClient(app) as client:
            api = Api(client, url)
            api.config = app.state.settings  # tokens signed with this app's secret
            yield api
    finally:
        app.state.read_models.close()
        ledger.close()


def write_until_acknowledged(api: Api, spp: str) -> int:
    """Send one write (always the same key) until it is acknowledged; every refusal in between
    is a 503 with Retry-After. Its position."""

    def attempt() -> int:
        response = api.request(spp)
        if response.status_code == 503:
            assert response.headers["Retry-After"]
            return 0
        return int(expect(response, 201)["position"])

    return int(until(attempt))


def report_until_fresh(api: Api, **params: Any) -> dict[str, Any]:
    def attempt() -> dict[str, Any] | None:
        response = api.lra(**params)
        if response.status_code == 503:
            assert response.headers["Retry-After"]
            return None
        return expect(response, 200)

    found: dict[str, Any] = until(attempt)
    return found


def committed(report: dict[str, Any]) -> int:
    """What the LRA says is committed on the media line: ``GROSS`` per request on record."""
    return int({r["kode"]: r["committed"] for r in report["rows"]["items"]}[MEDIA])


def recent_position(api: Api) -> int:
    return int(api.lra().headers[POSITION_HEADER])


@pytest.mark.postgres
def test_terminated_backends_are_replaced_and_reports_stay_fresh(
    pg_schema_url: str, bounded: str
) -> None:
    with serving(pg_schema_url) as api:
        api.set_up()
        first = write_until_acknowledged(api, "SPP-1")
        assert committed(expect(api.lra(after=first), 200)) == GROSS
        for n in (2, 3):  # twice: the second time the replacements are dropped too
            assert terminate(bounded) >= 2  # the pool, the projector, the readers
            position = write_until_acknowledged(api, f"SPP-{n}")
            # nothing acknowledged is lost, and reports are as fresh as asked
            assert committed(report_until_fresh(api, after=position)) == n * GROSS
            assert committed(report_until_fresh(api, freshness="latest")) == n * GROSS
            # the follower reconnected: the default freshness catches up without being asked
            until(lambda p=position: recent_position(api) >= p)  # type: ignore[misc]


@pytest.mark.postgres
def test_a_black_holed_network_answers_503_within_the_timeouts_and_heals(
    pg_schema_url: str, bounded: str
) -> None:
    parts = urlsplit(pg_schema_url)
    proxy = FaultyProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    try:
        with serving(url) as api:
            api.set_up()
            first = write_until_acknowledged(api, "SPP-1")
            expect(api.lra(after=first), 200)

            proxy.black_hole()
            calls: list[Callable[[], httpx.Response]] = [
                lambda: api.request("SPP-2"),
                lambda: api.lra(freshness="latest"),
                lambda: api.request("SPP-2"),
                lambda: api.lra(after=first + 1),
            ]
            for call in calls:
                started = time.monotonic()
                response = call()
                took = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) >= 1
                assert took < BOUND, f"a request waited {took:.1f} s on a black hole"

            proxy.forward()
            proxy.drop()  # the connections that were open through the black hole go too
            position = write_until_acknowledged(api, "SPP-2")
            assert committed(report_until_fresh(api, after=position)) == 2 * GROSS
            until(lambda: recent_position(api) >= position)
    finally:
        proxy.close()


def stored_position(url: str) -> int:
    """The projector's position as committed, read on a connection of the test's own: the
    follower's connection belongs to its thread (two threads on one connection would nest each
    other's transactions)."""
    schema = parse_qs(urlsplit(url).query)["schema"][0]
    with psycopg.connect(
        postgres_url(), autocommit=True, application_name="kasda-observer"
    ) as conn:
        row = conn.execute(
            sql.SQL("SELECT position FROM {}.proj_position WHERE name = %s").format(
                sql.Identifier(schema)
            ),
            (PROJECTOR_NAME,),
        ).fetchone()
    return 0 if row is None else int(row[0])


@pytest.mark.postgres
def test_project_follow_outlives_terminated_backends(pg_schema_url: str, bounded: str) -> None:
    writer = Settings.from_env().open_ledger(pg_schema_url)  # the timeouts of ``bounded``
    projector = Projector(Settings.from_env().open_ledger(pg_schema_url))
    stop = threading.Event()
    errors: list[Exception] = []
    follower = threading.Thread(
        target=projector.follow,
        args=(stop,),
        kwargs={"interval": 0.1, "on_error": lambda e, _: errors.append(e)},
    )
    try:
        f.adopt(writer)
        follower.start()
        head = int(writer.recorder.max_notification_id() or 0)
        until(lambda: stored_position(pg_schema_url) >= head)
        terminate(bounded)
        f.register_vendor(writer)  # the writer's pool heals on its own
        head = int(writer.recorder.max_notification_id() or 0)
        until(lambda: stored_position(pg_schema_url) >= head)
        assert follower.is_alive()
        assert errors, "the termination was not noticed"
    finally:
        stop.set()
        follower.join(timeout=30)
        projector.close()
        projector.ledger.close()
        writer.close()


@contextlib.contextmanager
def unwritable(database: Path) -> Iterator[None]:
    """The SQLite file and its WAL cannot be written, even by root (immutable), then can again."""
    paths = [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        return
    modes = [p.stat().st_mode for p in paths]
    for p in paths:
        p.chmod(0o444)
    try:
        yield
    finally:
        for p, mode in zip(paths, modes, strict=True):
            p.chmod(mode)


def test_sqlite_connections_opened_read_only_are_replaced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    first = Ledger(url)
    f.adopt(first)
    first.close()
    with unwritable(tmp_path / "kasda.db"):
        # kasda starts while the file cannot be written: its connections open read-only
        ledger = Ledger(url)
        with pytest.raises(PersistenceError, match="readonly"):
            f.register_vendor(ledger)
    try:
        # the file is writable again: so is kasda, without a restart, and nothing was lost
        f.register_vendor(ledger)
        assert len(ledger.budget_lines(f.PEMDA, f.YEAR)) == 2
        assert ledger.vendor(ids.vendor_id(f.PEMDA, normalise_npwp(f.NPWP))).active
    finally:
        ledger.close()


def test_sqlite_api_writes_and_reports_heal_after_a_read_only_window(tmp_path: Path) -> None:
    path = tmp_path / "kasda.db"
    with serving(f"sqlite:///{path}") as api:
        api.set_up()
        first = write_until_acknowledged(api, "SPP-1")
        with unwritable(path):
            refused = api.request("SPP-2")
            assert refused.status_code == 503 and refused.headers["Retry-After"]
        position = write_until_acknowledged(api, "SPP-2")
        assert position > first
        assert committed(report_until_fresh(api, after=position)) == 2 * GROSS


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_exits_non_zero_when_the_database_is_down(tmp_path: Path, workers: int) -> None:
    environment = {
        **os.environ,
        "KASDA_JWT_SECRET": "s" * 48,
        "KASDA_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_closed_port()}/test",
        **TIMEOUTS,
    }
    port = str(_closed_port())
    done = subprocess.run(
        [sys.executable, "-m", "kasda.cli", "serve", "--port", port, "--workers", str(workers)],
        check=False,
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0, done.stderr[-2000:]
