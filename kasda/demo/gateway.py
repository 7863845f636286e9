"""``kasda demo`` pays through the simulator.

``pay_all(ledger)`` starts a simulator in-process, pays every authorised SP2D through Iris
(maker-checker, account validation, exactly once) and can write the gateway's and the bank's daily
files for reconciliation. ``DemoGateway`` does the same step by step and also collects income
(Snap / Core API through ``midtransclient``) so that one simulator holds both sides of the day.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType

from gateways.config import GatewaySettings
from gateways.facts import Applied, apply
from gateways.iris import IrisClient
from gateways.payouts import PayoutResult, PayoutService, Warnings
from gateways.port import ReceiptOrder
from gateways.receipts import MidtransReceipts, ReceiptService
from gateways.signatures import iris_signature
from gateways.simulator import SIM_KEYS, Faults, Simulator
from gateways.webhooks import WebhookResponse, handle_iris
from ledger.application import CommandResult, Ledger

CHANNELS = ("qris", "bank_transfer", "snap")


@dataclass(frozen=True)
class DemoPayments:
    results: list[PayoutResult]
    outcomes: dict[str, int]  # outcome -> count
    total_paid: int  # rupiah settled
    files: list[Path] = field(default_factory=list)


class DemoGateway:
    """A simulator plus the Iris and Midtrans clients pointed at it, on the ledger's clock."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        seed: int = 2026,
        fail_accounts: frozenset[str] = frozenset(),
        return_accounts: frozenset[str] = frozenset(),
        fail_references: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] | None = None,
        instant_payouts: bool = True,
        resend_failed: bool = False,
        warnings: Warnings | None = None,
    ) -> None:
        """``fail_references``: payouts that fail at the bank whatever their account.
        ``instant_payouts=False``: an approved payout stays "processed" until ``finish_payouts``
        (the bank's run later in the day). ``resend_failed``: ``pay_all`` pays FAILED
        disbursements again, as a new attempt under a new reference. ``warnings``: the red flags
        of each payment about to be sent (``kasda.redflags.PayoutWarnings``), in its result."""
        self.ledger = ledger
        faults = Faults(
            fail_accounts=set(fail_accounts),
            return_accounts=set(return_accounts),
            fail_references=set(fail_references),
        )
        self.sim = Simulator(
            seed=seed,
            clock=clock or ledger.clock,
            faults=faults,
            instant_payouts=instant_payouts,
        )
        self.settings = GatewaySettings.for_simulator(self.sim.url)
        self.resend_failed = resend_failed
        self.warnings = warnings
        self._iris: IrisClient | None = None
        self._service: PayoutService | None = None

    def __enter__(self) -> DemoGateway:
        self.sim.start()
        self._iris = IrisClient(
            self.sim.url + "/iris",
            SIM_KEYS.creator_key,
            SIM_KEYS.approver_key,
            timeout_seconds=10.0,
        )
        # One service for the whole run: it follows the disbursement events from where it was.
        self._service = PayoutService(
            self.ledger, self._iris, resend_failed=self.resend_failed, warnings=self.warnings
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._iris is not None:
            self._iris.close()
        self.sim.stop()

    def pay_all(self, pemda: str | None = None) -> DemoPayments:
        results = self.service.pay_all(pemda)
        outcomes = Counter(r.outcome.value for r in results)
        paid = {r.reference for r in results if r.outcome.value == "settled"}
        total = sum(p.amount for p in self.sim.payouts() if p.reference_no in paid)
        return DemoPayments(results, dict(outcomes), total)

    @property
    def service(self) -> PayoutService:
        assert self._service is not None, "use DemoGateway as a context manager"
        return self._service

    def finish_payouts(self, pemda: str | None = None) -> list[PayoutResult]:
        """The bank's run: every processed payout completes (or fails); the poller records it."""
        self.sim.gateway.process_payouts()
        return self.service.sync(pemda)

    def bank_return(self, reference: str, code: str = "returned") -> Applied:
        """The beneficiary bank sends a completed payout back; the ledger learns it from Iris."""
        assert self._iris is not None, "use DemoGateway as a context manager"
        self.sim.gateway.bank_return(reference, code)
        return apply(self.ledger, self._iris.get_payout(reference))

    def notify_iris(self, reference: str) -> WebhookResponse:
        """Deliver Iris's signed notification of the payout's current status to
        ``gateways.webhooks``, as the gateway would (and may, more than once)."""
        body = self.sim.payout(reference).document()
        raw = json.dumps(body).encode()
        signature = iris_signature(raw, SIM_KEYS.merchant_key)
        return handle_iris(self.ledger, self.settings, raw, {"Iris-Signature": signature})

    def collect(
        self, orders: Sequence[ReceiptOrder], channels: Sequence[str] | None = None
    ) -> list[CommandResult]:
        """Bill each order (on ``channels``, one each, or QRIS, VA and Snap in turn), let the
        citizen pay, record the income."""
        if channels is not None and len(channels) != len(orders):
            raise ValueError("one channel per order")
        receipts = ReceiptService(self.ledger, MidtransReceipts(self.settings))
        recorded = []
        for index, order in enumerate(orders):
            channel = CHANNELS[index % len(CHANNELS)] if channels is None else channels[index]
            receipts.bill(order, channel)
            self.sim.pay(order.order_id, "qris" if channel == "snap" else "")
            result = receipts.record(order.order_id)
            if result is not None:
                recorded.append(result)
        return recorded

    def write_daily_files(self, folder: Path, days: list[date] | None = None) -> list[Path]:
        return write_daily_files(self.sim, folder, days)


def pay_all(
    ledger: Ledger,
    *,
    pemda: str | None = None,
    seed: int = 2026,
    fail_accounts: frozenset[str] = frozenset(),
    return_accounts: frozenset[str] = frozenset(),
    report_dir: Path | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DemoPayments:
    """Pay every authorised disbursement (of ``pemda``, or all) through an in-process simulator.

    The simulator runs on the ledger's clock unless ``clock`` is given. With ``report_dir``, the
    payout report, the settlement report and the RKUD statement (MT940 and CSV) of every day with
    a movement are written there as ``payouts-YYYY-MM-DD.csv``, ``settlements-YYYY-MM-DD.csv``,
    ``rkud-YYYY-MM-DD.sta`` and ``rkud-YYYY-MM-DD.csv``."""
    with DemoGateway(
        ledger,
        seed=seed,
        fail_accounts=fail_accounts,
        return_accounts=return_accounts,
        clock=clock,
    ) as gateway:
        paid = gateway.pay_all(pemda)
        files = gateway.write_daily_files(report_dir) if report_dir is not None else []
    return DemoPayments(paid.results, paid.outcomes, paid.total_paid, files)


def write_daily_files(sim: Simulator, folder: Path, days: list[date] | None = None) -> list[Path]:
    """The four files of each of ``days`` (default: every calendar day from the first movement to
    the last; a day without one has its statement too, opening = closing balance)."""
    from gateways.simulator.reports import daily_files

    folder.mkdir(parents=True, exist_ok=True)
    if days is None:
        moved = sim.state.days()
        span = (moved[-1] - moved[0]).days + 1 if moved else 0
        days = [moved[0] + timedelta(days=n) for n in range(span)]
    written = []
    for name, text in daily_files(sim.state, days):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
