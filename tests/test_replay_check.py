"""``ledger.replay.check_replay``: every aggregate the write path keeps in memory equals a fresh
replay of its stored events, and a store that says something else is named, aggregate by aggregate."""

from __future__ import annotations

from pathlib import Path

from ledger import ids
from ledger.application import Ledger
from ledger.replay import check_replay
from ledger.vendor import normalise_npwp
from testkit.clock import FixedClock
from tests import factory as f


def _a_paid_disbursement(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-1")


def test_the_cached_aggregates_equal_their_replay(ledger: Ledger) -> None:
    _a_paid_disbursement(ledger)
    report = check_replay(ledger)
    assert report.ok, [str(d) for d in report.differences]
    # budget, two lines, vendor, disbursement: the write path kept them all
    assert report.checked >= 5


def test_a_ledger_restarted_on_the_same_file_replays_the_same_state(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    ledger = Ledger(url, clock=FixedClock())
    restarted = None
    try:
        _a_paid_disbursement(ledger)
        restarted = Ledger(url, clock=FixedClock())
        report = check_replay(ledger, replay_from=restarted)
        assert report.ok and report.checked >= 5
    finally:
        ledger.close()
        if restarted is not None:
            restarted.close()


def test_a_store_that_says_otherwise_is_named_aggregate_by_aggregate() -> None:
    ours, other = Ledger("memory://", clock=FixedClock()), Ledger("memory://", clock=FixedClock())
    try:
        f.adopt(ours, f.MEDIA_LINE)
        f.register_vendor(ours)
        # The same line (same id) with another pagu, and no vendor at all.
        f.adopt(other, f.line_spec(pagu=f.MEDIA_LINE.pagu + 1))
        report = check_replay(ours, replay_from=other)
    finally:
        ours.close()
        other.close()
    assert not report.ok
    found = {(d.kind, d.missing): d for d in report.differences}
    line = found["BudgetLine", False]
    assert "pagu" in line.attributes and "pagu" in str(line)
    vendor = found["Vendor", True]
    assert vendor.aggregate_id == ids.vendor_id(f.PEMDA, normalise_npwp(f.NPWP))
    assert "not in the store" in str(vendor)
