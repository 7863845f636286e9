"""The exact bytes main stores for the year of ``tests/stored_v1.py`` and a wave of batched
lifecycles, with the library's wall-clock ``timestamp`` made a counter so that every byte is known.

``tests/fixtures/stored_bytes_main.jsonl`` holds every row of the log (with its chain link) and of
the receipts table, as ``main`` at a2f45e0 (before issue 17's write path part 3) wrote them.
``tests/test_stored_bytes.py`` writes the same again with today's code and compares byte for byte:
a faster write path must not change what is stored. Regenerate on another checkout with

    cp tests/stored_bytes.py tests/stored_v1.py OTHER/tests/
    cd OTHER && PYTHONPATH=. python -m tests.stored_bytes OUT_DIR
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import eventsourcing.domain

from ledger.application import Ledger
from tests import stored_v1 as v1

ROWS = Path(__file__).parent / "fixtures" / "stored_bytes_main.jsonl"
WAVE = 4  # lifecycles per batch of the batched part


@contextmanager
def counted_timestamps() -> Iterator[None]:
    """Each event's library ``timestamp`` one microsecond after the last one's."""
    start = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
    ticks = iter(range(1, 10**9))
    saved = eventsourcing.domain.datetime_now_with_tzinfo

    def counted() -> datetime:
        return start + timedelta(microseconds=next(ticks))

    eventsourcing.domain.datetime_now_with_tzinfo = counted
    try:
        yield
    finally:
        eventsourcing.domain.datetime_now_with_tzinfo = saved


def run(ledger: Ledger) -> None:
    """The v1 year command by command, then ``WAVE`` lifecycles step by step in batches."""
    v1.run(ledger)
    spps = [f"SPP-B{n}" for n in range(WAVE)]
    waves = [[v1.request_spp(spp, 10_000_000 + n, v1.MEDIA, v1.MEDIA_NPWP)
              for n, spp in enumerate(spps)]]  # fmt: skip
    steps = [list(v1.approvals(spp)) for spp in spps]
    waves += [[s[k] for s in steps] for k in range(len(steps[0]))]
    for wave in waves:
        outcomes = ledger.execute_batch(wave)
        assert all(not isinstance(o, Exception) for o in outcomes), outcomes


def rows(ledger: Ledger) -> list[dict[str, Any]]:
    """Every row stored: the log (with each chain link), then the receipts table."""
    from ledger.verify import stored_links

    links = {position: link for position, _, link in stored_links(ledger) if link}
    log = [{**row, "chain_hash": links[row["position"]].hex()} for row in v1.stored_rows(ledger)]
    recorder: Any = ledger.recorder
    apart = [
        {
            "originator_id": str(e.originator_id),
            "originator_version": e.originator_version,
            "topic": e.topic,
            "state_b64": base64.b64encode(e.state).decode(),
        }
        for e in recorder.select_receipts()
    ]
    return log + sorted(apart, key=lambda r: (r["originator_id"], r["originator_version"]))


def written(directory: Path, url: str | None = None) -> list[dict[str, Any]]:
    """The rows this checkout's code stores for ``run``, in a new SQLite store in ``directory``
    (or the new, empty store at ``url``)."""
    with counted_timestamps():
        ledger = Ledger(url or f"sqlite:///{directory / 'bytes.db'}", clock=v1.Clock())
        try:
            run(ledger)
            return rows(ledger)
        finally:
            ledger.close()


if __name__ == "__main__":
    out = Path(sys.argv[1])
    found = written(out)
    (out / ROWS.name).write_text("".join(json.dumps(row) + "\n" for row in found))
