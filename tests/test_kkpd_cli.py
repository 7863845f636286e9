"""``kasda reconcile-kkpd`` end to end on files: the counts printed, the run recorded once with
``RecordReconciliation`` (inputs of kind ``kkpd_statement``), the report CSVs, and a bad line or
a refused role as a message and exit 2."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest

from kasda.cli import main
from kasda.reconcile_kkpd import match_files
from ledger.application import Ledger
from ledger.reconciliation import ReconciliationRun
from reconciliation import kkpd
from reconciliation.readers.kkpd_csv import read_contract_csv

FIXTURE = Path(__file__).parent / "fixtures" / "kkpd-2026-11.csv"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'recorded.db'}"
    monkeypatch.setenv("KASDA_DATABASE_URL", url)
    return url


def sides(folder: Path) -> list[str]:
    (folder / "spj.csv").write_text(
        "spj_id;skpd;card;spent_on;amount;merchant;reference;line_id\n"
        "SPJ-1;1.01.01;5264-xxxx-xxxx-1234;2026-11-03;1.250.000;TOKO ATK MAJU;A1B2C3;L1\n"
        "SPJ-2;1.01.01;1234;2026-11-04;2400000;RM SEDERHANA;;L1\n"
        "SPJ-3;1.01.01;110:5678;2026-11-07;700000;SPBU;Q9W8E7;L2\n",
        encoding="utf-8",
    )
    (folder / "cards.csv").write_text(
        "card;skpd;limit\n5264-xxxx-xxxx-1234;1.01.01;5.000.000\n5264-xxxx-xxxx-5678;1.01.01;3.000.000\n",
        encoding="utf-8",
    )
    (folder / "bills.csv").write_text(
        "payment_id;card;paid_on;amount\nBILL-1;1234;2026-11-14;3000000\n", encoding="utf-8"
    )
    return [
        "reconcile-kkpd", "--statement", str(FIXTURE), "--spj", str(folder / "spj.csv"),
        "--cards", str(folder / "cards.csv"), "--bill-payments", str(folder / "bills.csv"),
        "--as-of", "2026-12-31",
    ]  # fmt: skip


def test_a_run_prints_its_counts_writes_its_report_and_is_recorded_once(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*sides(tmp_path), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "statement: matched=3, amount_mismatch=1, kkpd_no_spj=1, kkpd_refund=1" in out
    assert "spj: matched=2, amount_mismatch=1\n" in out
    assert "breach: kkpd_card_over_limit=1\n" in out
    found = re.search(r"recorded run ([0-9a-f-]{36}): 5 exceptions", out)
    assert found, out
    exceptions = pl.read_csv(tmp_path / "out" / "exceptions.csv")
    assert exceptions["id"].to_list() == [
        "kkpd-2026-11.csv:4", "kkpd-2026-11.csv:5", "kkpd-2026-11.csv:8", "kkpd-2026-11.csv:9",
        "card:110:5678",
    ]  # fmt: skip
    ledger = Ledger(store)
    try:
        run = ledger.aggregate(UUID(found.group(1)), ReconciliationRun)
    finally:
        ledger.close()
    assert run.business_date == "2026-12-31"
    assert sorted(i["kind"] for i in run.inputs) == [
        "kkpd_bill_payments", "kkpd_cards", "kkpd_spj", "kkpd_statement", "parameters",
    ]  # fmt: skip
    assert run.exceptions["kkpd-2026-11.csv:8"]["status"] == "kkpd_no_spj"
    assert "merchant=HOTEL NUSANTARA" in run.exceptions["kkpd-2026-11.csv:8"]["detail"]
    assert run.counts["statement.matched"] == 3
    # The same inputs again: already recorded, nothing new.
    assert main(argv) == 0
    assert f"already recorded: run {found.group(1)}" in capsys.readouterr().out


def test_a_bad_line_is_named_and_nothing_is_recorded(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = sides(tmp_path)
    spj = tmp_path / "spj.csv"
    spj.write_text(spj.read_text() + "SPJ-4;1.01.01;1234;2026-13-01;5000;X;;L1\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{spj}:5: spent_on 2026-13-01 is not a date" in err
    assert not (tmp_path / "recorded.db").exists()
    statement = tmp_path / "statement.csv"
    statement.write_text(FIXTURE.read_text() + "01/12/2026;01/12/2026;1234;;;TARIK TUNAI;1.000;\n")
    argv[argv.index("--statement") + 1] = str(statement)
    assert main(argv) == 2
    assert f"{statement}:10: a debit with no nama_merchant" in capsys.readouterr().err


def test_a_role_that_may_not_record_is_refused_and_no_record_records_nothing(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*sides(tmp_path), "--role", "auditor"]) == 2
    assert "record a KKPD run needs role bpkad_admin" in capsys.readouterr().err
    assert main([*sides(tmp_path), "--no-record"]) == 0
    assert "recorded" not in capsys.readouterr().out
    assert not (tmp_path / "recorded.db").exists()


def test_the_ledger_side_may_hand_frames_instead_of_files(tmp_path: Path) -> None:
    sides(tmp_path)
    params = kkpd.Params.of(date(2026, 12, 31), {"window_days": 3, "no_spj_days": 30,
                                                  "payee_ceiling": 200_000_000})  # fmt: skip
    files = {"spj": tmp_path / "spj.csv", "cards": tmp_path / "cards.csv",
             "bill_payments": tmp_path / "bills.csv", "skpd_limits": None}  # fmt: skip
    from_files = match_files(FIXTURE, dict(files), params)
    # As the ledger would: a LazyFrame, cards written masked, columns in another order.
    spj = read_contract_csv(tmp_path / "spj.csv", kkpd.SPJ, "110").with_columns(
        card=pl.lit("5264-xxxx-xxxx-") + pl.col("card").str.slice(4)
    )
    ledger = {**files, "spj": spj.select(reversed(spj.columns)).lazy()}
    from_ledger = match_files(FIXTURE, ledger, params)
    assert from_ledger.result.statement.equals(from_files.result.statement)
    assert from_ledger.result.spj.equals(from_files.result.spj)
    kinds = {i["kind"]: i["name"] for i in from_ledger.inputs}
    assert kinds["kkpd_spj"] == "ledger:spj" and kinds["kkpd_statement"] == "kkpd-2026-11.csv"
