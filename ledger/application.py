"""``Ledger``: the one application through which every event enters or leaves the store.

Commands run in batches (a batch of one for ``execute``). For each batch the ledger

1. prefetches, in one query per round, every aggregate the commands' handlers declare they read
   (``ledger.handlers``) and every idempotency receipt, so each rule is checked against fresh state;
2. runs each command's handler; a receipt already on record returns the first result (a retry), a
   rule broken raises a ``DomainError`` and changes nothing;
3. asserts the invariants of what is about to be stored (``ledger.invariants``: every journal entry
   balances, every amount within its limits), then appends the events of every accepted command,
   plus one receipt per command, in ONE transaction. On SQLite and PostgreSQL the receipts and
   document-number claims go to a table of their own (``ledger.chained``): unique keys, not facts,
   so they take no place in the notification log or the hash chain.

If another writer got to one of the same aggregates first, the store's unique (id, version) constraint
rejects the whole transaction; the ledger reloads and runs the batch again (``ledger.retry``), so two
writers can never both spend the same pagu, and a command is never applied twice.

Where the parts live: the unit of work and the aggregate cache in ``ledger.unit_of_work``, the bulk
reads (and their SQL) in ``ledger.bulk_reads``, the retry policy in ``ledger.retry``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, IntegrityError
from eventsourcing.utils import Environment

from ledger import commands as c
from ledger import ids
from ledger.budget import Budget, BudgetLine
from ledger.bulk_reads import events_after, load_fresh
from ledger.cashplan import CashPlan
from ledger.chained import ReceiptsApart, bound_pool, construct_recorder
from ledger.disbursement import Disbursement
from ledger.errors import (
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyReused,
    InvalidInput,
    LimitExceeded,
    NotFound,
)
from ledger.fields import idempotency_key, pemda_code
from ledger.handlers import HANDLERS, Handler, Reads
from ledger.invariants import check_write
from ledger.receipts import CommandReceipt, DocumentNumber, Receipt, receipt_event
from ledger.retry import MAX_ATTEMPTS, RETRY_BACKOFF, back_off, check_backoff
from ledger.roles import Actor
from ledger.stamp import Stamp
from ledger.store import DEFAULT_DATABASE_URL, env_for_url, setting_up
from ledger.unit_of_work import AggregateCache, BatchWork
from ledger.vendor import Vendor

__all__ = ["MAX_ATTEMPTS", "MAX_BATCH", "RETRY_BACKOFF", "CommandResult", "Ledger", "Outcome"]

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)

MAX_BATCH = 10_000


def project_events(aggregate: Any, events: Iterable[Any]) -> Any:
    """``aggregate`` with ``events`` applied in turn: the library's ``project_aggregate``, less
    its check of each event against ``CanMutateProtocol``, a runtime-checkable protocol whose
    ``isinstance`` costs about 34 µs an event on this project's machine (timeit, 2026-12-05;
    a payment of six events read by the API paid 0.2 ms for it). The events are the ledger's
    own, decoded by its mapper from their topics; each one's ``mutate`` is called as before."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CommandResult:
    command: str
    idempotency_key: str
    data: dict[str, Any]
    replayed: bool = False  # True when a retry returned the first result

    @property
    def id(self) -> str:
        return str(self.data["id"])


Outcome = CommandResult | DomainError


class _HalfApplied(Exception):
    """Commands to refuse and run the batch again without: a handler that raised after triggering
    events (a bug in a handler, never recorded), or commands whose events cannot be stored."""

    def __init__(self, refused: dict[int, DomainError]) -> None:
        super().__init__(refused)
        self.refused = refused


# What encoding an event raises when a value cannot be stored (a lone surrogate cannot be UTF-8,
# a number too large for JSON, a structure too deep): the fault of one command, never the store's.
_UNSTORABLE = (ValueError, TypeError, OverflowError, RecursionError)


class Ledger(Application[UUID]):
    """The kasda ledger. Construct with a database URL (``sqlite:///kasda.db`` by default)."""

    name = "kasda"
    # No snapshots: they would be a second, unchained copy of state that ``repository.get`` trusts,
    # so a row edited there would change what kasda reads without breaking the hash chain. Reads
    # replay the (chained) events instead; the write path keeps fresh aggregates in its cache.

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        cache_size: int = 200_000,
        env: dict[str, str] | None = None,
        retry_backoff: float = RETRY_BACKOFF,
    ) -> None:
        self.url = url or DEFAULT_DATABASE_URL
        # ``env``: kasda's options (``ledger.store.store_options``, from ``kasda/settings.py``).
        settings = env_for_url(self.url, env)
        with setting_up(settings):  # one process at a time creates the tables
            super().__init__(settings)
        self.clock = clock
        self.retry_backoff = check_backoff(retry_backoff)  # 0: retry at once (benchmarks compare)
        self._cache = AggregateCache(cache_size)
        self._write_lock = threading.RLock()
        # The bulk read of a batch round (ledger/bulk_reads.py): one query for every aggregate the
        # round needs. Public so an operator or a test can wrap it to count or time the reads.
        self.newer_events = events_after(self.recorder, self.env.get("PERSISTENCE_MODULE", ""))

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        factory = super().construct_factory(env)
        bound_pool(factory, env)  # before the library's set-up opens a PostgreSQL pool
        return factory

    def construct_recorder(self) -> ApplicationRecorder:
        return construct_recorder(self.factory) or super().construct_recorder()

    # -- commands ------------------------------------------------------------------------------
    def execute(self, command: c.Command) -> CommandResult:
        """Run one command: its result, or the first result if its idempotency key was seen."""
        [outcome] = self.execute_batch([command])
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def execute_batch(self, commands: Sequence[c.Command]) -> list[Outcome]:
        """Run independent commands in one transaction; each gets its own result or error.

        Later commands see the effects of earlier ones in the same batch (a request and its
        verification may travel together), exactly as if they had been sent one by one.
        """
        if len(commands) > MAX_BATCH:
            raise LimitExceeded(f"at most {MAX_BATCH} commands per batch, got {len(commands)}")
        # One batch at a time per Ledger object: the aggregate cache is not shared between threads.
        with self._write_lock:
            return self._execute_batch(commands)

    def _execute_batch(self, commands: Sequence[c.Command]) -> list[Outcome]:
        doomed: dict[int, DomainError] = {}
        # Set once a batch could not be encoded: then each command's events are encoded as it
        # runs, so that the one that cannot be stored is refused alone and the others go ahead.
        check_each = False
        conflicts = 0
        # Bounded: every pass that does not return either dooms a new command (at most
        # len(commands) of them), turns on check_each (once) or counts a conflict.
        while conflicts < MAX_ATTEMPTS:
            work = BatchWork(self._load_fresh, self.clock())
            try:
                outcomes = self._run(commands, work, doomed, check_each)
            except _HalfApplied as half:
                for index, error in half.refused.items():
                    log.error("refused %s: %s", commands[index].command_name, error)
                doomed.update(half.refused)
                continue
            try:
                self._record_all(work.changed(), list(work.receipts.values()))
            except IntegrityError:
                # Someone else recorded events on one of these aggregates (or the same receipt)
                # since we read them. Nothing of ours was written: read again and redo.
                conflicts += 1
                self._lost_race(conflicts)
                continue
            except _UNSTORABLE:
                if check_each:  # every event was encoded once already: not the input's fault
                    raise
                log.warning(
                    "a batch of %d commands cannot be encoded; finding which", len(commands)
                )
                check_each = True
                continue
            self._keep(work)
            return outcomes
        conflict = ConcurrencyConflict(
            f"gave up after {MAX_ATTEMPTS} attempts: other writers keep changing the same records; "
            "retry the command with the same idempotency key"
        )
        return [conflict for _ in commands]

    def dry_run(self, command: c.Command) -> Outcome:
        """What ``command`` would do now, by every rule of its handler, recording nothing (the
        preview of a tutup tahun): its result, or the error it would be refused with."""
        with self._write_lock:
            work = BatchWork(self._load_fresh, self.clock())
            rid = _receipt_id(command)
            try:
                handler = _handler(command, rid)
                _prefetch([command], [rid], work)
                data = handler.run(command, work)
            except DomainError as error:
                return error
            # The aggregates it changed were taken out of the cache and are dropped with ``work``.
            return CommandResult(command.command_name, command.idempotency_key, data)

    def _lost_race(self, conflicts: int) -> None:
        log.info("optimistic concurrency conflict, attempt %d of %d", conflicts, MAX_ATTEMPTS)
        if conflicts < MAX_ATTEMPTS:
            back_off(conflicts, self.retry_backoff)

    def _run(
        self,
        commands: Sequence[c.Command],
        work: BatchWork,
        doomed: dict[int, DomainError],
        check_each: bool = False,
    ) -> list[Outcome]:
        receipts = [_receipt_id(command) for command in commands]
        _prefetch(commands, receipts, work)
        outcomes: list[Outcome] = []
        unstorable: dict[int, DomainError] = {}
        for index, (command, rid) in enumerate(zip(commands, receipts, strict=True)):
            if index in doomed:
                outcomes.append(doomed[index])
                continue
            outcome = self._run_one(index, command, rid, work)
            if check_each and isinstance(outcome, CommandResult) and not outcome.replayed:
                assert rid is not None  # it ran
                problem = self._unstorable(work, work.receipts[rid])
                if problem is not None:
                    # The events stay on the aggregates of this pass, which is thrown away; the
                    # others still run, so one pass finds every command that cannot be stored.
                    unstorable[index] = InvalidInput(
                        f"{command.command_name} cannot be stored: {problem}"
                    )
            outcomes.append(outcome)
        if unstorable:
            raise _HalfApplied(unstorable)
        return outcomes

    def _unstorable(self, work: BatchWork, receipt: Any) -> str | None:
        """Why the events the last command triggered (its receipt last) cannot be encoded for the
        store, if so."""
        triggered = [p for a, held in work.touched.values() for p in a.pending_events[held:]]
        for pending in (*triggered, receipt):
            try:
                self.mapper.to_stored_event(pending)
            except _UNSTORABLE as error:
                return f"{type(error).__name__}: {error}"
        return None

    def _run_one(
        self, index: int, command: c.Command, rid: UUID | None, work: BatchWork
    ) -> Outcome:
        try:
            handler = _handler(command, rid)
        except DomainError as error:
            return error
        assert rid is not None  # a command without one was refused
        receipt: Receipt | None = work.receipts.get(rid) or work.find(rid, CommandReceipt)
        if receipt is not None:
            return _replay(receipt, command)
        work.touched = {}
        try:
            data = handler.run(command, work)
        except DomainError as error:
            if work.pending() != 0:
                raise _HalfApplied({index: error}) from error
            return error
        work.receipts[rid] = receipt_event(
            rid,
            pemda_code(command.pemda),
            idempotency_key(command.idempotency_key),
            command.command_name,
            command.fingerprint(),
            data,
            Stamp(command.actor, work.at),
        )
        return CommandResult(command.command_name, command.idempotency_key, data)

    def _record_all(self, aggregates: list[Aggregate], receipts: list[Any]) -> None:
        """``Application.save`` without its per-object protocol checks (measurably slow at batch
        sizes): every object here is one of our aggregates. One transaction for all events and
        the commands' ``receipts`` (their events), after the invariants of all of them held."""
        if not aggregates and not receipts:
            return
        check_write(aggregates)
        facts: list[Any] = []
        keys: list[Any] = list(receipts)
        for aggregate in aggregates:
            (keys if isinstance(aggregate, _KEYS) else facts).extend(aggregate.collect_events())
        encode = self.mapper.to_stored_event
        stored = [encode(e) for e in facts]
        receipts = [encode(e) for e in keys]
        # Receipts and claims in their own table, same transaction (ledger/chained.py).
        assert isinstance(self.recorder, ReceiptsApart), type(self.recorder)
        self.recorder.insert_events(stored, receipts=receipts)

    def _keep(self, work: BatchWork) -> None:
        for aggregate in work.local.values():
            # Receipts and number claims are read again only when a command is retried (then from
            # the store): caching them would make up most of the cache and slow the GC.
            if not isinstance(aggregate, _KEYS):
                self._cache.put(aggregate)

    # -- reading -------------------------------------------------------------------------------
    def _load_fresh(self, aggregate_ids: list[UUID]) -> dict[UUID, Aggregate]:
        return load_fresh(aggregate_ids, self._cache, self.newer_events, self.mapper)

    def aggregate(self, aggregate_id: UUID, kind: type[A], version: int | None = None) -> A:
        """Read one aggregate (optionally as of a version). Raises ``NotFound``."""
        try:
            found: Aggregate = self.repository.get(
                aggregate_id, version=version, projector_func=project_events
            )
        except AggregateNotFoundError:
            raise NotFound(f"no {kind.__name__} {aggregate_id}") from None
        if not isinstance(found, kind):
            raise NotFound(f"{aggregate_id} is not a {kind.__name__}")
        return found

    def budget(self, pemda: str, year: int) -> Budget:
        return self.aggregate(ids.budget_id(pemda, year), Budget)

    def budget_line(self, line_id: UUID) -> BudgetLine:
        return self.aggregate(line_id, BudgetLine)

    def budget_lines(self, pemda: str, year: int) -> list[BudgetLine]:
        budget = self.budget(pemda, year)
        # The cache is not shared between threads (see execute_batch): a read from an API thread
        # must not put lines into it while a batch on another thread reads or replaces them.
        with self._write_lock:
            found: dict[UUID, Aggregate] = self._load_fresh([UUID(i) for i in budget.line_ids])
            for line in found.values():
                self._cache.put(line)
            # Callers get copies: the cached originals belong to the next unit of work.
            return [cast("BudgetLine", deepcopy(found[UUID(i)])) for i in budget.line_ids]

    def cash_plan(self, pemda: str, year: int, skpd: str) -> CashPlan:
        """The anggaran kas and SPD register of one SKPD and year. Raises ``NotFound``."""
        return self.aggregate(ids.cash_plan_id(pemda, year, skpd), CashPlan)

    def vendor(self, vendor_id: UUID) -> Vendor:
        return self.aggregate(vendor_id, Vendor)

    def disbursement(self, disbursement_id: UUID) -> Disbursement:
        return self.aggregate(disbursement_id, Disbursement)

    def receipts(self) -> list[Any]:
        """Every idempotency receipt and document-number claim recorded, decoded: they are kept
        apart from the log of facts (``ledger.chained``). For audits and tests, not a hot path."""
        assert isinstance(self.recorder, ReceiptsApart), type(self.recorder)
        return [self.mapper.to_domain_event(s) for s in self.recorder.select_receipts()]

    def history(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, in order."""
        return list(self.events.get(aggregate_id))

    def close(self) -> None:
        self._cache.clear()
        super().close()


# Not domain facts: the unique keys that make a command run once and a number be issued once.
_KEYS = (CommandReceipt, DocumentNumber)


def _receipt_id(command: c.Command) -> UUID | None:
    """Where the receipt of ``command`` lives: the same id for every retry of it (None if its
    pemda or key is invalid: the command is refused before anything is read for it)."""
    try:
        return ids.receipt_id(pemda_code(command.pemda), idempotency_key(command.idempotency_key))
    except DomainError:
        return None


def _handler(command: c.Command, rid: UUID | None) -> Handler:
    """The handler of ``command``, once its envelope (type, actor, pemda, key) is valid."""
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise InvalidInput(f"unknown command {type(command).__name__}")
    # Every rule reads the actor (its role, its SKPD, who it is): never anything else.
    if not isinstance(command.actor, Actor):
        raise InvalidInput(f"a command's actor must be a ledger.roles.Actor, got {command.actor!r}")
    if rid is None:  # pemda or key invalid: let the validators say which
        pemda_code(command.pemda)
        idempotency_key(command.idempotency_key)
        raise InvalidInput("invalid command envelope")
    return handler


Declared = list[tuple[c.Command, tuple[Reads, ...]]]


def _prefetch(commands: Sequence[c.Command], receipts: list[UUID | None], work: BatchWork) -> None:
    """Read, round by round, what each command's handler declares it reads: one query a round
    for the whole batch (a command without a valid receipt id is refused unread)."""
    declared: Declared = [
        (command, HANDLERS[type(command)].reads)
        for command, rid in zip(commands, receipts, strict=True)
        if rid is not None and type(command) in HANDLERS
    ]
    work.prefetch([*(rid for rid in receipts if rid is not None), *_round(declared, 0, work)])
    for n in range(1, max((len(reads) for _, reads in declared), default=0)):
        work.prefetch(_round(declared, n, work))


def _round(declared: Declared, n: int, work: BatchWork) -> list[UUID]:
    return [
        aggregate_id
        for command, reads in declared
        if n < len(reads)
        for aggregate_id in _ids(reads[n], command, work)
    ]


def _ids(reads: Reads, command: c.Command, work: BatchWork) -> list[UUID]:
    try:
        return list(reads(command, work.loaded))
    except Exception:  # a malformed command: its handler says what is wrong with it
        return []


def _replay(receipt: Receipt, command: c.Command) -> Outcome:
    if receipt.fingerprint != command.fingerprint() or receipt.command != command.command_name:
        return IdempotencyKeyReused(
            f"idempotency key {command.idempotency_key!r} was used for a different "
            f"{receipt.command} command"
        )
    return CommandResult(
        command.command_name, command.idempotency_key, dict(receipt.result), replayed=True
    )
