"""``round_amount``: an SKPD paying round millions half the time is scored and flagged (a
statistical indicator); the expected share of round amounts, and too few payments, are not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from testkit.world import GOODS
from tests import factory as f
from tests.redflag_scene import Scene, of, officials, pay_many

CODE = "round_amount"
DPUPR = "1.03.0.00.0.00.01.0000"
ROUNDISH = f.line_spec(GOODS, 10_000_000_000, uraian="Belanja Alat Tulis Kantor")
TYPICAL = f.line_spec(GOODS, 10_000_000_000, skpd=f.OTHER_SKPD, uraian="Belanja ATK")
FEW = f.line_spec(GOODS, 10_000_000_000, skpd=DPUPR, uraian="Belanja ATK")


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path, None, ROUNDISH, TYPICAL, FEW)
    scene.vendor("CV Serba Ada", when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def amounts(prefix: str, count: int, rounds: int) -> list[tuple[str, str, int]]:
    """``count`` SPP of which the first ``rounds`` are whole millions, the rest odd rupiah."""
    return [
        (f"{prefix}-{i}", "CV Serba Ada",
         5_000_000 + i * 1_000_000 if i < rounds else 5_123_457 + i * 7_919)
        for i in range(count)
    ]  # fmt: skip


def test_half_the_payments_in_round_millions_is_scored_and_flagged_low(
    scene: Scene, tmp_path: Path
) -> None:
    planted = amounts("BLT", 40, 20)
    ids = pay_many(scene, planted, datetime(2026, 3, 2, 9), line=ROUNDISH)
    # Look-alikes: the expected share (8 of 40 round), and ten payments all round.
    pay_many(scene, amounts("KES", 40, 8), datetime(2026, 3, 2, 9), line=TYPICAL,
             users=officials(f.OTHER_SKPD, "dinkes"))  # fmt: skip
    pay_many(scene, amounts("PU", 10, 10), datetime(2026, 3, 2, 9), line=FEW,
             users=officials(DPUPR, "pupr"))  # fmt: skip
    found = scene.detect(CODE)
    round_ids = set(ids[:20])
    assert of(found, CODE) == [round_ids]
    [flag] = found.flags
    assert (flag.subject_kind, flag.subject_id, flag.severity) == ("skpd", f.SKPD, "low")
    assert flag.amount == sum(gross for _, _, gross in planted[:20])
    assert {e.aggregate_id for e in flag.evidence} == round_ids
    # 20 of 40 against 20% expected: z = (20 - 8) / sqrt(40 * 0.2 * 0.8) = 4.7.
    assert "Indikator statistik, bukan tuduhan" in flag.explanation_id
    assert "20 dari 40" in flag.explanation_id and "50,0%" in flag.explanation_id
    assert "skor z binomial 4,7" in flag.explanation_id
    assert "not an accusation" in flag.explanation_en and "z-score 4.7" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS
    limits = tmp_path / "limits.toml"
    limits.write_text("[round_amount]\nmedium_share_percent = 50.0\n")
    assert [flag.severity for flag in scene.detect(CODE, path=limits).flags] == ["medium"]
