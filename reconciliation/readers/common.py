"""Pieces every text reader shares: lines with their numbers, fields, dates, kinds and references."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reconciliation.amounts import first_bad
from reconciliation.errors import StatementError

# Words a bank puts before the document reference in a remark; they are skipped.
LEAD_WORDS = r"(?:TRF|TRANSFER|PEMBAYARAN|BAYAR|PB|PEMINDAHBUKUAN|RETUR|RETURN|RTR|TOLAKAN|KE|DARI)"
REFERENCE = rf"^(?:{LEAD_WORDS}\s+)*(\S+)"
# The shape of a kasda reference: an SP2D number (``32.73/00001/SP2D-LS/BUD/2026``), a payout
# reference (``ksd...01``, ``IRIS-0000000042``), an order id (``PBJT-0000000007``), a batch id
# (``IRIS20261121``): 3..64 letters, digits and ``. / _ -``, with at least one digit. The first word
# of free text (``CV``, ``PT``, ``TRF``, ``REK``) is not one, so it is never read as a reference.
REFERENCE_SHAPE = r"^[A-Z0-9][A-Z0-9./_\-]{2,63}$"
RETURN = r"^(?:RETUR|RETURN|RTR|TOLAKAN)\b"
FEE = r"^(?:BIAYA|ADM|ADMIN|PROVISI|CHARGE|FEE)\b"
INTEREST = r"^(?:BUNGA|JASA GIRO|INTEREST|PAJAK BUNGA)\b"


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


def split_fields(
    lines: pl.DataFrame, separator: str, names: list[str], path: str, *, header: bool = True
) -> pl.DataFrame:
    """Split delimited lines into string columns ``names`` (plus ``line_no``). The first line must
    be the header (case and spaces ignored) when ``header``. Fields never contain the separator;
    surrounding double quotes and spaces are removed."""
    if lines.height == 0:
        raise StatementError(path, 0, "the file is empty")
    if header:
        first = lines.row(0, named=True)
        found = [f.strip().strip('"').strip().lower() for f in str(first["text"]).split(separator)]
        if found != [n.lower() for n in names]:
            raise StatementError(
                path,
                int(first["line_no"]),
                f"header is {separator.join(found)!r}, expected {separator.join(names)!r}",
            )
        lines = lines.slice(1)
    count = pl.col("text").str.count_matches(separator, literal=True) + 1
    first_bad(
        lines,
        count != len(names),
        path,
        pl.format(
            "expected {} fields separated by {}, found {}",
            pl.lit(len(names)),
            pl.lit(repr(separator)),
            count,
        ),
    )
    fields = pl.col("text").str.split(separator, inclusive=False).list.to_struct(fields=names)
    return (
        lines.select("line_no", fields.alias("_f"))
        .unnest("_f")
        .with_columns(pl.col(n).str.strip_chars(' "').str.strip_chars() for n in names)
    )


def parse_dates(frame: pl.DataFrame, column: str, fmt: str, path: str) -> pl.Series:
    """The column as ``Date`` with strftime format ``fmt``; an empty or wrong date is refused."""
    parsed = pl.col(column).str.strptime(pl.Date, fmt, strict=False)
    first_bad(
        frame,
        parsed.is_null(),
        path,
        pl.format(
            "{} {} is not a date in the format {}", pl.lit(column), pl.col(column), pl.lit(fmt)
        ),
    )
    return frame.select(parsed.alias(column)).to_series()


def kind_of(remark: pl.Expr) -> pl.Expr:
    """``return``, ``fee``, ``interest`` or ``transfer`` from the start of a remark."""
    upper = remark.fill_null("").str.strip_chars().str.to_uppercase()
    return (
        pl.when(upper.str.contains(RETURN))
        .then(pl.lit("return"))
        .when(upper.str.contains(FEE))
        .then(pl.lit("fee"))
        .when(upper.str.contains(INTEREST))
        .then(pl.lit("interest"))
        .otherwise(pl.lit("transfer"))
    )


def shaped_reference(token: pl.Expr) -> pl.Expr:
    """The token, upper case, if it has the shape of a kasda reference (``REFERENCE_SHAPE``); else
    null."""
    upper = token.str.strip_chars().str.to_uppercase()
    return pl.when(upper.str.contains(REFERENCE_SHAPE) & upper.str.contains(r"\d")).then(upper)


def reference_of(remark: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The document reference: the first token of the remark after the lead words, when it has the
    shape of a kasda reference (none for fees and interest)."""
    upper = remark.fill_null("").str.strip_chars().str.to_uppercase()
    return (
        pl.when(kind.is_in(["fee", "interest"]))
        .then(None)
        .otherwise(shaped_reference(upper.str.extract(REFERENCE, 1)))
    )
