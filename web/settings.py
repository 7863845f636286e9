"""What the web app needs beyond the API's settings; ``kasda/settings.py`` builds it (the one table
of environment variables) and hands it down as ``ApiSettings.web``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ledger.errors import InvalidInput
from ledger.roles import Role

DEFAULT_SESSION_TTL = 8 * 3600  # a working day: then the user signs in again
MAX_SESSION_TTL = 24 * 3600
MIN_SESSION_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class DemoUser:
    """One user the demo sign-in page offers (demo mode only)."""

    user_id: str
    role: Role
    pemda: str
    skpd: str | None = None
    npwp: str | None = None
    label: str = ""  # who this is, e.g. the vendor's name or the SKPD's


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    # Signs the session cookie and the CSRF tokens (KASDA_SESSION_SECRET, else derived from the
    # local JWT key, else a key file: ``kasda/settings.py``).
    session_secret: str
    session_ttl_seconds: int = DEFAULT_SESSION_TTL
    # The demo sign-in page lists these (KASDA_DEMO_MODE); empty in production.
    demo_users: tuple[DemoUser, ...] = ()

    def __post_init__(self) -> None:
        if len(self.session_secret.encode()) < MIN_SESSION_SECRET_BYTES:
            raise InvalidInput(
                f"the session secret must have at least {MIN_SESSION_SECRET_BYTES} bytes"
            )
        if not 60 <= self.session_ttl_seconds <= MAX_SESSION_TTL:
            raise InvalidInput(
                f"KASDA_SESSION_TTL must be 60..{MAX_SESSION_TTL} seconds, "
                f"got {self.session_ttl_seconds}"
            )

    @property
    def demo(self) -> bool:
        return bool(self.demo_users)


def derived_session_secret(jwt_secret: str) -> str:
    """A session key of its own, derived from the local JWT secret: a session cookie is never a
    valid API token, nor the other way round."""
    return hmac.new(jwt_secret.encode(), b"kasda web session", hashlib.sha256).hexdigest()
