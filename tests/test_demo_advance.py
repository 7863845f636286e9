"""The bendahara's advance in the demo year (``kasda.demo.advance``): a few SKPD receive their UP,
buy in cash and by KKPD, pay the bills, ask GU, spend and return a TU, and close the year with GU
nihil and setoran, every advance's outstanding 0; the read models (the LRA among them) still equal
the independent fold; the RKUD statement shows the advance's SP2D and setoran, matched; the issuing
bank's KKPD statement lists the card purchases and one with no SPJ."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from kasda.cli import main
from kasda.demo.pemda import PEMDA, YEAR
from ledger.advance import Advance
from ledger.application import Ledger
from projections import advance_queries as aq
from projections.runner import Projector
from tests.demo_cache import demo_copy
from tests.projection_oracle import assert_models_match
from tests.refusals import all_events


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The small year with its files, built once per session (tests/demo_cache.py): a copy.
    return demo_copy(tmp_path_factory, 7, 60, files=True).home


def _url(demo: Path) -> str:
    return f"sqlite:///{demo / 'kasda.db'}"


def test_every_advance_lives_its_year_and_ends_it_at_zero(demo: Path) -> None:
    ledger = Ledger(_url(demo))
    try:
        events = all_events(ledger)
        names = Counter(type(e).__qualname__ for e in events)
        advances = [
            ledger.aggregate(e.originator_id, Advance)
            for e in events
            if type(e).__qualname__ == "Advance.SetUp"
        ]
        orders = Counter(
            e.mechanism for e in events if type(e).__qualname__ == "AdvanceOrder.Requested"
        )
        channels = Counter(e.channel for e in events if type(e).__qualname__ == "Advance.Spent")
    finally:
        ledger.close()
    assert len(advances) >= 3
    for advance in advances:
        assert (advance.outstanding, advance.cash, advance.entrusted) == (0, 0, 0), advance.skpd
        assert not advance.spj
    assert orders["up"] == len(advances) and orders["tu"] == 1
    assert orders["gu"] >= len(advances) and orders["gu_nihil"] >= len(advances)
    assert channels["kkpd"] >= 10 and channels["tunai"] >= 10
    assert names["Advance.CardBillPaid"] >= 10 and names["Advance.CashReturned"] >= 4


def test_the_read_models_equal_the_fold_with_the_advances_in_the_year(demo: Path) -> None:
    ledger = Ledger(_url(demo))
    projector = Projector(ledger)
    try:
        projector.catch_up()
        assert_models_match(ledger, projector.db, PEMDA, YEAR)
        shown = aq.advances(projector.db, PEMDA, year=YEAR)
        assert len(shown) >= 3 and {a["outstanding"] for a in shown} == {0}
        assert aq.kkpd_spj(projector.db, PEMDA, YEAR).height >= 10
    finally:
        projector.close()
        ledger.close()


def test_the_rkud_statement_shows_the_advances_money_matched(demo: Path, tmp_path: Path) -> None:
    folder, out = demo / "files", tmp_path / "jan"
    statements = sorted(str(p) for p in folder.glob(f"rkud-{YEAR}-01-*.sta"))
    argv = ["reconcile", "--date", f"{YEAR}-01-31", "--since", f"{YEAR}-01-01", "--out", str(out),
            "--no-record", "--bank", *statements]  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KASDA_DATABASE_URL", _url(demo))
        assert main(argv) == 0
    statement = pl.read_parquet(out / "statement.parquet").with_columns(pl.col("status").cast(str))
    advance = statement.filter(pl.col("remark").str.contains("SP2D-(UP|GU|TU)|SETORAN SISA"))
    assert advance.height >= 3  # every SKPD's UP in January
    assert set(advance["status"].to_list()) == {"matched"}


def test_the_kkpd_statement_lists_the_card_purchases_and_one_without_spj(demo: Path) -> None:
    path = demo / "files" / f"kkpd-{YEAR}.csv"
    lines = pl.read_csv(path, separator=";", infer_schema=False)
    assert lines.columns[:3] == ["tanggal_transaksi", "tanggal_posting", "nomor_kartu"]
    purchases = lines.filter(pl.col("uraian") == "PEMBELIAN")
    ledger = Ledger(_url(demo))
    try:
        spent = [
            e for e in all_events(ledger)
            if type(e).__qualname__ == "Advance.Spent" and e.channel == "kkpd"
        ]  # fmt: skip
    finally:
        ledger.close()
    codes = {e.evidence["otorisasi"] for e in spent}
    assert purchases.height == len(spent) + 1
    assert set(purchases["kode_otorisasi"].to_list()) - codes == {"AFFFFF"}
    assert lines.filter(pl.col("uraian") == "PEMBAYARAN TAGIHAN").height >= 10


def test_the_kkpd_statement_is_reconciled_and_its_purchase_without_spj_flagged(
    demo: Path,
) -> None:
    """BPKAD records the KKPD run over the year's statement; the planted purchase with no SPJ is
    its one exception, and the Inspektorat's run raises kkpd_without_spj on it."""
    ledger = Ledger(_url(demo))
    try:
        events = all_events(ledger)
    finally:
        ledger.close()
    runs = [e for e in events if type(e).__qualname__ == "ReconciliationRun.Recorded"]
    kkpd = [r for r in runs if any(i["kind"] == "kkpd_statement" for i in r.inputs)]
    assert len(kkpd) == 1
    assert [x["status"] for x in kkpd[0].exceptions] == ["kkpd_no_spj"]
    raised = [e for e in events if type(e).__qualname__ == "RedFlag.Raised"]
    assert sum(1 for e in raised if e.flag["rule"] == "kkpd_without_spj") == 1
