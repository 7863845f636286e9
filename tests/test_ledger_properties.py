"""Properties that hold for random command sequences (hypothesis stateful testing).

Random users (right and wrong roles, the same person trying several steps) drive random disbursements
through random steps while BPKAD amends, shifts, blocks and unblocks lines, vendors change accounts and
clients retry old commands. After every step:

- no line is overspent: 0 <= committed, 0 <= realised, committed + realised <= pagu;
- every refusal is a typed DomainError (never another exception) and appends nothing;
- every stored event's journal entry balances;
- the trial balance of all events equals the aggregates (appropriation, commitment, realisation);
- each line's committed and realised equal a recomputation from the disbursements' states;
- a retried command returns its first result and appends nothing.

At the end, replaying every aggregate from its events gives exactly the state the ledger holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger import commands as c
from ledger.application import CommandResult, Ledger
from ledger.budget import BudgetLine
from ledger.disbursement import Status
from ledger.errors import DomainError
from ledger.handlers import line_id_of
from ledger.postings import is_balanced, postings_for, trial_balance
from ledger.roles import Actor, Role
from testkit.clock import FixedClock
from tests import factory as f

LINES = [f.line_spec(f"5.1.02.02.01.00{n}", 1_000) for n in (51, 52, 53)]
LINE_IDS = [line_id_of(f.PEMDA, f.YEAR, spec) for spec in LINES]
VENDORS = [f.NPWP, "02.345.678.9-012.000"]
# Few users, each holding one role, so the same person often tries two steps of one payment.
USERS = [
    f.actor("ani", Role.PPTK),
    f.actor("budi", Role.PPK),
    f.actor("citra", Role.PA_KPA),
    f.actor("dedi", Role.KUASA_BUD),
    f.actor("eko", Role.PPK),
    f.actor("fitri", Role.KUASA_BUD),
    f.actor("ani", Role.PPK),  # ani again, now acting as PPK: separation of duties must stop her
    f.actor("gateway", Role.GATEWAY),
    f.actor("admin", Role.BPKAD_ADMIN),
    f.actor("audit", Role.AUDITOR),
]
REQUESTERS = [f.actor("ani", Role.PPTK), f.actor("gita", Role.BENDAHARA)]
_CHECKERS = [USERS[1], USERS[2], USERS[3], USERS[4], USERS[5], USERS[6]]
CANDIDATES = {
    "verify": [USERS[1], USERS[4], USERS[6]],
    "approve": [USERS[2]],
    "authorise": [USERS[3], USERS[5]],
    "send": [USERS[7]],
    "settle": [USERS[7]],
    "fail": [USERS[7]],
    "return": [USERS[7]],
    "refuse": [USERS[7]],  # the gateway refused the transfer before sending (TransferRejected)
    "reject": _CHECKERS,
    "cancel": [REQUESTERS[0], REQUESTERS[1], USERS[8], USERS[3], USERS[5]],
}
NEXT_STEPS = {
    Status.REQUESTED: ["verify", "verify", "reject", "cancel"],
    Status.VERIFIED: ["approve", "approve", "reject"],
    Status.APPROVED: ["authorise", "authorise", "reject", "cancel"],
    Status.AUTHORISED: ["send", "send", "refuse", "cancel"],
    Status.SENT: ["settle", "fail"],
    Status.FAILED: ["send", "refuse", "cancel"],
    Status.SETTLED: ["return"],
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
]
COMMITTED = {Status.REQUESTED, Status.VERIFIED, Status.APPROVED}
REALISED = {Status.AUTHORISED, Status.SENT, Status.SETTLED, Status.FAILED, Status.RETURNED}


def _step(step: str, spp: str, actor: Actor, key: str, n: int) -> c.Command:
    common: dict[str, Any] = {
        "idempotency_key": key,
        "actor": actor,
        "pemda": f.PEMDA,
        "disbursement_id": f.disbursement_id(spp),
    }
    match step:
        case "verify":
            return c.VerifyDisbursement(**common)
        case "approve":
            return c.ApproveSpm(**common, spm_number=f"SPM/{spp}/{n % 3}")
        case "authorise":
            return c.AuthoriseSp2d(**common, sp2d_number=f"SP2D/{spp}/{n % 3}")
        case "send":
            return c.RecordTransferSent(**common, gateway="iris", reference=f"IRIS/{key}")
        case "settle":
            return c.RecordSettlement(**common, bank_reference=f"BANK/{key}")
        case "fail":
            return c.RecordTransferFailed(**common, reason="bank offline")
        case "return":
            return c.RecordTransferReturned(**common, reason="rekening ditutup")
        case "refuse":
            return c.RecordTransferRejected(
                **common, gateway="iris", reference=f"IRIS/{key}", reason="ditolak approver"
            )
        case "reject":
            return c.RejectDisbursement(**common, reason="dokumen kurang")
        case _:
            return c.CancelDisbursement(**common, reason="dibatalkan")


class LedgerMachine(RuleBasedStateMachine):
    url = "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(self.url, clock=FixedClock())
        f.adopt(self.ledger, *LINES)
        for n, npwp in enumerate(VENDORS):
            f.register_vendor(self.ledger, npwp=npwp, name=f"Vendor {n}", account=f"00123456{n}")
        self.spps: list[str] = []  # every SPP number tried
        self.live: list[str] = []  # those whose request was recorded
        self.done: list[tuple[c.Command, CommandResult]] = []
        self.keys = 0
        self.seen = self._last()

    def _last(self) -> int:
        return int(self.ledger.recorder.max_notification_id() or 0)

    def _key(self) -> str:
        self.keys += 1
        return f"prop-{self.keys}"

    def _run(self, command: c.Command) -> None:
        before = self._last()
        try:
            result = self.ledger.execute(command)
        except DomainError:
            assert self._last() == before, "a refused command appended events"
            return
        self.done.append((command, result))

    # -- rules ---------------------------------------------------------------------------------
    @rule(
        line=st.integers(0, 2),
        gross=st.integers(1, 400),
        vendor=st.integers(0, 1),
        actor=st.sampled_from([REQUESTERS[0], REQUESTERS[0], REQUESTERS[1], *USERS]),
    )
    def request(self, line: int, gross: int, vendor: int, actor: Actor) -> None:
        spp = f"SPP-{len(self.spps)}"
        self.spps.append(spp)
        deductions = ({"code": "PPH23", "amount": gross // 50},) if gross >= 50 else ()
        recorded = len(self.done)
        self._run(
            f.request(
                spp,
                gross,
                LINES[line],
                actor=actor,
                npwp=VENDORS[vendor],
                deductions=deductions,
                idempotency_key=self._key(),
            )
        )
        if len(self.done) > recorded:
            self.live.append(spp)

    def _advance(self, data: st.DataObject, step: str) -> None:
        spp = data.draw(st.sampled_from(self.live or self.spps), label="spp")
        # Mostly someone holding the step's role (who may already have done another step),
        # sometimes anybody at all.
        actor = data.draw(
            st.one_of(st.sampled_from(CANDIDATES[step]), st.sampled_from(USERS)), label="actor"
        )
        self._run(_step(step, spp, actor, self._key(), self.keys))

    @precondition(lambda self: bool(self.spps))
    @rule(data=st.data(), step=st.sampled_from(STEPS))
    def advance(self, data: st.DataObject, step: str) -> None:
        self._advance(data, step)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        """Take a recorded disbursement one natural step further, as its next user would."""
        spp = data.draw(st.sampled_from(self.live), label="spp")
        status = self.ledger.disbursement(f.disbursement_id(spp)).status
        choices = NEXT_STEPS.get(Status(status))
        if choices is None:
            return  # terminal
        step = data.draw(st.sampled_from(choices), label="step")
        actor = data.draw(st.sampled_from(CANDIDATES[step]), label="actor")
        self._run(_step(step, spp, actor, self._key(), self.keys))

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def progress_again(self, data: st.DataObject) -> None:
        self.progress(data)

    @rule(line=st.integers(0, 2), pagu=st.integers(0, 1_500))
    def amend(self, line: int, pagu: int) -> None:
        spec = LINES[line]
        changed = c.LineSpec(
            skpd=spec.skpd,
            sub_kegiatan=spec.sub_kegiatan,
            rekening=spec.rekening,
            uraian=spec.uraian,
            pagu=pagu,
        )
        self._run(
            c.AmendBudget(
                idempotency_key=self._key(),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                document=f"APBD-P/{self.keys}",
                lines=(changed,),
            )
        )

    @rule(source=st.integers(0, 2), to=st.integers(0, 2), amount=st.integers(1, 800))
    def shift(self, source: int, to: int, amount: int) -> None:
        self._run(
            c.ShiftBudget(
                idempotency_key=self._key(),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                document=f"GESER/{self.keys}",
                from_line=f.ref(LINES[source]),
                to_line=f.ref(LINES[to]),
                amount=amount,
            )
        )

    @rule(line=st.integers(0, 2), block=st.booleans())
    def block(self, line: int, block: bool) -> None:
        kind = c.BlockLine if block else c.UnblockLine
        self._run(
            kind(
                idempotency_key=self._key(),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                line=f.ref(LINES[line]),
                reason="blokir sementara",
            )
        )

    @rule(vendor=st.integers(0, 1), account=st.integers(100_000, 999_999))
    def change_account(self, vendor: int, account: int) -> None:
        self._run(
            c.ChangeVendorBankAccount(
                idempotency_key=self._key(),
                actor=f.ADMIN,
                pemda=f.PEMDA,
                npwp=VENDORS[vendor],
                bank_code="002",
                account_number=f"77{account}",
                account_holder="Vendor",
                reason="ganti rekening",
            )
        )

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        command, first = data.draw(st.sampled_from(self.done))
        before = self._last()
        again = self.ledger.execute(command)
        assert again.replayed and again.data == first.data
        assert self._last() == before

    # -- invariants ----------------------------------------------------------------------------
    def _lines(self) -> list[BudgetLine]:
        return [self.ledger.budget_line(i) for i in LINE_IDS]

    @invariant()
    def no_line_is_overspent(self) -> None:
        for line in self._lines():
            assert line.committed >= 0 and line.realised >= 0
            assert line.committed + line.realised <= line.pagu

    @invariant()
    def no_user_performed_two_steps_of_one_payment(self) -> None:
        for spp in self.live:
            performers = self.ledger.disbursement(f.disbursement_id(spp)).performers
            assert len(set(performers.values())) == len(performers), performers

    @invariant()
    def every_new_event_balances(self) -> None:
        last = self._last()
        if last > self.seen:
            for n in self.ledger.recorder.select_notifications(
                start=self.seen + 1, limit=last - self.seen
            ):
                assert is_balanced(postings_for(self.ledger.mapper.to_domain_event(n)))
            self.seen = last

    @invariant()
    def lines_agree_with_disbursements_and_postings(self) -> None:
        committed = dict.fromkeys(LINE_IDS, 0)
        realised = dict.fromkeys(LINE_IDS, 0)
        for spp in self.spps:
            try:
                d = self.ledger.disbursement(f.disbursement_id(spp))
            except DomainError:
                continue  # the request was refused
            if d.status in COMMITTED:
                committed[UUID(d.line_id)] += d.gross
            elif d.status in REALISED:
                realised[UUID(d.line_id)] += d.gross
        events = [
            self.ledger.mapper.to_domain_event(n)
            for n in self.ledger.recorder.select_notifications(start=1, limit=self._last() or 1)
        ]
        balance = trial_balance(events)
        for line in self._lines():
            assert (line.committed, line.realised) == (committed[line.id], realised[line.id])
            assert balance.get(f"appropriation:{line.id}", 0) == -line.available
            assert balance.get(f"commitment:{line.id}", 0) == -line.committed
            assert balance.get(f"realisation:{line.id}", 0) == -line.realised

    def teardown(self) -> None:
        try:
            assert_replay_matches(self.ledger)
        finally:
            self.ledger.close()


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def assert_replay_matches(ledger: Ledger) -> None:
    """Every aggregate the ledger holds in memory equals its replay from the stored events."""
    held = list(ledger._cache._items.values())
    assert held
    for aggregate in held:
        replayed: Any = ledger.repository.get(aggregate.id)
        assert _state(replayed) == _state(aggregate), type(aggregate).__name__


PROPERTY_SETTINGS = settings(
    max_examples=80,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerInMemory = LedgerMachine.TestCase
TestLedgerInMemory.settings = PROPERTY_SETTINGS


def test_replay_of_a_sqlite_file_rebuilds_identical_state(tmp_path: Path) -> None:
    """A random history on SQLite, then a new process-like Ledger on the same file: same state."""

    class OnSqlite(LedgerMachine):
        url = f"sqlite:///{tmp_path / 'prop.db'}"

        def teardown(self) -> None:
            try:
                live = {a.id: _state(a) for a in self.ledger._cache._items.values()}
            finally:
                self.ledger.close()
            restarted = Ledger(self.url)
            try:
                for aggregate_id, state in live.items():
                    assert _state(restarted.repository.get(aggregate_id)) == state
            finally:
                restarted.close()
            Path(self.url.removeprefix("sqlite:///")).unlink()

    run = OnSqlite.TestCase
    run.settings = settings(PROPERTY_SETTINGS, max_examples=8, stateful_step_count=25)
    run().runTest()


@pytest.mark.parametrize("status", [Status.SETTLED])
def test_statuses_are_partitioned(status: Status) -> None:
    # Guards the recomputation above: every status counts at most once.
    assert not (COMMITTED & REALISED)
    assert status in REALISED
