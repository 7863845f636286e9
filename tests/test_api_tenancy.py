"""Tenancy and roles, for every route of the application x every role.

Routes are discovered from the OpenAPI document, so a new route is covered as soon as it exists (a
POST route needs a sample body below). Two pemda share one SQLite store, each with the same kind of
world (an APBD, two vendors with the same NPWPs, two payments). For each route and role:

- a token of the other pemda gets 404 (``tenant_scope``);
- a role the route does not name in ``x-kasda-roles`` gets 403 (``role_not_permitted``);
- an allowed role is never refused at the edge, and never gets a 5xx;
- an allowed role of pemda B, on B's own routes with pemda A's ids, gets 404 and changes nothing;
- nothing any role of pemda B reads contains an id of pemda A.

Within pemda A, a second SKPD (Dinas Kesehatan) has a line and a payment of its own. For each route
and each SKPD-bound role (PPTK, bendahara, PPK, PA/KPA) of that other SKPD, naming the first SKPD's
things: every write is refused (403 ``skpd_scope``), a payment or line named by id is refused the
same way, every read answers without a single id (or the code) of the first SKPD, and nothing of the
first SKPD changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from audit.flags import Evidence, Flag, Severity, SubjectKind
from ledger import commands as c
from ledger import ids
from ledger.roles import SKPD_BOUND, Actor, Role
from testkit.api import (
    adopt_body,
    bearer,
    build_world,
    expect,
    get,
    line,
    post,
    request_body,
    settings,
    vendor_body,
)
from testkit.world import (
    GOODS,
    INCOME,
    MEDIA,
    NPWP,
    OTHER_NPWP,
    OTHER_PEMDA,
    OTHER_SKPD,
    PEMDA,
    SKPD,
    YEAR,
)

SAMPLE_BODIES: dict[str, dict[str, Any] | None] = {
    "/budgets": adopt_body(),
    "/budgets/{year}/amendments": {
        "document": "PERDA-P-1",
        "lines": [{**line(GOODS), "uraian": "Belanja ATK", "pagu": 900_000_000}],
    },
    "/budgets/{year}/shifts": {
        "document": "PERKADA-1",
        "from_line": line(GOODS),
        "to_line": line(),
        "amount": 1_000_000,
    },
    "/budgets/{year}/blocks": {"line": line(GOODS), "reason": "reviu"},
    "/budgets/{year}/unblocks": {"line": line(GOODS), "reason": "reviu selesai"},
    "/vendors": vendor_body("013333333333000", "CV Baru"),
    "/vendors/{npwp}/bank-account": {
        "bank_code": "008",
        "account_number": "1234567890",
        "account_holder": "CV Media Priangan",
        "reason": "rekening baru",
    },
    "/vendors/{npwp}/deactivate": {"reason": "tidak aktif"},
    "/vendors/{npwp}/reactivate": {"reason": "aktif kembali"},
    "/disbursements": request_body("SPP-T", gross=1_000_000),
    "/disbursements/{disbursement_id}/verify": None,
    "/disbursements/{disbursement_id}/approve": {"spm_number": "SPM-T"},
    "/disbursements/{disbursement_id}/authorise": {"sp2d_number": "SP2D-T"},
    "/disbursements/{disbursement_id}/reject": {"reason": "tidak lengkap"},
    "/disbursements/{disbursement_id}/cancel": {"reason": "batal"},
    "/disbursements/{disbursement_id}/reissue": {"reason": "rekening baru"},
    "/disbursements/{disbursement_id}/transfer/sent": {"gateway": "iris", "reference": "R-1"},
    "/disbursements/{disbursement_id}/transfer/settled": {"bank_reference": "B-1"},
    "/disbursements/{disbursement_id}/transfer/failed": {"reason": "rekening tutup"},
    "/disbursements/{disbursement_id}/transfer/returned": {"reason": "nama beda"},
    "/disbursements/{disbursement_id}/transfer/rejected": {
        "gateway": "iris",
        "reference": "R-2",
        "reason": "ditolak",
    },
    "/revenues": {
        "year": YEAR,
        "line": line(INCOME),
        "channel": "teller",
        "reference": "T-1",
        "payer": "Hotel",
        "gross": 1_000_000,
    },
    "/reconciliation/runs": {
        "business_date": "2026-04-30",
        "inputs": [{"name": "rkud-0430.sta", "kind": "mt940", "sha256": "b" * 64, "rows": 2}],
        "counts": {"matched": 1, "unmatched_bank": 1},
        "exceptions": [{"id": "EX-T", "status": "unmatched_bank", "amount": 1_000}],
    },
    "/reconciliation/runs/{run_id}/exceptions/{exception_id}/resolve": {
        "resolution": "explained",
        "reason": "dana dalam perjalanan",
    },
    "/redflags/{flag_id}/reviews": {"decision": "escalated", "reason": "diteruskan ke APIP"},
    "/redflag-runs": {"rules": ["duplicate_payment"]},
    # Tutup tahun: refused in this world (no next APBD), so the other routes' year stays open.
    "/years/{year}/close": {"document": "KEP-TUTUP-T", "carry_over": []},
    "/budgets/{year}/cash-plans": {
        "skpd": SKPD,
        "document": "PERKADA-AK-T",
        "lines": [{"line": line(GOODS), "months": [250_000_000] * 4}],
    },
    "/budgets/{year}/cash-plans/{skpd}/amendments": {
        "document": "PERKADA-AK-P",
        "lines": [{"line": line(GOODS), "months": [250_000_000] * 4}],
    },
    "/budgets/{year}/cash-plans/{skpd}/spd": {
        "spd_number": "SPD-T",
        "first_month": 1,
        "last_month": 3,
        "amount": 1_000_000,
    },
    # The bendahara's advance (api/routes/advance.py).
    "/advances": {
        "year": YEAR,
        "skpd": SKPD,
        "document": "KEP-UP/T",
        "ceiling": 50_000_000,
        "kkpd_ceiling": 20_000_000,
        "tu_ceiling": 10_000_000,
        "bank_code": "110",
        "account_number": "0099887766",
        "account_holder": "Bendahara",
    },
    "/advances/{year}/{skpd}/cards": {"card": "5264-xxxx-xxxx-7777", "holder": "T", "limit": 1},
    "/advances/{year}/{skpd}/spj": {
        "spj_number": "SPJ-T",
        "line": line(GOODS),
        "amount": 1_000,
        "channel": "tunai",
        "merchant": "Toko",
        "spent_on": f"{YEAR}-01-02",
        "evidence": {"kuitansi": "KW-T"},
    },
    "/advances/{year}/{skpd}/spj/withdraw": {"spj_number": "SPJ-T", "reason": "salah"},
    "/advances/{year}/{skpd}/card-bills": {
        "card": "5264-xxxx-xxxx-7777",
        "amount": 1,
        "reference": "TAGIHAN-T",
    },
    "/advances/{year}/{skpd}/returns": {"amount": 1, "reference": "STS-T"},
    "/advances/{year}/{skpd}/orders": {
        "spp_number": "SPP-UP-T",
        "mechanism": "up",
        "amount": 1_000,
        "description": "UP",
    },
    "/advances/orders/{order_id}/verify": None,
    "/advances/orders/{order_id}/approve": {"spm_number": "SPM-UP-T"},
    "/advances/orders/{order_id}/authorise": {"sp2d_number": "SP2D-UP-T"},
    "/advances/orders/{order_id}/reject": {"reason": "tidak lengkap"},
    "/advances/orders/{order_id}/cancel": {"reason": "batal"},
    "/advances/orders/{order_id}/settled": {"bank_reference": "B-UP-T"},
    "/revenues/reversals": {
        "year": YEAR,
        "channel": "teller",
        "reference": "T-1",
        "reason": "salah input",
    },
    # The event feed (api/routes/feed.py).
    "/feed/subscriptions": {
        "name": "sipd-t",
        "url": "https://sipd.example.go.id/t",
        "kinds": ["Disbursement.*"],
    },
    "/feed/subscriptions/{subscription_id}/kinds": {"kinds": ["Budget.*"]},
    "/feed/subscriptions/{subscription_id}/pause": None,
    "/feed/subscriptions/{subscription_id}/resume": None,
    "/feed/subscriptions/{subscription_id}/rotate": None,
    "/feed/subscriptions/{subscription_id}/delete": None,
    "/feed/subscriptions/{subscription_id}/dead-letters/replay": {},
    "/feed/subscriptions/{subscription_id}/rewind": {"position": 1},
}


# Query parameters a GET route needs to answer 200.
SAMPLE_QUERIES: dict[str, dict[str, str]] = {
    "/budgets/{year}/as-of": {"at": "2100-01-01T00:00:00+07:00"},
    "/lra": {"year": str(YEAR), "level": "rekening"},
    "/vendors/{vendor_id}/statement": {"requested_from": "2000-01-01T00:00:00+07:00"},
    "/cash-position": {"from": "2000-01-01", "to": "2100-12-31"},
    "/queues/{role}": {"limit": "500"},
    "/reconciliation/runs": {"state": "open"},
    "/reconciliation/runs/{run_id}": {"limit": "500"},
    "/exports/sipd-lra.{kind}": {"year": str(YEAR)},
    "/exports/ebupot.{kind}": {"year": str(YEAR), "month": "1"},
}
RUN_BODY: dict[str, Any] = {
    "business_date": "2026-03-31",
    "inputs": [{"name": "rkud-0331.sta", "kind": "mt940", "sha256": "a" * 64, "rows": 3}],
    "counts": {"matched": 2, "unmatched_bank": 1},
    "exceptions": [{"id": "EX-1", "status": "unmatched_bank", "amount": 5_000}],
}


def _operations() -> tuple[list[tuple[str, str, frozenset[Role]]], frozenset[str]]:
    """Every operation with its roles, and the read-model routes (those with ``after``)."""
    schema = create_app(settings("memory://")).openapi()
    found = []
    positioned = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "x-kasda-roles" in operation:
                roles = frozenset(Role(r) for r in operation["x-kasda-roles"])
                found.append((method, path.removeprefix("/pemda/{pemda}"), roles))
                if any(p["name"] == "freshness" for p in operation.get("parameters", [])):
                    positioned.add(path.removeprefix("/pemda/{pemda}"))
    return found, frozenset(positioned)


OPERATIONS, READ_MODEL_ROUTES = _operations()


class World:
    def __init__(self, client: TestClient, config: ApiSettings) -> None:
        self.client = client
        self.config = config
        self.position = 0  # the last write's position: read-model routes read with ``after``
        self.a = self._world(PEMDA)
        self.b = self._world(OTHER_PEMDA)
        self.a_ids = {self.a["disbursement_id"], self.a["other_vendor_disbursement_id"]}
        self.a_ids |= {self.a["line_id"], str(ids.budget_id(PEMDA, YEAR)), self.a["run_id"]}
        self.a_ids.add(self.a["flag_id"])
        self.a_ids.add(self.a["subscription_id"])
        self.a_ids |= {self.a["order_id"], str(ids.advance_id(PEMDA, YEAR, SKPD))}
        self.a_ids |= {str(ids.vendor_id(PEMDA, n)) for n in (self.a["npwp"], OTHER_NPWP)}
        self.dinkes = self._other_skpd()
        self._cash_plan()
        # Everything of SKPD (Dinas Pendidikan) in pemda A that an official of OTHER_SKPD must
        # never see: its payments and its lines.
        lines = expect(
            get(client, config, Role.BPKAD_ADMIN, f"/budgets/{YEAR}/lines", params={"skpd": SKPD}),
            200,
        )
        self.skpd_ids = {self.a["disbursement_id"], self.a["other_vendor_disbursement_id"]}
        self.skpd_ids |= {x["id"] for x in lines["items"]}

    def _other_skpd(self) -> dict[str, str]:
        """A line of OTHER_SKPD in pemda A (APBD-P) and a payment on it to the first vendor, by
        that SKPD's PPTK."""
        dinkes_line = {"skpd": OTHER_SKPD, "sub_kegiatan": "1.02.02.2.01.0004", "rekening": MEDIA}
        admin, pptk = Role.BPKAD_ADMIN, Role.PPTK
        amended = {
            "document": "PERDA-P-DINKES",
            "lines": [{**dinkes_line, "uraian": "Belanja Jasa Iklan", "pagu": 500_000_000}],
        }
        expect(post(self.client, self.config, admin, f"/budgets/{YEAR}/amendments", amended), 200)
        body = {**request_body("SPP-DINKES-1"), "line": dinkes_line}
        paid = expect(
            post(self.client, self.config, pptk, "/disbursements", body, skpd=OTHER_SKPD), 201
        )
        self.position = max(self.position, paid["position"])
        lines = expect(
            get(
                self.client,
                self.config,
                admin,
                f"/budgets/{YEAR}/lines",
                params={"skpd": OTHER_SKPD},
            ),
            200,
        )
        return {"disbursement_id": paid["id"], "line_id": lines["items"][0]["id"]}

    def _cash_plan(self) -> None:
        """SKPD's anggaran kas in pemda A, and an SPD (after the other SKPD's payment: from here
        on pemda A's year runs on SPD)."""
        admin, bud = Role.BPKAD_ADMIN, Role.KUASA_BUD
        adopt, issue = "/budgets/{year}/cash-plans", "/budgets/{year}/cash-plans/{skpd}/spd"
        plan = {**(SAMPLE_BODIES[adopt] or {}), "document": "PERKADA-AK-1"}
        expect(post(self.client, self.config, admin, f"/budgets/{YEAR}/cash-plans", plan), 201)
        spd = {**(SAMPLE_BODIES[issue] or {}), "spd_number": "SPD-1"}
        issued = expect(
            post(self.client, self.config, bud, f"/budgets/{YEAR}/cash-plans/{SKPD}/spd", spd), 201
        )
        self.position = max(self.position, issued["position"])

    def _world(self, pemda: str) -> dict[str, str]:
        """The common world, a reconciliation run with one exception, and the path values of
        the read-model routes (a vendor by id, a queue's role)."""
        found = build_world(self.client, self.config, pemda=pemda)
        recorded = expect(
            post(
                self.client,
                self.config,
                Role.BPKAD_ADMIN,
                "/reconciliation/runs",
                RUN_BODY,
                pemda=pemda,
            ),
            201,
        )
        subscription = {
            "name": "sipd",
            "url": "https://sipd.example.go.id/k",
            "kinds": ["Vendor.*"],
        }
        subscribed = expect(
            post(
                self.client,
                self.config,
                Role.BPKAD_ADMIN,
                "/feed/subscriptions",
                subscription,
                pemda=pemda,
            ),
            201,
        )
        self.position = max(
            self.position, int(found["position"]), recorded["position"], subscribed["position"]
        )
        vendor_id = str(ids.vendor_id(pemda, found["npwp"]))
        return (
            found
            | self._advance(pemda)
            | {
                "vendor_id": vendor_id,
                "role": "ppk",
                "run_id": recorded["id"],
                "exception_id": "EX-1",
                "flag_id": self._flag(pemda, found["disbursement_id"], vendor_id),
                "subscription_id": subscribed["id"],
            }
        )

    def _advance(self, pemda: str) -> dict[str, str]:
        """SKPD's UP set and an SPP-UP of it requested: the path values of the advance's routes."""
        set_up = dict(SAMPLE_BODIES["/advances"] or {})
        expect(post(self.client, self.config, Role.BPKAD_ADMIN, "/advances", set_up, pemda=pemda),
               201)  # fmt: skip
        up = {"spp_number": "SPP-UP-1", "mechanism": "up", "amount": 10_000_000,
              "description": "UP"}  # fmt: skip
        path = f"/advances/{YEAR}/{SKPD}/orders"
        asked = expect(post(self.client, self.config, Role.BENDAHARA, path, up, pemda=pemda), 201)
        self.position = max(self.position, asked["position"])
        return {"skpd": SKPD, "order_id": asked["id"]}

    def _flag(self, pemda: str, disbursement_id: str, vendor_id: str) -> str:
        """A red flag on the world's payment, recorded as a nightly run records one."""
        flag = Flag(
            rule="duplicate_payment", severity=Severity.HIGH,
            subject_kind=SubjectKind.DISBURSEMENT, subject_id=disbursement_id, amount=1_000,
            period_start=date(YEAR, 3, 1), period_end=date(YEAR, 3, 2),
            disbursement_ids=(disbursement_id,), vendor_ids=(vendor_id,),
            evidence=(Evidence(disbursement_id, 1, 1),),
            explanation_id="Contoh indikasi.", explanation_en="A sample flag.",
        )  # fmt: skip
        ledger = self.client.app.state.ledger  # type: ignore[attr-defined]
        ledger.execute(
            c.RecordRedFlagRun(
                idempotency_key=f"flag-{pemda}", actor=Actor("inspektur", Role.AUDITOR),
                pemda=pemda, position=1, as_of=None, thresholds={}, thresholds_digest="0" * 64,
                rules=("duplicate_payment",), flags=(flag.as_dict(),),
            )
        )  # fmt: skip
        self.position = max(self.position, int(ledger.recorder.max_notification_id() or 0))
        return flag.id

    def call(
        self,
        method: str,
        template: str,
        role: Role,
        *,
        token_pemda: str,
        path_pemda: str,
        params_of: dict[str, str],
        key: str,
        skpd: str = SKPD,
    ) -> Any:
        values = {"year": str(YEAR), "kind": "csv", **params_of}  # kind: a file's format
        path = template
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, f"add a sample value for a path parameter of {template}"
        headers = bearer(self.config, role, pemda=token_pemda, skpd=skpd)
        url = f"/pemda/{path_pemda}{path}"
        if method == "get":
            params = dict(SAMPLE_QUERIES.get(template, {}))
            if template in READ_MODEL_ROUTES:  # read-your-writes: the world's writes included
                params["after"] = str(self.position)
            return self.client.get(url, headers=headers, params=params)
        assert template in SAMPLE_BODIES, f"add a sample body for POST {template}"
        headers["Idempotency-Key"] = key
        return self.client.post(url, json=SAMPLE_BODIES[template], headers=headers)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("tenancy") / "kasda.db"
    config = settings(f"sqlite:///{path}")
    with TestClient(create_app(config)) as client:
        yield World(client, config)


def _rule(response: Any) -> str | None:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        rule: str = response.json()["rule"]
        return rule
    return None


@pytest.mark.parametrize(
    ("method", "template", "allowed"),
    OPERATIONS,
    ids=[f"{m.upper()} {t or '/'}" for m, t, _ in OPERATIONS],
)
def test_every_route_for_every_role(
    world: World, method: str, template: str, allowed: frozenset[Role]
) -> None:
    before = expect(
        get(
            world.client, world.config, Role.AUDITOR, f"/disbursements/{world.a['disbursement_id']}"
        ),
        200,
    )
    for role in Role:
        tag = f"{role.value}-{method}-{template}"
        # 1. another pemda's token: the pemda does not exist for it
        foreign = world.call(
            method,
            template,
            role,
            token_pemda=OTHER_PEMDA,
            path_pemda=PEMDA,
            params_of=world.a,
            key=f"x-{tag}",
        )
        assert (foreign.status_code, _rule(foreign)) == (404, "tenant_scope"), (tag, foreign.text)
        # 2. this pemda: roles the route does not name are refused; the others are let through
        own = world.call(
            method,
            template,
            role,
            token_pemda=PEMDA,
            path_pemda=PEMDA,
            params_of=world.a,
            key=f"o-{tag}",
        )
        assert own.status_code < 500, (tag, own.text)
        if role not in allowed:
            assert (own.status_code, _rule(own)) == (403, "role_not_permitted"), (tag, own.text)
            continue
        assert own.status_code != 401
        assert _rule(own) not in ("role_not_permitted", "tenant_scope", "skpd_scope"), tag
        if method == "get" and role is not Role.VENDOR:
            assert own.status_code == 200, (tag, own.text)
        # 3. pemda B's user, on B's routes, naming A's things: nothing there
        reach = world.call(
            method,
            template,
            role,
            token_pemda=OTHER_PEMDA,
            path_pemda=OTHER_PEMDA,
            params_of=world.a,
            key=f"r-{tag}",
        )
        assert reach.status_code < 500, (tag, reach.text)
        names_an_a_id = any(
            "{" + p + "}" in template
            for p in (
                "disbursement_id",
                "line_id",
                "vendor_id",
                "run_id",
                "flag_id",
                "subscription_id",
            )
        )
        if names_an_a_id:
            assert reach.status_code in (404, 422), (tag, reach.text)
        # (an id the caller sent may be echoed back in the problem; nothing else of A's)
        echoed = {v for k, v in world.a.items() if "{" + k + "}" in template}
        for a_id in world.a_ids - echoed:
            assert a_id not in reach.text, (tag, "leaks", a_id)
        # and B's own reads never show A's ids either
        if method == "get":
            theirs = world.call(
                method,
                template,
                role,
                token_pemda=OTHER_PEMDA,
                path_pemda=OTHER_PEMDA,
                params_of=world.b,
                key=f"b-{tag}",
            )
            assert theirs.status_code < 500
            for a_id in world.a_ids:
                assert a_id not in theirs.text, (tag, "leaks", a_id)
    if method == "post" and "{disbursement_id}" in template:
        # B's attempts on A's payment changed nothing of it (A's own allowed call may have).
        after = expect(
            get(
                world.client,
                world.config,
                Role.AUDITOR,
                f"/disbursements/{world.a['disbursement_id']}",
            ),
            200,
        )
        assert after["pemda"] == before["pemda"] == PEMDA


def _fingerprint(world: World) -> list[Any]:
    """What SKPD's payments and lines are: their versions and statuses (read by an auditor)."""
    client, config = world.client, world.config
    found: list[Any] = []
    for key in ("disbursement_id", "other_vendor_disbursement_id"):
        d = expect(get(client, config, Role.AUDITOR, f"/disbursements/{world.a[key]}"), 200)
        found.append((d["id"], d["status"], d["version"]))
    lines = expect(get(client, config, Role.AUDITOR, f"/budgets/{YEAR}/lines"), 200)
    found.extend(sorted((x["id"], x["committed"], x["realised"]) for x in lines["items"]))
    return found


# An SKPD's advance is named by its SKPD, an advance order by its id.
NAMES_AN_SKPD_THING = ("{disbursement_id}", "{line_id}", "{skpd}", "{order_id}")


@pytest.mark.parametrize(
    ("method", "template", "allowed"),
    OPERATIONS,
    ids=[f"{m.upper()} {t or '/'}" for m, t, _ in OPERATIONS],
)
def test_every_route_for_an_official_of_another_skpd(
    world: World, method: str, template: str, allowed: frozenset[Role]
) -> None:
    before = _fingerprint(world)
    for role in sorted(SKPD_BOUND & allowed):
        tag = f"{role.value}-{method}-{template}"
        response = world.call(
            method,
            template,
            role,
            token_pemda=PEMDA,
            path_pemda=PEMDA,
            params_of=world.a,
            key=f"s-{tag}",
            skpd=OTHER_SKPD,
        )
        assert response.status_code < 500, (tag, response.text)
        if method == "post" or any(p in template for p in NAMES_AN_SKPD_THING):
            # every write an official may send touches an SKPD's payment or line
            assert (response.status_code, _rule(response)) == (403, "skpd_scope"), (
                tag,
                response.text,
            )
        else:
            assert response.status_code == 200, (tag, response.text)
        echoed = {v for k, v in world.a.items() if "{" + k + "}" in template}
        for skpd_id in world.skpd_ids - echoed:
            assert skpd_id not in response.text, (tag, "leaks", skpd_id)
        # (the SKPD a path names is echoed back in the problem's instance; nothing else of it)
        text = response.text.replace(f"/{SKPD}", "/") if "{skpd}" in template else response.text
        assert SKPD not in text, (tag, "names the other SKPD")
    assert _fingerprint(world) == before


def test_an_official_sees_its_own_skpd_only(world: World) -> None:
    client, config = world.client, world.config
    mine, theirs = world.dinkes["disbursement_id"], world.a["disbursement_id"]
    after = {"after": world.position}
    for role in sorted(SKPD_BOUND):

        def read(
            path: str,
            params: dict[str, Any] | None = None,
            skpd: str = OTHER_SKPD,
            role: Role = role,
        ) -> Any:
            return expect(
                get(client, config, role, path, params={**after, **(params or {})}, skpd=skpd),
                200,
            )

        listed = read("/disbursements", {"limit": 500})
        assert {x["id"] for x in listed["items"]} == {mine}, role
        assert read("/disbursements", {"skpd": SKPD})["items"] == []
        assert {x["skpd"] for x in read(f"/budgets/{YEAR}/lines")["items"]} == {OTHER_SKPD}
        assert {
            x["skpd"]
            for x in read(f"/budgets/{YEAR}/as-of", {"at": "2100-01-01T00:00:00+07:00"})["lines"][
                "items"
            ]
        } == {OTHER_SKPD}
        lra = read("/lra", {"year": YEAR, "level": "skpd"})
        assert [r["kode"] for r in lra["rows"]["items"]] == [OTHER_SKPD]
        assert read("/lra", {"year": YEAR, "skpd": OTHER_SKPD})["skpd"] == OTHER_SKPD
        foreign_lra = get(
            client,
            config,
            role,
            "/lra",
            params={**after, "year": YEAR, "skpd": SKPD},
            skpd=OTHER_SKPD,
        )
        assert (foreign_lra.status_code, _rule(foreign_lra)) == (403, "skpd_scope"), role
        statement = read(f"/vendors/{NPWP}/statement")
        assert [p["disbursement_id"] for p in statement["payments"]["items"]] == [mine]
        assert statement["totals"]["payments"] == 1
        assert read("/queues")["sizes"]["ppk"] == 1  # the other SKPD's request waits
        assert [x["disbursement_id"] for x in read("/queues/ppk")["items"]["items"]] == [mine]
        assert read("/me", skpd=OTHER_SKPD)["skpd"] == OTHER_SKPD
        # and the first SKPD's officials do not see the other SKPD's payment
        first = read("/disbursements", {"limit": 500}, skpd=SKPD)
        assert mine not in {x["id"] for x in first["items"]} and theirs in {
            x["id"] for x in first["items"]
        }
        refused = get(client, config, role, f"/disbursements/{mine}", skpd=SKPD)
        assert (refused.status_code, _rule(refused)) == (403, "skpd_scope")
    # pemda-wide roles see every SKPD
    for role in (Role.KUASA_BUD, Role.BPKAD_ADMIN, Role.AUDITOR):
        listed = expect(get(client, config, role, "/disbursements", params={"limit": 500}), 200)
        assert {mine, theirs} <= {x["id"] for x in listed["items"]}


def test_a_vendor_sees_only_its_own_payments(world: World) -> None:
    client, config = world.client, world.config
    mine, theirs = world.a["disbursement_id"], world.a["other_vendor_disbursement_id"]
    listed = expect(get(client, config, Role.VENDOR, "/disbursements", params={"limit": 500}), 200)
    # its payments from every SKPD: a vendor is not bound to one
    assert {x["id"] for x in listed["items"]} == {mine, world.dinkes["disbursement_id"]}
    asked_for_other = expect(
        get(client, config, Role.VENDOR, "/disbursements", params={"vendor": OTHER_NPWP}), 200
    )
    assert asked_for_other["items"] == []
    for path in (
        f"/disbursements/{theirs}",
        f"/disbursements/{theirs}/history",
        f"/vendors/{OTHER_NPWP}",
    ):
        response = get(client, config, Role.VENDOR, path)
        assert (response.status_code, _rule(response)) == (404, "not_found"), path
    for path in (
        f"/disbursements/{mine}",
        f"/disbursements/{mine}/history",
        f"/vendors/{world.a['npwp']}",
    ):
        assert get(client, config, Role.VENDOR, path).status_code == 200, path
    # the same NPWP's token in the other pemda sees that pemda's payments only
    other = expect(get(client, config, Role.VENDOR, "/disbursements", pemda=OTHER_PEMDA), 200)
    assert {x["id"] for x in other["items"]} == {world.b["disbursement_id"]}


def test_every_route_with_roles_is_under_a_pemda() -> None:
    schema = create_app(settings("memory://")).openapi()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            # The gateways' webhooks, and the event feed's pull route: a subscriber's pull token,
            # not a user's (tests/test_api_feed.py holds it to its pemda and kinds).
            if path == "/healthz" or path.startswith(("/webhooks", "/feed/")):
                continue
            assert path.startswith("/pemda/{pemda}"), path
            assert "x-kasda-roles" in operation, (method, path)
            assert "bearer" in str(operation.get("security", "")).lower() or operation.get(
                "security"
            ), (method, path)


def test_the_read_model_routes_take_a_position() -> None:
    assert {"/lra", "/vendors/{vendor_id}/statement", "/cash-position", "/queues"} < (
        READ_MODEL_ROUTES
    )
