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
from ledger.stamp import Stamp
from ledger.triggers import fast_triggers


@fast_triggers
class Revenue(Aggregate):
    """One receipt of income on an income line (kode rekening 4.x, or financing receipts 6.1)."""

    @staticmethod
    def create_id(pemda: str, year: int, channel: str, reference: str) -> UUID:
        return ids.revenue_id(pemda, year, channel, reference)

    @classmethod
    def receive(
        cls,
        pemda: str,
        year: int,
        line_id: UUID,
        channel: str,
        reference: str,
        payer: str,
        gross: Rupiah,
        fee: Rupiah,
        by: Stamp,
    ) -> Revenue:
        """A receipt of ``gross``, of which the gateway kept ``fee`` (less than the gross)."""
        return cls(
            pemda=pemda,
            year=year,
            line_id=str(line_id),
            channel=channel,
            reference=reference,
            payer=payer,
            gross=gross,
            fee=fee,
            net=gross - fee,
            **by.recorded(),
        )

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

    def reverse(self, reason: str, by: Stamp) -> None:
        if self.reversed:
            raise InvalidInput(f"receipt {self.channel}/{self.reference} is already reversed")
        self._reversed(
            reason=reason,
            line_id=self.line_id,
            gross=self.gross,
            fee=self.fee,
            net=self.net,
            **by.recorded(),
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
