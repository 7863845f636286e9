"""ISO 20022 camt.053 (BankToCustomerStatement), any version (namespaces are ignored).

One canonical line per ``Ntry``: ``Amt`` (dot decimal, e.g. ``98000000.00``), ``CdtDbtInd``
(``DBIT``/``CRDT``), ``RvslInd`` (true: a return), ``ValDt/Dt`` (else ``BookgDt/Dt``),
``AcctSvcrRef`` (bank_ref), ``NtryDtls/TxDtls/Refs/EndToEndId`` (the reference, unless
``NOTPROVIDED``), ``RmtInf/Ustrd`` or ``AddtlNtryInf`` (the remark; its first token is the reference
when there is no EndToEndId), the counterparty account (``CdtrAcct`` for a debit, ``DbtrAcct`` for a
credit: ``Id/Othr/Id`` or ``Id/IBAN``) and bank (``ClrSysMmbId/MmbId`` or ``BICFI`` of the agent),
and ``BkTxCd`` sub-family ``CHRG`` (fee) or ``INTR`` (interest).

A file in the usual layout (``camt053_layout``: every entry in a shape the fast path knows) is read
in pieces of about ``common.CHUNK_BYTES``, cut just before a ``<Ntry>``, each piece with vectorised
Polars expressions: memory is bounded by the piece. Any other file is parsed whole with the standard
library's expat (no external entities are fetched), as it always was; both keep the line each entry
starts on and give the same rows. The fast path runs no XML parser over the file: it checks that no
element is left open (start tags = end tags) and that the file ends with ``</Document>``, and when it
finds a bad line it asks expat, without building anything, whether the XML is well-formed, so a file
with broken XML is refused for that, at the same line, by either path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.parsers import expat

import polars as pl

from reconciliation.amounts import first_bad, parse_amount_column
from reconciliation.errors import StatementError
from reconciliation.readers.camt053_layout import NotTheLayout, entries_of, scanned
from reconciliation.readers.common import (
    Chunk,
    chunks,
    collect,
    kind_of_upper,
    reference_of_upper,
    shaped_reference,
    upper_of,
)
from reconciliation.schema import STATEMENT

# Path suffix inside an Ntry -> field. The first match wins for each field.
_FIELDS: list[tuple[tuple[str, ...], str]] = [
    (("Ntry", "Amt"), "amount_text"),
    (("Ntry", "CdtDbtInd"), "cdi"),
    (("Ntry", "RvslInd"), "reversal"),
    (("ValDt", "Dt"), "value_date"),
    (("ValDt", "DtTm"), "value_date"),
    (("BookgDt", "Dt"), "booking_date"),
    (("Ntry", "AcctSvcrRef"), "bank_ref"),
    (("Refs", "EndToEndId"), "end_to_end"),
    (("RmtInf", "Ustrd"), "ustrd"),
    (("Ntry", "AddtlNtryInf"), "addtl"),
    (("CdtrAcct", "Id", "Othr", "Id"), "creditor_account"),
    (("CdtrAcct", "Id", "IBAN"), "creditor_account"),
    (("DbtrAcct", "Id", "Othr", "Id"), "debtor_account"),
    (("DbtrAcct", "Id", "IBAN"), "debtor_account"),
    (("CdtrAgt", "FinInstnId", "ClrSysMmbId", "MmbId"), "creditor_bank"),
    (("CdtrAgt", "FinInstnId", "BICFI"), "creditor_bank"),
    (("DbtrAgt", "FinInstnId", "ClrSysMmbId", "MmbId"), "debtor_bank"),
    (("DbtrAgt", "FinInstnId", "BICFI"), "debtor_bank"),
    (("BkTxCd", "Domn", "Fmly", "SubFmlyCd"), "subfamily"),
]
_COLUMNS = sorted({name for _, name in _FIELDS} | {"line_no"})
# Last element name -> the (suffix, field) pairs ending in it, so most elements cost one dict lookup.
_BY_LAST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _suffix, _field in _FIELDS:
    _BY_LAST.setdefault(_suffix[-1], []).append((_suffix, _field))


class _Collector:
    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.stack: list[str] = []
        self.text = ""
        self.entry: dict[str, Any] | None = None
        self.entries: list[dict[str, Any]] = []
        self.root: str | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition("}")[2]
        if self.root is None:
            self.root = local
        self.stack.append(local)
        self.text = ""
        if local == "Ntry":
            self.entry = {"line_no": self.parser.CurrentLineNumber}

    def data(self, chunk: str) -> None:
        self.text += chunk

    def end(self, name: str) -> None:
        local = self.stack.pop()
        entry = self.entry
        if entry is None:
            return
        if local == "Ntry":
            self.entries.append(entry)
            self.entry = None
            return
        candidates = _BY_LAST.get(local)
        if candidates:
            stack = self.stack
            for suffix, field in candidates:
                # the suffix ends with ``local``, which was just popped off the stack
                head = suffix[:-1]
                if field not in entry and tuple(stack[len(stack) - len(head) :]) == head:
                    entry[field] = self.text.strip()
                    break
        self.text = ""


def read_camt053(path: Path) -> pl.DataFrame:
    return collect(iter_camt053(path))


def iter_camt053(path: Path) -> Iterator[pl.DataFrame | None]:
    """The statement lines piece by piece, in file order. A file not in the fast layout is found out
    as the pieces come (possibly after some were given): then ``None`` comes, meaning "drop every
    piece given so far", and the whole file follows as one piece read by ``read_camt053_xml``."""
    try:
        yield from _fast_pieces(path)
    except NotTheLayout:
        yield None
        yield read_camt053_xml(path)


# Pieces of a camt.053 are independent: two are parsed at once (Polars releases the GIL), one per
# core of the 2-core servers kasda runs on; at most this many are in memory besides the one given.
PARALLEL_PIECES = 2
# Seconds to wait for one piece (32 MiB) to be parsed; far beyond what one takes.
PIECE_TIMEOUT = 600.0


def _parsed(chunk: Chunk, where: str) -> tuple[pl.DataFrame | None, int, str]:
    """One piece: its canonical lines (None if it holds no entry), tag balance and last characters.
    The C accelerator reads the piece if it is built and certain of it, else the Polars patterns."""
    raw, tags = scanned(chunk) or entries_of(chunk)
    return (_canonical(raw, where) if raw.height else None), tags, chunk.text[-64:]


def _fast_pieces(path: Path) -> Iterator[pl.DataFrame]:
    """The pieces of a file in the fast layout, in file order; ``NotTheLayout`` as soon as it is
    known not to be. That every element was closed and nothing follows ``</Document>`` is known
    after the last."""
    balance, tail = 0, ""
    pending: deque[Future[tuple[pl.DataFrame | None, int, str]]] = deque()
    with ThreadPoolExecutor(PARALLEL_PIECES, thread_name_prefix="kasda-camt053") as pool:
        try:
            for chunk in chunks(path, b"<Ntry>"):
                pending.append(pool.submit(_parsed, chunk, str(path)))
                del chunk
                while len(pending) >= PARALLEL_PIECES:
                    frame, tags, end = pending.popleft().result(timeout=PIECE_TIMEOUT)
                    balance, tail = balance + tags, (tail + end)[-64:]
                    if frame is not None:
                        yield frame
            while pending:
                frame, tags, end = pending.popleft().result(timeout=PIECE_TIMEOUT)
                balance, tail = balance + tags, (tail + end)[-64:]
                if frame is not None:
                    yield frame
        except StatementError:
            _well_formed(path)  # broken XML is what the XML reader would have said first
            raise
        finally:
            for future in pending:
                future.cancel()
    if balance != 0 or not tail.rstrip().endswith("</Document>"):
        raise NotTheLayout("an element is not closed, or something follows </Document>")


def _well_formed(path: Path) -> None:
    """Raise as the XML reader does if the file is not well-formed XML (nothing is collected)."""
    _parse(expat.ParserCreate(namespace_separator="}"), path)


def _parse(parser: Any, path: Path) -> None:
    """Feed the file to ``parser``; an unreadable or ill-formed file is a ``StatementError``
    naming the line, the same from either reader."""
    try:
        with path.open("rb") as handle:
            parser.ParseFile(handle)
    except OSError as error:
        raise StatementError(path, 0, f"cannot read the file: {error.strerror or error}") from None
    except expat.ExpatError as error:
        raise StatementError(
            path,
            error.lineno,
            f"not well-formed XML: {expat.errors.messages.get(error.code, error)}",
        ) from None


def read_camt053_xml(path: Path) -> pl.DataFrame:
    """Any camt.053 file, parsed whole with expat (the reader for files outside the fast layout)."""
    where = str(path)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True  # one data call per text node
    collector = _Collector(parser)
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.data
    _parse(parser, path)
    if collector.root != "Document":
        raise StatementError(
            path, 1, f"root element is {collector.root!r}, expected Document (camt.053)"
        )
    raw = pl.DataFrame(
        {c: [e.get(c) for e in collector.entries] for c in _COLUMNS},
        schema={c: (pl.Int64 if c == "line_no" else pl.String) for c in _COLUMNS},
    )
    if raw.height == 0:
        return pl.DataFrame(schema=STATEMENT)
    return _canonical(raw, where)


def _canonical(raw: pl.DataFrame, where: str) -> pl.DataFrame:
    """The collected fields of each entry (strings, ``line_no``) as checked canonical lines."""
    first_bad(
        raw,
        ~pl.col("cdi").is_in(["DBIT", "CRDT"]) | pl.col("cdi").is_null(),
        where,
        pl.format("CdtDbtInd {} is not DBIT or CRDT", pl.col("cdi")),
    )
    amount = parse_amount_column(raw, "amount_text", "en", where, field="Amt")
    first_bad(
        raw.with_columns(amount_text=amount),
        pl.col("amount_text") <= 0,
        where,
        pl.lit("Amt is zero"),
    )
    date_text = pl.coalesce("value_date", "booking_date").str.slice(0, 10)
    value_date = date_text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    first_bad(
        raw,
        value_date.is_null(),
        where,
        pl.when(date_text.is_null())
        .then(pl.lit("neither ValDt nor BookgDt has a Dt"))
        .otherwise(pl.format("ValDt/BookgDt Dt {} is not YYYY-MM-DD", date_text)),
    )
    debit = pl.col("cdi") == "DBIT"
    remark = pl.coalesce("ustrd", "addtl")
    upper = pl.col("_upper")  # the remark through ``upper_of``, computed once
    reversal = pl.col("reversal").fill_null("").str.to_lowercase() == "true"
    subfamily = pl.col("subfamily").fill_null("")
    kind = (
        pl.when(reversal)
        .then(pl.lit("return"))
        .when(subfamily == "CHRG")
        .then(pl.lit("fee"))
        .when(subfamily == "INTR")
        .then(pl.lit("interest"))
        .otherwise(kind_of_upper(upper))
    )
    end_to_end = pl.col("end_to_end").str.strip_chars().str.to_uppercase()
    out = (
        raw.with_columns(amount=amount)
        .lazy()
        .with_columns(_upper=upper_of(remark))
        .select(
            source=pl.lit("bank"),
            file=pl.lit(where),
            line_no=pl.col("line_no"),
            value_date=value_date,
            direction=pl.when(debit).then(pl.lit("D")).otherwise(pl.lit("C")),
            amount=pl.col("amount"),
            fee=pl.lit(0, pl.Int64),
            kind=kind,
            reference=shaped_reference(end_to_end),
            remark=remark,
            counterparty_account=pl.when(debit)
            .then(pl.col("creditor_account"))
            .otherwise(pl.col("debtor_account")),
            counterparty_bank=pl.when(debit)
            .then(pl.col("creditor_bank"))
            .otherwise(pl.col("debtor_bank")),
            bank_ref=pl.col("bank_ref"),
            batch_id=pl.lit(None, pl.String),
            _upper=upper,
        )
        .with_columns(reference=pl.coalesce("reference", reference_of_upper(upper, pl.col("kind"))))
    )
    return out.select(pl.col(n).cast(t) for n, t in STATEMENT.items()).collect()
