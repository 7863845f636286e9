"""``below_threshold``: an SKPD whose SPP heap just under the limit is flagged with those SPP; an
SKPD whose amounts spread smoothly up to the limit is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from ledger.roles import Actor, Role
from testkit.world import GOODS
from tests import factory as f
from tests.redflag_scene import Scene, of

RULE = "below_threshold"
CATERING = "5.1.02.01.01.0052"  # a goods line of the other SKPD (the scene keys lines by rekening)
CONSULTING = "5.1.02.02.12.0001"
OTHERS: dict[str, Actor] = {
    "request": f.actor("pptk-dinkes", Role.PPTK, f.OTHER_SKPD),
    "verify": f.actor("ppk-dinkes", Role.PPK, f.OTHER_SKPD),
    "approve": f.actor("pa-dinkes", Role.PA_KPA, f.OTHER_SKPD),
}


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(
        tmp_path,
        None,
        f.line_spec(GOODS, 20_000_000_000, uraian="Belanja Alat Tulis Kantor"),
        f.line_spec(CONSULTING, 5_000_000_000, uraian="Belanja Jasa Konsultansi"),
        f.line_spec(CATERING, 20_000_000_000, skpd=f.OTHER_SKPD, uraian="Belanja Makan Minum"),
    )
    for i in range(12):
        scene.vendor(f"CV {i}", when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def _spp(scene: Scene, prefix: str, amounts: list[int], rekening: str, **kw: object) -> list[str]:
    start = datetime(2026, 3, 2, 9)
    return [
        scene.pay(f"{prefix}-{i}", f"CV {i % 12}", gross, start + timedelta(days=3 * i),
                  rekening=rekening, until="requested", **kw)  # type: ignore[arg-type]
        for i, gross in enumerate(amounts)
    ]  # fmt: skip


def test_spp_heaped_under_the_limit_flag_their_skpd_and_a_smooth_skpd_is_left_alone(
    scene: Scene,
) -> None:
    heaped = _spp(scene, "SPP-H", [195_000_000, 198_000_000, 199_500_000, 192_000_000],
                  GOODS)  # fmt: skip
    # Not in the band: one in the band below, one at the limit itself, smaller ones.
    _spp(scene, "SPP-N", [185_000_000, 200_000_000, 120_000_000, 60_000_000], GOODS)
    # The other SKPD: as many SPP in the band as in the band below, and some everywhere else.
    _spp(scene, "SPP-S", [
        193_000_000, 196_000_000, 199_000_000, 181_000_000, 187_000_000, 150_000_000, 90_000_000,
    ], CATERING, users=OTHERS)  # fmt: skip
    found = scene.detect(RULE)
    assert of(found, RULE) == [set(heaped)]
    [flag] = found.flags
    assert flag.subject_kind == "skpd" and flag.subject_id == f.SKPD
    assert flag.severity == "low" and flag.amount == 784_500_000
    assert {e.aggregate_id for e in flag.evidence} == set(heaped)
    assert len(flag.vendor_ids) == 4
    assert "4 dari 8 SPP" in flag.explanation_id and "bukan tuduhan" in flag.explanation_id
    assert "against 1 in the 90-95% band" in flag.explanation_en
    assert "Rp 784.500.000" in flag.explanation_en and "Rp 200.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_a_heap_of_six_with_none_below_is_medium_and_consulting_heaps_under_its_own_limit(
    scene: Scene,
) -> None:
    goods = _spp(scene, "SPP-G", [191_000_000, 194_000_000, 197_000_000], CATERING,
                 users=OTHERS)  # fmt: skip
    # Under the goods limit these are small; under the consulting limit they are in its band.
    consulting = _spp(scene, "SPP-K", [96_000_000, 97_500_000, 99_900_000], CONSULTING)
    found = scene.detect(RULE)
    assert {frozenset(ids) for ids in of(found, RULE)} == {frozenset(consulting), frozenset(goods)}
    assert {flag.severity for flag in found.flags} == {"low"}
    more = _spp(scene, "SPP-M", [190_000_000, 199_000_000, 198_000_000], CATERING, users=OTHERS)
    found = scene.detect(RULE)
    [other] = [flag for flag in found.flags if flag.subject_id == f.OTHER_SKPD]
    assert set(other.disbursement_ids) == {*goods, *more} and other.severity == "medium"


def test_rejected_spp_are_not_counted(scene: Scene) -> None:
    _spp(scene, "SPP-R", [195_000_000, 198_000_000, 199_000_000], GOODS)
    scene.run(f.reject("SPP-R-2", f.PPK), datetime(2026, 4, 1, 9))
    assert of(scene.detect(RULE), RULE) == []
