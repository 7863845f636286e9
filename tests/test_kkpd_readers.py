"""The KKPD card statement reader (profile ``bpd_kkpd``) and the contract CSVs of the ledger side:
every line kept with its kind, cards in one normal form, amounts exact; each kind of bad line
refused with its file, line number and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from reconciliation import kkpd
from reconciliation.errors import StatementError
from reconciliation.readers.kkpd_csv import CardCsvProfile, read_card_csv, read_contract_csv

FIXTURE = Path(__file__).parent / "fixtures" / "kkpd-2026-11.csv"
HEADER = (
    "tanggal_transaksi;tanggal_posting;nomor_kartu;nama_merchant;kode_otorisasi;uraian;debet;kredit"
)
GOOD = "03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO ATK;A1;ATK;1.250.000,00;"


def test_the_fixture_is_read_line_by_line_with_kinds_cards_and_exact_amounts() -> None:
    rows = read_card_csv(FIXTURE)
    assert rows.schema == kkpd.CARD_STATEMENT
    assert rows["line_no"].to_list() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert rows["kind"].to_list() == [
        "purchase", "purchase", "purchase", "refund", "fee", "payment", "purchase", "interest",
    ]  # fmt: skip
    assert rows["direction"].to_list() == ["D", "D", "D", "C", "D", "C", "D", "D"]
    assert rows["amount"].to_list() == [
        1_250_000, 2_400_000, 750_000, 250_000, 10_000, 3_000_000, 4_000_000, 35_000,
    ]  # fmt: skip
    assert rows["card"].unique().sort().to_list() == ["110:1234", "110:5678"]
    first = rows.row(0, named=True)
    assert first["authorisation"] == "A1B2C3"  # upper case, as the SPJ side is compared
    assert (first["transacted_on"], first["posted_on"]) == (date(2026, 11, 3), date(2026, 11, 4))
    assert first["card_masked"] == "5264-xxxx-xxxx-1234"
    assert rows["merchant"][4] is None and rows["authorisation"][1] is None


def test_a_bank_with_one_amount_column_and_d_k_is_a_profile(tmp_path: Path) -> None:
    profile = CardCsvProfile(
        name="bank_x",
        columns=["tgl", "kartu", "merchant", "uraian", "jumlah", "dk"],
        roles={"transacted_on": "tgl", "card": "kartu", "merchant": "merchant",
               "remark": "uraian", "amount": "jumlah", "dc": "dk"},
        bank_code="114",
        date_format="%Y-%m-%d",
    )  # fmt: skip
    rows = _read(
        tmp_path,
        "tgl;kartu;merchant;uraian;jumlah;dk\n"
        "2026-11-02;526412******9876;APOTEK;OBAT;125.000;D\n"
        "2026-11-20;526412******9876;;PAYMENT THANK YOU;125.000;K\n",
        profile,
    )
    assert rows["card"].to_list() == ["114:9876", "114:9876"]
    assert rows["kind"].to_list() == ["purchase", "payment"]
    assert rows["posted_on"].to_list() == [date(2026, 11, 2), date(2026, 11, 20)]


def _read(folder: Path, text: str, profile: CardCsvProfile | None = None) -> pl.DataFrame:
    path = folder / "statement.csv"
    path.write_text(text, encoding="utf-8")
    return read_card_csv(path) if profile is None else read_card_csv(path, profile)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("31/02/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO;;ATK;1.000;", "31/02/2026 is not a date"),
        ("03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO;;ATK;1.000,50;", "fraction of a rupiah"),
        ("03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO;;ATK;1.000;1.000", "exactly one of debet and kredit"),
        ("03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO;;ATK;;", "exactly one of debet and kredit"),
        ("03/11/2026;04/11/2026;xxxx-xxxx-xxxx-xx12;TOKO;;ATK;1.000;", "has no four digits"),
        ("03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;;;TARIK TUNAI;1.000;", "a debit with no nama_merchant"),
        ("03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO;ATK;1.000;", "expected 8 fields"),
        ("03/11/2026;;5264-xxxx-xxxx-1234;TOKO;;ATK;1.000;", "tanggal_posting  is not a date"),
        ("03/11/2026;04/11/2026;5264-xxxx-xxxx-1234;TOKO;;ATK;satu juta;", "not a rupiah amount"),
    ],
)  # fmt: skip
def test_a_bad_line_is_refused_with_its_number(tmp_path: Path, line: str, reason: str) -> None:
    with pytest.raises(StatementError) as refused:
        _read(tmp_path, f"{HEADER}\n{GOOD}\n\n{line}\n{GOOD}\n")
    assert refused.value.line == 4  # the blank line 3 is skipped but counted
    assert reason in refused.value.reason


def test_a_wrong_header_or_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StatementError, match=r":1: header is"):
        _read(tmp_path, HEADER.replace("debet", "debit") + "\n" + GOOD + "\n")
    with pytest.raises(StatementError, match="the file is empty"):
        _read(tmp_path, "")


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("5264-xxxx-xxxx-1234", "110:1234"),
        ("526412******1234", "110:1234"),
        (" 1234 ", "110:1234"),
        ("110:1234", "110:1234"),
        ("4111 1111 1111 4321", "110:4321"),
        ("xxxx", None),
        ("123", None),
    ],
)
def test_both_sides_write_a_card_in_one_normal_form(written: str, normal: str | None) -> None:
    frame = pl.DataFrame({"card": [written]})
    assert frame.select(kkpd.card_key(pl.col("card"), "110"))["card"][0] == normal


def test_the_ledger_side_csvs_are_read_in_the_contract_or_refused_by_line(tmp_path: Path) -> None:
    spj = tmp_path / "spj.csv"
    head = "spj_id;skpd;card;spent_on;amount;merchant;reference;line_id\n"
    spj.write_text(head + "S1;1.01;5264-xxxx-xxxx-1234;2026-11-03;1.250.000;TOKO;;L1\n")
    frame = read_contract_csv(spj, kkpd.SPJ, "110")
    assert frame.schema == kkpd.SPJ
    assert frame.row(0) == (
        "S1",
        "1.01",
        "110:1234",
        date(2026, 11, 3),
        1_250_000,
        "TOKO",
        None,
        "L1",
    )
    for line, reason in [
        ("S1;1.01;1234;2026-11-03;1000;T;;L1", "spj_id S1 appears twice"),
        ("S2;1.01;1234;03/11/2026;1000;T;;L1", "spent_on 03/11/2026 is not a date"),
        ("S2;;1234;2026-11-03;1000;T;;L1", "every one of spj_id, skpd"),
        ("S2;1.01;kartu;2026-11-03;1000;T;;L1", "card kartu has no four digits"),
    ]:
        spj.write_text(head + "S1;1.01;1234;2026-11-03;1000;T;;L1\n" + line + "\n")
        with pytest.raises(StatementError) as refused:
            read_contract_csv(spj, kkpd.SPJ, "110")
        assert (refused.value.line, reason in refused.value.reason) == (3, True), refused.value
