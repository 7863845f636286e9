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
from ledger.application import Ledger
from ledger.disbursement import Disbursement
from ledger.errors import InvalidInput
from ledger.integrity import event_digest
from ledger.verify import checkpoint, new_signing_key, signing_key
from tests import factory as f
from tests.conftest import FixedClock

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
