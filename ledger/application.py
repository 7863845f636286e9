"""``Ledger``: the one application through which every event enters or leaves the store.

Commands run in batches (a batch of one for ``execute``). For each batch the ledger

1. prefetches, in one query, every aggregate the commands name and every idempotency receipt, so each
   rule is checked against fresh state;
2. runs each command's handler; a receipt already on record returns the first result (a retry), a
   rule broken raises a ``DomainError`` and changes nothing;
3. appends the events of every accepted command, plus one receipt per command, in ONE transaction.

If another writer got to one of the same aggregates first, the store's unique (id, version) constraint
rejects the whole transaction; the ledger reloads and runs the batch again (bounded), so two writers can
never both spend the same pagu, and a command is never applied twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from ledger import commands as c
from ledger import ids
from ledger.budget import Budget, BudgetLine
from ledger.chained import bound_pool
from ledger.connections import retrying
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
from ledger.handlers import HANDLERS, line_id_of, stamp
from ledger.receipts import CommandReceipt, DocumentNumber
from ledger.roles import Actor
from ledger.store import DEFAULT_DATABASE_URL, env_for_url, setting_up
from ledger.vendor import Vendor, normalise_npwp

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)

MAX_BATCH = 10_000
MAX_ATTEMPTS = 8
# After a lost race, wait a random time in [0, min(CAP, BASE * 2**(attempt-1))) seconds before the
# next attempt ("full jitter"): writers that collided on one line then retry at different moments
# instead of colliding again in lock-step. At most 10+20+40+80+160+250+250 ms over all 8 attempts;
# benchmarks/bench_contention.py measures what it buys (docs/benchmarks.md).
RETRY_BACKOFF = 0.01
RETRY_BACKOFF_CAP = 0.25
_PREFETCH_CHUNK = 400


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


@dataclass
class _Work:
    """The unit of work of one batch: every aggregate it read or created, fresh as of this batch."""

    ledger: Ledger
    at: datetime
    local: dict[UUID, Aggregate] = field(default_factory=dict)
    absent: set[UUID] = field(default_factory=set)
    # Aggregates handed to the running handler (the only ones it can have changed), each with the
    # number of events it already held then: earlier commands of the batch may have left some.
    touched: dict[UUID, tuple[Aggregate, int]] = field(default_factory=dict)

    def prefetch(self, aggregate_ids: Iterable[UUID]) -> None:
        wanted = [
            i for i in dict.fromkeys(aggregate_ids) if i not in self.local and i not in self.absent
        ]
        if wanted:
            found = self.ledger._load_fresh(wanted)
            self.local.update(found)
            self.absent.update(i for i in wanted if i not in found)

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        if aggregate_id not in self.local and aggregate_id not in self.absent:
            self.prefetch([aggregate_id])
        found = self.local.get(aggregate_id)
        if found is None:
            return None
        self.touched.setdefault(aggregate_id, (found, len(found.pending_events)))
        if not isinstance(found, kind):
            raise NotFound(f"{aggregate_id} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        found = self.find(aggregate_id, kind)
        if found is None:
            raise NotFound(f"no {kind.__name__} {aggregate_id}")
        return found

    def exists(self, aggregate_id: UUID) -> bool:
        return self.find(aggregate_id, Aggregate) is not None

    def add(self, aggregate: Aggregate) -> None:
        if aggregate.id in self.local:
            raise DomainError(f"{type(aggregate).__name__} {aggregate.id} exists already")
        self.local[aggregate.id] = aggregate
        self.absent.discard(aggregate.id)
        self.touched[aggregate.id] = (aggregate, 0)  # a new aggregate is all change

    def pending(self) -> int:
        """Events triggered on aggregates handed out since the last ``touched`` reset."""
        return sum(len(a.pending_events) - held for a, held in self.touched.values())


class _AggregateCache:
    """Aggregates at their last recorded version, LRU-bounded. A unit of work takes an entry out
    (and fast-forwards it from the store); it comes back only if the batch was recorded."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Aggregate] = OrderedDict()

    def take(self, aggregate_id: UUID) -> Aggregate | None:
        return self._items.pop(aggregate_id, None)

    def put(self, aggregate: Aggregate) -> None:
        if self.maxsize <= 0:
            return
        self._items[aggregate.id] = aggregate
        self._items.move_to_end(aggregate.id)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


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
        assert 0 <= retry_backoff <= RETRY_BACKOFF_CAP, retry_backoff
        self.retry_backoff = retry_backoff  # 0: retry at once (benchmarks compare the two)
        self._cache = _AggregateCache(cache_size)
        self._write_lock = threading.RLock()
        self._select_newer = self._bulk_reader()

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        factory = super().construct_factory(env)
        bound_pool(factory, env)  # before the library's set-up opens a PostgreSQL pool
        return factory

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
            work = _Work(self, self.clock())
            try:
                outcomes = self._run(commands, work, doomed, check_each)
            except _HalfApplied as half:
                for index, error in half.refused.items():
                    log.error("refused %s: %s", commands[index].command_name, error)
                doomed.update(half.refused)
                continue
            aggregates = [a for a in work.local.values() if a.pending_events]
            if not aggregates:
                self._keep(work)
                return outcomes
            try:
                self._record_all(aggregates)
            except IntegrityError:
                # Someone else recorded events on one of these aggregates (or the same receipt)
                # since we read them. Nothing of ours was written: read again and redo.
                conflicts += 1
                log.info(
                    "optimistic concurrency conflict, attempt %d of %d", conflicts, MAX_ATTEMPTS
                )
                if conflicts < MAX_ATTEMPTS:
                    self._back_off(conflicts)
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

    def _back_off(self, attempt: int) -> None:
        if self.retry_backoff > 0:
            ceiling = min(RETRY_BACKOFF_CAP, self.retry_backoff * 2 ** (attempt - 1))
            time.sleep(random.uniform(0, ceiling))

    def _run(
        self,
        commands: Sequence[c.Command],
        work: _Work,
        doomed: dict[int, DomainError],
        check_each: bool = False,
    ) -> list[Outcome]:
        receipts: list[UUID | None] = []
        direct: list[UUID] = []
        for command in commands:
            try:
                rid = _receipt_id(command)
            except DomainError:
                rid = None
            receipts.append(rid)
            if rid is not None:
                direct.append(rid)
                direct.extend(_named_ids(command))
        work.prefetch(direct)
        work.prefetch(i for command in commands for i in _implied_ids(command, work))

        outcomes: list[Outcome] = []
        unstorable: dict[int, DomainError] = {}
        for index, (command, rid) in enumerate(zip(commands, receipts, strict=True)):
            if index in doomed:
                outcomes.append(doomed[index])
                continue
            outcome = self._run_one(index, command, rid, work)
            if check_each and isinstance(outcome, CommandResult) and not outcome.replayed:
                problem = self._unstorable(work)
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

    def _unstorable(self, work: _Work) -> str | None:
        """Why the events the last command triggered cannot be encoded for the store, if so."""
        for aggregate, held in work.touched.values():
            for pending in aggregate.pending_events[held:]:
                try:
                    self.mapper.to_stored_event(pending)
                except _UNSTORABLE as error:
                    return f"{type(error).__name__}: {error}"
        return None

    def _run_one(self, index: int, command: c.Command, rid: UUID | None, work: _Work) -> Outcome:
        try:
            handler = HANDLERS[type(command)]
            # Every rule reads the actor (its role, its SKPD, who it is): never anything else.
            if not isinstance(command.actor, Actor):
                raise InvalidInput(
                    f"a command's actor must be a ledger.roles.Actor, got {command.actor!r}"
                )
            if rid is None:  # pemda or key invalid: let the validators say which
                pemda_code(command.pemda)
                idempotency_key(command.idempotency_key)
                raise InvalidInput("invalid command envelope")
        except KeyError:
            return InvalidInput(f"unknown command {type(command).__name__}")
        except DomainError as error:
            return error
        receipt = work.find(rid, CommandReceipt)
        if receipt is not None:
            return _replay(receipt, command)
        work.touched = {}
        try:
            data = handler(command, work)
        except DomainError as error:
            if work.pending() != 0:
                raise _HalfApplied({index: error}) from error
            return error
        work.add(
            CommandReceipt(
                pemda=pemda_code(command.pemda),
                idempotency_key=idempotency_key(command.idempotency_key),
                command=command.command_name,
                fingerprint=command.fingerprint(),
                result=data,
                **stamp(command.actor, work.at),
            )
        )
        return CommandResult(command.command_name, command.idempotency_key, data)

    def _record_all(self, aggregates: list[Aggregate]) -> None:
        """``Application.save`` without its per-object protocol checks (measurably slow at batch
        sizes): every object here is one of our aggregates. One transaction for all events."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing_event)
        self._notify(recordings)

    def _keep(self, work: _Work) -> None:
        for aggregate in work.local.values():
            # Receipts and number claims are read again only when a command is retried (then from
            # the store): caching them would make up most of the cache and slow the GC.
            if not isinstance(aggregate, (CommandReceipt, DocumentNumber)):
                self._cache.put(aggregate)

    # -- reading -------------------------------------------------------------------------------
    def _load_fresh(self, aggregate_ids: list[UUID]) -> dict[UUID, Aggregate]:
        """Current state of each aggregate that exists: cached state fast-forwarded with the
        events recorded since, or rebuilt from its events. One query per chunk of ids."""
        cached = {i: a for i in aggregate_ids if (a := self._cache.take(i)) is not None}
        newer: dict[UUID, list[StoredEvent]] = {}
        for start in range(0, len(aggregate_ids), _PREFETCH_CHUNK):
            chunk = aggregate_ids[start : start + _PREFETCH_CHUNK]
            pairs = [(i, cached[i].version if i in cached else 0) for i in chunk]
            for stored in self._select_newer(pairs):
                newer.setdefault(_as_uuid(stored.originator_id), []).append(stored)
        found: dict[UUID, Aggregate] = {}
        for aggregate_id in aggregate_ids:
            events = [self.mapper.to_domain_event(s) for s in newer.get(aggregate_id, ())]
            start_from = cached.get(aggregate_id)
            if start_from is None and not events:
                continue
            aggregate: Any = start_from
            for domain_event in events:
                aggregate = cast("Any", domain_event).mutate(aggregate)
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found

    def _bulk_reader(self) -> Callable[[list[tuple[UUID, int]]], list[StoredEvent]]:
        """A function returning, for (id, version) pairs, the stored events newer than version."""
        recorder: Any = self.recorder
        module = self.env.get("PERSISTENCE_MODULE", "")
        if module.endswith("sqlite"):
            return _sqlite_reader(recorder)
        if module.endswith("postgres"):
            return _postgres_reader(recorder)

        def one_by_one(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
            out: list[StoredEvent] = []
            for aggregate_id, version in pairs:
                out.extend(recorder.select_events(aggregate_id, gt=version or None))
            return out

        return one_by_one

    def aggregate(self, aggregate_id: UUID, kind: type[A], version: int | None = None) -> A:
        """Read one aggregate (optionally as of a version). Raises ``NotFound``."""
        try:
            found: Aggregate = self.repository.get(aggregate_id, version=version)
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

    def vendor(self, vendor_id: UUID) -> Vendor:
        return self.aggregate(vendor_id, Vendor)

    def disbursement(self, disbursement_id: UUID) -> Disbursement:
        return self.aggregate(disbursement_id, Disbursement)

    def history(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, in order."""
        return list(self.events.get(aggregate_id))

    def close(self) -> None:
        self._cache.clear()
        super().close()


def _receipt_id(command: c.Command) -> UUID:
    """Where the receipt of ``command`` lives: the same id for every retry of it."""
    return ids.receipt_id(pemda_code(command.pemda), idempotency_key(command.idempotency_key))


def _replay(receipt: CommandReceipt, command: c.Command) -> Outcome:
    if receipt.fingerprint != command.fingerprint() or receipt.command != command.command_name:
        return IdempotencyKeyReused(
            f"idempotency key {command.idempotency_key!r} was used for a different "
            f"{receipt.command} command"
        )
    return CommandResult(
        command.command_name, command.idempotency_key, dict(receipt.result), replayed=True
    )


def _named_ids(command: c.Command) -> list[UUID]:
    """Aggregates a command names directly, so that a batch reads them all in one query."""
    if isinstance(command, c.DisbursementCommand) and isinstance(command.disbursement_id, UUID):
        return [command.disbursement_id]
    if isinstance(command, c.RequestDisbursement):
        try:
            return [
                line_id_of(command.pemda, command.year, command.line),
                ids.vendor_id(command.pemda, normalise_npwp(command.vendor_npwp)),
                ids.disbursement_id(command.pemda, command.year, str(command.spp_number).strip()),
            ]
        except (DomainError, TypeError, ValueError, AttributeError):
            return []  # malformed: the handler reports it for this command alone
    return []


def _implied_ids(command: c.Command, work: _Work) -> list[UUID]:
    """Aggregates a disbursement command will read, known once the disbursement is loaded."""
    # A malformed id (not a UUID, maybe not even hashable) is the handler's to refuse.
    if not isinstance(command, c.DisbursementCommand) or not isinstance(
        command.disbursement_id, UUID
    ):
        return []
    d = work.local.get(command.disbursement_id)
    if not isinstance(d, Disbursement):
        return []
    implied = [UUID(d.line_id), UUID(d.vendor_id)]
    number = getattr(command, "spm_number", None) or getattr(command, "sp2d_number", None)
    if isinstance(number, str):
        kind = "SPM" if isinstance(command, c.ApproveSpm) else "SP2D"
        implied.append(ids.document_number_id(d.pemda, d.year, kind, number.strip()))
    return implied


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _sqlite_reader(recorder: Any) -> Callable[[list[tuple[UUID, int]]], list[StoredEvent]]:
    table = recorder.events_table_name

    def read(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        values = ",".join("(?,?)" for _ in pairs)
        params: list[Any] = []
        for aggregate_id, version in pairs:
            params.extend((aggregate_id.hex, version))
        statement = (
            f"WITH wanted(id, ver) AS (VALUES {values}) "  # noqa: S608 - only placeholders
            f"SELECT e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM wanted w JOIN {table} e "
            f"ON e.originator_id = w.id AND e.originator_version > w.ver "
            f"ORDER BY e.originator_id, e.originator_version"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return [StoredEvent(UUID(row[0]), row[1], row[2], row[3]) for row in cursor.fetchall()]

    return read


# The bulk read must probe the (originator_id, originator_version) key once per id. Without planner
# statistics (a new table, until autovacuum first analyses it) PostgreSQL picks a hash join over a
# sequential scan of the whole events table instead: every batch then costs O(events stored). These
# settings last for the read-only transaction of one read.
_INDEX_PROBES_ONLY = (
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; "
    "SET LOCAL enable_mergejoin = off; SET LOCAL jit = off"
)


def _postgres_reader(recorder: Any) -> Callable[[list[tuple[UUID, int]]], list[StoredEvent]]:
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT e.originator_id, e.originator_version, e.topic, e.state "
        "FROM unnest(%s::uuid[], %s::bigint[]) AS w(id, ver) "
        "JOIN {schema}.{table} e ON e.originator_id = w.id AND e.originator_version > w.ver "
        "ORDER BY e.originator_id, e.originator_version"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )

    def read(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        return retrying(lambda: read_once(pairs))  # a dropped pooled connection is replaced

    def read_once(pairs: list[tuple[UUID, int]]) -> list[StoredEvent]:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(_INDEX_PROBES_ONLY)
            cursor.execute(statement, ([p[0] for p in pairs], [p[1] for p in pairs]))
            return [
                StoredEvent(
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]

    return read
