"""A small but real OpenID Connect provider, for the tests of kasda's sign-in (``web/oidc.py``).

``Idp(...).running()`` serves it with uvicorn on a free port of 127.0.0.1, in a thread:

- ``/.well-known/openid-configuration`` and ``/jwks`` (an RS256 key made when the ``Idp`` is);
- ``/authorize`` approves the configured ``user`` at once (or, with ``consent``, after a click on
  its page) and sends the browser back to the registered redirect URI with ``code`` and
  ``state``; it requires PKCE (S256) and records each grant's ``code_challenge`` (``grants``);
- ``/token`` authenticates the client (HTTP Basic, or ``client_id`` alone for a public client),
  takes each code once, checks the redirect URI and the ``code_verifier`` against the recorded
  challenge (S256), and answers a signed id_token with the grant's nonce.

What a test wants to go wrong it sets on the ``Idp`` before the flow: ``id_token_claims`` are
written over the claims of the id_tokens it issues (a wrong nonce, audience, issuer, an old exp),
``signing_key`` signs them with another key (under the published key's id), ``deny`` answers the
authorisation request with that OAuth error, ``discovery_fields`` are written over the discovery
document's.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

CODE_TTL_SECONDS = 60
ID_TOKEN_TTL_SECONDS = 300


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Grant:
    """One authorisation the IdP gave: what its code may be exchanged for, and by whom."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    user: dict[str, Any]
    issued: float = field(default_factory=time.time)
    used: bool = False


class Idp:
    """An identity provider with one registered client and one person who signs in.
    ``client_secret`` None: the client is public (it authenticates by PKCE alone)."""

    def __init__(
        self,
        *,
        user: dict[str, Any],
        client_secret: str | None,
        client_id: str = "kasda-web",
        redirect_uris: Sequence[str] = (),
    ) -> None:
        self.user = dict(user)  # the id_token's claims of the person, ``sub`` among them
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self.key = new_key()
        self.kid = "idp-" + secrets.token_hex(4)
        self.signing_key = self.key
        self.id_token_claims: dict[str, Any] = {}
        self.deny: str | None = None
        self.discovery_fields: dict[str, Any] = {}  # written over the discovery document's
        # True: /authorize shows a page with a "Setujui" link first, as a real IdP shows its
        # sign-in form, so that the way back to the client starts on the IdP's site.
        self.consent = False
        self.pending: dict[str, dict[str, str]] = {}
        self.grants: dict[str, Grant] = {}
        self.token_errors: list[str] = []  # why each refused token request was refused
        self.hits: Counter[str] = Counter()  # requests per path
        self.issuer = ""  # http://127.0.0.1:<port>, once running

    # -- the routes ------------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/authorize/setuju", self.approve),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
                "scopes_supported": ["openid", "profile"],
                **self.discovery_fields,
            }
        )

    async def jwks(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

    async def authorize(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        query = dict(request.query_params)
        if (
            query.get("client_id") != self.client_id
            or query.get("redirect_uri") not in self.redirect_uris
        ):
            # Never redirect to a URI not registered for the client: say so to the person.
            return PlainTextResponse("unknown client or redirect_uri", status_code=400)
        if not self.consent:
            return self._answer(query)
        ticket = secrets.token_urlsafe(12)
        self.pending[ticket] = query
        return HTMLResponse(
            f'<!doctype html><title>SSO Pemda</title><a href="/authorize/setuju?tiket={ticket}">'
            "Setujui</a>"
        )

    async def approve(self, request: Request) -> Response:
        """The person's click on the consent page (``consent``): a navigation from this site."""
        query = self.pending.pop(request.query_params.get("tiket", ""), None)
        if query is None:
            return PlainTextResponse("unknown ticket", status_code=400)
        return self._answer(query)

    def _answer(self, query: dict[str, str]) -> Response:
        """Back to the client's redirect URI with a code, or with an OAuth error."""
        redirect_uri = query["redirect_uri"]
        back = {"state": query.get("state", "")}
        if query.get("response_type") != "code":
            back["error"] = "unsupported_response_type"
        elif "openid" not in query.get("scope", "").split():
            back["error"] = "invalid_scope"
        elif not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            back["error"] = "invalid_request"  # PKCE with S256 is required
        elif self.deny:
            back["error"] = self.deny
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                nonce=query.get("nonce"),
                code_challenge=query["code_challenge"],
                code_challenge_method=query["code_challenge_method"],
                user=dict(self.user),
            )
            back["code"] = code
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        self.hits[request.url.path] += 1
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if not self._client_authenticated(request, form):
            return self._refuse("invalid_client", "client authentication failed", 401)
        if form.get("grant_type") != "authorization_code":
            return self._refuse("unsupported_grant_type", "only authorization_code")
        grant = self.grants.get(form.get("code", ""))
        if grant is None:
            return self._refuse("invalid_grant", "unknown code")
        if grant.used:  # a code is good once (RFC 6749, 4.1.2)
            return self._refuse("invalid_grant", "code already used")
        grant.used = True
        if time.time() - grant.issued > CODE_TTL_SECONDS:
            return self._refuse("invalid_grant", "code expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("invalid_grant", "redirect_uri differs from the authorisation's")
        if s256(form.get("code_verifier", "")) != grant.code_challenge:
            return self._refuse("invalid_grant", "PKCE verification failed")
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": ID_TOKEN_TTL_SECONDS,
                "id_token": self.id_token(grant),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _client_authenticated(self, request: Request, form: dict[str, str]) -> bool:
        if self.client_secret is None:  # a public client names itself
            return form.get("client_id") == self.client_id
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            pair = base64.b64decode(encoded, validate=True).decode()
        except ValueError:
            return False
        client_id, _, secret = pair.partition(":")
        return (unquote_plus(client_id), unquote_plus(secret)) == (
            self.client_id,
            self.client_secret,
        )

    def _refuse(self, error: str, description: str, status: int = 400) -> Response:
        self.token_errors.append(description)
        return JSONResponse({"error": error, "error_description": description}, status)

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "azp": grant.client_id,
            "iat": now,
            "auth_time": now,
            "exp": now + ID_TOKEN_TTL_SECONDS,
            **grant.user,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.id_token_claims)
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})

    # -- serving ---------------------------------------------------------------------------------
    @contextmanager
    def running(self, host: str = "127.0.0.1") -> Iterator[Idp]:
        """Serve on 127.0.0.1 (a free port) in a thread until the block ends. ``host`` names it
        in its URLs: ``localhost`` makes it another site than a kasda at 127.0.0.1 in a browser."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.issuer = f"http://{host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app(), log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError("the test IdP did not start")
                time.sleep(0.01)
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
