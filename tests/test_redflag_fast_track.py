"""``fast_track``: an SPP that became an SP2D in minutes is flagged; the usual pace is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.redflag_scene import Scene, of


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    scene.vendor("CV Kilat", when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def test_an_sp2d_minutes_after_its_spp_is_flagged_and_the_usual_pace_is_not(
    scene: Scene,
) -> None:
    monday = datetime(2026, 3, 2, 9)
    # Planted: three checks in 15 minutes (high), and in 90 minutes (medium).
    rushed = scene.pay("SPP-1", "CV Kilat", 150_000_000, monday, step=timedelta(minutes=5))
    quick = scene.pay("SPP-2", "CV Kilat", 20_000_000, monday + timedelta(hours=1),
                      step=timedelta(minutes=30))  # fmt: skip
    # Look-alikes: the same day at two hours a step; exactly the limit (120 minutes, not
    # less); and a payment rushed through the SPM whose SP2D is not issued yet.
    scene.pay("SPP-3", "CV Kilat", 150_000_000, monday + timedelta(hours=2))
    scene.pay("SPP-4", "CV Kilat", 150_000_000, monday + timedelta(hours=3),
              step=timedelta(minutes=40))  # fmt: skip
    scene.pay("SPP-5", "CV Kilat", 150_000_000, monday + timedelta(hours=4),
              step=timedelta(minutes=1), until="approved")  # fmt: skip
    found = scene.detect("fast_track")
    assert of(found, "fast_track") == [{rushed}, {quick}]
    high, medium = found.flags
    assert (high.severity, medium.severity) == ("high", "medium")
    assert (high.subject_kind, high.subject_id, high.amount) == (
        "disbursement",
        rushed,
        150_000_000,
    )
    # The evidence: the SPP, the verification, the SPM and the SP2D of that payment.
    assert [(e.aggregate_id, e.version) for e in high.evidence] == [
        (rushed, v) for v in (1, 2, 3, 4)
    ]
    assert "15 menit" in high.explanation_id and "SP2D/SPP-1" in high.explanation_id
    assert "1 h 30 min" in medium.explanation_en and "Rp 20.000.000" in medium.explanation_en


def test_the_limit_comes_from_the_thresholds_file(scene: Scene, tmp_path: Path) -> None:
    usual = scene.pay("SPP-1", "CV Kilat", 5_000_000, datetime(2026, 3, 2, 8))  # 6 hours
    assert of(scene.detect("fast_track"), "fast_track") == []
    limits = tmp_path / "limits.toml"
    limits.write_text("[fast_track]\nmax_minutes = 480\n", encoding="utf-8")
    found = scene.detect("fast_track", path=limits)
    assert of(found, "fast_track") == [{usual}]
    assert found.flags[0].severity == "medium"
