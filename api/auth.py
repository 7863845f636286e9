"""Bearer JWT authentication and role / tenant guards.

A token says who the user is (``sub``), which role they act in (``role``, a ``ledger.roles.Role``
value), which pemda they belong to (``pemda``), for the officials of a spending unit (PPTK,
bendahara, PPK, PA/KPA) which SKPD they act for (``skpd``, its code; required for those roles and
ignored for the pemda-wide ones) and, for vendors, their NPWP (``npwp``). Tokens are
signed locally with HS256 (``KASDA_JWT_SECRET``) or by an external identity provider whose keys are
published as a JWKS document (``KASDA_JWKS_URL``, with ``KASDA_JWT_ISSUER`` and
``KASDA_JWT_AUDIENCE``).

Every route lives under ``/pemda/{pemda}``. A token for another pemda gets 404 (``tenant_scope``): the
API does not say whether that pemda is served here. A token whose role may not use a route gets 403.
An official of one SKPD sees and acts on its own SKPD's lines and payments only: another SKPD's
payment or line named by id is a 403 (``skpd_scope``, the ledger's rule), and lists, queues and
reports leave other SKPDs out (``Principal.sees``).

The token is checked before anything else about the request (``authenticate``, called by
``api.edge.EdgeGuard`` for every ``/pemda/`` route): an unauthenticated request is a 401 even when
its body or parameters are wrong too. A token must say when it was issued (``iat``) and expire
(``exp``) within ``ApiSettings.max_token_lifetime_seconds`` of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import anyio
import jwt
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

from api.problems import ProblemError
from api.settings import ApiSettings
from ledger import ids, roles
from ledger.errors import DomainError, InvalidInput
from ledger.fields import name, pemda_code
from ledger.roles import Actor, Role
from ledger.vendor import normalise_npwp

LOCAL_ALGORITHM = "HS256"
IDP_ALGORITHMS = ["RS256", "ES256", "EdDSA"]
DEFAULT_TTL_SECONDS = 8 * 3600
CACHE_SIZE = 10_000
# A JWT of kasda's claims is a few hundred bytes; an IdP's with groups may be a few KiB. Anything
# longer is refused before it is decoded.
MAX_TOKEN_LENGTH = 8 * 1024
# Where ``authenticate`` leaves the request's principal for ``Allow`` (an ASGI scope key).
PRINCIPAL_KEY = "kasda.principal"


class _DocumentedBearer(HTTPBearer):
    """The bearer scheme, named in OpenAPI by every guarded route. The token itself is read once,
    by ``authenticate`` at the edge: parsing the header again into credentials nobody reads cost
    a model per request."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


bearer = _DocumentedBearer(
    auto_error=False, description="A JWT with sub, role, pemda (and skpd, or npwp)"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user of one request."""

    user_id: str
    role: Role
    pemda: str
    npwp: str | None = None
    skpd: str | None = None  # the SKPD of an SKPD-bound role (normalised code); None otherwise

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.role, self.skpd)

    def sees(self, skpd: str) -> bool:
        """Whether this user may see a line or payment of ``skpd`` (``ledger.roles``' rule)."""
        return self.actor.may_act_for(skpd)

    def require_skpd(self, skpd: str, what: str) -> None:
        """403 ``skpd_scope`` unless this user may see a thing of ``skpd``."""
        self.actor.require_skpd(skpd, what)

    @property
    def vendor_id(self) -> UUID | None:
        """The vendor a vendor-role user is, in its pemda; None for every other role."""
        if self.role is not Role.VENDOR or self.npwp is None:
            return None
        return ids.vendor_id(self.pemda, self.npwp)


def _unauthorised(detail: str) -> ProblemError:
    return ProblemError(
        401, "authentication_required", detail, headers={"WWW-Authenticate": "Bearer"}
    )


class TokenVerifier:
    """Checks a token's signature, expiry, issuer and audience, then its kasda claims."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwks_url
            else None
        )
        self._seen: dict[str, tuple[Principal, float]] = {}

    @property
    def needs_io(self) -> bool:
        return self._jwks is not None

    def verify(self, token: str) -> Principal:
        """The token's principal; a token seen before is answered from a small cache until its
        ``exp`` (checking an HS256 signature costs about as much as reading a payment)."""
        cached = self._seen.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        who, expires = self._verify(token)
        if len(self._seen) >= CACHE_SIZE:
            self._seen.clear()
        self._seen[token] = (who, expires)
        return who

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            if self._jwks is None:
                key: Any = self.settings.jwt_secret
                algorithms = [LOCAL_ALGORITHM]
            else:
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = IDP_ALGORITHMS
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWKClientError as error:
            raise _unauthorised(f"no key to check this token: {error}") from None
        except jwt.PyJWTError as error:
            raise _unauthorised(f"invalid token: {error}") from None
        lifetime = float(claims["exp"]) - float(claims["iat"])
        if lifetime > self.settings.max_token_lifetime_seconds:
            # A stolen long-lived token would stay good (and cached) for that long.
            raise _unauthorised(
                f"the token lives {int(lifetime)} s; at most "
                f"{self.settings.max_token_lifetime_seconds} s are accepted"
            )
        return principal_from_claims(claims), float(claims["exp"]) + self.settings.leeway_seconds


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    sub, role, pemda, npwp, skpd = (claims.get(k) for k in ("sub", "role", "pemda", "npwp", "skpd"))
    if not isinstance(role, str):
        raise _unauthorised("the token has no role claim")
    try:  # the text rules of every name the ledger records (the sub is the events' actor)
        name(sub, "the token's sub", max_length=128)
    except DomainError as error:
        raise _unauthorised(f"invalid token claims: {error.message}") from None
    assert isinstance(sub, str)  # name() refuses anything else
    try:
        parsed_role = Role(str(role))
    except ValueError:
        raise _unauthorised(f"the token's role {role!r} is not a kasda role") from None
    bound = parsed_role in roles.SKPD_BOUND
    if bound and skpd is None:
        raise _unauthorised(f"a token of role {parsed_role.value} needs the skpd claim")
    try:
        tenant = pemda_code(pemda)
        vendor_npwp = normalise_npwp(npwp) if parsed_role is Role.VENDOR else None
        # The ledger's Actor checks and normalises the SKPD code; pemda-wide roles have none.
        actor = Actor(sub, parsed_role, skpd if bound else None)
    except DomainError as error:
        raise _unauthorised(f"invalid token claims: {error.message}") from None
    return Principal(sub, parsed_role, tenant, vendor_npwp, actor.skpd)


def make_token(
    settings: ApiSettings,
    *,
    sub: str,
    role: Role | str,
    pemda: str,
    npwp: str | None = None,
    skpd: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    """A locally signed token (HS256): for ``kasda token``, tests and benchmarks."""
    if settings.jwt_secret is None:
        raise ValueError("tokens can be made only with a local secret (KASDA_JWT_SECRET)")
    if not 1 <= ttl_seconds <= settings.max_token_lifetime_seconds:
        raise InvalidInput(
            f"a token lives 1..{settings.max_token_lifetime_seconds} seconds "
            f"(KASDA_JWT_MAX_LIFETIME), not {ttl_seconds}"
        )
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": Role(role).value,
        "pemda": pemda,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if npwp is not None:
        claims["npwp"] = npwp
    if skpd is not None:
        claims["skpd"] = skpd
    return jwt.encode(claims, settings.jwt_secret, algorithm=LOCAL_ALGORITHM)


async def authenticate(verifier: TokenVerifier, headers: Headers) -> Principal:
    """The principal of a request's ``Authorization: Bearer`` token; ``ProblemError`` 401."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("send 'Authorization: Bearer <token>'")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _unauthorised(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if verifier.needs_io:
        return await anyio.to_thread.run_sync(verifier.verify, token)
    return verifier.verify(token)


PemdaPath = Annotated[
    str,
    Path(
        description="Kemendagri region code of the pemda (tenant), e.g. 32.73 (Kota Bandung)",
        examples=["32.73"],
        max_length=5,
    ),
]


class Allow:
    """Dependency: authenticate, scope to the path's pemda, require one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    @property
    def doc(self) -> dict[str, Any]:
        """``openapi_extra`` naming the roles that may call the route."""
        return {"x-kasda-roles": sorted(r.value for r in self.roles)}

    async def __call__(
        self,
        request: Request,
        pemda: PemdaPath,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        # ``credentials`` documents the scheme in OpenAPI; the edge (``api.edge``) has already
        # authenticated the request, before its body and parameters were looked at.
        who = request.scope.get(PRINCIPAL_KEY)
        if not isinstance(who, Principal):
            who = await authenticate(request.app.state.verifier, request.headers)
        if who.pemda != pemda:
            # Do not reveal whether another pemda is served by this deployment.
            raise ProblemError(404, "tenant_scope", f"no pemda {pemda} for this user")
        if who.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise ProblemError(
                403,
                "role_not_permitted",
                f"this route needs role {allowed}; {who.user_id} acts as {who.role.value}",
            )
        return who


# Who may call what. The write guards are the ledger's own role sets (``ledger.roles``): the edge
# refuses early and clearly, the ledger decides (separation of duties, the step's role at reject).
OFFICIALS = (
    Role.PPTK,
    Role.BENDAHARA,
    Role.PPK,
    Role.PA_KPA,
    Role.KUASA_BUD,
    Role.BPKAD_ADMIN,
    Role.AUDITOR,
)
READ_BOOKS = Allow(*OFFICIALS)
READ_PAYMENTS = Allow(*OFFICIALS, Role.VENDOR, Role.GATEWAY)
READ_AUDIT = Allow(Role.AUDITOR, Role.BPKAD_ADMIN)
# The files handed on to other systems (SIPD, e-Bupot: NPWP in full): the treasury and its auditor.
EXPORT = Allow(Role.BPKAD_ADMIN, Role.KUASA_BUD, Role.AUDITOR)
ANYONE = Allow(*Role)
BUDGET_ADMIN = Allow(*roles.BUDGET_ADMIN)
VENDOR_ADMIN = Allow(*roles.VENDOR_ADMIN)
REQUEST = Allow(*roles.REQUEST)
VERIFY = Allow(*roles.VERIFY)
APPROVE = Allow(*roles.APPROVE)
AUTHORISE = Allow(*roles.AUTHORISE)
REJECT = Allow(*roles.VERIFY, *roles.APPROVE, *roles.AUTHORISE)
CANCEL = Allow(*roles.CANCEL)
GATEWAY = Allow(*roles.GATEWAY)
REVENUE = Allow(*roles.REVENUE)
