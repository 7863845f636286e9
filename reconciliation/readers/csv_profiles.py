"""Bank statement CSV (rekening koran export), one profile per bank: which column holds what.

The default profile ``bpd`` (a Bank Pembangunan Daerah export)::

    tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan
    21/11/2026;32.73/00001/SP2D-LS/BUD/2026 PT MEDIA;98.000.000,00;0,00;902.000.000,00;FT2611210001;0012345678;110

Other banks are described by a TOML or JSON file of profiles (see ``load_profiles``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl

from reconciliation.amounts import Style, first_bad, parse_amount_column
from reconciliation.errors import StatementError
from reconciliation.readers.common import (
    chunks,
    collect,
    kind_of,
    lines_of,
    parse_dates,
    reference_of,
    split_fields,
)
from reconciliation.schema import STATEMENT

# Canonical roles a profile maps to the bank's column names.
ROLES = (
    "date",
    "remark",
    "debit",
    "credit",
    "balance",
    "bank_ref",
    "counterparty_account",
    "counterparty_bank",
)
REQUIRED_ROLES = ("date", "remark", "debit", "credit")


@dataclass(frozen=True, slots=True)
class CsvProfile:
    """How one bank writes its statement CSV."""

    name: str
    columns: list[str]  # the header, in order
    roles: dict[str, str]  # canonical role -> column name (``balance`` etc. optional)
    separator: str = ";"
    date_format: str = "%d/%m/%Y"
    amount_style: Style = "id"
    encoding: str = "utf-8-sig"
    check_balance: bool = (
        True  # each saldo = previous saldo - debet + kredit (where both are given)
    )
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [r for r in REQUIRED_ROLES if r not in self.roles]
        unknown = [r for r in self.roles if r not in ROLES]
        absent = [c for c in self.roles.values() if c not in self.columns]
        if missing or unknown or absent:
            raise ValueError(
                f"CSV profile {self.name!r}: missing roles {missing}, unknown roles {unknown}, "
                f"columns not in the header {absent}"
            )
        if self.amount_style not in ("id", "en"):
            raise ValueError(f"CSV profile {self.name!r}: amount_style must be 'id' or 'en'")


BPD = CsvProfile(
    name="bpd",
    columns=[
        "tanggal",
        "keterangan",
        "debet",
        "kredit",
        "saldo",
        "no_referensi",
        "rekening_lawan",
        "bank_lawan",
    ],
    roles={
        "date": "tanggal",
        "remark": "keterangan",
        "debit": "debet",
        "credit": "kredit",
        "balance": "saldo",
        "bank_ref": "no_referensi",
        "counterparty_account": "rekening_lawan",
        "counterparty_bank": "bank_lawan",
    },
)
DEFAULT_PROFILES: dict[str, CsvProfile] = {"bpd": BPD}


def load_profiles(path: Path) -> dict[str, CsvProfile]:
    """Profiles from a TOML (``[profiles.NAME]``) or JSON (``{"profiles": {"NAME": {...}}}``) file,
    added to the defaults. Keys: ``columns``, ``roles``, and optionally ``separator``,
    ``date_format``, ``amount_style``, ``encoding``, ``check_balance``."""
    text = path.read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    profiles = dict(DEFAULT_PROFILES)
    for name, spec in cast(dict[str, dict[str, Any]], data.get("profiles", {})).items():
        try:
            profiles[name] = CsvProfile(name=name, **spec)
        except TypeError as error:  # an unknown or missing key
            raise ValueError(f"{path}: CSV profile {name!r}: {error}") from None
    return profiles


def read_bank_csv(path: Path, profile: CsvProfile = BPD) -> pl.DataFrame:
    """A statement CSV in the canonical statement schema (``source`` = bank)."""
    return collect(iter_bank_csv(path, profile))


def iter_bank_csv(path: Path, profile: CsvProfile = BPD) -> Iterator[pl.DataFrame]:
    """The lines of a statement CSV piece by piece (``common.chunks``, cut at line ends); each
    piece's first balance is checked against the last balance of the piece before it."""
    where = str(path)
    header = True
    previous: int | None = None
    for chunk in chunks(path, b"\n", profile.encoding):
        lines = lines_of(chunk)
        if lines.height == 0:
            continue
        raw = split_fields(lines, profile.separator, profile.columns, where, header=header)
        header = False
        if raw.height:
            frame, previous = _piece(raw, profile, where, previous)
            yield frame
    if header:
        raise StatementError(path, 0, "the file is empty")


def _piece(
    raw: pl.DataFrame, profile: CsvProfile, where: str, previous: int | None
) -> tuple[pl.DataFrame, int | None]:
    """The piece's lines as canonical lines, and its last balance (for the next piece)."""
    roles = profile.roles
    debit = parse_amount_column(raw, roles["debit"], profile.amount_style, where, allow_empty=True)
    credit = parse_amount_column(
        raw, roles["credit"], profile.amount_style, where, allow_empty=True
    )
    frame = raw.with_columns(
        _debit=debit.fill_null(0),
        _credit=credit.fill_null(0),
        value_date=parse_dates(raw, roles["date"], profile.date_format, where),
    )
    first_bad(
        frame,
        (pl.col("_debit") > 0) == (pl.col("_credit") > 0),
        where,
        pl.format(
            "exactly one of {} and {} must be a positive amount",
            pl.lit(roles["debit"]),
            pl.lit(roles["credit"]),
        ),
    )
    if profile.check_balance and "balance" in roles:
        balance = parse_amount_column(
            frame, roles["balance"], profile.amount_style, where, allow_empty=True
        )
        frame = frame.with_columns(_balance=balance).with_columns(
            _expected=pl.col("_balance").shift(1, fill_value=pl.lit(previous, pl.Int64))
            - pl.col("_debit")
            + pl.col("_credit")
        )
        last = frame["_balance"][-1]
        previous = last if isinstance(last, int) else None
        expected = pl.col("_expected")
        first_bad(
            frame,
            expected.is_not_null() & (expected != pl.col("_balance")),
            where,
            pl.format(
                "{} {} is not the previous balance - debit + credit ({})",
                pl.lit(roles["balance"]),
                pl.col(roles["balance"]),
                expected,
            ),
        )

    def text(role: str) -> pl.Expr:
        column = roles.get(role)
        if column is None:
            return pl.lit(None, pl.String)
        return pl.when(pl.col(column) == "").then(None).otherwise(pl.col(column))

    remark = pl.col(roles["remark"])
    out = frame.select(
        source=pl.lit("bank"),
        file=pl.lit(where),
        line_no=pl.col("line_no"),
        value_date=pl.col("value_date"),
        direction=pl.when(pl.col("_debit") > 0).then(pl.lit("D")).otherwise(pl.lit("C")),
        amount=pl.max_horizontal("_debit", "_credit"),
        fee=pl.lit(0, pl.Int64),
        kind=kind_of(remark),
        reference=pl.lit(None, pl.String),
        remark=remark,
        counterparty_account=text("counterparty_account"),
        counterparty_bank=text("counterparty_bank"),
        bank_ref=text("bank_ref"),
        batch_id=pl.lit(None, pl.String),
    ).with_columns(reference=reference_of(pl.col("remark"), pl.col("kind")))
    return out.select(pl.col(n).cast(t) for n, t in STATEMENT.items()), previous
