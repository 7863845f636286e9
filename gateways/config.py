"""Gateway settings (production keys never live in code or in the repository).

``kasda/settings.py`` reads them from the environment (``KASDA_MIDTRANS_*`` / ``KASDA_IRIS_*``) and
builds them with ``configure``; see docs/gateways.md.
"""

from __future__ import annotations

from dataclasses import dataclass

SANDBOX_CORE = "https://api.sandbox.midtrans.com"
PRODUCTION_CORE = "https://api.midtrans.com"
SANDBOX_SNAP = "https://app.sandbox.midtrans.com/snap/v1"
PRODUCTION_SNAP = "https://app.midtrans.com/snap/v1"
SANDBOX_IRIS = "https://app.sandbox.midtrans.com/iris"
PRODUCTION_IRIS = "https://app.midtrans.com/iris"
DEFAULT_TIMEOUT = 10.0  # seconds


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
    timeout_seconds: float = DEFAULT_TIMEOUT
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


def configure(
    *,
    production: bool,
    server_key: str,
    iris_creator_key: str,
    iris_approver_key: str,
    iris_merchant_key: str,
    client_key: str = "",
    core_url: str | None = None,
    snap_url: str | None = None,
    iris_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT,
) -> GatewaySettings:
    """The settings for these keys: Midtrans' sandbox or production base URLs unless others are
    given. In production every base URL must be https (and every key given: the caller names the
    missing ones)."""
    core = core_url or (PRODUCTION_CORE if production else SANDBOX_CORE)
    snap = snap_url or (PRODUCTION_SNAP if production else SANDBOX_SNAP)
    iris = iris_url or (PRODUCTION_IRIS if production else SANDBOX_IRIS)
    if production:
        plain = [url for url in (core, snap, iris) if not url.startswith("https://")]
        if plain:
            raise ConfigError(f"production base URLs must be https: {', '.join(plain)}")
    return GatewaySettings(
        server_key=server_key,
        iris_creator_key=iris_creator_key,
        iris_approver_key=iris_approver_key,
        iris_merchant_key=iris_merchant_key,
        production=production,
        core_base_url=core.rstrip("/"),
        snap_base_url=snap.rstrip("/"),
        iris_base_url=iris.rstrip("/"),
        timeout_seconds=timeout_seconds,
        client_key=client_key,
    )
