"""Every environment variable kasda reads: one table, read once at start-up and passed down.

``Settings`` names each variable next to its field, with its type, default and meaning;
``Settings.from_env()`` is the only place in kasda that reads the process environment (the AST
scan in tests/test_settings.py keeps it so), and the README's configuration table is this table
(``python -m kasda.settings`` prints it; the same test compares them). An empty value counts as
unset. A malformed value stops the start-up with a ``SettingError`` that names the variable.

Values flow down as constructor parameters: ``open_ledger`` (the store's URL and options),
``timezone`` (``Projector``), ``api`` (``create_app``), ``gateways`` (the payment clients), and
the rest to the command that needs them. This module lives in ``kasda``, the wiring: the packages
below (``ledger``, ``projections``, ``api``, ``gateways``, ``reconciliation``) never import it and
keep their defaults as constants, which this table shows.

The ``eventsourcing`` library reads its own settings (``PERSISTENCE_MODULE``, ``SQLITE_*``,
``POSTGRES_*``, ``CIPHER_*``); kasda sets those in one place, ``ledger.store.env_for_url``, from
``KASDA_DATABASE_URL`` and the options here (``LIBRARY_SETTINGS`` lists them). The library also
merges the process environment under them; what kasda sets wins.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.settings import (
    DEFAULT_MAX_TOKEN_LIFETIME,
    DEFAULT_SECRET_FILE,
    DEFAULT_THREADS,
    SHARED,
    TENANCIES,
)
from feed.settings import (
    DEFAULT_BACKOFF,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_ATTEMPTS,
)
from feed.settings import DEFAULT_TIMEOUT as FEED_TIMEOUT
from gateways.config import DEFAULT_TIMEOUT as GATEWAY_TIMEOUT
from gateways.config import ConfigError
from ledger.connections import DEFAULT_CONNECT_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT
from ledger.errors import InvalidInput
from ledger.store import (
    DEFAULT_DATABASE_URL,
    DEFAULT_TEST_POSTGRES_URL,
    store_options,
    tenant_url,
)
from projections.runner import DEFAULT_TIMEZONE
from web.settings import (
    DEFAULT_NPWP_CLAIM,
    DEFAULT_OCDS_PREFIX,
    DEFAULT_OIDC_SCOPES,
    DEFAULT_OIDC_TIMEOUT,
    DEFAULT_PEMDA_CLAIM,
    DEFAULT_ROLE_CLAIM,
    DEFAULT_SESSION_TTL,
    DEFAULT_SKPD_CLAIM,
)

if TYPE_CHECKING:
    from api.settings import ApiSettings
    from audit.thresholds import Thresholds
    from feed.settings import FeedSettings
    from gateways.config import GatewaySettings
    from ledger.application import Ledger
    from web.settings import DemoUser, OidcSettings, WebSettings

T = TypeVar("T")
SESSION_SECRET_FILE = "kasda-session.key"  # noqa: S105 - a file name, not a secret
FEED_KEY_FILE = "kasda-feed.key"
MAX_DB_WAIT = 3600  # seconds: the longest bound a database wait may be given


class SettingError(InvalidInput, ConfigError):
    """A malformed environment variable: invalid input (``kasda`` exits 2), and a
    ``ConfigError`` for the callers that catch the gateways' configuration errors."""


# -- parsers: (variable name, its text, never empty) -> value ----------------------------------
def _text(name: str, text: str) -> str:
    return text


def _db_seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{name}={text!r} is not a number of seconds") from None
    if not 0 < value <= MAX_DB_WAIT:
        raise SettingError(f"{name}={text!r}: use a number of seconds in (0, {MAX_DB_WAIT}]")
    return value


def _seconds(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SettingError(f"{name} must be a number of seconds") from None


def _whole_seconds(name: str, text: str) -> int:
    if not text.strip().isdecimal():
        raise SettingError(f"{name} must be a number of seconds, got {text!r}")
    return int(text)


def _threads(name: str, text: str) -> int:
    if not text.strip().isdecimal() or not 1 <= int(text) <= 256:
        raise SettingError(f"{name} must be an integer in 1..256, got {text!r}")
    return int(text)


def _flag(name: str, text: str) -> bool:
    flag = text.strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"{name} must be true or false, got {flag!r}")


def _zone(name: str, text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(f"{name}={text!r} is not a time zone (e.g. Asia/Jakarta)") from None
    return text


def _attempts(name: str, text: str) -> int:
    if not text.strip().isdecimal() or not 1 <= int(text) <= 100:
        raise SettingError(f"{name} must be an integer in 1..100, got {text!r}")
    return int(text)


def _tenancy(name: str, text: str) -> str:
    mode = text.strip().lower()
    if mode not in TENANCIES:
        raise SettingError(f"{name}={text!r}: use one of {', '.join(TENANCIES)}")
    return mode


def setting(name: str, default: T, kind: str, meaning: str, parse: Callable[[str, str], T]) -> T:
    """A field of ``Settings`` read from the variable ``name``: one row of the table."""
    row = {"variable": name, "kind": kind, "meaning": meaning, "parse": parse}
    return field(default=default, metadata=row)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """kasda's configuration. ``Settings()`` is every default; ``from_env`` reads the process."""

    # -- the store -------------------------------------------------------------------------------
    database_url: str = setting(
        "KASDA_DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "URL",
        "where events and read models live: `sqlite:///FILE`, "
        "`postgresql://user@host:port/db[?schema=name]` or `memory://`",
        _text,
    )
    tenancy: str = setting(
        "KASDA_TENANCY",
        SHARED,
        "`shared`/`schema`",
        "`shared`: every pemda in the one store of `KASDA_DATABASE_URL`; `schema`: each pemda in "
        "a store of its own beside it (PostgreSQL schema `<schema>_3273`, default `kasda_3273`, "
        "for 32.73; SQLite file `<name>_3273.db`), made by `kasda tenant-add --pemda`, its own "
        "hash chain (`kasda verify --pemda`). See docs/scaling.md",
        _tenancy,
    )
    cipher_key: str | None = setting(
        "KASDA_CIPHER_KEY",
        None,
        "secret",
        "base64 AES key (16, 24 or 32 bytes) that encrypts event bodies at rest (`kasda keygen`); "
        "unset: no encryption. See below",
        _text,
    )
    db_connect_timeout: float = setting(
        "KASDA_DB_CONNECT_TIMEOUT",
        float(DEFAULT_CONNECT_TIMEOUT),
        "seconds",
        "to open a database connection, and to wait for a free one of the writer's pool "
        "(PostgreSQL; at least 2)",
        _db_seconds,
    )
    db_statement_timeout: float = setting(
        "KASDA_DB_STATEMENT_TIMEOUT",
        DEFAULT_STATEMENT_TIMEOUT,
        "seconds",
        "a statement may run in PostgreSQL (`statement_timeout`), and the longest kasda waits "
        "for any answer on a connection; a connection that timed out is closed and replaced, "
        "the request answers 503 with `Retry-After`",
        _db_seconds,
    )
    timezone: str = setting(
        "KASDA_TIMEZONE",
        DEFAULT_TIMEZONE,
        "time zone",
        "the pemda's: which calendar day an event belongs to in reports and reconciliation",
        _zone,
    )
    # -- the HTTP API (api/settings.py) ----------------------------------------------------------
    jwt_secret: str | None = setting(
        "KASDA_JWT_SECRET",
        None,
        "secret",
        "HS256 secret of local tokens (at least 32 bytes); unset: the one in "
        "`KASDA_JWT_SECRET_FILE`",
        _text,
    )
    jwt_secret_file: str = setting(
        "KASDA_JWT_SECRET_FILE",
        DEFAULT_SECRET_FILE,
        "path",
        "the development secret, made (mode 0600) on first use when `KASDA_JWT_SECRET` is unset",
        _text,
    )
    jwks_url: str | None = setting(
        "KASDA_JWKS_URL",
        None,
        "URL",
        "an identity provider's JWKS: its tokens (RS256, ES256, EdDSA) instead of local ones; "
        "needs `KASDA_JWT_ISSUER` and `KASDA_JWT_AUDIENCE`",
        _text,
    )
    jwt_issuer: str | None = setting(
        "KASDA_JWT_ISSUER",
        None,
        "text",
        "the `iss` of accepted tokens (local tokens: `kasda-local`)",
        _text,
    )
    jwt_audience: str | None = setting(
        "KASDA_JWT_AUDIENCE",
        None,
        "text",
        "the `aud` of accepted tokens (local tokens: `kasda`)",
        _text,
    )
    jwt_max_lifetime: int = setting(
        "KASDA_JWT_MAX_LIFETIME",
        DEFAULT_MAX_TOKEN_LIFETIME,
        "seconds",
        "the longest `exp - iat` of an accepted token (60..604800)",
        _whole_seconds,
    )
    api_threads: int = setting(
        "KASDA_API_THREADS",
        DEFAULT_THREADS,
        "integer",
        "threads per API worker for the routes' blocking ledger calls (1..256)",
        _threads,
    )
    # -- the web app (web/settings.py, docs/web.md) ---------------------------------------------
    session_secret: str | None = setting(
        "KASDA_SESSION_SECRET",
        None,
        "secret",
        "signs the web app's session cookies and CSRF tokens (at least 32 bytes); unset: derived "
        "from the local JWT secret, or with `KASDA_JWKS_URL` the file `kasda-session.key` "
        "beside `KASDA_JWT_SECRET_FILE` (made once; set this with several hosts)",
        _text,
    )
    session_ttl: int = setting(
        "KASDA_SESSION_TTL",
        DEFAULT_SESSION_TTL,
        "seconds",
        "how long a web sign-in lasts (60..86400)",
        _whole_seconds,
    )
    demo_mode: bool = setting(
        "KASDA_DEMO_MODE",
        False,
        "true/false",
        "the sign-in page lists the demo's users, one per role (never in production)",
        _flag,
    )
    demo_serve: bool = setting(
        "KASDA_DEMO_SERVE",
        True,
        "true/false",
        "`kasda demo` (`make demo`) serves the web app in demo mode at http://127.0.0.1:8000 "
        "after building, until Ctrl-C; only on a terminal: otherwise, or when false, it builds "
        "and exits",
        _flag,
    )
    # -- production sign-in to the web app (web/oidc.py, docs/web.md) ------------------------------
    oidc_issuer: str | None = setting(
        "KASDA_OIDC_ISSUER",
        None,
        "URL",
        "the pemda identity provider's issuer for sign-in to the web app (OpenID Connect, code "
        "flow with PKCE; https, http only on 127.0.0.1); unset: `KASDA_JWT_ISSUER` when "
        "`KASDA_JWKS_URL` is set",
        _text,
    )
    oidc_client_id: str | None = setting(
        "KASDA_OIDC_CLIENT_ID",
        None,
        "text",
        "kasda's client id at that identity provider (the id_token's `aud`); set: the sign-in "
        "page offers *Masuk dengan akun pemda*",
        _text,
    )
    oidc_client_secret: str | None = setting(
        "KASDA_OIDC_CLIENT_SECRET",
        None,
        "secret",
        "the client's secret, sent to the token endpoint by HTTP Basic; unset: a public client "
        "(PKCE alone)",
        _text,
    )
    oidc_scopes: str = setting(
        "KASDA_OIDC_SCOPES",
        DEFAULT_OIDC_SCOPES,
        "text",
        "the scopes asked for, space-separated (must include `openid`)",
        _text,
    )
    oidc_role_claim: str = setting(
        "KASDA_OIDC_ROLE_CLAIM",
        DEFAULT_ROLE_CLAIM,
        "text",
        "the id_token claim with the kasda role (`ppk`, `vendor`, ...; a dotted name reads a "
        "nested claim: `kasda.role`); the user is always `sub`, as in the API",
        _text,
    )
    oidc_pemda_claim: str = setting(
        "KASDA_OIDC_PEMDA_CLAIM",
        DEFAULT_PEMDA_CLAIM,
        "text",
        "the id_token claim with the pemda's Kemendagri code (`32.73`)",
        _text,
    )
    oidc_skpd_claim: str = setting(
        "KASDA_OIDC_SKPD_CLAIM",
        DEFAULT_SKPD_CLAIM,
        "text",
        "the id_token claim with the SKPD code of a PPTK, bendahara, PPK or PA/KPA",
        _text,
    )
    oidc_npwp_claim: str = setting(
        "KASDA_OIDC_NPWP_CLAIM",
        DEFAULT_NPWP_CLAIM,
        "text",
        "the id_token claim with a vendor user's NPWP",
        _text,
    )
    oidc_timeout: float = setting(
        "KASDA_OIDC_TIMEOUT",
        DEFAULT_OIDC_TIMEOUT,
        "seconds",
        "for each call to the identity provider (discovery, token, keys; at most 60); past it "
        "the sign-in page says the provider cannot be reached",
        _seconds,
    )
    public_url: str | None = setting(
        "KASDA_PUBLIC_URL",
        None,
        "URL",
        "where people reach kasda (`https://kasda.example.go.id`); the redirect URI to register "
        "at the identity provider is this + `/masuk/oidc/kembali`; unset: each request's own",
        _text,
    )
    ocds_prefix: str = setting(
        "KASDA_OCDS_PREFIX",
        DEFAULT_OCDS_PREFIX,
        "text",
        "the prefix of the ocids in the open data's `ocds.json` (`/publik/data/`); the default is "
        "NOT registered: a pemda publishing OCDS registers its own (`ocds-` and six characters) "
        "with the Open Contracting Partnership. See docs/opendata.md",
        _text,
    )
    # -- the payment gateways (gateways/config.py, docs/gateways.md) -----------------------------
    midtrans_production: bool = setting(
        "KASDA_MIDTRANS_PRODUCTION",
        False,
        "true/false",
        "Midtrans' production base URLs, every key required, only https URLs accepted",
        _flag,
    )
    midtrans_server_key: str | None = setting(
        "KASDA_MIDTRANS_SERVER_KEY",
        None,
        "secret",
        "Snap / Core API server key; also the key of payment notification signatures",
        _text,
    )
    midtrans_client_key: str | None = setting(
        "KASDA_MIDTRANS_CLIENT_KEY",
        None,
        "secret",
        "Snap client key (front end only)",
        _text,
    )
    iris_creator_key: str | None = setting(
        "KASDA_IRIS_CREATOR_KEY",
        None,
        "secret",
        "Iris API key of the creator (maker): creates payouts, validates accounts, manages "
        "beneficiaries",
        _text,
    )
    iris_approver_key: str | None = setting(
        "KASDA_IRIS_APPROVER_KEY",
        None,
        "secret",
        "Iris API key of the approver (checker); must differ from the creator's",
        _text,
    )
    iris_merchant_key: str | None = setting(
        "KASDA_IRIS_MERCHANT_KEY",
        None,
        "secret",
        "Iris merchant key: signs payout notifications (`Iris-Signature`)",
        _text,
    )
    midtrans_core_url: str | None = setting(
        "KASDA_MIDTRANS_CORE_URL",
        None,
        "URL",
        "Core API base; unset: `https://api.sandbox.midtrans.com` "
        "(production: `https://api.midtrans.com`)",
        _text,
    )
    midtrans_snap_url: str | None = setting(
        "KASDA_MIDTRANS_SNAP_URL",
        None,
        "URL",
        "Snap base; unset: `https://app.sandbox.midtrans.com/snap/v1` "
        "(production: `https://app.midtrans.com/snap/v1`)",
        _text,
    )
    iris_url: str | None = setting(
        "KASDA_IRIS_URL",
        None,
        "URL",
        "Iris base (`/api/v1/...` is appended); unset: `https://app.sandbox.midtrans.com/iris` "
        "(production: `https://app.midtrans.com/iris`)",
        _text,
    )
    gateway_timeout: float = setting(
        "KASDA_GATEWAY_TIMEOUT",
        GATEWAY_TIMEOUT,
        "seconds",
        "before a gateway call raises `GatewayTimeout`",
        _seconds,
    )
    # -- the event feed (feed/, docs/feed.md) ---------------------------------------------------
    feed_key: str | None = setting(
        "KASDA_FEED_KEY",
        None,
        "secret",
        "the server's feed key (at least 32 bytes): each subscriber's signing secret and pull "
        "token are HMAC-SHA256 of it (never stored); unset: derived from the local JWT secret, or "
        "with `KASDA_JWKS_URL` the file `kasda-feed.key` beside `KASDA_JWT_SECRET_FILE` (made "
        "once; set this with several hosts). Changing it changes every subscriber's secret",
        _text,
    )
    feed_dispatch: bool = setting(
        "KASDA_FEED_DISPATCH",
        True,
        "true/false",
        "`kasda serve` runs the feed's dispatcher (one sends per store, by a lease in the "
        "database); false: run `kasda feed-dispatch` instead, or no webhooks at all",
        _flag,
    )
    feed_timeout: float = setting(
        "KASDA_FEED_TIMEOUT",
        FEED_TIMEOUT,
        "seconds",
        "for each webhook delivery: to connect, to send, and for each read of the answer (at most "
        "60); past it the attempt failed",
        _seconds,
    )
    feed_max_attempts: int = setting(
        "KASDA_FEED_MAX_ATTEMPTS",
        DEFAULT_MAX_ATTEMPTS,
        "integer",
        "attempts to deliver one event before it is a dead letter (1..100)",
        _attempts,
    )
    feed_backoff: float = setting(
        "KASDA_FEED_BACKOFF",
        DEFAULT_BACKOFF,
        "seconds",
        "the wait before the second attempt; doubles with each further one, jittered to 50-100%",
        _seconds,
    )
    feed_backoff_max: float = setting(
        "KASDA_FEED_BACKOFF_MAX",
        DEFAULT_BACKOFF_MAX,
        "seconds",
        "the longest wait between two attempts",
        _seconds,
    )
    # -- signed checkpoints (kasda checkpoint, kasda verify) -------------------------------------
    signing_key: str | None = setting(
        "KASDA_SIGNING_KEY",
        None,
        "secret",
        "Ed25519 seed that signs checkpoints (`kasda signing-key`); keep it off the database host",
        _text,
    )
    verify_key: str | None = setting(
        "KASDA_VERIFY_KEY",
        None,
        "text",
        "the public key checkpoints must be signed with (`kasda verify`)",
        _text,
    )
    # -- the nightly reconciliation (kasda reconcile --nightly) ----------------------------------
    recon_inbox: str | None = setting(
        "KASDA_RECON_INBOX",
        None,
        "path",
        "folder with `bank/` and `gateway/` daily files for `--nightly`",
        _text,
    )
    recon_out: str | None = setting(
        "KASDA_RECON_OUT",
        None,
        "path",
        "folder that gets one report folder per night for `--nightly`",
        _text,
    )
    # -- red flags (audit/, docs/red-flags.md) ---------------------------------------------------
    redflags_file: str | None = setting(
        "KASDA_REDFLAGS_FILE",
        None,
        "path",
        "the pemda's red-flag thresholds (TOML): any value of `audit/thresholds.toml`, for every "
        'pemda at the top level or under `[pemda."<code>".<table>]`; unset: the defaults',
        _text,
    )
    # -- the test suite and benchmarks ------------------------------------------------------------
    test_postgres_url: str = setting(
        "KASDA_TEST_POSTGRES_URL",
        DEFAULT_TEST_POSTGRES_URL,
        "URL",
        "server for the PostgreSQL tests and benchmarks (each test makes its own schema)",
        _text,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``environ`` (default: this process's environment): each variable
        parsed, or its default when unset or empty."""
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for column in fields(cls):
            text = source.get(column.metadata["variable"], "")
            if text.strip():
                values[column.name] = column.metadata["parse"](column.metadata["variable"], text)
        return cls(**values)

    # -- what flows down -------------------------------------------------------------------------
    def ledger_env(self) -> dict[str, str]:
        """The store's options for ``Ledger(url, env=...)``: cipher key and bounded waits."""
        return store_options(
            cipher_key=self.cipher_key,
            connect_timeout=self.db_connect_timeout,
            statement_timeout=self.db_statement_timeout,
        )

    def store_url(self, pemda: str | None = None) -> str:
        """The URL of ``pemda``'s store: ``KASDA_DATABASE_URL`` itself when tenancy is shared,
        else the pemda's own (``ledger.store.tenant_url``), which then needs the pemda."""
        if self.tenancy == SHARED:
            return self.database_url
        if pemda is None:
            raise SettingError(f"KASDA_TENANCY={self.tenancy}: name the pemda (--pemda 32.73)")
        return tenant_url(self.database_url, pemda)

    def for_pemda(self, pemda: str | None) -> Settings:
        """These settings for a command about ``pemda`` alone: with a store per pemda, its store
        becomes ``database_url`` (and tenancy shared: this process sees that one store). The CLI
        passes every command's ``--pemda`` through here, so that ``open_ledger`` is the one door."""
        if self.tenancy == SHARED or pemda is None:
            return self
        return replace(self, database_url=self.store_url(pemda), tenancy=SHARED)

    def open_ledger(self, url: str | None = None, **options: Any) -> Ledger:
        """The ledger at ``url`` (default: the store of ``KASDA_DATABASE_URL``; with a store per
        pemda, ``for_pemda`` first) with the store's options."""
        from ledger.application import Ledger

        return Ledger(url or self.store_url(), env=self.ledger_env(), **options)

    def thresholds(self, pemda: str) -> Thresholds:
        """The red-flag thresholds of ``pemda``: the defaults, with ``KASDA_REDFLAGS_FILE``'s."""
        from audit.thresholds import load

        return load(pemda, self.redflags_file)

    def api(self) -> ApiSettings:
        """The HTTP API's settings: local tokens (making the development key file once) unless
        ``KASDA_JWKS_URL`` names an identity provider. ``InvalidInput`` or ``ConfigError`` when a
        key or a gateway setting does not hold."""
        from api.settings import DEFAULT_AUDIENCE, LOCAL_ISSUER, ApiSettings, local_secret

        common: dict[str, Any] = {
            "database_url": self.database_url,
            "gateway_settings": self.gateways(),
            "threads": self.api_threads,
            "max_token_lifetime_seconds": self.jwt_max_lifetime,
            "ledger_env": self.ledger_env(),
            "timezone": self.timezone,
            "redflags_file": self.redflags_file,
            "tenancy": self.tenancy,
        }
        if self.jwks_url is not None:
            common["web"] = self.web(None)
            common["feed"] = self.feed(None)
            if not self.jwt_issuer or not self.jwt_audience:
                raise InvalidInput("KASDA_JWKS_URL needs KASDA_JWT_ISSUER and KASDA_JWT_AUDIENCE")
            return ApiSettings(
                jwks_url=self.jwks_url, issuer=self.jwt_issuer, audience=self.jwt_audience, **common
            )
        secret = local_secret(self.jwt_secret, Path(self.jwt_secret_file))
        common["web"] = self.web(secret)
        common["feed"] = self.feed(secret)
        return ApiSettings(
            jwt_secret=secret,
            issuer=self.jwt_issuer or LOCAL_ISSUER,
            audience=self.jwt_audience or DEFAULT_AUDIENCE,
            **common,
        )

    def web(self, jwt_secret: str | None) -> WebSettings:
        """The web app's settings: its session key (``KASDA_SESSION_SECRET``, else derived from
        the local JWT secret), in demo mode the demo's sign-in users, and the pemda's identity
        provider (``oidc``)."""
        from api.settings import local_secret
        from web.settings import WebSettings, derived_session_secret

        if self.session_secret:
            key = self.session_secret
        elif jwt_secret:
            key = derived_session_secret(jwt_secret)
        else:  # an IdP's tokens: a development key file beside the JWT one, made once
            key = local_secret(None, Path(self.jwt_secret_file).with_name(SESSION_SECRET_FILE))
        users = demo_users(self.database_url) if self.demo_mode else ()
        return WebSettings(session_secret=key, session_ttl_seconds=self.session_ttl,
                           demo_users=users, oidc=self.oidc(), public_url=self.public_url,
                           ocds_prefix=self.ocds_prefix)  # fmt: skip

    def feed(self, jwt_secret: str | None) -> FeedSettings:
        """The event feed's settings: its key (``KASDA_FEED_KEY``, else derived from the local
        JWT secret, else a development key file), delivery bounds and whether to dispatch."""
        from api.settings import local_secret
        from feed.settings import FeedSettings, derived_feed_key

        if self.feed_key:
            key = self.feed_key
        elif jwt_secret:
            key = derived_feed_key(jwt_secret)
        else:
            key = local_secret(None, Path(self.jwt_secret_file).with_name(FEED_KEY_FILE))
        try:
            return FeedSettings(key=key, timeout=self.feed_timeout,
                                max_attempts=self.feed_max_attempts, backoff=self.feed_backoff,
                                backoff_max=self.feed_backoff_max,
                                dispatch=self.feed_dispatch)  # fmt: skip
        except InvalidInput as error:
            raise SettingError(error.message) from None

    def oidc(self) -> OidcSettings | None:
        """Production sign-in to the web app, or None when ``KASDA_OIDC_CLIENT_ID`` is unset.
        The issuer defaults to the API's identity provider (``KASDA_JWT_ISSUER`` with
        ``KASDA_JWKS_URL``): people sign in where the API's tokens come from."""
        from web.settings import OidcSettings

        if self.oidc_client_id is None:
            if self.oidc_issuer is not None:
                raise SettingError("KASDA_OIDC_ISSUER needs KASDA_OIDC_CLIENT_ID")
            return None
        issuer = self.oidc_issuer or (self.jwt_issuer if self.jwks_url else None)
        if issuer is None:
            raise SettingError(
                "KASDA_OIDC_CLIENT_ID needs KASDA_OIDC_ISSUER (or KASDA_JWKS_URL with "
                "KASDA_JWT_ISSUER)"
            )
        try:
            return OidcSettings(
                issuer=issuer,
                client_id=self.oidc_client_id,
                client_secret=self.oidc_client_secret,
                scopes=self.oidc_scopes,
                role_claim=self.oidc_role_claim,
                pemda_claim=self.oidc_pemda_claim,
                skpd_claim=self.oidc_skpd_claim,
                npwp_claim=self.oidc_npwp_claim,
                public_url=self.public_url,
                timeout_seconds=self.oidc_timeout,
            )
        except InvalidInput as error:
            raise SettingError(error.message) from None

    def gateways(self) -> GatewaySettings:
        """The payment gateways' settings. In production every key is required."""
        from gateways.config import configure

        keys = {
            "KASDA_MIDTRANS_SERVER_KEY": self.midtrans_server_key or "",
            "KASDA_IRIS_CREATOR_KEY": self.iris_creator_key or "",
            "KASDA_IRIS_APPROVER_KEY": self.iris_approver_key or "",
            "KASDA_IRIS_MERCHANT_KEY": self.iris_merchant_key or "",
        }
        missing = [name for name, value in keys.items() if not value]
        if self.midtrans_production and missing:
            raise ConfigError(f"production needs {', '.join(missing)}")
        return configure(
            production=self.midtrans_production,
            server_key=keys["KASDA_MIDTRANS_SERVER_KEY"],
            iris_creator_key=keys["KASDA_IRIS_CREATOR_KEY"],
            iris_approver_key=keys["KASDA_IRIS_APPROVER_KEY"],
            iris_merchant_key=keys["KASDA_IRIS_MERCHANT_KEY"],
            client_key=self.midtrans_client_key or "",
            core_url=self.midtrans_core_url,
            snap_url=self.midtrans_snap_url,
            iris_url=self.iris_url,
            timeout_seconds=self.gateway_timeout,
        )


# -- the table, as the README shows it -----------------------------------------------------------
def variables() -> list[Field[Any]]:
    """The table's rows: one field of ``Settings`` per environment variable, in order."""
    return list(fields(Settings))


def shown(value: object) -> str:
    """A default as the table writes it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


@dataclass(frozen=True)
class LibrarySetting:
    """One of the ``eventsourcing`` library's settings that kasda sets (ledger/store.py)."""

    name: str
    value: str
    source: str


LIBRARY_SETTINGS: tuple[LibrarySetting, ...] = (
    LibrarySetting(
        "PERSISTENCE_MODULE",
        "`eventsourcing.popo`, `.sqlite` or `.postgres`",
        "the scheme of `KASDA_DATABASE_URL`",
    ),
    LibrarySetting(
        "APPLICATION_RECORDER_TOPIC",
        "`ledger.chained:Chained...ApplicationRecorder`",
        "SQLite and PostgreSQL: kasda's recorders, which extend the hash chain",
    ),
    LibrarySetting("SQLITE_DBNAME", "the file", "`sqlite:///FILE`"),
    LibrarySetting("SQLITE_LOCK_TIMEOUT", "`30`", "seconds a writer waits for another"),
    LibrarySetting("POSTGRES_DBNAME", "the database (default `postgres`)", "the URL"),
    LibrarySetting("POSTGRES_HOST", "the host (default `127.0.0.1`)", "the URL"),
    LibrarySetting("POSTGRES_PORT", "the port (default `5432`)", "the URL"),
    LibrarySetting("POSTGRES_USER", "the user (default `postgres`)", "the URL"),
    LibrarySetting("POSTGRES_PASSWORD", "the password (default none)", "the URL"),
    LibrarySetting("POSTGRES_SCHEMA", "the schema (made if missing)", "`?schema=` of the URL"),
    LibrarySetting(
        "POSTGRES_CONNECT_TIMEOUT", "whole seconds, at least 2", "`KASDA_DB_CONNECT_TIMEOUT`"
    ),
    LibrarySetting(
        "POSTGRES_STATEMENT_TIMEOUT",
        "seconds (kasda's own; the library ignores it)",
        "`KASDA_DB_STATEMENT_TIMEOUT`",
    ),
    LibrarySetting("POSTGRES_LOCK_TIMEOUT", "`10`", "seconds to wait for the events table's lock"),
    LibrarySetting("POSTGRES_POOL_SIZE", "`4`", "the writer's connections per process"),
    LibrarySetting("CIPHER_TOPIC", "`ledger.cipher:LedgerCipher`", "`KASDA_CIPHER_KEY` is set"),
    LibrarySetting("CIPHER_KEY", "the key", "`KASDA_CIPHER_KEY`"),
    LibrarySetting(
        "COMPRESSOR_TOPIC",
        "`eventsourcing.compressor:ZlibCompressor`",
        "`KASDA_CIPHER_KEY` is set on PostgreSQL",
    ),
)


def table() -> list[str]:
    """The README's configuration table, line by line."""
    lines = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for column in variables():
        meta = column.metadata
        lines.append(
            f"| `{meta['variable']}` | {meta['kind']} | {shown(column.default)} | {meta['meaning']} |"
        )
    return lines


def library_table() -> list[str]:
    """The README's table of the library settings kasda sets, line by line."""
    lines = ["| library setting | value | set from |", "|---|---|---|"]
    lines += [f"| `{s.name}` | {s.value} | {s.source} |" for s in LIBRARY_SETTINGS]
    return lines


if __name__ == "__main__":  # print the tables for the README
    sys.stdout.write("\n".join([*table(), "", *library_table()]) + "\n")


def demo_users(database_url: str) -> tuple[DemoUser, ...]:
    """The demo's users (``kasda.demo.users``) for the demo sign-in page of this store."""
    from kasda.demo.users import stamped_sign_ins

    return stamped_sign_ins(database_url)
