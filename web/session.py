"""The signed-in user of a browser: a session cookie, and the CSRF token of its forms.

The cookie holds the user's kasda claims (the same ``Principal`` the API builds from a bearer
token), a random session id and an expiry, signed with HS256 under ``WebSettings.session_secret``.
It is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and Secure when
the app is reached over https. Nothing about a session is kept on the server, so every worker
process reads every session; signing out removes the cookie, and a copied cookie stops working at
its expiry (``KASDA_SESSION_TTL``, a working day by default).

CSRF. Every form carries ``csrf``, an HMAC of the session id: a page of another site can neither
read it nor send the cookie (Strict), and a token of one session is worthless in another. Before
sign-in there is no session: the sign-in form's token is a random value also set as a cookie
(double submit), checked the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal, principal_from_claims
from api.problems import ProblemError
from web.settings import WebSettings

COOKIE = "kasda_session"
SIGNIN_COOKIE = "kasda_signin"
ALGORITHM = "HS256"
AUDIENCE = "kasda-web"
# A session cookie is a few hundred bytes; anything much longer is not one of ours.
MAX_COOKIE_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    sid: str
    expires: int  # Unix seconds

    @property
    def user(self) -> str:
        return self.principal.user_id


def _settings(request: Request) -> WebSettings:
    web: WebSettings = request.app.state.settings.pages
    return web


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def begin(response: Response, principal: Principal, request: Request) -> Session:
    """Sign ``principal`` in: set the session cookie on ``response``."""
    web = _settings(request)
    now = int(time.time())
    session = Session(principal, secrets.token_urlsafe(18), now + web.session_ttl_seconds)
    claims: dict[str, Any] = {
        "sub": principal.user_id,
        "role": principal.role.value,
        "pemda": principal.pemda,
        "sid": session.sid,
        "aud": AUDIENCE,
        "iat": now,
        "exp": session.expires,
    }
    if principal.skpd is not None:
        claims["skpd"] = principal.skpd
    if principal.npwp is not None:
        claims["npwp"] = principal.npwp
    token = jwt.encode(claims, web.session_secret, algorithm=ALGORITHM)
    response.set_cookie(
        COOKIE,
        token,
        max_age=web.session_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    return session


def end(response: Response, request: Request) -> None:
    """Sign out: remove the session cookie."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )


def current(request: Request) -> Session | None:
    """The request's session, or None (no cookie, a bad signature, expired, or claims the API
    would refuse). Read once per request and kept on ``request.state``."""
    if hasattr(request.state, "kasda_session"):
        cached: Session | None = request.state.kasda_session
        return cached
    session = _read(request)
    request.state.kasda_session = session
    return session


def _read(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > MAX_COOKIE_LENGTH:
        return None
    try:
        claims = jwt.decode(
            token,
            _settings(request).session_secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "sid"]},
        )
        principal = principal_from_claims(claims)
    except (jwt.PyJWTError, ProblemError):
        return None
    return Session(principal, str(claims["sid"]), int(claims["exp"]))


def csrf_token(request: Request, session: Session | None) -> str:
    """The token the forms of this page carry."""
    if session is None:
        return request.cookies.get(SIGNIN_COOKIE) or ""
    key = _settings(request).session_secret.encode()
    return hmac.new(key, f"csrf|{session.sid}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(request: Request, session: Session | None, sent: str | None) -> bool:
    expected = csrf_token(request, session)
    return bool(expected) and sent is not None and hmac.compare_digest(expected, sent)


def ensure_signin_token(request: Request, response: Response) -> str:
    """The sign-in form's token (double submit): the cookie's, or a new one set on ``response``."""
    token = request.cookies.get(SIGNIN_COOKIE)
    if token and len(token) <= MAX_COOKIE_LENGTH:
        return token
    token = secrets.token_urlsafe(24)
    response.set_cookie(
        SIGNIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )
    return token
