"""The partitioned run's write path (issue 17, part 1): the ledger file checked and scoped without
being held, the two sides of the report written at once, and what a failure of either leaves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasda.cli import main
from reconciliation import report
from reconciliation.errors import StatementError
from reconciliation.matching import Params, reconcile
from reconciliation.readers.ledger import read_ledger_parquet, scan_ledger_parquet
from reconciliation.report import ReportNotWritten, selisih_of, with_selisih, write_sides
from testkit.reconciliation import Truth, generate
from tests.test_reconcile_cli import args, files

LEDGER = generate(300, seed=11).ledger_input()


def _parts(frame: pl.DataFrame, size: int, fail_after: int | None = None) -> Iterator[pl.DataFrame]:
    for k, start in enumerate(range(0, frame.height, size)):
        if fail_after is not None and k == fail_after:
            raise OSError(28, "No space left on device")
        yield frame.slice(start, size)


def _lines() -> dict[str, pl.DataFrame]:
    """Every line of both sides with its status (an in-memory run)."""
    truth = generate(2_000, seed=12)
    params = Params(period_end=truth.period_end, window_days=truth.window_days)
    result = reconcile(truth.statement(), truth.ledger_input(), params)
    return {"statement": result.statement, "ledger": result.ledger}


def _sides(folder: Path, fail: str | None) -> dict[str, tuple[Iterator[pl.DataFrame], Path, Path]]:
    frames = _lines()
    return {
        name: (
            _parts(frame, 100, fail_after=3 if name == fail else None),
            folder / f"{name}.parquet",
            folder / f"{name}.csv",
        )
        for name, frame in frames.items()
    }


def test_both_sides_are_written_at_once_as_one_side_at_a_time(tmp_path: Path) -> None:
    write_sides(_sides(tmp_path, fail=None))
    for name, frame in _lines().items():
        assert pl.read_parquet(tmp_path / f"{name}.parquet").equals(frame)
        csv = frame.with_columns(pl.col("status").cast(pl.String)).write_csv()
        assert (tmp_path / f"{name}.csv").read_text() == csv


@pytest.mark.parametrize("fail", ["statement", "ledger"])
def test_a_side_that_fails_fails_the_report_and_leaves_no_file(tmp_path: Path, fail: str) -> None:
    """The error names the side and why; neither side's Parquet or CSV is left half written."""
    with pytest.raises(ReportNotWritten, match=f"the {fail} lines could not be written: .*space"):
        write_sides(_sides(tmp_path, fail=fail))
    assert list(tmp_path.iterdir()) == []


def test_a_failing_report_writer_fails_the_run_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partitioned run whose ledger lines cannot be written exits 1, says so, records nothing
    and leaves no report; the run's clock shows wall and CPU seconds."""
    truth: Truth = generate(1_000, seed=13)
    paths = files(truth, tmp_path / "in")
    write_lines = report.write_lines

    def failing(parts: Iterator[pl.DataFrame], parquet: Path, csv: Path) -> None:
        if parquet.name == "ledger.parquet":
            raise OSError(28, "No space left on device")
        write_lines(parts, parquet, csv)

    monkeypatch.setattr(report, "write_lines", failing)
    out = tmp_path / "runs" / "out"
    url = f"sqlite:///{tmp_path / 'k.db'}"
    assert main([*args(truth, paths, out), "--partitions", "3", "--database", url]) == 1
    err = capsys.readouterr().err
    assert "the report could not be written: the ledger lines could not be written" in err
    assert "No space left on device" in err
    assert re.search(r"kasda reconcile: +[0-9.]+s \(cpu +[0-9.]+s\) reading bank statement", err)
    assert not out.exists() or list(out.iterdir()) == []
    assert [p.name for p in (tmp_path / "runs").iterdir()] in ([], ["out"])


def test_the_report_parquet_is_lz4_without_statistics(tmp_path: Path) -> None:
    """The settings chosen for speed (docs/benchmarks.md, i17-e2e3); the rows are the lines'."""
    lines = _lines()["statement"]
    write_sides({"statement": (iter([lines]), tmp_path / "s.parquet", tmp_path / "s.csv")})
    found = duckdb.execute(
        "SELECT DISTINCT compression, stats_min_value IS NULL AND stats_max_value IS NULL "
        "FROM parquet_metadata(?)",
        [str(tmp_path / "s.parquet")],
    ).fetchall()
    assert found == [("LZ4_RAW", True)] or found == [("LZ4", True)]
    assert pl.read_parquet(tmp_path / "s.parquet").equals(lines)


def test_a_scanned_ledger_is_the_ledger_read(tmp_path: Path) -> None:
    path = tmp_path / "ledger.parquet"
    LEDGER.write_parquet(path)
    scan, lines = scan_ledger_parquet(path)
    assert lines == LEDGER.height
    assert scan.collect().equals(read_ledger_parquet(path))


@settings(max_examples=25, deadline=None)
@given(row=st.integers(1, LEDGER.height - 1), rule=st.sampled_from(["net", "kind", "duplicate"]))
def test_a_scanned_ledger_refuses_the_row_a_read_one_refuses(
    tmp_path_factory: pytest.TempPathFactory, row: int, rule: str
) -> None:
    """The same error (file, line, reason) as reading the whole file, for a row breaking any rule."""
    bad = LEDGER.with_row_index("_i")
    broken = {
        "net": pl.when(pl.col("_i") == row).then(0).otherwise(pl.col("net")).alias("net"),
        "kind": pl.when(pl.col("_i") == row).then(pl.lit("gift")).otherwise("kind").alias("kind"),
        "duplicate": pl.when(pl.col("_i") == row)
        .then(pl.col("ledger_id").first())
        .otherwise("ledger_id")
        .alias("ledger_id"),
    }[rule]
    path = tmp_path_factory.mktemp("ledger") / "ledger.parquet"
    bad.with_columns(broken).drop("_i").write_parquet(path)
    with pytest.raises(StatementError) as read:
        read_ledger_parquet(path)
    with pytest.raises(StatementError) as scanned:
        scan_ledger_parquet(path)
    assert str(scanned.value) == str(read.value)
    assert scanned.value.line == (1 if rule == "duplicate" else row + 1)


@pytest.mark.parametrize("content", [b"not parquet", None])
def test_an_unreadable_ledger_file_is_refused_as_when_read(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "ledger.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(StatementError) as read:
        read_ledger_parquet(path)
    with pytest.raises(StatementError) as scanned:
        scan_ledger_parquet(path)
    assert str(scanned.value) == str(read.value)
    assert "not a readable Parquet file" in str(scanned.value)


def test_a_bad_ledger_row_in_a_partitioned_run_exits_2_naming_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked beside the statements, the ledger is refused as an in-memory run refuses it, and the
    run leaves no work folder."""
    truth: Truth = generate(500, seed=15)
    paths = files(truth, tmp_path / "in")
    ledger = pl.read_parquet(paths["ledger"])
    ledger.with_columns(
        net=pl.when(pl.int_range(pl.len()) == 41).then(-5).otherwise(pl.col("net"))
    ).write_parquet(paths["ledger"])
    url = f"sqlite:///{tmp_path / 'k.db'}"
    for extra in ([], ["--partitions", "3"]):
        out = tmp_path / "runs" / "out"
        assert main([*args(truth, paths, out), *extra, "--database", url]) == 2
        assert f"{paths['ledger']}:42: ledger row " in capsys.readouterr().err
        assert not out.exists()
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_bad_bank_statement_is_reported_before_a_bad_gateway_report_read_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A partitioned run reads its gateway reports while the statement is read; the errors come in
    the order of the inputs, as when each is read in turn (the in-memory run)."""
    truth: Truth = generate(500, seed=16)
    paths = files(truth, tmp_path / "in")
    for name, line in (("mt940", 5), ("settlements", 4)):
        lines = paths[name].read_text(encoding="utf-8").splitlines()
        lines[line - 1] = ":61:garbage" if name == "mt940" else lines[line - 1] + ",extra"
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'k.db'}"
    errors = []
    for extra in ([], ["--partitions", "3"]):
        out = tmp_path / "runs" / "out"
        assert main([*args(truth, paths, out, bank="mt940"), *extra, "--database", url]) == 2
        errors.append(capsys.readouterr().err.strip().splitlines()[-1])
    assert errors[0] == errors[1]
    assert errors[1].startswith(f"{paths['mt940']}:")
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.parametrize("seed", [21, 22])
def test_the_selisih_of_a_few_lines_is_their_selisih_against_every_line(seed: int) -> None:
    """``selisih_of`` reads only the lines' own ledger lines and batches: the same expected amount
    and selisih as ``with_selisih`` against the whole result, for every exception of a run (amount
    mismatches against a ledger line, against a batch total, and rows of a batch that differs)."""
    truth = generate(3_000, seed=seed)
    params = Params(period_end=truth.period_end, window_days=truth.window_days)
    result = reconcile(truth.statement(), truth.ledger_input(), params)
    lines = result.statement.filter(pl.col("status") != "matched")
    expected = with_selisih(lines.lazy(), result).collect()
    assert expected["selisih"].drop_nulls().len() > 20  # the cases are there
    assert selisih_of(lines, result).equals(expected)
    for k in range(0, lines.height, 150):  # a page's worth at a time
        part = lines.slice(k, 150)
        assert selisih_of(part, result).equals(expected.slice(k, 150))
