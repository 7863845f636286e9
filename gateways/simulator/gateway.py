"""The simulated Midtrans: its products over one ``SimState``, and the notifier that delivers
their webhooks. Business logic only; ``gateways.simulator.app`` is the HTTP layer."""

from __future__ import annotations

from collections.abc import Callable

from gateways.simulator.iris import IrisPayouts
from gateways.simulator.notifications import Notifier
from gateways.simulator.receipts import Receipts
from gateways.simulator.replies import Reply
from gateways.simulator.state import Notification, SimKeys, SimOrder, SimState


class Gateway:
    def __init__(self, state: SimState, keys: SimKeys, base_url: Callable[[], str]) -> None:
        self.state = state
        self.keys = keys
        self.notifier = Notifier()
        self.iris = IrisPayouts(state, keys, self.notifier)
        self.receipts = Receipts(state, keys, self.notifier, base_url)

    # -- what tests and the demo drive directly (the customer, the bank, the outbox) -------------
    def pay(self, order_id: str, payment_type: str = "") -> Reply:
        return self.receipts.pay(order_id, payment_type)

    def expire(self, order_id: str) -> Reply:
        return self.receipts.expire(order_id)

    def payment_notification(self, order: SimOrder) -> bytes:
        return self.receipts.payment_notification(order)

    def process_payouts(self) -> int:
        return self.iris.process_payouts()

    def bank_return(self, reference: str, code: str = "returned") -> None:
        self.iris.bank_return(reference, code)

    @property
    def notifications(self) -> list[Notification]:
        return self.notifier.notifications

    @property
    def notify_attempts(self) -> int:
        return self.notifier.attempts

    def flush(self, timeout: float = 10.0) -> None:
        self.notifier.flush(timeout)

    def close(self) -> None:
        self.notifier.close()
