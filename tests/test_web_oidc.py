"""Production sign-in over HTTP: kasda's web app (on a real SQLite file) against a real OpenID
Connect provider served on 127.0.0.1 (``testkit.idp``), the browser's redirects followed by hand.

The flow lands on Beranda with a Strict, HttpOnly session cookie (Secure over https). Then every
way it must fail, each with the sign-in page, its reason and no session: a stolen code redeemed
with another PKCE verifier, a tampered state, an answer without this browser's flow cookie, a
replayed code, an id_token with another nonce, audience or issuer, expired, issued in the future,
signed by another key, claims that are not a kasda user, the IdP's own error, an IdP that cannot
be reached (503, within the timeout), and a ``next`` that leads to another site."""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from kasda.settings import Settings
from ledger.errors import InvalidInput
from ledger.roles import Role
from testkit.idp import Idp, new_key, s256
from testkit.web import web_settings
from testkit.world import PEMDA, SKPD, USERS
from web.oidc import FLOW_TTL_SECONDS, Flow, SignInRefused, seal, unseal
from web.pages.oidc import FLOW_COOKIE
from web.session import COOKIE
from web.settings import OidcSettings

HTTP = "http://testserver"
HTTPS = "https://testserver"
CALLBACKS = [f"{base}/masuk/oidc/kembali" for base in (HTTP, HTTPS)]
SECRET = "rahasia-klien-kasda"  # the test IdP's client secret
PPK = {"sub": USERS[Role.PPK], "role": "ppk", "pemda": PEMDA, "skpd": SKPD}


@pytest.fixture
def idp() -> Iterator[Idp]:
    with Idp(user=PPK, client_secret=SECRET, redirect_uris=CALLBACKS).running() as running:
        yield running


def oidc_config(tmp_path: Path, oidc: OidcSettings | None) -> ApiSettings:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}", demo=False)
    return replace(config, web=replace(config.pages, oidc=oidc))


def settings_of(idp: Idp, **kw: Any) -> OidcSettings:
    return OidcSettings(
        issuer=idp.issuer, client_id=idp.client_id, client_secret=idp.client_secret, **kw
    )


@pytest.fixture
def app(tmp_path: Path, idp: Idp) -> Iterator[TestClient]:
    with TestClient(create_app(oidc_config(tmp_path, settings_of(idp))), base_url=HTTP) as client:
        yield client


# -- the browser's part, step by step -----------------------------------------------------------
def begin(app: TestClient, next_path: str = "/beranda") -> str:
    """Click "Masuk dengan akun pemda": the IdP's authorisation URL kasda redirects to."""
    answer = app.get("/masuk/oidc", params={"next": next_path}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def authorise(url: str) -> str:
    """The IdP (over real HTTP) approves and sends the browser back: kasda's callback URL."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**query_of(url), **changes})))


def sign_in(app: TestClient, next_path: str = "/beranda") -> httpx.Response:
    answer: httpx.Response = app.get(authorise(begin(app, next_path)), follow_redirects=False)
    return answer


def session_secret(app: TestClient) -> str:
    served = app.app
    assert isinstance(served, FastAPI)
    secret: str = served.state.settings.pages.session_secret
    return secret


def set_cookies(answer: httpx.Response) -> dict[str, str]:
    """Each cookie ``answer`` sets (or removes): its name -> the whole header, lower case."""
    headers = answer.headers.get_list("set-cookie")
    return {header.split("=", 1)[0]: header.lower() for header in headers}


def assert_signed_in(app: TestClient, answer: httpx.Response, where: str, user: str) -> None:
    """Signed in: the session cookie, and kasda's own page that moves on to ``where`` (a redirect
    would carry on the IdP's cross-site navigation, without the Strict cookie)."""
    assert answer.status_code == 200, answer.text
    shown = html.escape(where)
    assert f'<meta http-equiv="refresh" content="0;url={shown}">' in answer.text
    assert f'<a href="{shown}">Lanjutkan</a>' in answer.text
    assert COOKIE in app.cookies
    home = app.get("/beranda", follow_redirects=False)
    assert home.status_code == 200 and user in home.text


def assert_refused(app: TestClient, answer: httpx.Response, status: int, rule: str) -> None:
    """The sign-in page with the reason, ``status``, and no session."""
    assert answer.status_code == status, answer.text
    assert f"<code>{rule}</code>" in answer.text
    assert 'href="/masuk/oidc?next=' in answer.text  # to try again
    assert COOKIE not in set_cookies(answer) and COOKIE not in app.cookies
    assert FLOW_COOKIE not in app.cookies  # the flow is over either way
    home = app.get("/beranda", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].startswith("/masuk")


# -- signing in ---------------------------------------------------------------------------------
def test_the_sign_in_page_offers_the_pemda_account(app: TestClient) -> None:
    shown = app.get("/masuk?next=/beranda")
    assert 'href="/masuk/oidc?next=/beranda">Masuk dengan akun pemda</a>' in shown.text


def test_without_an_idp_there_is_no_button_and_no_flow(tmp_path: Path) -> None:
    with TestClient(create_app(oidc_config(tmp_path, None))) as app:
        assert 'href="/masuk/oidc' not in app.get("/masuk").text
        assert app.get("/masuk/oidc", follow_redirects=False).status_code == 404
        assert app.get("/masuk/oidc/kembali?code=x&state=y").status_code == 404


def test_sign_in_lands_where_asked_with_a_strict_session(app: TestClient, idp: Idp) -> None:
    started = app.get(
        "/masuk/oidc", params={"next": "/beranda?lihat=semua"}, follow_redirects=False
    )
    flow_cookie = set_cookies(started)[FLOW_COOKIE]
    assert "httponly" in flow_cookie and "samesite=lax" in flow_cookie
    assert "path=/masuk/oidc" in flow_cookie and "secure" not in flow_cookie
    asked = query_of(started.headers["location"])
    flow = unseal(app.cookies[FLOW_COOKIE], session_secret(app))
    assert asked["state"] == flow.state and asked["nonce"] == flow.nonce
    assert asked["scope"] == "openid profile" and asked["client_id"] == idp.client_id

    back = authorise(started.headers["location"])
    (grant,) = idp.grants.values()
    assert (grant.code_challenge_method, grant.code_challenge) == ("S256", s256(flow.verifier))
    assert "code_challenge" in asked and flow.verifier not in started.headers["location"]

    answer = app.get(back, follow_redirects=False)
    assert_signed_in(app, answer, "/beranda?lihat=semua", USERS[Role.PPK])
    session = set_cookies(answer)[COOKIE]
    assert "httponly" in session and "samesite=strict" in session and "secure" not in session
    assert "max-age=0" in set_cookies(answer)[FLOW_COOKIE]  # the flow cookie is removed
    assert grant.used and idp.token_errors == []
    assert "PPK-SKPD" in app.get("/beranda").text


def test_over_https_the_cookies_are_secure(tmp_path: Path, idp: Idp) -> None:
    config = oidc_config(tmp_path, settings_of(idp))
    with TestClient(create_app(config), base_url=HTTPS) as app:
        started = app.get("/masuk/oidc", follow_redirects=False)
        assert "secure" in set_cookies(started)[FLOW_COOKIE]
        assert query_of(started.headers["location"])["redirect_uri"] == CALLBACKS[1]
        answer = app.get(authorise(started.headers["location"]), follow_redirects=False)
        assert_signed_in(app, answer, "/beranda", USERS[Role.PPK])
        session = set_cookies(answer)[COOKIE]
        assert "secure" in session and "httponly" in session and "samesite=strict" in session


def test_a_public_client_signs_in_by_pkce_alone(tmp_path: Path) -> None:
    with Idp(user=PPK, client_secret=None, redirect_uris=CALLBACKS).running() as idp:
        config = oidc_config(tmp_path, settings_of(idp))
        with TestClient(create_app(config)) as app:
            assert_signed_in(app, sign_in(app), "/beranda", USERS[Role.PPK])


def test_the_idps_claim_names_are_mapped_to_kasdas(tmp_path: Path) -> None:
    """A vendor whose IdP says ``kasda.peran`` and ``nomor_npwp``: the same principal rules as
    the API's (the NPWP normalised, the vendor's pemda)."""
    user = {
        "sub": USERS[Role.VENDOR],
        "kasda": {"peran": "vendor"},
        "kode_pemda": PEMDA,
        "nomor_npwp": "01.234.567.8-901.000",
        "role": "bpkad_admin",  # not the claim this pemda's kasda reads
    }
    with Idp(user=user, client_secret=SECRET, redirect_uris=CALLBACKS).running() as idp:
        oidc = settings_of(
            idp, role_claim="kasda.peran", pemda_claim="kode_pemda", npwp_claim="nomor_npwp"
        )
        with TestClient(create_app(oidc_config(tmp_path, oidc))) as app:
            assert_signed_in(app, sign_in(app), "/beranda", USERS[Role.VENDOR])
            assert "Penyedia" in app.get("/beranda").text


def test_the_discovery_document_is_fetched_once(app: TestClient, idp: Idp) -> None:
    for _ in range(2):
        assert COOKIE in set_cookies(sign_in(app))
        app.cookies.clear()
    assert idp.hits["/.well-known/openid-configuration"] == 1
    assert idp.hits["/jwks"] == 1 and idp.hits["/token"] == 2


# -- the code and its verifier ------------------------------------------------------------------
def test_a_stolen_code_redeemed_with_another_verifier_is_refused(
    app: TestClient, tmp_path: Path, idp: Idp
) -> None:
    """PKCE: someone who catches the victim's code (a log, a referrer) and brings it back with a
    flow of their own has the wrong code_verifier; the IdP refuses it."""
    victims_code = query_of(authorise(begin(app)))["code"]
    with TestClient(app.app, base_url=HTTP) as attacker:
        own_state = query_of(begin(attacker))["state"]
        answer = attacker.get(
            f"/masuk/oidc/kembali?{urlencode({'code': victims_code, 'state': own_state})}",
            follow_redirects=False,
        )
        assert_refused(attacker, answer, 401, "idp_code_refused")
    assert idp.token_errors == ["PKCE verification failed"]


def test_a_tampered_state_is_refused_before_the_code_is_used(app: TestClient, idp: Idp) -> None:
    back = authorise(begin(app))
    answer = app.get(with_query(back, state="dicoba-" + query_of(back)["state"][7:]))
    assert_refused(app, answer, 400, "signin_state_mismatch")
    assert idp.hits["/token"] == 0


def test_an_answer_without_this_browsers_flow_is_refused(app: TestClient, idp: Idp) -> None:
    """Login CSRF: an attacker's own callback URL opened in someone else's browser."""
    back = authorise(begin(app))
    app.cookies.clear()
    assert_refused(app, app.get(back), 400, "signin_expired")
    forged = Flow.new(CALLBACKS[0], "/beranda")
    app.cookies.set(
        FLOW_COOKIE, seal(forged, "another secret"), domain="testserver.local", path="/masuk/oidc"
    )
    assert_refused(app, app.get(with_query(back, state=forged.state)), 400, "signin_expired")
    assert idp.hits["/token"] == 0


def test_a_flow_is_good_for_ten_minutes() -> None:
    flow = Flow.new(CALLBACKS[0], "/beranda")
    sealed = seal(flow, "s" * 32)
    assert unseal(sealed, "s" * 32, now=flow.began + FLOW_TTL_SECONDS) == flow
    with pytest.raises(SignInRefused, match="began 601 s ago"):
        unseal(sealed, "s" * 32, now=flow.began + FLOW_TTL_SECONDS + 1)


def test_a_replayed_code_is_refused(app: TestClient, idp: Idp) -> None:
    back = authorise(begin(app))
    flow_cookie = app.cookies[FLOW_COOKIE]
    assert_signed_in(app, app.get(back, follow_redirects=False), "/beranda", USERS[Role.PPK])
    # The same browser, signed out: its flow is over.
    app.cookies.delete(COOKIE)
    assert_refused(app, app.get(back), 400, "signin_expired")
    # With the flow cookie kept (state and verifier right): the IdP takes a code once.
    app.cookies.set(FLOW_COOKIE, flow_cookie, domain="testserver.local", path="/masuk/oidc")
    assert_refused(app, app.get(back), 401, "idp_code_refused")
    assert idp.token_errors == ["code already used"]


# -- the id_token -------------------------------------------------------------------------------
NOW = int(time.time())


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"nonce": "another-nonce"}, "nonce"),
        ({"aud": "another-client"}, "audience"),
        ({"aud": ["kasda-web", "another-client"], "azp": "another-client"}, "azp"),
        ({"iss": "https://idp.example"}, "issuer"),
        ({"iat": NOW - 600, "exp": NOW - 300}, "expired"),
        ({"iat": NOW + 3600, "exp": NOW + 3900}, "not yet valid"),
    ],
    ids=["nonce", "audience", "azp", "issuer", "expired", "issued-in-the-future"],
)
def test_an_id_token_that_does_not_hold_is_refused(
    app: TestClient, idp: Idp, claims: dict[str, Any], why: str
) -> None:
    idp.id_token_claims = claims
    answer = sign_in(app)
    assert_refused(app, answer, 401, "id_token_invalid")
    assert why in answer.text.lower()


def test_an_id_token_signed_by_another_key_is_refused(app: TestClient, idp: Idp) -> None:
    idp.signing_key = new_key()  # under the published key's id
    answer = sign_in(app)
    assert_refused(app, answer, 401, "id_token_invalid")
    assert "signature verification failed" in answer.text.lower()


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"role": "bupati"}, "is not a kasda role"),
        ({"role": None}, "no role claim"),
        ({"skpd": None}, "needs the skpd claim"),
        ({"pemda": "Kota Bandung"}, "pemda"),
    ],
    ids=["unknown-role", "no-role", "ppk-without-skpd", "bad-pemda"],
)
def test_claims_that_are_not_a_kasda_user_are_refused(
    app: TestClient, idp: Idp, claims: dict[str, Any], why: str
) -> None:
    idp.user = {k: v for k, v in {**PPK, **claims}.items() if v is not None}
    answer = sign_in(app)
    assert_refused(app, answer, 401, "idp_claims_not_kasda")
    assert why in answer.text


def test_the_idps_refusal_is_shown(app: TestClient, idp: Idp) -> None:
    idp.deny = "access_denied"
    answer = sign_in(app)
    assert_refused(app, answer, 401, "idp_refused")
    assert "access_denied" in answer.text and idp.hits["/token"] == 0


# -- where to go afterwards ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/beranda",
        "//evil.example/beranda",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "beranda",
        # Browsers drop tabs and newlines from a URL: in the page's link these are //evil.example.
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        " //evil.example",
    ],
    ids=repr,
)
def test_a_next_on_another_site_is_refused(app: TestClient, idp: Idp, target: str) -> None:
    answer = app.get("/masuk/oidc", params={"next": target}, follow_redirects=False)
    assert "location" not in answer.headers and "evil.example" not in answer.text
    assert_refused(app, answer, 400, "next_not_local")
    assert idp.hits["/.well-known/openid-configuration"] == 0 and idp.grants == {}


# -- an identity provider that cannot be reached ------------------------------------------------
def test_an_unreachable_idp_is_a_503_sign_in_page_within_the_timeout(tmp_path: Path) -> None:
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    # Without a bound kasda would wait for ever: stop listening (resetting the connection) at 10 s.
    give_up = threading.Timer(10, silent.close)
    give_up.start()
    try:
        port = silent.getsockname()[1]
        oidc = OidcSettings(issuer=f"http://127.0.0.1:{port}", client_id="k", timeout_seconds=0.5)
        with TestClient(create_app(oidc_config(tmp_path, oidc))) as app:
            started = time.monotonic()
            answer = app.get("/masuk/oidc", follow_redirects=False)
            assert time.monotonic() - started < 3
            assert_refused(app, answer, 503, "idp_unreachable")
            assert "tidak dapat dihubungi" in answer.text and "Retry-After" in answer.headers
            silent.close()  # now nothing listens: refused at once
            assert_refused(app, app.get("/masuk/oidc"), 503, "idp_unreachable")
    finally:
        give_up.cancel()
        silent.close()


def test_a_discovery_document_of_another_issuer_is_refused(tmp_path: Path, idp: Idp) -> None:
    """The same server, named otherwise: its document says it is ``http://127.0.0.1:...``."""
    oidc = OidcSettings(issuer=idp.issuer.replace("127.0.0.1", "localhost"), client_id="k")
    with TestClient(create_app(oidc_config(tmp_path, oidc))) as app:
        answer = app.get("/masuk/oidc", follow_redirects=False)
        assert_refused(app, answer, 503, "idp_unreachable")
        assert "issuer is" in answer.text
        assert idp.hits["/.well-known/openid-configuration"] == 1


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"token_endpoint": "http://sso.example.go.id/token"}, "token_endpoint is not https"),
        ({"jwks_uri": ""}, "lacks jwks_uri"),
        ({"authorization_endpoint": None}, "lacks authorization_endpoint"),
    ],
    ids=["plain-http-token-endpoint", "no-jwks", "no-authorization-endpoint"],
)
def test_a_discovery_document_kasda_cannot_use_is_refused(
    app: TestClient, idp: Idp, fields: dict[str, Any], why: str
) -> None:
    idp.discovery_fields = fields
    answer = app.get("/masuk/oidc", follow_redirects=False)
    assert_refused(app, answer, 503, "idp_unreachable")
    assert why in answer.text and idp.grants == {}


# -- configuration ------------------------------------------------------------------------------
def test_the_settings_build_the_relying_party(tmp_path: Path) -> None:
    env = {
        "KASDA_JWT_SECRET_FILE": str(tmp_path / "jwt.key"),
        "KASDA_OIDC_ISSUER": "https://sso.bandungkota.go.id/realms/pemda",
        "KASDA_OIDC_CLIENT_ID": "kasda",
        "KASDA_OIDC_ROLE_CLAIM": "kasda.role",
        "KASDA_OIDC_TIMEOUT": "2.5",
        "KASDA_PUBLIC_URL": "https://kasda.bandungkota.go.id",
    }
    oidc = Settings.from_env(env).api().pages.oidc
    assert oidc is not None and oidc.client_secret is None and oidc.scopes == "openid profile"
    assert (oidc.role_claim, oidc.pemda_claim, oidc.timeout_seconds) == ("kasda.role", "pemda", 2.5)
    assert Settings.from_env({"KASDA_JWT_SECRET_FILE": env["KASDA_JWT_SECRET_FILE"]}).oidc() is None
    # The API's identity provider is the default issuer.
    api_idp = {
        "KASDA_JWKS_URL": "https://sso.example.go.id/certs",
        "KASDA_JWT_ISSUER": "https://sso.example.go.id",
        "KASDA_JWT_AUDIENCE": "kasda-api",
        "KASDA_OIDC_CLIENT_ID": "kasda",
    }
    default = Settings.from_env(api_idp).oidc()
    assert default is not None and default.issuer == "https://sso.example.go.id"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"KASDA_OIDC_ISSUER": "https://sso.example.go.id"}, "needs KASDA_OIDC_CLIENT_ID"),
        ({"KASDA_OIDC_CLIENT_ID": "kasda"}, "needs KASDA_OIDC_ISSUER"),
        (
            {"KASDA_OIDC_ISSUER": "http://sso.example.go.id", "KASDA_OIDC_CLIENT_ID": "k"},
            "must be an https URL",
        ),
        (
            {
                "KASDA_OIDC_ISSUER": "https://sso.example.go.id",
                "KASDA_OIDC_CLIENT_ID": "k",
                "KASDA_OIDC_SCOPES": "profile",
            },
            "must include openid",
        ),
        (
            {
                "KASDA_OIDC_ISSUER": "https://sso.example.go.id",
                "KASDA_OIDC_CLIENT_ID": "k",
                "KASDA_OIDC_TIMEOUT": "600",
            },
            "KASDA_OIDC_TIMEOUT",
        ),
    ],
)
def test_a_wrong_oidc_setting_stops_the_start(env: dict[str, str], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        Settings.from_env(env).oidc()


def test_a_flow_cookie_changed_in_the_browser_is_refused() -> None:
    flow = Flow.new(CALLBACKS[0], "/beranda")
    body, mac = seal(flow, "s" * 32).split(".")
    other, _ = seal(replace(flow, next="https://evil.example"), "s" * 32).split(".")
    with pytest.raises(SignInRefused, match="signature"):
        unseal(f"{other}.{mac}", "s" * 32)
    with pytest.raises(SignInRefused, match="signature"):  # not a TypeError (a 500)
        unseal(f"{body}.{mac[:-1]}é", "s" * 32)
