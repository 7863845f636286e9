"""Production sign-in: OpenID Connect, authorisation-code flow with PKCE, against the pemda's IdP.

1. ``GET /masuk/oidc?next=/path`` (``web.pages.oidc``): ``OidcClient.begin`` reads the IdP's
   discovery document (``{issuer}/.well-known/openid-configuration``, cached, bounded timeout),
   makes a ``state``, a ``nonce`` and a PKCE ``code_verifier`` and answers the IdP's authorisation
   URL (with the verifier's S256 ``code_challenge``) and the ``Flow`` to keep in the browser's flow
   cookie (``seal``: signed, short-lived; see ``web.pages.oidc`` for its SameSite=Lax).
2. The IdP signs the person in and sends the browser back to ``/masuk/oidc/kembali?code&state``.
   ``OidcClient.finish`` checks the state against the flow cookie's, exchanges the code at the
   token endpoint with the verifier, verifies the id_token (signature by the IdP's JWKS, issuer,
   audience = client id, nonce, exp, iat) and maps its claims to kasda's ``Principal`` by the
   API's own rules (``api.auth.principal_from_claims``). The page then begins the web session.

Every refusal is a ``SignInRefused``: its rule (``web.messages`` says each in plain Indonesian on
the sign-in page), its status (400 an answer that does not belong to this browser's sign-in, 401 an
identity not accepted, 503 the IdP unreachable) and a ``detail``. Nothing here sets a session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

import anyio
import httpx
import jwt

from api.auth import IDP_ALGORITHMS, Principal, principal_from_claims
from api.problems import ProblemError
from web.settings import OidcSettings, https_or_loopback

FLOW_TTL_SECONDS = 600  # from the click on "Masuk dengan akun pemda" to the IdP's answer
DISCOVERY_TTL_SECONDS = 3600
JWKS_TTL_SECONDS = 300  # PyJWKClient fetches again at once for a key id it has not seen
CALLBACK_PATH = "/masuk/oidc/kembali"
_MAX_FLOW_COOKIE = 2048

# The rules a sign-in can be refused by; ``web.messages.RULES`` says each in plain Indonesian.
IDP_UNREACHABLE = "idp_unreachable"  # 503: discovery, token endpoint or keys did not answer
SIGNIN_EXPIRED = "signin_expired"  # 400: no flow cookie, a forged or an old one
SIGNIN_STATE = "signin_state_mismatch"  # 400: the answer is not to this browser's request
IDP_REFUSED = "idp_refused"  # 401: the IdP answered with an error (the person cancelled, ...)
CODE_REFUSED = "idp_code_refused"  # 401: the token endpoint refused the code (PKCE, replay)
ID_REFUSED = "id_token_invalid"  # 401: signature, issuer, audience, nonce, exp, iat
CLAIMS_NOT_KASDA = "idp_claims_not_kasda"  # 401: no kasda role, or no pemda, SKPD, NPWP it needs


class SignInRefused(Exception):
    """Sign-in did not happen, by ``rule``; ``detail`` says why (for the log and the page)."""

    def __init__(self, rule: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.status = status
        self.detail = detail


def unreachable(detail: str) -> SignInRefused:
    return SignInRefused(IDP_UNREACHABLE, 503, detail)


# -- PKCE (RFC 7636) ------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_verifier() -> str:
    """A code_verifier: 86 characters of [A-Za-z0-9_-] (RFC 7636 asks for 43..128)."""
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    """The S256 code_challenge of ``verifier``."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


# -- the flow cookie --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Flow:
    """One sign-in in progress, kept in the browser that began it."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    began: int  # unix seconds

    @classmethod
    def new(cls, redirect_uri: str, next_path: str) -> Flow:
        return cls(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=new_verifier(),
            redirect_uri=redirect_uri,
            next=next_path,
            began=int(time.time()),
        )


def _flow_key(secret: str) -> bytes:
    # Its own key, derived from the session secret: a flow cookie can never pass for a session.
    return hmac.new(secret.encode(), b"kasda web: oidc flow cookie", hashlib.sha256).digest()


def seal(flow: Flow, secret: str) -> str:
    """The cookie value of ``flow``: its JSON, signed (HMAC-SHA256). It holds no credential: the
    verifier is of use only with a code issued for this browser's challenge."""
    body = _b64(json.dumps(asdict(flow), separators=(",", ":")).encode())
    mac = _b64(hmac.new(_flow_key(secret), body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unseal(value: str | None, secret: str, *, now: float | None = None) -> Flow:
    """The flow of a cookie value ``seal`` made, not older than ``FLOW_TTL_SECONDS``."""
    if not value or len(value) > _MAX_FLOW_COOKIE or value.count(".") != 1:
        raise SignInRefused(SIGNIN_EXPIRED, 400, "no (well-formed) flow cookie")
    body, mac = value.split(".")
    expected = _b64(hmac.new(_flow_key(secret), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), expected.encode()):  # bytes: any text compares
        raise SignInRefused(SIGNIN_EXPIRED, 400, "the flow cookie's signature does not hold")
    try:
        flow = Flow(**json.loads(_unb64(body)))
    except (ValueError, TypeError) as error:
        raise SignInRefused(SIGNIN_EXPIRED, 400, f"unreadable flow cookie: {error}") from None
    age = (time.time() if now is None else now) - flow.began
    if not 0 <= age <= FLOW_TTL_SECONDS:
        raise SignInRefused(SIGNIN_EXPIRED, 400, f"the flow began {int(age)} s ago")
    return flow


# -- the identity provider ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Provider:
    """What kasda uses of the IdP's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str

    @classmethod
    def from_document(cls, document: Any, issuer: str) -> Provider:
        """The provider of a discovery document, which must name ``issuer`` exactly (OpenID
        Connect Discovery 1.0, 4.3) and the three endpoints."""
        if not isinstance(document, dict):
            raise unreachable("the discovery document is not a JSON object")
        names = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        values = [document.get(name) for name in names]
        missing = [n for n, v in zip(names, values, strict=True) if not isinstance(v, str) or not v]
        if missing:
            raise unreachable(f"the discovery document lacks {', '.join(missing)}")
        if document["issuer"] != issuer:
            raise unreachable(f"the discovery document's issuer is {document['issuer']!r}")
        unsafe = [n for n, v in zip(names, values, strict=True) if not https_or_loopback(str(v))]
        if unsafe:
            raise unreachable(f"the discovery document's {', '.join(unsafe)} is not https")
        return cls(*(str(value) for value in values))


def lookup(claims: Mapping[str, Any], name: str) -> Any:
    """The claim ``name`` of ``claims``; a dotted name (``kasda.role``) reads a nested claim when
    there is no claim of that very name."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class OidcClient:
    """kasda as a relying party of one IdP. One per app (``web.pages.oidc.client``)."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._provider: tuple[Provider, float] | None = None
        self._jwks: jwt.PyJWKClient | None = None

    @property
    def discovery_url(self) -> str:
        return self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def redirect_uri(self, request_base: str) -> str:
        """Where the IdP sends the browser back: ``KASDA_PUBLIC_URL`` (else the request's own
        base URL) + ``CALLBACK_PATH``. It must be registered at the IdP, exactly."""
        return (self.settings.public_url or request_base).rstrip("/") + CALLBACK_PATH

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.settings.timeout_seconds, follow_redirects=False)

    async def provider(self) -> Provider:
        """The IdP's endpoints, from its discovery document (kept ``DISCOVERY_TTL_SECONDS``)."""
        if self._provider is not None and self._provider[1] > time.monotonic():
            return self._provider[0]
        try:
            async with self._http() as http:
                response = await http.get(self.discovery_url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise unreachable(f"{self.discovery_url}: {type(error).__name__}: {error}") from None
        provider = Provider.from_document(document, self.settings.issuer)
        if self._jwks is None or self._jwks.uri != provider.jwks_uri:
            self._jwks = jwt.PyJWKClient(
                provider.jwks_uri,
                cache_keys=True,
                lifespan=JWKS_TTL_SECONDS,
                timeout=int(max(1, self.settings.timeout_seconds)),
            )
        self._provider = (provider, time.monotonic() + DISCOVERY_TTL_SECONDS)
        return provider

    async def begin(self, request_base: str, next_path: str) -> tuple[str, Flow]:
        """The IdP's authorisation URL to send the browser to, and the flow to keep in it;
        ``next_path`` (a local path: the page checks it) is where the person goes afterwards."""
        flow = Flow.new(self.redirect_uri(request_base), next_path)
        provider = await self.provider()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": flow.redirect_uri,
                "scope": self.settings.scopes,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": code_challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return f"{provider.authorization_endpoint}{separator}{query}", flow

    async def finish(self, flow: Flow, params: Mapping[str, str]) -> dict[str, Any]:
        """The verified claims of the IdP's answer ``params`` (the callback's query) to ``flow``."""
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise SignInRefused(SIGNIN_STATE, 400, "the state is not the flow cookie's")
        if "error" in params:
            error = params["error"][:100]
            raise SignInRefused(IDP_REFUSED, 401, f"the IdP answered error={error!r}")
        code = params.get("code", "")
        if not code:
            raise SignInRefused(SIGNIN_STATE, 400, "the IdP's answer has no code")
        provider = await self.provider()
        id_token = await self._exchange(provider, flow, code)
        return await anyio.to_thread.run_sync(self._verify, provider, id_token, flow.nonce)

    async def _exchange(self, provider: Provider, flow: Flow, code: str) -> str:
        """The id_token the token endpoint gives for ``code`` and the flow's verifier."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.redirect_uri,
            "code_verifier": flow.verifier,
        }
        headers = {"Accept": "application/json"}
        secret = self.settings.client_secret
        if secret is None:  # a public client: PKCE alone
            form["client_id"] = self.settings.client_id
        else:  # client_secret_basic: id and secret form-encoded first (RFC 6749, 2.3.1)
            pair = f"{quote_plus(self.settings.client_id)}:{quote_plus(secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with self._http() as http:
                response = await http.post(provider.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as error:
            raise unreachable(f"token endpoint: {type(error).__name__}: {error}") from None
        if response.status_code != 200:
            detail = f"token endpoint answered {response.status_code}: {response.text[:300]}"
            raise SignInRefused(CODE_REFUSED, 401, detail)
        try:
            id_token = response.json().get("id_token")
        except (ValueError, AttributeError):
            id_token = None
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused(CODE_REFUSED, 401, "the token endpoint gave no id_token")
        return id_token

    def _verify(self, provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of ``id_token`` (OpenID Connect Core 1.0, 3.1.3.7), or ``SignInRefused``."""
        assert self._jwks is not None  # made with the provider
        client_id = self.settings.client_id
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token).key
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=IDP_ALGORITHMS,
                audience=client_id,
                issuer=provider.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise unreachable(f"JWKS: {error}") from None
        except jwt.PyJWTError as error:  # PyJWKClientError too: no key of that id
            raise SignInRefused(ID_REFUSED, 401, f"id_token: {error}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise SignInRefused(ID_REFUSED, 401, f"id_token: azp is {claims.get('azp')!r}")
        if not hmac.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
            raise SignInRefused(ID_REFUSED, 401, "id_token: the nonce is not the flow's")
        return claims

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """kasda's ``Principal`` of verified claims, by the API's rules: the user is ``sub``; the
        role, pemda, SKPD and NPWP are read from the claims the settings name."""
        settings = self.settings
        named = {
            "role": settings.role_claim,
            "pemda": settings.pemda_claim,
            "skpd": settings.skpd_claim,
            "npwp": settings.npwp_claim,
        }
        mapped = {"sub": claims.get("sub")}
        mapped |= {ours: lookup(claims, theirs) for ours, theirs in named.items()}
        try:
            return principal_from_claims({k: v for k, v in mapped.items() if v is not None})
        except ProblemError as error:
            raise SignInRefused(CLAIMS_NOT_KASDA, 401, error.detail) from None
