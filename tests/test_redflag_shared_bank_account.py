"""``shared_bank_account``: one account on record for two vendors (at once or one after the
other) is flagged with what was paid into it; the same number at another bank is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from tests.redflag_scene import Scene, of

RULE = "shared_bank_account"


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    yield scene
    scene.close()


def test_two_vendors_registered_with_one_account_are_flagged_with_what_it_received(
    scene: Scene,
) -> None:
    first = scene.vendor("PT Satu", when=datetime(2026, 1, 5, 9), number="8080808080")
    second = scene.vendor("PT Dua", when=datetime(2026, 1, 6, 9), number="8080808080")
    a = scene.pay("SPP-1", "PT Satu", 50_000_000, datetime(2026, 2, 2, 9))
    b = scene.pay("SPP-2", "PT Dua", 70_000_000, datetime(2026, 2, 9, 9))
    # PT Dua moves to an account of its own: what it is paid there is not at risk here.
    scene.change_account("PT Dua", "1212121212", datetime(2026, 3, 2, 9))
    scene.pay("SPP-3", "PT Dua", 30_000_000, datetime(2026, 3, 9, 9))
    # The same number at another bank is another account.
    scene.vendor("CV Bank Lain", when=datetime(2026, 1, 5, 9), number="8080808080", bank_code="008")
    # One vendor back on its own old account shares it with nobody.
    scene.vendor("CV Sendiri", when=datetime(2026, 1, 5, 9), number="3030303030")
    scene.change_account("CV Sendiri", "4040404040", datetime(2026, 2, 2, 9))
    scene.change_account("CV Sendiri", "3030303030", datetime(2026, 2, 20, 9))
    found = scene.detect(RULE)
    assert of(found, RULE) == [{a, b}]
    [flag] = found.flags
    assert flag.severity == "high" and flag.amount == 120_000_000
    assert flag.subject_kind == "vendor" and flag.subject_id == first
    assert set(flag.vendor_ids) == {first, second}
    assert [(e.aggregate_id, e.version) for e in flag.evidence] == [(first, 1), (second, 1)]
    assert (flag.period_start.isoformat(), flag.period_end.isoformat()) == (
        "2026-01-05",
        "2026-02-09",
    )
    assert "110 ****8080" in flag.explanation_id and "8080808080" not in flag.explanation_en
    assert "2 penyedia" in flag.explanation_id and "Rp 120.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_an_account_taken_over_after_its_first_holder_left_it_is_flagged(scene: Scene) -> None:
    before = scene.vendor("PT Empat", when=datetime(2026, 1, 5, 9), number="6060606060")
    scene.change_account("PT Empat", "6161616161", datetime(2026, 2, 2, 9))
    after = scene.vendor("PT Tiga", when=datetime(2026, 1, 5, 9))
    scene.change_account("PT Tiga", "6060606060", datetime(2026, 3, 2, 9))
    found = scene.detect(RULE)
    assert len(found.flags) == 1 and of(found, RULE) == [set()]
    [flag] = found.flags
    assert flag.subject_id == before and set(flag.vendor_ids) == {before, after}
    assert [(e.aggregate_id, e.version) for e in flag.evidence] == [(before, 1), (after, 2)]
    assert flag.amount == 0 and "0 SP2D" in flag.explanation_en
