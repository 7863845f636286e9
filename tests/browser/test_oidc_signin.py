"""Signing in at the pemda's identity provider in Chromium: kasda at 127.0.0.1, the IdP
(``testkit.idp``) at localhost, another site, as a pemda's IdP is. The flow cookie must come back
with the IdP's cross-site redirect (SameSite=Lax; a Strict one would not), and the session is set
and sent with the first page after it (kasda's own navigation, not the IdP's redirect)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ledger.roles import Role
from testkit.browser import LiveServer, live_server
from testkit.idp import Idp
from testkit.web import web_settings
from testkit.world import PEMDA, SKPD, USERS
from web.settings import OidcSettings


@pytest.fixture
def idp_and_server(tmp_path: Path) -> Iterator[tuple[Idp, LiveServer]]:
    user = {"sub": USERS[Role.PPK], "role": "ppk", "pemda": PEMDA, "skpd": SKPD}
    idp = Idp(user=user, client_secret="rahasia-klien-kasda")
    idp.consent = True  # the way back starts on the IdP's page, as after its sign-in form
    with idp.running(host="localhost"):
        config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}", demo=False)
        oidc = OidcSettings(
            issuer=idp.issuer, client_id=idp.client_id, client_secret=idp.client_secret
        )
        config = replace(config, web=replace(config.pages, oidc=oidc))
        with live_server(config) as server:
            idp.redirect_uris.append(f"{server.url}/masuk/oidc/kembali")
            yield idp, server


def test_sign_in_with_the_pemda_account(page: Page, idp_and_server: tuple[Idp, LiveServer]) -> None:
    idp, server = idp_and_server
    page.goto(f"{server.url}/beranda")
    expect(page).to_have_url(f"{server.url}/masuk?next=/beranda")
    page.get_by_role("link", name="Masuk dengan akun pemda").click()
    page.get_by_role("link", name="Setujui").click()  # on the IdP's site
    page.wait_for_url(f"{server.url}/beranda")
    expect(page.locator(".who-name")).to_have_text(USERS[Role.PPK])
    assert idp.hits["/token"] == 1 and idp.token_errors == []
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["kasda_session"]["sameSite"] == "Strict" and cookies["kasda_session"]["httpOnly"]
    assert "kasda_oidc" not in cookies
