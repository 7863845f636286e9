"""The ledger against a model of its rules: random command sequences, every outcome predicted.

One ``Model`` (the rules of kasda written again, plainly and independently) and one step builder
(``Steps``: the only place random commands are built) drive every property here. The builder draws
requests of random gross on a few small lines, every step of a disbursement by random users
(right and wrong roles, the same person twice), APBD-P amendments, pergeseran, blokir, vendor
changes, retried and reused idempotency keys, duplicate SPP / SPM / SP2D numbers and a tenant
reaching into another pemda; mostly the next plausible step, sometimes each way of being wrong.

After every command or batch (``LedgerModelMachine``):

- M1 every outcome equals the model's: the exact error class of a refusal (which names its rule),
  the exact data of an acceptance (with its command name and key), a retry marked as replayed;
- M2 the ledger appends exactly the events the model counts: a refusal or a retry appends nothing,
  and the head of the log equals the model's total;
- M3 no line is overspent: 0 <= committed, 0 <= realised, committed + realised <= pagu;
- M4 the budget and every line equal the model (pagu, committed, realised, blokir, open
  commitments, line order, total pagu, amendments, shifts); a line the model lacks does not exist;
- M5 each line's committed and realised equal a recomputation from its disbursements' statuses;
- M6 every disbursement equals the model, and nobody performed two steps of one payment;
- M7 every vendor equals the model (active, bank account, version); one it lacks does not exist;
- M8 the log has no gap, and every new event's journal entry balances;
- M9 the trial balance of all events equals the one the model's state implies, account by account
  (appropriation, commitment, realisation, expenditure, vendor_payable, taxes_payable,
  cash_in_transit, cash, apbd), and sums to zero;
- M10 the trial balance agrees with the aggregates themselves: appropriation, commitment and
  realisation of each line are its available, committed and realised amounts.

At the end of every sequence:

- E1 every aggregate the ledger holds in its write cache equals its replay from the stored events
  (``ledger.replay.check_replay``), and the cache is not empty;
- E2 every aggregate's versions run 1..n and it replays; the trial balance of the whole store
  equals the model's; the receipts hold exactly the accepted commands' keys;
- E3 on SQLite, a fresh ``Ledger`` on the same file rebuilds the same state for every aggregate,
  lists the lines in adoption order, keeps the hash chain intact and still answers every old key
  with its first result, appending nothing.

And over generated sequences:

- G1 a batch, cut anywhere, gives exactly what the same commands sent one by one give (outcomes,
  events per aggregate, state but for clock readings) and what the model predicts;
- G2 a command with arbitrary JSON-like values in any of its fields (and in its line references)
  is refused with a ``DomainError`` that appends nothing, never a crash;
- G3 a disbursement id that is not even hashable is refused alone within its batch (regression);
- G4 no status counts as both committed and realised (which M5 relies on).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger import commands as c
from ledger import ids
from ledger.application import CommandResult, Ledger, Outcome
from ledger.budget import Budget, BudgetLine
from ledger.disbursement import Status
from ledger.errors import (
    AlreadyExists,
    AmendmentBelowUsage,
    BankAccountChanged,
    BudgetNotOpen,
    DomainError,
    IdempotencyKeyReused,
    InvalidAmount,
    InvalidInput,
    InvalidTransition,
    LimitExceeded,
    LineBlocked,
    NotFound,
    PaguExceeded,
    ReturnedToSameAccount,
    RoleNotPermitted,
    SeparationOfDuties,
    VendorNotPayable,
)
from ledger.handlers import line_id_of
from ledger.postings import is_balanced, postings_for, trial_balance
from ledger.replay import check_replay, state_of
from ledger.roles import Actor, Role
from ledger.vendor import normalise_npwp
from ledger.verify import verify
from testkit.clock import FixedClock
from testkit.world import OTHER_PEMDA  # Kabupaten Bandung: owns nothing here
from tests import factory as f
from tests.refusals import all_events

PEMDA = f.PEMDA
YEAR = f.YEAR
BUDGET_ID = ids.budget_id(PEMDA, YEAR)

# Lines 0-2 spend, line 3 is income (no SPP may draw on it), line 4 only exists once an APBD-P adds it.
SPECS: list[c.LineSpec] = [
    f.line_spec("5.1.02.02.01.0051", 1_000),
    f.line_spec("5.1.02.02.01.0052", 800),
    f.line_spec("5.1.02.01.01.0024", 500, uraian="Belanja Alat Tulis Kantor"),
    c.LineSpec(
        skpd=f.SKPD,
        sub_kegiatan=None,
        rekening="4.1.01.06.01.0001",
        uraian="Pajak Reklame",
        pagu=900,
    ),
    f.line_spec("5.1.02.02.01.0056", 0, uraian="Belanja Publikasi"),
]
ADOPTED = 4
LINE_IDS = [line_id_of(PEMDA, YEAR, spec) for spec in SPECS]
NPWPS = [f.NPWP, "02.345.678.9-012.000", "0345678901230000"]  # vendor 2 registers later, if ever
VENDOR_IDS = [ids.vendor_id(PEMDA, normalise_npwp(n)) for n in NPWPS]
ACCOUNTS = ["0012345670", "0012345671", "0099999999"]

ANI_PPTK = f.actor("ani", Role.PPTK)
GITA = f.actor("gita", Role.BENDAHARA)
BUDI_PPK = f.actor("budi", Role.PPK)
EKO_PPK = f.actor("eko", Role.PPK)
ANI_PPK = f.actor("ani", Role.PPK)  # ani again: may not verify her own SPP
CITRA_PA = f.actor("citra", Role.PA_KPA)
BUDI_PA = f.actor("budi", Role.PA_KPA)  # budi again: may not approve what he verified
DEDI_BUD = f.actor("dedi", Role.KUASA_BUD)
CITRA_BUD = f.actor("citra", Role.KUASA_BUD)
FAJAR_BUD = f.actor("fajar", Role.KUASA_BUD)  # did no step: may pay a returned transfer again
GATEWAY = f.actor("gateway", Role.GATEWAY)
ADMIN = f.actor("admin", Role.BPKAD_ADMIN)
DEDI_ADMIN = f.actor("dedi", Role.BPKAD_ADMIN)  # may cancel, unless he authorised the SP2D himself
AUDITOR = f.actor("audit", Role.AUDITOR)
VENDOR_USER = f.actor("pt.vendor", Role.VENDOR)
EVERYONE = [
    ANI_PPTK,
    GITA,
    BUDI_PPK,
    EKO_PPK,
    ANI_PPK,
    CITRA_PA,
    BUDI_PA,
    DEDI_BUD,
    CITRA_BUD,
    FAJAR_BUD,
    GATEWAY,
    ADMIN,
    DEDI_ADMIN,
    AUDITOR,
    VENDOR_USER,
]
ADMINS = [ADMIN, ADMIN, ADMIN, DEDI_ADMIN, ANI_PPTK, AUDITOR]  # mostly the right role
REQUESTERS = [ANI_PPTK, GITA, ANI_PPTK, GITA, ANI_PPTK, GITA, BUDI_PPK, AUDITOR]
CANDIDATES: dict[str, list[Actor]] = {
    "verify": [BUDI_PPK, EKO_PPK, ANI_PPK],
    "approve": [CITRA_PA, BUDI_PA],
    "authorise": [DEDI_BUD, CITRA_BUD],
    "send": [GATEWAY],
    "settle": [GATEWAY],
    "fail": [GATEWAY],
    "return": [GATEWAY],
    "refuse": [GATEWAY],  # the gateway refused the transfer before sending (TransferRejected)
    "reject": [BUDI_PPK, EKO_PPK, ANI_PPK, CITRA_PA, BUDI_PA, DEDI_BUD, CITRA_BUD],
    "cancel": [ANI_PPTK, GITA, ADMIN, DEDI_ADMIN, DEDI_BUD, CITRA_BUD],
    # A returned transfer paid again (issue 16): dedi may have issued the SP2D or changed the
    # account (as an admin), citra may have approved the SPM.
    "reissue": [FAJAR_BUD, FAJAR_BUD, DEDI_BUD, CITRA_BUD, ADMIN],
}
NEXT_STEPS: dict[Status, list[str]] = {
    Status.REQUESTED: ["verify", "verify", "verify", "reject", "cancel"],
    Status.VERIFIED: ["approve", "approve", "approve", "reject", "cancel"],
    Status.APPROVED: ["authorise", "authorise", "authorise", "reject", "cancel"],
    Status.AUTHORISED: ["send", "send", "send", "refuse", "cancel"],
    Status.SENT: ["settle", "fail"],
    Status.FAILED: ["send", "send", "refuse", "cancel"],
    Status.SETTLED: ["return"],
    Status.RETURNED: ["reissue"],
}
STEPS = [
    "verify",
    "approve",
    "authorise",
    "send",
    "settle",
    "fail",
    "return",
    "refuse",
    "reject",
    "cancel",
    "reissue",
]
COMMITTED = frozenset({Status.REQUESTED, Status.VERIFIED, Status.APPROVED})
REALISED = frozenset(
    {Status.AUTHORISED, Status.SENT, Status.SETTLED, Status.FAILED, Status.RETURNED}
)
CANCELLABLE = COMMITTED | {Status.AUTHORISED, Status.FAILED}
REJECTED_BY = {
    Status.REQUESTED: frozenset({Role.PPK}),
    Status.VERIFIED: frozenset({Role.PA_KPA}),
    Status.APPROVED: frozenset({Role.KUASA_BUD}),
}
STEP_RULES: dict[str, tuple[frozenset[Status], frozenset[Role]]] = {
    "verify": (frozenset({Status.REQUESTED}), frozenset({Role.PPK})),
    "approve": (frozenset({Status.VERIFIED}), frozenset({Role.PA_KPA})),
    "authorise": (frozenset({Status.APPROVED}), frozenset({Role.KUASA_BUD})),
    "send": (frozenset({Status.AUTHORISED, Status.FAILED}), frozenset({Role.GATEWAY})),
    "settle": (frozenset({Status.SENT}), frozenset({Role.GATEWAY})),
    "fail": (frozenset({Status.SENT}), frozenset({Role.GATEWAY})),
    "return": (frozenset({Status.SETTLED}), frozenset({Role.GATEWAY})),
    # Refused before sending: no money moved, the status stays, the attempt moves on.
    "refuse": (frozenset({Status.AUTHORISED, Status.FAILED}), frozenset({Role.GATEWAY})),
    "reissue": (frozenset({Status.RETURNED}), frozenset({Role.KUASA_BUD})),
}
NEW_STATUS = {
    "verify": Status.VERIFIED,
    "approve": Status.APPROVED,
    "authorise": Status.AUTHORISED,
    "send": Status.SENT,
    "settle": Status.SETTLED,
    "fail": Status.FAILED,
    "return": Status.RETURNED,
    "reject": Status.REJECTED,
    "cancel": Status.CANCELLED,
    "reissue": Status.AUTHORISED,
}
MAX_REISSUES = 3  # a returned transfer is paid again at most this often
CANCEL_ROLES = frozenset({Role.PPTK, Role.BENDAHARA, Role.BPKAD_ADMIN, Role.KUASA_BUD})


# -- the model ---------------------------------------------------------------------------------
class Refused(Exception):
    def __init__(self, error: type[DomainError]) -> None:
        super().__init__(error.__name__)
        self.error = error


@dataclass(frozen=True)
class Expected:
    """What the model says one command does: refused with ``error``, or ``data`` and ``events``."""

    error: type[DomainError] | None = None
    data: dict[str, Any] | None = None
    replayed: bool = False
    events: int = 0


@dataclass
class LineM:
    index: int
    pagu: int
    committed: int = 0
    realised: int = 0
    blocked: bool = False
    open: dict[str, int] = field(default_factory=dict)

    @property
    def id(self) -> UUID:
        return LINE_IDS[self.index]

    @property
    def spending(self) -> bool:
        return SPECS[self.index].rekening.startswith("5")

    @property
    def available(self) -> int:
        return self.pagu - self.committed - self.realised


@dataclass
class VendorM:
    index: int
    account: dict[str, str]
    active: bool = True
    version: int = 1
    changed_by: str | None = None  # who set the current account, if it was changed


@dataclass
class DisbursementM:
    id: UUID
    spp: str
    line: int
    vendor: int
    gross: int
    net: int
    deductions: list[dict[str, Any]]
    performers: dict[str, str]
    status: Status = Status.REQUESTED
    spm: str | None = None
    sp2d: str | None = None
    account: dict[str, str] | None = None
    vendor_version: int | None = None
    attempts: int = 0
    version: int = 1
    references: list[str] = field(default_factory=list)  # every attempt's, sent or refused
    reissues: int = 0


def _account(vendor: int, number: str) -> dict[str, str]:
    return {"bank_code": "110", "number": number, "holder": f"Vendor {vendor}"}


def _require(actor: Actor, allowed: frozenset[Role]) -> None:
    if actor.role not in allowed:
        raise Refused(RoleNotPermitted)


class Model:
    """The rules of kasda written once more, as plainly as possible, and independently of it."""

    def __init__(self) -> None:
        self.adopted = False
        self.lines: dict[int, LineM] = {}
        self.line_order: list[int] = []
        self.amendments = 0
        self.shifts = 0
        self.vendors: dict[int, VendorM] = {}
        self.disbursements: dict[UUID, DisbursementM] = {}
        self.claimed: set[tuple[str, str]] = set()  # ("SPM" | "SP2D", number)
        self.receipts: dict[tuple[str, str], tuple[c.Command, dict[str, Any]]] = {}
        self.events = 0  # every event the store should hold

    # -- entry point ---------------------------------------------------------------------------
    def apply(self, command: c.Command) -> Expected:
        receipt = self.receipts.get((command.pemda, command.idempotency_key))
        if receipt is not None:
            first, data = receipt
            same = dataclasses.replace(command, idempotency_key=first.idempotency_key) == first
            return Expected(data=data, replayed=True) if same else Expected(IdempotencyKeyReused)
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(command).__name__).lower()
        handler: Callable[[Any], tuple[dict[str, Any], int]] = getattr(self, name)
        try:
            data, events = handler(command)
        except Refused as refused:
            return Expected(refused.error)
        self.receipts[(command.pemda, command.idempotency_key)] = (command, data)
        # The receipt (and any number claim) is kept apart from the log (ledger.chained).
        self.events += events
        return Expected(data=data, events=events)

    # -- budget --------------------------------------------------------------------------------
    def _line(self, index: int) -> LineM:
        if index not in self.lines:
            raise Refused(NotFound)
        return self.lines[index]

    def adopt_budget(self, cmd: c.AdoptBudget) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.BPKAD_ADMIN}))
        if self.adopted:
            raise Refused(AlreadyExists)
        self.adopted = True
        for spec in cmd.lines:
            index = _index_of(spec)
            self.lines[index] = LineM(index, spec.pagu)
            self.line_order.append(index)
        total = sum(spec.pagu for spec in cmd.lines)
        data = {"id": str(BUDGET_ID), "lines": len(cmd.lines), "total_pagu": total}
        return data, 1 + len(cmd.lines)

    def amend_budget(self, cmd: c.AmendBudget) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.BPKAD_ADMIN}))
        indexes = [_index_of(spec) for spec in cmd.lines]
        if len(set(indexes)) != len(indexes):
            raise Refused(InvalidInput)
        if not self.adopted:
            raise Refused(BudgetNotOpen)
        changes, additions = self._amendment(indexes, cmd.lines)
        delta = 0
        for line, pagu in changes:
            delta += pagu - line.pagu
            line.pagu = pagu
        for index, pagu in additions:
            self.lines[index] = LineM(index, pagu)
            self.line_order.append(index)
            delta += pagu
        self.amendments += 1
        data = {"id": str(BUDGET_ID), "changed": len(changes), "added": len(additions)}
        return {**data, "delta": delta}, len(changes) + len(additions) + 1

    def _amendment(
        self, indexes: list[int], specs: tuple[c.LineSpec, ...]
    ) -> tuple[list[tuple[LineM, int]], list[tuple[int, int]]]:
        """The lines whose pagu changes and the lines added; refused if below usage or nothing."""
        changes: list[tuple[LineM, int]] = []
        additions: list[tuple[int, int]] = []
        for index, spec in zip(indexes, specs, strict=True):
            line = self.lines.get(index)
            if line is None:
                if spec.pagu == 0:
                    raise Refused(InvalidInput)
                additions.append((index, spec.pagu))
            elif spec.pagu < line.committed + line.realised:
                raise Refused(AmendmentBelowUsage)
            elif spec.pagu != line.pagu:
                changes.append((line, spec.pagu))
        if not changes and not additions:
            raise Refused(InvalidInput)
        return changes, additions

    def shift_budget(self, cmd: c.ShiftBudget) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.BPKAD_ADMIN}))
        if cmd.amount <= 0:
            raise Refused(InvalidAmount)
        if not self.adopted:
            raise Refused(BudgetNotOpen)
        source = self._line(_index_of(cmd.from_line))
        target = self._line(_index_of(cmd.to_line))
        if source is target or source.spending != target.spending:
            raise Refused(InvalidInput)
        if cmd.amount > source.available:
            raise Refused(PaguExceeded)
        source.pagu -= cmd.amount
        target.pagu += cmd.amount
        self.shifts += 1
        data = {"id": str(BUDGET_ID), "from": str(source.id), "to": str(target.id)}
        return {**data, "amount": cmd.amount}, 3

    def _block(self, cmd: c.BlockLine | c.UnblockLine, blocked: bool) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.BPKAD_ADMIN}))
        line = self._line(_index_of(cmd.line))
        if line.blocked == blocked:
            raise Refused(InvalidInput)
        line.blocked = blocked
        return {"id": str(line.id), "blocked": blocked}, 1

    def block_line(self, cmd: c.BlockLine) -> tuple[dict[str, Any], int]:
        return self._block(cmd, True)

    def unblock_line(self, cmd: c.UnblockLine) -> tuple[dict[str, Any], int]:
        return self._block(cmd, False)

    # -- vendors -------------------------------------------------------------------------------
    def _vendor(self, npwp: str, missing: type[DomainError] = NotFound) -> VendorM:
        """A registry change of an unknown vendor is ``NotFound``; paying one, ``missing``."""
        index = NPWPS.index(npwp)
        if index not in self.vendors:
            raise Refused(missing)
        return self.vendors[index]

    def register_vendor(self, cmd: c.RegisterVendor) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.BPKAD_ADMIN}))
        index = NPWPS.index(cmd.npwp)
        if index in self.vendors:
            raise Refused(AlreadyExists)
        self.vendors[index] = VendorM(index, _account(index, cmd.account_number))
        return {"id": str(VENDOR_IDS[index]), "npwp": normalise_npwp(cmd.npwp)}, 1

    def change_vendor_bank_account(
        self, cmd: c.ChangeVendorBankAccount
    ) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.BPKAD_ADMIN}))
        vendor = self._vendor(cmd.npwp)
        new = _account(vendor.index, cmd.account_number)
        if new == vendor.account:
            raise Refused(InvalidInput)
        vendor.account = new
        vendor.version += 1
        vendor.changed_by = cmd.actor.user_id
        return {"id": str(VENDOR_IDS[vendor.index]), "version": vendor.version}, 1

    def _activate(self, npwp: str, actor: Actor, active: bool) -> tuple[dict[str, Any], int]:
        _require(actor, frozenset({Role.BPKAD_ADMIN}))
        vendor = self._vendor(npwp)
        if vendor.active == active:
            raise Refused(InvalidInput)
        vendor.active = active
        vendor.version += 1
        return {"id": str(VENDOR_IDS[vendor.index]), "active": active}, 1

    def deactivate_vendor(self, cmd: c.DeactivateVendor) -> tuple[dict[str, Any], int]:
        return self._activate(cmd.npwp, cmd.actor, False)

    def reactivate_vendor(self, cmd: c.ReactivateVendor) -> tuple[dict[str, Any], int]:
        return self._activate(cmd.npwp, cmd.actor, True)

    # -- disbursements -------------------------------------------------------------------------
    def request_disbursement(self, cmd: c.RequestDisbursement) -> tuple[dict[str, Any], int]:
        _require(cmd.actor, frozenset({Role.PPTK, Role.BENDAHARA}))
        withheld = sum(d["amount"] for d in cmd.deductions)
        if cmd.gross <= 0 or withheld >= cmd.gross:
            raise Refused(InvalidAmount)
        if not self.adopted:
            raise Refused(NotFound)
        line = self._line(_index_of(cmd.line))
        if not line.spending:
            raise Refused(InvalidInput)
        vendor = self._vendor(cmd.vendor_npwp, VendorNotPayable)
        if not vendor.active:
            raise Refused(VendorNotPayable)
        if line.blocked:
            raise Refused(LineBlocked)
        if cmd.gross > line.available:
            raise Refused(PaguExceeded)
        did = ids.disbursement_id(PEMDA, YEAR, cmd.spp_number)
        if did in self.disbursements:
            raise Refused(AlreadyExists)
        d = DisbursementM(
            id=did,
            spp=cmd.spp_number,
            line=line.index,
            vendor=vendor.index,
            gross=cmd.gross,
            net=cmd.gross - withheld,
            deductions=[dict(x) for x in cmd.deductions],
            performers={"request": cmd.actor.user_id},
        )
        self.disbursements[did] = d
        line.committed += d.gross
        line.open[str(did)] = d.gross
        return {"id": str(did), "status": "requested", "net": d.net}, 2

    def _disbursement(self, cmd: c.DisbursementCommand) -> DisbursementM:
        d = self.disbursements.get(cmd.disbursement_id)
        if d is None or cmd.pemda != PEMDA:
            raise Refused(NotFound)
        return d

    def _human(self, d: DisbursementM, actor: Actor, step: str) -> None:
        if any(user == actor.user_id and done != step for done, user in d.performers.items()):
            raise Refused(SeparationOfDuties)

    def _step(self, cmd: c.DisbursementCommand, step: str) -> tuple[dict[str, Any], int]:
        d = self._disbursement(cmd)
        self._may_take(d, cmd.actor, step)
        self._documents_allow(cmd, d)
        # Every check passed: the facts.
        events = 1 + self._record(cmd, d, step)
        if step in ("verify", "approve", "authorise", "reject", "reissue"):
            d.performers[step] = cmd.actor.user_id
        d.status = NEW_STATUS.get(step, d.status)
        d.version += 1
        data = {"id": str(d.id), "status": d.status.value, "version": d.version}
        return ({**data, "reissue": d.reissues} if step == "reissue" else data), events

    def _may_take(self, d: DisbursementM, actor: Actor, step: str) -> None:
        """The step applies to the status, the actor holds its role and did no other step."""
        if step == "reject":
            statuses, roles = frozenset(REJECTED_BY), REJECTED_BY.get(d.status, frozenset())
        elif step == "cancel":
            statuses, roles = CANCELLABLE, CANCEL_ROLES
        else:
            statuses, roles = STEP_RULES[step]
        if d.status not in statuses:
            raise Refused(InvalidTransition)
        _require(actor, roles)
        if step == "reissue" and d.reissues >= MAX_REISSUES:
            raise Refused(LimitExceeded)
        if step in ("verify", "approve", "authorise", "reject", "reissue"):
            self._human(d, actor, step)
        elif step == "cancel":
            self._human(d, actor, "request")

    def _documents_allow(self, cmd: c.DisbursementCommand, d: DisbursementM) -> None:
        """Numbers are issued once; only an active vendor's unchanged account on an unblocked line
        is paid; a transfer attempt is refused once, and never after sending."""
        line, vendor = self.lines[d.line], self.vendors[d.vendor]
        if isinstance(cmd, c.ApproveSpm) and ("SPM", cmd.spm_number) in self.claimed:
            raise Refused(AlreadyExists)
        if isinstance(cmd, (c.AuthoriseSp2d, c.RecordTransferSent)) and not vendor.active:
            raise Refused(VendorNotPayable)
        if isinstance(cmd, c.AuthoriseSp2d):
            if line.blocked:
                raise Refused(LineBlocked)
            if ("SP2D", cmd.sp2d_number) in self.claimed:
                raise Refused(AlreadyExists)
        if isinstance(cmd, c.RecordTransferSent) and vendor.account != d.account:
            raise Refused(BankAccountChanged)
        if isinstance(cmd, c.RecordTransferRejected) and cmd.reference in d.references:
            raise Refused(InvalidTransition)
        if isinstance(cmd, c.ReissueReturnedTransfer):
            if not vendor.active:
                raise Refused(VendorNotPayable)
            if vendor.account == d.account:
                raise Refused(ReturnedToSameAccount)
            if vendor.changed_by == cmd.actor.user_id:
                raise Refused(SeparationOfDuties)

    def _record(self, cmd: c.DisbursementCommand, d: DisbursementM, step: str) -> int:
        """What the step changes besides the status; the number of events beyond the step's."""
        line, vendor = self.lines[d.line], self.vendors[d.vendor]
        if isinstance(cmd, c.ApproveSpm):
            self.claimed.add(("SPM", cmd.spm_number))
            d.spm = cmd.spm_number
            return 0  # the claim is kept apart from the log
        if isinstance(cmd, c.AuthoriseSp2d):
            self.claimed.add(("SP2D", cmd.sp2d_number))
            d.sp2d = cmd.sp2d_number
            d.account = dict(vendor.account)
            d.vendor_version = vendor.version
            del line.open[str(d.id)]
            line.committed -= d.gross
            line.realised += d.gross
            return 1  # the realisation; the claim is kept apart from the log
        if isinstance(cmd, c.ReissueReturnedTransfer):
            d.account = dict(vendor.account)
            d.vendor_version = vendor.version
            d.reissues += 1
        elif isinstance(cmd, (c.RecordTransferSent, c.RecordTransferRejected)):
            d.attempts += 1
            d.references.append(cmd.reference)
        elif step in ("reject", "cancel"):
            if d.status in COMMITTED:
                del line.open[str(d.id)]
                line.committed -= d.gross
            else:
                line.realised -= d.gross
            return 1
        return 0

    def verify_disbursement(self, cmd: c.VerifyDisbursement) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "verify")

    def approve_spm(self, cmd: c.ApproveSpm) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "approve")

    def authorise_sp2d(self, cmd: c.AuthoriseSp2d) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "authorise")

    def record_transfer_sent(self, cmd: c.RecordTransferSent) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "send")

    def record_settlement(self, cmd: c.RecordSettlement) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "settle")

    def record_transfer_failed(self, cmd: c.RecordTransferFailed) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "fail")

    def record_transfer_returned(self, cmd: c.RecordTransferReturned) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "return")

    def record_transfer_rejected(self, cmd: c.RecordTransferRejected) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "refuse")

    def reject_disbursement(self, cmd: c.RejectDisbursement) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "reject")

    def cancel_disbursement(self, cmd: c.CancelDisbursement) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "cancel")

    def reissue_returned_transfer(
        self, cmd: c.ReissueReturnedTransfer
    ) -> tuple[dict[str, Any], int]:
        return self._step(cmd, "reissue")

    # -- what the journal must say -------------------------------------------------------------
    def trial_balance(self) -> dict[str, int]:
        expected: dict[str, int] = defaultdict(int)
        for line in self.lines.values():
            expected["apbd"] += line.pagu
            expected[f"appropriation:{line.id}"] -= line.available
            expected[f"commitment:{line.id}"] -= line.committed
            expected[f"realisation:{line.id}"] -= line.realised
        for d in self.disbursements.values():
            if d.status not in REALISED:
                continue
            expected[f"expenditure:{LINE_IDS[d.line]}"] += d.gross
            for deduction in d.deductions:
                expected[f"taxes_payable:{deduction['code']}"] -= deduction["amount"]
            account = {
                Status.SENT: "cash_in_transit",
                Status.SETTLED: "cash:rkud",
            }.get(d.status, f"vendor_payable:{VENDOR_IDS[d.vendor]}")
            expected[account] -= d.net
        return _nonzero(expected)


def _index_of(ref: c.LineRef | c.LineSpec) -> int:
    return next(
        i
        for i, spec in enumerate(SPECS)
        if (spec.skpd, spec.sub_kegiatan, spec.rekening)
        == (ref.skpd, ref.sub_kegiatan, ref.rekening)
    )


def _nonzero(balance: dict[str, int]) -> dict[str, int]:
    return {account: amount for account, amount in balance.items() if amount != 0}


def _outcome(outcome: Outcome) -> str:
    if isinstance(outcome, DomainError):
        return type(outcome).__name__
    return f"ok{' (replayed)' if outcome.replayed else ''} {outcome.data}"


def _describe(expected: Expected) -> str:
    if expected.error is not None:
        return expected.error.__name__
    return f"ok{' (replayed)' if expected.replayed else ''} {expected.data}"


# -- the step builder --------------------------------------------------------------------------
# How often each kind of command is drawn: mostly a disbursement's next natural step.
KINDS = (
    ["progress"] * 12
    + ["request"] * 4
    + ["step"] * 3
    + ["retry"] * 2
    + ["amend", "shift", "block", "vendor", "vendor", "reuse", "adopt"]
)

# Arbitrary JSON-like values, for the fields of a malformed command.
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**17), 10**17) | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


class Steps:
    """The one place this suite builds commands. Draws each from what ``model`` knows (which
    disbursements are live, which lines are blocked, which vendors inactive) so that most are a
    plausible next step; remembers every command it built, for retries and reused keys."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.keys = itertools.count(1)
        self.numbers = itertools.count(1)
        self.history: list[c.Command] = []  # every command built, in order
        self.spps: list[str] = []  # every SPP number ever drawn
        self.kinds: dict[str, Callable[[st.DataObject], c.Command | None]] = {
            "retry": self._retry,
            "reuse": self._reuse,
            "progress": self._progress,
            "step": self._any_step,
            "amend": self._amend,
            "shift": self._shift,
            "block": self._block,
            "vendor": self._vendor,
            "adopt": self._adopt,
            "request": self._request,
        }

    def setup(self) -> list[c.Command]:
        """The APBD (lines 0-3) and vendors 0 and 1: where every sequence starts."""
        adopt = c.AdoptBudget(
            idempotency_key=self._key(),
            actor=ADMIN,
            pemda=PEMDA,
            year=YEAR,
            document="PERDA-1-2025",
            lines=tuple(SPECS[:ADOPTED]),
        )
        commands = [adopt, self._registration(0, ADMIN), self._registration(1, ADMIN)]
        self.history.extend(commands)
        return commands

    def draw(self, data: st.DataObject) -> c.Command:
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        # A kind with nothing to act on yet (no live disbursement, no SPP) becomes a request.
        command = self.kinds[kind](data) or self._request(data)
        self.history.append(command)
        return command

    def malformed(self, data: st.DataObject) -> c.Command:
        """A drawn command in which each field (and each field of its line references) is, one
        time in four, an arbitrary JSON-like value instead."""
        return _garbled(data, self.draw(data))

    # -- kinds ---------------------------------------------------------------------------------
    def _retry(self, data: st.DataObject) -> c.Command:
        return data.draw(st.sampled_from(self.history), label="earlier")

    def _reuse(self, data: st.DataObject) -> c.Command:
        first = data.draw(st.sampled_from(self.history), label="earlier")
        other = data.draw(st.sampled_from(self.history), label="other")
        return dataclasses.replace(other, idempotency_key=first.idempotency_key)

    def _progress(self, data: st.DataObject) -> c.Command | None:
        # Furthest along first: hypothesis leans to early elements, and late steps are rarer.
        live = sorted(
            (d for d in self.model.disbursements.values() if d.status in NEXT_STEPS),
            key=lambda d: -d.version,
        )
        if not live:
            return None
        d = data.draw(st.sampled_from(live), label="disbursement")
        step = data.draw(st.sampled_from(NEXT_STEPS[d.status]), label="step")
        actor = data.draw(st.sampled_from(CANDIDATES[step]), label="actor")
        return self._step(data, step, d.id, actor, PEMDA)

    def _any_step(self, data: st.DataObject) -> c.Command | None:
        """Any step, on any SPP (or on something that is not a disbursement), by anyone."""
        if not self.spps:
            return None
        spp = data.draw(st.sampled_from(self.spps), label="spp")
        target = data.draw(
            st.sampled_from([f.disbursement_id(spp)] * 6 + [LINE_IDS[0], VENDOR_IDS[0], BUDGET_ID]),
            label="target",
        )
        step = data.draw(st.sampled_from(STEPS), label="step")
        actor = data.draw(
            st.one_of(st.sampled_from(CANDIDATES[step]), st.sampled_from(EVERYONE)), label="actor"
        )
        pemda = data.draw(st.sampled_from([PEMDA] * 9 + [OTHER_PEMDA]), label="pemda")
        return self._step(data, step, target, actor, pemda)

    def _shift(self, data: st.DataObject) -> c.Command:
        return c.ShiftBudget(
            idempotency_key=self._key(),
            actor=data.draw(st.sampled_from(ADMINS), label="actor"),
            pemda=PEMDA,
            year=YEAR,
            document=f"GESER/{next(self.numbers)}",
            from_line=f.ref(SPECS[data.draw(st.sampled_from([0, 1, 2, 0, 1, 3, 4]), label="from")]),
            to_line=f.ref(SPECS[data.draw(st.sampled_from([1, 2, 0, 2, 3, 4]), label="to")]),
            amount=data.draw(st.sampled_from([0, 50, 100, 300, 600]), label="amount"),
        )

    def _block(self, data: st.DataObject) -> c.Command:
        blocked = [i for i, line in self.model.lines.items() if line.blocked]
        index = data.draw(st.sampled_from([*blocked, 0, 1, 2, 3, 4]), label="line")
        current = index in self.model.lines and self.model.lines[index].blocked
        # Mostly the toggle that applies, sometimes the one that is refused.
        block = data.draw(st.sampled_from([not current] * 3 + [current]), label="block")
        return (c.BlockLine if block else c.UnblockLine)(
            idempotency_key=self._key(),
            actor=data.draw(st.sampled_from(ADMINS), label="actor"),
            pemda=PEMDA,
            year=YEAR,
            line=f.ref(SPECS[index]),
            reason="blokir sementara",
        )

    def _adopt(self, data: st.DataObject) -> c.Command:
        return c.AdoptBudget(
            idempotency_key=self._key(),
            actor=data.draw(st.sampled_from(ADMINS), label="actor"),
            pemda=PEMDA,
            year=YEAR,
            document="PERDA-2-2025",
            lines=(SPECS[0],),
        )

    def _request(self, data: st.DataObject) -> c.RequestDisbursement:
        if self.spps and data.draw(st.integers(0, 9), label="reuse spp") == 0:
            spp = data.draw(st.sampled_from(self.spps), label="spp")
        else:
            spp = f"SPP-{len(self.spps)}"
            self.spps.append(spp)
        gross = data.draw(st.integers(1, 300), label="gross")
        if data.draw(st.integers(0, 7), label="odd gross") == 7:
            gross = data.draw(st.sampled_from([0, -5, 501, 799, 1000, 1001]), label="gross")
        withheld = data.draw(st.sampled_from([0, 0, 0, 1, 7, 50, 300]), label="withheld")
        deductions: tuple[dict[str, Any], ...] = ()
        if withheld:
            deductions = ({"code": "PPH23", "amount": withheld},)
            if data.draw(st.booleans(), label="two taxes"):
                deductions += ({"code": "PPN", "amount": 3},)
        return f.request(
            spp,
            gross,
            SPECS[data.draw(st.sampled_from([0, 0, 1, 1, 2, 3, 4]), label="line")],
            actor=data.draw(st.sampled_from(REQUESTERS), label="actor"),
            npwp=NPWPS[data.draw(st.sampled_from([0, 0, 0, 1, 1, 2]), label="vendor")],
            deductions=deductions,
            idempotency_key=self._key(),
        )

    def _amend(self, data: st.DataObject) -> c.AmendBudget:
        indexes = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3), label="lines")
        pagu = st.one_of(st.integers(0, 1_500), st.sampled_from([0, 1_000]))
        specs = tuple(
            dataclasses.replace(SPECS[i], pagu=data.draw(pagu, label="pagu")) for i in indexes
        )
        return c.AmendBudget(
            idempotency_key=self._key(),
            actor=data.draw(st.sampled_from(ADMINS), label="actor"),
            pemda=PEMDA,
            year=YEAR,
            document=f"APBD-P/{next(self.numbers)}",
            lines=specs,
        )

    def _vendor(self, data: st.DataObject) -> c.Command:
        inactive = [i for i, v in self.model.vendors.items() if not v.active]
        vendor = data.draw(st.sampled_from([*inactive, 0, 0, 1, 2]), label="vendor")
        actor = data.draw(st.sampled_from(ADMINS), label="actor")
        what = data.draw(
            st.sampled_from(["deactivate", "reactivate", "account", "account", "register"]),
            label="what",
        )
        if what == "register":
            return self._registration(vendor, actor)
        common: dict[str, Any] = {
            "idempotency_key": self._key(),
            "actor": actor,
            "pemda": PEMDA,
            "npwp": NPWPS[vendor],
        }
        if what == "deactivate":
            return c.DeactivateVendor(**common, reason="izin usaha dicabut")
        if what == "reactivate":
            return c.ReactivateVendor(**common, reason="izin usaha aktif")
        return c.ChangeVendorBankAccount(
            **common,
            bank_code="110",
            account_number=data.draw(st.sampled_from(ACCOUNTS), label="account"),
            account_holder=f"Vendor {vendor}",
            reason="ganti rekening",
        )

    # -- the parts -----------------------------------------------------------------------------
    def _key(self) -> str:
        return f"p-{next(self.keys)}"

    def _registration(self, vendor: int, actor: Actor) -> c.RegisterVendor:
        return c.RegisterVendor(
            idempotency_key=self._key(),
            actor=actor,
            pemda=PEMDA,
            npwp=NPWPS[vendor],
            name=f"Vendor {vendor}",
            kind="company",
            bank_code="110",
            account_number=ACCOUNTS[vendor],
            account_holder=f"Vendor {vendor}",
        )

    def _number(self, data: st.DataObject, prefix: str) -> str:
        # Mostly a fresh number; sometimes one already issued (to this or another SPP).
        n = next(self.numbers)
        if data.draw(st.integers(0, 5), label=f"{prefix} reused") == 0:
            n = data.draw(st.integers(1, n), label=f"{prefix} number")
        return f"{prefix}/{n}"

    def _step(
        self, data: st.DataObject, step: str, target: UUID, actor: Actor, pemda: str
    ) -> c.Command:
        common: dict[str, Any] = {
            "idempotency_key": self._key(),
            "actor": actor,
            "pemda": pemda,
            "disbursement_id": target,
        }
        match step:
            case "approve":
                return c.ApproveSpm(**common, spm_number=self._number(data, "SPM"))
            case "authorise":
                return c.AuthoriseSp2d(**common, sp2d_number=self._number(data, "SP2D"))
            case "send" | "refuse":
                reference = f"IRIS/{next(self.numbers)}"
                if step == "send":
                    return c.RecordTransferSent(**common, gateway="iris", reference=reference)
                return c.RecordTransferRejected(
                    **common, gateway="iris", reference=reference, reason="ditolak"
                )
            case "settle":
                return c.RecordSettlement(**common, bank_reference=f"BANK/{next(self.numbers)}")
        return SIMPLE_STEPS[step](**common)


# The steps that carry nothing but the disbursement and, for some, a fixed reason.
SIMPLE_STEPS: dict[str, Callable[..., c.Command]] = {
    "verify": c.VerifyDisbursement,
    "fail": lambda **common: c.RecordTransferFailed(**common, reason="bank offline"),
    "return": lambda **common: c.RecordTransferReturned(**common, reason="rekening ditutup"),
    "reject": lambda **common: c.RejectDisbursement(**common, reason="dokumen kurang"),
    "cancel": lambda **common: c.CancelDisbursement(**common, reason="dibatalkan"),
    "reissue": lambda **common: c.ReissueReturnedTransfer(**common, reason="rekening baru"),
}


def _garbled(data: st.DataObject, command: c.Command) -> c.Command:
    """``command`` with each field, and each field of its line references and specs, replaced one
    time in four by an arbitrary JSON-like value."""
    garbled: c.Command = _junk_in_fields(data, command)
    return garbled


def _junk_in_fields(data: st.DataObject, value: Any) -> Any:
    fields = {x.name: _junk_or(data, getattr(value, x.name)) for x in dataclasses.fields(value)}
    return dataclasses.replace(value, **fields)


def _junk_or(data: st.DataObject, value: Any) -> Any:
    if data.draw(st.integers(0, 3), label="junk?") == 0:
        return data.draw(_json, label="junk")
    if isinstance(value, (c.LineRef, c.LineSpec)):
        return _junk_in_fields(data, value)
    if isinstance(value, tuple) and value and isinstance(value[0], c.LineSpec):
        return tuple(_junk_or(data, spec) for spec in value)
    return value


# -- sending a world its commands --------------------------------------------------------------
def _world(model: Model, steps: Steps, url: str = "memory://") -> Ledger:
    """A ledger (and the model) with the setup of ``steps`` recorded; the same commands each time."""
    ledger = Ledger(url, clock=FixedClock())
    setup = steps.setup()
    for command in setup:
        model.apply(command)
    for outcome in ledger.execute_batch(setup):
        assert isinstance(outcome, CommandResult), outcome
    return ledger


def _lines_are_not_overspent(ledger: Ledger, line_ids: list[UUID]) -> None:
    for line_id in line_ids:
        line = ledger.budget_line(line_id)
        assert line.committed >= 0 and line.realised >= 0
        assert line.committed + line.realised <= line.pagu, "overspent"


# -- the state machine -------------------------------------------------------------------------
class LedgerModelMachine(RuleBasedStateMachine):
    """Drives a ``Ledger`` and the ``Model`` side by side; any divergence is a failure."""

    url = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(self.make_url(), clock=FixedClock())
        self.model = Model()
        self.steps = Steps(self.model)
        self.seen = 0  # notifications already checked
        self.balance: dict[str, int] = defaultdict(int)
        self._send(self.steps.setup(), batch=False)
        self.check_everything()

    def make_url(self) -> str:
        return self.url

    # -- rules ---------------------------------------------------------------------------------
    @rule(data=st.data())
    def one_command(self, data: st.DataObject) -> None:
        self._send([self.steps.draw(data)], batch=False)

    @rule(data=st.data())
    def another_command(self, data: st.DataObject) -> None:
        self.one_command(data)

    @rule(data=st.data(), size=st.integers(1, 6))
    def batch(self, data: st.DataObject, size: int) -> None:
        self._send([self.steps.draw(data) for _ in range(size)], batch=True)

    # -- sending and comparing (M1, M2) --------------------------------------------------------
    def _send(self, commands: list[c.Command], *, batch: bool) -> None:
        expected = [self.model.apply(command) for command in commands]
        before = self._last()
        outcomes = self._execute(commands, batch=batch)
        assert len(outcomes) == len(commands)
        for command, want, got in zip(commands, expected, outcomes, strict=True):
            assert _outcome(got) == _describe(want), f"{command}"
            if isinstance(got, DomainError):
                assert isinstance(got.rule, str) and got.rule
            else:
                assert got.command == command.command_name
                assert got.idempotency_key == command.idempotency_key
        appended = self._last() - before
        assert appended == sum(e.events for e in expected), "events appended != model's count"
        assert self._last() == self.model.events

    def _execute(self, commands: list[c.Command], *, batch: bool) -> list[Outcome]:
        if batch:
            return self.ledger.execute_batch(commands)
        outcomes: list[Outcome] = []
        for command in commands:
            try:
                outcomes.append(self.ledger.execute(command))
            except DomainError as error:  # anything else fails the test
                outcomes.append(error)
        return outcomes

    def _last(self) -> int:
        return int(self.ledger.recorder.max_notification_id() or 0)

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def check_everything(self) -> None:
        lines = self._check_lines()
        self._check_disbursements(lines)
        self._check_vendors()
        self._check_journal(lines)

    def _check_lines(self) -> dict[UUID, BudgetLine]:
        """M3, M4: the lines the ledger has, each equal to the model's."""
        model = self.model
        budget = self.ledger.aggregate(BUDGET_ID, Budget)
        assert budget.line_ids == [str(LINE_IDS[i]) for i in model.line_order]
        assert budget.total_pagu == sum(line.pagu for line in model.lines.values())
        assert (budget.amendments, budget.shifts) == (model.amendments, model.shifts)
        lines: dict[UUID, BudgetLine] = {}
        for index, line_id in enumerate(LINE_IDS):
            m = model.lines.get(index)
            if m is None:
                try:
                    self.ledger.budget_line(line_id)
                except NotFound:
                    continue
                raise AssertionError(f"line {index} exists but the model has none")
            line = lines[line_id] = self.ledger.budget_line(line_id)
            assert line.committed >= 0 and line.realised >= 0
            assert line.committed + line.realised <= line.pagu, "overspent"
            got = (line.pagu, line.committed, line.realised, line.blocked, line.open_commitments)
            assert got == (m.pagu, m.committed, m.realised, m.blocked, m.open), index
        return lines

    def _check_disbursements(self, lines: dict[UUID, BudgetLine]) -> None:
        """M5, M6: each disbursement equals the model's; the lines add up from their statuses."""
        committed = dict.fromkeys(lines, 0)
        realised = dict.fromkeys(lines, 0)
        for m in self.model.disbursements.values():
            d = self.ledger.disbursement(m.id)
            assert _disbursement_state(d) == _model_state(m), m.spp
            # Separation of duties, whatever happened: nobody performed two steps.
            assert len(set(d.performers.values())) == len(d.performers), d.performers
            if d.status in COMMITTED:
                committed[UUID(d.line_id)] += d.gross
            elif d.status in REALISED:
                realised[UUID(d.line_id)] += d.gross
        for line_id, line in lines.items():
            assert (line.committed, line.realised) == (committed[line_id], realised[line_id])

    def _check_vendors(self) -> None:
        """M7."""
        for index, vendor_id in enumerate(VENDOR_IDS):
            m = self.model.vendors.get(index)
            if m is None:
                try:
                    self.ledger.vendor(vendor_id)
                except NotFound:
                    continue
                raise AssertionError(f"vendor {index} exists but the model has none")
            v = self.ledger.vendor(vendor_id)
            assert (v.active, v.bank_account, v.version) == (m.active, m.account, m.version)

    def _check_journal(self, lines: dict[UUID, BudgetLine]) -> None:
        """M8, M9, M10: the new events balance; the journal says what the model and lines say."""
        last = self._last()
        if last > self.seen:
            fresh = list(self.ledger.recorder.select_notifications(start=self.seen + 1, limit=last))
            assert [n.id for n in fresh] == list(range(self.seen + 1, last + 1))
            for notification in fresh:
                event = self.ledger.mapper.to_domain_event(notification)
                legs = postings_for(event)
                assert not legs or is_balanced(legs), (type(event).__qualname__, legs)
                for account, amount in trial_balance([event]).items():
                    self.balance[account] += amount
            self.seen = last
        assert _nonzero(self.balance) == self.model.trial_balance()
        assert sum(self.balance.values()) == 0
        for line_id, line in lines.items():
            assert self.balance[f"appropriation:{line_id}"] == -line.available
            assert self.balance[f"commitment:{line_id}"] == -line.committed
            assert self.balance[f"realisation:{line_id}"] == -line.realised

    # -- the end (E1, E2) ----------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            self.check_replay()
        finally:
            self.ledger.close()

    def aggregate_ids(self, ledger: Ledger) -> list[UUID]:
        return list(dict.fromkeys(UUID(str(e.originator_id)) for e in all_events(ledger)))

    def check_replay(self) -> None:
        """Every aggregate replayed from its stored events equals the one the ledger works on."""
        report = check_replay(self.ledger)
        assert report.ok, [str(d) for d in report.differences]
        assert report.checked > 0
        events = all_events(self.ledger)
        assert _nonzero(trial_balance(events)) == self.model.trial_balance()
        per_aggregate: dict[UUID, list[int]] = defaultdict(list)
        for event in events:
            per_aggregate[UUID(str(event.originator_id))].append(event.originator_version)
        for aggregate_id, versions in per_aggregate.items():
            assert versions == list(range(1, len(versions) + 1))  # no gap, no duplicate
            self.ledger.repository.get(aggregate_id)  # and it replays
        # The receipts hold exactly the accepted commands.
        receipts = {
            e.idempotency_key
            for e in self.ledger.receipts()  # kept apart from the log
            if type(e).__qualname__ == "CommandReceipt.Recorded"
        }
        assert receipts == {key for _, key in self.model.receipts}


def _disbursement_state(d: Any) -> tuple[Any, ...]:
    return (
        Status(d.status),
        d.performers,
        d.gross,
        d.net,
        d.spm_number,
        d.sp2d_number,
        d.bank_account,
        d.vendor_version,
        d.attempts,
        d.reissues,
        d.version,
        d.line_id,
        d.vendor_id,
    )


def _model_state(m: DisbursementM) -> tuple[Any, ...]:
    return (
        m.status,
        m.performers,
        m.gross,
        m.net,
        m.spm,
        m.sp2d,
        m.account,
        m.vendor_version,
        m.attempts,
        m.reissues,
        m.version,
        str(LINE_IDS[m.line]),
        str(VENDOR_IDS[m.vendor]),
    )


PROPERTY_SETTINGS = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TestLedgerAgainstModel = LedgerModelMachine.TestCase
TestLedgerAgainstModel.settings = PROPERTY_SETTINGS


def test_a_fresh_ledger_on_the_same_sqlite_file_rebuilds_the_same_state(tmp_path: Path) -> None:
    """E3."""
    files = itertools.count()

    class OnSqlite(LedgerModelMachine):
        def make_url(self) -> str:
            return f"sqlite:///{tmp_path / f'prop-{next(files)}.db'}"

        def teardown(self) -> None:
            try:
                self.check_replay()
                self.check_restart()
            finally:
                self.ledger.close()
                Path(self.ledger.url.removeprefix("sqlite:///")).unlink(missing_ok=True)

        def check_restart(self) -> None:
            live = {
                i: state_of(self.ledger.repository.get(i)) for i in self.aggregate_ids(self.ledger)
            }
            assert verify(self.ledger).ok
            restarted = Ledger(self.ledger.url, clock=FixedClock())
            try:
                report = check_replay(self.ledger, replay_from=restarted)
                assert report.ok, [str(d) for d in report.differences]
                assert {
                    i: state_of(restarted.repository.get(i)) for i in self.aggregate_ids(restarted)
                } == live
                assert restarted.budget_lines(PEMDA, YEAR) == [
                    restarted.budget_line(LINE_IDS[i]) for i in self.model.line_order
                ]
                # A new process still knows every key: each accepted command replays, unchanged.
                before = restarted.recorder.max_notification_id()
                for (_, key), (command, data) in self.model.receipts.items():
                    again = restarted.execute(command)
                    assert again.replayed and again.data == data, key
                assert restarted.recorder.max_notification_id() == before
            finally:
                restarted.close()

    run = OnSqlite.TestCase
    run.settings = settings(PROPERTY_SETTINGS, max_examples=10, stateful_step_count=25)
    run().runTest()


# -- G1: a batch is the same as its commands one by one ------------------------------------------
_TIMES = ("_created_on", "_modified_on", "requested_at", "authorised_at", "settled_at")


def _timeless(ledger: Ledger) -> dict[UUID, dict[str, Any]]:
    """Every aggregate's state, without the clock readings (batches read the clock once)."""
    states: dict[UUID, dict[str, Any]] = {}
    for event in all_events(ledger):
        aggregate_id = UUID(str(event.originator_id))
        if aggregate_id not in states:
            state = state_of(ledger.repository.get(aggregate_id))
            states[aggregate_id] = {k: v for k, v in state.items() if k not in _TIMES}
    return states


def _topics(ledger: Ledger) -> dict[UUID, list[str]]:
    topics: dict[UUID, list[str]] = defaultdict(list)
    for event in all_events(ledger):
        topics[UUID(str(event.originator_id))].append(type(event).__qualname__)
    return dict(topics)


def _in_batches(ledger: Ledger, commands: list[c.Command], cuts: list[int]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    start = 0
    for size in [*cuts, len(commands)]:
        outcomes.extend(ledger.execute_batch(commands[start : start + size]))
        start += size
        if start >= len(commands):
            break
    return outcomes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), count=st.integers(1, 30), cuts=st.lists(st.integers(1, 8), max_size=10))
def test_a_batch_does_what_its_commands_do_one_by_one(
    data: st.DataObject, count: int, cuts: list[int]
) -> None:
    model = Model()
    steps = Steps(model)
    one_by_one = _world(model, steps)
    twin = Model()
    batched = _world(twin, Steps(twin))  # the same setup: the same keys and commands
    try:
        commands: list[c.Command] = []
        expected: list[Expected] = []
        for _ in range(count):
            commands.append(steps.draw(data))
            expected.append(model.apply(commands[-1]))
        singles = [one_by_one.execute_batch([command])[0] for command in commands]
        grouped = _in_batches(batched, commands, cuts)
        assert [_outcome(o) for o in grouped] == [_outcome(o) for o in singles]
        assert [_outcome(o) for o in singles] == [_describe(e) for e in expected]
        assert _topics(batched) == _topics(one_by_one)
        assert _timeless(batched) == _timeless(one_by_one)
        _lines_are_not_overspent(batched, [LINE_IDS[i] for i in model.line_order])
    finally:
        one_by_one.close()
        batched.close()


# -- G2, G3: malformed commands are refused by a rule, never by a crash ---------------------------
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_malformed_payloads_are_refused_by_a_rule_never_by_a_crash(data: st.DataObject) -> None:
    model = Model()
    steps = Steps(model)
    ledger = _world(model, steps)
    try:
        # A verified SPP, so that the next steps of a payment are drawn too.
        verified = (f.request("SPP-V", 100, SPECS[0], deductions=()), f.verify("SPP-V"))
        for valid in verified:
            assert isinstance(model.apply(valid).data, dict)
            ledger.execute(valid)
        command = steps.malformed(data)
        before = ledger.recorder.max_notification_id()
        [outcome] = ledger.execute_batch([command])  # anything but a DomainError escapes here
        if isinstance(outcome, DomainError):
            assert ledger.recorder.max_notification_id() == before
        else:
            assert isinstance(outcome, CommandResult)
        _lines_are_not_overspent(ledger, LINE_IDS[:ADOPTED])
        for event in all_events(ledger):
            legs = postings_for(event)
            assert not legs or is_balanced(legs)
    finally:
        ledger.close()


def test_a_disbursement_id_that_is_not_even_hashable_is_refused_in_its_batch() -> None:
    """Regression: such an id used to crash the whole batch with a TypeError while the ledger
    collected the aggregates the batch would read; now only that command is refused."""
    model = Model()
    ledger = _world(model, Steps(model))
    try:
        valid = f.request("SPP-1", 100, SPECS[0], deductions=())
        broken: Any = {"not": "a uuid"}
        outcomes = ledger.execute_batch(
            [
                valid,
                c.VerifyDisbursement(
                    idempotency_key="broken", actor=BUDI_PPK, pemda=PEMDA, disbursement_id=broken
                ),
                f.verify("SPP-1"),
            ]
        )
        assert [_outcome(o).split()[0] for o in outcomes] == ["ok", "InvalidInput", "ok"]
    finally:
        ledger.close()


def test_no_status_counts_as_both_committed_and_realised() -> None:
    """G4: guards M5's recomputation, where every status counts at most once."""
    assert not (COMMITTED & REALISED)
    assert Status.SETTLED in REALISED
    assert set(Status) >= COMMITTED | REALISED
