"""``repeated_pair``: a vendor whose payments all pass one PPK and one Kuasa BUD, unlike the
PPK's other work, is flagged; a vendor spread over the desks, one with too few payments, and a
desk where one pair does everything are not."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.roles import Actor, Role
from tests.redflag_scene import Scene, of, user


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    scene = Scene.open(tmp_path)
    yield scene
    scene.close()


PPK = {name: user(f"ppk.{name}", Role.PPK) for name in ("ani", "bayu", "citra", "dewi")}
BUD = {name: user(f"kuasabud.{name}", Role.KUASA_BUD) for name in ("a", "b", "c")}


class Payer:
    """Pays the scene's vendors one working morning after another."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.day = datetime(2026, 2, 2, 8)
        self.count = 0

    def pay(self, vendor: str, ppk: Actor, bud: Actor, gross: int = 10_000_000) -> str:
        self.count += 1
        self.day += timedelta(days=1)
        return self.scene.pay(f"SPP-{self.count}", vendor, gross, self.day,
                              users={"verify": ppk, "authorise": bud})  # fmt: skip


def test_a_vendor_steered_to_one_pair_is_flagged_and_look_alikes_are_not(scene: Scene) -> None:
    vendors = ("PT Langganan", "PT Biasa", "PT Kecil", "PT Hampir", "PT Lain", "PT X", "PT Y",
               "PT Sendiri")  # fmt: skip
    for name in vendors:
        scene.vendor(name, when=datetime(2026, 1, 5, 9))
    payer = Payer(scene)
    # Planted: five of five SP2D through ppk.ani and kuasabud.a (high), while ppk.ani's other
    # vendors go to kuasabud.b and .c (and four, 40%, to kuasabud.a: under the usual 50%).
    steered = {payer.pay("PT Langganan", PPK["ani"], BUD["a"], 30_000_000) for _ in range(5)}
    for k in range(6):  # look-alike: spread evenly over two signers
        payer.pay("PT Biasa", PPK["ani"], BUD["b" if k % 2 else "c"])
    for _ in range(4):  # look-alike: one pair, but only four payments
        payer.pay("PT Kecil", PPK["ani"], BUD["a"])
    # Planted: five of six (83%) through ppk.bayu and kuasabud.a (medium).
    mostly = [payer.pay("PT Hampir", PPK["bayu"], BUD["a"]) for _ in range(5)]
    payer.pay("PT Hampir", PPK["bayu"], BUD["b"])
    for k in range(6):
        payer.pay("PT Lain", PPK["bayu"], BUD["b" if k % 2 else "c"])
    # Look-alike: ppk.citra's desk always goes to kuasabud.c, for every vendor: no steering.
    for _ in range(5):
        payer.pay("PT X", PPK["citra"], BUD["c"])
        payer.pay("PT Y", PPK["citra"], BUD["c"])
    # Planted: ppk.dewi verifies one vendor only, always to kuasabud.a, who signs 14 of the 37
    # other SP2D of the pemda (38%): high.
    alone = {payer.pay("PT Sendiri", PPK["dewi"], BUD["a"]) for _ in range(5)}
    found = scene.detect("repeated_pair")
    assert of(found, "repeated_pair") == [steered, alone, set(mostly)]
    high, _, medium = found.flags
    assert (high.severity, found.flags[1].severity, medium.severity) == ("high", "high", "medium")
    assert "signed 38% of the other vendors' SP2D" in found.flags[1].explanation_en
    assert high.subject_kind == "vendor" and high.vendor_ids == (high.subject_id,)
    assert high.amount == 150_000_000 and medium.amount == 50_000_000
    # The evidence: each payment's verification (version 2) and SP2D (version 4).
    assert sorted((e.aggregate_id, e.version) for e in high.evidence) == sorted(
        (p, v) for p in steered for v in (2, 4)
    )
    assert "ppk.ani / kuasabud.a" in high.explanation_id and "5 dari 5" in high.explanation_id
    assert "other SP2D were 40% signed by kuasabud.a" in high.explanation_en
    assert "5 of this vendor's 6 SP2D (83%" in medium.explanation_en
