"""Helpers for tests and benchmarks of the API: settings with a throw-away secret, tokens for each
role (the demo's sign-in users, officials of ``testkit.world.SKPD``), and the HTTP calls that build
the world of ``testkit.world`` (an APBD, two vendors, a payment to each)."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import httpx

from api.auth import make_token
from api.settings import ApiSettings
from ledger.roles import SKPD_BOUND, Role
from testkit.world import (
    GOODS,
    INCOME,
    MEDIA,
    NPWP,
    OTHER_NPWP,
    OTHER_VENDOR_NAME,
    PEMDA,
    SKPD,
    SUB_KEGIATAN,
    USERS,
    VENDOR_NAME,
    YEAR,
)

_keys = itertools.count(1)


def settings(database_url: str, **kw: Any) -> ApiSettings:
    return ApiSettings(database_url=database_url, jwt_secret=secrets.token_urlsafe(48), **kw)


def new_key(prefix: str = "k") -> str:
    return f"{prefix}-{secrets.token_hex(4)}-{next(_keys)}"


def token(
    config: ApiSettings,
    role: Role,
    *,
    pemda: str = PEMDA,
    user: str | None = None,
    npwp: str | None = None,
    skpd: str = SKPD,
) -> str:
    if role is Role.VENDOR and npwp is None:
        npwp = NPWP
    return make_token(
        config,
        sub=user or USERS[role],
        role=role,
        pemda=pemda,
        npwp=npwp,
        skpd=skpd if role in SKPD_BOUND else None,
    )


def bearer(config: ApiSettings, role: Role, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(config, role, **kw)}"}


def line(rekening: str = MEDIA) -> dict[str, Any]:
    return {"skpd": SKPD, "sub_kegiatan": SUB_KEGIATAN, "rekening": rekening}


def post(
    client: httpx.Client | Any,
    config: ApiSettings,
    role: Role,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    pemda: str = PEMDA,
    key: str | None = None,
    user: str | None = None,
    skpd: str = SKPD,
) -> httpx.Response:
    headers = bearer(config, role, pemda=pemda, user=user, skpd=skpd)
    headers["Idempotency-Key"] = key or new_key()
    response: httpx.Response = client.post(f"/pemda/{pemda}{path}", json=body, headers=headers)
    return response


def get(
    client: httpx.Client | Any,
    config: ApiSettings,
    role: Role,
    path: str,
    *,
    pemda: str = PEMDA,
    params: dict[str, Any] | None = None,
    npwp: str | None = None,
    skpd: str = SKPD,
) -> httpx.Response:
    response: httpx.Response = client.get(
        f"/pemda/{pemda}{path}",
        params=params,
        headers=bearer(config, role, pemda=pemda, npwp=npwp, skpd=skpd),
    )
    return response


def adopt_body(pagu: int = 1_000_000_000) -> dict[str, Any]:
    return {
        "year": YEAR,
        "document": "PERDA-1-2025",
        "lines": [
            {**line(MEDIA), "uraian": "Belanja Jasa Iklan", "pagu": pagu},
            {**line(GOODS), "uraian": "Belanja Alat Tulis Kantor", "pagu": pagu},
            {**line(INCOME), "uraian": "Pajak Hotel", "pagu": pagu},
        ],
    }


def vendor_body(npwp: str = NPWP, name: str = VENDOR_NAME) -> dict[str, Any]:
    return {
        "npwp": npwp,
        "name": name,
        "kind": "media",
        "bank_code": "110",
        "account_number": "0012345678",
        "account_holder": name,
    }


def request_body(
    spp: str, gross: int = 100_000_000, npwp: str = NPWP, rekening: str = MEDIA
) -> dict[str, Any]:
    return {
        "year": YEAR,
        "spp_number": spp,
        "line": line(rekening),
        "vendor_npwp": npwp,
        "gross": gross,
        "deductions": [{"code": "PPH23", "amount": 2_000_000}],
        "description": "Publikasi kegiatan",
        "documents": {"contract": "KONTRAK/01/2026"},
    }


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


def build_world(
    client: httpx.Client | Any, config: ApiSettings, *, pemda: str = PEMDA
) -> dict[str, str]:
    """An APBD, two vendors and a requested payment to each: the ids, by name, and ``position``:
    the last write's position in the log (for a report's ``after``, to read these writes)."""
    admin = Role.BPKAD_ADMIN
    expect(post(client, config, admin, "/budgets", adopt_body(), pemda=pemda), 201)
    expect(post(client, config, admin, "/vendors", vendor_body(), pemda=pemda), 201)
    other = vendor_body(OTHER_NPWP, OTHER_VENDOR_NAME)
    expect(post(client, config, admin, "/vendors", other, pemda=pemda), 201)
    mine = expect(
        post(client, config, Role.PPTK, "/disbursements", request_body("SPP-1"), pemda=pemda),
        201,
    )
    theirs = expect(
        post(
            client,
            config,
            Role.PPTK,
            "/disbursements",
            request_body("SPP-2", npwp=OTHER_NPWP),
            pemda=pemda,
        ),
        201,
    )
    lines = expect(get(client, config, admin, f"/budgets/{YEAR}/lines", pemda=pemda), 200)
    return {
        "disbursement_id": mine["id"],
        "other_vendor_disbursement_id": theirs["id"],
        "line_id": lines["items"][0]["id"],
        "npwp": NPWP,
        "other_npwp": OTHER_NPWP,
        "position": str(theirs["position"]),
    }
