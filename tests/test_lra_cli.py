"""``kasda lra`` and ``kasda project`` on a small demo year: every format, any past day, and bad
input answered with a message and exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import load_workbook

import kasda.demo as demo
from kasda.cli import main as cli
from projections import nomenclature
from projections import queries as q


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
    rows = [
        r
        for r in csv.DictReader(io.StringIO(capsys.readouterr().out))
        if r["side"] not in ("jumlah", "ringkasan")
    ]
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
    rows = list(sheet.iter_rows(min_row=3, max_row=sheet.max_row - 2, values_only=True))
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


# -- the LRA as people read it (issue 12, part 5) ----------------------------------------------
DISDIK = "1.01.0.00.0.00.01.0000"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert cli(["lra", "--format", "json", *argv]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


@pytest.mark.parametrize("level", list(q.LEVELS))
def test_uraian_at_every_level(store: str, capsys: pytest.CaptureFixture[str], level: str) -> None:
    rows = _json(capsys, "--level", level)["rows"]
    assert rows
    for row in rows:
        assert row["uraian"] and row["uraian"] != row["kode"]
        assert row["uraian"] != nomenclature.MISSING, row  # the demo's codes are all in the list
    uraian = {r["kode"]: r["uraian"] for r in rows}
    expected = {
        "skpd": (DISDIK, "Dinas Pendidikan"),
        "program": ("1.01.02", "PROGRAM PENGELOLAAN PENDIDIKAN"),
        "kegiatan": ("1.01.02.2.01", "Pengelolaan Pendidikan Sekolah Dasar"),
        "subkegiatan": (
            "1.01.02.2.01.0009",
            "Rehabilitasi Sedang/Berat Ruang Kelas Sekolah Dasar",
        ),
        "akun": ("5", "BELANJA DAERAH"),
        "kelompok": ("4.1", "Pendapatan Asli Daerah (PAD)"),
        "jenis": ("5.1.02", "Belanja Barang dan Jasa"),
        "objek": ("4.1.02.01", "Retribusi Jasa Umum"),
        "rincian": ("5.1.02.02.01", "Belanja Jasa Kantor"),
        "rekening": ("5.1.02.02.01.0055", "Belanja Jasa Iklan/Reklame, Film, dan Pemotretan"),
    }[level]
    assert uraian[expected[0]] == expected[1]


@pytest.mark.parametrize("level", list(q.LEVELS))
def test_one_skpd_at_every_level(
    store: str, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    whole = _json(capsys, "--level", "skpd")
    disdik = next(r for r in whole["rows"] if r["kode"] == DISDIK and r["side"] == "belanja")
    mine = _json(capsys, "--level", level, "--skpd", DISDIK)
    assert "Dinas Pendidikan" in mine["title"]
    spent = sum(r["realisasi"] for r in mine["rows"] if r["side"] == "belanja")
    assert spent == disdik["realisasi"] == mine["totals"]["belanja_realisasi"] > 0
    assert sum(r["anggaran"] for r in mine["rows"] if r["side"] == "belanja") == disdik["anggaran"]
    if level in ("program", "kegiatan", "subkegiatan"):
        assert {r["kode"][:5] for r in mine["rows"]} == {"1.01."}
    if level == "skpd":
        assert {r["kode"] for r in mine["rows"]} == {DISDIK}
    # the same SKPD written without zero padding is the same SKPD
    assert _json(capsys, "--level", level, "--skpd", "1.1.0.0.0.0.1.0")["rows"] == mine["rows"]


def test_skpd_filter_refuses_bad_and_unknown_codes(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli(["lra", "--skpd", "DINAS-X"]) == 2
    assert "SKPD code" in capsys.readouterr().err
    assert cli(["lra", "--skpd", "9.99.0.00.0.00.01.0000"]) == 2
    assert "with lines of SKPD 9.99.0.00.0.00.01.0000" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--level", "program"], ["--level", "jenis", "--skpd", DISDIK]])
def test_totals_rows_equal_the_sum_in_csv_and_xlsx(
    store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    capsys.readouterr()
    assert cli(["lra", "--format", "csv", *argv]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    body = [r for r in rows if r["side"] not in ("jumlah", "ringkasan")]
    sums = {r["uraian"]: r for r in rows if r["side"] in ("jumlah", "ringkasan")}
    for side, label in (("pendapatan", "JUMLAH PENDAPATAN"), ("belanja", "JUMLAH BELANJA")):
        total = sums[label]
        for column in ("anggaran", "committed", "realisasi", "lebih_kurang"):
            assert int(total[column]) == sum(int(r[column]) for r in body if r["side"] == side)
    surplus = sums["SURPLUS/(DEFISIT)"]
    for column in ("anggaran", "realisasi"):
        assert int(surplus[column]) == int(sums["JUMLAH PENDAPATAN"][column]) - int(
            sums["JUMLAH BELANJA"][column]
        )
    assert surplus["committed"] == "" and surplus["kode"] == ""
    out = tmp_path / "lra.xlsx"
    assert cli(["lra", "--format", "xlsx", "--out", str(out), *argv]) == 0
    sheet = load_workbook(out)["LRA"]
    cells = {r[2]: r for r in sheet.iter_rows(min_row=3, values_only=True) if r[2]}
    belanja = cells["JUMLAH BELANJA"]
    assert belanja[3] == int(sums["JUMLAH BELANJA"]["anggaran"])
    assert belanja[5] == int(sums["JUMLAH BELANJA"]["realisasi"])
    bold = [r[0].font.bold for r in sheet.iter_rows(min_row=3) if r[2].value == "JUMLAH BELANJA"]
    assert bold == [True]


def test_sign_convention_beside_the_report(
    store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert cli(["lra", "--level", "akun"]) == 0
    table = capsys.readouterr().out
    assert q.SIGN_NOTE in table and "JUMLAH BELANJA" in table
    assert _json(capsys, "--level", "akun")["catatan"] == q.SIGN_NOTE
    out = tmp_path / "lra.xlsx"
    assert cli(["lra", "--format", "xlsx", "--out", str(out)]) == 0
    sheet = load_workbook(out)["LRA"]
    assert sheet.cell(sheet.max_row, 1).value == q.SIGN_NOTE
    # and the sign is the one written: spending under its pagu is positive
    rows = _json(capsys, "--level", "akun")["rows"]
    belanja = next(r for r in rows if r["kode"] == "5")
    assert belanja["lebih_kurang"] == belanja["anggaran"] - belanja["realisasi"] > 0
    pendapatan = next(r for r in rows if r["kode"] == "4")
    assert pendapatan["lebih_kurang"] == pendapatan["realisasi"] - pendapatan["anggaran"]


def test_codes_not_in_the_list_show_a_placeholder() -> None:
    lines = pl.DataFrame(
        [
            ("a", "9.99.0.00.0.00.09.0000", "9.99.09.2.09.0009", "5.9.09.09.09.0009", "Belanja X"),
            ("b", "9.99.0.00.0.00.09.0000", None, "4.9.09.09.09.0009", "Pendapatan Y"),
        ],
        schema=["line_id", "skpd", "sub_kegiatan", "rekening", "uraian"],
        orient="row",
    ).with_columns(
        pl.lit(False).alias("blocked"),
        pl.lit(100, dtype=pl.Int64).alias("anggaran"),
        pl.lit(0, dtype=pl.Int64).alias("committed"),
        pl.lit(40, dtype=pl.Int64).alias("realisasi"),
        pl.when(pl.col("rekening").str.starts_with("4"))
        .then(pl.lit("pendapatan"))
        .otherwise(pl.lit("belanja"))
        .alias("side"),
    )
    for level in q.LEVELS:
        uraian = dict(zip(*q.rollup(lines, level)[["kode", "uraian"]], strict=True))
        if level == "rekening":
            assert set(uraian.values()) == {"Belanja X", "Pendapatan Y"}
        elif level in ("program", "kegiatan", "subkegiatan"):
            assert uraian["-"] == nomenclature.NO_SUB_KEGIATAN
            assert [u for k, u in uraian.items() if k != "-"] == [nomenclature.MISSING]
        elif level == "akun":
            assert uraian == {"4": "PENDAPATAN DAERAH", "5": "BELANJA DAERAH"}
        else:
            assert set(uraian.values()) == {nomenclature.MISSING}, level


def test_the_code_list_names_the_demo_as_the_demo_does() -> None:
    """The list and the demo's own catalogue cannot drift apart."""
    names = nomenclature.names()
    for skpd in demo.SKPDS:
        assert names["skpd"][skpd.code] == skpd.name
        for sub, name, _ in skpd.programme:
            assert names["subkegiatan"][sub] == name
            assert sub[:12] in names["kegiatan"] and sub[:7] in names["program"]
        for rekening, uraian, _ in skpd.income:
            assert names["rekening"][rekening] == uraian
    for r in demo.REKENING.values():
        assert names["rekening"][r.code] == r.uraian
        for level, n in (("akun", 1), ("kelompok", 2), ("jenis", 3), ("objek", 4), ("rincian", 5)):
            assert ".".join(r.code.split(".")[:n]) in names[level], (level, r.code)
