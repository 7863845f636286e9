"""Several processes may open a Ledger on the same new PostgreSQL schema at the same moment (API
workers starting together): exactly one creates the schema and tables, the others wait for it.
Without the set-up lock, CREATE SCHEMA IF NOT EXISTS and the library's CREATE OR REPLACE FUNCTION
raced in the catalog ("duplicate key", "tuple concurrently updated")."""

from __future__ import annotations

import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import psycopg
import pytest
from psycopg import sql

from ledger.application import Ledger
from tests.conftest import postgres_url, require_postgres
from tests.processes import fresh_processes

PROCESSES = 3


def _open(url: str, barrier: Barrier, results: Queue[str]) -> None:
    try:
        barrier.wait(timeout=30)
        Ledger(url).close()
        results.put("ok")
    except BaseException as error:  # report, never hang the parent
        results.put(f"{type(error).__name__}: {error}")


@pytest.mark.postgres
@pytest.mark.parametrize("tables_exist", [False, True])
def test_processes_opening_one_new_store_at_once(tables_exist: bool) -> None:
    require_postgres()
    base = postgres_url()
    ctx = fresh_processes()
    for _ in range(2):
        schema = f"t_{uuid.uuid4().hex[:12]}"
        url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
        try:
            if tables_exist:
                Ledger(url).close()
            barrier = ctx.Barrier(PROCESSES)
            results: Queue[str] = ctx.Queue()
            processes = [
                ctx.Process(target=_open, args=(url, barrier, results)) for _ in range(PROCESSES)
            ]
            for process in processes:
                process.start()
            outcomes = [results.get(timeout=120) for _ in processes]
            for process in processes:
                process.join(timeout=30)
            assert outcomes == ["ok"] * PROCESSES
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
