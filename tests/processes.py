"""The OS processes of the racing tests (tests/test_concurrency_postgres.py and the tests that use
its ``race``, tests/test_two_writers.py, tests/test_store_setup.py): each a fresh process with a
ledger of its own, nothing shared with the test or with each other but the database.

They are started by multiprocessing's fork server, not by 'spawn': the fork server is a fresh
interpreter (started once per pytest worker, never holding a connection, a ledger or a thread of the
test) that imports kasda and the writers' modules once; each writer is a fork of it. With 'spawn'
every writer imported them again, about 1.3 s of CPU each, some 50 times a run."""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import ForkServerContext

# The modules whose functions the writers run: imported once, in the fork server.
WRITER_MODULES = [
    "tests.test_concurrency_postgres",
    "tests.test_store_setup",
    "tests.test_two_writers",
]


def fresh_processes() -> ForkServerContext:
    """The multiprocessing context that starts the racing tests' processes."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(WRITER_MODULES)
    return context
