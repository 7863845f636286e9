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
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl

from ledger.application import Ledger
from ledger.errors import InvalidInput
from ledger.integrity import GENESIS, chain_next, event_digest
from ledger.verify import (
    Checkpoint,
    Problem,
    Report,
    by_position,
    forged_checkpoint,
    load_checkpoints,
    stored_links,
)

FILES = ("events.jsonl", "events.parquet", "checkpoints.json")
PAGE = 10_000  # events per JSONL read page and per Parquet part
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


def export_history(ledger: Ledger, out: Path) -> dict[str, Any]:
    """Write the export into ``out`` (which must not exist or be empty), atomically."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty folder: choose a new one")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        manifest = _write(ledger, work)
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


def _write(ledger: Ledger, work: Path) -> dict[str, Any]:
    """Stream the store into the files, a page of ``PAGE`` events at a time.

    Each page becomes one Parquet part; the parts are then streamed into ``events.parquet`` by
    Polars' streaming engine. Neither file needs the whole history in memory.
    """
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA}
    parts: list[Path] = []
    head = GENESIS.hex()
    count, first, last = 0, 0, 0
    page: dict[int, Any] = {}

    def flush() -> None:
        if columns["position"]:
            part = work / f".part-{len(parts):06d}.parquet"
            pl.DataFrame(columns, schema=SCHEMA).write_parquet(part)
            parts.append(part)
            for column in columns.values():
                column.clear()

    with (work / "events.jsonl").open("w", encoding="utf-8") as jsonl:
        for position, row, link in stored_links(ledger):
            if row is None or link is None:
                raise InvalidInput(
                    f"the store's chain is broken at position {position}: run kasda verify"
                )
            _, _, version, topic, state = row
            topic = topic.decode() if isinstance(topic, bytes) else str(topic)
            state = bytes(state)
            if position not in page:  # decode bodies a page at a time, not a query per event
                page = {
                    n.id: n
                    for n in ledger.recorder.select_notifications(start=position, limit=PAGE)
                }
            event = ledger.mapper.to_domain_event(page[position])
            kind, _, name = topic.rpartition(":")[2].rpartition(".")
            record = {
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
            line = json.dumps(record, default=_plain, ensure_ascii=False, sort_keys=True)
            jsonl.write(line + "\n")
            for key, column in columns.items():
                value = record[key]
                column.append(
                    json.dumps(value, default=_plain, sort_keys=True) if key == "body" else value
                )
            if len(columns["position"]) >= PAGE:
                flush()
            head = link.hex()
            count, first, last = count + 1, first or position, position
    flush()
    target = work / "events.parquet"
    if parts:
        pl.scan_parquet(parts).sink_parquet(target, maintain_order=True)
        for part in parts:
            part.unlink()
    else:
        pl.DataFrame(columns, schema=SCHEMA).write_parquet(target)
    checkpoints = [json.loads(c.to_json()) for c in load_checkpoints(ledger)]
    (work / "checkpoints.json").write_text(json.dumps(checkpoints, indent=2) + "\n")
    module = ledger.env.get("PERSISTENCE_MODULE", "")
    manifest = {
        "format": "kasda-export/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "kasda_version": _kasda_version(),
        "store": module.rsplit(".", 1)[-1],
        "events": count,
        "first_position": first,
        "last_position": last,
        "chain_head": head,
        "files": {name: _sha256(work / name) for name in FILES},
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _plain_json(value: Any) -> Any:
    """The library's JSON transcoding ({"_type_": ..., "_data_": ...}) as the export writes it."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            kind, data = value["_type_"], value["_data_"]
            if kind == "uuid_hex":
                return str(UUID(data))
            if kind == "datetime_iso":
                return datetime.fromisoformat(data).isoformat()
            return _plain_json(data)
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


def body_matches_state(body: Any, state: bytes) -> bool | None:
    """Whether the decoded body says what the stored bytes say (None: encrypted, cannot tell)."""
    try:
        stored = json.loads(state)
    except ValueError:
        return None
    return bool(_plain_json(stored) == body)


def verify_export(
    folder: Path, *, anchors: list[Checkpoint] | None = None, trusted_key: str | None = None
) -> Report:
    """Verify an export offline: every file an auditor may read is bound to the signed chain.

    ``events.jsonl`` and ``events.parquet`` are each walked on their own: every row's digest is
    recomputed from its stored bytes, every link from the previous one, the decoded body and the
    derived columns are compared with those bytes, and the chain must reach each signed checkpoint
    (from ``checkpoints.json`` and ``anchors``). The manifest's SHA-256s are a quick first check
    only: an editor can re-hash them, but not re-sign a checkpoint.
    """
    started = time.perf_counter()
    report = Report()
    try:
        return _verify_export(folder, report, anchors or [], trusted_key)
    finally:
        report.seconds = time.perf_counter() - started


def _verify_export(
    folder: Path, report: Report, anchors: list[Checkpoint], trusted_key: str | None
) -> Report:
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
    # A file verify does not check is a file nobody should trust: refuse it rather than let an
    # auditor read it next to verified ones.
    strangers = sorted(p.name for p in folder.iterdir() if p.name not in (*FILES, "manifest.json"))
    if strangers:
        report.problem = Problem(
            0,
            f"{', '.join(strangers)} is not part of a kasda export and nothing vouches for it: "
            "move it out of the folder",
        )
        return report
    for name in FILES:
        if _sha256(folder / name) != listed[name]:
            report.problem = Problem(0, f"{name} differs from the manifest's SHA-256")
            return report
    wanted = by_position([*stored, *anchors])
    report.problem = forged_checkpoint(itertools.chain.from_iterable(wanted.values()), trusted_key)
    if report.problem is not None:
        return report
    walks = [
        _walk("events.jsonl", _jsonl_rows(folder / "events.jsonl"), wanted),
        _walk("events.parquet", _parquet_rows(folder / "events.parquet"), wanted),
    ]
    for walk in walks:
        if walk.problem is not None:
            report.problem, report.events = walk.problem, walk.events
            return report
    jsonl = walks[0]
    report.events, report.head_position, report.head_hash = jsonl.events, jsonl.last, jsonl.head
    report.checkpoints = jsonl.checkpoints
    for walk in walks:
        said = (
            manifest.get("events"),
            manifest.get("first_position"),
            manifest.get("last_position"),
            manifest.get("chain_head"),
        )
        if said != (walk.events, walk.first, walk.last, walk.head):
            report.problem = Problem(
                walk.last, f"{walk.source}: the events do not end where the manifest says"
            )
            return report
    if jsonl.encrypted:
        report.notes.append(
            f"{jsonl.encrypted:,} event bodies are encrypted: their decoded 'body' could not be "
            "compared with the stored bytes (decrypt state_b64 with the key to check it)"
        )
    return report


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


def _walk(source: str, rows: Iterator[dict[str, Any]], signed: dict[int, set[Checkpoint]]) -> _Walk:
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
