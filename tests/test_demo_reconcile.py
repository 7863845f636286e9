"""The demo's daily files are a faithful picture of the RKUD: reconciled the way
docs/reconciliation.md tells a BPKAD officer to (a month with globs, single days), they show only
what the demo planted: returned payouts, the bank's month-end interest and admin fee, and the
receipts paid at the gateway on the last day, which Midtrans pays into the RKUD the next day."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from kasda.cli import main
from tests.demo_cache import demo_copy

SEED, LIFECYCLES = 7, 60


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small year, built once, with its daily files in ``kasda-demo-files/`` beside the store."""
    # Built once per session (tests/demo_cache.py), shared with tests/test_demo_advance.py: a copy.
    return demo_copy(tmp_path_factory, SEED, LIFECYCLES, files=True).home


@pytest.fixture(autouse=True)
def the_demo_store(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASDA_DATABASE_URL", f"sqlite:///{demo / 'kasda.db'}")


def reconcile(demo: Path, out: Path, end: date, since: date | None = None) -> None:
    """``kasda reconcile`` as the docs say: the statements and reports of the period (globs)."""
    folder = demo / "files"
    days = [since + timedelta(days=n) for n in range((end - since).days + 1)] if since else [end]

    def names(kind: str, ext: str) -> list[str]:
        return [str(folder / f"{kind}-{d}.{ext}") for d in days]

    argv = ["reconcile", "--date", end.isoformat(), "--out", str(out)]
    argv += ["--since", since.isoformat()] if since else []
    argv += ["--bank", *names("rkud", "sta")]
    argv += ["--gateway", *names("payouts", "csv"), *names("settlements", "csv")]
    assert main(argv) == 0
    check_only_what_was_planted(folder, out, end)


def settled_next_day(folder: Path, end: date) -> set[str]:
    """Order ids Midtrans pays into the RKUD the day after ``end``: in transit at the cut-off."""
    path = folder / f"settlements-{end + timedelta(days=1)}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["order_id"].upper() for row in csv.DictReader(handle)}


def check_only_what_was_planted(folder: Path, out: Path, end: date) -> None:
    statement = pl.read_parquet(out / "statement.parquet").with_columns(pl.col("status").cast(str))
    ledger = pl.read_parquet(out / "ledger.parquet").with_columns(pl.col("status").cast(str))
    odd = statement.filter(
        ~(
            (pl.col("status") == "matched")
            # the bank's month-end interest and admin fee
            | (pl.col("status") == "fee") & pl.col("remark").str.starts_with("BUNGA JASA GIRO")
            | (pl.col("status") == "fee")
            & pl.col("remark").str.starts_with("BIAYA ADMINISTRASI REKENING")
            # a payout the vendor's bank sent back
            | (pl.col("status") == "returned") & pl.col("remark").str.starts_with("RETUR ")
        )
    )
    assert odd.is_empty(), odd.select("file", "line_no", "status", "remark").to_dicts()
    odd_ledger = ledger.filter(
        ~pl.col("status").is_in(["matched", "timing"])
        & ~((pl.col("status") == "returned") & (pl.col("ledger_status") == "returned"))
    )
    assert odd_ledger.is_empty(), odd_ledger.to_dicts()
    in_transit = ledger.filter(pl.col("status") == "timing")
    assert set(in_transit["kind"].to_list()) <= {"receipt"}
    assert set(in_transit["order_id"].to_list()) == settled_next_day(folder, end)


def days_with(folder: Path, text: str) -> list[date]:
    return sorted(
        date.fromisoformat(p.stem.removeprefix("rkud-"))
        for p in folder.glob("rkud-*.sta")
        if text in p.read_text(encoding="utf-8")
    )


def test_a_month_of_the_demo_files_shows_only_what_was_planted(demo: Path, tmp_path: Path) -> None:
    folder = demo / "files"
    returned = days_with(folder, "RETUR ")
    assert returned, "the demo plants returned payouts"
    month = returned[0].replace(day=1)
    end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    reconcile(demo, tmp_path / "month", end, since=month)
    statement = pl.read_parquet(tmp_path / "month" / "statement.parquet")
    assert {"returned", "fee", "matched"} <= set(statement["status"].cast(str).to_list())
    # Recorded: a month of daily files is about a hundred inputs.
    run = (tmp_path / "month" / "run.json").read_text(encoding="utf-8")
    assert '"recorded_now": true' in run


def test_single_days_of_the_demo_files_show_only_what_was_planted(
    demo: Path, tmp_path: Path
) -> None:
    folder = demo / "files"
    settlement = days_with(folder, "MIDTRANS SETTLEMENT")  # yesterday's receipts paid in
    teller = days_with(folder, "SETORAN TUNAI TELLER")  # paid at the bank, not the gateway
    # Not the year's last day: its receipts settle in a year the demo does not write.
    centre = [d for d in days_with(folder, "DANA TRANSFER PUSAT") if d < date(2026, 12, 31)]
    returned = days_with(folder, "RETUR ")
    assert settlement and teller and centre and returned
    quiet = next(  # a Sunday: a statement with no movement
        d for d in (date(2026, 3, 1) + timedelta(days=n) for n in range(60)) if d.weekday() == 6
    )
    for day in sorted(
        {settlement[3], teller[0], centre[-1], returned[0], date(2026, 6, 30), quiet}
    ):
        reconcile(demo, tmp_path / day.isoformat(), day)
