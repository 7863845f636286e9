"""``duplicate_payment``: planted doubles are flagged with their payments; honest look-alikes not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from tests.redflag_scene import Scene, of


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    yield scene
    scene.close()


def test_an_invoice_paid_twice_on_two_lines_is_flagged_high(scene: Scene) -> None:
    scene.vendor("CV Sumber Rejeki", when=datetime(2026, 1, 5, 9))
    first = scene.pay("SPP-1", "CV Sumber Rejeki", 45_000_000, datetime(2026, 2, 2, 9),
                      invoice="INV-77", rekening=next(iter(scene.lines)))  # fmt: skip
    second = scene.pay("SPP-2", "CV Sumber Rejeki", 45_000_000, datetime(2026, 5, 4, 9),
                       invoice="INV-77", rekening=list(scene.lines)[1])  # fmt: skip
    found = scene.detect("duplicate_payment")
    assert of(found, "duplicate_payment") == [{first, second}]
    [flag] = found.flags
    assert flag.severity == "high" and flag.amount == 45_000_000
    assert {e.aggregate_id for e in flag.evidence} == {first, second}
    assert "INV-77" in flag.explanation_id and "Rp 45.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_the_same_gross_twice_within_the_window_is_flagged_and_a_month_apart_is_not(
    scene: Scene,
) -> None:
    scene.vendor("PT Cepat", when=datetime(2026, 1, 5, 9))
    scene.vendor("PT Bulanan", when=datetime(2026, 1, 5, 9))
    a = scene.pay("SPP-A", "PT Cepat", 12_500_000, datetime(2026, 3, 2, 9), invoice="A-1")
    b = scene.pay("SPP-B", "PT Cepat", 12_500_000, datetime(2026, 3, 9, 9), invoice="A-2")
    # A monthly fee of the same amount, a month apart: honest, not flagged.
    scene.pay("SPP-M1", "PT Bulanan", 12_500_000, datetime(2026, 3, 2, 9), invoice="M-1")
    scene.pay("SPP-M2", "PT Bulanan", 12_500_000, datetime(2026, 4, 2, 9), invoice="M-2")
    found = scene.detect("duplicate_payment")
    assert of(found, "duplicate_payment") == [{a, b}]
    assert found.flags[0].severity == "medium"
