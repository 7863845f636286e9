"""A history written through the ledger's own commands at chosen moments, for red-flag tests.

A ``Scene`` owns a ledger on a real SQLite file (or the PostgreSQL URL given) whose clock the test
sets: every command runs at the local (WIB) moment the test names, so a rule's windows, nights,
weekends and Decembers are planted exactly. ``frames()`` projects the read models and loads them
as the engine does (``audit.frames.load``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from audit import thresholds
from audit.engine import Detection, detect
from audit.frames import Frames, load
from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.roles import Actor, Role
from projections.db import ReadDatabase
from projections.runner import Projector
from testkit.world import WIB
from tests import factory as f

SECRET = b"red-flag tests: account digests"
_npwp = itertools.count(100_000_000_000_001)
_accounts = itertools.count(5_000_000_001)


def npwp() -> str:
    """A fresh 15-digit NPWP."""
    return str(next(_npwp))


def account() -> str:
    return str(next(_accounts))


class SceneClock:
    """The ledger's clock: the moment the scene was last set to, one second later per reading."""

    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Scene:
    ledger: Ledger
    clock: SceneClock
    lines: dict[str, c.LineSpec] = field(default_factory=dict)
    vendors: dict[str, str] = field(default_factory=dict)  # vendor name -> NPWP

    @classmethod
    def open(cls, path: Path, url: str | None = None, *lines: c.LineSpec) -> Scene:
        clock = SceneClock()
        ledger = Ledger(url or f"sqlite:///{path / 'scene.db'}", clock=clock)
        scene = cls(ledger, clock)
        specs = lines or (f.MEDIA_LINE, f.GOODS_LINE)
        scene.at(datetime(f.YEAR, 1, 2, 8, 0))
        f.adopt(ledger, *specs)
        scene.lines = {s.rekening: s for s in specs}
        return scene

    def close(self) -> None:
        self.ledger.close()

    # -- time --------------------------------------------------------------------------------
    def at(self, moment: datetime) -> Scene:
        """Run the next commands at ``moment``, local time (WIB) if it has no zone."""
        self.clock.now = moment if moment.tzinfo else moment.replace(tzinfo=WIB)
        return self

    def run(self, command: c.Command, when: datetime | None = None) -> dict[str, Any]:
        if when is not None:
            self.at(when)
        return self.ledger.execute(command).data

    # -- vendors -----------------------------------------------------------------------------
    def vendor(
        self,
        name: str,
        *,
        when: datetime | None = None,
        number: str | None = None,
        kind: str = "company",
        bank_code: str = "110",
    ) -> str:
        """Register vendor ``name`` (a fresh NPWP) paid into ``number``; its vendor id."""
        tax_id = npwp()
        self.vendors[name] = tax_id
        self.run(
            c.RegisterVendor(
                idempotency_key=f.key("vendor"), actor=f.ADMIN, pemda=f.PEMDA, npwp=tax_id,
                name=name, kind=kind, bank_code=bank_code, account_number=number or account(),
                account_holder=name,
            ),
            when,
        )  # fmt: skip
        return str(ids.vendor_id(f.PEMDA, tax_id))

    def change_account(
        self, name: str, number: str, when: datetime, bank_code: str = "110"
    ) -> None:
        self.run(
            f.change_account(number, bank_code=bank_code, holder=name, npwp=self.vendors[name]),
            when,
        )

    # -- payments ----------------------------------------------------------------------------
    def pay(
        self,
        spp: str,
        vendor: str,
        gross: int,
        when: datetime,
        *,
        rekening: str | None = None,
        invoice: str | None = None,
        contract: str | None = None,
        step: timedelta = timedelta(hours=2),
        until: str = "settled",
        users: dict[str, Actor] | None = None,
        moments: dict[str, datetime] | None = None,
    ) -> str:
        """An SPP of ``gross`` to ``vendor`` requested at ``when``, each later step ``step``
        after the one before (or at ``moments[step]``), up to ``until`` (a step name:
        requested, verified, approved, authorised, sent, settled); its disbursement id."""
        spec = self.lines[rekening] if rekening else next(iter(self.lines.values()))
        who = {"request": f.PPTK, "verify": f.PPK, "approve": f.PA, "authorise": f.BUD,
               **(users or {})}  # fmt: skip
        documents = {"kontrak": contract or f"SPK/{spp}"} | ({"faktur": invoice} if invoice else {})
        request = c.RequestDisbursement(
            idempotency_key=f.key("spp"), actor=who["request"], pemda=f.PEMDA, year=f.YEAR,
            spp_number=spp, line=f.ref(spec), vendor_npwp=self.vendors[vendor], gross=gross,
            deductions=(), description=f"Belanja {spp}", documents=documents,
        )  # fmt: skip
        steps: list[tuple[str, c.Command]] = [
            ("requested", request),
            ("verified", f.verify(spp, who["verify"])),
            ("approved", f.approve(spp, who["approve"])),
            ("authorised", f.authorise(spp, who["authorise"])),
            ("sent", f.send(spp)),
            ("settled", f.settle(spp)),
        ]
        moment = when
        for name, command in steps:
            moment = (moments or {}).get(name, moment)
            self.run(command, moment)
            if name == until:
                break
            moment = moment + step
        return str(ids.disbursement_id(f.PEMDA, f.YEAR, spp))

    # -- reading -----------------------------------------------------------------------------
    def frames(self, as_of: date | None = None) -> Frames:
        projector = Projector(self.ledger)
        try:
            projector.catch_up()
        finally:
            projector.close()
        db = ReadDatabase(self.ledger)
        try:
            return load(db, f.PEMDA, SECRET, as_of)
        finally:
            db.close()

    def detect(self, *codes: str, path: Path | None = None, **overrides: Any) -> Detection:
        """The flags of the rules ``codes`` over this history, with the default thresholds (or
        those of the TOML file at ``path``)."""
        limits = thresholds.load(f.PEMDA, path)
        return detect(self.frames(), limits, codes or None)


def user(user_id: str, role: Role) -> Actor:
    return f.actor(user_id, role)


def of(detection: Detection, rule: str) -> list[set[str]]:
    """The payments each flag of ``rule`` names, as sets (order-free)."""
    return [set(flag.disbursement_ids) for flag in detection.flags if flag.rule == rule]


def disbursement(spp: str) -> str:
    return str(ids.disbursement_id(f.PEMDA, f.YEAR, spp))


def vendor_uuid(tax_id: str) -> UUID:
    return ids.vendor_id(f.PEMDA, tax_id)


# -- many payments at once (statistical rules need hundreds) -----------------------------------
def officials(skpd: str, suffix: str) -> dict[str, Actor]:
    """The requester, verifier and approver of ``skpd`` (``users`` of ``Scene.pay``)."""
    return {
        "request": f.actor(f"pptk-{suffix}", Role.PPTK, skpd),
        "verify": f.actor(f"ppk-{suffix}", Role.PPK, skpd),
        "approve": f.actor(f"pa-{suffix}", Role.PA_KPA, skpd),
    }


def pay_many(
    scene: Scene,
    payments: list[tuple[str, str, int]],
    when: datetime,
    *,
    line: c.LineSpec,
    users: dict[str, Actor] | None = None,
    step: timedelta = timedelta(hours=2),
) -> list[str]:
    """SPP ``(spp, vendor, gross)`` on ``line`` (another SKPD's with its ``officials``), each
    taken to its SP2D (authorised) by the ledger's own commands in batches: every request at
    ``when``, every verification ``step`` later, and so on; their disbursement ids, in order."""
    who = {"request": f.PPTK, "verify": f.PPK, "approve": f.PA, "authorise": f.BUD,
           **(users or {})}  # fmt: skip
    stages: list[list[c.Command]] = [
        [
            c.RequestDisbursement(
                idempotency_key=f.key("spp"),
                actor=who["request"],
                pemda=f.PEMDA,
                year=f.YEAR,
                spp_number=spp,
                line=f.ref(line),
                vendor_npwp=scene.vendors[vendor],
                gross=gross,
                deductions=(),
                description=f"Belanja {spp}",
                documents={"kontrak": f"SPK/{spp}"},
            )
            for spp, vendor, gross in payments
        ],
        [f.verify(spp, who["verify"]) for spp, _, _ in payments],
        [f.approve(spp, who["approve"]) for spp, _, _ in payments],
        [f.authorise(spp, who["authorise"]) for spp, _, _ in payments],
    ]
    for number, commands in enumerate(stages):
        scene.at(when + step * number)
        refused = [o for o in scene.ledger.execute_batch(commands) if isinstance(o, Exception)]
        assert not refused, refused[:3]
    return [disbursement(spp) for spp, _, _ in payments]
