"""Sign-in at the pemda's identity provider (OpenID Connect, code flow with PKCE: ``web/oidc.py``).

``GET /masuk/oidc?next=/path`` sends the browser to the IdP; ``GET /masuk/oidc/kembali`` is where
the IdP sends it back (the redirect URI to register there). Signed in, the answer sets the session
cookie and is a page that moves on to ``next`` (``oidc_continue.html`` says why not a redirect).
A refused sign-in is the sign-in page with the reason (``web.messages``), status 400, 401 or 503,
and no session; the reason's detail is logged too, for the admin who configures the IdP.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from web import session as sessions
from web.deps import PageRefused
from web.messages import Refusal
from web.oidc import FLOW_TTL_SECONDS, OidcClient, SignInRefused, seal, unseal
from web.pages.signin import NextPath, local_path, signin_form
from web.render import page

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

# The flow cookie: state, nonce and PKCE verifier of one sign-in, signed, for FLOW_TTL_SECONDS,
# sent back only to the callback. SameSite=Lax, not Strict like the session: the IdP's answer
# is a top-level navigation from the IdP's site to ours, and a Strict cookie is not sent with a
# navigation that comes from another site, so every sign-in would fail. Lax sends it with such a
# GET and nothing else; the state it holds binds the answer to the browser that asked.
FLOW_COOKIE = "kasda_oidc"
FLOW_PATH = "/masuk/oidc"
NEXT_NOT_LOCAL = "next_not_local"


def client(request: Request) -> OidcClient:
    """The app's relying party (made once: it caches the IdP's discovery document and keys), or
    a 404 page when ``KASDA_OIDC_CLIENT_ID`` is not set."""
    settings = request.app.state.settings.pages.oidc
    if settings is None:
        raise PageRefused(Refusal("not_found", "masuk dengan akun pemda belum dikonfigurasi", 404))
    made: OidcClient | None = getattr(request.app.state, "oidc_client", None)
    if made is None or made.settings is not settings:
        made = OidcClient(settings)
        request.app.state.oidc_client = made
    return made


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"  # as the session cookie (``web.session``)


def _refused(request: Request, refused: SignInRefused, next_path: str = "/beranda") -> Response:
    log.warning("sign-in at the identity provider refused (%s): %s", refused.rule, refused.detail)
    error = Refusal(refused.rule, refused.detail, refused.status)
    response = signin_form(request, next_path, error=error, status=refused.status)
    if refused.status == 503:
        response.headers["Retry-After"] = "30"
    response.delete_cookie(
        FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.get("/masuk/oidc")
async def start(request: Request, next_path: NextPath = "/beranda") -> Response:
    oidc = client(request)
    next_path = next_path or "/beranda"
    if local_path(next_path) != next_path:  # the demo sign-in's rule: never an open redirect
        # Not echoed on the page: a link could put any text there under kasda's name.
        log.warning("sign-in asked to go to another site afterwards: next=%r", next_path[:200])
        detail = "alamat tujuan (next) bukan halaman kasda"
        return _refused(request, SignInRefused(NEXT_NOT_LOCAL, 400, detail))
    try:
        url, flow = await oidc.begin(str(request.base_url), next_path)
    except SignInRefused as refused:
        return _refused(request, refused, next_path)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        seal(flow, request.app.state.settings.pages.session_secret),
        max_age=FLOW_TTL_SECONDS,
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.get("/masuk/oidc/kembali")
async def callback(request: Request) -> Response:
    oidc = client(request)
    secret = request.app.state.settings.pages.session_secret
    try:
        flow = unseal(request.cookies.get(FLOW_COOKIE), secret)
        claims = await oidc.finish(flow, request.query_params)
        principal = oidc.principal(claims)
    except SignInRefused as refused:
        return _refused(request, refused)
    # Not a redirect to ``next``: see the template. ``flow.next`` was checked when the flow
    # began and is signed; checked again all the same.
    response = page(request, "oidc_continue.html", {"next": local_path(flow.next)})
    response.delete_cookie(
        FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=_secure(request)
    )
    sessions.begin(response, principal, request)
    return response
