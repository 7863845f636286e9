"""Sign-in and sign-out. Production users sign in at the pemda's identity provider
(``web/pages/oidc.py``); in demo mode (``KASDA_DEMO_MODE``) this page also lists the demo's users,
one per role, to sign in as with one click."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Principal
from ledger.errors import DomainError
from ledger.roles import Actor, Role
from ledger.vendor import normalise_npwp
from web import session as sessions
from web.deps import CheckedForm, PageRefused
from web.messages import Refusal
from web.render import page
from web.settings import DemoUser

router = APIRouter(include_in_schema=False)

NextPath = Annotated[str, Query(alias="next", max_length=2000)]


def local_path(target: str | None) -> str:
    """``target`` if it is a path of this site, else Beranda: never an open redirect. No
    whitespace or control character either: browsers drop tabs and newlines from a URL, so
    ``/<TAB>/evil.example`` in a link or a refresh (``web.pages.oidc``) is ``//evil.example``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/beranda"
    if any(char.isspace() or not char.isprintable() for char in target):
        return "/beranda"
    return target


@router.get("/")
async def root(request: Request) -> Response:
    target = "/beranda" if sessions.current(request) is not None else "/masuk"
    return RedirectResponse(target, status_code=303)


@router.get("/masuk")
async def signin_page(request: Request, next_path: NextPath = "/beranda") -> Response:
    return signin_form(request, next_path)


def signin_form(
    request: Request, next_path: str, *, error: Refusal | None = None, status: int = 200
) -> Response:
    """The sign-in page, with ``error`` (a refused sign-in, ``web.pages.oidc``) above it."""
    response = Response()
    token = sessions.ensure_signin_token(request, response)
    web = request.app.state.settings.pages
    shown = page(
        request,
        "signin.html",
        {
            "demo_users": web.demo_users,
            "next": local_path(next_path),
            "oidc": web.oidc is not None,
            "error": error,
        },
        # Signed in already (to switch users): the session's token, which the form check expects.
        csrf=token if sessions.current(request) is None else None,
        status=status,
    )
    for name, value in response.raw_headers:
        if name == b"set-cookie":
            shown.raw_headers.append((name, value))
    return shown


def _demo_user(request: Request, chosen: object) -> DemoUser:
    users: tuple[DemoUser, ...] = request.app.state.settings.pages.demo_users
    for user in users:
        if f"{user.role.value}:{user.user_id}" == chosen:
            return user
    raise PageRefused(Refusal("not_found", "pengguna demo ini tidak ada", 404))


@router.post("/masuk/demo")
async def demo_signin(request: Request, form: CheckedForm) -> Response:
    if not request.app.state.settings.pages.demo:
        raise PageRefused(Refusal("not_found", "masuk demo hanya dalam mode demo", 404))
    user = _demo_user(request, form.get("user"))
    try:  # the same claim rules as a token's (SKPD code of an official, NPWP of a vendor)
        actor = Actor(user.user_id, user.role, user.skpd)
        npwp = normalise_npwp(user.npwp) if user.role is Role.VENDOR else None
    except DomainError as error:
        raise PageRefused(Refusal.of(error)) from None
    principal = Principal(user.user_id, user.role, user.pemda, npwp, actor.skpd)
    next_path = form.get("next")
    response = RedirectResponse(
        local_path(next_path if isinstance(next_path, str) else None), status_code=303
    )
    sessions.begin(response, principal, request)
    return response


@router.post("/keluar")
async def signout(request: Request, form: CheckedForm) -> Response:
    response = RedirectResponse("/masuk", status_code=303)
    sessions.end(response, request)
    return response
