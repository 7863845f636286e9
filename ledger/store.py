"""Where events live, chosen by one URL (``KASDA_DATABASE_URL``, read by ``kasda/settings.py``):

- ``sqlite:///kasda.db`` (the default: embedded, a file next to where kasda runs), ``sqlite:////abs/path.db``
- ``postgresql://user:password@host:port/dbname?schema=name`` (psycopg 3)
- ``memory://`` (in-process, for unit tests and throw-away runs)

A deployment that serves many pemda may give each its own store (``KASDA_TENANCY=schema``):
``tenant_url`` derives a pemda's store from that one URL, ``store_exists`` says whether it was made.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from ledger.cipher import KEY_VARIABLE, cipher_env
from ledger.connections import (
    CONNECT_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    STATEMENT_TIMEOUT,
)
from ledger.errors import InvalidInput
from ledger.fields import pemda_code

DEFAULT_DATABASE_URL = "sqlite:///kasda.db"
DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
# The schema (or file stem) a pemda's own store is named after when the URL names none.
TENANT_PREFIX = "kasda"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def tenant_url(url: str, pemda: str) -> str:
    """The store of ``pemda`` alone, next to the store ``url`` names: on PostgreSQL the schema
    ``<schema>_<code digits>`` (``kasda_3273`` for 32.73 when the URL names no schema), on SQLite
    the file ``<stem>_<code digits><suffix>`` in the same folder; ``memory://`` is separate in
    every ``Ledger`` already. The digits of a Kemendagri code keep every pemda's name distinct
    (``32`` and ``32.73`` give ``_32`` and ``_3273``). ``InvalidInput`` for a malformed code."""
    digits = pemda_code(pemda).replace(".", "")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in _POSTGRES_SCHEMES:
        query = parse_qs(parts.query)
        query["schema"] = [f"{query.get('schema', [TENANT_PREFIX])[0]}_{digits}"]
        return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    if scheme == "sqlite":
        path = Path(_sqlite_path(url))
        return f"sqlite:///{path.with_name(f'{path.stem}_{digits}{path.suffix}')}"
    _store_env(url)  # a malformed URL is refused as ``Ledger`` would refuse it
    return url


def store_exists(url: str) -> bool:
    """Whether the store ``url`` names was made (its SQLite file, its PostgreSQL schema), without
    making it; ``memory://`` always is. Waits at most ``DEFAULT_CONNECT_TIMEOUT`` to connect."""
    env = _store_env(url)
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        return Path(env["SQLITE_DBNAME"]).is_file()
    if module != "eventsourcing.postgres":
        return True
    import psycopg

    with psycopg.connect(**_connect_args(env), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
            (env.get("POSTGRES_SCHEMA", "public"),),
        ).fetchone()
    return found is not None


def _sqlite_path(url: str) -> str:
    parts = urlsplit(url)
    # sqlite:///relative.db -> path "relative.db"; sqlite:////abs.db -> "/abs.db"
    path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    if not path:
        raise InvalidInput(f"database URL {url!r} names no SQLite file")
    return path


def postgres_problem(url: str) -> str | None:
    """Why the PostgreSQL server at ``url`` cannot be used, or None when it answers."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {url} is unreachable: {error}".strip()
    return None


def store_options(
    *,
    cipher_key: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
) -> dict[str, str]:
    """kasda's options for a store, as ``Ledger(url, env=...)`` and ``env_for_url`` take them:
    the key that encrypts event bodies (``KASDA_CIPHER_KEY``), and the bounds of every wait on
    PostgreSQL, in seconds (``KASDA_DB_CONNECT_TIMEOUT``, at least 2 for libpq, and
    ``KASDA_DB_STATEMENT_TIMEOUT``; see ``ledger/connections.py``)."""
    assert connect_timeout > 0 and statement_timeout > 0, (connect_timeout, statement_timeout)
    options = {
        CONNECT_TIMEOUT: str(max(2, round(connect_timeout))),
        STATEMENT_TIMEOUT: str(statement_timeout),
    }
    if cipher_key:
        options[KEY_VARIABLE] = cipher_key
    return options


def env_for_url(url: str, options: Mapping[str, str] | None = None) -> dict[str, str]:
    """Translate a database URL into the ``eventsourcing`` library's settings, with kasda's
    ``options`` (``store_options``): the cipher settings when they hold a key (``InvalidInput``
    if that key is malformed), and the bounds of every wait."""
    env = _store_env(url)
    env.update(options or {})
    env.update(cipher_env(env.get(KEY_VARIABLE), env.get("PERSISTENCE_MODULE", "")))
    return env


def _store_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("memory", "popo"):
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if scheme == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": "ledger.chained:ChainedSQLiteApplicationRecorder",
            "SQLITE_DBNAME": _sqlite_path(url),
            # Writers wait for each other rather than fail at once (seconds).
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if scheme in _POSTGRES_SCHEMES:
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "ledger.chained:ChainedPostgresApplicationRecorder",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            # Bounded waits (ledger/connections.py): connect and pool wait, and the statement bound
            # that ``bound_pool`` (ledger/chained.py) sets on the pool's connections.
            CONNECT_TIMEOUT: str(DEFAULT_CONNECT_TIMEOUT),
            STATEMENT_TIMEOUT: str(DEFAULT_STATEMENT_TIMEOUT),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": "4",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise InvalidInput(
        f"unsupported database URL {url!r}: use sqlite:///FILE, postgresql://... or memory://"
    )


# Session-level advisory lock taken while a process sets up a PostgreSQL store (any schema).
_SETUP_LOCK = 0x6B61_7364_6101  # "kasda" 01


def prepare(env: dict[str, str]) -> None:
    """Create what the library expects to exist already: a PostgreSQL schema named in the URL."""
    with setting_up(env):
        pass


@contextmanager
def setting_up(env: dict[str, str]) -> Iterator[None]:
    """Create the PostgreSQL schema named in the URL, and hold the store's set-up lock until the
    block (which creates the library's tables) ends. Processes starting at the same moment would
    otherwise race in the catalog: ``CREATE SCHEMA IF NOT EXISTS`` fails with a duplicate key, and
    the library's ``CREATE TABLE IF NOT EXISTS`` / ``CREATE OR REPLACE FUNCTION`` with "tuple
    concurrently updated". Other stores need no set-up."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(**_connect_args(env), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '60s'")
        conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            if schema := env.get("POSTGRES_SCHEMA"):
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


def _connect_args(env: dict[str, str]) -> dict[str, Any]:
    """psycopg's connection arguments for the PostgreSQL store of ``env`` (``_store_env``)."""
    return {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": int(env["POSTGRES_PORT"]),
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"] or None,
        "connect_timeout": int(env.get("POSTGRES_CONNECT_TIMEOUT", "5")),
    }
