"""``kasda reconcile`` end to end on files: the report, the exit codes, the nightly run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import load_workbook

from kasda.cli import main
from kasda.reconcile import WIB
from ledger.application import Ledger
from reconciliation.schema import STATUS_LABELS
from testkit.clock import FixedClock
from testkit.reconciliation import (
    Truth,
    generate,
    write_bpd_csv,
    write_camt053,
    write_midtrans,
    write_mt940,
)
from tests import factory as f


@pytest.fixture(scope="module")
def truth() -> Truth:
    return generate(1_500, seed=21)


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are recorded in a store of the test's own, never in ./kasda.db."""
    monkeypatch.setenv("KASDA_DATABASE_URL", f"sqlite:///{tmp_path / 'recorded.db'}")


def files(truth: Truth, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": folder / "rkud.csv",
        "mt940": folder / "rkud.sta",
        "payouts": folder / "payouts.csv",
        "settlements": folder / "settlements.csv",
        "ledger": folder / "ledger.parquet",
    }
    write_bpd_csv(truth.bank, paths["csv"])
    write_mt940(truth.bank, paths["mt940"])
    write_midtrans(truth.gateway, paths["payouts"], paths["settlements"])
    truth.ledger_input().write_parquet(paths["ledger"])
    return paths


def args(truth: Truth, paths: dict[str, Path], out: Path, bank: str = "csv") -> list[str]:
    since = truth.period_end - timedelta(days=14)
    return [
        "reconcile",
        "--date",
        truth.period_end.isoformat(),
        "--since",
        since.isoformat(),
        "--bank",
        str(paths[bank]),
        "--gateway",
        str(paths["payouts"]),
        "--gateway",
        str(paths["settlements"]),
        "--ledger",
        str(paths["ledger"]),
        "--out",
        str(out),
    ]


@pytest.mark.parametrize("bank", ["csv", "mt940"])
def test_a_run_writes_every_line_with_its_status(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str], bank: str
) -> None:
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    assert main(args(truth, paths, out, bank)) == 0
    statement = pl.read_parquet(out / "statement.parquet")
    ledger = pl.read_parquet(out / "ledger.parquet")
    assert statement.height == truth.bank.height + truth.gateway.height
    assert ledger.height == truth.ledger.height
    # The statement files are in file order: bank lines, then the two gateway reports.
    expected = pl.concat(
        [
            truth.bank["expected_status"],
            truth.gateway.filter(pl.col("kind") == "payout")["expected_status"],
            truth.gateway.filter(pl.col("kind") == "settlement")["expected_status"],
        ]
    )
    assert statement["status"].cast(pl.String).to_list() == expected.to_list()
    assert ledger["status"].cast(pl.String).to_list() == truth.ledger["expected_status"].to_list()
    csv = pl.read_csv(out / "statement.csv", infer_schema=False)
    assert csv.height == statement.height
    assert csv["status"].to_list() == expected.to_list()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["statement"]["unmatched_bank"] == (expected == "unmatched_bank").sum()
    assert [i["role"] for i in summary["inputs"]] == ["bank", "gateway", "gateway", "ledger"]
    assert all(len(i["sha256"]) == 64 for i in summary["inputs"])
    page = (out / "summary.html").read_text(encoding="utf-8")
    assert "unmatched_bank" in page and "PENARIKAN" in page
    book = load_workbook(out / "summary.xlsx", read_only=True)
    rows = {r[1]: r for r in book["ringkasan"].iter_rows(values_only=True) if r and len(r) > 1}
    assert rows["unmatched_bank"][3] == summary["counts"]["statement"]["unmatched_bank"]
    assert rows["unmatched_ledger"][5] == summary["counts"]["ledger"]["unmatched_ledger"]
    first = next(book["statement exceptions"].iter_rows(min_row=2, values_only=True))
    assert first[0] == "Tidak ada di kasda (unmatched_bank)"
    captured = capsys.readouterr()
    assert "statement: matched=" in captured.out
    assert "pass 1: references" in captured.err


def test_reports_label_every_status_in_indonesian_with_what_it_means(
    truth: Truth, tmp_path: Path
) -> None:
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    assert main([*args(truth, paths, out), "--no-record"]) == 0
    page = (out / "summary.html").read_text(encoding="utf-8")
    book = load_workbook(out / "summary.xlsx", read_only=True)
    rows: dict[object, tuple[object, ...]] = {}
    for r in book["ringkasan"].iter_rows(values_only=True):  # the counts come first
        if r and len(r) > 1:
            rows.setdefault(r[1], r)
    for code, (label, meaning) in STATUS_LABELS.items():
        assert f"<td>{label}</td><td>{code}</td><td>{meaning}</td>" in page
        assert rows[code][0] == label and rows[code][2] == meaning
    # The data keeps the codes.
    codes = set(pl.read_csv(out / "statement.csv", infer_schema=False)["status"])
    assert codes <= set(STATUS_LABELS) and "account_mismatch" in codes


def test_an_amount_mismatch_is_one_exception_with_both_lines_and_the_selisih(
    tmp_path: Path,
) -> None:
    truth = generate(1_500, seed=23)  # with a batch debited with another total
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    assert main(args(truth, paths, out)) == 0
    exceptions = pl.read_csv(out / "exceptions.csv", infer_schema=False)
    statement = pl.read_parquet(out / "statement.parquet")
    ledger = pl.read_parquet(out / "ledger.parquet")
    # No ledger line in amount_mismatch is an exception of its own: its statement line shows it.
    assert ledger.filter(pl.col("status") == "amount_mismatch").height > 0
    assert exceptions.filter(
        pl.col("id").str.starts_with("ledger:") & (pl.col("status") == "amount_mismatch")
    ).is_empty()
    net = dict(ledger.select("ledger_id", "net").iter_rows())
    direct = statement.filter(
        (pl.col("status") == "amount_mismatch")
        & (pl.col("source") == "bank")
        & pl.col("ledger_id").is_not_null()
    )
    assert direct.height > 0
    details = dict(exceptions.select("id", "detail").iter_rows())
    for file, line, amount, ledger_id in direct.select(
        "file", "line_no", "amount", "ledger_id"
    ).iter_rows():
        detail = details[f"{Path(file).name}:{line}"]
        assert f" ledger={ledger_id} " in detail
        assert f" expected={net[ledger_id]} selisih={amount - net[ledger_id]} " in detail
    # A batch debited with another total: the batch total and the selisih.
    batch = statement.filter(
        (pl.col("status") == "amount_mismatch") & (pl.col("match_pass") == "batch")
    ).row(0, named=True)
    rows = statement.filter(pl.col("batch_id") == batch["matched_batch"])
    sign = 1 if batch["direction"] == "D" else -1
    total = (rows["amount"] + sign * rows["fee"]).sum()
    detail = details[f"{Path(batch['file']).name}:{batch['line_no']}"]
    assert f" expected={total} selisih={batch['amount'] - total} " in detail


def test_bank_charges_are_totalled_per_day_not_exceptions(truth: Truth, tmp_path: Path) -> None:
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    assert main(args(truth, paths, out)) == 0
    exceptions = pl.read_csv(out / "exceptions.csv", infer_schema=False)
    assert "fee" not in set(exceptions["status"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    fees = truth.bank.filter(pl.col("kind").is_in(["fee", "interest"]))
    assert summary["counts"]["statement"]["fee"] == fees.height > 0
    expected = (
        fees.group_by("value_date", "kind", "direction")
        .agg(lines=pl.len(), amount=pl.col("amount").sum())
        .sort("value_date", "kind", "direction")
        .with_columns(pl.col("value_date").cast(pl.String))
        .to_dicts()
    )
    assert summary["fees_per_day"] == expected
    assert "Bank charges and interest per day" in (out / "summary.html").read_text("utf-8")


def test_the_summary_counts_the_ledger_lines_of_the_period_not_the_whole_file(
    truth: Truth, tmp_path: Path
) -> None:
    paths = files(truth, tmp_path / "in")
    old = (
        truth.ledger_input()
        .head(1)
        .with_columns(
            ledger_id=pl.lit("OLD-1"),
            settled_on=pl.col("settled_on").dt.offset_by("-90d"),
            sent_on=pl.col("sent_on").dt.offset_by("-90d"),
            authorised_on=pl.col("authorised_on").dt.offset_by("-90d"),
        )
    )
    pl.concat([truth.ledger_input(), old]).write_parquet(paths["ledger"])
    out = tmp_path / "out"
    assert main([*args(truth, paths, out), "--no-record"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    [ledger] = [i for i in summary["inputs"] if i["role"] == "ledger"]
    assert ledger["lines"] == truth.ledger.height == pl.read_parquet(out / "ledger.parquet").height


def test_a_bad_line_exits_2_with_file_and_line(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = files(truth, tmp_path / "in")
    lines = paths["csv"].read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace(",00;", ",50;", 1)
    paths["csv"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(args(truth, paths, out)) == 2
    err = capsys.readouterr().err
    assert f"{paths['csv']}:5: " in err
    assert "fraction of a rupiah" in err
    assert not (out / "statement.parquet").exists()


def test_missing_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconcile", "--date", "2026-11-21", "--out", str(tmp_path)]) == 2
    assert "--bank" in capsys.readouterr().err


def test_nightly_reconciles_yesterday_from_the_inbox_against_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    yesterday = datetime.now(WIB).date() - timedelta(days=1)
    db = tmp_path / "kasda.db"
    ledger = Ledger(f"sqlite:///{db}", clock=FixedClock())
    try:
        f.adopt(ledger)
        f.register_vendor(ledger)
        for command in (
            f.request("SPP-1"),
            f.verify("SPP-1"),
            f.approve("SPP-1"),
            f.authorise("SPP-1"),
        ):
            ledger.execute(command)
    finally:
        ledger.close()
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    (inbox / "bank").mkdir(parents=True)
    (inbox / "gateway").mkdir()
    stamp = yesterday.strftime("%d/%m/%Y")
    (inbox / "bank" / f"rkud-{yesterday.isoformat()}.csv").write_text(
        "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"
        f"{stamp};SP2D/SPP-1 PT PIKIRAN RAKYAT;98.000.000,00;0,00;;FT1;0012345678;110\n"
        f"{stamp};TRF 0099887766 TANPA SP2D;5.000.000,00;0,00;;FT2;0099887766;008\n",
        encoding="utf-8",
    )
    (inbox / "bank" / "rkud-1999-01-01.csv").write_text("not for tonight\n", encoding="utf-8")
    monkeypatch.setenv("KASDA_RECON_INBOX", str(inbox))
    monkeypatch.setenv("KASDA_RECON_OUT", str(out))
    monkeypatch.setenv("KASDA_DATABASE_URL", f"sqlite:///{db}")
    assert main(["reconcile", "--nightly", "--window", "100000"]) == 0
    report = pl.read_parquet(out / yesterday.isoformat() / "statement.parquet")
    assert report["status"].cast(pl.String).to_list() == ["matched", "unmatched_bank"]
    printed = capsys.readouterr().out
    assert "unmatched_bank=1" in printed
    # The night is recorded in the same store, once: running it again records nothing new.
    assert "recorded run " in printed
    assert main(["reconcile", "--nightly", "--window", "100000"]) == 0
    assert "already recorded" in capsys.readouterr().out
    exceptions = pl.read_csv(out / yesterday.isoformat() / "exceptions.csv")
    assert exceptions["id"].to_list() == [f"rkud-{yesterday.isoformat()}.csv:3"]


def test_nightly_without_configuration_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KASDA_RECON_INBOX", raising=False)
    assert main(["reconcile", "--nightly"]) == 2
    assert "KASDA_RECON_INBOX" in capsys.readouterr().err


def test_an_unknown_csv_profile_exits_2(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = files(truth, tmp_path / "in")
    assert main([*args(truth, paths, tmp_path / "out"), "--profile", "bni"]) == 2
    assert "unknown CSV profile 'bni'" in capsys.readouterr().err


def test_a_camt053_statement_runs_the_same(truth: Truth, tmp_path: Path) -> None:
    paths = files(truth, tmp_path / "in")
    paths["camt"] = tmp_path / "in" / "rkud.xml"
    write_camt053(truth.bank, paths["camt"])
    out = tmp_path / "out"
    assert main(args(truth, paths, out, "camt")) == 0
    statement = pl.read_parquet(out / "statement.parquet")
    bank = statement.filter(pl.col("source") == "bank")
    assert bank["status"].cast(pl.String).to_list() == truth.bank["expected_status"].to_list()


def test_a_bad_profile_file_exits_2(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = files(truth, tmp_path / "in")
    profiles = tmp_path / "banks.toml"
    profiles.write_text(
        '[profiles.bni]\ncolumns = ["a"]\nroles = {}\ncolour = "blue"\n', encoding="utf-8"
    )
    assert main([*args(truth, paths, tmp_path / "out"), "--profiles", str(profiles)]) == 2
    assert "CSV profile 'bni'" in capsys.readouterr().err


@pytest.mark.parametrize("odd", ["\u202e", "\u200b", "\udcff"])
def test_a_file_name_the_ledger_would_refuse_is_a_clear_cli_error(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str], odd: str
) -> None:
    """The CLI follows the ledger's text rules (``ledger.fields``): a bank file whose name holds a
    bidi override, a zero-width space or an undecodable byte (a lone surrogate once decoded) is
    refused with the rule and exit 2, never a traceback."""
    paths = files(truth, tmp_path / "in")
    renamed = paths["csv"].with_name(f"rkud{odd}.csv")
    paths["csv"].rename(renamed)
    paths["csv"] = renamed
    assert main(args(truth, paths, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("kasda") and "Traceback" not in err
    if odd != "\udcff":  # that one cannot even be written into the run's outputs: refused earlier
        assert "[invalid_input]" in err and "input name" in err


def test_inputs_are_files_equal_bytes_a_glob_and_a_folder(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two files with the same bytes (two days' empty reports) are two inputs; ``--gateway`` takes
    several files (a glob the shell expanded), a quoted glob or a folder (its files of the period),
    and they are the same run; a file given twice is read once."""
    paths = files(truth, tmp_path / "in")
    end = truth.period_end
    since = end - timedelta(days=14)
    inbox = tmp_path / "gateway"
    inbox.mkdir()
    header = "order_id,batch_id,settlement_time,payment_type,gross_amount,fee,net_amount\n"
    for back in (1, 2):  # two days without a settlement: two files, the same bytes
        (inbox / f"settlements-{end - timedelta(days=back)}.csv").write_text(header)
    (inbox / f"payouts-{end}.csv").write_bytes(paths["payouts"].read_bytes())
    (inbox / f"settlements-{end}.csv").write_bytes(paths["settlements"].read_bytes())
    # not of the period: the folder leaves it out (and the glob below does not match it)
    (inbox / f"old-settlements-{end - timedelta(days=30)}.csv").write_text(header)
    common = ["reconcile", "--date", end.isoformat(), "--since", since.isoformat()]
    common += ["--bank", str(paths["csv"]), "--ledger", str(paths["ledger"])]
    expanded = sorted(str(p) for p in inbox.iterdir() if not p.name.startswith("old-"))
    assert len(expanded) == 4

    def run(name: str, *gateway: str) -> dict[str, Any]:
        assert main([*common, "--out", str(tmp_path / name), "--gateway", *gateway]) == 0
        found: dict[str, Any] = json.loads((tmp_path / name / "run.json").read_text("utf-8"))
        return found

    first = run("expanded", *expanded)
    assert first["recorded_now"] is True
    summary = json.loads((tmp_path / "expanded" / "summary.json").read_text(encoding="utf-8"))
    gateway_inputs = [i for i in summary["inputs"] if i["role"] == "gateway"]
    assert len(gateway_inputs) == 4
    assert len({i["sha256"] for i in gateway_inputs}) == 3  # two of them have the same bytes
    # The same files as a folder, as a quoted glob, or with one of them twice: the same run.
    for name, gateway in (
        ("folder", [str(inbox)]),
        ("glob", [str(inbox / "[ps]*.csv")]),
        ("twice", [*expanded, expanded[0]]),
    ):
        capsys.readouterr()
        again = run(name, *gateway)
        assert again == {"run_id": first["run_id"], "recorded_now": False}, name
    assert "given twice" in capsys.readouterr().err
    # A folder with nothing of the period, a glob that matches nothing: exit 2, nothing read.
    empty = tmp_path / "empty"
    empty.mkdir()
    for nothing in (str(empty), str(inbox / "nothing-*.csv")):
        assert main([*common, "--out", str(tmp_path / "x"), "--gateway", nothing]) == 2
    # The same file as a statement and as a report is refused.
    assert main([*common, "--out", str(tmp_path / "y"), "--gateway", str(paths["csv"])]) == 2


def test_files_with_one_name_and_the_same_bytes_are_two_inputs(
    truth: Truth, tmp_path: Path
) -> None:
    """Two folders' copies of one report, same name and bytes: their lines get distinct ids."""
    paths = files(truth, tmp_path / "in")
    copies = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        copies.append(tmp_path / folder / "payouts.csv")
        copies[-1].write_bytes(paths["payouts"].read_bytes())
    argv = args(truth, paths, tmp_path / "out")
    for copy in copies:
        argv += ["--gateway", str(copy)]
    assert main(argv) == 0
    exceptions = pl.read_csv(tmp_path / "out" / "exceptions.csv", infer_schema=False)
    assert exceptions["id"].is_unique().all()
    copied = exceptions.filter(pl.col("id").str.contains(r"^[0-9a-f]{16}-[123]:"))
    assert copied.height > 0
