"""``new_vendor_paid``: a vendor paid a large SP2D within weeks of its registration is flagged;
an established vendor, or a new one paid small sums, is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from tests.redflag_scene import Scene, of

RULE = "new_vendor_paid"


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    yield scene
    scene.close()


def test_a_vendor_paid_a_large_sp2d_soon_after_registering_is_flagged(
    scene: Scene, tmp_path: Path
) -> None:
    quick = scene.vendor("CV Kilat", when=datetime(2026, 3, 2, 9))
    large = scene.pay("SPP-K1", "CV Kilat", 150_000_000, datetime(2026, 3, 10, 9))
    # A small SP2D first does not hide the large one after it.
    scene.vendor("CV Kecil Dulu", when=datetime(2026, 3, 2, 9))
    scene.pay("SPP-D1", "CV Kecil Dulu", 5_000_000, datetime(2026, 3, 4, 9))
    later = scene.pay("SPP-D2", "CV Kecil Dulu", 120_000_000, datetime(2026, 3, 20, 9))
    # Look-alikes: an established vendor, a new vendor paid small sums, and one whose large SPP
    # has no SP2D yet.
    scene.vendor("PT Lama", when=datetime(2026, 1, 5, 9))
    scene.pay("SPP-L1", "PT Lama", 150_000_000, datetime(2026, 3, 10, 9))
    scene.vendor("CV Baru Kecil", when=datetime(2026, 3, 2, 9))
    small = scene.pay("SPP-S1", "CV Baru Kecil", 20_000_000, datetime(2026, 3, 10, 9))
    scene.vendor("CV Menunggu", when=datetime(2026, 3, 2, 9))
    scene.pay("SPP-M1", "CV Menunggu", 150_000_000, datetime(2026, 3, 10, 9), until="approved")
    found = scene.detect(RULE)
    assert of(found, RULE) == [{large}, {later}]
    flag = found.flags[0]
    assert flag.severity == "medium" and flag.amount == 150_000_000
    assert (flag.subject_kind, flag.subject_id, flag.vendor_ids) == ("vendor", quick, (quick,))
    # The registration, the SPP and the SP2D.
    assert [(e.aggregate_id, e.version) for e in flag.evidence] == [
        (quick, 1),
        (large, 1),
        (large, 4),
    ]
    assert "8 hari kemudian" in flag.explanation_id and "2 Mar 2026" in flag.explanation_id
    assert "Rp 150.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS
    lower = tmp_path / "lower.toml"
    lower.write_text(f"[{RULE}]\nlarge_amount = 10_000_000\n")
    assert {small} in of(scene.detect(RULE, path=lower), RULE)
