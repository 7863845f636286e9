"""``unexplained_debit``: a debit of the RKUD that a recorded reconciliation run could not match
to any SP2D is flagged, high while open and low once resolved; paid SP2D, credits and bank
charges are not. The runs are the real pipeline's (``match_day``), recorded by the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.redflag_reconcile import credit, debit, reconcile, resolve
from tests.redflag_scene import Scene

DAY = date(2026, 3, 3)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    scene.vendor("PT Jujur", when=datetime(2026, 1, 5, 9), number="1111111111")
    scene.pay("SPP-1", "PT Jujur", 10_000_000, datetime(2026, 3, 3, 8))
    yield scene
    scene.close()


def test_a_debit_with_no_sp2d_is_flagged_and_paid_sp2d_credits_and_charges_are_not(
    scene: Scene, tmp_path: Path
) -> None:
    run = reconcile(
        scene, tmp_path / "in", DAY,
        debit(DAY, "SP2D/SPP-1 PT JUJUR", 10_000_000, "1111111111"),  # look-alike: paid SP2D
        debit(DAY, "TRF 0099887766 PRIBADI", 75_000_000, "0099887766", "008"),  # planted: line 3
        credit(DAY, "SETORAN RETRIBUSI", 3_000_000, "0099887711", "008"),  # look-alike: money in
        debit(DAY, "BIAYA ADM", 15_000, "", ""),  # look-alike: a bank charge
        debit(DAY, "TRF 0055443322 KAS", 2_500_000, "0055443322", "009"),  # planted: line 6
    )  # fmt: skip
    found = scene.detect("unexplained_debit")
    assert [(f.subject_kind, f.subject_id, f.amount, f.severity) for f in found.flags] == [
        ("line", "2026-03-03/rkud-2026-03-03.csv:3", 75_000_000, "high"),
        ("line", "2026-03-03/rkud-2026-03-03.csv:6", 2_500_000, "high"),
    ]
    flag = found.flags[0]
    assert flag.disbursement_ids == () and flag.vendor_ids == ()
    assert flag.period_start == flag.period_end == DAY
    [evidence] = flag.evidence  # the run's Recorded event
    assert (evidence.aggregate_id, evidence.version) == (run, 1)
    assert "Rp 75.000.000 keluar dari RKUD pada 3 Mar 2026" in flag.explanation_id
    assert "rkud-2026-03-03.csv:3" in flag.explanation_en and "still open" in flag.explanation_en

    # BPKAD explains one: it stays, as low, with the resolution named; the other stays high.
    resolve(scene, run, "rkud-2026-03-03.csv:6", "pengembalian kas ke bendahara, nota 3/2026")
    found = scene.detect("unexplained_debit")
    assert [(f.subject_id[-1], f.severity) for f in found.flags] == [("3", "high"), ("6", "low")]
    assert "resolved by BPKAD as explained" in found.flags[1].explanation_en


def test_resolved_debits_can_be_left_out_and_a_line_in_two_runs_is_one_flag(
    scene: Scene, tmp_path: Path
) -> None:
    line = debit(DAY, "TRF 0099887766 PRIBADI", 75_000_000, "0099887766", "008")
    first = reconcile(scene, tmp_path / "in", DAY, line, window=3)
    later = reconcile(scene, tmp_path / "in", DAY, line, window=5)  # the same day, again
    assert first != later
    found = scene.detect("unexplained_debit")
    assert [f.subject_id for f in found.flags] == ["2026-03-03/rkud-2026-03-03.csv:2"]
    assert found.flags[0].evidence[0].aggregate_id == later  # as the latest run has it
    # Another day's file of the same name: its own line, its own flag.
    other = date(2026, 3, 4)
    reconcile(scene, tmp_path / "next", other, debit(other, "TRF X", 1_000_000, "0011", "008"),
              name="rkud-2026-03-03.csv")  # fmt: skip
    assert len(scene.detect("unexplained_debit").flags) == 2
    resolve(scene, later, "rkud-2026-03-03.csv:2", "salah debet bank, dikoreksi", "corrected")
    quiet = tmp_path / "quiet.toml"
    quiet.write_text("[unexplained_debit]\ninclude_resolved = false\n", encoding="utf-8")
    found = scene.detect("unexplained_debit", path=quiet)
    assert [f.subject_id for f in found.flags] == ["2026-03-04/rkud-2026-03-03.csv:2"]
