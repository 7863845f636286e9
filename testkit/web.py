"""Helpers for tests of the web app over HTTP (no browser): settings with the demo's sign-in users,
signing in as a role, and posting a page's form with its CSRF token."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx

from api.settings import ApiSettings
from kasda.demo.users import demo_sign_ins
from ledger.roles import Role
from web.settings import WebSettings

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def web_settings(database_url: str, *, demo: bool = True, **kw: Any) -> ApiSettings:
    """API settings whose web app signs sessions with a throw-away key and, with ``demo``, offers
    the demo's users on its sign-in page."""
    web = WebSettings(
        session_secret=secrets.token_urlsafe(48),
        demo_users=demo_sign_ins() if demo else (),
    )
    return ApiSettings(
        database_url=database_url, jwt_secret=secrets.token_urlsafe(48), web=web, **kw
    )


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def demo_user_value(config: ApiSettings, role: Role, user_id: str | None = None) -> str:
    for user in config.pages.demo_users:
        if user.role is role and (user_id is None or user.user_id == user_id):
            return f"{user.role.value}:{user.user_id}"
    raise AssertionError(f"no demo user of role {role.value}")


def sign_in(
    client: httpx.Client | Any, config: ApiSettings, role: Role, user_id: str | None = None
) -> None:
    """Sign ``client`` in as the demo user of ``role`` (its cookies keep the session)."""
    shown = client.get("/masuk")
    assert shown.status_code == 200, shown.text
    answer = client.post(
        "/masuk/demo",
        data={"csrf": csrf_of(shown.text), "user": demo_user_value(config, role, user_id)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert "kasda_session" in client.cookies


def submit(
    client: httpx.Client | Any, page_path: str, action: str, data: dict[str, Any], **kw: Any
) -> httpx.Response:
    """Open ``page_path``, then post ``data`` to ``action`` with the page's CSRF token, as a
    browser submitting that page's form would."""
    shown = client.get(page_path)
    assert shown.status_code == 200, shown.text
    return client.post(action, data={"csrf": csrf_of(shown.text), **data}, **kw)
