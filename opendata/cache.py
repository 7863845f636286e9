"""Validators and a bounded cache for the open data's files.

A file is a function of its dataset, pemda and year and of the read models' state, and the read
models change only when their log position moves (``projections.queries.position``): the position
is the file's version. Its ETag is weak (``W/``): two renderings at one position hold the same
facts, though their ``dibuat`` time differs.

``Renditions`` keeps rendered files by (store, dataset, pemda, year, position), least recently used
dropped first, within a budget of bytes; a file larger than a quarter of the budget is not kept. A
newer position makes the older renditions of the same file unreachable: they age out. Requests
that miss the same key at once render it once (``making``): the others wait for it and take it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

# Bumped when a rendering changes, so that a client's cached copy made by an older kasda at the
# same position is not taken for the new one.
RENDERING = 1
DEFAULT_BUDGET = 64 * 1024 * 1024  # bytes of renditions kept per process
MAX_MAKING = 256  # render locks kept before the idle ones are dropped
MAKING_WAIT = 30.0  # seconds a request waits for another's rendering of the same file


def etag(dataset: str, pemda: str, year: int, position: int) -> str:
    return f'W/"{dataset}-{pemda}-{year}-p{position}-r{RENDERING}"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether a request's ``If-None-Match`` names ``tag`` (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == opaque for t in if_none_match.split(","))


@dataclass(frozen=True, slots=True)
class Rendition:
    body: bytes
    position: int


class Renditions:
    """Rendered files, bounded by ``budget`` bytes; safe to use from several threads."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        assert budget > 0, budget
        self.budget = budget
        self._kept: OrderedDict[Hashable, Rendition] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}  # key -> held while it is rendered

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._kept)

    def values(self) -> list[Rendition]:
        """What is kept, least recently used first."""
        with self._lock:
            return list(self._kept.values())

    def get(self, key: Hashable) -> Rendition | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def making(self, key: Hashable) -> threading.Lock:
        """The lock to hold while ``key`` is rendered (one per key being rendered)."""
        with self._lock:
            if len(self._making) > MAX_MAKING:  # locks of keys rendered long ago
                self._making = {k: v for k, v in self._making.items() if v.locked()}
            return self._making.setdefault(key, threading.Lock())

    def put(self, key: Hashable, rendition: Rendition) -> None:
        size = len(rendition.body)
        if size > self.budget // 4:
            return
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._kept[key] = rendition
            self._size += size
            while self._size > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped.body)
