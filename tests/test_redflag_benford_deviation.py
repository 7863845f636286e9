"""``benford_deviation``: 320 amounts crowded between Rp 5 and 10 juta are scored against
Benford's law and flagged (a statistical indicator); 320 amounts that follow it, and 120 that
do not but are too few to say, are not."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from testkit.world import GOODS
from tests import factory as f
from tests.redflag_scene import Scene, of, officials, pay_many

CODE = "benford_deviation"
DPUPR = "1.03.0.00.0.00.01.0000"
CROWDED = f.line_spec(GOODS, 10_000_000_000, uraian="Belanja Alat Tulis Kantor")
NATURAL = f.line_spec(GOODS, 10_000_000_000, skpd=f.OTHER_SKPD, uraian="Belanja ATK")
FEW = f.line_spec(GOODS, 10_000_000_000, skpd=DPUPR, uraian="Belanja ATK")


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path, None, CROWDED, NATURAL, FEW)
    scene.vendor("CV Angka", when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def crowded(prefix: str, count: int) -> list[tuple[str, str, int]]:
    """Amounts from Rp 5 juta up to under Rp 10 juta: first digits 5 to 9 only."""
    return [(f"{prefix}-{i}", "CV Angka", 5_001_234 + i * 15_000) for i in range(count)]


def natural(prefix: str, count: int) -> list[tuple[str, str, int]]:
    """Amounts spread evenly on a log scale over Rp 100 ribu to 100 juta: Benford's digits."""
    return [
        (f"{prefix}-{i}", "CV Angka", int(10 ** (5 + 3 * (i + 0.5) / count))) for i in range(count)
    ]


def test_amounts_crowded_under_ten_million_stray_from_benford_and_are_flagged(
    scene: Scene,
) -> None:
    planted = crowded("SPP", 320)
    ids = pay_many(scene, planted, datetime(2026, 4, 6, 9), line=CROWDED)
    pay_many(scene, natural("KES", 320), datetime(2026, 4, 6, 9), line=NATURAL,
             users=officials(f.OTHER_SKPD, "dinkes"))  # fmt: skip
    pay_many(scene, crowded("PU", 120), datetime(2026, 4, 6, 9), line=FEW,
             users=officials(DPUPR, "pupr"))  # fmt: skip
    found = scene.detect(CODE)
    # The digit most in excess of Benford's share, and the payments that start with it.
    count = {d: sum(str(g)[0] == str(d) for _, _, g in planted) for d in range(1, 10)}
    digit = max(range(1, 10), key=lambda d: count[d] / 320 - math.log10(1 + 1 / d))
    named = {i for i, (_, _, g) in zip(ids, planted, strict=True) if str(g)[0] == str(digit)}
    assert of(found, CODE) == [named]
    [flag] = found.flags
    assert (flag.subject_kind, flag.subject_id, flag.severity) == ("skpd", f.SKPD, "medium")
    assert flag.amount == sum(g for _, _, g in planted if str(g)[0] == str(digit))
    assert {e.aggregate_id for e in flag.evidence} == named
    mad = sum(abs(count[d] / 320 - math.log10(1 + 1 / d)) for d in range(1, 10)) / 9
    assert f"MAD {mad:.4f}".replace(".", ",") in flag.explanation_id
    assert "Indikator statistik, bukan tuduhan" in flag.explanation_id
    assert "tidak sesuai (di atas 0,015)" in flag.explanation_id
    assert f"digit {digit} muncul" in flag.explanation_id
    assert "not an accusation" in flag.explanation_en and f"MAD {mad:.4f}" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS
