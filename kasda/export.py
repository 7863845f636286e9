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

The verifier needs only these files and the BPKAD public key: it recomputes every digest and link from
the stored bytes and checks them against the chain and the signed checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
import time
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
    """Verify an export offline: file hashes, every digest and link, the head, the checkpoints."""
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
        for name, digest in manifest["files"].items():
            if _sha256(folder / name) != digest:
                report.problem = Problem(0, f"{name} differs from the manifest's SHA-256")
                return report
        stored = [
            Checkpoint.from_json(json.dumps(c))
            for c in json.loads((folder / "checkpoints.json").read_text())
        ]
    except (OSError, ValueError, KeyError) as error:
        raise InvalidInput(f"{folder} is not a complete kasda export: {error}") from None
    wanted = {c.position: c for c in [*stored, *anchors]}
    report.problem = forged_checkpoint(wanted.values(), trusted_key)
    if report.problem is not None:
        return report
    previous = GENESIS
    with (folder / "events.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            row = json.loads(line)
            position = row["position"]
            state = base64.b64decode(row["state_b64"])
            digest = event_digest(row["aggregate_id"], row["version"], row["topic"], state)
            expected = chain_next(previous, position, digest)
            if body_matches_state(row["body"], state) is False:
                report.problem = Problem(
                    position,
                    f"line {number}: the decoded body differs from the stored bytes",
                    row["aggregate_id"],
                    row["version"],
                    row["topic"],
                )
                return report
            if digest.hex() != row["digest"] or expected.hex() != row["chain_hash"]:
                report.problem = Problem(
                    position,
                    f"line {number} does not match its chain link: altered, moved or removed",
                    row["aggregate_id"],
                    row["version"],
                    row["topic"],
                )
                return report
            anchor = wanted.get(position)
            if anchor is not None:
                del wanted[position]
            if anchor is not None and anchor.chain_hash != expected.hex():
                report.problem = Problem(position, "chain differs from the signed checkpoint")
                return report
            previous = expected
            report.events += 1
            report.head_position = position
    report.head_hash = previous.hex()
    if report.head_hash != manifest.get("chain_head") or report.events != manifest.get("events"):
        report.problem = Problem(
            report.head_position, "the events do not end where the manifest says"
        )
    elif wanted:
        missing = min(wanted)
        report.problem = Problem(
            missing, f"a signed checkpoint covers position {missing}, beyond the export"
        )
    report.checkpoints = len(stored) + len(anchors) - len(wanted)
    return report
