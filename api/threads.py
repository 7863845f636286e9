"""The hop of the busiest routes to a worker thread: a plain ``ThreadPoolExecutor`` instead of anyio's
``to_thread.run_sync``.

A read of a payment, of its history and of the read models, and a batch of writes, each call the
database through a blocking driver, so each runs in a worker thread while the event loop serves
other requests. anyio's hop adds its own bookkeeping around the same wake-up of a thread (a cancel
scope, a capacity limiter, run variables, a ``Condition`` of its own queue): in one process on this
project's 2-core machine, 60 to 100 µs of CPU per hop against 31 to 37 µs for
``loop.run_in_executor`` with a ``ThreadPoolExecutor`` (docs/benchmarks.md, part 5 again,
``i17-api3``), on a mix that takes about one hop per request.

The same bound as anyio's limiter (``ApiSettings.threads``, set by the app's lifespan with
``configure``): at most that many of these calls run at once in a process, the rest wait in the
executor's queue, holding no thread. What differs: a request cancelled while its call runs stops
waiting at once and the call finishes in its thread, its result dropped (anyio waits for it).
Every call made here is a read or a batch whose callers are told by the writer itself
(``api.writer``), so nothing depends on the wait.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

from api.settings import DEFAULT_THREADS

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class _Pool:
    """The process's executor, made on first use with the size ``configure`` last set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor: ThreadPoolExecutor | None = None
        self.size = DEFAULT_THREADS

    def get(self) -> ThreadPoolExecutor:
        executor = self.executor
        if executor is None:
            with self.lock:
                if self.executor is None:
                    self.executor = ThreadPoolExecutor(self.size, thread_name_prefix="kasda-hop")
                executor = self.executor
        return executor


_POOL = _Pool()


def configure(size: int) -> None:
    """At most ``size`` calls run at once from now on (threads are started as needed). Calls
    already running or queued finish in the threads they were given."""
    assert size >= 1, size
    with _POOL.lock:
        if size != _POOL.size:
            # The old executor is not shut down (a call may be about to be given to it): its
            # threads end once it is no longer referenced.
            _POOL.executor, _POOL.size = None, size


def size() -> int:
    """How many calls may run at once (``configure``)."""
    return _POOL.size


async def run(call: Callable[[*Ts], T], *args: *Ts) -> T:
    """``call(*args)`` in a worker thread, awaited from the event loop; its exception is raised."""
    return await asyncio.get_running_loop().run_in_executor(_POOL.get(), call, *args)
