"""Configuration of the HTTP API, read from the environment once per process."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput
from ledger.store import database_url

DEFAULT_SECRET_FILE = "kasda-jwt.key"  # noqa: S105 - a file name, not a secret
LOCAL_ISSUER = "kasda-local"
DEFAULT_AUDIENCE = "kasda"
MIN_SECRET_BYTES = 32
DEFAULT_MAX_TOKEN_LIFETIME = 12 * 3600  # a working day and then some
MAX_TOKEN_LIFETIME_LIMIT = 7 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """Everything ``create_app`` needs.

    Authentication is either local (HS256 with ``jwt_secret``; the default) or external (an
    identity provider's ``jwks_url`` with ``issuer`` and ``audience``; RS256, ES256 or EdDSA).
    """

    database_url: str
    jwt_secret: str | None = None
    jwks_url: str | None = None
    issuer: str = LOCAL_ISSUER
    audience: str = DEFAULT_AUDIENCE
    leeway_seconds: int = 30
    # Tokens whose exp - iat is longer are refused (KASDA_JWT_MAX_LIFETIME, seconds).
    max_token_lifetime_seconds: int = DEFAULT_MAX_TOKEN_LIFETIME
    threads: int = 4  # per worker process, for the (blocking) ledger calls of routes
    # Read by the gateway webhooks router (``request.app.state.gateway_settings``).
    gateway_settings: Any = None
    ledger_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.jwks_url is None and not self.jwt_secret:
            raise InvalidInput("set KASDA_JWT_SECRET (local tokens) or KASDA_JWKS_URL (an IdP)")
        if self.jwks_url is None and len((self.jwt_secret or "").encode()) < MIN_SECRET_BYTES:
            raise InvalidInput(f"KASDA_JWT_SECRET must have at least {MIN_SECRET_BYTES} bytes")
        if not 60 <= self.max_token_lifetime_seconds <= MAX_TOKEN_LIFETIME_LIMIT:
            raise InvalidInput(
                f"KASDA_JWT_MAX_LIFETIME must be 60..{MAX_TOKEN_LIFETIME_LIMIT} seconds, "
                f"got {self.max_token_lifetime_seconds}"
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ApiSettings:
        env = dict(os.environ if environ is None else environ)
        jwks = env.get("KASDA_JWKS_URL") or None
        if jwks is not None:
            issuer = env.get("KASDA_JWT_ISSUER")
            audience = env.get("KASDA_JWT_AUDIENCE")
            if not issuer or not audience:
                raise InvalidInput("KASDA_JWKS_URL needs KASDA_JWT_ISSUER and KASDA_JWT_AUDIENCE")
            return cls(
                database_url=env.get("KASDA_DATABASE_URL") or database_url(),
                jwks_url=jwks,
                issuer=issuer,
                audience=audience,
                gateway_settings=gateway_settings(env),
                threads=_threads(env),
                max_token_lifetime_seconds=_max_lifetime(env),
            )
        return cls(
            database_url=env.get("KASDA_DATABASE_URL") or database_url(),
            jwt_secret=local_secret(env),
            issuer=env.get("KASDA_JWT_ISSUER") or LOCAL_ISSUER,
            audience=env.get("KASDA_JWT_AUDIENCE") or DEFAULT_AUDIENCE,
            gateway_settings=gateway_settings(env),
            threads=_threads(env),
            max_token_lifetime_seconds=_max_lifetime(env),
        )


def _threads(env: dict[str, str]) -> int:
    raw = env.get("KASDA_API_THREADS", "4")
    if not raw.isdigit() or not 1 <= int(raw) <= 256:
        raise InvalidInput(f"KASDA_API_THREADS must be an integer in 1..256, got {raw!r}")
    return int(raw)


def _max_lifetime(env: dict[str, str]) -> int:
    raw = env.get("KASDA_JWT_MAX_LIFETIME", str(DEFAULT_MAX_TOKEN_LIFETIME))
    if not raw.isdigit():
        raise InvalidInput(f"KASDA_JWT_MAX_LIFETIME must be a number of seconds, got {raw!r}")
    return int(raw)


def gateway_settings(env: dict[str, str]) -> Any:
    """The payment gateways' settings (``gateways.config``), for the webhooks router; None when
    that package is not installed. A misconfiguration stops the start-up."""
    try:
        from gateways.config import settings_from_env
    except ImportError:
        return None
    return settings_from_env(env)


def local_secret(environ: dict[str, str] | None = None) -> str:
    """The HS256 secret: ``KASDA_JWT_SECRET``, else the file ``KASDA_JWT_SECRET_FILE``
    (default ``kasda-jwt.key`` in the working folder), created (mode 0600) on first use so that
    ``kasda serve`` and ``kasda token`` agree on a development machine."""
    env = os.environ if environ is None else environ
    secret = env.get("KASDA_JWT_SECRET")
    if secret:
        return secret
    path = Path(env.get("KASDA_JWT_SECRET_FILE") or DEFAULT_SECRET_FILE)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()
