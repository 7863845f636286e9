"""``account_mismatch``: an SP2D whose transfer went to another account than its beneficiary's,
as a recorded reconciliation run found it, is flagged with the run and the payment's SP2D and
transfer; an SP2D paid to its account, or debited with another amount, is not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.redflag_reconcile import debit, reconcile, resolve
from tests.redflag_scene import Scene, of

DAY = date(2026, 4, 7)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    scene.vendor("PT Benar", when=datetime(2026, 1, 5, 9), number="1111111111")
    scene.vendor("PT Dialihkan", when=datetime(2026, 1, 5, 9), number="2222222222")
    yield scene
    scene.close()


def test_an_sp2d_paid_to_another_account_is_flagged_and_honest_transfers_are_not(
    scene: Scene, tmp_path: Path
) -> None:
    paid = scene.pay("SPP-1", "PT Benar", 10_000_000, datetime(2026, 4, 7, 8))
    moved = scene.pay("SPP-2", "PT Dialihkan", 45_000_000, datetime(2026, 4, 7, 8))
    short = scene.pay("SPP-3", "PT Benar", 8_000_000, datetime(2026, 4, 7, 8))
    run = reconcile(
        scene, tmp_path / "in", DAY,
        debit(DAY, "SP2D/SPP-1 PT BENAR", 10_000_000, "1111111111"),  # look-alike: right account
        debit(DAY, "SP2D/SPP-2 PT DIALIHKAN", 45_000_000, "9988776655", "008"),  # planted: line 3
        debit(DAY, "SP2D/SPP-3 PT BENAR", 7_900_000, "1111111111"),  # look-alike: another amount
    )  # fmt: skip
    found = scene.detect("account_mismatch")
    assert of(found, "account_mismatch") == [{moved}]
    assert (
        paid not in found.flags[0].disbursement_ids and short not in found.flags[0].disbursement_ids
    )
    [flag] = found.flags
    assert (flag.severity, flag.subject_kind, flag.subject_id) == ("high", "disbursement", moved)
    assert flag.amount == 45_000_000 and flag.period_start == flag.period_end == DAY
    # The evidence: the SP2D (version 4) and the transfer (5) of the payment, and the run.
    assert [(e.aggregate_id, e.version) for e in flag.evidence] == [
        (moved, 4),
        (moved, 5),
        (run, 1),
    ]
    assert "SP2D/SPP-2" in flag.explanation_id and "rkud-2026-04-07.csv:3" in flag.explanation_id
    assert "Rp 45.000.000 was transferred to another account" in flag.explanation_en

    resolve(scene, run, "rkud-2026-04-07.csv:3", "bank salah kredit, dana ditarik kembali",
            "recovered")  # fmt: skip
    resolve(scene, run, f"ledger:{moved}", "dibayar ulang ke rekening yang benar", "corrected")
    [flag] = scene.detect("account_mismatch").flags
    assert flag.severity == "low" and "resolved by BPKAD" in flag.explanation_en
