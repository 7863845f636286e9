"""Readers: every statement, report and ledger source into the canonical frames of
``reconciliation.schema``. A bad line raises ``StatementError(file, line, reason)``; nothing is dropped.

Each reader also gives its lines piece by piece (``bank_statement_pieces``, ``gateway_report_pieces``)
so a caller can write them away as they come and read a file of any size in bounded memory. A piece
``None`` means "drop every piece given so far": the file is being read again another way (a camt.053
found out of the fast layout half way). Pieces are only final when the iterator ends without raising
(an MT940's balances are checked after its last piece)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reconciliation.errors import StatementError
from reconciliation.readers.camt053 import iter_camt053
from reconciliation.readers.common import Pieces, collect
from reconciliation.readers.csv_profiles import DEFAULT_PROFILES, CsvProfile, iter_bank_csv
from reconciliation.readers.midtrans import iter_midtrans, read_midtrans
from reconciliation.readers.mt940 import iter_mt940

__all__ = [
    "Pieces",
    "bank_statement_pieces",
    "collect",
    "gateway_report_pieces",
    "read_bank_statement",
    "read_gateway_report",
]


def bank_statement_pieces(
    path: Path, profile: str = "bpd", profiles: dict[str, CsvProfile] | None = None
) -> Pieces:
    """A bank statement in any supported format, chosen by its content (MT940 starts with a
    ``{1:`` block or ``:20:``; camt.053 is XML; anything else is a CSV of ``profile``)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512).lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError as error:
        raise StatementError(path, 0, f"cannot read the file: {error.strerror or error}") from None
    if head.startswith((b"{1:", b":20:")):
        return iter_mt940(path)
    if head.startswith(b"<"):
        return iter_camt053(path)
    known = profiles if profiles is not None else DEFAULT_PROFILES
    if profile not in known:
        raise StatementError(path, 0, f"unknown CSV profile {profile!r}; known: {sorted(known)}")
    return iter_bank_csv(path, known[profile])


def read_bank_statement(
    path: Path, profile: str = "bpd", profiles: dict[str, CsvProfile] | None = None
) -> pl.DataFrame:
    """A bank statement in any supported format (``bank_statement_pieces``), as one frame."""
    return collect(bank_statement_pieces(path, profile, profiles))


def gateway_report_pieces(path: Path) -> Pieces:
    """A Midtrans payout or settlement report (recognised by its header)."""
    return iter_midtrans(path)


def read_gateway_report(path: Path) -> pl.DataFrame:
    """A Midtrans payout or settlement report (recognised by its header)."""
    return read_midtrans(path)
