"""Errors of the reconciliation edge: a statement or report line that cannot be read."""

from __future__ import annotations

from pathlib import Path

from ledger.errors import DomainError


class StatementError(DomainError):
    """A bad line of a bank statement or gateway report: which file, which line (1-based; 0 for the
    file as a whole) and why. Nothing of the file is used when one line is bad."""

    rule = "statement_line_unreadable"

    def __init__(self, path: str | Path, line: int, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}:{line}: {reason}")

    def __reduce__(self) -> tuple[type[StatementError], tuple[str, int, str]]:  # type: ignore[override]
        return (type(self), (self.path, self.line, self.reason))
