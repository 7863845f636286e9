"""The RKUD's day at the gateway and the bank: at the SEND slot the authorised SP2Ds are paid
through Iris; at the BANK slot the bank runs the day's payouts, Iris notifies the webhook of each
(some twice), payouts come back, and the day's income is billed, paid and collected."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateways.facts import Verdict
from gateways.payouts import Outcome as PayoutOutcome
from gateways.payouts import PayoutResult
from kasda.demo.gateway import DemoGateway
from kasda.demo.income import BANK_REMARKS, Income
from kasda.demo.lifecycle import Lifecycle
from kasda.demo.pemda import PEMDA
from kasda.demo.world import BuildReport, DemoError, Slot
from ledger.disbursement import Status


@dataclass
class BankPlan:
    """What the plan has the gateway and the bank do to payouts, played by the simulator's faults."""

    fail_first: list[Lifecycle] = field(default_factory=list)  # first payout fails at the bank
    blocked_payouts: list[Lifecycle] = field(default_factory=list)  # the service must refuse them
    returns: dict[int, list[Lifecycle]] = field(default_factory=dict)  # day -> sent back
    notified_twice: dict[int, list[Lifecycle]] = field(default_factory=dict)  # day -> settled


class Treasury:
    """Plays the gateway's and the bank's part of each working day, as ``bank`` and ``income``
    planned it; raises ``DemoError`` when the gateway or the ledger answers otherwise."""

    def __init__(self, bank: BankPlan, income: Income) -> None:
        self.bank = bank
        self.income = income
        self.in_flight: list[str] = []  # payouts sent today, awaiting the bank's run

    def after(self, slot: int, day: int, gateway: DemoGateway, report: BuildReport) -> None:
        """What follows the batch of ``slot`` on working ``day`` at the gateway and the bank."""
        if slot == Slot.SEND:
            self.send(gateway, report)
        elif slot == Slot.BANK:
            self.settle(gateway, day, report)
            self.collect(gateway, day, report)

    def send(self, gateway: DemoGateway, report: BuildReport) -> None:
        """Pay every authorised (or failed) SP2D through Iris; the planned failures are armed."""
        gateway.sim.faults.fail_references.update(
            lc.reference() for lc in self.bank.fail_first if lc.spp
        )
        refused = {lc.id for lc in self.bank.blocked_payouts if lc.spp}
        for result in gateway.service.pay_all(PEMDA):
            if result.outcome is PayoutOutcome.BLOCKED and result.disbursement_id in refused:
                report.blocked += 1
            elif result.outcome is PayoutOutcome.SENT:
                self.in_flight.append(result.reference)
            else:
                raise _gateway_error("pay", result)

    def settle(self, gateway: DemoGateway, day: int, report: BuildReport) -> None:
        """The bank runs the day's payouts; Iris notifies the webhook of each (some twice), the
        poller records whatever a notification did not; payouts planned to come back do."""
        gateway.sim.gateway.process_payouts()
        twice = {lc.reference() for lc in self.bank.notified_twice.get(day, [])}
        for reference in self.in_flight:
            self._notify(gateway, reference, report, twice=reference in twice)
        self.in_flight.clear()
        for result in gateway.service.sync(PEMDA):
            if result.outcome not in (PayoutOutcome.SETTLED, PayoutOutcome.FAILED):
                raise _gateway_error("sync", result)
            report.payouts[result.outcome.value] += 1
        for lc in self.bank.returns.get(day, []):
            applied = gateway.bank_return(lc.reference())
            if applied.verdict is not Verdict.RECORDED or applied.status != Status.RETURNED:
                raise DemoError(f"return of {lc.sp2d}: {applied}")
            report.payouts["returned"] += 1

    @staticmethod
    def _notify(gateway: DemoGateway, reference: str, report: BuildReport, *, twice: bool) -> None:
        answer = gateway.notify_iris(reference)
        if answer.status != 200 or answer.body.get("result") != Verdict.RECORDED:
            raise DemoError(f"Iris notification of {reference}: {answer}")
        report.payouts[str(answer.body["status"])] += 1
        if twice:
            again = gateway.notify_iris(reference)
            if again.status != 200 or again.body.get("result") != Verdict.NOTHING_NEW:
                raise DemoError(f"Iris notification of {reference} delivered twice: {again}")
            report.replays += 1

    def collect(self, gateway: DemoGateway, day: int, report: BuildReport) -> None:
        """The day's taxes and fees billed by QRIS or virtual account at the simulator (Core API
        through ``midtransclient``), paid there, and recorded from Midtrans's status; what was
        paid in at the bank (recorded by this slot's batch) is on the RKUD statement too."""
        for reference, amount, channel in self.income.bank_credits.get(day, []):
            remark, account, bank = BANK_REMARKS[channel]
            gateway.sim.bank_credit(
                reference, amount, remark.format(reference=reference), account=account, bank=bank
            )
        due = self.income.receipt_orders.get(day, [])
        if not due:
            return
        orders, channels = [o for o, _ in due], [kind for _, kind in due]
        recorded = gateway.collect(orders, channels)
        if len(recorded) != len(orders) or any(r.replayed for r in recorded):
            raise DemoError(f"receipts of working day {day}: {len(recorded)} of {len(orders)}")
        report.receipts += len(recorded)


def _gateway_error(step: str, result: PayoutResult) -> DemoError:
    return DemoError(
        f"{step} SP2D {result.sp2d_number} ({result.reference}): {result.outcome} {result.detail}"
    )
