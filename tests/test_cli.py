"""The command line answers bad configuration with a clear message and a non-zero exit."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from kasda.cli import main
from kasda.settings import Settings
from tests.demo_cache import demo_copy


def test_an_unsupported_database_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KASDA_DATABASE_URL", "mysql://root@127.0.0.1/kasda")
    assert main(["demo", "--lifecycles", "5"]) == 2
    err = capsys.readouterr().err
    assert "unsupported database URL" in err and "[invalid_input]" in err


def test_an_unreachable_store_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 9 (discard) has no PostgreSQL server behind it on a test machine.
    monkeypatch.setenv("KASDA_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/test")
    assert main(["demo", "--lifecycles", "5"]) == 1
    assert "event store is unavailable" in capsys.readouterr().err


def test_bad_arguments_exit_non_zero() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--lifecycles", "0"])
    assert exit_.value.code == 2


def _small_year(monkeypatch: pytest.MonkeyPatch, factory: pytest.TempPathFactory) -> Path:
    """A copy of its own of a small demo year (built once per session, as ``kasda demo`` builds
    it: with its daily files; tests/demo_cache.py), the store of the commands; its SQLite file."""
    year = demo_copy(factory, seed=3, lifecycles=60, files=True)
    monkeypatch.setenv("KASDA_DATABASE_URL", year.url)
    return year.home / "kasda.db"


def test_replay_prints_the_budget_as_of_a_moment(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _small_year(monkeypatch, tmp_path_factory)
    capsys.readouterr()
    assert main(["replay", "--as-of", "2026-01-01T00:00:00+07:00"]) == 2  # before the APBD
    assert "was not adopted" in capsys.readouterr().err
    assert main(["replay", "--as-of", "2026-06-30T23:59:59+07:00"]) == 0
    out = capsys.readouterr().out
    assert "APBD 2026 of pemda 32.73 as of 2026-06-30T23:59:59+07:00" in out
    assert "disbursements:" in out
    with pytest.raises(SystemExit):
        main(["replay", "--as-of", "2026-06-30"])  # no time zone


def test_history_of_one_disbursement(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _small_year(monkeypatch, tmp_path_factory)
    ledger = Settings.from_env().open_ledger()
    try:
        first = ledger.recorder.select_notifications(start=1, limit=10_000, topics=())
        requested = next(n for n in first if n.topic.endswith("Disbursement.Requested"))
        spp = ledger.disbursement(UUID(str(requested.originator_id))).spp_number
    finally:
        ledger.close()
    capsys.readouterr()
    assert main(["history", "--spp", spp]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3][0] == "1" and "Requested" in lines[0] and spp in lines[0]
    assert main(["history", "--spp", "NO-SUCH-SPP"]) == 2
    assert "[not_found]" in capsys.readouterr().err


def test_verify_checkpoint_and_a_tampered_file(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sqlite3

    from ledger.verify import new_signing_key

    store = _small_year(monkeypatch, tmp_path_factory)
    capsys.readouterr()
    assert main(["verify"]) == 0
    assert "kasda verify: OK" in capsys.readouterr().out
    assert main(["checkpoint"]) == 2  # no signing key configured
    assert "KASDA_SIGNING_KEY" in capsys.readouterr().err
    seed, public = new_signing_key()
    monkeypatch.setenv("KASDA_SIGNING_KEY", seed)
    monkeypatch.setenv("KASDA_VERIFY_KEY", public)
    anchor = tmp_path / "anchor.json"
    assert main(["checkpoint", "--out", str(anchor)]) == 0
    capsys.readouterr()
    with sqlite3.connect(store) as conn:  # an intruder edits one row as text
        conn.execute("UPDATE stored_events SET state = state || 'x' WHERE rowid = 77")
    assert main(["verify", "--anchor", str(anchor)]) == 1
    err = capsys.readouterr().err
    assert "FAILED at position 77" in err and "altered" in err
