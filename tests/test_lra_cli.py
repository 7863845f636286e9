"""``kasda lra`` and ``kasda project`` on a small demo year: every format, any past day, and bad
input answered with a message and exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kasda.cli import main as cli


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('lra') / 'kasda.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KASDA_DATABASE_URL", url)
        assert cli(["demo", "--seed", "5", "--lifecycles", "60"]) == 0
    return url


@pytest.fixture
def store(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KASDA_DATABASE_URL", demo_url)
    return demo_url


def test_csv_json_and_table_agree(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli(["lra", "--level", "skpd", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert cli(["lra", "--level", "skpd", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["realisasi"] for r in report["rows"]] == [int(r["realisasi"]) for r in rows]
    spent = sum(int(r["realisasi"]) for r in rows if r["side"] == "belanja")
    assert spent == report["totals"]["belanja_realisasi"] > 0
    assert report["totals"]["pendapatan_realisasi"] > 0
    assert cli(["lra", "--level", "akun"]) == 0
    table = capsys.readouterr().out
    assert "BELANJA DAERAH" in table and "SiLPA" in table


def test_as_of_a_past_day_shows_less(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli(["lra", "--level", "akun", "--format", "json", "--as-of", "2026-03-31"]) == 0
    march = json.loads(capsys.readouterr().out)["totals"]
    assert cli(["lra", "--level", "akun", "--format", "json"]) == 0
    now = json.loads(capsys.readouterr().out)["totals"]
    assert 0 < march["belanja_realisasi"] < now["belanja_realisasi"]
    assert cli(["lra", "--format", "json", "--as-of", "2025-12-31"]) == 2  # before the APBD
    assert "no APBD 2026" in capsys.readouterr().err


def test_xlsx(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lra.xlsx"
    assert cli(["lra", "--level", "rekening", "--format", "xlsx", "--out", str(out)]) == 0
    sheet = load_workbook(out)["LRA"]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert rows and all(isinstance(r[3], int) for r in rows)
    assert cli(["lra", "--format", "xlsx"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["lra", "--level", "desa"], ["lra", "--as-of", "31-03-2026"], ["lra", "--format", "pdf"]],
)
def test_bad_arguments_exit_2(store: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli(argv)
    assert stopped.value.code == 2


def test_project_and_rebuild(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli(["project", "--rebuild"]) == 0
    rebuilt = capsys.readouterr().out
    assert "projected" in rebuilt and "at position" in rebuilt
    assert cli(["project"]) == 0
    assert "projected 0 events" in capsys.readouterr().out
