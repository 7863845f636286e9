"""Authentication: local HS256 tokens, and an external identity provider's JWKS document served by
a real HTTP server on 127.0.0.1. Every refusal is a 401 problem document."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from api.app import create_app
from api.auth import make_token
from api.settings import ApiSettings, local_secret
from kasda.settings import Settings
from ledger.errors import InvalidInput
from ledger.roles import Role
from testkit.api import bearer, settings, token
from testkit.world import PEMDA, SKPD

ISSUER = "https://sso.bandung.go.id/realms/pemda"
AUDIENCE = "kasda-api"


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[TestClient, ApiSettings]]:
    config = settings(f"sqlite:///{tmp_path / 'kasda.db'}")
    with TestClient(create_app(config)) as client:
        yield client, config


def unauthorised(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["rule"] == "authentication_required"


def test_me_answers_with_the_tokens_claims(local: tuple[TestClient, ApiSettings]) -> None:
    client, config = local
    response = client.get(f"/pemda/{PEMDA}/me", headers=bearer(config, Role.VENDOR))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": "vendor.prb",
        "role": "vendor",
        "pemda": PEMDA,
        "npwp": "012345678901000",
        "skpd": None,
    }
    # an official of a spending unit: its SKPD, as the ledger normalises codes
    raw = token(config, Role.PPK, skpd="1.1.0.0.0.0.1.0")
    response = client.get(f"/pemda/{PEMDA}/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.json()["skpd"] == SKPD
    # a pemda-wide role acts for every SKPD, whatever its token says
    raw = make_token(config, sub="kb", role=Role.KUASA_BUD, pemda=PEMDA, skpd=SKPD)
    response = client.get(f"/pemda/{PEMDA}/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.json()["skpd"] is None


def _claims(config: ApiSettings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "ppk.budi",
        "role": "ppk",
        "pemda": PEMDA,
        "skpd": SKPD,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"role": None},
        {"role": "superuser"},
        {"role": 3},
        {"sub": ""},
        {"sub": None},
        {"pemda": "Bandung"},
        {"role": "vendor"},  # a vendor without its NPWP
        {"role": "vendor", "npwp": "123"},
        {"skpd": None},  # an official of a spending unit without its SKPD
        {"role": "pptk", "skpd": None},
        {"skpd": "Dinas Pendidikan"},
        {"skpd": 1},
    ],
)
def test_bad_claims_are_401(local: tuple[TestClient, ApiSettings], changes: dict[str, Any]) -> None:
    client, config = local
    assert config.jwt_secret is not None
    raw = jwt.encode(_claims(config, **changes), config.jwt_secret, algorithm="HS256")
    unauthorised(client.get(f"/pemda/{PEMDA}/me", headers={"Authorization": f"Bearer {raw}"}))


def test_bad_tokens_are_401(local: tuple[TestClient, ApiSettings]) -> None:
    client, config = local
    good = token(config, Role.PPK)
    wrong_secret = jwt.encode(_claims(config), "x" * 48, algorithm="HS256")
    unsigned = jwt.encode(_claims(config), "", algorithm="none")
    path = f"/pemda/{PEMDA}/me"
    unauthorised(client.get(path))
    unauthorised(client.get(path, headers={"Authorization": f"Basic {good}"}))
    unauthorised(client.get(path, headers={"Authorization": "Bearer not.a.jwt"}))
    unauthorised(client.get(path, headers={"Authorization": f"Bearer {wrong_secret}"}))
    unauthorised(client.get(path, headers={"Authorization": f"Bearer {unsigned}"}))
    unauthorised(client.get(path, headers={"Authorization": f"Bearer {good[:-3]}abc"}))
    assert client.get(path, headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_settings_refuse_weak_or_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        ApiSettings(database_url="memory://", jwt_secret="short")
    with pytest.raises(InvalidInput):
        ApiSettings(database_url="memory://")
    with pytest.raises(InvalidInput):
        Settings.from_env({"KASDA_JWKS_URL": "http://127.0.0.1:1/jwks.json"}).api()
    # the development key file is made once (0600) and then reused
    env = {"KASDA_JWT_SECRET_FILE": str(tmp_path / "jwt.key")}
    first = local_secret(None, tmp_path / "jwt.key")
    assert local_secret(None, tmp_path / "jwt.key") == first and len(first) >= 32
    assert (tmp_path / "jwt.key").stat().st_mode & 0o777 == 0o600
    made = Settings.from_env({**env, "KASDA_DATABASE_URL": "memory://"}).api()
    assert made.jwt_secret == first and made.database_url == "memory://"


# -- an external identity provider -------------------------------------------------------------
class _Jwks(BaseHTTPRequestHandler):
    document: bytes = b"{}"
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def idp() -> Iterator[tuple[str, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    keys = [
        {**json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa-1", "alg": "RS256"},
        {**json.loads(OKPAlgorithm.to_jwk(ed_key.public_key())), "kid": "ed-1", "alg": "EdDSA"},
    ]
    handler = type("Jwks", (_Jwks,), {"document": json.dumps({"keys": keys}).encode()})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", rsa_key, ed_key
    finally:
        server.shutdown()
        server.server_close()


def test_tokens_of_an_identity_provider_via_jwks(
    idp: tuple[str, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey], tmp_path: Path
) -> None:
    url, rsa_key, ed_key = idp
    config = Settings.from_env(
        {
            "KASDA_DATABASE_URL": f"sqlite:///{tmp_path / 'kasda.db'}",
            "KASDA_JWKS_URL": url,
            "KASDA_JWT_ISSUER": ISSUER,
            "KASDA_JWT_AUDIENCE": AUDIENCE,
        }
    ).api()
    now = int(time.time())
    claims = {
        "sub": "auditor.fajar",
        "role": "auditor",
        "pemda": PEMDA,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    by_rsa = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    by_ed = jwt.encode(claims, ed_key, algorithm="EdDSA", headers={"kid": "ed-1"})
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    unknown_kid = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa-9"})
    wrong_aud = jwt.encode(
        {**claims, "aud": "kasda"}, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    path = f"/pemda/{PEMDA}/me"
    with TestClient(create_app(config)) as client:
        for good in (by_rsa, by_ed):
            answer = client.get(path, headers={"Authorization": f"Bearer {good}"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["role"] == "auditor"
        for bad in (forged, unknown_kid, wrong_aud):
            unauthorised(client.get(path, headers={"Authorization": f"Bearer {bad}"}))
        # a locally signed token is no good when an identity provider is configured
        local = make_token(settings("memory://"), sub="x", role=Role.AUDITOR, pemda=PEMDA)
        unauthorised(client.get(path, headers={"Authorization": f"Bearer {local}"}))
