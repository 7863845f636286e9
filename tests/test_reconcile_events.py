"""A reconciliation run is a fact of the ledger: ``kasda reconcile`` records its inputs, counts and
every exception once; ``kasda reconcile-resolve`` closes an exception with a reason. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import polars as pl
import pytest

from kasda.cli import main
from ledger.application import Ledger
from ledger.reconciliation import ReconciliationRun
from testkit.clock import FixedClock
from testkit.reconciliation import Truth, generate
from tests import factory as f
from tests.conftest import make_url
from tests.test_reconcile_cli import args, files


@pytest.fixture(scope="module")
def truth() -> Truth:
    return generate(1_200, seed=33)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_url(str(request.param), tmp_path, request)


def topics(url: str) -> list[str]:
    store = Ledger(url)
    try:
        found = store.recorder.select_notifications(start=1, limit=1_000_000)
        # The run's own events (each command also leaves a receipt, which is not counted here).
        return [n.topic.rsplit(".", 1)[-1] for n in found if ":ReconciliationRun." in n.topic]
    finally:
        store.close()


def run_of(url: str, out: Path) -> ReconciliationRun:
    run_id = UUID(json.loads((out / "run.json").read_text(encoding="utf-8"))["run_id"])
    store = Ledger(url)
    try:
        return store.aggregate(run_id, ReconciliationRun)
    finally:
        store.close()


def expected_exceptions(out: Path) -> dict[str, str]:
    """id -> status of every non-matched line of the report, built independently of the recorder."""
    # Not exceptions: matched lines, bank charges (totalled per day), and a ledger line in
    # amount_mismatch (its statement line's exception shows both and the selisih).
    statement = pl.read_parquet(out / "statement.parquet").filter(
        ~pl.col("status").is_in(["matched", "fee"])
    )
    ledger = pl.read_parquet(out / "ledger.parquet").filter(
        ~pl.col("status").is_in(["matched", "amount_mismatch"])
    )
    found = {
        f"{Path(file).name}:{line}": str(status)
        for file, line, status in statement.select("file", "line_no", "status").iter_rows()
    }
    found.update(
        {f"ledger:{i}": str(s) for i, s in ledger.select("ledger_id", "status").iter_rows()}
    )
    return found


def test_a_run_is_recorded_once_with_every_exception_and_resolved_with_a_reason(
    truth: Truth, tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    command = [*args(truth, paths, out), "--database", store_url]
    assert main(command) == 0
    assert "recorded run " in capsys.readouterr().out
    assert topics(store_url).count("Recorded") == 1
    run = run_of(store_url, out)
    wanted = expected_exceptions(out)
    assert len(wanted) > 100  # every planted kind of difference is there
    assert {k: v["status"] for k, v in run.exceptions.items()} == wanted
    assert run.business_date == truth.period_end.isoformat()
    kinds = [i["kind"] for i in run.inputs]
    assert kinds == ["bank", "gateway", "gateway", "ledger", "parameters"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [i["sha256"] for i in run.inputs[:4]] == [i["sha256"] for i in summary["inputs"]]
    assert (
        run.counts["statement.unmatched_bank"] == summary["counts"]["statement"]["unmatched_bank"]
    )
    assert run.counts["ledger.timing"] == summary["counts"]["ledger"]["timing"]
    # A bank exception carries its file, line and ledger link; a ledger exception its amount.
    duplicate = next(e for e in run.exceptions.values() if e["status"] == "duplicate")
    assert "side=bank file=rkud.csv line=" in duplicate["detail"]
    assert " ledger=" in duplicate["detail"]
    missing = next(e for e in run.exceptions.values() if e["status"] == "unmatched_ledger")
    assert missing["amount"] > 0 and missing["id"].startswith("ledger:")
    exported = pl.read_csv(out / "exceptions.csv", infer_schema=False)
    assert set(exported["id"]) == set(wanted)

    # The same date, inputs and parameters: nothing new.
    assert main(command) == 0
    assert "already recorded" in capsys.readouterr().out
    assert topics(store_url).count("Recorded") == 1

    # Resolve one exception; a retry of the same resolution changes nothing.
    eid = duplicate["id"]
    resolve = [
        "reconcile-resolve",
        "--run",
        str(run.id),
        "--exception",
        eid,
        "--resolution",
        "recovered",
        "--reason",
        "bank reversed the double debit, nota 17/XI/2026",
        "--actor",
        "bpkad-siti",
        "--database",
        store_url,
    ]
    assert main(resolve) == 0
    assert "still open" in capsys.readouterr().out
    assert main(resolve) == 0
    assert "already resolved" in capsys.readouterr().out
    assert topics(store_url).count("ExceptionResolved") == 1
    run = run_of(store_url, out)
    assert run.resolved[eid] == {
        "resolution": "recovered",
        "reason": "bank reversed the double debit, nota 17/XI/2026",
        "by": "bpkad-siti",
    }
    assert len(run.open_exceptions) == len(wanted) - 1


def test_refusals_write_nothing(
    truth: Truth, tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    command = [*args(truth, paths, out), "--database", store_url]
    # An auditor may not record a run: refused before anything is read or written.
    assert main([*command, "--role", "auditor", "--actor", "inspektorat-1"]) == 2
    assert "needs role bpkad_admin" in capsys.readouterr().err
    assert not out.exists()
    assert main([*command, "--role", "superuser"]) == 2
    assert "unknown role" in capsys.readouterr().err
    assert main(command) == 0
    run = run_of(store_url, out)
    before = topics(store_url)
    eid = next(iter(run.exceptions))
    base = ["reconcile-resolve", "--run", str(run.id), "--database", store_url]
    base += ["--reason", "seen"]
    # An auditor may not resolve; an unknown exception or resolution is refused; a run that does not
    # exist is not found.
    assert main([*base, "--exception", eid, "--resolution", "explained", "--role", "auditor"]) == 2
    assert "step_requires_role" in capsys.readouterr().err
    assert main([*base, "--exception", "nope.csv:1", "--resolution", "explained"]) == 2
    assert "has no exception 'nope.csv:1'" in capsys.readouterr().err
    assert main([*base, "--exception", eid, "--resolution", "forgotten"]) == 2
    assert "resolution must be one of" in capsys.readouterr().err
    other = ["reconcile-resolve", "--run", "00000000-0000-0000-0000-000000000001"]
    other += ["--exception", eid, "--resolution", "explained", "--reason", "x"]
    assert main([*other, "--database", store_url]) == 2
    assert "not_found" in capsys.readouterr().err
    assert topics(store_url) == before
    # A Kuasa BUD may resolve.
    resolve = [*base, "--exception", eid, "--resolution", "explained"]
    assert main([*resolve, "--role", "kuasa_bud", "--actor", "bud-1"]) == 0
    assert topics(store_url) == [*before, "ExceptionResolved"]


def test_a_bad_input_file_records_nothing(
    truth: Truth, tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = files(truth, tmp_path / "in")
    lines = paths["payouts"].read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace("completed", "pending", 1)
    paths["payouts"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main([*args(truth, paths, out), "--database", store_url]) == 2
    err = capsys.readouterr().err
    assert f"{paths['payouts']}:7: " in err
    assert "Recorded" not in topics(store_url)
    assert not out.exists()


def test_too_many_exceptions_record_nothing(
    truth: Truth,
    tmp_path: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("ledger.handlers.MAX_RECONCILIATION_EXCEPTIONS", 100)
    paths = files(truth, tmp_path / "in")
    out = tmp_path / "out"
    assert main([*args(truth, paths, out), "--database", store_url]) == 2
    assert "NOTHING RECORDED" in capsys.readouterr().err
    assert "Recorded" not in topics(store_url)
    assert (out / "statement.parquet").exists()  # the report is there to find out why
    assert not (out / "run.json").exists()


def test_other_parameters_or_files_are_another_run(
    truth: Truth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    paths = files(truth, tmp_path / "in")
    assert main([*args(truth, paths, tmp_path / "a"), "--database", url]) == 0
    assert main([*args(truth, paths, tmp_path / "b"), "--database", url, "--window", "5"]) == 0
    assert main([*args(truth, paths, tmp_path / "c", "mt940"), "--database", url]) == 0
    assert "already recorded" not in capsys.readouterr().out
    assert topics(url).count("Recorded") == 3
    ids = {json.loads((tmp_path / d / "run.json").read_text())["run_id"] for d in "abc"}
    assert len(ids) == 3
    # --no-record writes the report only.
    assert main([*args(truth, paths, tmp_path / "d"), "--database", url, "--no-record"]) == 0
    assert topics(url).count("Recorded") == 3
    assert not (tmp_path / "d" / "run.json").exists()


def test_a_store_of_several_pemdas_reconciles_one_of_them(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(store_url, clock=FixedClock())
    try:
        for pemda, spp in (("32.73", "SPP-1"), ("32.04", "SPP-9")):
            f.adopt(ledger, pemda=pemda)
            f.register_vendor(ledger, pemda=pemda)
            ledger.execute(f.request(spp, pemda=pemda))
            for step in (f.verify, f.approve, f.authorise):
                ledger.execute(step(spp, pemda=pemda))
    finally:
        ledger.close()
    bank = tmp_path / "rkud-2026-01-02.csv"
    bank.write_text(
        "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan\n"
        "02/01/2026;SP2D/SPP-1 PT PIKIRAN RAKYAT;98.000.000,00;0,00;;FT1;0012345678;110\n",
        encoding="utf-8",
    )
    command = ["reconcile", "--date", "2026-01-02", "--bank", str(bank), "--window", "100000"]
    command += ["--database", store_url]
    assert main([*command, "--out", str(tmp_path / "a")]) == 2
    assert "the store holds pemdas 32.04, 32.73: name one with --pemda" in capsys.readouterr().err
    assert "Recorded" not in topics(store_url)
    out = tmp_path / "b"
    assert main([*command, "--out", str(out), "--pemda", "32.73"]) == 0
    lines = pl.read_parquet(out / "ledger.parquet")
    assert lines["sp2d_number"].to_list() == ["SP2D/SPP-1"]
    assert lines["status"].cast(pl.String).to_list() == ["matched"]
    run = run_of(store_url, out)
    assert run.pemda == "32.73" and run.exceptions == {}
