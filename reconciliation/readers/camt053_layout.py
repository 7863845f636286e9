"""The fast path of the camt.053 reader: the usual layout of an entry, read with one regular
expression per ``Ntry`` over a piece of the file, in Polars (no XML parser, no Python loop per entry).

An entry takes the fast path only when all of it has a shape written out below, element by element
in the order of the camt.053 schema (``NtryRef``, ``Amt``, ``CdtDbtInd``, ``RvslInd``, ``Sts``,
``BookgDt``, ``ValDt``, ``AcctSvcrRef``, ``BkTxCd``, one ``NtryDtls/TxDtls`` with ``Refs``,
``RltdPties``, ``RltdAgts``, ``RmtInf``, then ``AddtlNtryInf``), any whitespace between elements, no
namespace prefix, comment, CDATA or character reference anywhere in the piece. Because the shape names
every element and its parent, each captured field is exactly the element the XML reader's path rules
pick (``camt053._FIELDS``: the first one in document order). Anything else (another element, another
order, a second ``TxDtls``) is ``NotTheLayout``, and the caller reads the whole file with the XML
parser instead: a file is never half read one way and half the other.

The optional C accelerator ``_camt053_scan`` (built by ``pip install -e .`` where a C compiler is
found) reads a piece of this layout in one pass over each entry (``scanned``); it accepts a strict
subset of what the patterns below accept and declines a piece it is not certain of, which is then
read by the patterns. Without it, every piece is read by the patterns: the same rows either way.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import polars as pl

from reconciliation.readers.common import Chunk

Scan = Callable[[str, int, bool], "tuple[bytes, int, int] | None"]
accelerator: Scan | None
try:
    from reconciliation.readers._camt053_scan import scan as accelerator
except ImportError:  # not built (no C compiler at install time): the Polars patterns read it all
    accelerator = None


class NotTheLayout(Exception):
    """The piece does not have the layout the fast path reads: read the file with the XML parser."""


_S = r"\s*"
_ATTRS = r"(?:\s[^<>]*[^<>/])?"  # attributes (only ``Amt`` has one), never a self-closing tag


def _leaf(name: str, capture: bool = False) -> str:
    text = "([^<]*)" if capture else "[^<]*"
    attrs = _ATTRS if name == "Amt" else ""
    return rf"<{name}{attrs}>{text}</{name}>{_S}"


def _any_leaf(*names: str) -> str:
    """Zero or more leaves of these names, in any order, none captured."""
    return "(?:" + "|".join(_leaf(n) for n in names) + ")*"


def _wrap(name: str, inner: str) -> str:
    return rf"<{name}>{_S}(?:{inner})</{name}>{_S}"


def _opt(pattern: str) -> str:
    return f"(?:{pattern})?"


_DATE = _leaf("Dt", True) + "|" + _leaf("DtTm", True)
_SCHEME = _opt(_wrap("SchmeNm", _leaf("Cd") + "|" + _leaf("Prtry"))) + _opt(_leaf("Issr"))


def _account(name: str) -> str:
    """``<CdtrAcct><Id><Othr><Id>x`` (group 1) or ``<Id><IBAN>x`` (group 2)."""
    other = _wrap("Othr", _leaf("Id", True) + _SCHEME)
    ident = _wrap("Id", f"(?:{_leaf('IBAN', True)}|{other})")
    return _opt(_wrap(name, ident + _any_leaf("Ccy", "Nm")))


def _agent(name: str) -> str:
    """``BICFI`` (group 1), ``ClrSysMmbId/MmbId`` (group 2)."""
    clearing = _wrap(
        "ClrSysMmbId",
        _opt(_wrap("ClrSysId", _leaf("Cd") + "|" + _leaf("Prtry"))) + _leaf("MmbId", True),
    )
    inner = _opt(_leaf("BICFI", True)) + _opt(_leaf("BIC")) + _opt(clearing) + _any_leaf("Nm")
    return _opt(_wrap(name, _wrap("FinInstnId", inner)))


def _party(name: str) -> str:
    return _opt(_wrap(name, _opt(_wrap("Pty", _any_leaf("Nm"))) + _any_leaf("Nm")))


_REFS = _opt(
    _wrap(
        "Refs",
        # not AcctSvcrRef: the one of the entry is the only one the layout has
        _any_leaf("MsgId", "PmtInfId", "InstrId")
        + _opt(_leaf("EndToEndId", True))
        + _any_leaf("UETR", "TxId", "MndtId", "ChqNb", "ClrSysRef", "AcctOwnrTxId", "AcctSvcrTxId"),
    )
)
_TX = _wrap(
    "TxDtls",
    _REFS
    + _opt(
        _wrap(
            "RltdPties",
            _party("Dbtr") + _account("DbtrAcct") + _party("Cdtr") + _account("CdtrAcct"),
        )
    )
    + _opt(_wrap("RltdAgts", _agent("DbtrAgt") + _agent("CdtrAgt")))
    + _opt(_wrap("RmtInf", _leaf("Ustrd", True) + _any_leaf("Ustrd"))),
)
_BKTXCD = _wrap(
    "BkTxCd",
    _opt(_wrap("Domn", _leaf("Cd") + _wrap("Fmly", _leaf("Cd") + _leaf("SubFmlyCd", True))))
    + _opt(_wrap("Prtry", _leaf("Cd") + _opt(_leaf("Issr")))),
)
_STATUS = _leaf("Sts") + "|" + _wrap("Sts", _leaf("Cd") + "|" + _leaf("Prtry"))
ENTRY = (
    rf"^{_S}"
    + _opt(_leaf("NtryRef"))
    + _leaf("Amt", True)
    + _leaf("CdtDbtInd", True)
    + _opt(_leaf("RvslInd", True))
    + f"(?:{_STATUS})"
    + _opt(_wrap("BookgDt", _leaf("Dt", True) + "|" + _leaf("DtTm")))
    + _opt(_wrap("ValDt", _DATE))
    + _opt(_leaf("AcctSvcrRef", True))
    + _BKTXCD
    + _opt(_wrap("NtryDtls", _TX))
    + _opt(_leaf("AddtlNtryInf", True))
    + "$"
)
# Once an entry is known to be in the layout, each field is the first match of a small pattern that
# names the element's parents as the layout does (a name that occurs in two places, like ``Dt`` or
# ``Id``, is named with its parents): small patterns with a literal start are much faster than one
# pattern with twenty groups. A field of two patterns takes the first that is set (``BICFI`` before
# ``ClrSysMmbId``, as the schema orders them and the XML reader takes the first that ends).
_CLEARING = (
    r"(?:<BIC>[^<]*</BIC>\s*)?<ClrSysMmbId>\s*"
    r"(?:<ClrSysId>\s*<(?:Cd|Prtry)>[^<]*</(?:Cd|Prtry)>\s*</ClrSysId>\s*)?<MmbId>([^<]*)</MmbId>"
)
# Fields of the entry's head (before ``<NtryDtls>``) and of its details, each looked for in its part
# only, so each pattern scans about half the entry. ``AddtlNtryInf`` follows ``NtryDtls``, or is in
# the head when there are no details.
HEAD = ("amount_text", "cdi", "reversal", "booking_date", "value_date", "bank_ref", "subfamily")
FIELDS: dict[str, list[str]] = {
    "amount_text": [r"<Amt(?:\s[^<>]*)?>([^<]*)</Amt>"],
    "cdi": [r"<CdtDbtInd>([^<]*)</CdtDbtInd>"],
    "reversal": [r"<RvslInd>([^<]*)</RvslInd>"],
    "booking_date": [r"<BookgDt>\s*<Dt>([^<]*)</Dt>"],
    "value_date": [r"<ValDt>\s*<Dt>([^<]*)</Dt>", r"<ValDt>\s*<DtTm>([^<]*)</DtTm>"],
    "bank_ref": [r"<AcctSvcrRef>([^<]*)</AcctSvcrRef>"],
    "subfamily": [r"<SubFmlyCd>([^<]*)</SubFmlyCd>"],
    "end_to_end": [r"<EndToEndId>([^<]*)</EndToEndId>"],
    "debtor_account": [r"<DbtrAcct>\s*<Id>\s*(?:<IBAN>|<Othr>\s*<Id>)([^<]*)</"],
    "creditor_account": [r"<CdtrAcct>\s*<Id>\s*(?:<IBAN>|<Othr>\s*<Id>)([^<]*)</"],
    "debtor_bank": [
        r"<DbtrAgt>\s*<FinInstnId>\s*<BICFI>([^<]*)</BICFI>",
        r"<DbtrAgt>\s*<FinInstnId>\s*(?:<BICFI>[^<]*</BICFI>\s*)?" + _CLEARING,
    ],
    "creditor_bank": [
        r"<CdtrAgt>\s*<FinInstnId>\s*<BICFI>([^<]*)</BICFI>",
        r"<CdtrAgt>\s*<FinInstnId>\s*(?:<BICFI>[^<]*</BICFI>\s*)?" + _CLEARING,
    ],
    "ustrd": [r"<Ustrd>([^<]*)</Ustrd>"],
    "addtl": [r"<AddtlNtryInf>([^<]*)</AddtlNtryInf>"],
}
_ENTITIES = r"&(?:amp|lt|gt|quot|apos);"
_ROOT = r"^\s*(?:<\?xml[^<>]*\?>\s*)?<Document[\s>]"


def _text(value: pl.Expr, plain: bool) -> pl.Expr:
    """A captured text node as the XML reader gives it: line ends normalised, the five predefined
    entities replaced (unless the piece has no ``&`` or carriage return: ``plain``), spaces around
    removed."""
    if plain:
        return value.str.strip_chars()
    return (
        value.str.replace_all("\r\n", "\n", literal=True)
        .str.replace_all("\r", "\n", literal=True)
        .str.replace_all("&lt;", "<", literal=True)
        .str.replace_all("&gt;", ">", literal=True)
        .str.replace_all("&quot;", '"', literal=True)
        .str.replace_all("&apos;", "'", literal=True)
        .str.replace_all("&amp;", "&", literal=True)
        .str.strip_chars()
    )


# The control characters XML 1.0 forbids anywhere (all below 0x20 but tab, line feed, carriage
# return): a piece holding one is left to the XML parser, which refuses the file.
_FORBIDDEN = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
# A carriage return without a line feed after it: a line end to the XML parser, not to the line
# count here (line feeds), so such a piece is left to the XML parser too: its line numbers are true.
_LONE_RETURN = r"\r(?:[^\n]|$)"


def _count(literal: str) -> pl.Expr:
    return pl.col("text").str.count_matches(literal, literal=True)


def check_piece(chunk: Chunk) -> tuple[pl.DataFrame, int, bool]:
    """The piece split at each ``<Ntry>`` (``piece``: 0 is what comes before the first; ``text``),
    and its start tags minus end tags (self-closing ones count as both; 0 over a file whose every
    element is closed), and whether it has no ``&`` at all. ``NotTheLayout`` if anything in it is
    outside what the fast path reads: a comment, CDATA, DTD or processing instruction (``<!``,
    ``<?``; the XML declaration is allowed at the start), a character reference, an entity other
    than the five predefined ones, an entry with attributes or a namespace prefix, a control
    character XML forbids, a carriage return that ends a line alone. Literal counts
    only: each is one fast scan."""
    text = pl.Series("text", [chunk.text], pl.String)
    piece = pl.DataFrame({"text": text})
    counts = piece.select(
        rare=pl.col("text").str.contains(rf"<!|<\?|&|:Ntry|{_FORBIDDEN}|{_LONE_RETURN}"),
        entries=pl.col("text").str.count_matches(r"<Ntry[\s/>]"),
        plain=_count("<Ntry>"),
        closed=_count("</Ntry>"),
        tags=_count("<"),
        ends=_count("</"),
        empty=_count("/>"),
    )
    rare, entries, plain, closed, tags, ends, empty = counts.row(0)
    odd, amps, entities = 0, 0, 0
    if rare:
        odd, amps, entities = piece.select(
            odd=_count("<!")
            + _count("<?")
            + _count("&#")
            + _count(":Ntry")
            + pl.col("text").str.count_matches(f"{_FORBIDDEN}|{_LONE_RETURN}"),
            amps=_count("&"),
            entities=pl.col("text").str.count_matches(_ENTITIES),
        ).row(0)
    # The XML declaration is the one processing instruction allowed, at the start of the file.
    declaration = 1 if chunk.index == 0 and chunk.text.lstrip().startswith("<?xml") else 0
    if odd != declaration or amps != entities or entries != plain or plain != closed:
        raise NotTheLayout("the piece holds XML the fast path does not read")
    pieces = text.str.split("<Ntry>").explode()
    if chunk.index == 0 and not pieces.head(1).str.contains(_ROOT).all():
        raise NotTheLayout("the root element is not a plain <Document>")
    balance = int(tags) - declaration - 2 * int(ends) - int(empty)
    return pl.DataFrame({"text": pieces}).with_row_index("piece"), balance, amps == 0


def entries_of(chunk: Chunk) -> tuple[pl.DataFrame, int]:
    """One row per entry of the piece: ``line_no`` (the line of its ``<Ntry>``) and the fields the XML
    reader collects, as strings, and the piece's tag balance (``check_piece``); ``NotTheLayout`` if
    one entry is not in the layout."""
    pieces, balance, no_entity = check_piece(chunk)
    plain = no_entity and "\r" not in chunk.text
    newlines = pl.col("text").str.count_matches("\n", literal=True)
    located = pieces.with_columns(
        line_no=(newlines.cum_sum().shift(1, fill_value=0) + chunk.first_line).cast(pl.Int64)
    ).filter(pl.col("piece") > 0)
    body = pl.col("text").str.split_exact("</Ntry>", 1).struct.field("field_0")
    entries = located.select("line_no", body.alias("body"))
    if not entries.select(pl.col("body").str.contains(ENTRY).all()).item():
        raise NotTheLayout("an entry is not in the layout")
    parts = pl.col("body").str.split_exact("<NtryDtls>", 1)
    entries = entries.select(
        "line_no",
        head=parts.struct.field("field_0"),
        details=parts.struct.field("field_1").fill_null(""),
    )

    def found(name: str, part: str) -> pl.Expr:
        return pl.coalesce(pl.col(part).str.extract(p, 1) for p in FIELDS[name])

    fields = {name: found(name, "head" if name in HEAD else "details") for name in FIELDS}
    fields["addtl"] = pl.coalesce(found("addtl", "details"), found("addtl", "head"))
    frame = entries.select("line_no", *(_text(v, plain).alias(n) for n, v in fields.items()))
    return frame, balance


# The columns of ``entries_of`` (and of the accelerator's rows, in this order).
_SCHEMA = {"line_no": pl.Int64} | dict.fromkeys(FIELDS, pl.String)


def scanned(chunk: Chunk, scan: Scan | None = None) -> tuple[pl.DataFrame, int] | None:
    """``entries_of(chunk)`` by the C accelerator (``scan``, the built one by default): the same
    frame and tag balance, or None when it is not built or declines the piece (then the piece is
    for ``entries_of``). Its rows are read by Polars' CSV reader: fields separated by ``\x1f``, an
    absent one written ``\x1e``, no quoting (a value never holds a control character)."""
    scan = scan or accelerator
    found = scan(chunk.text, chunk.first_line, chunk.index == 0) if scan else None
    if found is None:
        return None
    rows, entries, balance = found
    if entries == 0:
        return pl.DataFrame(schema=_SCHEMA), balance
    frame = pl.read_csv(
        io.BytesIO(rows),
        has_header=False,
        separator="\x1f",
        quote_char=None,
        null_values="\x1e",
        empty_string_is_null=False,
        schema=_SCHEMA,
    )
    return frame, balance
