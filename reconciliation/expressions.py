"""What both reconciliation runs share: the in-memory one (``matching.reconcile``) and the partitioned
one (``partitioned.reconcile_files``) must give every line the same status, so the codes they write,
the keys they join on and the way a line is packed into one integer live here, once.

- status and pass codes: the small integers the dense per-line columns hold (``status_code``,
  ``PASS_CODE``), turned back into the ``STATUS_ENUM`` / ``PASS_ENUM`` names at the end;
- keys: two independent 64-bit hashes of a reference (``reference_keys``), a hash of an account
  number (``account_key``), the 3-digit kode bank (``bank_key``);
- ``packed`` / ``lpacked``: a statement line's amount and flags, a ledger line's net and flags, in
  one ``UInt64`` each, so pass 1 fetches them with one gather each (``link_status`` unpacks them);
- ``agreed``: which fields of a paired line agreed, as bits, and their text for the report.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from reconciliation.schema import STATUSES

SEED = 0x6B61_7364_61  # "kasda": the join key
SEED2 = 0x7265_636F_6E  # "recon": the independent check of a key match

STATUS_CODE = {name: i for i, name in enumerate(STATUSES)}
PASSES = ("reference", "amount_account", "batch", "classify")
PASS_CODE = {name: i for i, name in enumerate(PASSES)}
PASS_ENUM = pl.Enum(list(PASSES))
# Statement line kinds that carry a reference to a ledger line (pass 1 looks only at these).
REFERENCE_KINDS = ["transfer", "return", "payout", "settlement"]

# Which fields of a statement line agreed with the line it was paired with, as bits of ``agreed``.
AGREED_FIELDS = ("reference", "amount", "account", "bank", "date")
AGREED = {name: 1 << i for i, name in enumerate(AGREED_FIELDS)}
# An ambiguous line had candidates of its amount and account within the date window.
AMBIGUOUS_AGREED = AGREED["amount"] + AGREED["account"] + AGREED["date"]
_AGREED_TEXT = pl.Series(
    "agreed",
    [
        ",".join(f for f in AGREED_FIELDS if code & AGREED[f]) or None
        for code in range(1 << len(AGREED_FIELDS))
    ],
    dtype=pl.String,
)


def agreed_text(codes: pl.Series) -> pl.Series:
    """``reference,amount,account`` ... for each ``agreed`` code (null where nothing was paired)."""
    return _AGREED_TEXT.gather(codes)


def status_code(status: str) -> pl.Expr:
    """The code of ``status`` (one of ``STATUSES``) as a ``UInt8`` literal."""
    return pl.lit(STATUS_CODE[status], pl.UInt8)


def account_key(column: str) -> pl.Expr:
    """A 64-bit hash of an account number without its spaces, dots and dashes; null if absent (the
    readers write an empty field as null)."""
    account = pl.col(column)
    return pl.when(account.is_not_null()).then(account.str.replace_all(r"[\s.\-]", "").hash(SEED))


def bank_key(column: str) -> pl.Expr:
    """The 3-digit kode bank (Bank Indonesia) as a number; null when absent or written otherwise
    (a BIC, a gateway's bank name): only two kode bank are compared."""
    code = pl.col(column)
    return pl.when(code.str.len_bytes() == 3).then(code.cast(pl.UInt16, strict=False))


def reference_keys(column: str, prefix: str) -> dict[str, pl.Expr]:
    """Two independent 64-bit hashes of a canonical (trimmed, upper-case) text reference: joins use
    the first, and a pair only counts when the second agrees too (a false match needs both to collide,
    about 2^-128). Null for a missing or empty reference."""
    text = pl.col(column)
    present = text.is_not_null() & (text != "")
    return {
        f"{prefix}1": pl.when(present).then(text.hash(SEED)),
        f"{prefix}2": pl.when(present).then(text.hash(SEED2)),
    }


def expected_on() -> pl.Expr:
    """The day a ledger line's money should show up: sent, else authorised, else settled."""
    return pl.coalesce("sent_on", "authorised_on", "settled_on")


def pack_statement(
    amount: pl.Expr, gateway: pl.Expr, credit: pl.Expr, is_return: pl.Expr
) -> pl.Expr:
    """A statement line's amount and flags in one integer: amount * 8 + gateway + 2 credit +
    4 return (``link_status`` takes them apart)."""
    return (
        amount.cast(pl.UInt64) * 8
        + gateway.cast(pl.UInt64)
        + 2 * credit.cast(pl.UInt64)
        + 4 * is_return.cast(pl.UInt64)
    )


def pack_ledger(net: pl.Expr, receipt: pl.Expr, credit: pl.Expr) -> pl.Expr:
    """A ledger line's net and flags in one integer: net * 4 + receipt + 2 credit."""
    return net.cast(pl.UInt64) * 4 + receipt.cast(pl.UInt64) + 2 * credit.cast(pl.UInt64)


def unpack_statement(packed: str = "packed") -> dict[str, pl.Expr]:
    """The columns ``pack_statement`` packed: gateway, credit, is_return, amount."""
    value = pl.col(packed)
    return {
        "gateway": value % 2 == 1,
        "credit": value // 2 % 2 == 1,
        "is_return": value // 4 % 2 == 1,
        "amount": (value // 8).cast(pl.Int64),
    }


def unpack_ledger(lpacked: str = "lpacked") -> dict[str, pl.Expr]:
    """The columns ``pack_ledger`` packed: receipt, lcredit, net."""
    value = pl.col(lpacked)
    return {
        "receipt": value % 2 == 1,
        "lcredit": value // 2 % 2 == 1,
        "net": (value // 4).cast(pl.Int64),
    }


def unpaired_statement(gateway: pl.Expr, is_fee: pl.Expr, is_return: pl.Expr) -> pl.Expr:
    """The status code of a statement line no pass takes: a bank fee or interest line is ``fee``,
    a bank return ``returned``, anything else ``unmatched_bank``."""
    return (
        pl.when(~gateway & is_fee)
        .then(status_code("fee"))
        .when(~gateway & is_return)
        .then(status_code("returned"))
        .otherwise(status_code("unmatched_bank"))
    )


def unpaired_ledger(expected: pl.Expr, cutoff: date) -> pl.Expr:
    """The status code of a ledger line no pass takes: ``timing`` when expected after ``cutoff``
    (in transit across the end of the period), else ``unmatched_ledger``."""
    return (
        pl.when(expected > cutoff)
        .then(status_code("timing"))
        .otherwise(status_code("unmatched_ledger"))
    )
