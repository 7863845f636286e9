"""Today's write path stores exactly the bytes main stored (``tests/stored_bytes.py``): every event
of every kind, every receipt and number claim, every chain link."""

from __future__ import annotations

import json
from pathlib import Path

from tests import stored_bytes


def test_every_stored_byte_is_what_main_stored(tmp_path: Path) -> None:
    expected = [json.loads(line) for line in stored_bytes.ROWS.read_text().splitlines()]
    found = stored_bytes.written(tmp_path)
    assert len(found) == len(expected)
    for today, before in zip(found, expected, strict=True):
        assert today == before
