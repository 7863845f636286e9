"""``year_end_spike``: an SKPD realising four median months in December (two SP2D on 29-30
December) is flagged with December's payments; a merely back-loaded SKPD is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from audit import thresholds
from audit.engine import detect
from ledger import commands as c
from ledger.redflags import FLAG_FIELDS
from ledger.roles import Actor
from testkit.world import GOODS
from tests import factory as f
from tests.redflag_scene import Scene, of, officials, pay_many

CODE = "year_end_spike"
SPIKY = f.line_spec(GOODS, 10_000_000_000, uraian="Belanja Alat Tulis Kantor")
STEADY = f.line_spec(GOODS, 10_000_000_000, skpd=f.OTHER_SKPD, uraian="Belanja Alat Tulis Kantor")
DINKES = officials(f.OTHER_SKPD, "dinkes")


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path, None, SPIKY, STEADY)
    scene.vendor("CV Akhir Tahun", when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def monthly(
    scene: Scene, prefix: str, gross: int, line: c.LineSpec, users: dict[str, Actor] | None = None
) -> None:
    """One SP2D of ``gross`` on the 10th of each month, January to November."""
    for month in range(1, 12):
        pay_many(scene, [(f"{prefix}-{month}", "CV Akhir Tahun", gross)],
                 datetime(2026, month, 10, 9), line=line, users=users)  # fmt: skip


def test_a_december_four_times_the_median_month_is_flagged_with_decembers_payments(
    scene: Scene,
) -> None:
    monthly(scene, "RUT", 100_000_000, SPIKY)
    december = [
        # Requested on 30 November at 20:00 WIB, its SP2D at 02:00 on 1 December, local time
        # (30 November in UTC): December's, by the pemda's calendar.
        *pay_many(scene, [("DES-1", "CV Akhir Tahun", 100_000_000)],
                  datetime(2026, 11, 30, 20), line=SPIKY, step=timedelta(hours=2)),
        *pay_many(scene, [("DES-2", "CV Akhir Tahun", 100_000_000)],
                  datetime(2026, 12, 10, 9), line=SPIKY),
        *pay_many(scene, [("DES-3", "CV Akhir Tahun", 120_000_000)],
                  datetime(2026, 12, 29, 9), line=SPIKY),
        *pay_many(scene, [("DES-4", "CV Akhir Tahun", 80_000_000)],
                  datetime(2026, 12, 30, 9), line=SPIKY),
    ]  # fmt: skip
    # An SP2D of Rp 500 juta issued on 31 December and cancelled: it realises nothing.
    [cancelled] = pay_many(scene, [("DES-BATAL", "CV Akhir Tahun", 500_000_000)],
                           datetime(2026, 12, 31, 8), line=SPIKY)  # fmt: skip
    scene.run(f.cancel("DES-BATAL"), datetime(2026, 12, 31, 16))
    # Look-alike: Dinas Kesehatan spends steadily and doubles up in December (2.5 months).
    monthly(scene, "KES", 100_000_000, STEADY, users=DINKES)
    pay_many(scene, [("KES-12a", "CV Akhir Tahun", 150_000_000),
                     ("KES-12b", "CV Akhir Tahun", 100_000_000)],
             datetime(2026, 12, 29, 9), line=STEADY, users=DINKES)  # fmt: skip
    found = scene.detect(CODE)
    assert of(found, CODE) == [set(december)]
    [flag] = found.flags
    assert (flag.subject_kind, flag.subject_id, flag.severity) == ("skpd", f.SKPD, "medium")
    # 400 juta in December against a median month of 100 juta: 300 juta beyond the pattern.
    assert flag.amount == 300_000_000 and cancelled not in flag.disbursement_ids
    assert {e.aggregate_id for e in flag.evidence} == set(december) and len(flag.evidence) == 4
    assert (flag.period_start, flag.period_end) == (date(2026, 12, 1), date(2026, 12, 30))
    assert "4,0 kali" in flag.explanation_id and "26,7%" in flag.explanation_id
    assert "2 SP2D senilai Rp 200.000.000 bertanggal 28-31 Desember" in flag.explanation_id
    assert "4.0 times" in flag.explanation_en and "Rp 1.500.000.000" in flag.explanation_en
    assert tuple(flag.as_dict()) == FLAG_FIELDS


def test_without_december_or_under_the_year_floor_nothing_is_flagged(scene: Scene) -> None:
    # Rp 50 juta a month and Rp 400 juta in December: a spike, but Rp 950 juta in the year.
    monthly(scene, "KECIL", 50_000_000, SPIKY)
    pay_many(scene, [("KECIL-12", "CV Akhir Tahun", 400_000_000)],
             datetime(2026, 12, 14, 9), line=SPIKY)  # fmt: skip
    assert of(scene.detect(CODE), CODE) == []
    # The same SKPD with a bigger year, read as of 30 November: no December yet, no flag.
    monthly(scene, "BESAR", 100_000_000, STEADY, users=DINKES)
    pay_many(scene, [("BESAR-12", "CV Akhir Tahun", 900_000_000)],
             datetime(2026, 12, 14, 9), line=STEADY, users=DINKES)  # fmt: skip
    assert [flag.subject_id for flag in scene.detect(CODE).flags] == [f.OTHER_SKPD]
    assert detect(scene.frames(date(2026, 11, 30)), thresholds.defaults(), [CODE]).flags == []
