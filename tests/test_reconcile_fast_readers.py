"""Issue 17: the MT940 and camt.053 readers read a file piece by piece with vectorised Polars and give
exactly what the readers before them gave (``tests/mt940_reference.py``, the MT940 reader as it was;
``read_camt053_xml``, the expat reader every camt.053 went through): the same rows, and for a bad line
the same line number and reason, however the file is cut into pieces."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from unittest.mock import patch

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bench_readers import write_camt053_fast, write_midtrans_fast, write_mt940_fast
from reconciliation import day
from reconciliation.errors import StatementError
from reconciliation.readers import (
    bank_statement_pieces,
    common,
    gateway_report_pieces,
    read_bank_statement,
    read_gateway_report,
)
from reconciliation.readers.camt053 import iter_camt053, read_camt053_xml
from testkit.reconciliation import (
    generate,
    write_bpd_csv,
    write_camt053,
    write_midtrans,
    write_mt940,
)
from tests.mt940_reference import read_mt940 as read_mt940_before

FAST = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@contextlib.contextmanager
def pieces_of(size: int) -> Iterator[None]:
    """Readers cut files into pieces of about ``size`` bytes (many pieces for a small file)."""
    with patch.object(common, "CHUNK_BYTES", size):
        yield


def error_of(read: Callable[[Path], object], path: Path) -> tuple[int, str]:
    with pytest.raises(StatementError) as caught:
        read(path)
    return caught.value.line, caught.value.reason


def pieces(path: Path) -> list[pl.DataFrame | None]:
    return list(bank_statement_pieces(path))


statements = st.builds(
    lambda rows, seed: generate(rows, seed=seed).bank,
    st.integers(min_value=5, max_value=60),
    st.integers(min_value=0, max_value=10_000),
)
sizes = st.sampled_from([400, 1_000, 4_096, 1 << 20])


# -- the benchmark's files are the test kit's files ----------------------------------------------
def test_the_benchmark_writes_what_the_test_kit_writes(tmp_path: Path) -> None:
    truth = generate(400, seed=5)
    pairs = [
        (write_mt940, write_mt940_fast, "rkud.sta"),
        (write_camt053, write_camt053_fast, "rkud.xml"),
    ]
    for slow, fast, name in pairs:
        slow(truth.bank, tmp_path / f"slow-{name}")
        fast(truth.bank, tmp_path / f"fast-{name}")
        assert (tmp_path / f"slow-{name}").read_bytes() == (tmp_path / f"fast-{name}").read_bytes()
    write_midtrans(truth.gateway, tmp_path / "p1.csv", tmp_path / "s1.csv")
    write_midtrans_fast(truth.gateway, tmp_path / "p2.csv", tmp_path / "s2.csv")
    assert (tmp_path / "p1.csv").read_bytes() == (tmp_path / "p2.csv").read_bytes()
    assert (tmp_path / "s1.csv").read_bytes() == (tmp_path / "s2.csv").read_bytes()


# -- the same rows --------------------------------------------------------------------------------
@FAST
@given(bank=statements, size=sizes)
def test_mt940_in_pieces_reads_what_the_reader_before_read(bank: pl.DataFrame, size: int) -> None:
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.sta"
        write_mt940(bank, path)
        with pieces_of(size):
            got = pieces(path)
        assert all(p is not None for p in got)
        if size <= 400 and bank.height > 10:
            assert len(got) > 1  # really read in pieces
        assert pl.concat([p for p in got if p is not None]).equals(read_mt940_before(path))


def as_a_bank_writes_it(path: Path, crlf: bool) -> None:
    """The statement with an envelope and a trailer around it, its remarks wrapped at 65 characters
    (continuation lines), blank lines between entries and, if ``crlf``, CRLF line ends."""
    out = ["{1:F01BPDJIDJAXXXX0000000000}{2:O9401200261121BPDJIDJAXXXX}{4:"]
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(":86:"):
            out += [line[k : k + 65] for k in range(0, len(line), 65)]
        else:
            out += ["", line] if line.startswith(":61:") else [line]
    path.write_bytes(("\r\n" if crlf else "\n").join([*out, "-}", ""]).encode())


@FAST
@given(bank=statements, size=sizes, crlf=st.booleans())
def test_a_wrapped_mt940_in_pieces_reads_what_the_reader_before_read(
    bank: pl.DataFrame, size: int, crlf: bool
) -> None:
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.sta"
        write_mt940(bank, path)
        as_a_bank_writes_it(path, crlf)
        with pieces_of(size):
            got = pieces(path)
        assert all(p is not None for p in got)
        frame = pl.concat([p for p in got if p is not None])
        assert frame.equals(read_mt940_before(path))
        longest = frame.select(pl.col("remark").str.len_chars().max()).item()
        assert longest > 61  # the wrapped remarks joined back


@FAST
@given(bank=statements, size=sizes)
def test_camt053_fast_path_reads_what_expat_reads(bank: pl.DataFrame, size: int) -> None:
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.xml"
        write_camt053(bank, path)
        with pieces_of(size):
            got = list(iter_camt053(path))
        assert all(p is not None for p in got)  # the fast path, from the first piece to the last
        if size <= 1_000 and bank.height > 10:
            assert len(got) > 1
        assert pl.concat([p for p in got if p is not None]).equals(read_camt053_xml(path))


def test_statements_one_after_another_balance_each_across_pieces(tmp_path: Path) -> None:
    bank = generate(60, seed=3).bank
    one, two = tmp_path / "one.sta", tmp_path / "two.sta"
    write_mt940(bank.head(20), one)
    write_mt940(bank.tail(25), two)
    both = tmp_path / "both.sta"
    both.write_text(one.read_text() + "-\n" + two.read_text(), encoding="utf-8")
    with pieces_of(200):
        assert read_bank_statement(both).equals(read_mt940_before(both))
    wrong = tmp_path / "wrong.sta"
    text = one.read_text()
    closing = re.findall(r":62F:C\d{6}IDR(\d+),00", text)[0]
    wrong.write_text(
        text.replace(f"IDR{closing},00", f"IDR{int(closing) + 1},00") + two.read_text(),
        encoding="utf-8",
    )
    with pieces_of(200):
        assert error_of(read_bank_statement, wrong) == error_of(read_mt940_before, wrong)


# -- the same errors, at the same line -----------------------------------------------------------
MT940_BREAKS = [
    (r"(:61:\d{10}[CD])(\d+)(,00)", r"\g<1>\g<2>,5\g<3>"),  # a fraction of a rupiah
    (r"(:61:)(\d{6})", r"\g<1>269999"),  # not a date
    (r":86:", ":99:"),  # an unknown tag
    (r"(:61:\d{10}[CD])\d+,00", r"\g<1>0,00"),  # zero
    (r"(:61:\d{10})[CD]", r"\g<1>X"),  # not a :61:
]


@FAST
@given(
    bank=statements,
    size=sizes,
    which=st.integers(min_value=0, max_value=10_000),
    how=st.sampled_from(range(len(MT940_BREAKS))),
)
def test_a_bad_mt940_line_is_named_as_before(
    bank: pl.DataFrame, size: int, which: int, how: int
) -> None:
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.sta"
        write_mt940(bank, path)
        lines = path.read_text(encoding="utf-8").split("\n")
        pattern, replacement = MT940_BREAKS[how]
        candidates = [k for k, line in enumerate(lines) if re.match(pattern, line)]
        k = candidates[which % len(candidates)]
        lines[k] = re.sub(pattern, replacement, lines[k], count=1)
        path.write_text("\n".join(lines), encoding="utf-8")
        before = error_of(read_mt940_before, path)
        with pieces_of(size):
            now = error_of(read_bank_statement, path)
        assert now == before
        # a broken amount keeps the balance right or wrong; either way the line named is a true one
        assert before[0] in (k + 1, len(lines) - 1)


CAMT_BREAKS = [
    (".00</Amt>", ".50</Amt>", "fraction"),
    ("<CdtDbtInd>DBIT", "<CdtDbtInd>DEBIT", "CdtDbtInd"),
    ("<ValDt><Dt>2026-", "<ValDt><Dt>2026-13-", "YYYY-MM-DD"),
    ("</AcctSvcrRef>", "</AcctSvcrRefX>", "not well-formed"),
    ("</Ustrd>", "</Ustrd></Ustrd>", "not well-formed"),
]


@FAST
@given(
    bank=statements,
    size=sizes,
    which=st.integers(min_value=0, max_value=10_000),
    how=st.sampled_from(range(len(CAMT_BREAKS))),
)
def test_a_bad_camt053_entry_is_named_as_before(
    bank: pl.DataFrame, size: int, which: int, how: int
) -> None:
    with TemporaryDirectory() as name:
        path = Path(name) / "rkud.xml"
        write_camt053(bank, path)
        text = path.read_text(encoding="utf-8")
        old, new, words = CAMT_BREAKS[how]
        places = [m.start() for m in re.finditer(re.escape(old), text)]
        if not places:
            return  # no debit in this statement, say
        at = places[which % len(places)]
        path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")
        before = error_of(read_camt053_xml, path)
        with pieces_of(size):
            now = error_of(read_bank_statement, path)
        assert now == before
        assert words in now[1]


# -- outside the fast layout: read by expat, the same rows ---------------------------------------
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<Ntry>", "<!-- an entry -->\n    <Ntry>"),  # a comment
        ("<Sts>", "<NtryRef>R1</NtryRef><Sts>"),  # an element out of order
        ("<RmtInf>", "<AmtDtls><InstdAmt><Amt Ccy='IDR'>1.00</Amt></InstdAmt></AmtDtls><RmtInf>"),
        ("<Ustrd>", "<Ustrd><![CDATA[CDATA]]>"),
        ("<Ntry>", "<Ntry xmlns:x='urn:x'>"),
        ("<Ustrd>", "<Ustrd>&#65;"),
    ],
)
def test_a_camt053_outside_the_fast_layout_is_read_by_expat(
    tmp_path: Path, old: str, new: str
) -> None:
    path = tmp_path / "rkud.xml"
    write_camt053(generate(80, seed=9).bank, path)
    text = path.read_text(encoding="utf-8")
    at = text.rindex(old)  # the last entry: pieces before it were already given
    path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")
    with pieces_of(500):
        got = list(iter_camt053(path))
    assert any(p is None for p in got)  # the fast path gave up; what came before it is dropped
    assert read_bank_statement(path).equals(read_camt053_xml(path))


def test_a_truncated_camt053_is_refused_as_before(tmp_path: Path) -> None:
    path = tmp_path / "rkud.xml"
    write_camt053(generate(80, seed=9).bank, path)
    text = path.read_text(encoding="utf-8")
    for cut in (text.rindex("</Ntry>") + len("</Ntry>\n"), text.rindex("</Stmt>")):
        path.write_text(text[:cut], encoding="utf-8")
        with pieces_of(500):
            assert error_of(read_bank_statement, path) == error_of(read_camt053_xml, path)


def test_entities_in_a_remark_are_read_as_expat_reads_them(tmp_path: Path) -> None:
    bank = generate(40, seed=2).bank.with_columns(remark=pl.col("remark") + pl.lit(" PT A & B <C>"))
    path = tmp_path / "rkud.xml"
    write_camt053(bank, path)
    assert all(p is not None for p in iter_camt053(path))
    frame = read_bank_statement(path)
    assert frame.equals(read_camt053_xml(path))
    assert frame["remark"].str.ends_with(" PT A & B <C>").all()


# -- a partitioned run writes the pieces away as they come ---------------------------------------
def test_a_partitioned_run_writes_each_piece_and_keeps_none_of_a_bad_file(tmp_path: Path) -> None:
    truth = generate(300, seed=4)
    good, bad = tmp_path / "good.sta", tmp_path / "bad.sta"
    write_mt940(truth.bank, good)
    text = good.read_text(encoding="utf-8")
    closing = re.findall(r":62F:C\d{6}IDR(\d+),00", text)[0]
    bad.write_text(text.replace(f"IDR{closing},00", f"IDR{int(closing) + 7},00"))
    work = tmp_path / "work"
    work.mkdir()
    with pieces_of(2_000):
        written = day.write_pieces(bank_statement_pieces(good), work, "input-0")
    assert len(written.files) > 1
    assert pl.read_parquet(written.files).equals(read_mt940_before(good))
    assert written.lines == truth.bank.height
    for old in work.iterdir():
        old.unlink()
    with pieces_of(2_000), pytest.raises(StatementError):
        day.write_pieces(bank_statement_pieces(bad), work, "input-1")
    assert list(work.iterdir()) == []  # the pieces read before the balance failed are gone


# -- the bank CSV and the Midtrans reports, piece by piece ----------------------------------------
def test_a_bank_csv_in_pieces_reads_as_in_one_and_balances_across_them(tmp_path: Path) -> None:
    path = tmp_path / "rkud.csv"
    write_bpd_csv(generate(200, seed=6).bank, path)
    whole = read_bank_statement(path)
    with pieces_of(500):
        assert len(pieces(path)) > 1
        assert read_bank_statement(path).equals(whole)
    lines = path.read_text(encoding="utf-8").split("\n")
    k = len(lines) // 2  # a balance off by one rupiah, in a piece of its own
    fields = lines[k].split(";")
    fields[4] = fields[4].replace(",00", "").replace(".", "")
    fields[4] = f"{int(fields[4]) + 1:,}".replace(",", ".") + ",00"
    lines[k] = ";".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")
    for size in (300, 1 << 20):
        with pieces_of(size):
            line, reason = error_of(read_bank_statement, path)
        assert line == k + 1 and "previous balance" in reason


def test_midtrans_reports_in_pieces_read_as_in_one(tmp_path: Path) -> None:
    payouts, settlements = tmp_path / "p.csv", tmp_path / "s.csv"
    write_midtrans(generate(600, seed=8).gateway, payouts, settlements)
    for path in (payouts, settlements):
        whole = read_gateway_report(path)
        with pieces_of(300):
            assert len(list(gateway_report_pieces(path))) > 1
            assert read_gateway_report(path).equals(whole)


# -- the reference without a capture group is the one the regular expression took ----------------
words = st.sampled_from(
    ["TRF", "TRANSFER", "RETUR", "RETURN", "PB", "KE", "PBX", "32.73/00001/SP2D-LS/BUD/2026",
     "IRIS-0000000042", "ksd-7", "A1", "ABC", "X" * 63 + "1", "X" * 64 + "1", "REK:123", "é1.2",
     "ẞ9", "١٢٣", "-1A", ".5", ""]
)  # fmt: skip
spaces = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u2003", " \t"])


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.tuples(words, spaces), max_size=5), kind=st.sampled_from(["transfer", "fee"])
)
def test_the_reference_is_the_first_word_after_the_lead_words(
    parts: list[tuple[str, str]], kind: str
) -> None:
    remark = "".join(w + s for w, s in parts)
    frame = pl.DataFrame({"remark": [remark], "kind": [kind]})
    upper = common.upper_of(pl.col("remark"))
    token = upper.str.extract(common.REFERENCE, 1)
    regex = pl.when(pl.col("kind").is_in(["fee", "interest"])).then(None)
    expected = regex.otherwise(common.shaped_reference(token))
    got = frame.select(now=common.reference_of_upper(upper, pl.col("kind")), before=expected).row(0)
    assert got[0] == got[1]
