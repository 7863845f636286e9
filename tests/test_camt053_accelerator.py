"""The camt.053 reader's optional C accelerator (``reconciliation/readers/_camt053_scan.c``) against
the Polars patterns of the fast layout (``camt053_layout.entries_of``) and the XML parser
(``read_camt053_xml``): on entries of the layout with every optional element present or absent, and
on mutated and truncated bytes, what it accepts it reads exactly as the patterns do (frame for frame,
the same tag balance), and what it is not certain of it declines. Locally a missing accelerator skips
these tests with a loud reason; with ``CI=true`` it fails them, so CI always exercises it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciliation.errors import StatementError
from reconciliation.readers import camt053_layout
from reconciliation.readers.camt053 import read_camt053, read_camt053_xml
from reconciliation.readers.camt053_layout import NotTheLayout, Scan, entries_of, scanned
from reconciliation.readers.common import Chunk, chunks
from testkit.reconciliation import generate, write_camt053
from tests.test_reconcile_fast_readers import pieces_of


def the_accelerator() -> Scan:
    """The built accelerator; a loud skip if it is not built (a failure with ``CI=true``)."""
    scan = camt053_layout.accelerator
    if scan is not None:
        return scan
    problem = "the camt.053 accelerator is not built (pip install -e . with a C compiler)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {problem}", pytrace=False)
    pytest.skip(f"!!! SKIPPING ACCELERATOR TEST: {problem}")


MANY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- entries of the layout -----------------------------------------------------------------------
# Text the accelerator must read (no control character, no entity, no space but ASCII ones at the
# ends), and text it may decline (entities, line breaks inside, Unicode spaces at the ends, ...).
PLAIN = st.text(st.sampled_from("AZaz09 ./-_:>'\"é€"), max_size=12)  # ``>`` and ``/`` make ``/>``
ODD = st.lists(
    st.sampled_from(["A", " ", "\n", "\t", "\r", "\u00a0", "\u2003", "&amp;", "&lt;", "\x0b", "é"]),
    max_size=6,
).map("".join)
SPACE = st.sampled_from(["", " ", "\n      ", "\t", "\r\n  ", "\n"])


def _maybe(draw: st.DrawFn, part: str) -> str:
    return part if draw(st.booleans()) else ""


@st.composite
def entries(draw: st.DrawFn, text: st.SearchStrategy[str] = PLAIN) -> str:
    """One ``<Ntry>`` of the fast layout, every optional element present or absent."""
    s = draw(SPACE)

    def leaf(name: str, value: str | None = None) -> str:
        return f"<{name}>{draw(text) if value is None else value}</{name}>{draw(SPACE)}"

    def wrap(name: str, inner: str) -> str:
        return f"<{name}>{draw(SPACE)}{inner}</{name}>{draw(SPACE)}"

    def opt(make: Callable[[], str]) -> str:
        return make() if draw(st.booleans()) else ""

    def many(*names: str) -> str:
        return "".join(leaf(draw(st.sampled_from(names))) for _ in range(draw(st.integers(0, 2))))

    amount = draw(st.sampled_from(["98000000.00", " 1500.5 ", "0.00", "12,00", "", "7"]))
    attrs = draw(st.sampled_from(["", ' Ccy="IDR"', " Ccy='IDR' ", '\n Ccy="IDR"']))
    date = draw(
        st.sampled_from(["2026-11-21", " 2026-11-21 ", "2026-11-21T10:00:00", "21/11/2026"])
    )
    head = (
        s
        + opt(lambda: leaf("NtryRef"))
        + f"<Amt{attrs}>{amount}</Amt>{draw(SPACE)}"
        + leaf("CdtDbtInd", draw(st.sampled_from(["DBIT", "CRDT", " CRDT\n", "XX"])))
        + opt(lambda: leaf("RvslInd", draw(st.sampled_from(["true", "false", "TRUE"]))))
        + draw(
            st.sampled_from(
                [leaf("Sts", "BOOK"), wrap("Sts", leaf("Cd", "BOOK")), wrap("Sts", leaf("Prtry"))]
            )
        )
        + opt(lambda: wrap("BookgDt", leaf(draw(st.sampled_from(["Dt", "DtTm"])), date)))
        + opt(lambda: wrap("ValDt", leaf(draw(st.sampled_from(["Dt", "DtTm"])), date)))
        + opt(lambda: leaf("AcctSvcrRef"))
    )
    subfamily = draw(st.sampled_from(["CHRG", "INTR", "OTHR"]))
    code = wrap(
        "BkTxCd",
        opt(
            lambda: wrap(
                "Domn", leaf("Cd") + wrap("Fmly", leaf("Cd") + leaf("SubFmlyCd", subfamily))
            )
        )
        + opt(lambda: wrap("Prtry", leaf("Cd") + opt(lambda: leaf("Issr")))),
    )

    def account(name: str) -> str:
        scheme = opt(lambda: wrap("SchmeNm", leaf(draw(st.sampled_from(["Cd", "Prtry"])))))
        ident = draw(
            st.sampled_from(
                [leaf("IBAN"), wrap("Othr", leaf("Id") + scheme + opt(lambda: leaf("Issr")))]
            )
        )
        return opt(lambda: wrap(name, wrap("Id", ident) + many("Ccy", "Nm")))

    def party(name: str) -> str:
        return opt(lambda: wrap(name, opt(lambda: wrap("Pty", many("Nm"))) + many("Nm")))

    def agent(name: str) -> str:
        clearing = wrap(
            "ClrSysMmbId",
            opt(lambda: wrap("ClrSysId", leaf(draw(st.sampled_from(["Cd", "Prtry"])))))
            + leaf("MmbId"),
        )
        inner = (
            opt(lambda: leaf("BICFI"))
            + opt(lambda: leaf("BIC"))
            + opt(lambda: clearing)
            + many("Nm")
        )
        return opt(lambda: wrap(name, wrap("FinInstnId", inner)))

    refs = wrap(
        "Refs",
        many("MsgId", "PmtInfId", "InstrId")
        + opt(lambda: leaf("EndToEndId"))
        + many("UETR", "TxId", "ChqNb", "AcctSvcrTxId"),
    )
    details = wrap(
        "TxDtls",
        opt(lambda: refs)
        + opt(
            lambda: wrap(
                "RltdPties",
                party("Dbtr") + account("DbtrAcct") + party("Cdtr") + account("CdtrAcct"),
            )
        )
        + opt(lambda: wrap("RltdAgts", agent("DbtrAgt") + agent("CdtrAgt")))
        + opt(lambda: wrap("RmtInf", leaf("Ustrd") + many("Ustrd"))),
    )
    tail = opt(lambda: wrap("NtryDtls", details)) + opt(lambda: leaf("AddtlNtryInf"))
    return f"<Ntry>{head}{code}{tail}</Ntry>"


HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n<BkToCstmrStmt><Stmt>\n'  # noqa: E501
TAIL = "\n</Stmt></BkToCstmrStmt>\n</Document>\n"


def document(ntries: list[str], between: str = "\n  ") -> str:
    return HEAD + between + between.join(ntries) + TAIL


def patterns(chunk: Chunk) -> tuple[pl.DataFrame, int] | None:
    """What the Polars patterns read of the piece (None: not the layout)."""
    try:
        return entries_of(chunk)
    except NotTheLayout:
        return None


def agrees(chunk: Chunk, scan: Scan) -> bool:
    """The accelerator's reading of the piece is the patterns' (True), or it declined (False)."""
    fast = scanned(chunk, scan)
    if fast is None:
        return False
    slow = patterns(chunk)
    assert slow is not None, "the accelerator read a piece the patterns refuse"
    assert fast[1] == slow[1]
    assert fast[0].equals(slow[0]), (fast[0], slow[0])
    return True


def pieces_of_text(text: str, size: int) -> list[Chunk]:
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.xml"
        path.write_bytes(text.encode())
        return list(chunks(path, b"<Ntry>", size=size))


@MANY
@given(st.lists(entries(), min_size=1, max_size=6), st.sampled_from([60, 300, 1 << 20]))
def test_entries_of_the_layout_are_read_as_the_patterns_read_them(
    ntries: list[str], size: int
) -> None:
    scan = the_accelerator()
    for chunk in pieces_of_text(document(ntries), size):
        # PLAIN text never needs declining: every piece is read, and read as the patterns read it
        assert agrees(chunk, scan), chunk.text


@MANY
@given(st.lists(entries(ODD), min_size=1, max_size=4))
def test_text_it_is_not_certain_of_is_declined_or_read_as_the_patterns_read_it(
    ntries: list[str],
) -> None:
    scan = the_accelerator()
    for chunk in pieces_of_text(document(ntries), 1 << 20):
        agrees(chunk, scan)


@settings(max_examples=40, deadline=None)
@given(st.lists(entries(st.one_of(PLAIN, ODD)), min_size=1, max_size=5), st.booleans())
def test_a_file_reads_the_same_with_or_without_the_accelerator_and_as_expat(
    ntries: list[str], crlf: bool
) -> None:
    the_accelerator()
    text = document(ntries)
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.xml"
        path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode())
        fast, patterns, expat = (
            outcome(read, path)
            for read in (read_camt053, without_accelerator(read_camt053), read_camt053_xml)
        )
    assert same(fast, patterns)
    # The fast layout (either way) reads what expat reads (a character XML forbids, such as a
    # vertical tab, or a line ended by a lone "\r" is left to expat); an error names the same line
    # and reason, but its count of more bad lines is of the piece, not the file.
    assert same(uncounted(fast), uncounted(expat))


def uncounted(result: pl.DataFrame | tuple[int, str]) -> pl.DataFrame | tuple[int, str]:
    if isinstance(result, tuple):
        return result[0], re.sub(r" \(and \d+ more bad lines\)$", "", result[1])
    return result


def outcome(read: Callable[[Path], pl.DataFrame], path: Path) -> pl.DataFrame | tuple[int, str]:
    try:
        return read(path)
    except StatementError as error:
        return error.line, error.reason


def same(a: pl.DataFrame | tuple[int, str], b: pl.DataFrame | tuple[int, str]) -> bool:
    if isinstance(a, pl.DataFrame) and isinstance(b, pl.DataFrame):
        return a.equals(b)
    return isinstance(a, tuple) and isinstance(b, tuple) and a == b


def without_accelerator(read: Callable[[Path], pl.DataFrame]) -> Callable[[Path], pl.DataFrame]:
    def read_by_the_patterns(path: Path) -> pl.DataFrame:
        saved, camt053_layout.accelerator = camt053_layout.accelerator, None
        try:
            return read(path)
        finally:
            camt053_layout.accelerator = saved

    return read_by_the_patterns


# -- what it declines ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<Ustrd>", "<Ustrd>&#65;"),  # a character reference (the patterns refuse it too)
        ("<Ustrd>", "<Ustrd>&nbsp;"),  # an entity XML does not define
        ("<Ustrd>", "<Ustrd>A &amp B"),  # an ``&`` that is not an entity
        ("<Ustrd>", "<Ustrd>A\nB "),  # a line break inside a value
        ("<Ustrd>", "<Ustrd>\u00a0"),  # a Unicode space the patterns strip
        ("<Ustrd>", "<Ustrd>\x1f"),  # a control character
        ("<Sts>", "<NtryRef>R1</NtryRef><Sts>"),  # out of order (not the layout at all)
        ("<Ntry>", "<!-- an entry -->\n<Ntry>"),  # a comment
        ("<Ntry>", "<Ntry >"),  # a space in the tag (the patterns count it, then refuse)
        ("<BkTxCd>", "<x:Ntry/><BkTxCd>"),  # a prefixed Ntry
        ("<Amt>", '<Amt Ccy="IDR"/>'),  # a self-closing Amt
    ],
)
def test_what_it_is_not_certain_of_is_declined(old: str, new: str) -> None:
    scan = the_accelerator()
    entry = "<Ntry><Amt>5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BkTxCd></BkTxCd><NtryDtls><TxDtls><RmtInf><Ustrd>X</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"  # noqa: E501
    text = document([entry])
    assert all(agrees(c, scan) for c in pieces_of_text(text, 1 << 20))  # as it is: read
    changed = pieces_of_text(text.replace(old, new, 1), 1 << 20)
    assert any(scanned(c, scan) is None for c in changed)


def test_a_declined_piece_is_read_by_the_patterns_and_the_file_as_expat_reads_it(
    tmp_path: Path,
) -> None:
    scan = the_accelerator()
    bank = generate(60, seed=4).bank
    last = pl.int_range(pl.len()) == pl.len() - 1
    path = tmp_path / "rkud.xml"
    remark = pl.when(last).then(pl.lit("A\nB")).otherwise("remark")  # a line break: declined
    write_camt053(bank.with_columns(remark=remark), path)
    with pieces_of(2_000):
        declined = [scanned(c, scan) is None for c in chunks(path, b"<Ntry>")]
        frame = read_camt053(path)
    assert declined[-1] and not any(declined[:-1])
    assert frame.equals(read_camt053_xml(path))


# -- fuzz: mutated and truncated bytes -----------------------------------------------------------
TOKENS = [
    "<", ">", "/>", "/", "&", "&amp;", ":Ntry", "<Ntry>", "</Ntry>", "<Ntry", "<!--", "-->",
    "<?x?>", "<?xml?>", "\u00a0", "\x00", "\x1e", "\x1f", "\n", "\r", " ", "<Ustrd>", "</Ustrd>",
    "<Amt>", "<Amt a=\"b\">", "<Id>", "</Id>", "<Document>", "é",
]  # fmt: skip
SAMPLE = document(
    [
        '<Ntry><NtryRef>1</NtryRef><Amt Ccy="IDR">5.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-21</Dt></BookgDt><ValDt><DtTm>2026-11-21T09:00:00</DtTm></ValDt><AcctSvcrRef>FT1</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>CHRG</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs><EndToEndId>E1</EndToEndId></Refs><RltdPties><CdtrAcct><Id><IBAN>ID12</IBAN></Id></CdtrAcct></RltdPties><RltdAgts><CdtrAgt><FinInstnId><BICFI>BNINIDJA</BICFI><ClrSysMmbId><MmbId>009</MmbId></ClrSysMmbId></FinInstnId></CdtrAgt></RltdAgts><RmtInf><Ustrd>A/>B</Ustrd></RmtInf></TxDtls></NtryDtls><AddtlNtryInf>X</AddtlNtryInf></Ntry>',  # noqa: E501
        "<Ntry>\n <Amt>7</Amt>\n <CdtDbtInd>CRDT</CdtDbtInd>\n <Sts>BOOK</Sts>\n <BkTxCd></BkTxCd>\n</Ntry>",
        "<Ntry><Amt>9.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BkTxCd></BkTxCd><AddtlNtryInf> TRF X </AddtlNtryInf></Ntry>",  # noqa: E501
    ]
)


@settings(max_examples=250, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SAMPLE)), st.integers(0, 8), st.sampled_from(TOKENS)),
        max_size=4,
    ),
    st.integers(0, len(SAMPLE)),
    st.integers(1, 10_000),
    st.booleans(),
)
def test_mutated_and_truncated_pieces_never_crash_nor_read_what_the_patterns_refuse(
    edits: list[tuple[int, int, str]], cut: int, first_line: int, first_piece: bool
) -> None:
    scan = the_accelerator()
    text = SAMPLE
    for at, removed, token in edits:
        text = text[:at] + token + text[at + removed :]
    text = text[: max(cut, len(text) // 2)]
    assume(text)
    agrees(Chunk(text, first_line, 0 if first_piece else 1), scan)


@settings(max_examples=120, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_never_crash_it(data: bytes, first_piece: bool) -> None:
    scan = the_accelerator()
    agrees(Chunk(data.decode("utf-8", "replace"), 1, 0 if first_piece else 1), scan)


def test_entities_are_replaced_as_the_patterns_replace_them() -> None:
    scan = the_accelerator()
    remark = " &lt;PT A &amp; B&gt; &quot;x&apos; &amp;lt; "
    entry = f"<Ntry><Amt>5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BkTxCd></BkTxCd><AddtlNtryInf>{remark}</AddtlNtryInf></Ntry>"  # noqa: E501
    chunk = Chunk(document([entry]), 1, 0)
    assert agrees(chunk, scan)
    got = scanned(chunk, scan)
    assert got is not None
    assert got[0]["addtl"].to_list() == ["<PT A & B> \"x' &lt;"]


def test_the_sample_is_read_by_the_accelerator() -> None:
    """The fuzz above starts from a text the accelerator reads (so its mutations test something)."""
    frame, balance = entries_of(Chunk(SAMPLE, 1, 0))
    got = scanned(Chunk(SAMPLE, 1, 0), the_accelerator())
    assert got is not None
    assert got[0].equals(frame)
    assert got[1] == balance
    assert frame["ustrd"].to_list() == ["A/>B", None, None]
    assert frame["creditor_bank"].to_list() == ["BNINIDJA", None, None]


@pytest.mark.parametrize("where", ["between elements", "in a remark", "in an uncaptured leaf"])
@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x01", "\r"])
def test_a_character_xml_forbids_is_refused_as_the_xml_parser_refuses_it(
    tmp_path: Path, where: str, char: str
) -> None:
    """A vertical tab, form feed or other control character XML forbids is not whitespace nor text
    to the fast layout (either way): the file is refused with the XML parser's line and reason. A
    lone carriage return is a line end to the XML parser: the lines after it are numbered as the
    XML parser numbers them (the file is read, or refused at the same line)."""
    text = _sample_text(tmp_path)
    old, new = {
        "between elements": ("</Amt>\n", f"</Amt>{char}\n"),
        "in a remark": ("<Ustrd>", f"<Ustrd>x{char}"),
        "in an uncaptured leaf": ("<Cd>", f"<Cd>{char}"),
    }[where]
    assert old in text
    path = tmp_path / "bad.xml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    expected = outcome(read_camt053_xml, path)
    assert isinstance(expected, tuple) or char == "\r", "the XML parser refuses it"
    assert same(outcome(read_camt053, path), expected)
    assert same(outcome(without_accelerator(read_camt053), path), expected)


def _sample_text(tmp_path: Path) -> str:
    path = tmp_path / "sample.xml"
    write_camt053(generate(40, seed=5).bank, path)
    return path.read_text(encoding="utf-8")
