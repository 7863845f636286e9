"""Red flags are history: a run and every flag it raised are events, a re-run records nothing new,
only an inspector reviews a flag, and an open flag warns where its payment is decided."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest

from audit import service, thresholds
from ledger import commands as c
from ledger.errors import InvalidInput, InvalidTransition, NotFound, RoleNotPermitted
from ledger.roles import Actor, Role
from projections import queries as q
from projections.db import ReadDatabase
from projections.runner import Projector
from tests import factory as f
from tests.redflag_scene import SECRET, Scene

AUDITOR = f.actor("inspektur.satu", Role.AUDITOR)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    scene.vendor("CV Ganda", when=datetime(2026, 1, 5, 9))
    scene.pay("SPP-1", "CV Ganda", 30_000_000, datetime(2026, 2, 2, 9), invoice="F-9")
    scene.pay("SPP-2", "CV Ganda", 30_000_000, datetime(2026, 3, 2, 9), invoice="F-9")
    yield scene
    scene.close()


def _record(scene: Scene, auditor: Actor = AUDITOR) -> service.RunOutcome:
    Projector(scene.ledger).catch_up()
    db = ReadDatabase(scene.ledger)
    try:
        return service.record(
            scene.ledger, db, auditor, f.PEMDA, thresholds.defaults(), SECRET,
            rules=["duplicate_payment"],
        )  # fmt: skip
    finally:
        db.close()


def _read(scene: Scene) -> ReadDatabase:
    Projector(scene.ledger).catch_up()
    return ReadDatabase(scene.ledger)


def _events(scene: Scene) -> int:
    return scene.ledger.recorder.max_notification_id() or 0


def test_a_run_records_its_flags_and_the_same_run_again_records_nothing(scene: Scene) -> None:
    first = _record(scene)
    assert first.raised == 1 and not first.replayed
    head = _events(scene)
    again = _record(scene)
    assert again.replayed and again.run_id == first.run_id and _events(scene) == head
    other = _record(scene, f.actor("inspektur.dua", Role.AUDITOR))  # the same run, another person
    assert other.replayed and other.run_id == first.run_id and _events(scene) == head
    db = _read(scene)
    [flag] = q.red_flags(db, f.PEMDA).rows
    assert flag["rule"] == "duplicate_payment" and flag["status"] == "open"
    assert flag["raised_by_run"] == first.run_id
    assert q.red_flag_runs(db, f.PEMDA).total == 1
    # A later position is a new run that finds the same flag: listed, not raised again.
    scene.at(datetime(2026, 3, 5, 9)).vendor("PT Lain")
    later = _record(scene)
    assert later.run_id != first.run_id and later.raised == 0
    db = _read(scene)
    [flag] = q.red_flags(db, f.PEMDA).rows
    assert flag["last_run"] == later.run_id and q.red_flag_runs(db, f.PEMDA).total == 2


def test_only_an_inspector_reviews_and_a_closed_flag_stays_closed(scene: Scene) -> None:
    outcome = _record(scene)
    [flag] = outcome.flags
    flag_id = UUID(flag.id)

    def review(decision: str, reason: str = "dokumen diperiksa", actor: object = AUDITOR) -> None:
        scene.ledger.execute(
            c.ReviewRedFlag(
                idempotency_key=f.key("review"), actor=actor, pemda=f.PEMDA,  # type: ignore[arg-type]
                flag_id=flag_id, decision=decision, reason=reason,
            )
        )  # fmt: skip

    with pytest.raises(RoleNotPermitted):
        review("dismissed", actor=f.BUD)
    with pytest.raises(InvalidInput):
        review("dismissed", reason="  ")
    with pytest.raises(InvalidInput):
        review("forgotten")
    review("escalated", "diteruskan ke APIP")
    review("confirmed", "faktur F-9 memang dibayar dua kali")
    with pytest.raises(InvalidTransition):
        review("dismissed")
    with pytest.raises(NotFound):
        scene.ledger.execute(
            c.ReviewRedFlag(
                idempotency_key=f.key("review"), actor=AUDITOR, pemda=f.PEMDA,
                flag_id=UUID(int=7), decision="confirmed", reason="x",
            )
        )  # fmt: skip
    db = _read(scene)
    detail = q.red_flag(db, f.PEMDA, flag.id)
    assert detail is not None and detail["status"] == "confirmed"
    assert [r["decision"] for r in detail["reviews"]] == ["escalated", "confirmed"]
    assert detail["reviews"][1]["reason"] == "faktur F-9 memang dibayar dua kali"


def test_an_open_flag_warns_on_its_payment_and_vendor_until_dismissed(scene: Scene) -> None:
    [flag] = _record(scene).flags
    db = _read(scene)
    first, vendor = flag.disbursement_ids[0], flag.vendor_ids[0]
    assert [w["id"] for w in q.open_flags(db, f.PEMDA, disbursement_id=first)] == [flag.id]
    other = scene.pay("SPP-3", "CV Ganda", 1_000_000, datetime(2026, 4, 1, 9), until="approved")
    db = _read(scene)
    assert q.open_flags(db, f.PEMDA, disbursement_id=other) == []
    warned = q.open_flags(db, f.PEMDA, disbursement_id=other, vendor_id=vendor)
    assert [w["id"] for w in warned] == [flag.id]
    scene.ledger.execute(
        c.ReviewRedFlag(
            idempotency_key=f.key("review"), actor=AUDITOR, pemda=f.PEMDA,
            flag_id=UUID(flag.id), decision="dismissed", reason="dua faktur berbeda, salah ketik",
        )
    )  # fmt: skip
    db = _read(scene)
    assert q.open_flags(db, f.PEMDA, disbursement_id=first, vendor_id=vendor) == []


def test_a_malformed_flag_is_refused_and_records_nothing(scene: Scene) -> None:
    outcome = _record(scene)
    body = outcome.flags[0].as_dict()
    head = _events(scene)
    for broken in (
        body | {"amount": -1},
        body | {"evidence": []},
        body | {"severity": "urgent"},
        {k: v for k, v in body.items() if k != "explanation"},
        body | {"period": {"from": "2026-05-01", "to": "2026-01-01"}},
    ):
        with pytest.raises(InvalidInput):
            scene.ledger.execute(
                c.RecordRedFlagRun(
                    idempotency_key=f.key("run"), actor=AUDITOR, pemda=f.PEMDA, position=1,
                    as_of=None, thresholds={}, thresholds_digest="0" * 64,
                    rules=("duplicate_payment",), flags=(broken,),
                )
            )  # fmt: skip
    assert _events(scene) == head
    with pytest.raises(RoleNotPermitted):
        command = c.RecordRedFlagRun(
            idempotency_key=f.key("run"), actor=f.PPK, pemda=f.PEMDA, position=1, as_of=None,
            thresholds={}, thresholds_digest="0" * 64, rules=("duplicate_payment",), flags=(),
        )  # fmt: skip
        scene.ledger.execute(replace(command))
