"""``kasda export --out DIR`` and ``kasda verify --export DIR``: the complete history for external
auditors, and its offline verification.

DIR holds:
- ``events.jsonl``: one event per line in application order: position, aggregate id and type, event,
  version, topic, the exact stored bytes (``state_b64``), their digest, the stored chain link, and the
  decoded body (amounts stay integers);
- ``events.parquet``: the same rows (body as a JSON string), for Polars, DuckDB or pandas;
- ``checkpoints.json``: the signed checkpoints recorded in the store;
- ``manifest.json``: export time, kasda version, store kind, counts, first and last position, the
  chain head, and the SHA-256 of each file.

The export streams a page (``PAGE`` events) at a time; Parquet is written as one part per page, then
joined by Polars' streaming engine, so memory does not grow with the store.

The verifier needs only these files and the BPKAD public key. It walks events.jsonl and
events.parquet each on its own, recomputing every digest and link from the rows' own values, so that
every value an auditor may read from either file is bound to the signed checkpoints; the manifest's
hashes are only a first check (an editor can re-hash them). Files it does not know are refused.

Speed (issue 17): the fast path reads the Parquet file a page of columns at a time, checks in
Polars what can be checked column-wise (no NULLs, ids, hex, canonical base64, topic-derived columns),
then recomputes each row's digest and link and compares its body with its stored bytes; and it
proves events.jsonl holds the very same rows by comparing it, byte for byte, with the rendering of
those rows in the exporter's own format. Same rows, same verdict: one walk then serves both files.
Anything the fast path does not vouch for (an edit, a file not written by this exporter) sends the
export to the exact walks above, which name the first problem as they always did.

Where it was built, the C accelerator (``_export_check.c``, ``accelerator`` here) does the per-row
work of the fast path with the GIL released, so slices are checked on ``THREADS`` threads: column
formats, digest and link, body against stored bytes, and each row's line of events.jsonl compared
byte for byte with its rendering. It only ever vouches: a body or a line it is not certain of is
left to the Python checks of the fast path (``_body_matches``, ``json.dumps``), and a row that does
not hold sends the export to the exact walks. The files' SHA-256s are computed on a thread of their
own meanwhile.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import itertools
import json
import mmap
import multiprocessing
import shutil
import struct
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO
from uuid import UUID

import orjson
import polars as pl

from ledger.application import Ledger
from ledger.errors import InvalidInput
from ledger.integrity import GENESIS, chain_next, event_digest
from ledger.verify import (
    Checkpoint,
    Problem,
    Progress,
    Report,
    by_position,
    forged_checkpoint,
    load_checkpoints,
    stored_links,
)

accelerator: ModuleType | None
try:  # the per-row work of the fast path in C (kasda/_export_check.c), where it was built
    import kasda._export_check as accelerator
except ImportError:  # no C compiler or no OpenSSL at install time: the fast path in Python
    accelerator = None

FILES = ("events.jsonl", "events.parquet", "checkpoints.json")
PAGE = 10_000  # events per JSONL read page and per Parquet part
FAST_PAGE = 50_000  # rows per page of the fast verification (a few tens of MB)
# A large export is checked by worker processes, a slice each (the GIL no longer serialises the
# body checks); below PROCESS_MIN rows their start (imports) costs more than they save.
PROCESSES = 2
PROCESS_MIN = 200_000
THREADS = 2  # with the accelerator, slices are checked on threads (it releases the GIL)
AHEAD = 2  # slices checked ahead of the one the JSONL is compared with: memory stays bounded
SLICE_WAIT = 600.0  # seconds a slice may take in a worker (a loaded machine): every wait bounded
SCHEMA: dict[str, Any] = {
    "position": pl.Int64,
    "aggregate_id": pl.String,
    "aggregate_type": pl.String,
    "event": pl.String,
    "version": pl.Int64,
    "topic": pl.String,
    "state_b64": pl.String,
    "digest": pl.String,
    "chain_hash": pl.String,
    "body": pl.String,  # the JSON of the decoded event, as in events.jsonl
}


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime,)):
        return value.isoformat()
    return str(value)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_history(ledger: Ledger, out: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Write the export into ``out`` (which must not exist or be empty), atomically."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty folder: choose a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        manifest = _write(ledger, work, progress)
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _kasda_version() -> str:
    try:
        return metadata.version("kasda")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _write(ledger: Ledger, work: Path, progress: Progress | None) -> dict[str, Any]:
    """Stream the store into the files, a page of ``PAGE`` events at a time.

    Each page becomes one Parquet part; the parts are then streamed into ``events.parquet`` by
    Polars' streaming engine. Neither file needs the whole history in memory.
    """
    parquet = _ParquetParts(work)
    chain = _Chain()
    last = int(ledger.recorder.max_notification_id() or 0) if progress is not None else 0
    with (work / "events.jsonl").open("w", encoding="utf-8") as jsonl:
        for record in _records(ledger):
            line = json.dumps(record, default=_plain, ensure_ascii=False, sort_keys=True)
            jsonl.write(line + "\n")
            parquet.add(record)
            chain.add(record["position"], record["chain_hash"])
            if progress is not None and chain.count % PAGE == 0:
                progress(chain.count, max(last, chain.count))
    if progress is not None:
        progress(chain.count, chain.count)
    parquet.join(work / "events.parquet")
    checkpoints = [json.loads(c.to_json()) for c in load_checkpoints(ledger)]
    (work / "checkpoints.json").write_text(json.dumps(checkpoints, indent=2) + "\n")
    module = ledger.env.get("PERSISTENCE_MODULE", "")
    manifest = {
        "format": "kasda-export/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "kasda_version": _kasda_version(),
        "store": module.rsplit(".", 1)[-1],
        "events": chain.count,
        "first_position": chain.first,
        "last_position": chain.last,
        "chain_head": chain.head,
        "files": {name: _sha256(work / name) for name in FILES},
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _records(ledger: Ledger) -> Iterator[dict[str, Any]]:
    """Every stored event as a row of the export, in application order, with its chain link.
    Bodies are decoded a page at a time, not a query per event."""
    page: dict[int, Any] = {}
    for position, row, link in stored_links(ledger):
        if row is None or link is None:
            raise InvalidInput(
                f"the store's chain is broken at position {position}: run kasda verify"
            )
        _, _, version, topic, state = row
        topic = topic.decode() if isinstance(topic, bytes) else str(topic)
        state = bytes(state)
        if position not in page:
            page = {
                n.id: n for n in ledger.recorder.select_notifications(start=position, limit=PAGE)
            }
        event = ledger.mapper.to_domain_event(page[position])
        kind, _, name = topic.rpartition(":")[2].rpartition(".")
        yield {
            "position": position,
            "aggregate_id": str(event.originator_id),
            "aggregate_type": kind,
            "event": name,
            "version": version,
            "topic": topic,
            "state_b64": base64.b64encode(state).decode(),
            "digest": event_digest(event.originator_id, version, topic, state).hex(),
            "chain_hash": link.hex(),
            "body": {
                k: v
                for k, v in vars(event).items()
                if k not in ("originator_id", "originator_version")
            },
        }


@dataclass
class _Chain:
    """What the manifest says of the exported chain: how many events, where it starts and ends."""

    count: int = 0
    first: int = 0
    last: int = 0
    head: str = GENESIS.hex()

    def add(self, position: int, link: str) -> None:
        self.count, self.first, self.last = self.count + 1, self.first or position, position
        self.head = link


class _ParquetParts:
    """``events.parquet`` written a page at a time: each page of rows becomes one part, and the
    parts are joined by Polars' streaming engine at the end."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.columns: dict[str, list[Any]] = {name: [] for name in SCHEMA}
        self.parts: list[Path] = []

    def add(self, record: dict[str, Any]) -> None:
        for key, column in self.columns.items():
            value = record[key]
            column.append(
                json.dumps(value, default=_plain, sort_keys=True) if key == "body" else value
            )
        if len(self.columns["position"]) >= PAGE:
            self.flush()

    def flush(self) -> None:
        if self.columns["position"]:
            part = self.work / f".part-{len(self.parts):06d}.parquet"
            pl.DataFrame(self.columns, schema=SCHEMA).write_parquet(part)
            self.parts.append(part)
            for column in self.columns.values():
                column.clear()

    def join(self, target: Path) -> None:
        self.flush()
        if not self.parts:
            pl.DataFrame(self.columns, schema=SCHEMA).write_parquet(target)
            return
        pl.scan_parquet(self.parts).sink_parquet(target, maintain_order=True)
        for part in self.parts:
            part.unlink()


def plain_json(value: Any) -> Any:
    """The library's JSON transcoding ({"_type_": ..., "_data_": ...}) as the export writes it."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            kind, data = value["_type_"], value["_data_"]
            if kind == "uuid_hex":
                return str(UUID(data))
            if kind == "datetime_iso":
                return datetime.fromisoformat(data).isoformat()
            return plain_json(data)
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value


def body_matches_state(body: Any, state: bytes) -> bool | None:
    """Whether the decoded body says what the stored bytes say (None: encrypted, cannot tell)."""
    try:
        stored = json.loads(state)
    except ValueError:
        return None
    return bool(plain_json(stored) == body)


def verify_export(
    folder: Path,
    *,
    anchors: list[Checkpoint] | None = None,
    trusted_key: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify an export offline: every file an auditor may read is bound to the signed chain.

    ``events.jsonl`` and ``events.parquet`` are each walked on their own: every row's digest is
    recomputed from its stored bytes, every link from the previous one, the decoded body and the
    derived columns are compared with those bytes, and the chain must reach each signed checkpoint
    (from ``checkpoints.json`` and ``anchors``). The manifest's SHA-256s are a quick first check
    only: an editor can re-hash them, but not re-sign a checkpoint. ``progress`` (if given) hears
    the rows checked so far and the manifest's count.
    """
    started = time.perf_counter()
    report = Report()
    try:
        return _verify_export(folder, report, anchors or [], trusted_key, progress)
    finally:
        report.seconds = time.perf_counter() - started


def _verify_export(
    folder: Path,
    report: Report,
    anchors: list[Checkpoint],
    trusted_key: str | None,
    progress: Progress | None,
) -> Report:
    manifest, stored = _read_export(folder)
    report.problem = _strangers(folder)
    if report.problem is not None:
        return report
    # The files' SHA-256s (a quick first check, ~1 GB/s) are computed on a thread of their own while
    # the rows are checked; their verdict still comes first, then the signatures', then the rows'.
    with ThreadPoolExecutor(1) as hashing:
        rehashed = hashing.submit(_unlike_manifest, folder, manifest["files"])
        wanted = by_position([*stored, *anchors])
        forged = forged_checkpoint(itertools.chain.from_iterable(wanted.values()), trusted_key)
        fast = (
            None
            if forged is not None
            else fast_walks(folder, wanted, _counting(progress, manifest))
        )
        report.problem = rehashed.result() or forged
    if report.problem is not None:
        return report
    walks = fast or [
        walk_rows("events.jsonl", _jsonl_rows(folder / "events.jsonl"), wanted),
        walk_rows("events.parquet", _parquet_rows(folder / "events.parquet"), wanted),
    ]
    for walk in walks:
        if walk.problem is not None:
            report.problem, report.events = walk.problem, walk.events
            return report
    jsonl = walks[0]
    report.events, report.head_position, report.head_hash = jsonl.events, jsonl.last, jsonl.head
    report.checkpoints = jsonl.checkpoints
    report.problem = _ends_elsewhere(walks, manifest)
    if report.problem is None and jsonl.encrypted:
        report.notes.append(
            f"{jsonl.encrypted:,} event bodies are encrypted: their decoded 'body' could not be "
            "compared with the stored bytes (decrypt state_b64 with the key to check it)"
        )
    return report


def _read_export(folder: Path) -> tuple[dict[str, Any], list[Checkpoint]]:
    """The manifest (listing exactly ``FILES``) and the checkpoints stored in the export."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        listed = manifest["files"]
        if not isinstance(listed, dict) or set(listed) != set(FILES):
            raise ValueError(f"the manifest must list exactly {', '.join(FILES)}")
        stored = [
            Checkpoint.from_json(json.dumps(c))
            for c in json.loads((folder / "checkpoints.json").read_text())
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidInput(f"{folder} is not a complete kasda export: {error}") from None
    return manifest, stored


def _strangers(folder: Path) -> Problem | None:
    """A file verify does not check is a file nobody should trust: refuse it rather than let an
    auditor read it next to verified ones."""
    strangers = sorted(p.name for p in folder.iterdir() if p.name not in (*FILES, "manifest.json"))
    if strangers:
        return Problem(
            0,
            f"{', '.join(strangers)} is not part of a kasda export and nothing vouches for it: "
            "move it out of the folder",
        )
    return None


def _unlike_manifest(folder: Path, listed: dict[str, str]) -> Problem | None:
    """The manifest's SHA-256s, a quick first check."""
    for name in FILES:
        if _sha256(folder / name) != listed[name]:
            return Problem(0, f"{name} differs from the manifest's SHA-256")
    return None


def _ends_elsewhere(walks: list[_Walk], manifest: dict[str, Any]) -> Problem | None:
    """Each file's chain must end where the manifest says (count, first, last, head)."""
    said = (
        manifest.get("events"),
        manifest.get("first_position"),
        manifest.get("last_position"),
        manifest.get("chain_head"),
    )
    for walk in walks:
        if said != (walk.events, walk.first, walk.last, walk.head):
            return Problem(
                walk.last, f"{walk.source}: the events do not end where the manifest says"
            )
    return None


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The Parquet rows a page at a time (memory does not grow with the export)."""
    schema = dict(pl.read_parquet_schema(path))
    if schema != SCHEMA:
        raise _Malformed(f"its columns are {schema}, not the export's {SCHEMA}")
    frame = pl.scan_parquet(path)
    offset = 0
    while True:
        page = frame.slice(offset, PAGE).collect()
        for row in page.iter_rows(named=True):
            yield {**row, "body": json.loads(row["body"])}
        if page.height < PAGE:
            return
        offset += PAGE


class _Malformed(ValueError):
    """A file or row that does not have the export's shape."""


@dataclass
class _Walk:
    source: str
    events: int = 0
    first: int = 0
    last: int = 0
    head: str = GENESIS.hex()
    checkpoints: int = 0
    encrypted: int = 0
    problem: Problem | None = None


def walk_rows(
    source: str, rows: Iterator[dict[str, Any]], signed: dict[int, set[Checkpoint]]
) -> _Walk:
    """Recompute the chain over one file's rows and hold it to the signed checkpoints."""
    walk, wanted = _Walk(source), {p: set(at) for p, at in signed.items()}
    previous, position = GENESIS, 0
    try:
        for row in rows:
            position, link, what, encrypted = _check_row(row, previous, wanted)
            if what is not None:
                walk.problem = Problem(
                    position,
                    f"{source} row {walk.events + 1}: {what}",
                    row["aggregate_id"],
                    row["version"],
                    row["topic"],
                )
                return walk
            walk.encrypted += encrypted
            previous = link
            walk.events += 1
            walk.first, walk.last, walk.head = walk.first or position, position, link.hex()
    except (_Malformed, ValueError, KeyError, TypeError) as error:
        walk.problem = Problem(
            position, f"{source} row {walk.events + 1}: not in the export's format: {error}"
        )
        return walk
    if wanted:
        missing = min(wanted)
        walk.problem = Problem(
            missing, f"{source}: a signed checkpoint covers position {missing}, beyond the export"
        )
    walk.checkpoints = sum(len(at) for at in signed.values()) - sum(
        len(at) for at in wanted.values()
    )
    return walk


def _state(row: dict[str, Any]) -> bytes:
    return base64.b64decode(row["state_b64"], validate=True)


def _check_row(
    row: dict[str, Any], previous: bytes, wanted: dict[int, set[Checkpoint]]
) -> tuple[int, bytes, str | None, bool]:
    """(position, recomputed link, what is wrong or None, body encrypted) for one row of either
    file.

    Every field is covered: position, aggregate id, version, topic and stored bytes by the digest
    and the link; digest and chain_hash by recomputing them; aggregate_type and event by the topic;
    the body by the stored bytes (unless they are encrypted).
    """
    if set(row) != set(SCHEMA):
        raise _Malformed(f"its fields are {sorted(row)}, not {sorted(SCHEMA)}")
    position, version = row["position"], row["version"]
    if type(position) is not int or type(version) is not int or not 0 < position < 1 << 63:
        raise _Malformed("position and version must be integers")
    if not 0 <= version < 1 << 63:
        raise _Malformed("version out of range")
    state = _state(row)
    digest = event_digest(row["aggregate_id"], version, row["topic"], state)
    link = chain_next(previous, position, digest)
    kind, _, name = str(row["topic"]).rpartition(":")[2].rpartition(".")
    matches = body_matches_state(row["body"], state)
    what = None
    if matches is False:
        what = "the decoded body differs from the stored bytes"
    elif (row["aggregate_type"], row["event"]) != (kind, name):
        what = "aggregate_type or event differs from the event's topic"
    elif digest.hex() != row["digest"] or link.hex() != row["chain_hash"]:
        what = "does not match its chain link: altered, moved or removed"
    elif any(signed.chain_hash != link.hex() for signed in wanted.pop(position, ())):
        what = "chain differs from the signed checkpoint"
    return position, link, what, matches is None


# -- the fast path (issue 17) ------------------------------------------------------------------
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_HEX64 = r"^[0-9a-f]{64}$"
_PLAIN = r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$"  # printable ASCII that JSON writes as it is
_PACK8 = struct.Struct(">Q")


def _counting(progress: Progress | None, manifest: dict[str, Any]) -> Progress | None:
    if progress is None:
        return None
    said = manifest.get("events")
    total = said if type(said) is int else 0
    return lambda done, _: progress(done, max(total, done))


def fast_walks(
    folder: Path, signed: dict[int, set[Checkpoint]], progress: Progress | None
) -> list[_Walk] | None:
    """Both files' walks, if the Parquet rows all hold and events.jsonl is, byte for byte, those
    rows as the exporter writes them; None if anything is off (the exact walks then say what)."""
    path = folder / "events.parquet"
    walk, wanted = _Walk("events.parquet"), {p: set(at) for p, at in signed.items()}
    try:
        if dict(pl.read_parquet_schema(path)) != SCHEMA:
            return None
        total = int(pl.scan_parquet(path).select(pl.len()).collect().item())
        with (folder / "events.jsonl").open("rb") as jsonl:
            for piece in _slices(path, total, signed, jsonl):
                if not piece.sound:
                    return None
                if piece.compared:  # its lines were compared with the rows already
                    jsonl.seek(piece.length, io.SEEK_CUR)
                elif piece.lines != hashlib.sha256(jsonl.read(piece.length)).digest():
                    return None
                _merge(walk, piece, wanted)
                if progress is not None:
                    progress(walk.events, total)
            if jsonl.read(1):
                return None  # more lines than rows
    except (pl.exceptions.PolarsError, OSError, ValueError, TypeError, struct.error):
        return None
    if wanted:
        return None  # a checkpoint beyond the export: the exact walk words it
    walk.checkpoints = sum(len(at) for at in signed.values())
    return [dataclasses.replace(walk, source="events.jsonl"), walk]


@dataclass(frozen=True)
class _Slice:
    """The verdict on FAST_PAGE rows of events.parquet from ``offset``, and what the walk needs."""

    offset: int
    sound: bool
    events: int = 0
    first: int = 0
    last: int = 0
    head: str = ""
    encrypted: int = 0
    signed: frozenset[int] = frozenset()  # checkpoint positions met (and holding) in the slice
    lines: bytes = b""  # SHA-256 of the slice's lines of events.jsonl, as the exporter writes them
    length: int = 0  # and their length in bytes
    compared: bool = False  # the lines were compared with the rows byte for byte (accelerator)


def _merge(walk: _Walk, piece: _Slice, wanted: dict[int, set[Checkpoint]]) -> None:
    for position in piece.signed:
        wanted.pop(position, None)
    if piece.events:
        walk.first = walk.first or piece.first
        walk.last, walk.head = piece.last, piece.head
        walk.events += piece.events
        walk.encrypted += piece.encrypted


def _slices(
    path: Path, total: int, signed: dict[int, set[Checkpoint]], jsonl: BinaryIO
) -> Iterator[_Slice]:
    """The slices' verdicts in order: with the accelerator on ``THREADS`` threads, else checked
    here, or for a large export by ``PROCESSES`` worker processes (spawned: Polars' threads do not
    survive a fork), each reading its own slice."""
    if accelerator is not None and total:
        yield from _threaded_slices(path, total, signed, jsonl)
        return
    size = FAST_PAGE  # passed along: a spawned worker has its own module's settings
    offsets = range(0, total, size)
    if total < PROCESS_MIN:
        yield from (_check_slice(path, offset, size, signed) for offset in offsets)
        return
    starts = iter(offsets)
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = deque(
            pool.submit(_check_slice, path, offset, size, signed)
            for offset in itertools.islice(starts, PROCESSES + AHEAD)
        )
        try:
            while pending:
                piece = pending.popleft().result(timeout=SLICE_WAIT)
                following = next(starts, None)
                if following is not None:
                    pending.append(pool.submit(_check_slice, path, following, size, signed))
                yield piece
        finally:
            for future in pending:
                future.cancel()


def _check_slice(path: Path, offset: int, size: int, signed: dict[int, set[Checkpoint]]) -> _Slice:
    """Check ``size`` rows from ``offset``: each link from the stored one before it (the last row
    of the slice before; if every link holds, each equals the recomputed one)."""
    frame = pl.scan_parquet(path)
    try:
        page = _fast_page(frame.slice(offset, size).collect())
        if page is None:
            return _Slice(offset, sound=False)
        previous = GENESIS
        if offset:
            before = frame.slice(offset - 1, 1).select("chain_hash").collect().item()
            previous = bytes.fromhex(before)
        walk, wanted = _Walk("events.parquet"), {p: set(at) for p, at in signed.items()}
        if _fast_rows(page[0], previous, walk, wanted) is None:
            return _Slice(offset, sound=False)
    except (pl.exceptions.PolarsError, ValueError, TypeError, struct.error):
        return _Slice(offset, sound=False)
    return _Slice(
        offset,
        True,
        walk.events,
        walk.first,
        walk.last,
        walk.head,
        walk.encrypted,
        frozenset(signed) - frozenset(wanted),
        hashlib.sha256(page[1]).digest(),
        len(page[1]),
    )


def _threaded_slices(
    path: Path, total: int, signed: dict[int, set[Checkpoint]], jsonl: BinaryIO
) -> Iterator[_Slice]:
    """The slices checked by the accelerator on threads, each with its own lines of events.jsonl
    (found here, a slice's count of lines after the last one's: a file with fewer lines than
    rows is not sound)."""
    assert accelerator is not None
    size, start = FAST_PAGE, 0
    pending: deque[Future[_Slice]] = deque()
    with (
        mmap.mmap(jsonl.fileno(), 0, access=mmap.ACCESS_READ) as lines,
        ThreadPoolExecutor(THREADS) as pool,
    ):
        try:
            for offset in range(0, total, size):
                end = accelerator.line_ends(lines, start, min(size, total - offset))
                if end < 0:
                    while pending:
                        yield pending.popleft().result(timeout=SLICE_WAIT)
                    yield _Slice(offset, sound=False)
                    return
                pending.append(
                    pool.submit(_check_slice_in_c, path, offset, size, signed, lines, start, end)
                )
                start = end
                while len(pending) > THREADS + AHEAD:
                    yield pending.popleft().result(timeout=SLICE_WAIT)
            while pending:
                yield pending.popleft().result(timeout=SLICE_WAIT)
        finally:
            for future in pending:
                future.cancel()


_TEXTS = ("aggregate_id", "aggregate_type", "event", "topic", "state_b64", "digest", "chain_hash")


def _check_slice_in_c(
    path: Path,
    offset: int,
    size: int,
    signed: dict[int, set[Checkpoint]],
    lines: mmap.mmap,
    start: int,
    end: int,
) -> _Slice:
    """``_check_slice`` by the accelerator, the slice's lines of events.jsonl (``lines[start:end]``)
    compared with its rows as it goes; the rows it does not vouch for are checked here in Python,
    as ``_check_slice`` checks them."""
    assert accelerator is not None
    frame = pl.scan_parquet(path)
    try:
        page = frame.slice(offset, size).collect()
        if page.null_count().sum_horizontal().item():
            return _Slice(offset, sound=False)
        previous = GENESIS
        if offset:
            before = frame.slice(offset - 1, 1).select("chain_hash").collect().item()
            previous = bytes.fromhex(before)
        page = page.rechunk()
        verdict = accelerator.check_rows(
            page.get_column("position").to_numpy(),
            page.get_column("version").to_numpy(),
            tuple(page.get_column(name).__arrow_c_stream__() for name in (*_TEXTS, "body")),
            lines,
            start,
            end,
            previous,
        )
        if verdict is None:
            return _Slice(offset, sound=False)
        head, bodies, odd_lines = verdict
        encrypted = _declined_rows(page, bodies, odd_lines, lines)
        met = _checkpoints_met(page, signed)
        if encrypted is None or met is None:
            return _Slice(offset, sound=False)
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        return _Slice(offset, sound=False)
    positions = page.get_column("position")
    return _Slice(
        offset,
        True,
        page.height,
        int(positions[0]),
        int(positions[-1]),
        head.hex(),
        encrypted,
        frozenset(met),
        length=end - start,
        compared=True,
    )


def _declined_rows(
    page: pl.DataFrame, bodies: list[int], odd_lines: list[tuple[int, int, int]], lines: mmap.mmap
) -> int | None:
    """The rows the accelerator left to Python, checked as ``_fast_rows`` and ``_jsonl_lines``
    check them: how many bodies are encrypted, or None if one does not hold."""
    encrypted = 0
    for row in bodies:
        matches = _body_matches(page["body"][row], base64.b64decode(page["state_b64"][row]))
        if matches is False:
            return None
        encrypted += matches is None
    for row, first, last in odd_lines:
        values = page.row(row, named=True)
        line = json.dumps(
            {**values, "body": json.loads(values["body"])}, ensure_ascii=False, sort_keys=True
        )
        if line.encode() != lines[first:last]:
            return None
    return encrypted


def _checkpoints_met(page: pl.DataFrame, signed: dict[int, set[Checkpoint]]) -> set[int] | None:
    """The signed positions in the page whose checkpoints hold (each at its first row, as in
    ``_fast_rows``), or None if one does not."""
    met: set[int] = set()
    if signed:
        hits = page.filter(pl.col("position").is_in(list(signed)))
        for position, link in hits.select("position", "chain_hash").iter_rows():
            if position not in met:
                if any(checkpoint.chain_hash != link for checkpoint in signed[position]):
                    return None
                met.add(position)
    return met


def _fast_page(frame: pl.DataFrame) -> tuple[pl.DataFrame, bytes] | None:
    """(the columns the row loop needs, the page's lines of events.jsonl as the exporter writes
    them), or None if a column-wise check fails."""
    if frame.null_count().sum_horizontal().item():
        return None
    after_colon = pl.col("topic").str.split(":").list.last().str.split(".")
    kind = after_colon.list.eval(pl.element().head(pl.len() - 1)).list.join(".")
    sound = frame.select(
        (pl.col("position") > 0).all()
        & (pl.col("version") >= 0).all()
        & pl.col("aggregate_id").str.contains(_UUID).all()
        & pl.col("digest").str.contains(_HEX64).all()
        & pl.col("chain_hash").str.contains(_HEX64).all()
        & (kind == pl.col("aggregate_type")).all()
        & (after_colon.list.last() == pl.col("event")).all()
    ).item()
    if not sound:
        return None
    columns = frame.select(
        "position",
        "version",
        pl.col("aggregate_id").str.replace_all("-", "", literal=True).str.decode("hex"),
        pl.col("topic").cast(pl.Binary),
        pl.col("state_b64").str.decode("base64").alias("state"),
        pl.col("digest").str.decode("hex"),
        pl.col("chain_hash").str.decode("hex"),
        "body",
    )
    # Base64 that decodes and encodes back to itself: what Python's strict decoder reads the same.
    if (
        not columns.select(pl.col("state").bin.encode("base64"))
        .to_series()
        .equals(frame["state_b64"], check_names=False)
    ):
        return None
    return columns, _jsonl_lines(frame)


def _jsonl_lines(frame: pl.DataFrame) -> bytes:
    """The rows as ``_write`` puts them in events.jsonl (json.dumps, sort_keys, ensure_ascii off):
    column-wise when every text is plain ASCII, row by row otherwise."""
    if frame.height == 0:
        return b""
    plain = frame.select(
        pl.all_horizontal(
            pl.col("aggregate_type", "event", "topic").str.contains(_PLAIN),
            ~pl.col("body").str.contains("\\u", literal=True),
        ).all()
    ).item()
    if not plain:
        lines = [
            json.dumps({**row, "body": json.loads(row["body"])}, ensure_ascii=False, sort_keys=True)
            for row in frame.iter_rows(named=True)
        ]
        return ("\n".join(lines) + "\n").encode()

    def text(name: str) -> list[pl.Expr]:
        return [pl.lit(f', "{name}": "'), pl.col(name), pl.lit('"')]

    line = pl.concat_str(
        pl.lit('{"aggregate_id": "'),
        pl.col("aggregate_id"),
        pl.lit('"'),
        *text("aggregate_type"),
        pl.lit(', "body": '),
        pl.col("body"),
        *text("chain_hash"),
        *text("digest"),
        *text("event"),
        pl.lit(', "position": '),
        pl.col("position").cast(pl.String),
        *text("state_b64"),
        *text("topic"),
        pl.lit(', "version": '),
        pl.col("version").cast(pl.String),
        pl.lit("}"),
    )
    # Written by Polars as one unquoted column, a line each: no Python string of the whole page
    # (half the CPU of joining the lines and encoding them here).
    rendered = io.BytesIO()
    frame.select(line.alias("line")).write_csv(rendered, include_header=False, quote_style="never")
    return rendered.getvalue()


def _fast_rows(
    columns: pl.DataFrame, previous: bytes, walk: _Walk, wanted: dict[int, set[Checkpoint]]
) -> bytes | None:
    """Each row's digest and link (from the stored link before it: if all hold, each equals the
    recomputed one), its body against its stored bytes, and the checkpoints among its positions.
    Returns the last link, or None at the first row that does not hold."""
    sha256, pack, join = hashlib.sha256, _PACK8.pack, b"".join
    encrypted = 0
    rows = zip(*(columns.get_column(name).to_list() for name in columns.columns), strict=True)
    for position, version, aggregate, topic, state, digest, link, body in rows:
        computed = sha256(join((aggregate, pack(version), topic, b"\x00", state))).digest()
        if computed != digest or sha256(previous + pack(position) + computed).digest() != link:
            return None
        matches = _body_matches(body, state)
        if matches is False:
            return None
        encrypted += matches is None
        if position in wanted:
            if any(signed.chain_hash != link.hex() for signed in wanted[position]):
                return None
            del wanted[position]
        previous = link
    if columns.height:
        positions = columns["position"]
        walk.first = walk.first or int(positions[0])
        walk.last, walk.head = int(positions[-1]), previous.hex()
        walk.events += columns.height
        walk.encrypted += encrypted
    return previous


def _body_matches(body: str, state: bytes) -> bool | None:
    """``body_matches_state(json.loads(body), state)``, with orjson where it reads the text (its
    values are json's for any JSON it accepts); json where it does not, so the verdict is json's."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        decoded = json.loads(body)
    try:
        stored = orjson.loads(state)
    except orjson.JSONDecodeError:
        return body_matches_state(decoded, state)
    return same_as_plain(stored, decoded)


_HEX = frozenset("0123456789abcdef")


def same_as_plain(stored: Any, body: Any) -> bool:
    """``plain_json(stored) == body``, without building the plain copy: compared in place, and
    stopping at the first difference."""
    kind = type(stored)
    if kind is dict:
        if len(stored) == 2 and "_type_" in stored and "_data_" in stored:
            return _same_wrapped(stored, body)
        if type(body) is not dict or stored.keys() != body.keys():
            return False
        pairs: Iterator[tuple[Any, Any]] = ((value, body[key]) for key, value in stored.items())
    elif kind is list:
        if type(body) is not list or len(stored) != len(body):
            return False
        pairs = zip(stored, body, strict=True)
    else:
        return bool(stored == body)
    for value, other in pairs:  # leaves compared here: no call per leaf
        if type(value) in _NESTED:
            if not same_as_plain(value, other):
                return False
        elif value != other:  # JSON's values: != is the negation of ==
            return False
    return True


def _same_wrapped(stored: dict[str, Any], body: Any) -> bool:
    """The common wrappers compared as text: a datetime whose text ``isoformat`` writes back
    unchanged (plain_json's value; an offset of +05:60 reads back as +06:00, and an impossible
    date raises as before), a lowercase hex UUID (its canonical form is that hex with dashes); any
    other through ``plain_json``."""
    data = stored["_data_"]
    if stored["_type_"] == "datetime_iso" and type(data) is str and data == body:
        return datetime.fromisoformat(data).isoformat() == data
    if (
        stored["_type_"] == "uuid_hex"
        and type(data) is str
        and type(body) is str
        and len(data) == 32
        and len(body) == 36
        and _HEX.issuperset(data)
    ):
        return body == f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
    return bool(plain_json(stored) == body)


_NESTED = (dict, list)
