"""The fast paths of ``verify`` and ``verify --export`` (issue 17) compute the same hashes as the
definitions in ``ledger.integrity``, say "sound" only when the exact walk would, and hand over to it
otherwise; the progress bar draws only on a terminal."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasda import export
from kasda.cli import main
from kasda.export import export_history, verify_export
from kasda.progress import Bar
from ledger import verify as verifying
from ledger.application import Ledger
from ledger.integrity import GENESIS, chain_next, event_digest
from ledger.verify import verify
from testkit.clock import FixedClock
from tests import factory as f

# -- the hashes are the definitions' own, byte for byte -----------------------------------------
rows = st.lists(
    st.tuples(st.uuids(), st.integers(0, (1 << 63) - 1), st.text(max_size=40), st.binary()),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_bulk_digests_are_event_digest(events: list[tuple[UUID, int, str, bytes]]) -> None:
    sqlite_rows = [
        (n, str(aggregate), version, topic.encode(), state, b"")
        for n, (aggregate, version, topic, state) in enumerate(events, 1)
    ]
    expected = [event_digest(*event) for event in events]
    assert verifying.sqlite_digests(sqlite_rows) == expected
    server_rows = [  # what PostgreSQL's concatenation hands over
        (n, a.bytes + v.to_bytes(8, "big") + t.encode() + b"\x00" + s, b"")
        for n, (a, v, t, s) in enumerate(events, 1)
    ]
    assert verifying.postgres_digests(server_rows) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40),
    st.data(),
)
def test_links_checked_from_the_stored_ones_agree_with_the_sequential_chain(
    digests: list[bytes], data: st.DataObject
) -> None:
    """Checking each stored link from the stored one before it accepts exactly the chains that the
    sequential recomputation accepts."""
    positions = list(range(1, len(digests) + 1))
    links, previous = [], GENESIS
    for position, digest in zip(positions, digests, strict=True):
        previous = chain_next(previous, position, digest)
        links.append(previous)
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(links) - 1))
        links[at] = data.draw(st.binary(min_size=32, max_size=32).filter(lambda b: b != links[at]))
    sequential, previous = True, GENESIS
    for position, digest, link in zip(positions, digests, links, strict=True):
        previous = chain_next(previous, position, digest)
        sequential = sequential and previous == link
    assert verifying.links_hold(GENESIS, positions, digests, links) is sequential


# -- the body check: the same verdict as plain_json, faster ------------------------------------
def _iso_texts() -> st.SearchStrategy[str]:
    zones = st.sampled_from(
        [None, UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30))]
    )
    made = st.builds(
        lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
        zones,
    )
    odd = st.sampled_from(
        [
            "2026-01-02T03:04:05.000000",
            "2026-01-02T03:04:05-00:00",
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05Z",
            "2026-02-30T00:00:00",
            "2026-01-02T03:04:05.123",
            "2026-01-02",
        ]
    )
    return st.one_of(made, odd)


wrapped = st.one_of(
    st.builds(lambda t: {"_type_": "datetime_iso", "_data_": t}, _iso_texts()),
    st.builds(lambda u: {"_type_": "uuid_hex", "_data_": u.hex}, st.uuids()),
    st.builds(lambda u: {"_type_": "uuid_hex", "_data_": u.hex.upper()}, st.uuids()),
    st.builds(lambda u: {"_type_": "uuid_hex", "_data_": str(u)}, st.uuids()),
    st.builds(lambda n: {"_type_": "other", "_data_": n}, st.integers()),
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), wrapped)
stored_values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def _verdict(call: Any) -> Any:
    try:
        return call()
    except ValueError:
        return "ValueError"


@settings(max_examples=400, deadline=None)
@given(stored_values, st.data())
def test_the_body_comparison_gives_plain_jsons_verdict(stored: Any, data: st.DataObject) -> None:
    plain = _verdict(lambda: export.plain_json(stored))
    body = plain if plain != "ValueError" else None
    if data.draw(st.booleans()):  # an editor's change somewhere in the body
        text = json.dumps(body)
        body = json.loads(
            data.draw(st.sampled_from([text.replace("0", "1"), text.replace("-", "")]))
        )
    expected = _verdict(lambda: export.plain_json(stored) == body)
    # True exactly when plain_json says equal. Otherwise the fast path hands over to the exact
    # walk, which gives plain_json's own verdict (a difference, or a ValueError it reports).
    assert (_verdict(lambda: export.same_as_plain(stored, body)) is True) == (expected is True)


# -- the store: fast path, page by page, and the hand-over ---------------------------------------
@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    app = Ledger(ledger_url, clock=FixedClock())
    f.adopt(app)
    f.register_vendor(app)
    for n in range(3):
        f.pay_in_full(app, f"SPP-{n}")
    yield app
    app.close()


def _exact_from(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Where the exact walk took over (none: the fast path vouched for the whole store)."""
    resumed: list[int] = []
    exact = verifying.exact_walk

    def spy(*args: Any) -> bytes:
        resumed.append(args[-1])
        return exact(*args)

    monkeypatch.setattr(verifying, "exact_walk", spy)
    return resumed


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("page", [7, 20_000])
@pytest.mark.parametrize("processes", [False, True])
def test_an_untouched_store_is_vouched_for_by_the_fast_path_alone(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, page: int, processes: bool
) -> None:
    monkeypatch.setattr(verifying, "FAST_PAGE", page)
    monkeypatch.setattr(verifying, "PROCESS_MIN", 0 if processes else 1 << 62)
    monkeypatch.setattr(verifying, "single_threaded", lambda: processes)
    resumed = _exact_from(monkeypatch)
    seen: list[tuple[int, int]] = []
    report = verify(ledger, progress=lambda done, total: seen.append((done, total)))
    assert report.ok, report.problem
    last = int(ledger.recorder.max_notification_id() or 0)
    assert resumed == [] and report.events == report.head_position == last
    assert seen[-1] == (last, last) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    monkeypatch.setattr(verifying, "FAST_PAGE", 20_000)
    assert verify(ledger).head_hash == report.head_hash


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("processes", [False, True])
def test_the_exact_walk_takes_over_at_the_page_of_the_problem(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, processes: bool
) -> None:
    monkeypatch.setattr(verifying, "FAST_PAGE", 7)
    monkeypatch.setattr(verifying, "PROCESS_MIN", 0 if processes else 1 << 62)
    monkeypatch.setattr(verifying, "single_threaded", lambda: processes)
    recorder: Any = ledger.recorder
    if ledger.env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        column, mark = "notification_id", "%s"
    else:
        table, column, mark = recorder.events_table_name, "rowid", "?"
    with recorder.datastore.transaction(commit=True) as cursor:
        # Position 16: the third page of 7, (14, 21].
        cursor.execute(f"SELECT state FROM {table} WHERE {column} = 16")
        row = cursor.fetchone()
        state = bytes(row["state"] if isinstance(row, dict) else row[0])
        cursor.execute(
            f"UPDATE {table} SET state = {mark} WHERE {column} = 16",
            (state + b" ",),
        )
    resumed = _exact_from(monkeypatch)
    report = verify(ledger)
    assert report.problem is not None and report.problem.position == 16
    assert "altered" in report.problem.what
    assert resumed == [14] and report.events == 15  # pages (0, 7] and (7, 14] were sound


def test_a_store_with_positions_far_apart_is_walked_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'sparse.db'}", clock=FixedClock())
    try:
        f.adopt(ledger)
        with ledger.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute("UPDATE stored_events_chain SET position = position + 10000000")
            cursor.execute("UPDATE stored_events SET rowid = rowid + 10000000")
        resumed = _exact_from(monkeypatch)
        report = verify(ledger)
        assert resumed == [0]
        assert report.problem is not None  # the positions are part of the links
    finally:
        ledger.close()


# -- the export: one walk for both files when they agree byte for byte --------------------------
@pytest.fixture
def exported(tmp_path: Path) -> Path:
    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}", clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger, name="CV Sinar Jaya Élan — Kupang")  # not ASCII
        for n in range(2):
            f.pay_in_full(ledger, f"SPP-{n}")
        export_history(ledger, tmp_path / "export")
    finally:
        ledger.close()
    return tmp_path / "export"


def _slow_walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    walked: list[str] = []
    walk = export.walk_rows

    def spy(source: str, *args: Any) -> Any:
        walked.append(source)
        return walk(source, *args)

    monkeypatch.setattr(export, "walk_rows", spy)
    return walked


@pytest.mark.parametrize(("page", "processes"), [(3, False), (50_000, False), (9, True)])
def test_an_export_is_vouched_for_by_the_fast_path(
    exported: Path, monkeypatch: pytest.MonkeyPatch, page: int, processes: bool
) -> None:
    monkeypatch.setattr(export, "FAST_PAGE", page)
    monkeypatch.setattr(export, "PROCESS_MIN", 0 if processes else 1 << 62)
    if processes:  # the worker processes of the fast path in Python (no C accelerator built)
        monkeypatch.setattr(export, "accelerator", None)
    walked = _slow_walks(monkeypatch)
    seen: list[int] = []
    report = verify_export(exported, progress=lambda done, _: seen.append(done))
    assert report.ok, report.problem
    assert walked == [] and report.events == len(
        (exported / "events.jsonl").read_text().splitlines()
    )
    assert seen[-1] == report.events
    monkeypatch.setattr(export, "fast_walks", lambda *_: None)
    slow = verify_export(exported)
    assert (slow.events, slow.head_hash, slow.head_position, slow.checkpoints) == (
        report.events,
        report.head_hash,
        report.head_position,
        report.checkpoints,
    )


def test_the_export_reports_its_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'kasda.db'}", clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        monkeypatch.setattr(export, "PAGE", 4)
        seen: list[tuple[int, int]] = []
        manifest = export_history(ledger, tmp_path / "out", progress=lambda *p: seen.append(p))
    finally:
        ledger.close()
    events = manifest["events"]
    assert seen[-1] == (events, events) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == events // 4 + 1


def _rehash(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_a_blank_line_at_the_end_of_the_jsonl_is_still_refused(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (exported / "events.jsonl").open("a") as jsonl:
        jsonl.write("\n")
    _rehash(exported)
    walked = _slow_walks(monkeypatch)
    problem = verify_export(exported).problem
    assert problem is not None and "events.jsonl" in problem.what and walked


def test_a_jsonl_written_another_way_verifies_through_the_exact_walk(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same values, other spacing: not the exporter's bytes, so the exact walks decide (and pass)."""
    lines = (exported / "events.jsonl").read_text().splitlines()
    (exported / "events.jsonl").write_text(
        "".join(json.dumps(json.loads(line), separators=(",", ":")) + "\n" for line in lines)
    )
    _rehash(exported)
    walked = _slow_walks(monkeypatch)
    report = verify_export(exported)
    assert report.ok, report.problem
    assert walked == ["events.jsonl", "events.parquet"]


def test_non_canonical_base64_goes_to_the_exact_walk(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's strict decoder reads base64 whose last character carries stray bits as the same
    bytes; the fast path does not vouch for such text, and the exact walks give their verdict."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    rows = [json.loads(line) for line in (exported / "events.jsonl").read_text().splitlines()]
    victim = next(r for r in rows if r["state_b64"].endswith("="))
    text = victim["state_b64"].rstrip("=")
    stray = text[:-1] + alphabet[alphabet.index(text[-1]) ^ 1]
    stray += "=" * (len(victim["state_b64"]) - len(text))
    assert base64.b64decode(stray, validate=True) == base64.b64decode(victim["state_b64"])
    victim["state_b64"] = stray
    (exported / "events.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    )
    frame = pl.read_parquet(exported / "events.parquet")
    frame.with_columns(
        pl.when(pl.col("position") == victim["position"])
        .then(pl.lit(stray))
        .otherwise(pl.col("state_b64"))
        .alias("state_b64")
    ).write_parquet(exported / "events.parquet")
    _rehash(exported)
    walked = _slow_walks(monkeypatch)
    report = verify_export(exported)
    assert report.ok, report.problem
    assert walked == ["events.jsonl", "events.parquet"]


# -- the progress bar ---------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_draws_on_a_terminal_and_clears_its_line() -> None:
    screen = _Terminal()
    bar = Bar("kasda verify", screen)
    bar(50, 100)
    bar(100, 100)
    bar.close()
    drawn = screen.getvalue()
    assert "kasda verify [" in drawn and "100.0%" in drawn and "100/100" in drawn
    assert drawn.endswith("\r")


def test_the_bar_draws_nothing_off_a_terminal() -> None:
    plain = io.StringIO()
    bar = Bar("kasda verify", plain)
    bar(100, 100)
    bar.close()
    assert plain.getvalue() == ""


def test_kasda_verify_off_a_terminal_prints_only_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    ledger = Ledger(url, clock=FixedClock())
    f.adopt(ledger)
    ledger.close()
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    assert main(["verify"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("kasda verify: OK") and err == ""


def test_a_process_with_other_threads_never_forks_workers(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web app verifies from a process with projector and server threads: a fork would copy
    the locks they hold. There the store is read by threads, even when it is large."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        f.adopt(ledger)
        monkeypatch.setattr(verifying, "PROCESS_MIN", 0)
        monkeypatch.setattr(verifying, "FAST_PAGE", 7)
        forked: list[object] = []
        monkeypatch.setattr(verifying, "ProcessPoolExecutor", lambda *a, **k: forked.append(a))
        stop = threading.Event()
        other = threading.Thread(target=stop.wait, daemon=True)
        other.start()
        try:
            assert verify(ledger).ok and forked == []
        finally:
            stop.set()
            other.join(timeout=5)
        assert verifying.single_threaded() is (threading.active_count() == 1)
    finally:
        ledger.close()
