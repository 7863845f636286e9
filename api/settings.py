"""Configuration of the HTTP API; ``kasda/settings.py`` builds it from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feed.settings import FeedSettings, derived_feed_key
from ledger.errors import InvalidInput
from projections.runner import DEFAULT_TIMEZONE
from web.settings import WebSettings, derived_session_secret

DEFAULT_SECRET_FILE = "kasda-jwt.key"  # noqa: S105 - a file name, not a secret
LOCAL_ISSUER = "kasda-local"
DEFAULT_AUDIENCE = "kasda"
MIN_SECRET_BYTES = 32
DEFAULT_MAX_TOKEN_LIFETIME = 12 * 3600  # a working day and then some
MAX_TOKEN_LIFETIME_LIMIT = 7 * 24 * 3600
DEFAULT_THREADS = 4
# Where each pemda's events live (KASDA_TENANCY): all in the one store, or each in its own.
SHARED = "shared"
SCHEMA = "schema"
TENANCIES = (SHARED, SCHEMA)


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """Everything ``create_app`` needs.

    Authentication is either local (HS256 with ``jwt_secret``; the default) or external (an
    identity provider's ``jwks_url`` with ``issuer`` and ``audience``; RS256, ES256 or EdDSA).
    """

    database_url: str
    # SHARED: every pemda in the store of ``database_url``; SCHEMA: each in its own beside it
    # (``ledger.store.tenant_url``), opened on its first request (``api.tenants``).
    tenancy: str = SHARED
    jwt_secret: str | None = None
    jwks_url: str | None = None
    issuer: str = LOCAL_ISSUER
    audience: str = DEFAULT_AUDIENCE
    leeway_seconds: int = 30
    # Tokens whose exp - iat is longer are refused (KASDA_JWT_MAX_LIFETIME, seconds).
    max_token_lifetime_seconds: int = DEFAULT_MAX_TOKEN_LIFETIME
    threads: int = DEFAULT_THREADS  # per worker process, for the (blocking) ledger calls of routes
    # Read by the gateway webhooks router (``request.app.state.gateway_settings``).
    gateway_settings: Any = None
    # The store's options (``ledger.store.store_options``: cipher key, bounded waits).
    ledger_env: dict[str, str] = field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE  # of the read models (``Projector``)
    # The pemda's red-flag thresholds file (KASDA_REDFLAGS_FILE, ``audit.thresholds.load``);
    # None: kasda's defaults.
    redflags_file: str | None = None
    # The web app's (``web/settings.py``); by default its session key is derived from the local
    # JWT secret. With an identity provider there is none: KASDA_SESSION_SECRET is then needed.
    web: WebSettings | None = None
    # The event feed's (``feed/settings.py``): its key, delivery bounds, whether this process runs
    # the dispatcher. Built directly (tests, benchmarks) without one: a key derived as the web's,
    # and no dispatcher.
    feed: FeedSettings | None = None

    def __post_init__(self) -> None:
        if self.tenancy not in TENANCIES:
            raise InvalidInput(
                f"tenancy must be one of {', '.join(TENANCIES)}, got {self.tenancy!r}"
            )
        if self.jwks_url is None and not self.jwt_secret:
            raise InvalidInput("set KASDA_JWT_SECRET (local tokens) or KASDA_JWKS_URL (an IdP)")
        if self.jwks_url is None and len((self.jwt_secret or "").encode()) < MIN_SECRET_BYTES:
            raise InvalidInput(f"KASDA_JWT_SECRET must have at least {MIN_SECRET_BYTES} bytes")
        if not 60 <= self.max_token_lifetime_seconds <= MAX_TOKEN_LIFETIME_LIMIT:
            raise InvalidInput(
                f"KASDA_JWT_MAX_LIFETIME must be 60..{MAX_TOKEN_LIFETIME_LIMIT} seconds, "
                f"got {self.max_token_lifetime_seconds}"
            )
        if self.web is None:
            # kasda/settings.py always passes one; an app built directly (tests, benchmarks) with
            # an identity provider and none gets a key of this process only.
            key = derived_session_secret(self.jwt_secret or secrets.token_urlsafe(48))
            object.__setattr__(self, "web", WebSettings(session_secret=key))
        if self.feed is None:
            key = derived_feed_key(self.jwt_secret or secrets.token_urlsafe(48))
            object.__setattr__(self, "feed", FeedSettings(key=key, dispatch=False))

    @property
    def events(self) -> FeedSettings:
        """The event feed's settings (always present after construction)."""
        assert self.feed is not None
        return self.feed

    @property
    def pages(self) -> WebSettings:
        """The web app's settings (always present after construction)."""
        assert self.web is not None
        return self.web


def local_secret(secret: str | None, path: Path) -> str:
    """The HS256 secret: ``secret`` (``KASDA_JWT_SECRET``), else the one in the file ``path``
    (``KASDA_JWT_SECRET_FILE``, default ``kasda-jwt.key`` in the working folder), created (mode
    0600) on first use so that ``kasda serve`` and ``kasda token`` agree on a development machine."""
    if secret:
        return secret
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()
