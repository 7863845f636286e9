"""The engine: history as of a day, stable flag ids, unknown rules refused, and the frames' own
position (the last event they hold, not the read models', which a recorded run moves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from uuid import UUID

import pytest

from audit import thresholds
from audit.engine import detect, rules_named
from audit.rules import RULES
from ledger.errors import InvalidInput
from tests.redflag_scene import Scene, of


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    scene.vendor("CV Dua Kali", when=datetime(2026, 1, 5, 9))
    scene.pay("SPP-1", "CV Dua Kali", 20_000_000, datetime(2026, 2, 2, 9), invoice="X-1")
    scene.pay("SPP-2", "CV Dua Kali", 20_000_000, datetime(2026, 6, 1, 9), invoice="X-1")
    yield scene
    scene.close()


def test_as_of_a_day_the_rules_see_only_what_had_happened_by_its_end(scene: Scene) -> None:
    limits = thresholds.defaults()
    before = detect(scene.frames(as_of=date(2026, 5, 31)), limits, ["duplicate_payment"])
    assert of(before, "duplicate_payment") == []
    after = detect(scene.frames(as_of=date(2026, 6, 1)), limits, ["duplicate_payment"])
    assert len(of(after, "duplicate_payment")) == 1
    assert scene.frames(as_of=date(2026, 5, 31)).position < scene.frames().position


def test_the_same_history_gives_the_same_flags_with_the_same_ids(scene: Scene) -> None:
    first = scene.detect("duplicate_payment").flags
    again = scene.detect("duplicate_payment").flags
    assert [f.as_dict() for f in first] == [f.as_dict() for f in again]


def test_an_unknown_rule_is_refused_with_the_rules_there_are() -> None:
    with pytest.raises(InvalidInput, match="duplicate_payment"):
        rules_named(["pecah_paket"])
    assert [r.code for r in rules_named(None)] == list(RULES)


def test_a_finding_named_by_its_key_keeps_its_id_as_its_payments_grow() -> None:
    from audit.flags import Evidence, Flag, Severity, SubjectKind

    def flag(payments: tuple[str, ...], key: str) -> Flag:
        return Flag(
            rule="year_end_spike", severity=Severity.HIGH, subject_kind=SubjectKind.SKPD,
            subject_id="1.01.0.00.0.00.01.0000", amount=1, period_start=date(2026, 12, 1),
            period_end=date(2026, 12, 31), disbursement_ids=payments, vendor_ids=(),
            evidence=(Evidence(str(UUID(int=1)), 1, 1),), explanation_id="x", explanation_en="x",
            key=key,
        )  # fmt: skip

    one, two = (str(UUID(int=2)),), (str(UUID(int=2)), str(UUID(int=3)))
    assert flag(one, "2026").id == flag(two, "2026").id != flag(one, "2027").id
    assert flag(one, "").id != flag(two, "").id  # named by its payments: another set, another flag
