"""A returned transfer paid again, reconciled by the real pipeline (``reconciliation.day.match``,
as ``kasda reconcile`` runs it) over the store's read models: the statement has the first debit to
the old account, the bank's return and a second debit to the new account, all naming the one SP2D.
Each finds its own transfer: nothing reads as the SP2D debited twice, as account substitution or as
money out with no SP2D, whether the days are reconciled one by one or as one period."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from reconciliation.day import RunInputs, match
from reconciliation.readers.ledger import ledger_frame
from tests import factory as f
from tests.redflag_reconcile import HEADER, credit, debit
from tests.redflag_scene import Scene

SP2D = "32.73/00001/SP2D-LS/BUD/2026"
GROSS, NET = 100_000_000, 98_000_000
OLD, NEW = "0012345678", "0055566677"
FIRST, RETURN, SECOND = date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 10)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """SPP-1 to the vendor: SP2D, paid to OLD, returned, paid again to NEW, each on its day."""
    s = Scene.open(tmp_path)
    s.at(datetime(2026, 2, 27, 9))
    f.register_vendor(s.ledger)
    for command in (f.request("SPP-1", GROSS), f.verify("SPP-1"), f.approve("SPP-1"),
                    f.authorise("SPP-1", sp2d=SP2D)):  # fmt: skip
        s.run(command)
    s.run(f.send("SPP-1", reference="IRIS-0000000001"), datetime(2026, 3, 2, 10))
    s.run(f.settle("SPP-1"), datetime(2026, 3, 2, 11))
    s.run(f.return_("SPP-1", "rekening ditutup"), datetime(2026, 3, 5, 10))
    s.run(f.change_account(NEW, bank_code="110"), datetime(2026, 3, 9, 9))
    s.run(f.reissue("SPP-1"), datetime(2026, 3, 9, 10))
    s.run(f.send("SPP-1", reference="IRIS-0000000002"), datetime(2026, 3, 10, 10))
    s.run(f.settle("SPP-1"), datetime(2026, 3, 10, 11))
    yield s
    s.close()


LINES = {
    FIRST: debit(FIRST, f"{SP2D} PEMBAYARAN LS", NET, OLD),
    RETURN: credit(RETURN, f"RETUR {SP2D} REKENING DITUTUP", NET, OLD),
    SECOND: debit(SECOND, f"{SP2D} PEMBAYARAN LS", NET, NEW),
}


def _run(
    scene: Scene, folder: Path, start: date, end: date, partitions: int = 0
) -> tuple[list[str], list[str]]:
    """The statuses of the statement lines (in file order) and of the ledger lines in scope, in
    memory or in ``partitions`` on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rkud-{start.isoformat()}-{end.isoformat()}.csv"
    path.write_text(
        HEADER + "".join(line for day, line in LINES.items() if start <= day <= end),
        encoding="utf-8",
    )
    run = RunInputs(start=start, end=end, bank=(path,), timezone="Asia/Jakarta", window=3,
                    pemda=f.PEMDA, partitions=partitions)  # fmt: skip
    work = folder / "work" if partitions else None
    if work is not None:
        work.mkdir()
    result = match(run, lambda: contextlib.nullcontext(scene.ledger), work=work).result
    statement = pl.DataFrame(result.statement.lazy().collect()).sort("line_no")
    ledger = pl.DataFrame(result.ledger.lazy().collect())
    return list(statement["status"].cast(str)), sorted(ledger["status"].cast(str))


def test_the_ledger_has_a_line_per_transfer_that_reached_the_bank(scene: Scene) -> None:
    frame = ledger_frame(scene.ledger, f.PEMDA).sort("authorised_on")
    rows = frame.select(
        "sp2d_number", "payout_reference", "beneficiary_account", "sent_on", "settled_on", "status"
    ).rows()
    assert rows == [
        (SP2D, "IRIS-0000000001", OLD, FIRST, FIRST, "returned"),
        (SP2D, "IRIS-0000000002", NEW, SECOND, SECOND, "settled"),
    ]
    assert frame["net"].to_list() == [NET, NET]


@pytest.mark.parametrize("partitions", [0, 2])
def test_the_whole_period_matches_every_line(scene: Scene, tmp_path: Path, partitions: int) -> None:
    """First debit and return: the transfer that came back; second debit: the re-payment."""
    statement, ledger = _run(scene, tmp_path, FIRST, SECOND, partitions)
    assert statement == ["matched", "returned", "matched"]
    assert ledger == ["matched", "returned"]


@pytest.mark.parametrize("day", [FIRST, RETURN, SECOND])
def test_each_day_alone_raises_no_exception(scene: Scene, tmp_path: Path, day: date) -> None:
    statement, ledger = _run(scene, tmp_path / day.isoformat(), day, day)
    assert statement == ["returned" if day == RETURN else "matched"]
    # The return's day expects no debit: the transfer was settled before it.
    assert ledger == ([] if day == RETURN else ["matched"])
