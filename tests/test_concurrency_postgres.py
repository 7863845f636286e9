"""OS processes, each with its own ``Ledger``, race on one store (PostgreSQL, and one SQLite file).

Each writer is a separate process (tests/processes.py: nothing shared but the database) that
opens its ledger, waits at a barrier so all start at the same moment, and sends its commands. The
parent then audits the store:

- the pagu of the contested line is never exceeded, at ANY version of the line (its history is
  replayed event by event), and exactly as many requests succeed as it allows;
- every success is on record and nothing else is: as many disbursements, commitments and receipts
  as successes; every refused SPP number is still free;
- a command that got ``ConcurrencyConflict`` (the ledger gave up retrying) is safe to send again with
  the same key, and then resolves like any other;
- the same command (same key) sent by several processes is applied once, and every process gets the
  same result; the same SPP (or SPM) number under different keys is issued once;
- every event's postings balance, every aggregate's versions are contiguous and the hash chain is
  intact (``ledger.verify``).
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.application import CommandResult, Ledger
from ledger.errors import DomainError, NotFound
from ledger.handlers import line_id_of
from ledger.postings import is_balanced, postings_for
from ledger.roles import Actor, Role
from ledger.verify import verify
from testkit.clock import FixedClock
from tests import factory as f
from tests.processes import fresh_processes

GROSS = 10_000_000
CONFLICT = "ConcurrencyConflict"
EKA = f.actor("bendahara.eka", Role.BENDAHARA)
# Per store: how often the writers' ledgers had to read again and redo a batch (a real race).
RETRIES: dict[str, int] = {}
TIMEOUT = 120  # seconds a writer may take before the test gives up on it

# What one outcome looked like, in a form that crosses process boundaries as plain data:
# (error class name | "ok" | "replayed", result data or None).
Summary = tuple[str, dict[str, Any] | None]


def _summary(outcome: CommandResult | DomainError) -> Summary:
    if isinstance(outcome, DomainError):
        return type(outcome).__name__, None
    return ("replayed" if outcome.replayed else "ok"), dict(outcome.data)


# -- the writer process ------------------------------------------------------------------------
class _RetryCounter(logging.Handler):
    """Counts the ledger's own retries after an optimistic concurrency conflict (proof of a race)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("optimistic concurrency conflict"):
            self.count += 1


def _writer(
    url: str,
    name: str,
    commands: Sequence[c.Command],
    batch: int,
    barrier: Barrier,
    results: Queue[Any],
) -> None:
    """Open a Ledger, wait for the others, send ``commands`` (``batch`` at a time), report."""
    retries = _RetryCounter()
    logging.getLogger("ledger.application").addHandler(retries)
    logging.getLogger("ledger.application").setLevel(logging.INFO)
    try:
        ledger = Ledger(url)
        try:
            barrier.wait(timeout=TIMEOUT)
            out: list[Summary] = []
            for start in range(0, len(commands), batch):
                chunk = commands[start : start + batch]
                if batch == 1:
                    try:
                        out.append(_summary(ledger.execute(chunk[0])))
                    except DomainError as error:
                        out.append(_summary(error))
                else:
                    out.extend(_summary(o) for o in ledger.execute_batch(chunk))
            results.put((name, out, retries.count))
        finally:
            ledger.close()
    except BaseException:  # report, never leave the parent (or the other writers) waiting
        barrier.abort()
        results.put((name, traceback.format_exc(), retries.count))


def race(
    url: str, workloads: Mapping[str, Sequence[c.Command]], batch: int
) -> dict[str, list[Summary]]:
    """Run one writer process per workload, all released at once; each writer's outcomes."""
    ctx = fresh_processes()
    barrier = ctx.Barrier(len(workloads))
    results: Queue[Any] = ctx.Queue()
    processes = [
        ctx.Process(target=_writer, args=(url, name, commands, batch, barrier, results))
        for name, commands in workloads.items()
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=TIMEOUT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    collected = {name: outcome for name, outcome, _ in reports}
    for name, outcome in collected.items():
        if isinstance(outcome, str):
            raise AssertionError(f"writer {name} crashed:\n{outcome}")
    RETRIES[url] = RETRIES.get(url, 0) + sum(n for _, _, n in reports)
    for name, commands in workloads.items():
        assert len(collected[name]) == len(commands), name
    return collected


def settle_conflicts(
    url: str, workloads: Mapping[str, Sequence[c.Command]], outcomes: dict[str, list[Summary]]
) -> int:
    """Send again, with the same key, every command the ledger gave up on; how many there were."""
    conflicts = 0
    ledger = Ledger(url)
    try:
        for name, commands in workloads.items():
            for n, command in enumerate(commands):
                if outcomes[name][n][0] == CONFLICT:
                    conflicts += 1
                    try:
                        outcomes[name][n] = _summary(ledger.execute(command))
                    except DomainError as error:
                        outcomes[name][n] = _summary(error)
                    assert outcomes[name][n][0] != CONFLICT
    finally:
        ledger.close()
    return conflicts


# -- set-up and audit --------------------------------------------------------------------------
def set_up(url: str, *specs: c.LineSpec) -> None:
    ledger = Ledger(url, clock=FixedClock())
    try:
        f.adopt(ledger, *specs)
        f.register_vendor(ledger)
    finally:
        ledger.close()


def _every_event(ledger: Ledger) -> list[Any]:
    last = ledger.recorder.max_notification_id() or 0
    # PostgreSQL notification ids may have gaps (a rolled-back insert uses up its ids).
    notifications = ledger.recorder.select_notifications(start=1, limit=last + 1)
    return [ledger.mapper.to_domain_event(n) for n in notifications]


def audit(url: str) -> list[Any]:
    """Check the whole store; return its events."""
    ledger = Ledger(url)
    try:
        events = _every_event(ledger)
        versions: dict[UUID, list[int]] = defaultdict(list)
        for event in events:
            legs = postings_for(event)
            assert not legs or is_balanced(legs), type(event).__qualname__
            versions[UUID(str(event.originator_id))].append(event.originator_version)
        for aggregate_id, seen in versions.items():
            assert sorted(seen) == list(range(1, len(seen) + 1)), aggregate_id
        report = verify(ledger)
        assert report.ok, str(report.problem)
        assert report.events == len(events)
        for event in events:
            if type(event).__qualname__ == "BudgetLine.Allocated":
                _never_overspent(ledger, UUID(str(event.originator_id)))
        return events + ledger.receipts()  # receipts and claims are kept apart from the log
    finally:
        ledger.close()


def _never_overspent(ledger: Ledger, line_id: UUID) -> None:
    """Replay a line event by event: its invariant holds at every version, not only the last."""
    line: Any = None
    event: Any
    for event in ledger.events.get(line_id):
        line = event.mutate(line)
        assert line.committed >= 0 and line.realised >= 0
        assert line.committed + line.realised <= line.pagu, (line.version, line.pagu)
        assert line.committed == sum(line.open_commitments.values())


def _count(events: list[Any], qualname: str) -> int:
    return sum(1 for e in events if type(e).__qualname__ == qualname)


def _kinds(outcomes: dict[str, list[Summary]]) -> Counter[str]:
    return Counter(kind for out in outcomes.values() for kind, _ in out)


def _requests(
    writer: str, n: int, spec: c.LineSpec, *, actor: Actor = f.PPTK
) -> list[c.RequestDisbursement]:
    return [
        f.request(
            f"SPP/{writer}/{i}",
            GROSS,
            spec,
            actor=actor,
            deductions=({"code": "PPH23", "amount": GROSS // 50},),
            idempotency_key=f"{writer}-{i}",
        )
        for i in range(n)
    ]


# -- the races ---------------------------------------------------------------------------------
def _exactly_k(url: str, writers: int, per_writer: int, k: int, batch: int) -> None:
    spec = f.line_spec(pagu=k * GROSS)
    set_up(url, spec)
    requesters = [f.PPTK, EKA]
    workloads: dict[str, Sequence[c.Command]] = {
        f"w{n}": _requests(f"w{n}", per_writer, spec, actor=requesters[n % 2])
        for n in range(writers)
    }
    outcomes = race(url, workloads, batch)
    raced = _kinds(outcomes)
    assert set(raced) <= {"ok", "PaguExceeded", CONFLICT}, raced
    assert raced["ok"] <= k
    winners = {name for name, out in outcomes.items() if any(kind == "ok" for kind, _ in out)}
    # The writers really raced: some had to redo work, or the successes went to several of them.
    assert RETRIES.get(url, 0) > 0 or raced[CONFLICT] > 0 or len(winners) > 1, winners
    conflicts = settle_conflicts(url, workloads, outcomes)
    final = _kinds(outcomes)
    assert final == Counter({"ok": k, "PaguExceeded": writers * per_writer - k}), (raced, final)
    assert conflicts == raced[CONFLICT]

    events = audit(url)
    ledger = Ledger(url)
    try:
        line = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, spec))
        assert (line.committed, line.realised, line.pagu) == (k * GROSS, 0, k * GROSS)
        assert len(line.open_commitments) == k
        # Every success is on record, with its own result; every refusal left its SPP free.
        for name, commands in workloads.items():
            for command, (kind, data) in zip(commands, outcomes[name], strict=True):
                assert isinstance(command, c.RequestDisbursement)
                did = f.disbursement_id(command.spp_number)
                if kind == "ok":
                    assert data == {"id": str(did), "status": "requested", "net": GROSS * 49 // 50}
                    assert str(did) in line.open_commitments
                    assert ledger.disbursement(did).performers["request"] == command.actor.user_id
                else:
                    with pytest.raises(NotFound):
                        ledger.disbursement(did)
    finally:
        ledger.close()
    assert _count(events, "BudgetLine.Committed") == k
    assert _count(events, "Disbursement.Requested") == k
    # The adoption, the vendor and the k requests: nothing more was recorded.
    assert _count(events, "CommandReceipt.Recorded") == 2 + k
    assert len(events) == (1 + 1 + 1) + (1 + 1) + 3 * k


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("writers", "per_writer", "k", "batch"),
    [(3, 15, 10, 1), (2, 40, 30, 20)],
    ids=["three-writers-one-by-one", "two-writers-batches-of-20"],
)
def test_racing_processes_commit_exactly_what_the_pagu_allows_on_postgres(
    pg_schema_url: str, writers: int, per_writer: int, k: int, batch: int
) -> None:
    _exactly_k(pg_schema_url, writers, per_writer, k, batch)


def _same_commands(url: str, writers: int, batch: int) -> None:
    """Every writer sends the very same commands (same keys, same SPP numbers)."""
    spec = f.line_spec(pagu=100 * GROSS)
    set_up(url, spec)
    same = _requests("same", 20, spec)
    outcomes = race(url, {f"w{n}": same for n in range(writers)}, batch)
    settle_conflicts(url, {f"w{n}": same for n in range(writers)}, outcomes)
    for i, command in enumerate(same):
        got = [outcomes[f"w{n}"][i] for n in range(writers)]
        kinds = sorted(kind for kind, _ in got)
        assert kinds == ["ok"] + ["replayed"] * (writers - 1), (command.spp_number, kinds)
        assert all(data == got[0][1] for _, data in got), got  # one result for everyone
    events = audit(url)
    assert _count(events, "Disbursement.Requested") == len(same)
    assert _count(events, "BudgetLine.Committed") == len(same)
    assert _count(events, "CommandReceipt.Recorded") == 2 + len(same)


@pytest.mark.postgres
@pytest.mark.parametrize("batch", [1, 20])
def test_the_same_key_from_three_processes_is_applied_once_on_postgres(
    pg_schema_url: str, batch: int
) -> None:
    _same_commands(pg_schema_url, writers=3, batch=batch)


@pytest.mark.postgres
def test_one_key_used_for_different_commands_by_two_processes_applies_one_on_postgres(
    pg_schema_url: str,
) -> None:
    """Two clients reuse the same ten keys for different SPPs: per key one command is applied,
    the other is refused as a reused key, and is never applied under it."""
    spec = f.line_spec(pagu=100 * GROSS)
    set_up(pg_schema_url, spec)
    clients = {
        name: [
            dataclasses.replace(command, idempotency_key=f"shared-{i}")
            for i, command in enumerate(_requests(name, 10, spec))
        ]
        for name in ("a", "b")
    }
    outcomes = race(pg_schema_url, clients, batch=1)
    settle_conflicts(pg_schema_url, clients, outcomes)
    ledger = Ledger(pg_schema_url)
    try:
        for i in range(10):
            kinds = sorted(outcomes[name][i][0] for name in clients)
            assert kinds == ["IdempotencyKeyReused", "ok"], (i, kinds)
            for name in clients:
                did = f.disbursement_id(f"SPP/{name}/{i}")
                if outcomes[name][i][0] == "ok":
                    assert ledger.disbursement(did).gross == GROSS
                else:
                    with pytest.raises(NotFound):
                        ledger.disbursement(did)
    finally:
        ledger.close()
    events = audit(pg_schema_url)
    assert _count(events, "Disbursement.Requested") == 10
    assert _count(events, "CommandReceipt.Recorded") == 2 + 10


@pytest.mark.postgres
def test_one_spp_or_spm_number_under_different_keys_is_issued_once_on_postgres(
    pg_schema_url: str,
) -> None:
    """Two clerks file the same SPP numbers under their own keys; then two PA/KPA sign different
    disbursements with the same SPM numbers. Each number goes to exactly one of them."""
    spec = f.line_spec(pagu=100 * GROSS)
    set_up(pg_schema_url, spec)
    clerks = {
        "ani": _requests("x", 12, spec),
        "eka": [
            dataclasses.replace(command, idempotency_key=f"eka-{i}", actor=EKA)
            for i, command in enumerate(_requests("x", 12, spec))
        ],
    }
    outcomes = race(pg_schema_url, clerks, batch=1)
    settle_conflicts(pg_schema_url, clerks, outcomes)
    for i in range(12):
        kinds = sorted(outcomes[name][i][0] for name in clerks)
        assert kinds == ["AlreadyExists", "ok"], (i, kinds)

    # Verify all twelve, then race two signers on the SPM numbers.
    ledger = Ledger(pg_schema_url)
    try:
        for i in range(12):
            ledger.execute(f.verify(f"SPP/x/{i}", idempotency_key=f"verify-{i}"))
    finally:
        ledger.close()
    signers = {
        "citra": [
            f.approve(f"SPP/x/{i}", spm=f"SPM/{i // 2}", idempotency_key=f"citra-{i}")
            for i in range(0, 12, 2)
        ],
        "dewi": [
            f.approve(
                f"SPP/x/{i}",
                actor=f.actor("kpa.dewi", Role.PA_KPA),
                spm=f"SPM/{i // 2}",
                idempotency_key=f"dewi-{i}",
            )
            for i in range(1, 12, 2)
        ],
    }
    outcomes = race(pg_schema_url, signers, batch=1)
    settle_conflicts(pg_schema_url, signers, outcomes)
    for n in range(6):
        kinds = sorted(outcomes[name][n][0] for name in signers)
        assert kinds == ["AlreadyExists", "ok"], (n, kinds)
    events = audit(pg_schema_url)
    assert _count(events, "Disbursement.Requested") == 12
    assert _count(events, "Disbursement.Approved") == 6
    assert _count(events, "DocumentNumber.Claimed") == 6


@pytest.mark.postgres
def test_checkers_racing_on_the_same_disbursements_each_step_happens_once_on_postgres(
    pg_schema_url: str,
) -> None:
    """Two PPK verify the same ten SPPs at once (different keys): each SPP is verified once, by
    one of them; the other is told it is no longer awaiting verification."""
    spec = f.line_spec(pagu=100 * GROSS)
    set_up(pg_schema_url, spec)
    ledger = Ledger(pg_schema_url)
    try:
        for command in _requests("v", 10, spec):
            ledger.execute(command)
    finally:
        ledger.close()
    checkers = {
        user: [
            f.verify(f"SPP/v/{i}", actor=f.actor(user, Role.PPK), idempotency_key=f"{user}-{i}")
            for i in range(10)
        ]
        for user in ("ppk.budi", "ppk.eko")
    }
    outcomes = race(pg_schema_url, checkers, batch=1)
    settle_conflicts(pg_schema_url, checkers, outcomes)
    ledger = Ledger(pg_schema_url)
    try:
        for i in range(10):
            kinds = sorted(outcomes[user][i][0] for user in checkers)
            assert kinds == ["InvalidTransition", "ok"], (i, kinds)
            winner = next(user for user in checkers if outcomes[user][i][0] == "ok")
            d = ledger.disbursement(f.disbursement_id(f"SPP/v/{i}"))
            assert d.performers == {"request": f.PPTK.user_id, "verify": winner}
            assert d.version == 2
    finally:
        ledger.close()
    audit(pg_schema_url)


@pytest.mark.postgres
def test_budget_changes_racing_with_requests_never_let_a_line_go_over_on_postgres(
    pg_schema_url: str,
) -> None:
    """While two clerks commit on a line, BPKAD cuts and restores its pagu and blocks and unblocks
    it. Whatever interleaving happens, the line is within its pagu at every one of its versions."""
    spec = f.line_spec(pagu=20 * GROSS)
    set_up(pg_schema_url, spec)
    admin: list[c.Command] = []
    for n in range(12):
        pagu = (5 + 3 * n) * GROSS if n % 2 else 12 * GROSS
        admin.append(
            c.AmendBudget(
                idempotency_key=f"amend-{n}",
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                document=f"APBD-P/{n}",
                lines=(f.line_spec(pagu=pagu),),
            )
        )
        kind = c.BlockLine if n % 3 == 0 else c.UnblockLine
        admin.append(
            kind(
                idempotency_key=f"block-{n}",
                actor=f.ADMIN,
                pemda=f.PEMDA,
                year=f.YEAR,
                line=f.ref(spec),
                reason="blokir sementara",
            )
        )
    workloads: dict[str, Sequence[c.Command]] = {
        "admin": admin,
        "ani": _requests("ani", 25, spec),
        "eka": _requests("eka", 25, spec, actor=EKA),
    }
    outcomes = race(pg_schema_url, workloads, batch=1)
    requests = Counter(kind for name in ("ani", "eka") for kind, _ in outcomes[name])
    assert set(requests) <= {"ok", "PaguExceeded", "LineBlocked", CONFLICT}, requests
    changes = Counter(kind for kind, _ in outcomes["admin"])
    assert set(changes) <= {"ok", "AmendmentBelowUsage", "InvalidInput", CONFLICT}, changes
    events = audit(pg_schema_url)  # replays the line version by version
    ledger = Ledger(pg_schema_url)
    try:
        line = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, spec))
        assert line.committed == requests["ok"] * GROSS <= line.pagu
    finally:
        ledger.close()
    assert _count(events, "BudgetLine.Committed") == requests["ok"]
    assert _count(events, "BudgetLine.Amended") == sum(
        1
        for (kind, _), command in zip(outcomes["admin"], admin, strict=True)
        if kind == "ok" and isinstance(command, c.AmendBudget)
    )


# -- the same on one SQLite file ---------------------------------------------------------------
def test_racing_processes_on_one_sqlite_file_commit_exactly_what_the_pagu_allows(
    tmp_path: Path,
) -> None:
    _exactly_k(f"sqlite:///{tmp_path / 'race.db'}", writers=2, per_writer=40, k=30, batch=20)


def test_the_same_key_from_two_processes_on_one_sqlite_file_is_applied_once(
    tmp_path: Path,
) -> None:
    _same_commands(f"sqlite:///{tmp_path / 'same.db'}", writers=2, batch=1)
