"""The web app's foundation over HTTP, on a real SQLite file and a real PostgreSQL schema: sign-in
and its cookie, CSRF on every form, sign-out and expiry, the same roles as the API, error pages,
the security headers of pages, and the formats of the screens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import jwt
import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api import auth
from api.app import create_app
from api.settings import ApiSettings
from ledger.roles import Role
from testkit.api import build_world, expect, post
from testkit.web import csrf_of, demo_user_value, sign_in, submit, web_settings
from tests.conftest import make_url
from web import format as fmt
from web.deps import Need
from web.session import COOKIE, Session

VERIFIERS = Need.like(auth.VERIFY)
Verifier = Annotated[Session, Depends(VERIFIERS)]


@pytest.fixture(params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = web_settings(make_url(str(request.param), tmp_path, request))
    with TestClient(create_app(config)) as client:
        yield client, config


@pytest.fixture
def web_sqlite(tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        yield client, config


def test_a_page_asks_for_sign_in_then_returns_there(web: tuple[TestClient, ApiSettings]) -> None:
    client, config = web
    answer = client.get("/beranda", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/masuk?next=/beranda"
    shown = client.get("/masuk?next=/beranda")
    assert "Pengguna demo" in shown.text and "ppk.budi" in shown.text
    signed = client.post(
        "/masuk/demo",
        data={"csrf": csrf_of(shown.text), "user": demo_user_value(config, Role.PPK),
              "next": "/beranda"},
        follow_redirects=False,
    )  # fmt: skip
    assert signed.status_code == 303 and signed.headers["location"] == "/beranda"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    home = client.get("/beranda")
    assert home.status_code == 200 and "ppk.budi" in home.text and "PPK-SKPD" in home.text


def test_the_session_cookie_is_secure_under_https(tmp_path: Path) -> None:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config), base_url="https://testserver") as client:
        shown = client.get("/masuk")
        signed = client.post(
            "/masuk/demo",
            data={"csrf": csrf_of(shown.text), "user": demo_user_value(config, Role.AUDITOR)},
            follow_redirects=False,
        )
        assert "secure" in signed.headers["set-cookie"].lower()


def test_the_approvers_home_counts_what_waits(web: tuple[TestClient, ApiSettings]) -> None:
    client, config = web
    build_world(client, config)  # two SPPs requested: both wait for the PPK
    sign_in(client, config, Role.PPK)
    home = client.get("/beranda")
    assert "SPP menunggu verifikasi" in home.text
    assert '<span class="card-count">2</span>' in home.text
    assert "terlama menunggu" in home.text


def test_the_kuasa_bud_counts_sp2d_to_issue_not_failed_transfers(
    web_sqlite: tuple[TestClient, ApiSettings],
) -> None:
    """The Kuasa BUD's queue holds both; Beranda's "to issue" card counts only the SP2D."""
    client, config = web_sqlite
    made = build_world(client, config)
    first, second = made["disbursement_id"], made["other_vendor_disbursement_id"]
    steps = [
        (first, Role.PPK, "verify", {}),
        (first, Role.PA_KPA, "approve", {"spm_number": "SPM-1"}),
        (first, Role.KUASA_BUD, "authorise", {"sp2d_number": "SP2D-1"}),
        (first, Role.GATEWAY, "transfer/sent", {"gateway": "iris", "reference": "IRIS-1"}),
        (first, Role.GATEWAY, "transfer/failed", {"reason": "rekening ditutup"}),
        (second, Role.PPK, "verify", {}),
        (second, Role.PA_KPA, "approve", {"spm_number": "SPM-2"}),
    ]
    for payment, role, step, body in steps:
        expect(post(client, config, role, f"/disbursements/{payment}/{step}", body), 200)
    sign_in(client, config, Role.KUASA_BUD)
    home = client.get("/beranda").text
    card = home.split("SPM menunggu penerbitan SP2D")[0].rsplit('class="card-count">', 1)[1]
    assert card.startswith("1<"), card


def test_a_form_without_its_csrf_token_changes_nothing(
    web_sqlite: tuple[TestClient, ApiSettings],
) -> None:
    client, config = web_sqlite
    sign_in(client, config, Role.AUDITOR)
    for sent in ({}, {"csrf": "forged"}, {"csrf": ""}):
        refused = client.post("/keluar", data=sent, follow_redirects=False)
        assert refused.status_code == 403, sent
        assert "Formulir kedaluwarsa atau tidak sah" in refused.text
    assert client.get("/beranda", follow_redirects=False).status_code == 200  # still signed in
    # A token of another session is worthless in this one.
    other = TestClient(client.app)
    sign_in(other, config, Role.PPK)
    theirs = csrf_of(other.get("/beranda").text)
    assert client.post("/keluar", data={"csrf": theirs}, follow_redirects=False).status_code == 403
    # Sign-in itself is a form: without the sign-in cookie's token it is refused.
    fresh = TestClient(client.app)
    user = demo_user_value(config, Role.PPK)
    refused = fresh.post("/masuk/demo", data={"user": user}, follow_redirects=False)
    assert refused.status_code == 403 and COOKIE not in fresh.cookies


def test_sign_out_ends_the_session(web_sqlite: tuple[TestClient, ApiSettings]) -> None:
    client, config = web_sqlite
    sign_in(client, config, Role.AUDITOR)
    out = submit(client, "/beranda", "/keluar", {}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/masuk"
    assert COOKIE not in client.cookies
    assert client.get("/beranda", follow_redirects=False).status_code == 303


def _cookie(config: ApiSettings, **claims: object) -> str:
    now = int(time.time())
    body = {"sub": "auditor.fajar", "role": "auditor", "pemda": "32.73", "sid": "s",
            "aud": "kasda-web", "iat": now, "exp": now + 600, **claims}  # fmt: skip
    return jwt.encode(body, config.pages.session_secret, algorithm="HS256")


def test_a_forged_expired_or_odd_session_is_no_session(
    web_sqlite: tuple[TestClient, ApiSettings],
) -> None:
    client, config = web_sqlite
    cases = {
        "expired": _cookie(config, iat=int(time.time()) - 7200, exp=int(time.time()) - 60),
        "another key": jwt.encode({"sub": "x"}, "k" * 40, algorithm="HS256"),
        "unknown role": _cookie(config, role="walikota"),
        "official without SKPD": _cookie(config, role="ppk"),
        "an API token's audience": _cookie(config, aud="kasda"),
    }
    for case, token in cases.items():
        client.cookies.set(COOKIE, token)
        answer = client.get("/beranda", follow_redirects=False)
        assert answer.status_code == 303, case
    client.cookies.set(COOKIE, _cookie(config))
    assert client.get("/beranda", follow_redirects=False).status_code == 200


def test_demo_sign_in_only_in_demo_mode(tmp_path: Path) -> None:
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}", demo=False)
    with TestClient(create_app(config)) as client:
        shown = client.get("/masuk")
        assert "Pengguna demo" not in shown.text and "pptk.ani" not in shown.text
        answer = client.post(
            "/masuk/demo", data={"csrf": csrf_of_cookie(client), "user": "pptk:pptk.ani"}
        )
        assert answer.status_code == 404 and COOKIE not in client.cookies


def csrf_of_cookie(client: TestClient) -> str:
    return str(client.cookies.get("kasda_signin"))


def test_sign_in_never_redirects_off_the_site(web_sqlite: tuple[TestClient, ApiSettings]) -> None:
    client, config = web_sqlite
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        shown = client.get("/masuk", params={"next": target})
        signed = client.post(
            "/masuk/demo",
            data={"csrf": csrf_of(shown.text), "user": demo_user_value(config, Role.PPK),
                  "next": target},
            follow_redirects=False,
        )  # fmt: skip
        assert signed.headers["location"] == "/beranda", target


def test_pages_are_pages_and_the_api_stays_json(web_sqlite: tuple[TestClient, ApiSettings]) -> None:
    client, config = web_sqlite
    sign_in(client, config, Role.AUDITOR)
    missing = client.get("/tidak-ada")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Tidak ditemukan" in missing.text
    api = client.get("/pemda/32.73/vendors")  # no bearer token: the API's 401, as JSON
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
    home = client.get("/beranda")
    csp = home.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and home.headers["cache-control"] == "no-store"
    script = client.get("/static/htmx.min.js")
    assert script.status_code == 200 and "max-age" in script.headers["cache-control"]
    assert "cdn" not in home.text.lower() and "https://" not in home.text


def test_a_page_has_the_roles_of_the_api_guard(tmp_path: Path) -> None:
    """``Need.like(auth.VERIFY)`` lets in exactly the roles the API's verify route lets in."""
    config = web_settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    app = create_app(config)

    @app.get("/uji-verifikasi")
    async def only_verifiers(session: Verifier) -> dict[str, str]:
        return {"user": session.user}

    assert VERIFIERS.roles == auth.VERIFY.roles
    with TestClient(app) as client:
        for role in (Role.PPK, Role.VENDOR, Role.PA_KPA, Role.AUDITOR):
            client.cookies.clear()
            sign_in(client, config, role)
            answer = client.get("/uji-verifikasi")
            if role in auth.VERIFY.roles:
                assert answer.status_code == 200, role
            else:
                assert answer.status_code == 403, role
                assert "Anda tidak berwenang untuk langkah ini" in answer.text


def test_the_stylesheet_closes_every_block() -> None:
    """A block left open (a merge that lost a ``}``) puts every later rule inside it, e.g. a
    phone-only media query: the pages then lose their styles without an error anywhere."""
    import re
    from pathlib import Path as FilePath

    import web

    css = (FilePath(web.__file__).parent / "static" / "kasda.css").read_text(encoding="utf-8")
    depth = 0
    for number, line in enumerate(re.sub(r"/\*.*?\*/", "", css, flags=re.S).splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"kasda.css:{number}: a }} closes nothing"
    assert depth == 0, "kasda.css: a block is never closed"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_rupiah_is_written_with_dots_and_reads_back(amount: int) -> None:
    written = fmt.rupiah(amount)
    digits = written.strip("()").removeprefix("Rp ").replace(".", "")
    assert int(digits) == abs(amount)
    assert written.startswith("(") == (amount < 0)
    assert "," not in written


def test_formats_of_the_screens() -> None:
    assert fmt.rupiah(1_234_567) == "Rp 1.234.567"
    assert fmt.rupiah(0) == "Rp 0"
    assert fmt.persen(8712) == "87,12%"
    assert fmt.tanggal("2026-10-21T07:05:00+00:00") == "21 Okt 2026"
    assert fmt.waktu("2026-10-21T07:05:00+00:00") == "21 Okt 2026 14.05 WIB"
    assert fmt.waktu("2026-12-31T17:30:00+00:00") == "1 Jan 2027 00.30 WIB"  # WIB, not UTC
    with pytest.raises(AssertionError):
        fmt.rupiah(1.5)  # type: ignore[arg-type]
