"""``api.threads``: the hop of the busiest routes to a worker thread (a payment, its history, the
read models, a batch of writes). It runs the call off the event loop, gives its value or raises its
exception, and runs at most ``configure``'s number of calls at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api import threads
from api.settings import DEFAULT_THREADS


def test_a_call_runs_off_the_loop_and_answers_or_raises() -> None:
    async def main() -> None:
        loop_thread = threading.get_ident()
        assert await threads.run(threading.get_ident) != loop_thread
        assert await threads.run(divmod, 17, 5) == (3, 2)
        with pytest.raises(ZeroDivisionError):
            await threads.run(divmod, 1, 0)

    asyncio.run(main())


@pytest.mark.parametrize("size", [1, 3])
def test_at_most_the_configured_number_run_at_once(size: int) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(threads.run(call) for _ in range(4 * size + 2)))

    threads.configure(size)
    try:
        assert threads.size() == size
        asyncio.run(main())
    finally:
        threads.configure(DEFAULT_THREADS)
    assert most == size
