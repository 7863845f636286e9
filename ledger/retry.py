"""When the ledger runs a batch again, and how long it waits first.

Optimistic concurrency: a batch is recorded only if no other writer recorded events on any of its
aggregates since it read them (the store's unique (id, version) key). A batch that lost that race
is read and run again, at most ``MAX_ATTEMPTS`` times in all, each time after a random wait in
[0, min(CAP, BASE * 2**(attempt-1))) seconds ("full jitter"): writers that collided on one line
then retry at different moments instead of colliding again in lock-step. At most
10+20+40+80+160+250+250 ms over all 8 attempts; ``benchmarks/bench_contention.py`` measures what it
buys (docs/benchmarks.md).
"""

from __future__ import annotations

import random
import time

MAX_ATTEMPTS = 8
RETRY_BACKOFF = 0.01  # BASE, seconds
RETRY_BACKOFF_CAP = 0.25  # CAP, seconds


def check_backoff(base: float) -> float:
    assert 0 <= base <= RETRY_BACKOFF_CAP, base
    return base


def back_off(attempt: int, base: float = RETRY_BACKOFF) -> None:
    """Wait before attempt ``attempt + 1``; a ``base`` of 0 retries at once."""
    if base > 0:
        time.sleep(random.uniform(0, min(RETRY_BACKOFF_CAP, base * 2 ** (attempt - 1))))
