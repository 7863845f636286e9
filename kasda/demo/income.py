"""Income of the year: receipts on every income line, billed and paid at the gateway simulator
(QRIS, virtual account) or recorded directly (central transfers, the teller)."""

from __future__ import annotations

import random
from functools import partial

from gateways.port import ReceiptOrder
from kasda.demo.pemda import PEMDA, YEAR
from kasda.demo.people import People
from kasda.demo.state import Calendar, Schedule
from kasda.demo.world import Line, Slot, million_down
from ledger import commands as c
from ledger.application import Ledger

# How the bank writes a payment made at the bank (not through the gateway) on the RKUD statement:
# the payer's reference first, so that reconciliation finds the receipt it pays.
BANK_REMARKS = {
    "rkud:transfer_pusat": (
        "TRF {reference} DANA TRANSFER PUSAT DARI RKUN",
        "0000001400001",
        "000",
    ),
    "teller:bjb": ("{reference} SETORAN TUNAI TELLER BJB", "", ""),
}


class Income:
    """Income: taxes and retribusi paid by QRIS, virtual account or at the BPD's teller, on the
    pemda's income lines; the orders billed at the gateway and the money paid in at the bank are
    kept for the treasury's day."""

    CHANNELS = (("midtrans:qris", 70), ("midtrans:bank_transfer", 0), ("teller:bjb", 0))

    def __init__(self, seed: int, calendar: Calendar, schedule: Schedule, people: People) -> None:
        self.seed, self.calendar, self.add, self.people = seed, calendar, schedule.add, people
        self.receipt_orders: dict[
            int, list[tuple[ReceiptOrder, str]]
        ] = {}  # day -> (order, channel)
        self.receipt_seq = 0
        self.bank_credits: dict[
            int, list[tuple[str, int, str]]
        ] = {}  # day -> (ref, amount, channel)

    def plan(self) -> None:
        """Receipts on every income line, a few each month, realising 80-98% of its target.
        Their own random stream, so the spending plan is the same with or without them."""
        rng = random.Random(self.seed * 7919 + 1)
        for line in (x for x in self.people.lines if x.rekening is None):
            target = line.pagu * rng.randint(80, 98) // 100
            days = sorted(rng.sample(range(1, self.calendar.last_day + 1), 36))
            weights = [rng.randint(1, 10) for _ in days]
            for n, (day, weight) in enumerate(zip(days, weights, strict=True)):
                gross = million_down(target * weight // sum(weights)) or 1_000_000
                channel, permil = rng.choice(self.CHANNELS)
                if line.code.startswith("4.2"):  # DAU/DAK: transferred by the centre, no fee
                    channel, permil = "rkud:transfer_pusat", 0
                elif channel.startswith("midtrans:"):  # billed and paid at the simulator
                    self.receipt_seq += 1
                    order = ReceiptOrder(
                        order_id=f"KSD-{YEAR}-{line.code}-{self.receipt_seq:05d}",
                        amount=gross,
                        payer=f"Wajib pajak {line.code}-{n + 1:04d}",
                        pemda=PEMDA,
                        year=YEAR,
                        skpd=line.ref.skpd,
                        sub_kegiatan=line.ref.sub_kegiatan,
                        rekening=line.ref.rekening,
                    )
                    kind = channel.partition(":")[2]
                    self.receipt_orders.setdefault(day, []).append((order, kind))
                    continue
                # QRIS takes 0.7% (MDR); a virtual account a flat Rp 4,000; the teller nothing.
                fee = gross * permil // 10_000 if permil else 4_000 if "bank" in channel else 0
                reference = f"{line.code}-{YEAR}-{n + 1:04d}"
                self.add(
                    day, Slot.BANK, partial(self._receipt, line, channel, reference, gross, fee)
                )
                # The same money on the RKUD statement that day: paid in at the bank.
                self.bank_credits.setdefault(day, []).append((reference, gross - fee, channel))

    def _receipt(
        self, line: Line, channel: str, reference: str, gross: int, fee: int, _l: Ledger, key: str
    ) -> c.Command:
        return c.RecordRevenue(
            idempotency_key=key,
            actor=self.people.gateways[0],
            pemda=PEMDA,
            year=YEAR,
            line=line.ref,
            channel=channel,
            reference=reference,
            payer=f"Wajib pajak {reference}",
            gross=gross,
            fee=fee,
        )
