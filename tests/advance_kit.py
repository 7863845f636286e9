"""Builders for tests of the bendahara's advance (UP/GU/TU, SPJ, KKPD): commands in the world of
``tests.factory``, and an ``Advancer`` that walks an order through its four hands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger import commands as c
from ledger import ids
from ledger.application import CommandResult, Ledger
from ledger.roles import Actor, Role
from tests import factory as f

BENDAHARA = f.actor("bendahara.eka", Role.BENDAHARA)
CARD = "5264-xxxx-xxxx-1234"
CARD_KEY = "5264XXXXXXXX1234"


def set_advance(
    ceiling: int = 50_000_000, kkpd: int = 20_000_000, tu: int = 30_000_000, skpd: str = f.SKPD
) -> c.SetAdvance:
    return c.SetAdvance(
        idempotency_key=f.key("up-set"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=skpd,
        document="KEP-UP-1-2026",
        ceiling=ceiling,
        kkpd_ceiling=kkpd,
        tu_ceiling=tu,
        bank_code="110",
        account_number="0099887766",
        account_holder="Bendahara Pengeluaran Diskominfo",
    )


def register_card(card: str = CARD, limit: int = 15_000_000) -> c.RegisterCard:
    return c.RegisterCard(
        idempotency_key=f.key("card"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=f.SKPD,
        card=card,
        holder="Eka Bendahara",
        limit=limit,
    )


def spj(
    number: str,
    amount: int,
    *,
    channel: str = "tunai",
    card: str | None = None,
    tu: str | None = None,
    spec: c.LineSpec = f.GOODS_LINE,
    spent_on: str = "2026-01-02",
    actor: Actor = BENDAHARA,
    **kw: Any,
) -> c.RecordSpj:
    return c.RecordSpj(
        idempotency_key=kw.get("idempotency_key") or f.key("spj"),
        actor=actor,
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=spec.skpd,
        spj_number=number,
        line=f.ref(spec),
        amount=amount,
        channel=channel,
        card=card,
        tu=tu,
        merchant=kw.get("merchant", "Toko Sumber Rejeki"),
        spent_on=spent_on,
        evidence=kw.get("evidence", {"kuitansi": f"KW/{number}"}),
    )


def order(spp: str, mechanism: str, **kw: Any) -> c.RequestAdvance:
    return c.RequestAdvance(
        idempotency_key=f.key("spp-adv"),
        actor=kw.pop("actor", BENDAHARA),
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=f.SKPD,
        spp_number=spp,
        mechanism=mechanism,
        description=kw.pop("description", f"SPP-{mechanism.upper()} Diskominfo"),
        **kw,
    )


def order_id(spp: str) -> UUID:
    return ids.advance_order_id(f.PEMDA, f.YEAR, spp)


def pay_bill(amount: int, card: str = CARD, reference: str = "TAGIHAN/01") -> c.PayCardBill:
    return c.PayCardBill(
        idempotency_key=f.key("bill"),
        actor=BENDAHARA,
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=f.SKPD,
        card=card,
        amount=amount,
        reference=reference,
    )


def give_back(amount: int, tu: str | None = None, reference: str = "STS/01") -> c.ReturnAdvance:
    return c.ReturnAdvance(
        idempotency_key=f.key("sts"),
        actor=BENDAHARA,
        pemda=f.PEMDA,
        year=f.YEAR,
        skpd=f.SKPD,
        amount=amount,
        reference=reference,
        tu=tu,
    )


@dataclass
class Advancer:
    """Walks advance orders of the world's SKPD through PPK, PA/KPA, Kuasa BUD and the bank."""

    ledger: Ledger

    def run(self, command: c.Command) -> CommandResult:
        return self.ledger.execute(command)

    def steps(self, spp: str, *, settle: bool = True) -> None:
        oid = order_id(spp)
        base: dict[str, Any] = {"pemda": f.PEMDA, "order_id": oid}
        self.run(c.VerifyAdvance(idempotency_key=f.key("v"), actor=f.PPK, **base))
        self.run(
            c.ApproveAdvance(
                idempotency_key=f.key("a"), actor=f.PA, spm_number=f"SPM/{spp}", **base
            )
        )
        self.run(
            c.AuthoriseAdvance(
                idempotency_key=f.key("s"), actor=f.BUD, sp2d_number=f"SP2D/{spp}", **base
            )
        )
        if settle:
            self.settle(spp)

    def settle(self, spp: str) -> None:
        self.run(
            c.RecordAdvanceSettled(
                idempotency_key=f.key("bank"),
                actor=f.GATEWAY,
                pemda=f.PEMDA,
                order_id=order_id(spp),
                bank_reference=f"BANK/{spp}",
            )
        )

    def up(self, spp: str, amount: int) -> None:
        self.run(order(spp, "up", amount=amount))
        self.steps(spp)
