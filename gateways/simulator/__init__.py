"""A Midtrans-compatible simulator (Snap, Core API, Iris) with fault injection and the daily files
a gateway and a bank send. See ``gateways.simulator.server.Simulator``.

``state`` holds what the gateway and the bank know; the products are ``iris.IrisPayouts`` (Iris
payouts) and ``receipts.Receipts`` (Snap and the Core API), composed by ``gateway.Gateway`` with
``notifications.Notifier`` (the webhooks to kasda); ``reports`` writes the daily files;
``routes`` and ``app`` are the HTTP layer (Starlette), ``server`` runs it under uvicorn.
"""

from gateways.simulator.gateway import Gateway
from gateways.simulator.server import Simulator
from gateways.simulator.state import SIM_KEYS, WIB, Faults, SimKeys, SimState

__all__ = ["SIM_KEYS", "WIB", "Faults", "Gateway", "SimKeys", "SimState", "Simulator"]
