"""A Midtrans-compatible simulator (Snap, Core API, Iris) with fault injection and the daily files
a gateway and a bank send. See ``gateways.simulator.server.Simulator``."""

from gateways.simulator.server import Gateway, Simulator
from gateways.simulator.state import SIM_KEYS, WIB, Faults, SimKeys, SimState

__all__ = ["SIM_KEYS", "WIB", "Faults", "Gateway", "SimKeys", "SimState", "Simulator"]
