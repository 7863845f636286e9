"""Group commit: commands that arrive while the ledger is writing a batch go together into the next
``Ledger.execute_batch`` (one transaction, one fsync), each with its own outcome.

Alone, a command is written at once, as a batch of one. Under load, writes queue in the event loop
(not in threads: the ledger writes one batch at a time per process anyway) and share transactions.
The ledger runs a batch exactly as if its commands had been sent one by one: later ones see the
effects of earlier ones, a refused command changes nothing, and a retried key is answered from its
receipt, even within one batch.
"""

from __future__ import annotations

import asyncio

from anyio import to_thread

from ledger.application import CommandResult, Ledger, Outcome
from ledger.commands import Command
from ledger.errors import DomainError

MAX_BATCH = 256


class BatchWriter:
    def __init__(self, ledger: Ledger, max_batch: int = MAX_BATCH) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._pending: list[tuple[Command, asyncio.Future[Outcome]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def execute(self, command: Command) -> CommandResult:
        """The command's result; its ``DomainError`` is raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append((command, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        outcome = await asyncio.shield(future)  # a client that leaves does not cancel the batch
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            commands = [command for command, _ in batch]
            try:
                outcomes = await to_thread.run_sync(self.ledger.execute_batch, commands)
            except Exception as error:  # e.g. the store is unavailable: every waiter hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
