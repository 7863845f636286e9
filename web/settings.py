"""What the web app needs beyond the API's settings; ``kasda/settings.py`` builds it (the one table
of environment variables) and hands it down as ``ApiSettings.web``."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ledger.errors import InvalidInput
from ledger.roles import Role

DEFAULT_SESSION_TTL = 8 * 3600  # a working day: then the user signs in again
MAX_SESSION_TTL = 24 * 3600
MIN_SESSION_SECRET_BYTES = 32
# Not a registered prefix: a pemda that publishes OCDS registers its own with the Open Contracting
# Partnership (``ocds-`` and six characters) and sets KASDA_OCDS_PREFIX (docs/opendata.md).
DEFAULT_OCDS_PREFIX = "ocds-kasda"
_OCDS_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


@dataclass(frozen=True, slots=True)
class DemoUser:
    """One user the demo sign-in page offers (demo mode only)."""

    user_id: str
    role: Role
    pemda: str
    skpd: str | None = None
    npwp: str | None = None
    label: str = ""  # who this is, e.g. the vendor's name or the SKPD's


# -- production sign-in (web/oidc.py) -------------------------------------------------------------
DEFAULT_OIDC_SCOPES = "openid profile"
DEFAULT_OIDC_TIMEOUT = 5.0  # seconds for each call to the identity provider
DEFAULT_ROLE_CLAIM = "role"
DEFAULT_PEMDA_CLAIM = "pemda"
DEFAULT_SKPD_CLAIM = "skpd"
DEFAULT_NPWP_CLAIM = "npwp"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def https_or_loopback(url: str) -> bool:
    """Whether ``url`` may be one of the IdP's: https, or http on this machine (tests, a local
    IdP). The IdP's keys and kasda's client secret travel there: over plain http anyone on the
    way could read the secret or sign people in."""
    parts = urlsplit(url)
    local_http = parts.scheme == "http" and parts.hostname in _LOOPBACK
    return bool(parts.hostname) and (parts.scheme == "https" or local_http)


@dataclass(frozen=True, kw_only=True)
class OidcSettings:
    """The pemda's identity provider, for sign-in by OpenID Connect (authorisation code + PKCE).

    ``client_secret`` None: kasda is a public client (PKCE alone), else it authenticates at the
    token endpoint with HTTP Basic (``client_secret_basic``). The ``*_claim`` names say which claim
    of the IdP's id_token carries kasda's role, pemda, SKPD and NPWP (a dotted name reads a nested
    claim: ``kasda.role``). The user is always the token's ``sub``, as the API's (``api.auth``):
    one person must be one user id in both, or separation of duties could be walked around.
    ``public_url`` is where people reach kasda (the redirect URI is built from it); None: from each
    request."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: str = DEFAULT_OIDC_SCOPES
    role_claim: str = DEFAULT_ROLE_CLAIM
    pemda_claim: str = DEFAULT_PEMDA_CLAIM
    skpd_claim: str = DEFAULT_SKPD_CLAIM
    npwp_claim: str = DEFAULT_NPWP_CLAIM
    public_url: str | None = None
    timeout_seconds: float = DEFAULT_OIDC_TIMEOUT
    leeway_seconds: int = 30

    def __post_init__(self) -> None:
        if not https_or_loopback(self.issuer):
            raise InvalidInput(
                f"KASDA_OIDC_ISSUER={self.issuer!r} must be an https URL "
                "(http only on 127.0.0.1 or localhost)"
            )
        if self.public_url is not None and urlsplit(self.public_url).scheme not in (
            "http",
            "https",
        ):
            raise InvalidInput(f"KASDA_PUBLIC_URL={self.public_url!r} must be an http(s) URL")
        if not self.client_id.strip():
            raise InvalidInput("KASDA_OIDC_CLIENT_ID must not be empty")
        if "openid" not in self.scopes.split():
            raise InvalidInput(f"KASDA_OIDC_SCOPES must include openid, got {self.scopes!r}")
        if not 0 < self.timeout_seconds <= 60:
            raise InvalidInput("KASDA_OIDC_TIMEOUT must be in (0, 60] seconds")


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    # Signs the session cookie and the CSRF tokens (KASDA_SESSION_SECRET, else derived from the
    # local JWT key, else a key file: ``kasda/settings.py``).
    session_secret: str
    session_ttl_seconds: int = DEFAULT_SESSION_TTL
    # The demo sign-in page lists these (KASDA_DEMO_MODE); empty in production.
    demo_users: tuple[DemoUser, ...] = ()
    # The pemda's identity provider (KASDA_OIDC_*); None: no "Masuk dengan akun pemda".
    oidc: OidcSettings | None = None
    # Where people reach kasda (KASDA_PUBLIC_URL): the open data's own links; None: each request's.
    public_url: str | None = None
    # The OCDS prefix of the open data's ocids (KASDA_OCDS_PREFIX; ``opendata.ocds``).
    ocds_prefix: str = DEFAULT_OCDS_PREFIX

    def __post_init__(self) -> None:
        if len(self.session_secret.encode()) < MIN_SESSION_SECRET_BYTES:
            raise InvalidInput(
                f"the session secret must have at least {MIN_SESSION_SECRET_BYTES} bytes"
            )
        if not _OCDS_PREFIX.fullmatch(self.ocds_prefix):
            raise InvalidInput(
                f"KASDA_OCDS_PREFIX={self.ocds_prefix!r} must be letters, digits and dashes, "
                "like ocds-a1b2c3"
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
