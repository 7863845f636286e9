"""What every page needs: who is signed in (and whether their role may open the page), the read
models (as fresh as everything recorded before the request: a user sees their own write), the
ledger's writer, and a form whose CSRF token holds.

A page's roles are the API's: ``Need.like(auth.VERIFY)`` takes the role set of the API's guard
(``api/auth.py``), so a page is never a way around a rule the API enforces. SKPD and vendor scope
are the same ``Principal.sees`` / ``Principal.vendor_id`` the API's routes use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.auth import Allow
from api.tenants import Tenant, tenant_of
from api.writer import Written
from ledger.commands import Command
from ledger.roles import Role
from projections.db import ReadDatabase
from web.messages import Refusal
from web.session import Session, csrf_valid, current

T = TypeVar("T")
# The largest number of fields a kasda form has (an SPP with its deductions and documents).
MAX_FORM_FIELDS = 200


class SignInRequired(Exception):
    """No session: the answer is the sign-in page, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageRefused(Exception):
    """A page that must not be shown or a step that must not be taken: an error page that says
    why (``web.messages``)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def _next_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def signed_in(request: Request) -> Session:
    session = current(request)
    if session is None:
        raise SignInRequired(_next_path(request) if request.method == "GET" else "/beranda")
    return session


class Need:
    """Dependency: a session whose role is one of ``roles``; else sign-in, or a 403 page."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    @classmethod
    def like(cls, *guards: Allow) -> Need:
        """The roles of the API's guards (``api.auth.VERIFY`` ...), joined."""
        return cls(*(role for guard in guards for role in guard.roles))

    async def __call__(self, request: Request) -> Session:
        session = await signed_in(request)
        if session.principal.role not in self.roles:
            raise PageRefused(
                Refusal(
                    "role_not_permitted",
                    f"{session.user} ({session.principal.role.value}) tidak dapat membuka "
                    "halaman ini",
                    403,
                )
            )
        return session


Viewer = Annotated[Session, Depends(signed_in)]


async def checked_form(request: Request) -> FormData:
    """The posted form, if its ``csrf`` token belongs to this browser's session (or, before
    sign-in, to its sign-in cookie); else a 403 page and nothing is done."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    sent = form.get("csrf")
    if not csrf_valid(request, current(request), sent if isinstance(sent, str) else None):
        raise PageRefused(Refusal("csrf", "token CSRF tidak ada atau tidak cocok", 403))
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


async def fetch(request: Request, query: Callable[[ReadDatabase], T]) -> T:
    """``query``'s answer from the read models, including everything recorded before this
    request (a user sees their own write). Build the page's data inside ``query``: it runs in a
    worker thread, off the event loop."""
    models = (await tenant(request)).read_models
    answer, _ = await models.read(query, latest=True)
    return answer


async def perform(request: Request, command: Command) -> Written:
    """Execute ``command`` through the same writer as the API (group commit, idempotency by the
    form's key). A refusal is raised as the ledger's ``DomainError``."""
    return await (await tenant(request)).writer.execute(command)


async def tenant(request: Request) -> Tenant:
    """What serves the signed-in user's pemda (``api.tenants``): its ledger, writer and read
    models."""
    session = current(request)
    return await tenant_of(request, session.principal.pemda if session is not None else None)
