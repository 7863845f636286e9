"""Group commit: commands that arrive while the ledger is writing a batch go together into the next
``Ledger.execute_batch`` (one transaction, one fsync), each with its own outcome.

Alone, a command is written at once, as a batch of one. Under load, writes queue in the event loop
(not in threads: the ledger writes one batch at a time per process anyway) and share transactions.
The ledger runs a batch exactly as if its commands had been sent one by one: later ones see the
effects of earlier ones, a refused command changes nothing, and a retried key is answered from its
receipt, even within one batch.

Position. After a batch commits, the writer reads the log's head once (``max_notification_id``, one
indexed query) and gives it to every outcome of the batch: a position at or after every event the
batch recorded, which the API returns as ``CommandOut.position`` (a consistency token: a report read
with ``after=<position>`` includes the write). A command answered from its receipt (a retry) gets
the head too, which is at or after the events of its first execution.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError

from api import threads
from ledger.application import CommandResult, Ledger, Outcome
from ledger.commands import Command
from ledger.errors import DomainError

log = logging.getLogger(__name__)

MAX_BATCH = 256


@dataclass(frozen=True)
class Written:
    """A command's result and a position in the log at or after its events."""

    result: CommandResult
    position: int


class BatchWriter:
    def __init__(
        self,
        ledger: Ledger,
        max_batch: int = MAX_BATCH,
        recorded: Callable[[int], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        # Told each position a batch answers with (``ReadModels.recorded``): it is in the log.
        self._recorded = recorded
        self._pending: list[tuple[Command, asyncio.Future[tuple[Outcome, int]]]] = []
        self._drainer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Commands queued for the next batch, not yet handed to the ledger."""
        return len(self._pending)

    async def execute(self, command: Command) -> Written:
        """The command's result and the log's head after its batch committed; its
        ``DomainError`` is raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Outcome, int]] = loop.create_future()
        self._pending.append((command, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        # A client that leaves does not cancel the batch.
        outcome, position = await asyncio.shield(future)
        if isinstance(outcome, DomainError):
            raise outcome
        return Written(outcome, position)

    def _write(self, commands: Sequence[Command]) -> tuple[list[Outcome | Exception], int]:
        """In a worker thread: the batch, then the log's head (read after the commit, so at or
        after every event of the batch). No head is read when every command was refused. Should
        that read fail (the store went away just after the commit), the batch's callers get the
        error (503) though their commands were recorded: a retry with the same key answers from
        the receipts, with a position.

        A batch that fails for any reason but the store's (which every waiter hears) is run again
        one command at a time, so that whatever one command did wrong fails that command alone:
        one caller's input never fails another caller's request."""
        outcomes: list[Outcome | Exception]
        try:
            outcomes = list(self.ledger.execute_batch(commands))
        except PersistenceError:
            raise
        except Exception:
            if len(commands) == 1:
                raise
            log.exception("a batch of %d commands failed; running them one by one", len(commands))
            outcomes = [self._alone(command) for command in commands]
        if not any(isinstance(outcome, CommandResult) for outcome in outcomes):
            return outcomes, 0
        return outcomes, int(self.ledger.recorder.max_notification_id() or 0)

    def _alone(self, command: Command) -> Outcome | Exception:
        try:
            [outcome] = self.ledger.execute_batch([command])
        except PersistenceError:
            raise
        except Exception as error:  # this command's own failure, for its caller alone
            return error
        return outcome

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            commands = [command for command, _ in batch]
            try:
                outcomes, position = await threads.run(self._write, commands)
            except Exception as error:  # e.g. the store is unavailable: every waiter hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            if self._recorded is not None and position:
                self._recorded(position)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, (CommandResult, DomainError)):
                    future.set_result((outcome, position))
                else:
                    future.set_exception(outcome)
