"""Fixtures: the same ledger tests run on the in-memory store, a real SQLite file and a real
PostgreSQL server (``KASDA_TEST_POSTGRES_URL``). Locally an unreachable PostgreSQL skips its tests with
a loud reason; with ``CI=true`` it fails them instead."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from kasda.settings import Settings
from ledger.application import Ledger
from ledger.store import postgres_problem
from testkit.clock import FixedClock

BACKENDS = ["memory", "sqlite", "postgres"]
SETTINGS = Settings.from_env()  # once, when the session starts (monkeypatched values come later)


def postgres_url() -> str:
    """The PostgreSQL server of the tests (``KASDA_TEST_POSTGRES_URL``)."""
    return SETTINGS.test_postgres_url


def require_postgres() -> None:
    problem = postgres_problem(postgres_url())
    if problem is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {problem}", pytrace=False)
    pytest.skip(f"!!! SKIPPING POSTGRESQL TEST: {problem} (set KASDA_TEST_POSTGRES_URL)")


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL with a fresh schema of its own, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    base = postgres_url()
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}schema={schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def make_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'kasda.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store, once per backend."""
    return make_url(str(request.param), tmp_path, request)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = Ledger(ledger_url, clock=FixedClock())
    yield app
    app.close()
