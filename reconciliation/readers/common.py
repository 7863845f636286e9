"""Pieces every text reader shares: lines with their numbers, fields, dates, kinds and references."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from reconciliation.amounts import first_bad
from reconciliation.errors import StatementError
from reconciliation.schema import STATEMENT

# Words a bank puts before the document reference in a remark; they are skipped.
LEAD_WORDS = r"(?:TRF|TRANSFER|PEMBAYARAN|BAYAR|PB|PEMINDAHBUKUAN|RETUR|RETURN|RTR|TOLAKAN|KE|DARI)"
REFERENCE = rf"^(?:{LEAD_WORDS}\s+)*(\S+)"
# The shape of a kasda reference: an SP2D number (``32.73/00001/SP2D-LS/BUD/2026``), a payout
# reference (``ksd...01``, ``IRIS-0000000042``), an order id (``PBJT-0000000007``), a batch id
# (``IRIS20261121``): 3..64 letters, digits and ``. / _ -``, with at least one digit. The first word
# of free text (``CV``, ``PT``, ``TRF``, ``REK``) is not one, so it is never read as a reference.
REFERENCE_SHAPE = r"^[A-Z0-9][A-Z0-9./_\-]{2,63}$"
# ``REFERENCE``'s token without a capture group (``str.extract`` is several times slower): the lead
# words removed (a remark is stripped, so what is left starts with the token), the token's shape
# checked where it stands, and only then cut at its end. A word of the shape is ASCII, so the byte
# offset of the space after it is its length in characters.
_LEADING = rf"^(?:{LEAD_WORDS}\s+)+"
_SHAPED_WORD = REFERENCE_SHAPE.removesuffix("$") + r"(?:\s|$)"
_DIGIT_IN_WORD = r"^[A-Z0-9./_\-]*[0-9]"
RETURN = r"^(?:RETUR|RETURN|RTR|TOLAKAN)\b"
FEE = r"^(?:BIAYA|ADM|ADMIN|PROVISI|CHARGE|FEE)\b"
INTEREST = r"^(?:BUNGA|JASA GIRO|INTEREST|PAJAK BUNGA)\b"


# A statement is read in pieces of about this many bytes, so a file of any size is read in bounded
# memory: 32 MiB is about 400k MT940 lines, and its frames stay well under 0.5 GiB.
CHUNK_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a file, decoded: ``text`` starts on line ``first_line`` (1-based) of the file;
    ``index`` is its place in the file (0 for the first)."""

    text: str
    first_line: int
    index: int


_BOM = b"\xef\xbb\xbf"


def _decode(raw: memoryview, encoding: str, path: Path, first_line: int) -> str:
    try:
        # the BOM is removed from the first piece by ``chunks``; later pieces have none to remove
        return codecs.decode(raw, "utf-8" if encoding == "utf-8-sig" else encoding)
    except UnicodeDecodeError as error:
        line = first_line + bytes(raw[: error.start]).count(b"\n")
        raise StatementError(path, line, f"not {encoding} text: {error.reason}") from None


def chunks(
    path: Path, cut_before: bytes, encoding: str = "utf-8-sig", size: int | None = None
) -> Iterator[Chunk]:
    """The file in pieces of about ``size`` bytes, each piece (but the first) starting exactly at an
    occurrence of ``cut_before`` (an ASCII marker such as ``b"\\n:61:"``'s ``:61:``: the cut is made
    after the marker's leading newline, if it has one), so a reader never sees a record split in two.
    A piece grows until it holds a marker. Only bytes are searched here: no loop over lines. What
    follows a cut is read again with the next block (a seek back), so a block is never copied."""
    skip = cut_before.startswith(b"\n")
    size = size or CHUNK_BYTES  # read when called, so a test can make the pieces small
    if "\n:<>".encode(encoding.replace("-sig", "")) != b"\n:<>":
        size = -1  # markers are searched as bytes: a wide encoding is read in one piece
    first_line, index, rest, again = 1, 0, b"", 0
    try:
        with path.open("rb") as handle:
            while True:
                block = handle.read(size + again if size > 0 else size)
                buffer = rest + block if rest else block
                at = buffer.rfind(cut_before) if block else -1
                if block and at <= 0:
                    rest, again = buffer, 0  # no marker yet: read on
                    continue
                cut = len(buffer) if not block else at + (1 if skip else 0)
                again = len(buffer) - cut  # read again with the next block
                handle.seek(-again, io.SEEK_CUR)
                rest, piece = b"", memoryview(buffer)[:cut]
                if index == 0 and encoding == "utf-8-sig" and buffer.startswith(_BOM):
                    piece = piece[len(_BOM) :]
                text = _decode(piece, encoding, path, first_line)
                yield Chunk(text, first_line, index)
                first_line += newlines(buffer, cut)
                index += 1
                if not block:
                    return
    except OSError as error:
        raise StatementError(path, 0, f"cannot read the file: {error.strerror or error}") from None


def newlines(buffer: bytes, end: int) -> int:
    """The line feeds in ``buffer[:end]``, counted by numpy a MiB at a time: twice as fast as
    ``bytes.count`` (a byte loop), which took a tenth of the camt.053 reader's time."""
    data = np.frombuffer(buffer, np.uint8, end)
    step = 1 << 20
    return sum(int(np.count_nonzero(data[at : at + step] == 10)) for at in range(0, end, step))


class NotPlainLines(Exception):
    """Polars' CSV reader could not split the file into lines (not UTF-8, a line holding the
    separator, an empty or unreadable file): read it by bytes (``chunks`` and ``lines_of``), which
    names the line."""


# The separator of the one-column CSV a text file is read as (a control character text files do
# not hold), and the bytes of a statement line, about (to turn ``CHUNK_BYTES`` into rows).
_SEPARATOR = "\x1f"
LINE_BYTES = 64


def line_pieces(path: Path, cut_before: str, size: int | None = None) -> Iterator[pl.DataFrame]:
    """The lines of a UTF-8 file with their 1-based numbers (``line_no``, ``text``; an empty line is
    null, a blank one kept) in pieces of about ``size`` bytes, each piece but the first starting with
    a line that starts with ``cut_before`` (a piece grows until it holds one). Polars' CSV reader
    streams them from the file itself, in parallel and without a copy through Python: the lines are
    those ``chunks`` and ``lines_of`` give. Raises ``NotPlainLines`` where Polars cannot split it."""
    rows = max(1, (size or CHUNK_BYTES) // LINE_BYTES)
    scan = pl.scan_csv(
        path, has_header=False, separator=_SEPARATOR, quote_char=None, schema={"text": pl.String}
    ).with_row_index("line_no", offset=1)
    carry: pl.DataFrame | None = None
    try:
        for read in scan.collect_batches(chunk_size=rows):
            batch = read.with_columns(pl.col("line_no").cast(pl.Int64))
            if carry is not None:
                batch = pl.concat([carry, batch], how="vertical", rechunk=False)
            at = _last_start(batch, cut_before)
            if at <= 0:
                carry = batch  # no line to cut before yet: read on
                continue
            yield batch.slice(0, at)
            carry = batch.slice(at)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise NotPlainLines(str(error)) from None
    if carry is not None and carry.height:
        yield carry


def _last_start(batch: pl.DataFrame, start: str) -> int:
    """The row of the last line that starts with ``start`` (-1: none); the end is searched first."""
    for tail in (1024, batch.height):
        rows = batch.tail(tail)
        found = rows["text"].str.starts_with(start).fill_null(False)
        if found.any():
            return batch.height - rows.height + int(found.arg_true()[-1])
    return -1


def lines_of(chunk: Chunk) -> pl.DataFrame:
    """The lines of a piece with their 1-based numbers (``line_no``, ``text``); blank lines removed.
    Polars' CSV reader splits them (one column, no quoting, a separator that text files do not hold:
    it keeps empty lines, as nulls, and removes the ``\\r`` of a CRLF); a line that holds the
    separator after all is split by Polars' string split instead."""
    try:
        column = pl.read_csv(
            io.BytesIO(chunk.text.encode()),
            has_header=False,
            separator=_SEPARATOR,
            quote_char=None,
            schema={"text": pl.String},
        )["text"]
    except pl.exceptions.PolarsError:
        column = pl.Series("text", [chunk.text]).str.split("\n").explode().str.strip_suffix("\r")
    return (
        column.to_frame()
        .with_row_index("line_no", offset=chunk.first_line)
        .with_columns(pl.col("line_no").cast(pl.Int64))
        .filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    )


# A reader's lines piece by piece; a ``None`` piece means "drop every piece given so far".
Pieces = Iterator[pl.DataFrame | None]


def collect(pieces: Pieces) -> pl.DataFrame:
    """Every piece, as one frame (a ``None`` piece drops the ones before it)."""
    parts: list[pl.DataFrame] = []
    for piece in pieces:
        if piece is None:
            parts.clear()
        else:
            parts.append(piece)
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=STATEMENT)


def read_lines(path: Path, encoding: str = "utf-8-sig") -> pl.DataFrame:
    """Every line of the file with its 1-based number (``line_no``, ``text``); blank lines removed."""
    parts = [lines_of(c) for c in chunks(path, b"\n", encoding)]
    return pl.concat(parts, how="vertical", rechunk=False)


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


def upper_of(remark: pl.Expr) -> pl.Expr:
    """The remark as the rules below read it: trimmed, upper case, "" for none. A reader computes it
    once as a column and passes it to ``kind_of_upper`` and ``reference_of_upper``."""
    return remark.fill_null("").str.strip_chars().str.to_uppercase()


def kind_of(remark: pl.Expr) -> pl.Expr:
    """``return``, ``fee``, ``interest`` or ``transfer`` from the start of a remark."""
    return kind_of_upper(upper_of(remark))


def kind_of_upper(upper: pl.Expr) -> pl.Expr:
    """``kind_of`` of a remark already through ``upper_of``."""
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
    return reference_of_upper(upper_of(remark), kind)


def reference_of_upper(upper: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """``reference_of`` of a remark already through ``upper_of``."""
    rest = upper.str.replace(_LEADING, "")
    shaped = rest.str.contains(_SHAPED_WORD) & rest.str.contains(_DIGIT_IN_WORD)
    token = rest.str.head(rest.str.find(r"\s").fill_null(64))
    return pl.when(kind.is_in(["fee", "interest"])).then(None).when(shaped).then(token)
