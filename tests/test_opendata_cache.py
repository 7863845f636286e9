"""The open data's validators and cache (``opendata/cache.py``): If-None-Match compared weakly,
and renditions kept within their budget of bytes, least recently used dropped first."""

from __future__ import annotations

import pytest

from opendata.cache import Rendition, Renditions, etag, not_modified

TAG = etag("payments.csv", "32.73", 2026, 41)


@pytest.mark.parametrize(
    ("held", "fresh"),
    [
        (TAG, True),
        (TAG.removeprefix("W/"), True),
        (f'"x", {TAG}', True),
        ("*", True),
        (None, False),
        ("", False),
        (etag("payments.csv", "32.73", 2026, 40), False),
        (etag("payments.json", "32.73", 2026, 41), False),
        (etag("payments.csv", "32.04", 2026, 41), False),
        (etag("payments.csv", "32.73", 2025, 41), False),
    ],
)
def test_if_none_match_names_this_version(held: str | None, fresh: bool) -> None:
    assert not_modified(held, TAG) is fresh


def test_renditions_stay_within_their_budget() -> None:
    kept = Renditions(budget=100)
    kept.put("a", Rendition(b"a" * 20, 1))
    kept.put("b", Rendition(b"b" * 20, 1))
    kept.put("c", Rendition(b"c" * 20, 1))
    assert kept.get("a") is not None  # now the most recently used
    kept.put("d", Rendition(b"d" * 25, 1))
    kept.put("e", Rendition(b"e" * 25, 1))  # 110 bytes: the least recently used (b) goes
    assert kept.get("b") is None
    assert [r.body[:1] for r in kept.values()] == [b"c", b"a", b"d", b"e"]
    assert kept.size == 90 <= kept.budget
    kept.put("big", Rendition(b"x" * 26, 1))  # more than a quarter of the budget: not kept
    assert kept.get("big") is None and kept.size == 90
    kept.put("a", Rendition(b"A" * 5, 2))  # a key again: replaced, its size counted once
    assert kept.size == 75 and len(kept) == 4
