"""``kasda anggaran-kas`` and ``kasda spd``: a cash plan imported from CSV, SPD issued and listed;
bad input is refused with the line of the file it is on and a non-zero exit, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kasda.cli import main
from ledger.application import Ledger
from testkit.world import GOODS, MEDIA, SKPD, SUB_KEGIATAN
from tests import factory as f

HEADER = "skpd,sub_kegiatan,rekening,q1,q2,q3,q4\n"
MEDIA_Q = f.MEDIA_LINE.pagu // 4
GOODS_Q = f.GOODS_LINE.pagu // 4


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    ledger = Ledger(url)
    try:
        f.adopt(ledger)
    finally:
        ledger.close()
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    return url


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> str:
    path = tmp_path / "ak.csv"
    path.write_text(header + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return str(path)


def good_rows() -> tuple[str, str]:
    return (
        f"{SKPD},{SUB_KEGIATAN},{MEDIA},{MEDIA_Q},{MEDIA_Q},{MEDIA_Q},{MEDIA_Q}",
        f"{SKPD},{SUB_KEGIATAN},{GOODS},{GOODS_Q},{GOODS_Q},{GOODS_Q},{GOODS_Q}",
    )


def plan(store: str) -> tuple[int, int, list[str]]:
    ledger = Ledger(store)
    try:
        found = ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
        return found.planned_through(12), found.issued, list(found.spd)
    finally:
        ledger.close()


def test_a_plan_imported_then_spd_issued_and_listed(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, *good_rows())
    command = ["anggaran-kas", path, "--document", "PERKADA-AK-1", "--as", "admin.bpkad"]
    assert main(command) == 0
    assert "anggaran kas adopted, 2 lines, Rp 1.500.000.000" in capsys.readouterr().out
    assert main(command) == 0  # the same file again: the same receipt, nothing new
    spd = ["spd", "issue", "--skpd", SKPD, "--number", "SPD/001", "--first-month", "1"]
    assert main([*spd, "--last-month", "3", "--amount", "300000000", "--as", "kuasabud.dedi"]) == 0
    assert "SPD SPD/001 issued: Rp 300.000.000" in capsys.readouterr().out
    assert plan(store) == (1_500_000_000, 300_000_000, ["SPD/001"])
    assert main(["spd", "list"]) == 0
    out = capsys.readouterr().out
    assert f"SPD/001,{SKPD},1,3,300000000,kuasabud.dedi," in out
    assert f"{SKPD},1500000000,300000000,0,0,300000000" in out


def test_a_quarter_amended_from_the_command_line(store: str, tmp_path: Path) -> None:
    assert (
        main(["anggaran-kas", write(tmp_path, *good_rows()), "--document", "AK-1", "--as", "a"])
        == 0
    )
    moved = f"{SKPD},{SUB_KEGIATAN},{MEDIA},0,{2 * MEDIA_Q},{MEDIA_Q},{MEDIA_Q}"
    amend = ["anggaran-kas", write(tmp_path, moved), "--document", "AK-2", "--amend", "--as", "a"]
    assert main(amend) == 0
    ledger = Ledger(store)
    try:
        found = ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
        assert found.planned_through(1) == GOODS_Q and found.documents == ["AK-1", "AK-2"]
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        (
            (f"{SKPD},{SUB_KEGIATAN},{MEDIA},1,2,3",),
            "line 2: expected skpd, sub_kegiatan, rekening",
        ),
        (
            (good_rows()[0], f"{SKPD},{SUB_KEGIATAN},{GOODS},1,2,x,4"),
            "line 3, column 6: not a whole",
        ),
        ((f"{SKPD},{SUB_KEGIATAN},{MEDIA},-1,2,3,4",), "line 2, column 4"),
        ((f"1.x,{SUB_KEGIATAN},{MEDIA},1,2,3,4",), "line 2: "),
        ((f"{SKPD},{SUB_KEGIATAN},{MEDIA},1,2,3,4",), "line 2: the amounts add up to 10, not to"),
        (
            (good_rows()[0], f"{SKPD},{SUB_KEGIATAN},5.1.02.01.01.0001,1,2,3,4"),
            "line 3: no budget line",
        ),
        ((good_rows()[0], good_rows()[0]), "line 3: the same budget line as line 2"),
    ],
)
def test_bad_lines_are_named_and_change_nothing(
    store: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: tuple[str, ...],
    said: str,
) -> None:
    assert main(["anggaran-kas", write(tmp_path, *rows), "--document", "AK-1", "--as", "a"]) == 2
    err = capsys.readouterr().err
    assert said in err and "[invalid_input]" in err
    ledger = Ledger(store)
    try:
        assert not ledger.budget(f.PEMDA, f.YEAR).cash_plan_required
    finally:
        ledger.close()


def test_an_spd_beyond_the_plan_or_without_one_is_refused(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spd = ["spd", "issue", "--skpd", SKPD, "--number", "SPD/9", "--first-month", "1", "--as", "b"]
    assert main([*spd, "--amount", "1"]) == 2
    assert "no anggaran kas" in capsys.readouterr().err
    assert (
        main(["anggaran-kas", write(tmp_path, *good_rows()), "--document", "AK-1", "--as", "a"])
        == 0
    )
    assert main([*spd, "--amount", str(MEDIA_Q + GOODS_Q + 1)]) == 2
    assert "[spending_within_spd]" in capsys.readouterr().err
    assert (
        main(["anggaran-kas", str(tmp_path / "missing.csv"), "--document", "D", "--as", "a"]) == 2
    )
    assert "cannot read it" in capsys.readouterr().err
