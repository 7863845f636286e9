"""``kasda redflags`` and ``kasda redflag-review`` over a history written through the ledger's
commands (a bill paid twice, and a monthly fee beside it), the one-vendor frames the warnings read,
and the warnings the payout service logs and returns."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl
import pytest
from openpyxl import load_workbook

from audit.frames import load
from gateways.payouts import PayoutService
from gateways.simulator import Simulator
from kasda.cli import main as cli
from kasda.redflags import CSV_COLUMNS, PayoutWarnings
from kasda.settings import Settings
from ledger.redflags import FLAG_FIELDS
from projections import queries as q
from projections.db import ReadDatabase
from projections.runner import Projector
from tests import factory as f
from tests.gateway_support import iris_client
from tests.redflag_scene import SECRET, Scene, disbursement, vendor_uuid

RULE = "duplicate_payment"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    """CV Ganda's faktur F-9 paid twice (a flag); CV Bulanan's fee paid a month apart (none)."""
    scene = Scene.open(tmp_path)
    scene.vendor("CV Ganda", when=datetime(2026, 1, 5, 9))
    scene.vendor("CV Bulanan", when=datetime(2026, 1, 5, 10))
    scene.pay("SPP-1", "CV Ganda", 30_000_000, datetime(2026, 2, 2, 9), invoice="F-9")
    scene.pay("SPP-2", "CV Ganda", 30_000_000, datetime(2026, 3, 2, 9), invoice="F-9")
    scene.pay("SPP-3", "CV Bulanan", 12_500_000, datetime(2026, 2, 3, 9), invoice="B-1")
    scene.pay("SPP-4", "CV Bulanan", 12_500_000, datetime(2026, 3, 3, 9), invoice="B-2")
    monkeypatch.setenv("KASDA_DATABASE_URL", f"sqlite:///{tmp_path / 'scene.db'}")
    yield scene
    scene.close()


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert cli(["redflags", "--format", "json", *args]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return found


def test_json_is_a_list_of_flags_with_exactly_their_fields(
    store: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    [flag] = _json(capsys, "--rule", RULE)
    assert tuple(flag) == FLAG_FIELDS
    assert flag["rule"] == RULE and flag["severity"] == "high"
    assert set(flag["disbursement_ids"]) == {disbursement("SPP-1"), disbursement("SPP-2")}
    assert flag["amount"] == 30_000_000
    # As of a day before the second payment, there is nothing to flag yet.
    assert _json(capsys, "--as-of", "2026-02-28") == []


def test_csv_table_and_xlsx(
    store: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert cli(["redflags", "--format", "csv"]) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert tuple(row) == CSV_COLUMNS
    assert row["rule"] == RULE and row["amount"] == "30000000"
    assert set(row["disbursement_ids"].split(";")) == {disbursement("SPP-1"), disbursement("SPP-2")}
    assert all(part.count(":") == 1 and "@" in part for part in row["evidence"].split(";"))

    assert cli(["redflags"]) == 0
    table = capsys.readouterr().out
    assert "Tingkat" in table and "Nilai berisiko" in table
    assert "Rp 30.000.000" in table and "tinggi" in table and row["id"] in table
    assert "penyedia CV Ganda" in table  # the vendor by name, for people

    out = tmp_path / "flags.xlsx"
    assert cli(["redflags", "--format", "xlsx", "--out", str(out)]) == 0
    book = load_workbook(out)
    rows = list(book["Indikasi"].iter_rows(values_only=True))
    assert rows[0] == CSV_COLUMNS and rows[1][0] == row["id"] and rows[1][5] == 30_000_000
    assert len(list(book["Bukti"].iter_rows(values_only=True))) > 1


def test_skpd_keeps_the_flags_naming_its_payments(
    store: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(_json(capsys, "--skpd", f.SKPD)) == 1
    assert _json(capsys, "--skpd", f.OTHER_SKPD) == []


def test_record_twice_records_once(store: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    args = ["redflags", "--format", "json", "--record", "--as", "inspektur.satu"]
    assert cli(args) == 0
    first = capsys.readouterr()
    assert "recorded red-flag run" in first.err and "1 raised" in first.err
    assert len(json.loads(first.out)) == 1
    assert cli(args) == 0
    again = capsys.readouterr()
    assert "already recorded" in again.err and "replayed" in again.err
    Projector(store.ledger).catch_up()
    db = ReadDatabase(store.ledger)
    try:
        assert q.red_flag_runs(db, f.PEMDA).total == 1
        [flag] = q.red_flags(db, f.PEMDA).rows
    finally:
        db.close()

    # The inspector's decision, once; the same decision and reason again is a replay.
    review = ["redflag-review", flag["id"], "--decision", "confirmed", "--reason", "faktur ganda",
              "--as", "inspektur.satu"]  # fmt: skip
    assert cli(review) == 0
    assert "is now confirmed" in capsys.readouterr().out
    assert cli(review) == 0
    assert "already recorded" in capsys.readouterr().out


def test_bad_input_is_a_message_and_exit_2(
    store: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli(["redflags", "--rule", "no_such_rule"]) == 2
    assert "unknown red-flag rule no_such_rule" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli(["redflags", "--as-of", "31-03-2026"])
    assert exited.value.code == 2
    assert "not a date" in capsys.readouterr().err
    assert cli(["redflags", "--format", "xlsx"]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert cli(["redflags", "--record"]) == 2
    assert "needs --as" in capsys.readouterr().err
    assert cli(["redflag-review", "not-a-uuid", "--decision", "confirmed", "--reason", "x",
                "--as", "inspektur.satu"]) == 2  # fmt: skip
    assert "FLAG_ID must be a flag id" in capsys.readouterr().err


def test_a_bad_thresholds_file_is_refused(
    store: Scene,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "limits.toml"
    path.write_text("[duplicate_payment]\nwindow_dayz = 3\n", encoding="utf-8")
    monkeypatch.setenv("KASDA_REDFLAGS_FILE", str(path))
    capsys.readouterr()
    assert cli(["redflags"]) == 2
    assert "window_dayz" in capsys.readouterr().err


def test_one_vendors_frames_hold_only_its_history(store: Scene) -> None:
    Projector(store.ledger).catch_up()
    db = ReadDatabase(store.ledger)
    try:
        everything = load(db, f.PEMDA, SECRET)
        ganda = str(vendor_uuid(store.vendors["CV Ganda"]))
        mine = load(db, f.PEMDA, SECRET, vendor_id=ganda)
    finally:
        db.close()
    payments = mine.payments.collect()
    assert set(payments["vendor_id"]) == {ganda} and payments.height == 2
    assert everything.payments.collect().height == 4
    steps = mine.steps.collect()
    assert set(steps["disbursement_id"]) == {disbursement("SPP-1"), disbursement("SPP-2")}
    assert set(mine.vendors.collect()["vendor_id"]) == {ganda}
    assert set(mine.accounts.collect()["vendor_id"]) == {ganda}
    assert mine.exceptions.collect().height == 0
    assert everything.vendors.collect().height == 2
    # Each frame keeps its schema when narrowed.
    for name in ("payments", "steps", "vendors", "accounts", "exceptions"):
        narrowed: pl.LazyFrame = getattr(mine, name)
        whole: pl.LazyFrame = getattr(everything, name)
        assert narrowed.collect_schema() == whole.collect_schema()


def test_the_payout_service_logs_and_returns_the_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scene = Scene.open(tmp_path)
    try:
        scene.vendor("CV Ganda", when=datetime(2026, 1, 5, 9))
        scene.vendor("CV Bersih", when=datetime(2026, 1, 5, 10))
        scene.pay("SPP-1", "CV Ganda", 30_000_000, datetime(2026, 2, 2, 9), invoice="F-9")
        twice = scene.pay("SPP-2", "CV Ganda", 30_000_000, datetime(2026, 2, 9, 9),
                          invoice="F-9", until="authorised")  # fmt: skip
        clean = scene.pay("SPP-3", "CV Bersih", 30_000_000, datetime(2026, 2, 9, 10),
                          invoice="C-1", until="authorised")  # fmt: skip
        warnings = PayoutWarnings(scene.ledger, Settings())
        try:
            with Simulator(seed=7) as sim, caplog.at_level(logging.WARNING, "gateways.payouts"):
                payer = PayoutService(
                    scene.ledger, iris_client(sim), backoff_seconds=0.01, warnings=warnings
                )
                warned = payer.pay(UUID(twice))
                quiet = payer.pay(UUID(clean))
        finally:
            warnings.close()
    finally:
        scene.close()
    assert str(warned.disbursement_id) == twice and str(quiet.disbursement_id) == clean
    [warning] = warned.warnings
    assert warning["rule"] == RULE and warning["recorded"] is False
    assert "F-9" in warning["explanation"]["id"]
    assert quiet.warnings == ()
    assert any("red flag duplicate_payment" in r.getMessage() for r in caplog.records)


def test_frames_load_a_history_with_no_sp2d_yet(tmp_path: Path) -> None:
    """A moment no payment has reached yet (nothing sent, nothing settled) is a column of nulls
    in the read models: it loads as an empty UTC moment, not as an error."""
    scene = Scene.open(tmp_path)
    try:
        scene.vendor("CV Awal", when=datetime(2026, 1, 5, 9))
        scene.pay("SPP-1", "CV Awal", 5_000_000, datetime(2026, 2, 2, 9), until="requested")
        payments = scene.frames().payments.collect()
    finally:
        scene.close()
    assert payments.height == 1
    assert payments["sent_at"].dtype == pl.Datetime("us", "UTC")
    assert payments["sent_at"].is_null().all()
