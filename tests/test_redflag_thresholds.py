"""The thresholds a pemda runs the rules with: the shipped defaults with their sources, overridden
by a TOML file for every pemda or for one, and refused when the file says something kasda would
otherwise ignore (a misspelt key, a limit written as text, a negative window)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit import thresholds
from ledger.errors import InvalidInput


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "redflags.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_default_table_names_its_source() -> None:
    defaults = thresholds.defaults()
    assert defaults.values, "no thresholds shipped"
    for table in defaults.values:
        assert defaults.sources[table].strip(), f"[{table}] has no source"
    assert defaults.int("procurement", "goods_limit") == 200_000_000
    assert defaults.int("procurement", "consulting_limit") == 100_000_000


def test_a_file_overrides_for_all_and_for_one_pemda(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "[procurement]\ngoods_limit = 150_000_000\n"
        '[pemda."3273".procurement]\ngoods_limit = 100_000_000\n',
    )
    assert thresholds.load("3204", path).int("procurement", "goods_limit") == 150_000_000
    mine = thresholds.load("3273", path)
    assert mine.int("procurement", "goods_limit") == 100_000_000
    assert mine.int("procurement", "consulting_limit") == 100_000_000  # untouched: the default
    assert mine.digest != thresholds.defaults().digest
    assert thresholds.load("3273", path).digest == mine.digest  # the same values, the same digest


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[procurement]\ngoods_limt = 1\n", "no key 'goods_limt'"),
        ("[procurment]\ngoods_limit = 1\n", "unknown table [procurment]"),
        ('[procurement]\ngoods_limit = "200 juta"\n', "goods_limit must be like"),
        ("[procurement]\ngoods_limit = -5\n", "negative"),
        ("[procurement\n", "redflags.toml"),
        ('[pemda."3273".procurement]\nconsulting_limit = true\n', "pemda 3273"),
    ],
)
def test_a_wrong_file_is_refused_with_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("[", r"\[").replace("(", r"\(")):
        thresholds.load("3273", _file(tmp_path, text))
