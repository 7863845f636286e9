"""``split_purchase``: planted split purchases are flagged with their SPP; honest look-alikes not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from testkit.world import GOODS, MEDIA
from tests import factory as f
from tests.redflag_scene import Scene, of

RULE = "split_purchase"
CONSULTING = "5.1.02.02.12.0001"  # under the default consulting_rekening prefix


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(
        tmp_path,
        None,
        f.line_spec(GOODS, 5_000_000_000, uraian="Belanja Alat Tulis Kantor"),
        f.line_spec(MEDIA, 5_000_000_000),
        f.line_spec(CONSULTING, 1_000_000_000, uraian="Belanja Jasa Konsultansi"),
    )
    for name in ("CV Pecah", "PT Dua", "CV Jujur", "PT Jarang", "PT Dua Baris", "PT Tender",
                 "CV Konsultan", "CV Barang", "CV Ditolak", "PT Berantai"):  # fmt: skip
        scene.vendor(name, when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def test_three_spp_under_the_limit_that_cross_it_in_three_weeks_are_one_high_flag(
    scene: Scene,
) -> None:
    goods = GOODS
    spp = [
        scene.pay("SPP-P1", "CV Pecah", 90_000_000, datetime(2026, 3, 2, 9), rekening=goods),
        scene.pay("SPP-P2", "CV Pecah", 80_000_000, datetime(2026, 3, 11, 9), rekening=goods),
        scene.pay("SPP-P3", "CV Pecah", 70_000_000, datetime(2026, 3, 20, 9), rekening=goods,
                  until="requested"),
    ]  # fmt: skip
    # Two honest payments to one vendor in one month that do not cross the limit.
    scene.pay("SPP-J1", "CV Jujur", 60_000_000, datetime(2026, 3, 2, 9), rekening=goods)
    scene.pay("SPP-J2", "CV Jujur", 70_000_000, datetime(2026, 3, 25, 9), rekening=goods)
    found = scene.detect(RULE)
    assert of(found, RULE) == [set(spp)]
    [flag] = found.flags
    assert flag.severity == "high" and flag.amount == 240_000_000
    assert flag.subject_kind == "vendor" and flag.vendor_ids == (flag.subject_id,)
    assert (flag.period_start.isoformat(), flag.period_end.isoformat()) == (
        "2026-03-02",
        "2026-03-20",
    )
    # Requested of all three and Authorised of the two that reached an SP2D.
    assert len(flag.evidence) == 5 and {e.aggregate_id for e in flag.evidence} == set(spp)
    assert "Rp 240.000.000" in flag.explanation_id and "Rp 200.000.000" in flag.explanation_en
    assert "SPP-P1, SPP-P2, SPP-P3" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_two_spp_just_over_the_limit_together_are_medium(scene: Scene) -> None:
    media = MEDIA
    a = scene.pay("SPP-D1", "PT Dua", 120_000_000, datetime(2026, 4, 6, 9), rekening=media)
    b = scene.pay("SPP-D2", "PT Dua", 95_000_000, datetime(2026, 4, 16, 9), rekening=media)
    # The same amounts 45 days apart: outside the window.
    scene.pay("SPP-R1", "PT Jarang", 150_000_000, datetime(2026, 4, 6, 9), rekening=media)
    scene.pay("SPP-R2", "PT Jarang", 150_000_000, datetime(2026, 5, 21, 9), rekening=media)
    # The same vendor on two lines: two purchases, each on its own line under the limit.
    scene.pay("SPP-L1", "PT Dua Baris", 120_000_000, datetime(2026, 4, 6, 9), rekening=media)
    scene.pay("SPP-L2", "PT Dua Baris", 100_000_000, datetime(2026, 4, 8, 9), rekening=GOODS)
    # A tendered contract above the limit and a small purchase next to it: no piece of a split.
    scene.pay("SPP-T1", "PT Tender", 450_000_000, datetime(2026, 4, 6, 9), rekening=media)
    scene.pay("SPP-T2", "PT Tender", 50_000_000, datetime(2026, 4, 9, 9), rekening=media)
    found = scene.detect(RULE)
    assert of(found, RULE) == [{a, b}]
    assert found.flags[0].severity == "medium" and found.flags[0].amount == 215_000_000


def test_consulting_takes_the_consulting_limit(scene: Scene) -> None:
    a = scene.pay("SPP-K1", "CV Konsultan", 60_000_000, datetime(2026, 5, 4, 9),
                  rekening=CONSULTING)  # fmt: skip
    b = scene.pay("SPP-K2", "CV Konsultan", 55_000_000, datetime(2026, 5, 18, 9),
                  rekening=CONSULTING)  # fmt: skip
    # The same amounts on a goods line stay under the goods limit.
    scene.pay("SPP-B1", "CV Barang", 60_000_000, datetime(2026, 5, 4, 9), rekening=GOODS)
    scene.pay("SPP-B2", "CV Barang", 55_000_000, datetime(2026, 5, 18, 9), rekening=GOODS)
    found = scene.detect(RULE)
    assert of(found, RULE) == [{a, b}]
    assert "Rp 100.000.000" in found.flags[0].explanation_id


def test_a_rejected_or_cancelled_spp_buys_nothing(scene: Scene) -> None:
    scene.pay("SPP-X1", "CV Ditolak", 150_000_000, datetime(2026, 6, 1, 9), rekening=GOODS)
    scene.pay("SPP-X2", "CV Ditolak", 100_000_000, datetime(2026, 6, 3, 9), rekening=GOODS,
              until="requested")  # fmt: skip
    scene.run(f.reject("SPP-X2", f.PPK), datetime(2026, 6, 3, 11))
    assert of(scene.detect(RULE), RULE) == []


def test_overlapping_windows_of_one_split_are_one_flag(scene: Scene) -> None:
    start = datetime(2026, 7, 1, 9)
    spp = [
        scene.pay(f"SPP-C{i}", "PT Berantai", 60_000_000, start + timedelta(days=10 * i),
                  rekening=GOODS)
        for i in range(6)
    ]  # fmt: skip
    found = scene.detect(RULE)
    assert of(found, RULE) == [set(spp)]
    assert found.flags[0].amount == 360_000_000 and found.flags[0].severity == "high"


def test_the_window_is_configurable(scene: Scene, tmp_path: Path) -> None:
    scene.pay("SPP-W1", "PT Jarang", 150_000_000, datetime(2026, 4, 6, 9), rekening=GOODS)
    scene.pay("SPP-W2", "PT Jarang", 150_000_000, datetime(2026, 5, 21, 9), rekening=GOODS)
    assert of(scene.detect(RULE), RULE) == []
    wide = tmp_path / "wide.toml"
    wide.write_text("[split_purchase]\nwindow_days = 60\n")
    assert len(of(scene.detect(RULE, path=wide), RULE)) == 1


def test_the_termin_of_one_tendered_contract_are_not_a_split(scene: Scene) -> None:
    # A contract of Rp 450 juta, tendered, paid in three termin each under the limit: one purchase
    # above the limit, not pieces of a split. Next to it, two contracts of one vendor that are.
    for n, (gross, day) in enumerate(((150_000_000, 2), (150_000_000, 12), (150_000_000, 22))):
        scene.pay(f"SPP-T{n}", "CV Jujur", gross, datetime(2026, 4, day, 9), rekening=GOODS,
                  contract="KONTRAK/TENDER/01/2026")  # fmt: skip
    split = [
        scene.pay("SPP-S1", "CV Pecah", 120_000_000, datetime(2026, 4, 3, 9), rekening=GOODS),
        scene.pay("SPP-S2", "CV Pecah", 110_000_000, datetime(2026, 4, 9, 9), rekening=GOODS),
    ]
    assert of(scene.detect(RULE), RULE) == [set(split)]
