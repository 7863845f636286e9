"""``vendor_concentration``: a media company taking most of an SKPD's advertising is flagged with
its payments and the HHI; a spread market, a small total and one large contract are not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger.redflags import FLAG_FIELDS
from tests import factory as f
from tests.redflag_scene import Scene, of, officials, pay_many, vendor_uuid

OTHER_MEDIA = f.line_spec(skpd=f.OTHER_SKPD)  # Dinas Kesehatan's advertising line
CODE = "vendor_concentration"


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path, None, f.MEDIA_LINE, f.GOODS_LINE, OTHER_MEDIA)
    for name in ("PT Media Favorit", "CV Warta", "PT Kabar", "PT Siaran"):
        scene.vendor(name, kind="media", when=datetime(2026, 1, 5, 9))
    for name in ("CV Alat Kantor", "CV Kertas", "CV Tinta"):
        scene.vendor(name, when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def test_a_media_company_with_most_of_an_skpds_advertising_is_flagged_with_the_hhi(
    scene: Scene,
) -> None:
    favourite = pay_many(
        scene, [(f"IKL-{i}", "PT Media Favorit", 40_000_000) for i in range(4)],
        datetime(2026, 3, 2, 9), line=f.MEDIA_LINE,
    )  # fmt: skip
    pay_many(
        scene, [("IKL-W", "CV Warta", 10_000_000), ("IKL-K", "PT Kabar", 10_000_000)],
        datetime(2026, 4, 6, 9), line=f.MEDIA_LINE,
    )  # fmt: skip
    # Look-alike: Dinas Kesehatan spreads its advertising over three media (the same market).
    pay_many(
        scene,
        [(f"KES-{i}-{v}", v, 15_000_000) for i in range(3)
         for v in ("PT Media Favorit", "CV Warta", "PT Siaran")],
        datetime(2026, 3, 9, 9), line=OTHER_MEDIA, users=officials(f.OTHER_SKPD, "dinkes"),
    )  # fmt: skip
    # Look-alike: all of the SKPD's stationery from one shop, but Rp 60 juta in the year.
    pay_many(
        scene, [(f"ATK-{i}", "CV Alat Kantor", 15_000_000) for i in range(4)],
        datetime(2026, 5, 4, 9), line=f.GOODS_LINE,
    )  # fmt: skip
    found = scene.detect(CODE)
    assert of(found, CODE) == [set(favourite)]
    [flag] = found.flags
    vendor = str(vendor_uuid(scene.vendors["PT Media Favorit"]))
    assert (flag.subject_kind, flag.subject_id, flag.vendor_ids) == ("vendor", vendor, (vendor,))
    assert flag.severity == "medium" and flag.amount == 160_000_000
    assert {e.aggregate_id for e in flag.evidence} == set(favourite) and len(flag.evidence) == 4
    # 160 of 180 juta: 88.9%; HHI = 88.89^2 + 2 * 5.56^2 = 7,963.
    assert "88,9%" in flag.explanation_id and "7.963" in flag.explanation_id
    assert "perusahaan media" in flag.explanation_id and f.SKPD in flag.explanation_id
    assert "7,963" in flag.explanation_en and "Rp 180.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_one_large_contract_is_left_alone_unless_the_pemda_counts_single_payments(
    scene: Scene, tmp_path: Path
) -> None:
    contract = pay_many(
        scene, [("ATK-BESAR", "CV Alat Kantor", 150_000_000)], datetime(2026, 6, 1, 9),
        line=f.GOODS_LINE,
    )  # fmt: skip
    pay_many(
        scene, [("ATK-K", "CV Kertas", 10_000_000), ("ATK-T", "CV Tinta", 10_000_000)],
        datetime(2026, 6, 8, 9), line=f.GOODS_LINE,
    )  # fmt: skip
    # A fourth payment to the contractor, cancelled: an SP2D withdrawn realises nothing.
    [cancelled] = pay_many(
        scene, [("ATK-BATAL", "CV Alat Kantor", 40_000_000)], datetime(2026, 6, 15, 9),
        line=f.GOODS_LINE,
    )  # fmt: skip
    scene.run(f.cancel("ATK-BATAL"), datetime(2026, 6, 16, 9))
    assert of(scene.detect(CODE), CODE) == []
    limits = tmp_path / "limits.toml"
    limits.write_text("[vendor_concentration]\nmin_payments = 1\n")
    found = scene.detect(CODE, path=limits)
    assert of(found, CODE) == [set(contract)]
    [flag] = found.flags
    assert flag.amount == 150_000_000 and cancelled not in flag.disbursement_ids
    assert "88,2%" in flag.explanation_id and "Satu penyedia" in flag.explanation_id
