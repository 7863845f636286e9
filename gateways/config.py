"""Gateway settings from the environment (production keys never live in code or in the repository).

See docs/gateways.md for every variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

SANDBOX_CORE = "https://api.sandbox.midtrans.com"
PRODUCTION_CORE = "https://api.midtrans.com"
SANDBOX_SNAP = "https://app.sandbox.midtrans.com/snap/v1"
PRODUCTION_SNAP = "https://app.midtrans.com/snap/v1"
SANDBOX_IRIS = "https://app.sandbox.midtrans.com/iris"
PRODUCTION_IRIS = "https://app.midtrans.com/iris"


class ConfigError(ValueError):
    """A missing or malformed gateway setting."""


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    server_key: str  # Snap / Core API (receipts), also signs payment notifications
    iris_creator_key: str  # Iris: creates payouts (the maker)
    iris_approver_key: str  # Iris: approves payouts (the checker); must differ from the creator's
    iris_merchant_key: str  # Iris: signs payout notifications
    production: bool = False
    core_base_url: str = SANDBOX_CORE
    snap_base_url: str = SANDBOX_SNAP
    iris_base_url: str = SANDBOX_IRIS
    timeout_seconds: float = 10.0
    client_key: str = ""

    def __post_init__(self) -> None:
        if self.iris_creator_key and self.iris_creator_key == self.iris_approver_key:
            raise ConfigError(
                "the Iris creator and approver keys must be two different credentials"
            )
        if self.timeout_seconds <= 0:
            raise ConfigError("the gateway timeout must be positive")

    def __repr__(self) -> str:  # never print a key
        return (
            f"GatewaySettings(production={self.production}, core={self.core_base_url}, "
            f"snap={self.snap_base_url}, iris={self.iris_base_url}, keys=<hidden>)"
        )

    @classmethod
    def for_simulator(cls, base_url: str, *, timeout_seconds: float = 5.0) -> GatewaySettings:
        """Settings that point every client at a ``gateways.simulator`` on ``base_url``."""
        from gateways.simulator import SIM_KEYS

        base = base_url.rstrip("/")
        return cls(
            server_key=SIM_KEYS.server_key,
            iris_creator_key=SIM_KEYS.creator_key,
            iris_approver_key=SIM_KEYS.approver_key,
            iris_merchant_key=SIM_KEYS.merchant_key,
            production=False,
            core_base_url=base,
            snap_base_url=f"{base}/snap/v1",
            iris_base_url=f"{base}/iris",
            timeout_seconds=timeout_seconds,
        )


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def settings_from_env(env: Mapping[str, str] | None = None) -> GatewaySettings:
    """Read ``KASDA_MIDTRANS_*`` / ``KASDA_IRIS_*``. In production every key is required and every
    base URL must be https."""
    source = os.environ if env is None else env
    flag = source.get("KASDA_MIDTRANS_PRODUCTION", "false").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise ConfigError(f"KASDA_MIDTRANS_PRODUCTION must be true or false, got {flag!r}")
    production = flag in _TRUE
    core = source.get("KASDA_MIDTRANS_CORE_URL") or (
        PRODUCTION_CORE if production else SANDBOX_CORE
    )
    snap = source.get("KASDA_MIDTRANS_SNAP_URL") or (
        PRODUCTION_SNAP if production else SANDBOX_SNAP
    )
    iris = source.get("KASDA_IRIS_URL") or (PRODUCTION_IRIS if production else SANDBOX_IRIS)
    keys = {
        name: source.get(name, "")
        for name in (
            "KASDA_MIDTRANS_SERVER_KEY",
            "KASDA_IRIS_CREATOR_KEY",
            "KASDA_IRIS_APPROVER_KEY",
            "KASDA_IRIS_MERCHANT_KEY",
        )
    }
    if production:
        missing = [name for name, value in keys.items() if not value]
        if missing:
            raise ConfigError(f"production needs {', '.join(missing)}")
        plain = [url for url in (core, snap, iris) if not url.startswith("https://")]
        if plain:
            raise ConfigError(f"production base URLs must be https: {', '.join(plain)}")
    try:
        timeout = float(source.get("KASDA_GATEWAY_TIMEOUT", "10"))
    except ValueError:
        raise ConfigError("KASDA_GATEWAY_TIMEOUT must be a number of seconds") from None
    return GatewaySettings(
        server_key=keys["KASDA_MIDTRANS_SERVER_KEY"],
        iris_creator_key=keys["KASDA_IRIS_CREATOR_KEY"],
        iris_approver_key=keys["KASDA_IRIS_APPROVER_KEY"],
        iris_merchant_key=keys["KASDA_IRIS_MERCHANT_KEY"],
        production=production,
        core_base_url=core.rstrip("/"),
        snap_base_url=snap.rstrip("/"),
        iris_base_url=iris.rstrip("/"),
        timeout_seconds=timeout,
        client_key=source.get("KASDA_MIDTRANS_CLIENT_KEY", ""),
    )
