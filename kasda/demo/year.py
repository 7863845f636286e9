"""``DemoYear``: plans the fiscal year from a seed, then plays it through a ``Ledger`` and the
gateway simulator, one batch per working day and time slot."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from gateways.facts import Verdict
from gateways.payouts import Outcome as PayoutOutcome
from gateways.payouts import PayoutResult
from gateways.port import ReceiptOrder
from kasda.demo.gateway import DemoGateway, write_daily_files
from kasda.demo.income import BANK_REMARKS
from kasda.demo.lifecycle import Lifecycle
from kasda.demo.pemda import DEFAULT_LIFECYCLES, PEMDA, YEAR
from kasda.demo.plan import Plan
from kasda.demo.world import Action, BuildReport, DemoError, SimulatedClock, Slot, working_days
from ledger import commands as c
from ledger.application import CommandResult, Ledger, Outcome
from ledger.disbursement import Status


class DemoYear(Plan):
    """Plans the fiscal year from a seed, then plays it through a ``Ledger``."""

    def __init__(self, seed: int, lifecycles: int = DEFAULT_LIFECYCLES) -> None:
        if lifecycles < 1:
            raise ValueError("lifecycles must be at least 1")
        self.seed = seed
        self.rng = random.Random(seed)
        self.days = working_days(YEAR)
        self.last_day = len(self.days) - 1
        self.jitter = [[self.rng.randrange(0, 25) for _ in Slot.TIMES] for _ in self.days]
        self.clock = SimulatedClock(self.at(0, Slot.ADMIN))
        self.actions: list[Action] = []
        self.lifecycles: list[Lifecycle] = []
        self.sp2d_seq = 0
        # What happens at the gateway and the bank, played by the simulator's faults.
        self.fail_first: list[Lifecycle] = []  # their first payout fails at the bank
        self.blocked_payouts: list[Lifecycle] = []  # the service must refuse to pay them
        self.returns: dict[int, list[Lifecycle]] = {}  # day -> payouts the bank sends back
        self.notified_twice: dict[int, list[Lifecycle]] = {}  # day -> settled, notified twice
        self.in_flight: list[str] = []  # payouts sent today, awaiting the bank's run
        self.receipt_orders: dict[
            int, list[tuple[ReceiptOrder, str]]
        ] = {}  # day -> (order, channel)
        self.receipt_seq = 0
        self.bank_credits: dict[int, list[tuple[str, int, str]]] = {}
        self.account_changes: list[tuple[Lifecycle, int]] = []
        self._serial = 0
        self._users()
        self._skpds()
        self._lines()
        self._vendors()
        self._plan(lifecycles)

    # -- playing the year through the ledger ---------------------------------------------------
    def run(self, ledger: Ledger, files_dir: Path | None = None) -> BuildReport:
        """Execute every planned command, one batch per working day and time slot, on the
        simulated clock, paying through an in-process simulator at every SEND slot and letting
        the bank run at every BANK slot; raise ``DemoError`` if the ledger or the gateway answers
        anything but what was planned. With ``files_dir``, write the year's daily files there."""
        if ledger.clock is not self.clock:
            raise ValueError("run the ledger on the demo's clock: Ledger(url, clock=plan.clock)")
        report = BuildReport()
        built: dict[str, c.Command] = {}  # a retry sends exactly the command it retries
        planned: dict[tuple[int, int], list[Action]] = {}
        for action in sorted(self.actions, key=lambda a: (a.day, a.slot, a.seq)):
            planned.setdefault((action.day, action.slot), []).append(action)
        gateway_slots = {(d, s) for d in range(len(self.days)) for s in (Slot.SEND, Slot.BANK)}
        with DemoGateway(
            ledger, seed=self.seed, clock=self.clock, instant_payouts=False, resend_failed=True
        ) as gateway:
            for day, slot in sorted(planned.keys() | gateway_slots):
                self.clock.now = self.at(day, slot)
                actions = planned.get((day, slot), [])
                if actions:
                    commands = []
                    for action in actions:
                        if action.key not in built:
                            built[action.key] = action.build(ledger, action.key)
                        commands.append(built[action.key])
                    outcomes = ledger.execute_batch(commands)
                    report.batches += 1
                    report.commands += len(commands)
                    for action, command, outcome in zip(actions, commands, outcomes, strict=True):
                        _check(action, command, outcome, report)
                if slot == Slot.SEND:
                    self._send(gateway, report)
                elif slot == Slot.BANK:
                    self._bank(gateway, day, report)
                    self._collect(gateway, day, report)
            if files_dir is not None:
                report.files = _write_files(gateway, files_dir)
        return report

    def _send(self, gateway: DemoGateway, report: BuildReport) -> None:
        """Pay every authorised (or failed) SP2D through Iris; the planned failures are armed."""
        gateway.sim.faults.fail_references.update(
            lc.reference() for lc in self.fail_first if lc.spp
        )
        refused = {lc.id for lc in self.blocked_payouts if lc.spp}
        for result in gateway.service.pay_all(PEMDA):
            if result.outcome is PayoutOutcome.BLOCKED and result.disbursement_id in refused:
                report.blocked += 1
            elif result.outcome is PayoutOutcome.SENT:
                self.in_flight.append(result.reference)
            else:
                raise _gateway_error("pay", result)

    def _bank(self, gateway: DemoGateway, day: int, report: BuildReport) -> None:
        """The bank runs the day's payouts; Iris notifies the webhook of each (some twice), the
        poller records whatever a notification did not."""
        gateway.sim.gateway.process_payouts()
        twice = {lc.reference() for lc in self.notified_twice.get(day, [])}
        for reference in self.in_flight:
            answer = gateway.notify_iris(reference)
            if answer.status != 200 or answer.body.get("result") != Verdict.RECORDED:
                raise DemoError(f"Iris notification of {reference}: {answer}")
            report.payouts[str(answer.body["status"])] += 1
            if reference in twice:
                again = gateway.notify_iris(reference)
                if again.status != 200 or again.body.get("result") != Verdict.NOTHING_NEW:
                    raise DemoError(f"Iris notification of {reference} delivered twice: {again}")
                report.replays += 1
        self.in_flight.clear()
        for result in gateway.service.sync(PEMDA):
            if result.outcome not in (PayoutOutcome.SETTLED, PayoutOutcome.FAILED):
                raise _gateway_error("sync", result)
            report.payouts[result.outcome.value] += 1
        for lc in self.returns.get(day, []):
            applied = gateway.bank_return(lc.reference())
            if applied.verdict is not Verdict.RECORDED or applied.status != Status.RETURNED:
                raise DemoError(f"return of {lc.sp2d}: {applied}")
            report.payouts["returned"] += 1

    def _collect(self, gateway: DemoGateway, day: int, report: BuildReport) -> None:
        """The day's taxes and fees billed by QRIS or virtual account at the simulator (Core API
        through ``midtransclient``), paid there, and recorded from Midtrans's status; what was
        paid in at the bank (recorded by this slot's batch) is on the RKUD statement too."""
        for reference, amount, channel in self.bank_credits.get(day, []):
            remark, account, bank = BANK_REMARKS[channel]
            gateway.sim.bank_credit(
                reference, amount, remark.format(reference=reference), account=account, bank=bank
            )
        due = self.receipt_orders.get(day, [])
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


DAILY_FILES = ("payouts-*.csv", "settlements-*.csv", "rkud-*.sta", "rkud-*.csv")


def _write_files(gateway: DemoGateway, folder: Path) -> list[Path]:
    """The daily files of every day of the year (and of any day after it that still moved money,
    e.g. the settlement of the last day's receipts), replacing those of an earlier build."""
    if folder.is_dir():
        for pattern in DAILY_FILES:
            for old in folder.glob(pattern):
                old.unlink()
    moved = gateway.sim.state.days()
    last = max([date(YEAR, 12, 31), *moved])
    days = [date(YEAR, 1, 1) + timedelta(days=n) for n in range((last - date(YEAR, 1, 1)).days + 1)]
    return write_daily_files(gateway.sim, folder, days)


def _check(action: Action, command: c.Command, outcome: Outcome, report: BuildReport) -> None:
    expect = action.expect
    if isinstance(outcome, CommandResult):
        if expect is None and not outcome.replayed:
            return
        if expect == "replay" and outcome.replayed:
            report.replays += 1
            return
    elif isinstance(expect, type) and type(outcome) is expect:
        report.refused[outcome.rule] += 1
        return
    raise DemoError(
        f"{command.command_name} {action.key} on working day {action.day}, slot {action.slot}: "
        f"expected {getattr(expect, '__name__', expect) or 'success'}, got {outcome!r}"
    )
