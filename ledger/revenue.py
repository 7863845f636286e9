"""Income (pendapatan): taxes, retribusi and fees that citizens and firms pay into the RKUD.

Each receipt is its own aggregate, named by its channel and the gateway's reference (the Midtrans
order id, a virtual-account payment id), so a duplicate notification collides on the store's
unique key instead of counting the money twice. Income has a target, not a ceiling: receipts are
never refused for exceeding the line's anggaran; the LRA shows them as lebih.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger import ids
from ledger.errors import InvalidInput
from ledger.money import Rupiah


class Revenue(Aggregate):
    """One receipt of income on an income line (kode rekening 4.x, or financing receipts 6.1)."""

    @staticmethod
    def create_id(pemda: str, year: int, channel: str, reference: str) -> UUID:
        return ids.revenue_id(pemda, year, channel, reference)

    @event("Received")
    def __init__(
        self,
        pemda: str,
        year: int,
        line_id: str,
        channel: str,
        reference: str,
        payer: str,
        gross: Rupiah,
        fee: Rupiah,
        net: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        self.pemda = pemda
        self.year = year
        self.line_id = line_id
        self.channel = channel
        self.reference = reference
        self.payer = payer
        self.gross = gross
        self.fee = fee
        self.net = net
        self.reversed = False

    def reverse(self, reason: str, actor_id: str, actor_role: str, at: datetime) -> None:
        if self.reversed:
            raise InvalidInput(f"receipt {self.channel}/{self.reference} is already reversed")
        self._reversed(
            reason=reason,
            line_id=self.line_id,
            gross=self.gross,
            fee=self.fee,
            net=self.net,
            actor_id=actor_id,
            actor_role=actor_role,
            at=at,
        )

    @event("Reversed")
    def _reversed(
        self,
        reason: str,
        line_id: str,
        gross: Rupiah,
        fee: Rupiah,
        net: Rupiah,
        actor_id: str,
        actor_role: str,
        at: datetime,
    ) -> None:
        # A refund or chargeback: the money goes back out of the RKUD and the income is undone.
        self.reversed = True
