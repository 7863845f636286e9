"""``off_hours_approval``: approvals at night, on weekends and on holidays are flagged, each
payment once with its steps out of hours; office hours, an SPP typed at night and the gateway's
night-time transfers are not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from audit import holidays
from tests.redflag_scene import Scene, of


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    scene.vendor("PT Malam", when=datetime(2026, 1, 5, 9))
    yield scene
    scene.close()


def steps(verified: datetime, approved: datetime, authorised: datetime) -> dict[str, datetime]:
    return {"verified": verified, "approved": approved, "authorised": authorised}


def test_night_weekend_and_holiday_approvals_are_flagged_and_office_hours_are_not(
    scene: Scene,
) -> None:
    d = datetime
    # Planted. One SP2D signed at 21:30 on a Monday: low. Its transfer and settlement follow at
    # night, by the gateway: not approvals, not counted.
    night = scene.pay("SPP-1", "PT Malam", 10_000_000, d(2026, 3, 2, 9), moments=steps(
        d(2026, 3, 2, 10), d(2026, 3, 2, 11), d(2026, 3, 2, 21, 30)))  # fmt: skip
    # Verified and SPM at night on a Tuesday, SP2D the next morning: medium.
    two = scene.pay("SPP-2", "PT Malam", 20_000_000, d(2026, 3, 3, 9), until="authorised",
                    moments=steps(d(2026, 3, 3, 20, 30), d(2026, 3, 3, 22, 30),
                                  d(2026, 3, 4, 10)))  # fmt: skip
    # Every approval on a Saturday, in daylight: high.
    weekend = scene.pay("SPP-3", "PT Malam", 30_000_000, d(2026, 3, 6, 15), until="authorised",
                        moments=steps(d(2026, 3, 7, 9), d(2026, 3, 7, 11),
                                      d(2026, 3, 7, 13)))  # fmt: skip
    # The SP2D on Independence Day (a Monday), at 10:00: low.
    holiday = scene.pay("SPP-4", "PT Malam", 40_000_000, d(2026, 8, 14, 9), until="authorised",
                        moments=steps(d(2026, 8, 14, 10), d(2026, 8, 14, 11),
                                      d(2026, 8, 17, 10)))  # fmt: skip
    # The SP2D at 23:00 on Christmas Day: high.
    christmas = scene.pay("SPP-5", "PT Malam", 50_000_000, d(2026, 12, 23, 9),
                          until="authorised", moments=steps(d(2026, 12, 23, 10),
                          d(2026, 12, 23, 11), d(2026, 12, 25, 23)))  # fmt: skip
    # Look-alikes: an SPP typed at 22:00, verified at 06:00 and signed until 19:59 on working
    # days; and a whole payment on the day after Independence Day (a working Tuesday).
    scene.pay("SPP-6", "PT Malam", 10_000_000, d(2026, 3, 9, 22), until="authorised",
              moments=steps(d(2026, 3, 10, 6), d(2026, 3, 10, 10), d(2026, 3, 10, 19, 59)))  # fmt: skip
    scene.pay("SPP-7", "PT Malam", 10_000_000, d(2026, 8, 18, 9), until="authorised")
    found = scene.detect("off_hours_approval")
    flagged = {flag.subject_id: flag for flag in found.flags}
    assert sorted(map(frozenset, of(found, "off_hours_approval")), key=sorted) == sorted(
        (frozenset({p}) for p in (night, two, weekend, holiday, christmas)), key=sorted
    )
    assert {p: flagged[p].severity for p in flagged} == {
        night: "low", two: "medium", weekend: "high", holiday: "low", christmas: "high"
    }  # fmt: skip
    # Each flag's evidence is its payment's steps out of hours, and nothing else.
    assert [e.version for e in flagged[night].evidence] == [4]  # the SP2D
    assert [e.version for e in flagged[two].evidence] == [2, 3]
    assert [e.version for e in flagged[weekend].evidence] == [2, 3, 4]
    assert all(e.aggregate_id == holiday for e in flagged[holiday].evidence)
    assert flagged[christmas].amount == 50_000_000
    assert "Jumat 25 Des 2026 23:00" in flagged[christmas].explanation_id
    assert "malam, hari libur" in flagged[christmas].explanation_id
    assert "Sat 7 Mar 2026 09:00 by ppk.budi (weekend)" in flagged[weekend].explanation_en
    assert "21:30" in flagged[night].explanation_en


def test_a_pemdas_own_holidays_and_working_saturdays_come_from_its_file(
    scene: Scene, tmp_path: Path
) -> None:
    d = datetime
    local_day = scene.pay("SPP-1", "PT Malam", 10_000_000, d(2026, 10, 2, 9),
                          moments=steps(d(2026, 10, 2, 10), d(2026, 10, 2, 11),
                                        d(2026, 10, 5, 10)))  # fmt: skip
    saturday = scene.pay("SPP-2", "PT Malam", 10_000_000, d(2026, 10, 9, 9), until="authorised",
                         moments=steps(d(2026, 10, 10, 9), d(2026, 10, 10, 10),
                                       d(2026, 10, 10, 11)))  # fmt: skip
    assert of(scene.detect("off_hours_approval"), "off_hours_approval") == [{saturday}]
    own = tmp_path / "pemda.toml"
    own.write_text(
        '[off_hours_approval]\nextra_holidays = ["2026-10-05"]\nsaturday_is_workday = true\n',
        encoding="utf-8",
    )
    found = scene.detect("off_hours_approval", path=own)
    assert of(found, "off_hours_approval") == [{local_day}]
    assert found.flags[0].severity == "low"


def test_the_holiday_table_covers_every_year_kasda_supports() -> None:
    table = holidays.table()
    assert table["date"].is_unique().all() and table["date"].is_sorted()
    for year in (2024, 2025, 2026, 2027):
        days = {d.isoformat() for d in table["date"] if d.year == year}
        assert {f"{year}-01-01", f"{year}-05-01", f"{year}-06-01", f"{year}-08-17",
                f"{year}-12-25"} <= days  # fmt: skip
    assert table.filter(table["date"].dt.year() == 2026).height == 25  # 17 holidays, 8 cuti
