"""SWIFT MT940 customer statements, read line by line with the line numbers kept.

Supported tags: ``:20:`` (starts a statement), ``:25:``, ``:28C:``, ``:60F:``/``:60M:`` (opening
balance), ``:61:`` (one entry), ``:86:`` (the entry's remark; SWIFT wraps it at 65 characters, so
continuation lines are joined exactly as written, with nothing added between them),
``:62F:``/``:62M:`` (closing balance), ``:64:``/``:65:`` (ignored). ``{1:...}`` envelope lines and
``-}`` trailers are skipped. The closing balance must equal opening + credits - debits.

``:61:`` is ``YYMMDD[MMDD](D|C|RD|RC)[funds code]amount,TTTT[customer ref][//bank ref]``. In the
``:86:`` the first token (after lead words like ``TRF``) is the SP2D number or payout reference;
``REK:<account>`` and ``BANK:<code>`` anywhere in it name the counterparty. ``RD``/``RC`` are
reversals: ``RD`` (reversal of a debit) is money back in, ``kind`` = return.

Read in pieces of about ``common.CHUNK_BYTES`` (each cut just before a ``:61:`` line, so an entry
and its ``:86:`` are never split), each piece parsed with vectorised Polars expressions: memory is
bounded by the piece, not the file. The lines come from Polars' CSV reader streaming the file
(``common.line_pieces``). Each check is first made as one cheap test over the piece; only a piece
that fails one runs the checks one by one, in the order above, to name the line. A file Polars
cannot split into lines (not UTF-8, say), or one with a bad line, is read again by bytes
(``common.chunks``, after a ``None`` piece: drop what was given), so a file with one bad line is
refused exactly as before; with several bad lines of different kinds, the first byte piece holding
one names it. The balances are summed per statement over the pieces and checked at the end.

The ``mt-940`` package (``mt940`` module) parses the same files and is used in the tests as an
independent cross-check; it is not used here because it reports no line numbers and accepts
statements whose balances do not add up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from reconciliation.amounts import first_bad, parse_amount_column
from reconciliation.errors import StatementError
from reconciliation.readers.common import (
    NotPlainLines,
    chunks,
    collect,
    kind_of_upper,
    line_pieces,
    lines_of,
    reference_of_upper,
    upper_of,
)
from reconciliation.schema import STATEMENT

_TAG = r"^:(\d{2}[A-Z]?):"
# The amount's whole rupiah and its fraction are groups of their own: the shape is checked as one
_ENTRY = (
    r"^(?P<date_text>\d{6})(?:\d{4})?(?P<mark>RC|RD|C|D)(?:[A-Z])?(?P<whole>\d+),(?P<sen>\d{0,2})"
    r"(?:[SNF][A-Z0-9]{3})(?P<customer_ref>[^/]{0,16})(?://(?P<bank_ref>\S{1,16}))?$"
)
_BALANCE = r"^(C|D)(\d{6})([A-Z]{3})(\d+,\d{0,2})$"
_KNOWN = ["20", "21", "25", "28C", "60F", "60M", "61", "86", "62F", "62M", "64", "65"]
_SUMS = {
    "statement": pl.Int64,
    "piece": pl.Int64,
    "opening": pl.Int64,
    "closing": pl.Int64,
    "closing_line": pl.Int64,
    "moved": pl.Int64,
}


@dataclass
class _Progress:
    """What the pieces read so far carry to the next: statements begun, whether the first line was
    seen, pieces read, and per statement and piece the opening, closing and movements."""

    statements: int = 0
    started: bool = False
    pieces: int = 0
    sums: list[pl.DataFrame] = field(default_factory=list)


def read_mt940(path: Path) -> pl.DataFrame:
    return collect(iter_mt940(path))


def iter_mt940(path: Path) -> Iterator[pl.DataFrame | None]:
    """The statement lines piece by piece, in file order; the balances are checked after the last
    piece (a caller that writes pieces away keeps nothing of the file when this raises). A ``None``
    piece means "drop the pieces given so far": the file is read again by bytes, to name its bad
    line as the byte pieces do."""
    progress = _Progress()
    try:
        for lines in line_pieces(path, ":61:"):
            frame = _piece(lines, path, progress)
            if frame is not None and frame.height:
                yield frame
    except (NotPlainLines, StatementError):
        yield None
        progress = _Progress()
        for chunk in chunks(path, b"\n:61:"):
            frame = _piece(lines_of(chunk), path, progress)
            if frame is not None and frame.height:
                yield frame
    if not progress.started:
        raise StatementError(path, 0, "the file has no MT940 tags")
    _check_sums(pl.concat(progress.sums, how="vertical"), str(path))


def _tagged_lines(lines: pl.DataFrame, path: Path, progress: _Progress) -> pl.DataFrame | None:
    """The lines that are not blank, an envelope (``{``) or a trailer (``-``), with their ``tag``
    (null on a continuation line). Nearly every line is a ``:61:`` or an ``:86:``: only the others
    go through the tag's regular expression."""
    text = pl.col("text")
    if not lines["text"].str.starts_with(":").fill_null(False).all():
        lines = lines.filter(
            text.str.contains(r"\S").fill_null(False)
            & ~text.str.starts_with("{")
            & ~text.str.starts_with("-")
        )
    if lines.height == 0:
        return None
    tag = lines.select(
        pl.when(text.str.starts_with(":61:"))
        .then(pl.lit("61"))
        .when(text.str.starts_with(":86:"))
        .then(pl.lit("86"))
        .alias("tag")
    ).to_series()
    other = tag.is_null().arg_true()
    if other.len():
        tag = tag.scatter(other, lines["text"].gather(other).str.extract(_TAG, 1))
    lines = lines.with_columns(tag=tag)
    if not progress.started:
        first = lines.row(0, named=True)
        if first["tag"] != "20":
            raise StatementError(path, int(first["line_no"]), "an MT940 statement starts with :20:")
        progress.started = True
    first_bad(
        lines[other],
        pl.col("tag").is_not_null() & ~pl.col("tag").is_in(_KNOWN),
        str(path),
        pl.format("unknown MT940 tag :{}:", pl.col("tag")),
    )
    return lines


def _blocks(lines: pl.DataFrame, progress: _Progress) -> tuple[pl.DataFrame, bool]:
    """One row per tag: its line, tag and ``text`` (the tag's line as written), ``more`` (its
    continuation lines joined as written), its statement, and the next tag's (``next_tag``,
    ``next_text``, ``next_more``: the ``:86:`` of a ``:61:``); and whether any block has more."""
    tagged = pl.col("tag").is_not_null()
    continued = lines["tag"].null_count() > 0
    if continued:
        # Continuation lines are rare: they are joined per block and put beside their tag's line.
        numbered = lines.with_columns(block=tagged.cum_sum())
        more = (
            numbered.filter(~tagged)
            .group_by("block")
            .agg(pl.col("text").str.join("").alias("more"))
        )
        blocks = (
            numbered.filter(tagged)
            .join(more, on="block", how="left", maintain_order="left")
            .drop("block")
        )
    else:
        blocks = lines.with_columns(more=pl.lit(None, pl.String))
    blocks = blocks.with_columns(
        statement=(pl.col("tag") == "20").cum_sum().cast(pl.Int64) + progress.statements,
        next_tag=pl.col("tag").shift(-1),
        next_text=pl.col("text").shift(-1),
        next_more=pl.col("more").shift(-1),
    )
    last = blocks["statement"].max()
    progress.statements = last if isinstance(last, int) else progress.statements
    return blocks, continued


def _piece(lines: pl.DataFrame, path: Path, progress: _Progress) -> pl.DataFrame | None:
    where = str(path)
    tagged = _tagged_lines(lines, path, progress)
    if tagged is None:
        return None
    blocks, continued = _blocks(tagged, progress)
    # the :86: after a :61: is its remark: its first line without the tag, and its continuation
    remark = pl.col("next_text").str.slice(4)
    if continued:
        remark = pl.concat_str([remark, pl.col("next_more").fill_null("")])
    parts = (
        blocks.filter(pl.col("tag") == "61")
        .select(
            "line_no",
            "statement",
            "text",
            remark=pl.when(pl.col("next_tag") == "86").then(remark.str.strip_chars()),
            _e=pl.col("text").str.extract_groups(":61:" + _ENTRY.removeprefix("^")),
        )
        .unnest("_e")
        .with_columns(
            value_date=pl.col("date_text").str.strptime(pl.Date, "%y%m%d", strict=False),
            amount=pl.col("whole").cast(pl.Int64, strict=False),
            customer_ref=pl.col("customer_ref").str.strip_chars(),
        )
    )
    sen = pl.col("sen")
    odd = parts.select(
        pl.col("date_text").is_null().any(),
        pl.col("value_date").is_null().any(),
        ((sen != "") & (sen != "0") & (sen != "00")).any(),
        (pl.col("whole").str.len_bytes() > 16).any(),
        (pl.col("amount") <= 0).any(),
    ).row(0)
    if any(odd):
        parts = _checked(parts, where)
    balances = blocks.filter(pl.col("tag").is_in(["60F", "60M", "62F", "62M"])).select(
        "line_no",
        "statement",
        "tag",
        head=pl.col("text").str.slice(pl.col("tag").str.len_bytes() + 2),
    )
    progress.sums.append(_sums(balances, parts, where, progress.pieces))
    progress.pieces += 1
    return _canonical(parts, where)


def _checked(parts: pl.DataFrame, where: str) -> pl.DataFrame:
    """The checks of a piece one by one, in order, naming the first bad line: for a piece whose
    cheap checks found something (a long amount with leading zeros may still be a good one)."""
    parts = parts.with_columns(head=pl.col("text").str.slice(4))
    first_bad(
        parts,
        ~pl.col("head").str.contains(_ENTRY),
        where,
        pl.format(
            ":61: {} is not YYMMDD[MMDD]D|C|RD|RCamount,TTTT[ref][//bankref]", pl.col("head")
        ),
    )
    first_bad(
        parts,
        pl.col("value_date").is_null(),
        where,
        pl.format(":61: value date {} is not a date", pl.col("date_text")),
    )
    texts = parts.with_columns(amount_text=pl.format("{},{}", "whole", "sen"))
    amount = parse_amount_column(texts, "amount_text", "mt940", where, field=":61: amount")
    first_bad(
        texts.with_columns(amount_text=amount),
        pl.col("amount_text") <= 0,
        where,
        pl.lit(":61: amount is zero"),
    )
    return parts.with_columns(amount=amount)


def _canonical(parts: pl.DataFrame, where: str) -> pl.DataFrame:
    remark = pl.col("remark").fill_null(pl.col("customer_ref"))
    upper = pl.col("_upper")
    out = (
        parts.lazy()
        .with_columns(remark=remark, _upper=upper_of(remark))
        .select(
            source=pl.lit("bank"),
            file=pl.lit(where),
            line_no=pl.col("line_no"),
            value_date=pl.col("value_date"),
            direction=pl.when(pl.col("mark").is_in(["D", "RC"]))
            .then(pl.lit("D"))
            .otherwise(pl.lit("C")),
            amount=pl.col("amount"),
            fee=pl.lit(0, pl.Int64),
            kind=pl.when(pl.col("mark").str.starts_with("R"))
            .then(pl.lit("return"))
            .otherwise(kind_of_upper(upper)),
            reference=pl.lit(None, pl.String),
            remark=pl.col("remark"),
            counterparty_account=upper.str.extract(r"REK:(\d+)", 1),
            counterparty_bank=upper.str.extract(r"BANK:(\w+)", 1),
            bank_ref=pl.col("bank_ref"),
            batch_id=pl.lit(None, pl.String),
            _upper=upper,
        )
        .with_columns(reference=reference_of_upper(upper, pl.col("kind")))
    )
    return out.select(pl.col(n).cast(t) for n, t in STATEMENT.items()).collect()


def _sums(balances: pl.DataFrame, entries: pl.DataFrame, where: str, piece: int) -> pl.DataFrame:
    """Per statement of the piece: its first opening and last closing balance (signed, with the
    closing's line) and the sum of its movements; the balance lines (``head``: the tag removed)
    are checked here."""
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
    opening = pl.col("value").filter(pl.col("tag").str.starts_with("60"))
    closing = pl.col("tag").str.starts_with("62")
    ends = signed.group_by("statement").agg(
        opening=opening.first(),
        closing=pl.col("value").filter(closing).last(),
        closing_line=pl.col("line_no").filter(closing).last(),
    )
    moves = entries.group_by("statement").agg(
        moved=pl.when(pl.col("mark").is_in(["C", "RD"]))
        .then(pl.col("amount"))
        .otherwise(-pl.col("amount"))
        .sum()
    )
    return (
        ends.join(moves, on="statement", how="full", coalesce=True)
        .with_columns(piece=pl.lit(piece, pl.Int64))
        .select(pl.col(n).cast(t) for n, t in _SUMS.items())
    )


def _check_sums(sums: pl.DataFrame, where: str) -> None:
    """Each statement with a closing balance: opening + movements = closing, over all pieces."""
    check = (
        sums.sort("statement", "piece")
        .group_by("statement", maintain_order=True)
        .agg(
            pl.col("opening").drop_nulls().first(),
            pl.col("closing").drop_nulls().last(),
            line_no=pl.col("closing_line").drop_nulls().last(),
            moved=pl.col("moved").sum(),
        )
        .filter(pl.col("closing").is_not_null())
    )
    first_bad(
        check,
        pl.col("opening").is_null() | (pl.col("opening") + pl.col("moved") != pl.col("closing")),
        where,
        pl.format(
            "closing balance {} is not opening {} + movements {}",
            pl.col("closing"),
            pl.col("opening"),
            pl.col("moved"),
        ),
    )
