"""Readers: each format into the canonical statement schema, every line kept, amounts exact; each kind
of bad line refused with its file, line number and reason."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import mt940
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger.application import Ledger
from reconciliation.amounts import parse_amount_column
from reconciliation.errors import StatementError
from reconciliation.readers import read_bank_statement, read_gateway_report
from reconciliation.readers.csv_profiles import load_profiles, read_bank_csv
from reconciliation.readers.ledger import ledger_frame, read_ledger_parquet
from reconciliation.schema import LEDGER, STATEMENT
from testkit.reconciliation import (
    Truth,
    generate,
    write_bpd_csv,
    write_camt053,
    write_midtrans,
    write_mt940,
)
from tests import factory as f

HEADER = "tanggal;keterangan;debet;kredit;saldo;no_referensi;rekening_lawan;bank_lawan"
COMPARED = [
    "value_date",
    "direction",
    "amount",
    "kind",
    "reference",
    "counterparty_account",
    "counterparty_bank",
]


@pytest.fixture(scope="module")
def truth() -> Truth:
    return generate(600, seed=11)


def refused(
    path: Path, line: int, words: str, read: object = read_bank_statement
) -> StatementError:
    with pytest.raises(StatementError) as caught:
        read(path)  # type: ignore[operator]
    error = caught.value
    assert (error.path, error.line) == (str(path), line), str(error)
    assert words in error.reason, error.reason
    assert str(error).startswith(f"{path}:{line}: ")
    return error


# -- amounts ------------------------------------------------------------------------------------
def amounts(values: list[str], style: str) -> list[int | None]:
    frame = pl.DataFrame({"line_no": list(range(1, len(values) + 1)), "a": values})
    return parse_amount_column(frame, "a", style, "x.csv", allow_empty=True).to_list()  # type: ignore[arg-type]


def test_amounts_in_each_style_become_exact_integer_rupiah() -> None:
    assert amounts(["1.234.567,00", "1234567", "98.000.000", "0,00", ""], "id") == [
        1_234_567,
        1_234_567,
        98_000_000,
        0,
        None,
    ]
    assert amounts(["1,234,567.00", "1234567.00", "9999999999999999"], "en") == [
        1_234_567,
        1_234_567,
        9_999_999_999_999_999,
    ]
    assert amounts(["1234567,", "1234567,00"], "mt940") == [1_234_567, 1_234_567]


# No deadline: speed is measured in benchmarks/, never asserted in a test (it failed on a loaded machine).
@settings(deadline=None)
@given(values=st.lists(st.integers(min_value=0, max_value=10**16 - 1), min_size=1, max_size=50))
def test_any_whole_amount_reads_back_exactly_in_every_style(values: list[int]) -> None:
    grouped = [f"{v:,}" for v in values]
    assert amounts([g.replace(",", ".") + ",00" for g in grouped], "id") == values
    assert amounts([g.replace(",", ".") for g in grouped], "id") == values
    assert amounts([g + ".00" for g in grouped], "en") == values
    assert amounts([str(v) for v in values], "en") == values
    assert amounts([f"{v}," for v in values], "mt940") == values


@pytest.mark.parametrize(
    ("value", "style", "words"),
    [
        ("1.234.567,50", "id", "fraction of a rupiah"),
        ("1234567.01", "en", "fraction of a rupiah"),
        ("1.234,567", "id", "not a rupiah amount"),
        ("12.34", "id", "not a rupiah amount"),
        ("-5000", "id", "not a rupiah amount"),
        ("1e6", "en", "not a rupiah amount"),
        ("1234567", "mt940", "not a rupiah amount"),
        ("12345678901234567", "en", "beyond 10^16"),
    ],
)
def test_a_bad_amount_names_its_line(value: str, style: str, words: str) -> None:
    frame = pl.DataFrame({"line_no": [7, 8], "a": ["100", value]})
    if style == "mt940":
        frame = frame.with_columns(pl.Series("a", ["100,", value]))
    with pytest.raises(StatementError) as caught:
        parse_amount_column(frame, "a", style, "x.csv")  # type: ignore[arg-type]
    assert caught.value.line == 8
    assert words in caught.value.reason


# -- every format reads the same statement ------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "write"),
    [("rkud.csv", write_bpd_csv), ("rkud.sta", write_mt940), ("rkud.xml", write_camt053)],
)
def test_each_bank_format_reads_every_line_exactly(
    truth: Truth, tmp_path: Path, name: str, write: object
) -> None:
    path = tmp_path / name
    write(truth.bank, path)  # type: ignore[operator]
    frame = read_bank_statement(path)
    assert frame.schema == STATEMENT
    assert frame.height == truth.bank.height
    expected = truth.bank.select(COMPARED)
    assert frame.select(COMPARED).equals(expected)
    assert frame["file"].unique().to_list() == [str(path)]
    assert frame["line_no"].is_unique().all()
    assert frame["amount"].dtype == pl.Int64


def test_the_mt940_package_reads_our_mt940_the_same(truth: Truth, tmp_path: Path) -> None:
    path = tmp_path / "rkud.sta"
    write_mt940(truth.bank, path)
    ours = read_bank_statement(path)
    theirs = mt940.models.Transactions()
    theirs.parse(path.read_text(encoding="utf-8"))
    amounts = [int(t.data["amount"].amount) for t in theirs]
    signed = ours.select(
        pl.when(pl.col("direction") == "D").then(-pl.col("amount")).otherwise(pl.col("amount"))
    )
    assert amounts == signed.to_series().to_list()
    assert [t.data["date"] for t in theirs] == ours["value_date"].to_list()


def test_midtrans_reports_read_every_row(truth: Truth, tmp_path: Path) -> None:
    payouts, settlements = tmp_path / "payouts.csv", tmp_path / "settlements.csv"
    write_midtrans(truth.gateway, payouts, settlements)
    frame = pl.concat([read_gateway_report(payouts), read_gateway_report(settlements)])
    assert frame.schema == STATEMENT
    assert frame.height == truth.gateway.height
    cols = ["direction", "amount", "fee", "kind", "reference", "batch_id"]
    assert frame.select(cols).sort("reference").equals(truth.gateway.select(cols).sort("reference"))


def test_an_iris_bank_name_becomes_the_kode_bank_the_ledger_holds(tmp_path: Path) -> None:
    path = tmp_path / "payouts.csv"
    path.write_text(
        "reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at\n"
        "IRIS-1,IRIS20261121,completed,bjb,0012345678,1000000.00,2500.00,2026-11-21 10:00:00\n"
        "IRIS-2,IRIS20261121,completed,BCA,0012345679,1000000.00,2500.00,2026-11-21 10:00:00\n"
        "IRIS-3,IRIS20261121,completed,unknown_bank,0012345670,1000000.00,2500.00,2026-11-21 10:00:00\n",
        encoding="utf-8",
    )
    banks = read_gateway_report(path)["counterparty_bank"].to_list()
    assert banks == ["110", "014", "unknown_bank"]


def test_a_csv_profile_from_toml_reads_another_bank(tmp_path: Path) -> None:
    profiles = tmp_path / "banks.toml"
    profiles.write_text(
        """
[profiles.bjb]
columns = ["Tgl", "Uraian", "Mutasi Debet", "Mutasi Kredit", "Ref"]
roles = { date = "Tgl", remark = "Uraian", debit = "Mutasi Debet", credit = "Mutasi Kredit", bank_ref = "Ref" }
separator = ","
date_format = "%Y-%m-%d"
amount_style = "en"
""",
        encoding="utf-8",
    )
    statement = tmp_path / "bjb.csv"
    statement.write_text(
        "Tgl,Uraian,Mutasi Debet,Mutasi Kredit,Ref\n"
        '2026-11-21,"TRF 32.73/00001/SP2D-LS/BUD/2026 CV A",98000000.00,,R1\n'
        "2026-11-21,BUNGA JASA GIRO,,125000.00,R2\n",
        encoding="utf-8",
    )
    frame = read_bank_csv(statement, load_profiles(profiles)["bjb"])
    assert frame["amount"].to_list() == [98_000_000, 125_000]
    assert frame["direction"].to_list() == ["D", "C"]
    assert frame["kind"].to_list() == ["transfer", "interest"]
    assert frame["reference"].to_list() == ["32.73/00001/SP2D-LS/BUD/2026", None]
    assert frame["value_date"].to_list() == [date(2026, 11, 21)] * 2


def test_fee_interest_and_return_lines_are_recognised(tmp_path: Path) -> None:
    path = tmp_path / "rkud.csv"
    path.write_text(
        HEADER
        + "\n21/11/2026;BIAYA ADM TRANSFER;6.500,00;0,00;;FT1;;\n"
        + "21/11/2026;BUNGA JASA GIRO;0,00;125.000,00;;FT2;;\n"
        + "21/11/2026;RETUR 32.73/00009/SP2D-LS/BUD/2026 REK TIDAK AKTIF;0,00;5.000.000,00;;FT3;;\n"
        + "21/11/2026;PT ADMINISTRASI JAYA;1.000,00;0,00;;FT4;;\n",
        encoding="utf-8",
    )
    frame = read_bank_statement(path)
    assert frame["kind"].to_list() == ["fee", "interest", "return", "transfer"]
    assert frame["reference"].to_list() == [None, None, "32.73/00009/SP2D-LS/BUD/2026", None]


REMARKS = [
    ("CV MAJU JAYA 0012345678", None),
    ("TRF PT ABADI", None),
    ("TRF KE REK 0012345678", None),
    ("PEMBAYARAN LS", None),
    ("32.73/00001/SP2D-LS/BUD/2026 PT A", "32.73/00001/SP2D-LS/BUD/2026"),
    ("TRF ksdabcdefghijklmnopqrstuvwxyz01 CV B", "KSDABCDEFGHIJKLMNOPQRSTUVWXYZ01"),
    ("IRIS20261121 MIDTRANS PAYOUT", "IRIS20261121"),
    ("PBJT-0000000007", "PBJT-0000000007"),
]


def test_only_a_token_shaped_like_a_kasda_reference_is_read_as_one(tmp_path: Path) -> None:
    """The first word of free text ("CV", "PT", "TRF", "REK") is never a reference, in any format."""
    bank = pl.DataFrame(
        [
            {
                "value_date": date(2026, 11, 21),
                "direction": "D",
                "amount": 1_000 * (i + 1),
                "kind": "transfer",
                "remark": remark,
                "bank_ref": f"FT{i}",
                "counterparty_account": None,
                "counterparty_bank": None,
            }
            for i, (remark, _) in enumerate(REMARKS)
        ]
    )
    expected = [reference for _, reference in REMARKS]
    for name, write in (
        ("rkud.csv", write_bpd_csv),
        ("rkud.sta", write_mt940),
        ("rkud.xml", write_camt053),
    ):
        path = tmp_path / name
        write(bank, path)
        assert read_bank_statement(path)["reference"].to_list() == expected, name
    # camt.053: an EndToEndId is a reference only when it has the shape of one too.
    xml = (tmp_path / "rkud.xml").read_text(encoding="utf-8")
    for end_to_end, reference in (("CV", None), ("NOTPROVIDED", None), ("SP2D/7", "SP2D/7")):
        path = tmp_path / "e2e.xml"
        path.write_text(
            xml.replace(
                "<RmtInf>",
                f"<Refs><EndToEndId>{end_to_end}</EndToEndId></Refs><RmtInf>",
                1,
            ),
            encoding="utf-8",
        )
        assert read_bank_statement(path)["reference"][0] == (reference or expected[0])


# -- bad lines ----------------------------------------------------------------------------------
GOOD = "21/11/2026;32.73/00001/SP2D-LS/BUD/2026 PT A;98.000.000,00;0,00;902.000.000,00;FT1;0012345678;110"
NEXT = "21/11/2026;BIAYA ADM;6.500,00;0,00;901.993.500,00;FT2;;"


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("21/11/2026;X;98.000.000,50;0,00;801.993.499,50;FT3;;", "fraction of a rupiah"),
        ("31/11/2026;X;1.000,00;0,00;901.992.500,00;FT3;;", "not a date"),
        ("21/11/2026;X;1.000,00;0,00;901.992.500,00;FT3;;;", "expected 8 fields"),
        ("21/11/2026;X;1.000,00;1.000,00;901.993.500,00;FT3;;", "exactly one of debet and kredit"),
        ("21/11/2026;X;0,00;0,00;901.993.500,00;FT3;;", "exactly one of debet and kredit"),
        ("21/11/2026;X;1.000,00;0,00;900.000.000,00;FT3;;", "not the previous balance"),
        ("21/11/2026;X;satu juta;0,00;901.992.500,00;FT3;;", "not a rupiah amount"),
    ],
)
def test_a_bad_csv_line_fails_with_file_line_and_reason(
    tmp_path: Path, bad: str, words: str
) -> None:
    path = tmp_path / "rkud.csv"
    path.write_text("\n".join([HEADER, GOOD, NEXT, bad, GOOD]) + "\n", encoding="utf-8")
    refused(path, 4, words)


def test_a_wrong_csv_header_is_line_one(tmp_path: Path) -> None:
    path = tmp_path / "rkud.csv"
    path.write_text("tanggal;keterangan;jumlah\n" + GOOD + "\n", encoding="utf-8")
    refused(path, 1, "header is")


def test_blank_lines_are_skipped_but_line_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "rkud.csv"
    path.write_text("\n".join([HEADER, GOOD, "", NEXT]) + "\n", encoding="utf-8")
    assert read_bank_statement(path)["line_no"].to_list() == [2, 4]


MT940_HEAD = [":20:STMT", ":25:0011223344", ":28C:1/1", ":60F:C261121IDR1000000,00"]


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (
            [":61:2611211121D150000,00NTRFNONREF//B1", ":86:SP2D/1", ":62F:C261121IDR850000,00"],
            0,
            "",
        ),
        (
            [":61:26113D150000,00NTRFNONREF//B1", ":86:SP2D/1", ":62F:C261121IDR850000,00"],
            5,
            ":61:",
        ),
        (
            [":61:2611211121D150000,50NTRFNONREF//B1", ":86:SP2D/1", ":62F:C261121IDR849999,50"],
            5,
            "fraction",
        ),
        (
            [":61:2611211121D150000,00NTRFNONREF//B1", ":86:SP2D/1", ":62F:C261121IDR900000,00"],
            7,
            "closing balance",
        ),
        (
            [":61:2611211121D150000,00NTRFNONREF//B1", ":99:X", ":62F:C261121IDR850000,00"],
            6,
            "unknown MT940 tag",
        ),
        (
            [":61:2613311121D150000,00NTRFNONREF//B1", ":86:SP2D/1", ":62F:C261121IDR850000,00"],
            5,
            "not a date",
        ),
    ],
)
def test_mt940_lines_are_checked(tmp_path: Path, lines: list[str], line: int, words: str) -> None:
    path = tmp_path / "rkud.sta"
    path.write_text("\n".join(MT940_HEAD + lines) + "\n", encoding="utf-8")
    if line == 0:
        frame = read_bank_statement(path)
        assert frame["amount"].to_list() == [150_000]
        assert frame["line_no"].to_list() == [5]
        assert frame["reference"].to_list() == ["SP2D/1"]
    else:
        refused(path, line, words)


@pytest.mark.parametrize(
    ("entry", "closing", "line", "words"),
    [
        (":61:2611211121D150000,50NTRFNONREF//B1", "849999,50", 5, ":61: amount 150000,50"),
        (":61:2611211121D0,00NTRFNONREF//B1", "1000000,00", 5, ":61: amount is zero"),
        (":61:2613311121D150000,00NTRFNONREF//B1", "850000,00", 5, ":61: value date 261331"),
        (":61:2611211121D150000,00NTRFNONREF//B1", "85x,00", 7, "is not C|D YYMMDD"),
        (":61:2611211121D150000,00NTRFNONREF//B1", "850000,5", 7, ":60F:/:62F: balance amount"),
    ],
)
def test_mt940_errors_name_the_field_as_written(
    tmp_path: Path, entry: str, closing: str, line: int, words: str
) -> None:
    path = tmp_path / "rkud.sta"
    body = [entry, ":86:SP2D/1", f":62F:C261121IDR{closing}"]
    path.write_text("\n".join(MT940_HEAD + body) + "\n", encoding="utf-8")
    error = refused(path, line, words)
    assert "amount_text" not in error.reason and "date_text" not in error.reason


def test_an_mt940_remark_wrapped_at_65_characters_is_joined_back(tmp_path: Path) -> None:
    remark = "32.73/00001/SP2D-LS/BUD/2026 PEMBAYARAN PUBLIKASI KEGIATAN DINAS PENDIDIKAN REK:0012345678 BANK:110"
    chunks = [remark[i : i + 65] for i in range(0, len(remark), 65)]
    assert len(chunks) == 2 and not chunks[1].startswith(" ")  # wrapped mid-word
    path = tmp_path / "rkud.sta"
    body = [":61:2611211121D150000,00NTRFNONREF//B1", ":86:" + chunks[0], chunks[1]]
    path.write_text(
        "\r\n".join([*MT940_HEAD, *body, ":62F:C261121IDR850000,00", "-"]) + "\r\n",
        encoding="utf-8",
    )
    frame = read_bank_statement(path)
    assert frame["remark"].to_list() == [remark]
    assert frame["reference"].to_list() == ["32.73/00001/SP2D-LS/BUD/2026"]
    assert frame["counterparty_account"].to_list() == ["0012345678"]
    assert frame["counterparty_bank"].to_list() == ["110"]


def test_camt053_errors_name_their_line(truth: Truth, tmp_path: Path) -> None:
    path = tmp_path / "rkud.xml"
    write_camt053(truth.bank.head(3), path)
    text = path.read_text(encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text(text.replace("</AcctSvcrRef>", "</AcctSvcrRefX>", 1), encoding="utf-8")
    line = text[: text.index("</AcctSvcrRef>")].count("\n") + 1
    refused(broken, line, "not well-formed XML")
    sen = tmp_path / "sen.xml"
    sen.write_text(text.replace(".00</Amt>", ".50</Amt>", 1), encoding="utf-8")
    entry = text[: text.index("<Ntry>")].count("\n") + 1
    error = refused(sen, entry, "fraction of a rupiah")
    assert error.reason.startswith("Amt "), error.reason  # the field as written, not a column name
    assert "amount_text" not in error.reason
    indicator = tmp_path / "indicator.xml"
    indicator.write_text(text.replace("<CdtDbtInd>DBIT", "<CdtDbtInd>DEBIT", 1), encoding="utf-8")
    refused(indicator, entry, "CdtDbtInd")
    undated = tmp_path / "undated.xml"
    dates = r"<(ValDt|BookgDt)>\s*<Dt>[^<]*</Dt>\s*</\1>"
    assert len(re.findall(dates, text)) >= 2
    undated.write_text(re.sub(dates, "", text, count=2), encoding="utf-8")
    refused(undated, entry, "neither ValDt nor BookgDt has a Dt")  # was "None"


def test_midtrans_bad_rows_are_refused(tmp_path: Path) -> None:
    payouts = tmp_path / "payouts.csv"
    payouts.write_text(
        "reference_no,batch_id,status,beneficiary_bank,beneficiary_account,amount,fee,completed_at\n"
        "IRIS-1,IRISB-1,completed,014,0012345678,1000000.00,2500.00,2026-11-21 10:00:00\n"
        "IRIS-2,IRISB-1,failed,014,0012345679,1000000.00,2500.00,2026-11-21 10:00:00\n",
        encoding="utf-8",
    )
    refused(payouts, 3, "not completed", read_gateway_report)
    settlements = tmp_path / "settlements.csv"
    settlements.write_text(
        "order_id,batch_id,settlement_time,payment_type,gross_amount,fee,net_amount\n"
        "PBJT-1,STL-1,2026-11-21 09:00:00,qris,15000000.00,105000.00,14895000.00\n"
        "PBJT-2,STL-1,2026-11-21 09:00:00,qris,15000000.00,105000.00,14900000.00\n",
        encoding="utf-8",
    )
    refused(settlements, 3, "is not net_amount", read_gateway_report)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    refused(other, 1, "not a Midtrans", read_gateway_report)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    refused(tmp_path / "nope.csv", 0, "cannot read")


# -- the ledger ---------------------------------------------------------------------------------
PAJAK_HOTEL = c.LineSpec(
    skpd="5.02.0.00.0.00.01.0000",
    sub_kegiatan=None,
    rekening="4.1.01.06.01.0001",
    uraian="Pajak Hotel",
    pagu=2_000_000_000,
)


def test_the_ledger_frame_comes_from_the_events(ledger: Ledger, tmp_path: Path) -> None:
    f.adopt(ledger, f.MEDIA_LINE, PAJAK_HOTEL)
    f.register_vendor(ledger)
    f.pay_in_full(ledger, "SPP-1")
    commands: list[c.Command] = [
        f.request("SPP-2", 50_000_000),
        f.verify("SPP-2"),
        f.approve("SPP-2"),
        f.authorise("SPP-2"),
        f.request("SPP-3", 10_000_000),
        f.verify("SPP-3"),
    ]
    for command in commands:
        ledger.execute(command)
    f.pay_in_full(ledger, "SPP-4", 20_000_000)
    ledger.execute(f.return_("SPP-4"))
    later: list[c.Command] = [
        f.request("SPP-5", 30_000_000),
        f.verify("SPP-5"),
        f.approve("SPP-5"),
        f.authorise("SPP-5"),
        f.send("SPP-5", reference="iris-first"),
        f.fail("SPP-5"),
        f.send("SPP-5", reference="iris-second"),
    ]
    for command in later:
        ledger.execute(command)
    ledger.execute(
        c.RecordRevenue(
            idempotency_key=f.key("rev"),
            actor=f.GATEWAY,
            pemda=f.PEMDA,
            year=f.YEAR,
            line=f.ref(PAJAK_HOTEL),
            channel="midtrans:qris",
            reference="pbjt-2026-0001",
            payer="Hotel Savoy Homann",
            gross=15_000_000,
            fee=105_000,
        )
    )
    frame = ledger_frame(ledger)
    assert frame.schema == LEDGER
    rows = {r["sp2d_number"] or r["order_id"]: r for r in frame.iter_rows(named=True)}
    # SPP-3 never reached SP2D: nothing of it can be on a statement.
    assert set(rows) == {"SP2D/SPP-1", "SP2D/SPP-2", "SP2D/SPP-4", "SP2D/SPP-5", "PBJT-2026-0001"}
    paid = rows["SP2D/SPP-1"]
    assert paid["net"] == 98_000_000
    assert paid["payout_reference"] == "IRIS-SPP-1"
    assert (paid["beneficiary_bank"], paid["beneficiary_account"]) == ("110", "0012345678")
    assert paid["status"] == "settled"
    assert paid["settled_on"] == date(2026, 1, 2)
    assert rows["SP2D/SPP-2"]["status"] == "authorised"
    assert rows["SP2D/SPP-2"]["sent_on"] is None
    assert rows["SP2D/SPP-4"]["status"] == "returned"
    assert rows["SP2D/SPP-5"]["status"] == "sent"
    assert (
        rows["SP2D/SPP-5"]["payout_reference"] == "IRIS-SECOND"
    )  # the last transfer sent, canonical
    income = rows["PBJT-2026-0001"]
    assert (income["kind"], income["direction"], income["status"]) == ("receipt", "C", "received")
    assert (income["gross"], income["fee"], income["net"]) == (15_000_000, 105_000, 14_895_000)
    path = tmp_path / "ledger.parquet"
    frame.write_parquet(path)
    assert read_ledger_parquet(path).equals(frame)


def test_a_parquet_ledger_in_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.parquet"
    pl.DataFrame({"ledger_id": ["x"], "net": [1.5]}).write_parquet(path)
    with pytest.raises(StatementError, match="not the canonical ledger schema"):
        read_ledger_parquet(path)
