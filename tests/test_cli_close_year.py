"""``kasda close-year``: the preview records nothing, the close prints what lapsed, carried and the
SiLPA, the LRA then says FINAL, and a refusal is a message with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from kasda.cli import main as cli
from ledger.application import Ledger
from tests import factory as f
from tests.test_year_close import a_year


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    ledger = Ledger(url)
    try:
        a_year(ledger)
    finally:
        ledger.close()
    return url


ARGS = ["close-year", "--year", str(f.YEAR), "--document", "KEP-TUTUP-1", "--silpa-skpd", f.SKPD]


def _head(url: str) -> int:
    ledger = Ledger(url)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def test_preview_then_close_then_a_final_lra(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    head = _head(store)
    assert cli([*ARGS, "--carry", "SPP-3", "--dry-run"]) == 0
    preview = capsys.readouterr().out
    assert "Pratinjau tutup tahun (tidak dicatat)" in preview
    assert "SiLPA" in preview and "Rp 510.000.000" in preview
    assert "SPP kedaluwarsa: 2 (Rp 65.000.000)" in preview
    assert "Luncuran (DPAL): SPP-3 Rp 25.000.000" in preview
    assert _head(store) == head  # nothing recorded

    assert cli(["lra", "--year", str(f.YEAR), "--format", "csv"]) == 0
    assert "FINAL" not in capsys.readouterr().out
    assert cli([*ARGS, "--carry", "SPP-3"]) == 0
    assert "Tahun anggaran ditutup" in capsys.readouterr().out
    assert cli(["lra", "--year", str(f.YEAR)]) == 0
    assert "FINAL (tutup tahun" in capsys.readouterr().out


def test_refusals_exit_2_with_the_rule(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([*ARGS, "--carry", "SPP-4"]) == 2  # an SP2D is a payable: it does not carry
    assert "[invalid_input]" in capsys.readouterr().err
    assert cli(ARGS) == 0
    capsys.readouterr()
    assert cli([*ARGS[:3], "--document", "KEP-TUTUP-2", "--silpa-skpd", f.SKPD]) == 2
    assert "[closed_year_accepts_no_spending]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli(["close-year", "--document", "X"])  # no --year
    assert stopped.value.code == 2
