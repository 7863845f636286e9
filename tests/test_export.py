"""The auditor's export holds the whole history, and its offline verification catches edits."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kasda import export
from kasda.cli import main
from kasda.export import export_history, verify_export
from kasda.settings import Settings
from ledger.application import Ledger
from ledger.disbursement import Disbursement
from ledger.errors import InvalidInput
from ledger.integrity import event_digest
from ledger.verify import Checkpoint, checkpoint, new_signing_key, signing_key, verify
from testkit.clock import FixedClock
from tests import factory as f

pytestmark = pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def exported(ledger_url: str, tmp_path: Path) -> Iterator[tuple[Ledger, Path, str]]:
    ledger = Ledger(ledger_url, clock=FixedClock())
    f.adopt(ledger)
    f.register_vendor(ledger)
    for n in range(3):
        f.pay_in_full(ledger, f"SPP-{n}", gross=100_000_000 + n)
    seed, public = new_signing_key()
    checkpoint(ledger, signing_key(seed))
    out = tmp_path / "export"
    export_history(ledger, out)
    yield ledger, out, public
    ledger.close()


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def _rewrite(out: Path, rows: list[dict[str, Any]]) -> None:
    """An editor who also fixes the manifest's file hash."""
    path = out / "events.jsonl"
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["events.jsonl"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_the_export_is_complete_and_verifies(exported: tuple[Ledger, Path, str]) -> None:
    ledger, out, public = exported
    rows = _rows(out)
    assert len(rows) == ledger.recorder.max_notification_id()
    parquet = pl.read_parquet(out / "events.parquet")
    assert parquet.height == len(rows)
    assert parquet["position"].to_list() == [r["position"] for r in rows]
    for row in rows:
        state = base64.b64decode(row["state_b64"])
        assert (
            event_digest(row["aggregate_id"], row["version"], row["topic"], state).hex()
            == row["digest"]
        )
    requested = [
        r for r in rows if r["aggregate_type"] == "Disbursement" and r["event"] == "Requested"
    ]
    assert sorted(r["body"]["gross"] for r in requested) == [100_000_000, 100_000_001, 100_000_002]
    assert all(type(r["body"]["gross"]) is int for r in requested)
    report = verify_export(out, trusted_key=public)
    assert report.ok, report.problem
    assert report.events == len(rows) and report.checkpoints == 1


def test_an_edited_body_is_caught(exported: tuple[Ledger, Path, str]) -> None:
    _, out, public = exported
    rows = _rows(out)
    victim = next(r for r in rows if r["event"] == "Authorised")
    victim["body"]["bank_account"]["number"] = "9999999999"
    _rewrite(out, rows)
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and problem.position == victim["position"]
    assert "decoded body differs" in problem.what


def test_edited_stored_bytes_are_caught(exported: tuple[Ledger, Path, str]) -> None:
    _, out, public = exported
    rows = _rows(out)
    rows[10]["state_b64"] = base64.b64encode(
        base64.b64decode(rows[10]["state_b64"]) + b" "
    ).decode()
    _rewrite(out, rows)
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and problem.position == rows[10]["position"]


def test_a_file_changed_behind_the_manifest_is_caught(exported: tuple[Ledger, Path, str]) -> None:
    _, out, public = exported
    (out / "events.parquet").write_bytes(b"not parquet")
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and "events.parquet differs" in problem.what


def test_a_cut_export_is_caught_by_the_checkpoint(exported: tuple[Ledger, Path, str]) -> None:
    _, out, public = exported
    rows = _rows(out)[:-5]
    _rewrite(out, rows)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.update(events=len(rows), chain_head=rows[-1]["chain_hash"])
    (out / "manifest.json").write_text(json.dumps(manifest))
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and "beyond the export" in problem.what


def test_export_refuses_a_folder_in_use(exported: tuple[Ledger, Path, str], tmp_path: Path) -> None:
    ledger, _, _ = exported
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput):
        export_history(ledger, busy)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_jsonl_parquet_and_manifest_agree_with_the_store(
    exported: tuple[Ledger, Path, str],
) -> None:
    ledger, out, _ = exported
    rows = _rows(out)
    parquet = pl.read_parquet(out / "events.parquet")
    assert sorted(parquet.columns) == sorted(rows[0])
    as_json = [{**r, "body": json.dumps(r["body"], sort_keys=True)} for r in rows]
    assert parquet.to_dicts() == as_json  # same rows, same order; body as a JSON string
    assert parquet["body"].dtype == pl.String
    for spp in ("SPP-0", "SPP-1", "SPP-2"):
        paid = ledger.aggregate(f.disbursement_id(spp), Disbursement)
        mine = [r for r in rows if r["aggregate_id"] == str(paid.id)]
        authorised = next(r["body"] for r in mine if r["event"] == "Authorised")
        assert (authorised["gross"], authorised["net"]) == (paid.gross, paid.net)
        assert type(authorised["gross"]) is int and type(authorised["net"]) is int
        assert len(mine) == paid.version
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["events"] == len(rows) == ledger.recorder.max_notification_id()
    assert (manifest["first_position"], manifest["last_position"]) == (
        rows[0]["position"],
        rows[-1]["position"],
    )
    assert manifest["store"] in ("sqlite", "postgres")
    assert manifest["kasda_version"]
    for name in ("events.jsonl", "events.parquet", "checkpoints.json"):
        assert manifest["files"][name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert "password" not in json.dumps(manifest).lower()
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints.json",
        "events.jsonl",
        "events.parquet",
        "manifest.json",
    ]


def test_parquet_parts_keep_application_order(
    exported: tuple[Ledger, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, out, _ = exported
    monkeypatch.setattr(export, "PAGE", 7)  # many pages and Parquet parts
    small = tmp_path / "paged"
    export_history(ledger, small)
    assert (small / "events.jsonl").read_bytes() == (out / "events.jsonl").read_bytes()
    assert pl.read_parquet(small / "events.parquet").equals(pl.read_parquet(out / "events.parquet"))
    assert not [p for p in small.iterdir() if p.name.startswith(".part-")]


def test_the_cli_refuses_a_folder_in_use(
    exported: tuple[Ledger, Path, str],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KASDA_DATABASE_URL", ledger_url)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["export", "--out", str(busy)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    fresh = tmp_path / "fresh"
    assert main(["export", "--out", str(fresh)]) == 0
    assert (fresh / "manifest.json").exists()


# -- every file is bound to the signed chain (issue 12, part 2) --------------------------------
def _rehash_manifest(out: Path, **changes: Any) -> None:
    """The editor's last step: make the manifest's SHA-256s (and anything else) agree again."""
    manifest = json.loads((out / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    manifest.update(changes)
    (out / "manifest.json").write_text(json.dumps(manifest))


def _edit_parquet(out: Path, position: int, column: str, edit: Any) -> None:
    """Rewrite events.parquet with Polars, one value changed, the manifest re-hashed."""
    frame = pl.read_parquet(out / "events.parquet")
    changed = pl.when(pl.col("position") == position).then(edit).otherwise(pl.col(column))
    frame.with_columns(changed.alias(column)).write_parquet(out / "events.parquet")
    _rehash_manifest(out)


def _anchor_file(out: Path, tmp_path: Path) -> Path:
    anchor = tmp_path / "checkpoint.json"
    anchor.write_text(json.dumps(json.loads((out / "checkpoints.json").read_text())[-1]))
    return anchor


EDITS: dict[str, tuple[str, Any]] = {
    # column -> the new value (an expression over the row)
    "gross in the body": (
        "body",
        pl.col("body").str.replace('"gross": 100000001', '"gross": 190000001', literal=True),
    ),
    "event name": ("event", pl.lit("Rejected")),
    "aggregate type": ("aggregate_type", pl.lit("Vendor")),
    "stored bytes": ("state_b64", pl.col("state_b64").str.replace("=", "A")),
    "digest": ("digest", pl.lit("00" * 32)),
    "chain link": ("chain_hash", pl.lit("11" * 32)),
    "position": ("position", pl.col("position") + 1_000),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_one_value_changed_in_the_parquet_fails_verify_with_the_anchor(
    exported: tuple[Ledger, Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: str,
) -> None:
    _, out, public = exported
    victim = next(
        r for r in _rows(out) if r["event"] == "Requested" and r["body"]["gross"] == 100_000_001
    )
    column, value = EDITS[edit]
    _edit_parquet(out, victim["position"], column, value)
    assert (out / "events.jsonl").read_bytes()  # the JSONL is untouched and still verifies alone
    monkeypatch.setenv("KASDA_VERIFY_KEY", public)
    anchor = _anchor_file(out, tmp_path)
    assert main(["verify", "--export", str(out), "--anchor", str(anchor)]) == 1
    row = f"events.parquet row {_rows(out).index(victim) + 1}:"
    err = capsys.readouterr().err
    assert row in err and f"{victim['event']} of aggregate {victim['aggregate_id']}" in err
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and problem.what.startswith(row)
    moved = 1_000 if column == "position" else 0  # the row names the position it claims
    assert problem.position == victim["position"] + moved


def _forge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The thorough editor: change an amount in the stored bytes of one event and recompute every
    digest and link after it, so that the file is a consistent chain of its own."""
    forged = [dict(r) for r in rows]
    index = next(
        i
        for i, r in enumerate(rows)
        if r["event"] == "Requested" and r["body"]["gross"] == 100_000_001
    )
    victim = forged[index]
    state = base64.b64decode(victim["state_b64"]).replace(b"100000001", b"190000001")
    assert state != base64.b64decode(victim["state_b64"])
    victim["state_b64"] = base64.b64encode(state).decode()
    # The same edit in the decoded body; the export's own check says it now matches the bytes.
    victim["body"] = json.loads(json.dumps(victim["body"]).replace("100000001", "190000001"))
    assert export.body_matches_state(victim["body"], state)
    previous = bytes.fromhex(forged[index - 1]["chain_hash"])
    for row in forged[index:]:
        digest = event_digest(
            row["aggregate_id"], row["version"], row["topic"], base64.b64decode(row["state_b64"])
        )
        previous = hashlib.sha256(previous + row["position"].to_bytes(8, "big") + digest).digest()
        row.update(digest=digest.hex(), chain_hash=previous.hex())
    return forged


def test_a_rechained_export_is_caught_only_by_the_signed_anchor(
    exported: tuple[Ledger, Path, str], tmp_path: Path
) -> None:
    _, out, public = exported
    anchor = _anchor_file(out, tmp_path)
    signed = Checkpoint.from_json(anchor.read_text())
    rows = _rows(out)
    forged = _forge(rows)
    (out / "events.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in forged))
    parquet = pl.DataFrame(
        [{**r, "body": json.dumps(r["body"], sort_keys=True)} for r in forged], schema=export.SCHEMA
    )
    parquet.write_parquet(out / "events.parquet")
    (out / "checkpoints.json").write_text("[]\n")  # the export's own checkpoint would tell
    _rehash_manifest(out, chain_head=forged[-1]["chain_hash"])
    assert verify_export(out, trusted_key=public).ok  # a consistent forgery, without an anchor
    problem = verify_export(out, anchors=[signed], trusted_key=public).problem
    assert problem is not None and problem.position == signed.position
    assert "signed checkpoint" in problem.what


def test_the_parquet_alone_rechained_is_caught(exported: tuple[Ledger, Path, str]) -> None:
    """Only the Parquet forged (JSONL intact): its chain no longer reaches the export's checkpoint."""
    _, out, public = exported
    rows = _rows(out)
    forged = _forge(rows)
    pl.DataFrame(
        [{**r, "body": json.dumps(r["body"], sort_keys=True)} for r in forged], schema=export.SCHEMA
    ).write_parquet(out / "events.parquet")
    _rehash_manifest(out)
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and problem.what.startswith("events.parquet")
    assert "signed checkpoint" in problem.what


def test_an_extra_parquet_column_or_file_is_refused(exported: tuple[Ledger, Path, str]) -> None:
    _, out, public = exported
    frame = pl.read_parquet(out / "events.parquet")
    original = (out / "events.parquet").read_bytes()
    frame.with_columns(pl.lit(0).alias("amount")).write_parquet(out / "events.parquet")
    _rehash_manifest(out)
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and "events.parquet" in problem.what and "columns" in problem.what
    (out / "events.parquet").write_bytes(original)
    _rehash_manifest(out)
    assert verify_export(out, trusted_key=public).ok
    (out / "lra.csv").write_text("kode,realisasi\n5,1\n")
    problem = verify_export(out, trusted_key=public).problem
    assert problem is not None and "lra.csv is not part of a kasda export" in problem.what


def test_an_anchor_also_in_the_export_is_counted_once(
    exported: tuple[Ledger, Path, str], tmp_path: Path
) -> None:
    ledger, out, public = exported
    signed = Checkpoint.from_json(_anchor_file(out, tmp_path).read_text())
    report = verify_export(out, anchors=[signed, signed], trusted_key=public)
    assert report.ok, report.problem
    assert report.checkpoints == 1

    stored = verify(ledger, anchors=[signed], trusted_key=public)
    assert stored.ok and stored.checkpoints == 1


def test_an_encrypted_export_verifies_and_says_what_it_could_not_check(
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ledger.cipher import new_key

    monkeypatch.setenv("KASDA_CIPHER_KEY", new_key())
    ledger = Settings.from_env().open_ledger(ledger_url, clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        export_history(ledger, tmp_path / "export")
    finally:
        ledger.close()
    monkeypatch.delenv("KASDA_CIPHER_KEY")  # the auditor has no key
    assert main(["verify", "--export", str(tmp_path / "export")]) == 0
    said = capsys.readouterr().out
    assert "bodies are encrypted" in said and "could not be compared" in said
