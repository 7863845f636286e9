"""How kasda holds its database connections when the database misbehaves.

Three rules, for every long-lived connection (the writer's pool, the read models' connections, the
projector's LISTEN connection):

- **Every wait is bounded.** Opening a connection waits at most ``KASDA_DB_CONNECT_TIMEOUT``
  seconds, and so does waiting for a free connection of the pool; a statement runs at most
  ``KASDA_DB_STATEMENT_TIMEOUT`` seconds in the server (``statement_timeout``), and kasda waits at
  most that long for any answer on a PostgreSQL connection (``BoundedConnection``): a network that
  swallows packets (a black hole) otherwise leaves a request waiting for TCP to give up, many
  minutes later. A connection that timed out is closed, never reused (its protocol state is
  unknown). The error is a ``PersistenceError``, which the API answers 503 with ``Retry-After``.
- **A broken connection is replaced**, not kept: after the server dropped it (a restart, a
  failover, ``pg_terminate_backend``), or, on SQLite, when it was opened read-only because the file
  was briefly unwritable (SQLite silently opens such a file read-only, and the connection stays so).
- **Reconnect with backoff**: loops that keep going (the projector's follow) wait ``Backoff`` after
  a failure, growing from 0.1 s to 5 s with jitter, and start over at once after a success.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import Row

DEFAULT_CONNECT_TIMEOUT = 5  # seconds; libpq's minimum is 2
DEFAULT_STATEMENT_TIMEOUT = 10.0  # seconds
# The store's settings (``Ledger.env``, made by ``ledger.store.env_for_url``) carry both bounds:
# the library's own connect timeout, and kasda's statement bound, which the library ignores.
CONNECT_TIMEOUT = "POSTGRES_CONNECT_TIMEOUT"
STATEMENT_TIMEOUT = "POSTGRES_STATEMENT_TIMEOUT"
# A library call that failed on a broken connection is tried again on another one, but only while
# failures come fast (a dropped connection fails at once): a wait that already used a timeout is not
# doubled by a retry.
RETRY_WITHIN = 1.0  # seconds
RETRY_ATTEMPTS = 8

T = TypeVar("T")


def connect_timeout(env: Mapping[str, str]) -> int:
    """Seconds to open a connection or wait for a pooled one (``KASDA_DB_CONNECT_TIMEOUT``)."""
    return max(2, round(float(env.get(CONNECT_TIMEOUT) or DEFAULT_CONNECT_TIMEOUT)))


def statement_timeout(env: Mapping[str, str]) -> float:
    """Seconds a statement may run and kasda waits for an answer (``KASDA_DB_STATEMENT_TIMEOUT``)."""
    return float(env.get(STATEMENT_TIMEOUT) or DEFAULT_STATEMENT_TIMEOUT)


def retrying(call: Callable[[], T]) -> T:
    """``call()``, tried again on a connection error while failures come fast (within
    ``RETRY_WITHIN``): right after the server dropped the pool's connections each one fails at
    once and the next attempt gets a new one; a failure that took a timeout is not waited for
    again. Safe for reads, and for the library's inserts (a repeat collides on the unique key)."""
    from eventsourcing.persistence import InterfaceError, OperationalError

    started = time.monotonic()
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return call()
        except (InterfaceError, OperationalError):
            if attempt == RETRY_ATTEMPTS or time.monotonic() - started > RETRY_WITHIN:
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


# A write of many rows (adopting an APBD of 10,000 lines stores ~10k events in one statement) may
# take longer than the statement bound: its bound grows by this much per row written, so a large
# batch is not cut off while a black-holed network is still given up on, in proportion to what
# was sent.
ROW_ALLOWANCE = 0.001  # seconds per row


def write_bound(base_seconds: float, rows: int) -> float:
    """Seconds a write of ``rows`` rows may take (server and answer), from the statement bound."""
    assert base_seconds > 0 and rows >= 0, (base_seconds, rows)
    return base_seconds + rows * ROW_ALLOWANCE


@contextmanager
def answering_within(
    conn: psycopg.Connection[Any], seconds: float, *, set_local: bool = True
) -> Iterator[None]:
    """Let ``conn`` (a ``BoundedConnection``) wait up to ``seconds`` for each answer in the block,
    and the server run each statement as long (``SET LOCAL``: the block must be a transaction).
    ``set_local=False``: the block sends ``statement_timeout_sql(seconds)`` itself, in its first
    query (one round trip less)."""
    if not isinstance(conn, BoundedConnection):
        yield
        return
    conn.answer_timeout = seconds
    try:
        if set_local:
            conn.execute(statement_timeout_sql(seconds))
        yield
    finally:
        del conn.answer_timeout  # back to the class's bound for the pool's next user


def statement_timeout_sql(seconds: float) -> bytes:
    """The ``SET LOCAL`` that lets the server run each statement of a transaction ``seconds``."""
    return b"SET LOCAL statement_timeout = %d" % round(seconds * 1000)


@contextmanager
def by_hand(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """A transaction on an autocommit connection that the block's own queries begin and end
    (``BEGIN`` and ``COMMIT``/``ROLLBACK`` sent inside its simple queries, where
    ``conn.transaction()`` takes a round trip for each). Whatever way the block ends, the
    connection goes back to the pool outside a transaction: one still open (the block failed,
    or forgot to end it) is rolled back, and a block that forgot is an error."""
    try:
        yield
    except BaseException:
        _roll_back(conn)
        raise
    if _roll_back(conn):
        raise AssertionError("a transaction by hand was left open")


def _roll_back(conn: psycopg.Connection[Any]) -> bool:
    """Roll back the transaction open on ``conn``, if any (a broken connection has none left)."""
    if conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return False
    with suppress(psycopg.Error):
        conn.rollback()
    return True


def server_options(statement_seconds: float) -> str:
    """libpq ``options`` that make the server cancel a statement running longer than the bound."""
    return f"-c statement_timeout={round(statement_seconds * 1000)}"


class BoundedConnection(psycopg.Connection[Row]):
    """A psycopg connection that waits at most ``answer_timeout`` seconds for the server on any
    round trip (psycopg's own ``wait`` already takes a timeout; by default it has none). Use
    ``bounded(seconds)`` for the class with a given bound."""

    answer_timeout: float = DEFAULT_STATEMENT_TIMEOUT

    def wait(
        self,
        gen: Generator[Any, Any, T],
        interval: float = 0.1,
        timeout: float | None = None,
    ) -> T:
        bound = self.answer_timeout if timeout is None else min(timeout, self.answer_timeout)
        try:
            return super().wait(gen, interval=interval, timeout=bound)
        except pg_errors._WaitTimeout:
            if timeout is not None and timeout <= self.answer_timeout:
                raise  # the caller's own timeout (e.g. ``notifies``): theirs to handle
            # Mid-protocol: whatever comes later on this connection cannot be trusted.
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"PostgreSQL gave no answer within {bound:g} s (KASDA_DB_STATEMENT_TIMEOUT); "
                "the connection was closed"
            ) from None


@cache
def bounded(seconds: float) -> type[BoundedConnection[Any]]:
    """The ``BoundedConnection`` class that waits at most ``seconds`` for an answer."""
    return type(
        f"BoundedConnection{round(seconds * 1000)}ms",
        (BoundedConnection,),
        {"answer_timeout": seconds},
    )


def connect(env: dict[str, str], **kwargs: Any) -> psycopg.Connection[Any]:
    """A bounded connection to the PostgreSQL server of a ledger's settings (``Ledger.env``)."""
    seconds = statement_timeout(env)
    return bounded(seconds).connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=connect_timeout(env),
        options=server_options(seconds),
        **kwargs,
    )


def is_read_only_error(error: BaseException) -> bool:
    """SQLite refused a write because its connection was opened read-only (or the file is)."""
    return "readonly database" in str(error).lower()


class Backoff:
    """Waits between attempts to reach the database again: 0.1 s, doubling to 5 s, each
    jittered to 50-100% so that many workers do not reconnect in step."""

    def __init__(self, first: float = 0.1, ceiling: float = 5.0) -> None:
        assert 0 < first <= ceiling
        self.first = first
        self.ceiling = ceiling
        self._next = first

    def next(self) -> float:
        wait = self._next * random.uniform(0.5, 1.0)
        self._next = min(self.ceiling, self._next * 2)
        return wait

    def reset(self) -> None:
        self._next = self.first
