"""Readers: every statement, report and ledger source into the canonical frames of
``reconciliation.schema``. A bad line raises ``StatementError(file, line, reason)``; nothing is dropped."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reconciliation.errors import StatementError
from reconciliation.readers.camt053 import read_camt053
from reconciliation.readers.csv_profiles import DEFAULT_PROFILES, CsvProfile, read_bank_csv
from reconciliation.readers.midtrans import read_midtrans
from reconciliation.readers.mt940 import read_mt940

__all__ = ["read_bank_statement", "read_gateway_report"]


def read_bank_statement(
    path: Path, profile: str = "bpd", profiles: dict[str, CsvProfile] | None = None
) -> pl.DataFrame:
    """A bank statement in any supported format, chosen by its content (MT940 starts with a
    ``{1:`` block or ``:20:``; camt.053 is XML; anything else is a CSV of ``profile``)."""
    try:
        head = path.read_bytes()[:512].lstrip(b"\xef\xbb\xbf").lstrip()
    except OSError as error:
        raise StatementError(path, 0, f"cannot read the file: {error.strerror or error}") from None
    if head.startswith((b"{1:", b":20:")):
        return read_mt940(path)
    if head.startswith(b"<"):
        return read_camt053(path)
    known = profiles if profiles is not None else DEFAULT_PROFILES
    if profile not in known:
        raise StatementError(path, 0, f"unknown CSV profile {profile!r}; known: {sorted(known)}")
    return read_bank_csv(path, known[profile])


def read_gateway_report(path: Path) -> pl.DataFrame:
    """A Midtrans payout or settlement report (recognised by its header)."""
    return read_midtrans(path)
