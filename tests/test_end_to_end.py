"""The whole payment flow through real parts, on a real SQLite file and a real PostgreSQL schema.

No mocks: the FastAPI app (``create_app``) over a ``Ledger`` on the database, the Midtrans-compatible
simulator on 127.0.0.1, ``PayoutService`` with an ``IrisClient`` pointed at it, ``kasda reconcile`` and
``kasda reconcile-resolve`` called in-process (``kasda.cli.main``), and the projections.

Two business days (10 and 11 March 2026, WIB; the ledger and the simulator share one clock):

1. BPKAD adopts the APBD and registers three vendors; PPTK requests seven SPP; PPK, PA/KPA and
   Kuasa BUD take six of them to SP2D (one stays verified: committed, not realised). Every other
   role on each step, separation of duties and the lifecycle are refused as problem documents,
   never 500; retries with the same Idempotency-Key give the first answer (also from a second app
   on the same database, at the end).
2. The six SP2D are paid through Iris with faults: a create that times out after the gateway acted,
   a create answered 500 after it was done, a 503 on approve; one transfer the beneficiary bank
   sends back; one that fails and is paid again under attempt 02. The simulator's signed
   notifications are delivered to ``POST /webhooks/iris`` out of order and duplicated (one at a
   time, then racing from six threads, then all again), plus a forgery. One money-moving payout
   per disbursement at the simulator; Sent/Settled/Failed/Returned once each in the ledger.
3. LRA (rekening and SKPD levels, now and as of a day), vendor statements (own token; other
   vendors get 404) and the cash position are compared with numbers computed here from the amounts
   sent.
4. The simulator writes the day's payout report and RKUD statement (MT940, and CSV as a trial
   run); a debit with no SP2D is planted; ``kasda reconcile`` matches every paid disbursement,
   reports the debit ``unmatched_bank`` and the bank's return ``returned``, and records the run;
   exceptions are resolved once (API and CLI), a second different resolution and an auditor are
   refused.
5. Day two: an income receipt; the cash position runs on from day one.
6. The hash chain verifies (API and in-process) and the read models the app kept equal a rebuild
   from scratch.
"""

from __future__ import annotations

import csv
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from gateways.config import GatewaySettings
from gateways.iris import IrisClient
from gateways.payouts import Outcome, PayoutService
from gateways.references import payout_reference
from gateways.signatures import iris_signature
from gateways.simulator import SIM_KEYS, Simulator
from gateways.simulator.state import Notification
from kasda.cli import main as kasda
from ledger.application import Ledger
from ledger.roles import Role
from ledger.verify import verify
from projections.runner import Projector
from testkit.api import bearer, expect, get, line, new_key, post, settings
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
    SUB_KEGIATAN,
    USERS,
    WIB,
    YEAR,
)
from tests.conftest import make_url
from tests.projection_oracle import tables

DAY = date(YEAR, 3, 10)
PROBLEM = "application/problem+json"
PAGU = {MEDIA: 1_000_000_000, GOODS: 500_000_000, INCOME: 250_000_000}
ACCOUNT_A = "0012345678"
ACCOUNT_B = "0098765432"
ACCOUNT_C = "0055501234"  # the beneficiary bank sends transfers to it back
THIRD_NPWP = "021234567890000"
ACCOUNTS = {NPWP: ACCOUNT_A, OTHER_NPWP: ACCOUNT_B, THIRD_NPWP: ACCOUNT_C}
PLANTED_AMOUNT = 4_321_000
PLANTED_REMARK = "TRF 32.73/09999/SP2D-LS/BUD/2026 REK:0011112222 BANK:110 PT FIKTIF"


class Clock:
    """One clock for the ledger and the simulator: a second per reading from 09:00 WIB on DAY
    (thread-safe: the app's worker threads and the simulator's threads read it)."""

    def __init__(self) -> None:
        self.now = datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=WIB)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=1)
            return self.now

    def to(self, day: date) -> None:
        with self.lock:
            self.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=WIB)


@dataclass(frozen=True)
class Payment:
    """What the test sent for one SPP: the numbers every report is checked against."""

    n: int
    npwp: str
    rekening: str
    gross: int
    deductions: tuple[tuple[str, int], ...]
    # "settled"; "returned" (paid, then sent back by the bank); "resent" (the first transfer
    # failed, the second settled); or "verified" (left open: committed, not realised)
    fate: str

    @property
    def paid(self) -> bool:
        """Taken to SP2D and paid (money left the RKUD)."""
        return self.fate != "verified"

    @property
    def status(self) -> str:
        """The disbursement's status at the end."""
        return "settled" if self.fate == "resent" else self.fate

    @property
    def spp(self) -> str:
        return f"SPP-{self.n:03d}"

    @property
    def sp2d(self) -> str:
        return f"{PEMDA}/{self.n:05d}/SP2D-LS/BUD/{YEAR}"

    @property
    def withheld(self) -> int:
        return sum(amount for _, amount in self.deductions)

    @property
    def net(self) -> int:
        return self.gross - self.withheld


PAYMENTS = (
    Payment(1, NPWP, MEDIA, 100_000_000, (("PPH23", 2_000_000),), "settled"),
    Payment(2, NPWP, GOODS, 55_500_000, (("PPN", 5_000_000), ("PPH22", 750_000)), "settled"),
    Payment(3, OTHER_NPWP, MEDIA, 30_000_000, (("PPH23", 600_000),), "settled"),
    Payment(4, OTHER_NPWP, GOODS, 12_345_678, (), "settled"),
    Payment(5, NPWP, MEDIA, 7_000_000, (("PPH23", 140_000),), "verified"),
    Payment(6, THIRD_NPWP, GOODS, 9_900_000, (("PPH22", 148_500),), "returned"),
    Payment(7, OTHER_NPWP, GOODS, 4_400_000, (("PPN", 400_000),), "resent"),
)


@dataclass
class World:
    client: TestClient
    config: ApiSettings
    url: str
    ledger: Ledger
    sim: Simulator
    clock: Clock
    tmp: Path
    reconcile_argv: list[str] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)  # payment n -> disbursement id
    # idempotency key -> (role, path, body, first answer's status and body), to replay elsewhere
    first: dict[str, tuple[Role, str, Any, int, Any]] = field(default_factory=dict)

    def post(self, role: Role, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return post(self.client, self.config, role, path, body, **kw)

    def get(self, role: Role, path: str, **kw: Any) -> httpx.Response:
        return get(self.client, self.config, role, path, **kw)


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    url = make_url(str(request.param), tmp_path, request)
    clock = Clock()
    with Simulator(seed=17, clock=clock, instant_payouts=False) as sim:
        sim.faults.hang_seconds = 0.6
        sim.faults.return_accounts.add(ACCOUNT_C)
        # Notifications are kept in sim.gateway.notifications; the test delivers them itself
        # (duplicated, out of order). The URL the simulator tries is its own, where nobody
        # listens for them (404: delivered once, not retried).
        sim.set_webhooks(iris=f"{sim.url}/nobody/webhooks/iris")
        config = settings(url, gateway_settings=GatewaySettings.for_simulator(sim.url))
        ledger = Ledger(url, clock=clock)
        app = create_app(config, ledger=ledger)
        try:
            with TestClient(app) as client:
                yield World(client, config, url, ledger, sim, clock, tmp_path)
        finally:
            app.state.read_models.close()
            ledger.close()


def problem(response: httpx.Response, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert (body["status"], body["rule"], body["type"]) == (status, rule, f"urn:kasda:rule:{rule}")
    return body


# -- 1. the API: budget, vendors, SPP -> SP2D --------------------------------------------------------
def setup_budget_and_vendors(w: World) -> None:
    admin = Role.BPKAD_ADMIN
    adopt = {
        "year": YEAR,
        "document": "PERDA-7-2025",
        "lines": [
            {**line(MEDIA), "uraian": "Belanja Jasa Iklan", "pagu": PAGU[MEDIA]},
            {**line(GOODS), "uraian": "Belanja Alat Tulis Kantor", "pagu": PAGU[GOODS]},
            {**line(INCOME), "uraian": "Pajak Hotel", "pagu": PAGU[INCOME]},
        ],
    }
    problem(w.post(Role.PPTK, "/budgets", adopt), 403, "role_not_permitted")
    key = new_key("adopt")
    first = w.post(admin, "/budgets", adopt, key=key)
    body = expect(first, 201)
    again = w.post(admin, "/budgets", adopt, key=key)
    assert (again.status_code, again.json()) == (201, body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    for npwp, name, account in (
        (NPWP, "PT Pikiran Rakyat Bandung", ACCOUNT_A),
        (OTHER_NPWP, "CV Media Priangan", ACCOUNT_B),
        (THIRD_NPWP, "CV Sumber Alat Tulis", ACCOUNT_C),
    ):
        vendor = {
            "npwp": npwp,
            "name": name,
            "kind": "media",
            "bank_code": "110",
            "account_number": account,
            "account_holder": name,
        }
        problem(w.post(Role.KUASA_BUD, "/vendors", vendor), 403, "role_not_permitted")
        expect(w.post(admin, "/vendors", vendor), 201)


def spp_body(p: Payment) -> dict[str, Any]:
    return {
        "year": YEAR,
        "spp_number": p.spp,
        "line": {"skpd": SKPD, "sub_kegiatan": SUB_KEGIATAN, "rekening": p.rekening},
        "vendor_npwp": p.npwp,
        "gross": p.gross,
        "deductions": [{"code": c, "amount": a} for c, a in p.deductions],
        "description": f"Pembayaran {p.spp}",
        "documents": {"contract": f"KONTRAK/{p.n:02d}/{YEAR}"},
    }


def request_payments(w: World) -> None:
    keys: list[str] = []
    for p in PAYMENTS:
        key = new_key("spp")
        keys.append(key)
        created = expect(w.post(Role.PPTK, "/disbursements", spp_body(p), key=key), 201)
        w.ids[p.n] = str(created["id"])
        w.first[key] = (Role.PPTK, "/disbursements", spp_body(p), 201, created)
        # a retry (lost answer) gives the first answer, not a second SPP
        again = w.post(Role.PPTK, "/disbursements", spp_body(p), key=key)
        assert (again.status_code, again.json()) == (201, created)
        assert again.headers.get("Idempotent-Replayed") == "true"
    # the same key with another body is refused, and creates nothing
    other = {**spp_body(PAYMENTS[0]), "spp_number": "SPP-999"}
    problem(
        w.post(Role.PPTK, "/disbursements", other, key=keys[0]),
        422,
        "idempotency_key_reused_with_other_command",
    )
    # the same SPP number under a new key is a second SPP: refused
    problem(w.post(Role.PPTK, "/disbursements", spp_body(PAYMENTS[0])), 409, "unique_identity")
    # nobody but PPTK/bendahara requests; the auditor and the vendor write nothing
    for role in (Role.PPK, Role.PA_KPA, Role.KUASA_BUD, Role.AUDITOR, Role.VENDOR, Role.GATEWAY):
        problem(w.post(role, "/disbursements", other), 403, "role_not_permitted")
    listed = expect(w.get(Role.AUDITOR, "/disbursements", params={"year": YEAR}), 200)
    assert listed["total"] == len(PAYMENTS)


STEPS: tuple[tuple[str, Role], ...] = (
    ("verify", Role.PPK),
    ("approve", Role.PA_KPA),
    ("authorise", Role.KUASA_BUD),
)


def step_body(step: str, p: Payment) -> dict[str, Any] | None:
    if step == "approve":
        return {"spm_number": f"{PEMDA}/{p.n:05d}/SPM-LS/{YEAR}"}
    if step == "authorise":
        return {"sp2d_number": p.sp2d}
    return None


def refusals_before(w: World, p: Payment, step: str, role: Role) -> None:
    """Every other role on this step is refused at the edge (403 problem, never a 500)."""
    path = f"/disbursements/{w.ids[p.n]}/{step}"
    for other in Role:
        if other is not role:
            problem(w.post(other, path, step_body(step, p)), 403, "role_not_permitted")


def take_through_approvals(w: World) -> None:
    first = PAYMENTS[0]
    d = w.ids[first.n]
    # steps out of order are the lifecycle's business: 409, not 500
    problem(
        w.post(Role.PA_KPA, f"/disbursements/{d}/approve", step_body("approve", first)),
        409,
        "disbursement_lifecycle",
    )
    problem(
        w.post(Role.KUASA_BUD, f"/disbursements/{d}/authorise", step_body("authorise", first)),
        409,
        "disbursement_lifecycle",
    )
    # a rejection belongs to the current step's role
    problem(
        w.post(Role.KUASA_BUD, f"/disbursements/{d}/reject", {"reason": "bukan giliran"}),
        403,
        "step_requires_role",
    )
    # the PPTK who requested may not also verify, even holding a PPK token
    problem(
        w.post(Role.PPK, f"/disbursements/{d}/verify", user=USERS[Role.PPTK]),
        403,
        "separation_of_duties",
    )
    # ... nor under another spelling of her id (a space, capitals, a fullwidth dot)
    for spelling in (" " + USERS[Role.PPTK], USERS[Role.PPTK].upper(), "pptk\uff0eani"):
        problem(
            w.post(Role.PPK, f"/disbursements/{d}/verify", user=spelling),
            403,
            "separation_of_duties",
        )
    # officials of another SKPD of the pemda neither verify nor withdraw this SKPD's SPP
    problem(w.post(Role.PPK, f"/disbursements/{d}/verify", skpd=OTHER_SKPD), 403, "skpd_scope")
    problem(
        w.post(Role.PPTK, f"/disbursements/{d}/cancel", {"reason": "x"}, skpd=OTHER_SKPD),
        403,
        "skpd_scope",
    )
    for p in PAYMENTS:
        d = w.ids[p.n]
        for step, role in STEPS if p.paid else STEPS[:1]:
            if p.n == 1:
                refusals_before(w, p, step, role)
            key = new_key(step)
            done = expect(
                w.post(role, f"/disbursements/{d}/{step}", step_body(step, p), key=key), 200
            )
            replay = w.post(role, f"/disbursements/{d}/{step}", step_body(step, p), key=key)
            assert (replay.status_code, replay.json()) == (200, done)
            assert replay.headers.get("Idempotent-Replayed") == "true"
            # the same step again under a new key is a lifecycle refusal
            problem(
                w.post(role, f"/disbursements/{d}/{step}", step_body(step, p)),
                409,
                "disbursement_lifecycle",
            )
            if p.n == 2 and step == "verify":
                # the PPK who verified may not also approve the SPM
                problem(
                    w.post(
                        Role.PA_KPA,
                        f"/disbursements/{d}/approve",
                        step_body("approve", p),
                        user=USERS[Role.PPK],
                    ),
                    403,
                    "separation_of_duties",
                )
        one = expect(w.get(Role.AUDITOR, f"/disbursements/{d}"), 200)
        assert one["status"] == ("authorised" if p.paid else "verified")
        assert (one["gross"], one["net"]) == (p.gross, p.net)
        if p.paid:
            assert one["sp2d_number"] == p.sp2d
            assert one["bank_account"]["number"] == ACCOUNTS[p.npwp]


# -- 2. paying through the simulator, and its notifications ------------------------------------------
def pay_with_faults(w: World) -> dict[int, str]:
    sim = w.sim
    service = PayoutService(
        w.ledger,
        IrisClient(
            sim.url + "/iris", SIM_KEYS.creator_key, SIM_KEYS.approver_key, timeout_seconds=0.3
        ),
    )
    paid = [p for p in PAYMENTS if p.paid]
    plans: dict[int, tuple[str, str]] = {
        1: ("/iris/api/v1/payouts", "hang"),  # created, the answer comes after the client gave up
        2: ("/iris/api/v1/payouts", "done-500"),  # created, then a 500
        3: ("/iris/api/v1/payouts/approve", "503"),  # approval refused once, nothing done
    }
    references: dict[int, str] = {}
    for p in paid:
        if p.fate == "resent":  # Iris fails the first payout of this one
            sim.faults.fail_references.add(payout_reference(UUID(w.ids[p.n]), 1))
        if p.n in plans:
            prefix, kind = plans[p.n]
            sim.faults.plan("POST", prefix, kind)
        result = service.pay(UUID(w.ids[p.n]))
        sim.wait_idle()
        assert result.outcome is Outcome.SENT, result
        assert result.sp2d_number == p.sp2d
        references[p.n] = result.reference
    assert sim.faults.pending == 0
    assert sim.faults.injected == 3
    # paying again finds nothing to pay
    assert service.pay_all() == []
    # the bank completes the transfers; Iris notifies
    assert sim.gateway.process_payouts() == len(paid)
    sim.flush()
    # Iris tells of the failed transfer; kasda records it and pays again under attempt 2
    resent = [p for p in paid if p.fate == "resent"]
    for p in resent:
        [failed] = [
            n
            for n in sim.gateway.notifications
            if json.loads(n.body) | {"updated_at": ""}
            == {
                "reference_no": references[p.n],
                "amount": f"{p.net}.00",
                "status": "failed",
                "error_code": "account_closed",
                "updated_at": "",
            }
        ]
        response = w.client.post("/webhooks/iris", content=failed.body, headers=failed.headers)
        assert (response.status_code, response.json()["result"]) == (200, "recorded")
        assert expect(w.get(Role.AUDITOR, f"/disbursements/{w.ids[p.n]}"), 200)["status"] == (
            "failed"
        )
    assert service.pay_all() == []  # a failed one is paid again only when asked to
    again = PayoutService(service.ledger, service.gateway, resend_failed=True).pay_all()
    assert [(r.spp_number, r.outcome, r.reference) for r in again] == [
        (p.spp, Outcome.SENT, payout_reference(UUID(w.ids[p.n]), 2)) for p in resent
    ]
    for p, result in zip(resent, again, strict=True):
        references[p.n] = result.reference
    assert sim.gateway.process_payouts() == len(resent)
    sim.flush()
    return references


def deliver_notifications(w: World, references: dict[int, str]) -> None:
    notes = [n for n in w.sim.gateway.notifications if n.url.endswith("/webhooks/iris")]
    statuses = Counter(json.loads(n.body)["status"] for n in notes)
    paid = len(references)
    returned = sum(p.fate == "returned" for p in PAYMENTS)
    resent = sum(p.fate == "resent" for p in PAYMENTS)
    assert statuses == {
        "approved": paid + resent,
        "processed": paid + resent,
        "completed": paid,
        "failed": returned + resent,  # returned by the beneficiary bank; failed first attempts
    }
    # a forgery is refused and records nothing
    forged = notes[-1].body.replace(b"completed", b"failed")
    response = w.client.post(
        "/webhooks/iris",
        content=forged,
        headers={"Iris-Signature": iris_signature(forged, "not-the-merchant-key")},
    )
    assert response.status_code == 401
    allowed = {"recorded", "nothing_new", "stale"}

    def deliver(note: Notification) -> tuple[str, str]:
        response = w.client.post("/webhooks/iris", content=note.body, headers=note.headers)
        assert response.status_code == 200, response.text
        return str(json.loads(note.body)["reference_no"]), str(response.json()["result"])

    # payments 1-3: newest first (completed before processed), each twice, one at a time
    one_by_one = {references[n] for n in (1, 2, 3)}
    recorded: Counter[str] = Counter()
    for note in [n for n in reversed(notes) for _ in range(2)]:
        ref = str(json.loads(note.body)["reference_no"])
        if ref in one_by_one:
            _, result = deliver(note)
            assert result in allowed, result
            recorded[ref] += result == "recorded"
    assert recorded == {ref: 1 for ref in one_by_one}
    # the others (the returned one among them): every notice three times, newest first, racing
    racing = [n for n in reversed(notes) if json.loads(n.body)["reference_no"] not in one_by_one]
    with ThreadPoolExecutor(6) as pool:
        raced = list(pool.map(deliver, [n for n in racing for _ in range(3)]))
    assert {result for _, result in raced} <= allowed, raced
    assert {ref for ref, result in raced if result == "recorded"} == (
        set(references.values()) - one_by_one
    )
    # everything again, in order this time: nothing new
    again = [deliver(n) for n in notes]
    assert {result for _, result in again} <= {"nothing_new", "stale"}, again
    # the poller, coming last, finds nothing to record
    service = PayoutService(
        w.ledger, IrisClient(w.sim.url + "/iris", SIM_KEYS.creator_key, SIM_KEYS.approver_key)
    )
    assert service.sync() == []


AFTER = {  # a disbursement event -> the status it leaves behind
    "Requested": "requested",
    "Verified": "verified",
    "Approved": "approved",
    "Authorised": "authorised",
    "Sent": "sent",
    "Settled": "settled",
    "Failed": "failed",
    "Returned": "returned",
}


def check_exactly_once(w: World, references: dict[int, str]) -> None:
    payouts = w.sim.payouts()
    resent = sum(p.fate == "resent" for p in PAYMENTS)
    # one payout per disbursement and attempt; only one of them ever moved money
    assert len(payouts) == len(references) + resent
    assert w.sim.state.create_requests == len(references) + resent
    moved = Counter(p.reference_no[:-2] for p in payouts if p.completed_at is not None)
    assert sorted(moved.values()) == [1] * len(references)
    by_reference = {p.reference_no: p for p in payouts}
    for p in PAYMENTS:
        d = UUID(w.ids[p.n])
        if not p.paid:
            assert payout_reference(d, 1) not in by_reference
            continue
        ref = references[p.n]
        assert ref == payout_reference(d, 2 if p.fate == "resent" else 1)
        payout = by_reference[ref]
        gateway_status = "failed" if p.fate == "returned" else "completed"
        if p.fate == "resent":
            first = by_reference[payout_reference(d, 1)]
            assert (first.status, first.amount, first.fee) == ("failed", p.net, 0)
        assert (payout.status, payout.amount) == (gateway_status, p.net)
        assert payout.beneficiary_account == ACCOUNTS[p.npwp]
        one = expect(w.get(Role.AUDITOR, f"/disbursements/{w.ids[p.n]}"), 200)
        assert one["status"] == p.status
        history = expect(
            w.get(Role.AUDITOR, f"/disbursements/{w.ids[p.n]}/history", params={"limit": 500}),
            200,
        )
        events = Counter(str(e["event"]).rsplit(".", 1)[-1] for e in history["items"])
        # time travel: as of each event's moment, the payment stood as after the last event
        # of that moment (the events of one batch share it: Settled + Returned, for one)
        status = ""
        after: dict[str, tuple[str, int]] = {}
        for entry in history["items"]:
            status = AFTER.get(str(entry["event"]).rsplit(".", 1)[-1], status)
            after[entry["at"]] = (status, entry["version"])
        for moment, expected in after.items():
            path = f"/disbursements/{w.ids[p.n]}"
            then = expect(w.get(Role.AUDITOR, path, params={"at": moment}), 200)
            assert (then["status"], then["version"]) == expected, moment
        returns = 1 if p.fate == "returned" else 0
        failures = 1 if p.fate == "resent" else 0
        assert (events["Sent"], events["Failed"], events["Settled"], events["Returned"]) == (
            1 + failures,
            failures,
            1,
            returns,
        ), events


# -- 3. the reports --------------------------------------------------------------------------------
def check_reports(w: World, references: dict[int, str]) -> None:
    paid = [p for p in PAYMENTS if p.paid]
    open_ = [p for p in PAYMENTS if not p.paid]
    # The last writes came through the gateway (payouts, webhooks), which answer no position:
    # the first report asks for the latest state, and the others for at least its position.
    lra = expect(
        w.get(
            Role.AUDITOR,
            "/lra",
            params={"year": YEAR, "level": "rekening", "limit": 500, "freshness": "latest"},
        ),
        200,
    )
    seen = {"after": lra["position"]}
    rows = {r["kode"]: r for r in lra["rows"]["items"]}
    for rekening in (MEDIA, GOODS):
        realisasi = sum(p.gross for p in paid if p.rekening == rekening)
        committed = sum(p.gross for p in open_ if p.rekening == rekening)
        row = rows[rekening]
        expected = {
            "side": "belanja",
            "anggaran": PAGU[rekening],
            "committed": committed,
            "realisasi": realisasi,
            "sisa": PAGU[rekening] - committed - realisasi,
            "lebih_kurang": PAGU[rekening] - realisasi,
            "persen_bp": (realisasi * 10_000 * 2 + PAGU[rekening]) // (2 * PAGU[rekening]),
        }
        assert {k: row[k] for k in expected} == expected, row
        ledger_line = next(
            item
            for item in expect(
                w.get(Role.AUDITOR, f"/budgets/{YEAR}/lines", params={"rekening": rekening}), 200
            )["items"]
        )
        assert (ledger_line["committed"], ledger_line["realised"]) == (committed, realisasi)
    assert rows[INCOME]["realisasi"] == 0
    totals = lra["totals"]
    spent = sum(p.gross for p in paid)
    assert totals["belanja_realisasi"] == spent, totals
    assert totals["belanja_anggaran"] == PAGU[MEDIA] + PAGU[GOODS], totals

    for npwp in ACCOUNTS:
        mine = [p for p in PAYMENTS if p.npwp == npwp]
        statement = expect(
            w.get(
                Role.VENDOR,
                f"/vendors/{npwp}/statement",
                npwp=npwp,
                params={"limit": 500, **seen},
            ),
            200,
        )
        assert statement["totals"] == {
            "payments": len(mine),
            "gross": sum(p.gross for p in mine),
            "deductions": sum(p.withheld for p in mine),
            "net": sum(p.net for p in mine),
            "settled_net": sum(p.net for p in mine if p.status == "settled"),
        }
        by_spp = {row["spp_number"]: row for row in statement["payments"]["items"]}
        assert set(by_spp) == {p.spp for p in mine}
        for p in mine:
            row = by_spp[p.spp]
            assert (row["gross"], row["deductions"], row["net"]) == (p.gross, p.withheld, p.net)
            assert row["status"] == p.status
            assert row["attempts"] == (2 if p.fate == "resent" else 1 if p.paid else 0)
            assert row["sp2d_number"] == (p.sp2d if p.paid else None)
            if p.paid:
                assert (row["gateway"], row["gateway_reference"]) == ("iris", references[p.n])
                assert row["account_number"] == ACCOUNTS[p.npwp]
            # the vendor sees its own payment, and no other vendor's
            expect(w.get(Role.VENDOR, f"/disbursements/{w.ids[p.n]}", npwp=npwp), 200)
            for stranger in set(ACCOUNTS) - {npwp}:
                problem(
                    w.get(Role.VENDOR, f"/disbursements/{w.ids[p.n]}", npwp=stranger),
                    404,
                    "not_found",
                )
        listed = expect(w.get(Role.VENDOR, "/disbursements", npwp=npwp), 200)
        assert sorted(i["spp_number"] for i in listed["items"]) == sorted(p.spp for p in mine)
        by_id = w.get(
            Role.VENDOR, f"/vendors/{statement['vendor']['id']}/statement", npwp=npwp, params=seen
        )
        assert expect(by_id, 200)["totals"] == statement["totals"]
        # another vendor's token does not see it (404, not 403), the auditor does
        other = OTHER_NPWP if npwp == NPWP else NPWP
        problem(
            w.get(Role.VENDOR, f"/vendors/{npwp}/statement", npwp=other, params=seen),
            404,
            "not_found",
        )
        expect(w.get(Role.AUDITOR, f"/vendors/{npwp}/statement", params=seen), 200)

    # who waits for whom: only the verified SPP, for the PA/KPA
    sizes = expect(w.get(Role.KUASA_BUD, "/queues", params=seen), 200)["sizes"]
    assert {role: size for role, size in sizes.items() if size} == {"pa_kpa": len(open_)}, sizes
    queue = expect(w.get(Role.PA_KPA, "/queues/pa_kpa", params=seen), 200)
    assert [(i["spp_number"], i["step"], i["gross"]) for i in queue["items"]["items"]] == [
        (p.spp, "approve", p.gross) for p in open_
    ]
    # a statement filtered by status sums only what matches
    for status in ("settled", "returned", "verified"):
        matching = [p for p in PAYMENTS if p.npwp == OTHER_NPWP and p.status == status]
        filtered = w.get(
            Role.AUDITOR, f"/vendors/{OTHER_NPWP}/statement", params={"status": status, **seen}
        )
        assert expect(filtered, 200)["totals"] == {
            "payments": len(matching),
            "gross": sum(p.gross for p in matching),
            "deductions": sum(p.withheld for p in matching),
            "net": sum(p.net for p in matching),
            "settled_net": sum(p.net for p in matching if status == "settled"),
        }, status
    # another pemda's token sees nothing of this one
    foreign = bearer(w.config, Role.AUDITOR, pemda=OTHER_PEMDA)
    for path in (f"/vendors/{NPWP}/statement", "/cash-position", f"/lra?year={YEAR}"):
        problem(w.client.get(f"/pemda/{PEMDA}{path}", headers=foreign), 404, "tenant_scope")

    # the same LRA as of the end of DAY; none the day before (no APBD yet)
    params = {"year": YEAR, "level": "rekening", "limit": 500, "as_of": DAY.isoformat(), **seen}
    assert expect(w.get(Role.AUDITOR, "/lra", params=params), 200)["rows"] == lra["rows"]
    params["as_of"] = (DAY - timedelta(days=1)).isoformat()
    problem(w.get(Role.AUDITOR, "/lra", params=params), 404, "not_found")
    skpd = expect(w.get(Role.PPK, "/lra", params={"year": YEAR, "level": "skpd", **seen}), 200)
    [belanja] = [r for r in skpd["rows"]["items"] if r["side"] == "belanja"]
    assert (belanja["kode"], belanja["realisasi"]) == (SKPD, spent)

    cash = expect(w.get(Role.AUDITOR, "/cash-position", params=seen), 200)
    days = cash["days"]["items"]
    net_out = sum(p.net for p in paid)
    back = sum(p.net for p in paid if p.fate == "returned")
    assert [
        (d["day"], d["payments_out"], d["returns_in"], d["receipts_in"], d["refunds_out"])
        for d in days
    ] == [(DAY.isoformat(), net_out, back, 0, 0)]
    assert (days[0]["net"], days[0]["closing_balance"]) == (back - net_out, back - net_out)
    assert days[0]["movements"] == len(paid) + sum(p.fate == "returned" for p in paid)


# -- 4. reconciliation ------------------------------------------------------------------------------
def plant_debit(mt940: str) -> tuple[str, int]:
    """Insert one debit before the closing balance and correct ``:62F:``; return the text and the
    line number of the planted ``:61:``."""
    lines = mt940.splitlines()
    closing = next(i for i, text in enumerate(lines) if text.startswith(":62F:"))
    match = re.fullmatch(r":62F:([CD])(\d{6})([A-Z]{3})(\d+),(\d*)", lines[closing])
    assert match, lines[closing]
    sign, yymmdd, currency, whole, _ = match.groups()
    balance = (int(whole) if sign == "C" else -int(whole)) - PLANTED_AMOUNT
    new_closing = f":62F:{'C' if balance >= 0 else 'D'}{yymmdd}{currency}{abs(balance)},00"
    planted = [
        f":61:{yymmdd}{yymmdd[2:]}D{PLANTED_AMOUNT},00NTRFNONREF//FT-PLANTED-1",
        f":86:{PLANTED_REMARK}",
    ]
    lines[closing : closing + 1] = [*planted, new_closing]
    return "\n".join(lines) + "\n", closing + 1


def plant_csv_debit(text: str) -> str:
    """Append the planted debit to the bank's CSV statement, with its running balance."""
    lines = text.rstrip("\n").split("\n")
    saldo = int(lines[-1].split(";")[4].replace(".", "").removesuffix(",00"))
    after = f"{saldo - PLANTED_AMOUNT:,}".replace(",", ".")
    amount = f"{PLANTED_AMOUNT:,}".replace(",", ".")
    day = DAY.strftime("%d/%m/%Y")
    lines.append(f"{day};{PLANTED_REMARK};{amount},00;0,00;{after},00;FT-PLANTED-1;0011112222;110")
    return "\n".join(lines) + "\n"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def reconcile(w: World, references: dict[int, str]) -> None:
    folder = w.tmp / "inbox"
    folder.mkdir()
    statement = folder / f"rkud-{DAY.isoformat()}.sta"
    payouts = folder / f"payouts-{DAY.isoformat()}.csv"
    payouts.write_text(w.sim.payout_report(DAY), encoding="utf-8")
    text, planted_line = plant_debit(w.sim.rkud_statement(DAY, "mt940"))
    statement.write_text(text, encoding="utf-8")
    out = w.tmp / "report"
    argv = [
        "reconcile",
        "--date",
        DAY.isoformat(),
        "--bank",
        str(statement),
        "--gateway",
        str(payouts),
        "--out",
        str(out),
        "--database",
        w.url,
        "--pemda",
        PEMDA,
    ]
    assert kasda(argv) == 0
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    w.reconcile_argv = argv

    paid = {w.ids[p.n]: p for p in PAYMENTS if p.paid}
    returned = [p for p in PAYMENTS if p.fate == "returned"]
    ledger_rows = read_csv(out / "ledger.csv")
    # every paid disbursement is matched; the one the bank sent back is matched to its return
    assert {r["ledger_id"]: r["status"] for r in ledger_rows} == {
        d: "returned" if p.fate == "returned" else "matched" for d, p in paid.items()
    }
    statement_rows = read_csv(out / "statement.csv")
    by_status = Counter((Path(r["file"]).name, r["status"]) for r in statement_rows)
    assert by_status == {
        (payouts.name, "matched"): len(paid),  # every completed payout, the returned one too
        (statement.name, "matched"): 1,  # the day's Iris batch: Σ(net + fee)
        (statement.name, "returned"): len(returned),  # RETUR credit
        (statement.name, "unmatched_bank"): 1,
    }, by_status
    [bad] = [r for r in statement_rows if r["status"] == "unmatched_bank"]
    assert (int(bad["line_no"]), int(bad["amount"]), bad["direction"]) == (
        planted_line,
        PLANTED_AMOUNT,
        "D",
    )
    [retur] = [r for r in statement_rows if r["status"] == "returned"]
    assert (int(retur["amount"]), retur["direction"]) == (returned[0].net, "C")
    assert retur["ledger_id"] == w.ids[returned[0].n]
    planted_id = f"{statement.name}:{planted_line}"
    retur_id = f"{statement.name}:{retur['line_no']}"
    ledger_id = f"ledger:{w.ids[returned[0].n]}"
    exceptions = {r["id"]: r for r in read_csv(out / "exceptions.csv")}
    assert {i: (r["status"], int(r["amount"])) for i, r in exceptions.items()} == {
        planted_id: ("unmatched_bank", PLANTED_AMOUNT),
        retur_id: ("returned", returned[0].net),
        ledger_id: ("returned", returned[0].net),
    }

    # the same day's statement as the bank's CSV (BPD profile), the same debit planted: the same
    # verdict on every line (a trial run, nothing recorded)
    csv_statement = folder / f"rkud-{DAY.isoformat()}.csv"
    csv_statement.write_text(plant_csv_debit(w.sim.rkud_statement(DAY, "csv")), encoding="utf-8")
    trial = [*argv[:3], "--bank", str(csv_statement), *argv[5:8], str(w.tmp / "csv"), *argv[9:]]
    assert kasda([*trial, "--no-record"]) == 0
    assert [(r["ledger_id"], r["status"]) for r in read_csv(w.tmp / "csv" / "ledger.csv")] == [
        (r["ledger_id"], r["status"]) for r in ledger_rows
    ]

    def verdicts(rows: list[dict[str, str]]) -> Counter[tuple[str, str, str, str]]:
        return Counter((r["status"], r["amount"], r["direction"], r["ledger_id"]) for r in rows)

    assert verdicts(read_csv(w.tmp / "csv" / "statement.csv")) == verdicts(statement_rows)

    # the same inputs again record nothing new
    assert kasda([*argv[:-6], "--out", str(w.tmp / "again"), *argv[-4:]]) == 0
    runs = expect(w.get(Role.AUDITOR, "/reconciliation/runs"), 200)
    assert [(r["id"], r["open"], r["resolved"]) for r in runs["items"]] == [(run_id, 3, 0)]

    path = f"/reconciliation/runs/{run_id}"
    run = expect(w.get(Role.AUDITOR, path), 200)
    assert run["business_date"] == DAY.isoformat()
    assert {e["id"]: (e["status"], e["amount"], e["resolved"]) for e in run["items"]["items"]} == {
        planted_id: ("unmatched_bank", PLANTED_AMOUNT, False),
        retur_id: ("returned", returned[0].net, False),
        ledger_id: ("returned", returned[0].net, False),
    }
    assert run["counts"]["statement.unmatched_bank"] == 1
    assert run["counts"]["ledger.matched"] == len(paid) - len(returned)

    def resolve_path(exception_id: str) -> str:
        return f"{path}/exceptions/{quote(exception_id, safe='')}/resolve"  # ids are file names

    resolve = resolve_path(planted_id)
    body = {"resolution": "escalated", "reason": "debit tanpa SP2D, dilaporkan ke Inspektorat"}
    problem(w.post(Role.AUDITOR, resolve, body), 403, "role_not_permitted")
    problem(w.post(Role.PPK, resolve, body), 403, "role_not_permitted")
    key = new_key("resolve")
    done = expect(w.post(Role.BPKAD_ADMIN, resolve, body, key=key), 200)
    w.first[key] = (Role.BPKAD_ADMIN, resolve, body, 200, done)
    replay = w.post(Role.BPKAD_ADMIN, resolve, body, key=key)
    assert (replay.status_code, replay.json()) == (200, done)
    other = {"resolution": "written_off", "reason": "dihapusbukukan"}
    problem(w.post(Role.KUASA_BUD, resolve, other), 422, "invalid_input")

    def cli_resolve(exception_id: str, resolution: str, *extra: str) -> int:
        return kasda(
            [
                "reconcile-resolve",
                "--run",
                run_id,
                "--exception",
                exception_id,
                "--resolution",
                resolution,
                "--reason",
                "rekening koran 10 Maret, nota retur bank",
                "--database",
                w.url,
                *extra,
            ]
        )

    # the CLI refuses a second, different resolution too, and an auditor
    assert cli_resolve(planted_id, "recovered") == 2
    assert cli_resolve(retur_id, "explained", "--role", "auditor", "--actor", "auditor.x") == 2
    # the return is explained once through the CLI; the API then refuses another resolution
    assert cli_resolve(retur_id, "explained", "--role", "kuasa_bud", "--actor", "kuasabud.x") == 0
    problem(w.post(Role.BPKAD_ADMIN, resolve_path(retur_id), other), 422, "invalid_input")
    after = expect(w.get(Role.AUDITOR, path), 200)
    states = {e["id"]: (e["resolution"] or {}).get("resolution") for e in after["items"]["items"]}
    assert states == {planted_id: "escalated", retur_id: "explained", ledger_id: None}, after
    assert (after["open"], after["resolved"]) == (1, 2)
    listed = expect(w.get(Role.KUASA_BUD, "/reconciliation/runs"), 200)["items"]
    assert [(r["id"], r["exceptions"], r["open"], r["resolved"]) for r in listed] == [
        (run_id, 3, 1, 2)
    ]
    still_open = expect(w.get(Role.AUDITOR, "/reconciliation/runs", params={"state": "open"}), 200)
    assert [r["id"] for r in still_open["items"]] == [run_id]


def after_the_money(w: World) -> None:
    """Once money moved, nobody can cancel or re-record; wrong facts are 409, never 500."""
    settled = next(p for p in PAYMENTS if p.fate == "settled")
    open_ = next(p for p in PAYMENTS if p.fate == "verified")
    reason = {"reason": "salah input"}
    for role in (Role.BPKAD_ADMIN, Role.KUASA_BUD, Role.PPTK):
        response = w.post(role, f"/disbursements/{w.ids[settled.n]}/cancel", reason)
        assert response.status_code in (403, 409), response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    problem(
        w.post(Role.PPTK, f"/disbursements/{w.ids[settled.n]}/cancel", reason),
        409,
        "disbursement_lifecycle",
    )
    problem(
        w.post(
            Role.GATEWAY,
            f"/disbursements/{w.ids[open_.n]}/transfer/settled",
            {"bank_reference": "X-1"},
        ),
        409,
        "disbursement_lifecycle",
    )
    problem(
        w.post(
            Role.GATEWAY,
            f"/disbursements/{w.ids[settled.n]}/transfer/sent",
            {"gateway": "iris", "reference": "ksdforged01"},
        ),
        409,
        "disbursement_lifecycle",
    )
    problem(
        w.post(Role.AUDITOR, f"/disbursements/{w.ids[open_.n]}/cancel", reason),
        403,
        "role_not_permitted",
    )


def next_day(w: World) -> None:
    """The next day an income receipt (QRIS, net of the MDR) arrives: the cash position runs on
    from the first day's closing balance, also when asked from the second day only."""
    w.clock.to(DAY + timedelta(days=1))
    gross, fee = 25_000_000, 175_000
    body = {
        "year": YEAR,
        "line": line(INCOME),
        "channel": "midtrans:qris",
        "reference": "PBJT-0000001",
        "payer": "Hotel Savoy Homann",
        "gross": gross,
        "fee": fee,
    }
    problem(w.post(Role.AUDITOR, "/revenues", body), 403, "role_not_permitted")
    problem(w.post(Role.PPTK, "/revenues", body), 403, "role_not_permitted")
    key = new_key("revenue")
    first = expect(w.post(Role.GATEWAY, "/revenues", body, key=key), 201)
    w.first[key] = (Role.GATEWAY, "/revenues", body, 201, first)
    problem(w.post(Role.BPKAD_ADMIN, "/revenues", body), 409, "unique_identity")
    # the store changed only after the reconciled day: the same run again records nothing
    argv = [*w.reconcile_argv]
    argv[argv.index("--out") + 1] = str(w.tmp / "day-two")
    assert kasda(argv) == 0
    assert json.loads((w.tmp / "day-two" / "run.json").read_text())["recorded_now"] is False
    assert len(expect(w.get(Role.AUDITOR, "/reconciliation/runs"), 200)["items"]) == 1

    paid = [p for p in PAYMENTS if p.paid]
    day_one = sum(p.net for p in paid if p.fate == "returned") - sum(p.net for p in paid)
    # read-your-writes: the receipt's position, as its answer gave it
    mine = {"after": first["position"]}
    cash = expect(w.get(Role.AUDITOR, "/cash-position", params=mine), 200)
    assert cash["position"] >= first["position"]
    assert [
        (d["day"], d["receipts_in"], d["net"], d["closing_balance"]) for d in cash["days"]["items"]
    ] == [
        (DAY.isoformat(), 0, day_one, day_one),
        ((DAY + timedelta(days=1)).isoformat(), gross - fee, gross - fee, day_one + gross - fee),
    ]
    later = expect(
        w.get(
            Role.AUDITOR,
            "/cash-position",
            params={"from": (DAY + timedelta(days=1)).isoformat(), **mine},
        ),
        200,
    )
    assert [(d["day"], d["closing_balance"]) for d in later["days"]["items"]] == [
        ((DAY + timedelta(days=1)).isoformat(), day_one + gross - fee)
    ]
    lra = expect(
        w.get(
            Role.AUDITOR, "/lra", params={"year": YEAR, "level": "rekening", "limit": 500, **mine}
        ),
        200,
    )
    [income] = [r for r in lra["rows"]["items"] if r["kode"] == INCOME]
    assert (income["side"], income["anggaran"], income["realisasi"], income["lebih_kurang"]) == (
        "pendapatan",
        PAGU[INCOME],
        gross,
        gross - PAGU[INCOME],
    )
    assert income["persen_bp"] == gross * 10_000 // PAGU[INCOME]  # 10 %: exact
    # the day before, as it stood then: no income yet
    as_of = {"year": YEAR, "level": "rekening", "limit": 500, "as_of": DAY.isoformat(), **mine}
    [then] = [
        r
        for r in expect(w.get(Role.AUDITOR, "/lra", params=as_of), 200)["rows"]["items"]
        if r["kode"] == INCOME
    ]
    assert then["realisasi"] == 0


def races(w: World) -> None:
    """Several officials act on one payment at the same moment (the group commit puts them in one
    batch): one wins, the others get a 409, and the losers' document numbers stay free."""
    open_ = next(p for p in PAYMENTS if p.fate == "verified")
    d = w.ids[open_.n]
    won: dict[str, str] = {}
    losers: dict[str, list[str]] = {}
    for step, role, field_name, kind, user in (
        ("approve", Role.PA_KPA, "spm_number", "SPM-LS", "kadis"),
        ("authorise", Role.KUASA_BUD, "sp2d_number", "SP2D-LS/BUD", "kuasabud"),
    ):
        numbers = [f"{PEMDA}/{900 + i:05d}/{kind}/{YEAR}" for i in range(4)]

        def act(
            i: int,
            step: str = step,
            role: Role = role,
            field_name: str = field_name,
            numbers: list[str] = numbers,
            user: str = user,
        ) -> httpx.Response:
            body = {field_name: numbers[i]}
            return w.post(role, f"/disbursements/{d}/{step}", body, user=f"{user}.{i}")

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(act, range(4)))
        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [
            a.text for a in answers
        ]
        for i, answer in enumerate(answers):
            if answer.status_code == 200:
                won[field_name] = numbers[i]
            else:
                assert answer.headers["content-type"].startswith(PROBLEM)
                assert answer.json()["rule"] in ("disbursement_lifecycle", "optimistic_concurrency")
        losers[field_name] = [n for n in numbers if n != won[field_name]]
    one = expect(w.get(Role.AUDITOR, f"/disbursements/{d}"), 200)
    assert (one["status"], one["spm_number"], one["sp2d_number"]) == (
        "authorised",
        won["spm_number"],
        won["sp2d_number"],
    )
    # a losing number was never claimed: another payment can carry it
    extra = Payment(8, NPWP, MEDIA, 1_000_000, (), "verified")
    created = expect(w.post(Role.BENDAHARA, "/disbursements", spp_body(extra)), 201)
    path = f"/disbursements/{created['id']}"
    expect(w.post(Role.PPK, f"{path}/verify"), 200)
    approve = {"spm_number": losers["spm_number"][0]}
    expect(w.post(Role.PA_KPA, f"{path}/approve", approve), 200)
    authorise = {"sp2d_number": losers["sp2d_number"][0]}
    expect(w.post(Role.KUASA_BUD, f"{path}/authorise", authorise), 200)
    # the winning numbers are taken
    other = Payment(9, NPWP, MEDIA, 1_000_000, (), "verified")
    created = expect(w.post(Role.BENDAHARA, "/disbursements", spp_body(other)), 201)
    path = f"/disbursements/{created['id']}"
    expect(w.post(Role.PPK, f"{path}/verify"), 200)
    taken = {"spm_number": won["spm_number"]}
    problem(w.post(Role.PA_KPA, f"{path}/approve", taken), 409, "unique_identity")

    # two officials resolve the last open exception at once, differently: one resolution stands
    [run] = expect(w.get(Role.AUDITOR, "/reconciliation/runs"), 200)["items"]
    detail = expect(
        w.get(Role.AUDITOR, f"/reconciliation/runs/{run['id']}", params={"state": "open"}), 200
    )
    [exception] = detail["items"]["items"]
    resolve = (
        f"/reconciliation/runs/{run['id']}/exceptions/{quote(exception['id'], safe='')}/resolve"
    )
    choices = [
        (Role.BPKAD_ADMIN, "explained"),
        (Role.KUASA_BUD, "escalated"),
        (Role.BPKAD_ADMIN, "corrected"),
        (Role.KUASA_BUD, "recovered"),
    ]

    def settle(choice: tuple[Role, str]) -> httpx.Response:
        role, resolution = choice
        return w.post(role, resolve, {"resolution": resolution, "reason": "dana kembali"})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(settle, choices))
    assert sorted(a.status_code for a in answers) == [200, 422, 422, 422], [a.text for a in answers]
    [winner] = [choice for choice, a in zip(choices, answers, strict=True) if a.status_code == 200]
    after = expect(w.get(Role.AUDITOR, f"/reconciliation/runs/{run['id']}"), 200)
    [done] = [e for e in after["items"]["items"] if e["id"] == exception["id"]]
    assert done["resolution"]["resolution"] == winner[1]
    assert (after["open"], after["resolved"]) == (0, 3)


# -- 5. audit ---------------------------------------------------------------------------------------
def check_chain_and_projections(w: World) -> None:
    verified = expect(w.get(Role.AUDITOR, "/verify"), 200)
    assert verified["ok"] is True, verified
    assert verified["problem_position"] is None
    # bring the app's read models to the head (freshness=latest: everything recorded before)
    expect(w.get(Role.AUDITOR, "/cash-position", params={"freshness": "latest"}), 200)
    reader = Ledger(w.url)
    projector = Projector(reader)
    try:
        # the same check, in-process, from a ledger of its own: the same head
        report = verify(reader)
        assert report.ok, report.problem
        assert (report.events, report.head_position, report.head_hash) == (
            verified["events"],
            verified["head_position"],
            verified["head_hash"],
        )
        projector.catch_up()
        incremental = tables(projector.db)
        assert incremental["proj_payment"], "the app maintained no read models"
        projector.rebuild()
        assert tables(projector.db) == incremental
    finally:
        projector.close()
        reader.close()


def test_payments_end_to_end_through_api_gateway_and_reconciliation(world: World) -> None:
    setup_budget_and_vendors(world)
    request_payments(world)
    take_through_approvals(world)
    references = pay_with_faults(world)
    deliver_notifications(world, references)
    check_exactly_once(world, references)
    check_reports(world, references)
    after_the_money(world)
    reconcile(world, references)
    next_day(world)
    races(world)
    check_chain_and_projections(world)
    another_worker(world)
    # and an unauthenticated caller reaches nothing
    assert world.client.get(f"/pemda/{PEMDA}/me").status_code == 401


def another_worker(w: World) -> None:
    """A second app (another worker, or the first after a restart) on the same database: the first
    answers are replayed from the ledger, and lists and reports are the same."""
    config = ApiSettings(
        database_url=w.url,
        jwt_secret=w.config.jwt_secret,
        gateway_settings=w.config.gateway_settings,
    )
    ledger = Ledger(w.url)
    app = create_app(config, ledger=ledger)
    try:
        with TestClient(app) as client:
            head = 0
            for key, (role, path, body, status, answer) in w.first.items():
                replay = post(client, config, role, path, body, key=key)
                # The first answer; its position is the log's head now, past the first one's.
                again = replay.json()
                assert (replay.status_code, {**again, "position": 0}) == (
                    status,
                    {**answer, "position": 0},
                ), path
                assert again["position"] >= answer["position"], path
                assert replay.headers.get("Idempotent-Replayed") == "true"
                head = max(head, again["position"])
            # A position this worker returned is good on the other one too (one log).
            for path, params in (
                ("/disbursements", {"limit": 500}),
                ("/lra", {"year": YEAR, "level": "rekening", "limit": 500, "after": head}),
                ("/cash-position", {"after": head}),
                ("/reconciliation/runs", {}),
            ):
                mine = expect(get(client, config, Role.AUDITOR, path, params=params), 200)
                theirs = expect(w.get(Role.AUDITOR, path, params=params), 200)
                mine.pop("position", None)
                theirs.pop("position", None)
                assert mine == theirs, path
    finally:
        app.state.read_models.close()
        ledger.close()
