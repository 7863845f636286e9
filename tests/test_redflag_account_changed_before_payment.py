"""``account_changed_before_payment``: an account changed just before an SP2D is flagged with the
change and the payment's events; a change long before any payment, or after it, is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from tests.redflag_scene import Scene, of

RULE = "account_changed_before_payment"


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    yield scene
    scene.close()


def test_an_account_changed_before_the_sp2d_and_back_after_is_high(scene: Scene) -> None:
    vendor = scene.vendor("CV Balik", when=datetime(2026, 1, 5, 9), number="1111222233")
    scene.change_account("CV Balik", "9999888877", datetime(2026, 3, 2, 10))
    paid = scene.pay("SPP-B1", "CV Balik", 75_000_000, datetime(2026, 3, 3, 9))
    scene.change_account("CV Balik", "1111222233", datetime(2026, 3, 6, 10))
    # Changed long before any payment (60 days): left alone.
    scene.vendor("CV Lama", when=datetime(2026, 1, 5, 9))
    scene.change_account("CV Lama", "4444555566", datetime(2026, 1, 10, 10))
    scene.pay("SPP-L1", "CV Lama", 75_000_000, datetime(2026, 3, 11, 9))
    # Paid first, the account changed afterwards: nothing was paid to the new account.
    scene.vendor("CV Sesudah", when=datetime(2026, 1, 5, 9))
    scene.pay("SPP-S1", "CV Sesudah", 75_000_000, datetime(2026, 3, 2, 9))
    scene.change_account("CV Sesudah", "7777666655", datetime(2026, 3, 20, 10))
    found = scene.detect(RULE)
    assert of(found, RULE) == [{paid}]
    [flag] = found.flags
    assert flag.severity == "high" and flag.amount == 75_000_000
    assert (flag.subject_kind, flag.subject_id, flag.vendor_ids) == (
        "disbursement",
        paid,
        (vendor,),
    )
    assert (flag.period_start.isoformat(), flag.period_end.isoformat()) == (
        "2026-03-02",
        "2026-03-03",
    )
    # The change (vendor version 2), the change back (3), the SP2D and the transfer.
    assert [(e.aggregate_id, e.version) for e in flag.evidence] == [
        (vendor, 2),
        (paid, 4),
        (paid, 5),
        (vendor, 3),
    ]
    assert "110 ****8877" in flag.explanation_id and "9999888877" not in flag.explanation_id
    assert "dikembalikan ke 110 ****2233 pada 6 Mar 2026" in flag.explanation_id
    assert "1 day before the SP2D" in flag.explanation_en
    assert "Rp 75.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_an_account_of_another_vendor_is_high_and_a_fresh_account_medium(
    scene: Scene, tmp_path: Path
) -> None:
    other = scene.vendor("PT Lain", when=datetime(2026, 1, 5, 9), number="5555000011")
    taker = scene.vendor("PT Asli", when=datetime(2026, 1, 5, 9))
    scene.change_account("PT Asli", "5555000011", datetime(2026, 4, 1, 10))
    shared = scene.pay("SPP-A1", "PT Asli", 40_000_000, datetime(2026, 4, 8, 9))
    scene.vendor("CV Baru", when=datetime(2026, 1, 5, 9))
    scene.change_account("CV Baru", "3333000022", datetime(2026, 4, 1, 10))
    fresh = scene.pay("SPP-N1", "CV Baru", 30_000_000, datetime(2026, 4, 10, 9))
    # Changed 16 days before its SP2D: outside the window.
    scene.vendor("CV Tepi", when=datetime(2026, 1, 5, 9))
    scene.change_account("CV Tepi", "3333000033", datetime(2026, 4, 1, 10))
    scene.pay("SPP-T1", "CV Tepi", 30_000_000, datetime(2026, 4, 17, 9))
    found = scene.detect(RULE)
    assert of(found, RULE) == [{shared}, {fresh}]
    high, medium = found.flags
    assert high.severity == "high" and set(high.vendor_ids) == {taker, other}
    assert "juga tercatat untuk 1 penyedia lain" in high.explanation_id
    assert medium.severity == "medium" and medium.amount == 30_000_000
    assert "9 days before" in medium.explanation_en
    wide = tmp_path / "wide.toml"
    wide.write_text(f"[{RULE}]\nwindow_days = 20\n")
    assert len(of(scene.detect(RULE, path=wide), RULE)) == 3
