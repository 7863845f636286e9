"""The MT940 reader as it was before issue 17 (with the line reader of that time), kept as the
reference the piece-by-piece reader is tested against. What follows is its docstring.

SWIFT MT940 customer statements, read line by line with the line numbers kept.

Supported tags: ``:20:`` (starts a statement), ``:25:``, ``:28C:``, ``:60F:``/``:60M:`` (opening
balance), ``:61:`` (one entry), ``:86:`` (the entry's remark; SWIFT wraps it at 65 characters, so
continuation lines are joined exactly as written, with nothing added between them),
``:62F:``/``:62M:`` (closing balance), ``:64:``/``:65:`` (ignored). ``{1:...}`` envelope lines and
``-}`` trailers are skipped. The closing balance must equal opening + credits - debits.

``:61:`` is ``YYMMDD[MMDD](D|C|RD|RC)[funds code]amount,TTTT[customer ref][//bank ref]``. In the
``:86:`` the first token (after lead words like ``TRF``) is the SP2D number or payout reference;
``REK:<account>`` and ``BANK:<code>`` anywhere in it name the counterparty. ``RD``/``RC`` are
reversals: ``RD`` (reversal of a debit) is money back in, ``kind`` = return.

The ``mt-940`` package (``mt940`` module) parses the same files and is used in the tests as an
independent cross-check; it is not used here because it reports no line numbers and accepts
statements whose balances do not add up.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reconciliation.amounts import first_bad, parse_amount_column
from reconciliation.errors import StatementError
from reconciliation.readers.common import REFERENCE, kind_of, shaped_reference, upper_of
from reconciliation.schema import STATEMENT

_TAG = r"^:(\d{2}[A-Z]?):"
_ENTRY = (
    r"^(\d{6})(\d{4})?(RC|RD|C|D)([A-Z])?(\d+,\d{0,2})"
    r"([SNF][A-Z0-9]{3})([^/]{0,16})(?://(\S{1,16}))?$"
)
_BALANCE = r"^(C|D)(\d{6})([A-Z]{3})(\d+,\d{0,2})$"
_KNOWN = ["20", "21", "25", "28C", "60F", "60M", "61", "86", "62F", "62M", "64", "65"]


def read_lines(path: Path, encoding: str = "utf-8-sig") -> pl.DataFrame:
    """Every line of the file with its 1-based number (``line_no``, ``text``); blank lines removed."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise StatementError(path, 0, f"cannot read the file: {error.strerror or error}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise StatementError(path, line, f"not {encoding} text: {error.reason}") from None
    lines = pl.Series("text", text.split("\n"), pl.String)
    return (
        pl.DataFrame({"text": lines.str.strip_suffix("\r")})
        .with_row_index("line_no", offset=1)
        .with_columns(pl.col("line_no").cast(pl.Int64))
        .filter(pl.col("text").str.strip_chars() != "")
    )


def read_mt940(path: Path) -> pl.DataFrame:
    where = str(path)
    lines = read_lines(path).filter(
        ~pl.col("text").str.starts_with("{") & ~pl.col("text").str.starts_with("-")
    )
    if lines.height == 0:
        raise StatementError(path, 0, "the file has no MT940 tags")
    lines = lines.with_columns(tag=pl.col("text").str.extract(_TAG, 1))
    first = lines.row(0, named=True)
    if first["tag"] != "20":
        raise StatementError(path, int(first["line_no"]), "an MT940 statement starts with :20:")
    first_bad(
        lines,
        pl.col("tag").is_not_null() & ~pl.col("tag").is_in(_KNOWN),
        where,
        pl.format("unknown MT940 tag :{}:", pl.col("tag")),
    )
    # Continuation lines belong to the tag above them.
    blocks = (
        lines.with_columns(
            block=pl.col("tag").is_not_null().cum_sum(),
            body=pl.when(pl.col("tag").is_not_null())
            .then(pl.col("text").str.replace(_TAG, ""))
            .otherwise(pl.col("text")),
        )
        .group_by("block", maintain_order=True)
        .agg(
            pl.col("line_no").first(),
            pl.col("tag").first(),
            pl.col("body").first().alias("head"),
            pl.col("body").str.join("").alias("body"),
        )
        .with_columns(statement=(pl.col("tag") == "20").cum_sum())
    )
    entries = blocks.filter(pl.col("tag") == "61")
    first_bad(
        entries,
        ~pl.col("head").str.contains(_ENTRY),
        where,
        pl.format(
            ":61: {} is not YYMMDD[MMDD]D|C|RD|RCamount,TTTT[ref][//bankref]", pl.col("head")
        ),
    )
    remarks = blocks.filter(pl.col("tag") == "86").select(
        block=pl.col("block") - 1, remark=pl.col("body").str.strip_chars()
    )
    parts = entries.join(remarks, on="block", how="left").with_columns(
        date_text=pl.col("head").str.extract(_ENTRY, 1),
        mark=pl.col("head").str.extract(_ENTRY, 3),
        amount_text=pl.col("head").str.extract(_ENTRY, 5),
        customer_ref=pl.col("head").str.extract(_ENTRY, 7).str.strip_chars(),
        bank_ref=pl.col("head").str.extract(_ENTRY, 8),
    )
    value_date = pl.col("date_text").str.strptime(pl.Date, "%y%m%d", strict=False)
    first_bad(
        parts,
        value_date.is_null(),
        where,
        pl.format(":61: value date {} is not a date", pl.col("date_text")),
    )
    amount = parse_amount_column(parts, "amount_text", "mt940", where, field=":61: amount")
    first_bad(
        parts.with_columns(amount_text=amount),
        pl.col("amount_text") <= 0,
        where,
        pl.lit(":61: amount is zero"),
    )
    _check_balances(blocks, parts.with_columns(amount=amount), where)
    remark = pl.col("remark").fill_null(pl.col("customer_ref"))
    upper = remark.fill_null("").str.to_uppercase()
    out = (
        parts.with_columns(amount=amount)
        .select(
            source=pl.lit("bank"),
            file=pl.lit(where),
            line_no=pl.col("line_no"),
            value_date=value_date,
            direction=pl.when(pl.col("mark").is_in(["D", "RC"]))
            .then(pl.lit("D"))
            .otherwise(pl.lit("C")),
            amount=pl.col("amount"),
            fee=pl.lit(0, pl.Int64),
            kind=pl.when(pl.col("mark").str.starts_with("R"))
            .then(pl.lit("return"))
            .otherwise(kind_of(remark)),
            reference=pl.lit(None, pl.String),
            remark=remark,
            counterparty_account=upper.str.extract(r"REK:(\d+)", 1),
            counterparty_bank=upper.str.extract(r"BANK:(\w+)", 1),
            bank_ref=pl.col("bank_ref"),
            batch_id=pl.lit(None, pl.String),
        )
        .with_columns(reference=_reference_of(pl.col("remark"), pl.col("kind")))
    )
    return out.select(pl.col(n).cast(t) for n, t in STATEMENT.items())


def _reference_of(remark: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The document reference as it was taken then: the ``REFERENCE`` regular expression's group."""
    token = upper_of(remark).str.extract(REFERENCE, 1)
    return pl.when(kind.is_in(["fee", "interest"])).then(None).otherwise(shaped_reference(token))


def _check_balances(blocks: pl.DataFrame, entries: pl.DataFrame, where: str) -> None:
    balances = blocks.filter(pl.col("tag").is_in(["60F", "60M", "62F", "62M"]))
    first_bad(
        balances,
        ~pl.col("head").str.contains(_BALANCE),
        where,
        pl.format(":{}: {} is not C|D YYMMDD CCY amount", pl.col("tag"), pl.col("head")),
    )
    amounts = balances.with_columns(amount_text=pl.col("head").str.extract(_BALANCE, 4))
    value = parse_amount_column(
        amounts, "amount_text", "mt940", where, field=":60F:/:62F: balance amount"
    )
    signed = amounts.with_columns(
        value=pl.when(pl.col("head").str.starts_with("D")).then(-value).otherwise(value)
    )
    opening = (
        signed.filter(pl.col("tag").str.starts_with("60"))
        .group_by("statement")
        .agg(opening=pl.col("value").first())
    )
    closing = (
        signed.filter(pl.col("tag").str.starts_with("62"))
        .group_by("statement")
        .agg(closing=pl.col("value").last(), line_no=pl.col("line_no").last())
    )
    moves = entries.group_by("statement").agg(
        moved=pl.when(pl.col("mark").is_in(["C", "RD"]))
        .then(pl.col("amount"))
        .otherwise(-pl.col("amount"))
        .sum()
    )
    check = closing.join(opening, on="statement", how="left").join(
        moves, on="statement", how="left"
    )
    first_bad(
        check.with_columns(pl.col("moved").fill_null(0)),
        pl.col("opening").is_null() | (pl.col("opening") + pl.col("moved") != pl.col("closing")),
        where,
        pl.format(
            "closing balance {} is not opening {} + movements {}",
            pl.col("closing"),
            pl.col("opening"),
            pl.col("moved"),
        ),
    )
