"""Issue 17, part 2: the faster path of ``verify`` (PostgreSQL computes the digests) finds every
tampered column and names it exactly as the exact walk alone does, page by page and in worker
processes; the fast body check of ``verify --export`` gives plain_json's verdict on a datetime."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kasda import export
from kasda.export import export_history, verify_export
from ledger import verify as verifying
from ledger.application import Ledger
from ledger.integrity import GENESIS, event_digest
from ledger.verify import Problem, verify
from testkit.clock import FixedClock
from tests import factory as f

POSITION = 16  # in the third page of 7 events, (14, 21]


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = Ledger(ledger_url, clock=FixedClock())
    f.adopt(app)
    f.register_vendor(app)
    for n in range(3):
        f.pay_in_full(app, f"SPP-{n}")
    yield app
    app.close()


def _tables(ledger: Ledger) -> tuple[str, str, str, str]:
    """(events table, chain table, position column, placeholder)."""
    recorder: Any = ledger.recorder
    if ledger.env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        schema = recorder.datastore.schema
        return (
            f'"{schema}"."{recorder.events_table_name}"',
            f'"{schema}"."{recorder.chain_table_name}"',
            "notification_id",
            "%s",
        )
    return recorder.events_table_name, recorder.chain_table_name, "rowid", "?"


def _one(cursor: Any, statement: str) -> Any:
    cursor.execute(statement)
    row = cursor.fetchone()
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _tamper(ledger: Ledger, column: str) -> None:
    """One change an intruder's SQL makes to the event at ``POSITION`` (or its link)."""
    events, chain, at, mark = _tables(ledger)
    where = f"WHERE {at} = {POSITION}"
    recorder: Any = ledger.recorder
    with recorder.datastore.transaction(commit=True) as cursor:
        if column == "state":
            state = bytes(_one(cursor, f"SELECT state FROM {events} {where}"))
            cursor.execute(f"UPDATE {events} SET state = {mark} {where}", (state + b" ",))
        elif column == "state NULL":
            cursor.execute(f"UPDATE {events} SET state = NULL {where}")
        elif column == "topic":
            cursor.execute(f"UPDATE {events} SET topic = topic || 'x' {where}")
        elif column == "version":
            cursor.execute(
                f"UPDATE {events} SET originator_version = originator_version + 1000 {where}"
            )
        elif column == "aggregate id":
            other = uuid.uuid4()
            value = other if mark == "%s" else str(other)
            cursor.execute(f"UPDATE {events} SET originator_id = {mark} {where}", (value,))
        elif column == "link":
            cursor.execute(
                f"UPDATE {chain} SET chain_hash = {mark} WHERE position = {POSITION}", (bytes(32),)
            )
        elif column == "link deleted":
            cursor.execute(f"DELETE FROM {chain} WHERE position = {POSITION}")
        elif column == "event deleted":
            cursor.execute(f"DELETE FROM {events} {where}")
        else:
            raise AssertionError(column)


COLUMNS = [
    "state",
    "state NULL",
    "topic",
    "version",
    "aggregate id",
    "link",
    "link deleted",
    "event deleted",
]


def _exact_alone(ledger: Ledger) -> tuple[Problem | None, int]:
    """The exact walk alone, from the genesis (the store has no checkpoints)."""
    report = verifying.Report()
    verifying.exact_walk(ledger, report, {}, GENESIS, 0)
    return report.problem, report.events


@pytest.mark.parametrize(
    ("ledger_url", "digests"),
    # "input": a PostgreSQL before 11 (no sha256()), where kasda hashes the server's concatenation
    [("sqlite", "sqlite"), ("postgres", "server"), ("postgres", "input")],
    indirect=["ledger_url"],
)
@pytest.mark.parametrize("processes", [False, True])
@pytest.mark.parametrize("column", COLUMNS)
def test_each_tampered_column_is_named_as_the_exact_walk_names_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, processes: bool, digests: str, column: str
) -> None:
    if digests == "input":
        monkeypatch.setattr(verifying, "SERVER_DIGESTS", 1 << 40)
    monkeypatch.setattr(verifying, "FAST_PAGE", 7)
    monkeypatch.setattr(verifying, "PROCESS_MIN", 0 if processes else 1 << 62)
    monkeypatch.setattr(verifying, "single_threaded", lambda: processes)
    assert verifying.PageReader(ledger).digests == digests
    _tamper(ledger, column)
    resumed: list[int] = []
    exact = verifying.exact_walk

    def spy(*args: Any) -> bytes:
        resumed.append(args[-1])
        return exact(*args)

    monkeypatch.setattr(verifying, "exact_walk", spy)
    report = verify(ledger)
    assert resumed == [14], "the fast path vouched for pages (0, 7] and (7, 14] only"
    assert report.problem is not None and report.problem.position == POSITION
    assert (report.problem, report.events) == _exact_alone(ledger)


@pytest.mark.parametrize("ledger_url", ["postgres"], indirect=True)
def test_postgresql_sends_the_digests_it_computed_not_their_input(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From PostgreSQL 11 a page row is (position, digest, link): the digest is ``event_digest``
    of the stored event, computed by the server."""
    reader = verifying.PageReader(ledger)
    assert reader.digests == "server" and "pg_catalog.sha256(" in reader.select
    monkeypatch.setattr(verifying, "FAST_PAGE", 1 << 20)
    (page,) = list(reader.pages())
    stored = list(ledger.recorder.select_notifications(start=1, limit=1 << 20))
    assert page.positions == [n.id for n in stored]
    assert page.digests == [
        event_digest(n.originator_id, n.originator_version, n.topic, n.state) for n in stored
    ]


# -- the export: a datetime's text must read back as itself ------------------------------------
@pytest.fixture
def plain_export(tmp_path: Path) -> Path:
    """An export of ASCII text only: its JSONL is the exporter's rendering, the fast path reads it."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}", clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        for n in range(2):
            f.pay_in_full(ledger, f"SPP-{n}")
        export_history(ledger, tmp_path / "export")
    finally:
        ledger.close()
    return tmp_path / "export"


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def _write_both(out: Path, rows: list[dict[str, Any]]) -> None:
    """Both files rewritten in the exporter's own format, the manifest re-hashed: the JSONL is
    still the Parquet's rows, so only the body check can object."""
    (out / "events.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    )
    pl.DataFrame(
        [{**r, "body": json.dumps(r["body"], sort_keys=True)} for r in rows], schema=export.SCHEMA
    ).write_parquet(out / "events.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    manifest["chain_head"] = rows[-1]["chain_hash"]
    (out / "manifest.json").write_text(json.dumps(manifest))


def _exact_walks(out: Path, monkeypatch: pytest.MonkeyPatch) -> Problem | None:
    with monkeypatch.context() as patch:
        patch.setattr(export, "fast_walks", lambda *_: None)
        return verify_export(out).problem


def _rechain(rows: list[dict[str, Any]], start: int) -> None:
    previous = bytes.fromhex(rows[start - 1]["chain_hash"]) if start else GENESIS
    for row in rows[start:]:
        state = base64.b64decode(row["state_b64"])
        digest = event_digest(row["aggregate_id"], row["version"], row["topic"], state)
        previous = hashlib.sha256(previous + row["position"].to_bytes(8, "big") + digest).digest()
        row.update(digest=digest.hex(), chain_hash=previous.hex())


@pytest.mark.parametrize(("page", "processes"), [(3, False), (50_000, False), (9, True)])
def test_a_datetime_that_does_not_read_back_as_itself_is_not_vouched_for(
    plain_export: Path, monkeypatch: pytest.MonkeyPatch, page: int, processes: bool
) -> None:
    """A stored offset of +05:60 is +06:00 to plain_json: a body that says +05:60 differs, on
    every path (the fast path used to take the text as it stood)."""
    monkeypatch.setattr(export, "FAST_PAGE", page)
    monkeypatch.setattr(export, "PROCESS_MIN", 0 if processes else 1 << 62)
    if processes:  # the worker processes of the fast path in Python (no C accelerator built)
        monkeypatch.setattr(export, "accelerator", None)
    rows = _rows(plain_export)
    index = next(i for i, r in enumerate(rows) if r["event"] == "Requested")
    victim = rows[index]
    at = victim["body"]["at"]
    odd = at[: -len("+00:00")] + "+05:60"
    state = base64.b64decode(victim["state_b64"])
    assert state.count(at.encode()) == 1
    victim["state_b64"] = base64.b64encode(state.replace(at.encode(), odd.encode())).decode()
    victim["body"]["at"] = odd
    _rechain(rows, index)  # a consistent forgery: only the body check can object
    _write_both(plain_export, rows)
    problem = verify_export(plain_export).problem
    assert problem is not None and problem.position == victim["position"]
    assert "decoded body differs" in problem.what
    assert problem == _exact_walks(plain_export, monkeypatch)
