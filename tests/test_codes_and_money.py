"""Money is whole positive rupiah; deductions leave a positive net; Permendagri 90 codes are
validated and normalised so that one line has exactly one key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import commands as c
from ledger.application import Ledger
from ledger.codes import (
    REKENING_WIDTHS,
    SKPD_WIDTHS,
    SUB_KEGIATAN_WIDTHS,
    LineKey,
    normalise_code,
    normalise_rekening,
    normalise_skpd,
    normalise_sub_kegiatan,
    normalised_code,
)
from ledger.errors import InvalidAmount, InvalidCode, InvalidInput, LimitExceeded
from ledger.handlers import line_id_of
from ledger.money import (
    MAX_AMOUNT,
    MAX_DEDUCTIONS,
    Deduction,
    TaxRate,
    parse_deductions,
    require_non_negative_rupiah,
    require_rupiah,
    withholdings,
)
from tests import factory as f
from tests.refusals import last_notification_id, refused

AMOUNT_RULE = "amount_integer_rupiah"
CODE_RULE = "permendagri_90_code"
INPUT_RULE = "invalid_input"

NOT_RUPIAH: list[Any] = [
    100.0,
    100.5,
    Decimal("100"),
    True,
    False,
    "100",
    None,
    0,
    -1,
    -100_000,
    MAX_AMOUNT + 1,
]


# -- amounts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", NOT_RUPIAH, ids=repr)
def test_require_rupiah_refuses_anything_but_a_positive_int_within_limits(value: Any) -> None:
    with pytest.raises(InvalidAmount) as caught:
        require_rupiah(value)
    assert caught.value.rule == AMOUNT_RULE


@pytest.mark.parametrize("value", [1, 98_000_000, MAX_AMOUNT])
def test_require_rupiah_accepts_whole_rupiah_up_to_the_limit(value: int) -> None:
    assert require_rupiah(value) == value


def test_non_negative_rupiah_admits_zero_but_nothing_else_outside_the_range() -> None:
    assert require_non_negative_rupiah(0) == 0
    assert require_non_negative_rupiah(MAX_AMOUNT) == MAX_AMOUNT
    for value in (-1, MAX_AMOUNT + 1, True, 0.0, Decimal(0), "0"):
        with pytest.raises(InvalidAmount):
            require_non_negative_rupiah(value)


def test_gross_amount_of_a_request_must_be_whole_positive_rupiah(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    line_id = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)
    for value in NOT_RUPIAH:
        command = f.request("SPP-BAD", value, deductions=())
        error = refused(ledger, command, InvalidAmount, AMOUNT_RULE)
        assert "gross amount" in error.message
    line = ledger.budget_line(line_id)
    assert (line.committed, line.version) == (0, 1)
    # The very same request with an int is fine: the value was the only problem.
    result = ledger.execute(f.request("SPP-BAD", 1, deductions=()))
    assert result.data["net"] == 1


def test_pagu_of_an_adopted_line_must_be_whole_positive_rupiah(ledger: Ledger) -> None:
    bad: list[Any] = [1_000.0, Decimal(1000), True, "1000", 0, -1, MAX_AMOUNT + 1]
    for value in bad:
        command = c.AdoptBudget(
            idempotency_key=f.key("adopt"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="PERDA-1-2025",
            lines=(f.line_spec(pagu=value),),
        )
        refused(ledger, command, InvalidAmount, AMOUNT_RULE)
    assert last_notification_id(ledger) == 0


def test_shifted_amount_must_be_whole_positive_rupiah(ledger: Ledger) -> None:
    f.adopt(ledger)
    bad: list[Any] = [10.0, Decimal(10), True, "10", 0, -10, MAX_AMOUNT + 1]
    for value in bad:
        command = c.ShiftBudget(
            idempotency_key=f.key("shift"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="SK-GESER-1",
            from_line=f.ref(f.MEDIA_LINE),
            to_line=f.ref(f.GOODS_LINE),
            amount=value,
        )
        refused(ledger, command, InvalidAmount, AMOUNT_RULE)


# -- deductions --------------------------------------------------------------------------------
def test_deductions_must_leave_a_positive_net() -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_deductions([{"code": "PPN", "amount": 60}, {"code": "PPH23", "amount": 40}], 100)
    assert caught.value.rule == AMOUNT_RULE
    with pytest.raises(InvalidAmount):
        parse_deductions([{"code": "PPN", "amount": 101}], 100)
    # Net of exactly Rp 1 is still a transfer.
    parsed = parse_deductions([{"code": "PPN", "amount": 60}, {"code": "PPH23", "amount": 39}], 100)
    assert parsed == (Deduction("PPN", 60), Deduction("PPH23", 39))


@pytest.mark.parametrize("code", ["pph23", "", "PPH-23", "PPH 23", "A" * 17, 23, None, "Ppn"])
def test_deduction_code_must_be_an_upper_case_tax_code(code: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_deductions([{"code": code, "amount": 10}], 1_000)
    assert caught.value.rule == INPUT_RULE


@pytest.mark.parametrize("amount", [10.0, Decimal(10), True, "10", 0, -10, None])
def test_deduction_amount_must_be_whole_positive_rupiah(amount: Any) -> None:
    with pytest.raises(InvalidAmount):
        parse_deductions([{"code": "PPH23", "amount": amount}], 1_000)


def test_each_tax_code_is_withheld_once_per_payment() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_deductions([{"code": "PPH23", "amount": 10}, {"code": "PPH23", "amount": 5}], 1_000)
    assert "once" in caught.value.message


def test_number_of_deductions_is_limited() -> None:
    codes = [f"TAX{i}" for i in range(MAX_DEDUCTIONS + 1)]
    at_limit = [{"code": code, "amount": 1} for code in codes[:MAX_DEDUCTIONS]]
    assert len(parse_deductions(at_limit, 1_000)) == MAX_DEDUCTIONS
    with pytest.raises(LimitExceeded) as caught:
        parse_deductions([*at_limit, {"code": codes[-1], "amount": 1}], 1_000)
    assert caught.value.rule == "explicit_limit"


@pytest.mark.parametrize("raw", ["PPN", b"PPN", 5, {"code": "PPN", "amount": 1}, [("PPN", 1)]])
def test_deductions_must_be_a_list_of_code_and_amount(raw: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_deductions(raw, 1_000)


def test_no_deductions_is_an_empty_tuple() -> None:
    assert parse_deductions(None, 1_000) == ()
    assert parse_deductions([], 1_000) == ()


def test_net_is_gross_minus_deductions(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    deductions = ({"code": "PPN", "amount": 9_909_909}, {"code": "PPH23", "amount": 1_801_801})
    result = ledger.execute(f.request("SPP-NET", 100_000_000, deductions=deductions))
    assert result.data["net"] == 88_288_290
    d = ledger.disbursement(f.disbursement_id("SPP-NET"))
    assert (d.gross, d.net) == (100_000_000, 88_288_290)
    assert d.deductions == [
        {"code": "PPN", "amount": 9_909_909},
        {"code": "PPH23", "amount": 1_801_801},
    ]
    [requested] = ledger.history(d.id)
    assert (requested.gross, requested.net) == (100_000_000, 88_288_290)


def test_deductions_that_eat_the_whole_gross_are_refused_and_change_nothing(
    ledger: Ledger,
) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    deductions = ({"code": "PPN", "amount": 11_000}, {"code": "PPH23", "amount": 89_000})
    refused(
        ledger, f.request("SPP-ZERO", 100_000, deductions=deductions), InvalidAmount, AMOUNT_RULE
    )
    duplicate = ({"code": "PPN", "amount": 1}, {"code": "PPN", "amount": 2})
    refused(ledger, f.request("SPP-DUP", 100_000, deductions=duplicate), InvalidInput, INPUT_RULE)
    lowercase = ({"code": "ppn", "amount": 1},)
    refused(ledger, f.request("SPP-LC", 100_000, deductions=lowercase), InvalidInput, INPUT_RULE)
    many = tuple({"code": f"T{i}", "amount": 1} for i in range(MAX_DEDUCTIONS + 1))
    refused(
        ledger, f.request("SPP-MANY", 100_000, deductions=many), LimitExceeded, "explicit_limit"
    )
    assert ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)).committed == 0


# -- tax rates ---------------------------------------------------------------------------------
def test_withholding_rounds_down_to_the_whole_rupiah() -> None:
    pph22 = TaxRate("PPH22", 150)
    assert pph22.withhold(333) == 4  # 4.995
    assert pph22.withhold(1_000_000) == 15_000
    assert TaxRate("PPN", 1_100).withhold(1_000_009) == 110_000  # 110_000.99
    assert TaxRate("PPH23", 200).withhold(49) == 0  # 0.98
    assert TaxRate("PPH23", 200).withhold(50) == 1
    with pytest.raises(InvalidAmount):
        pph22.withhold(0)


def test_withholdings_come_from_a_rate_table_and_skip_zero_amounts() -> None:
    assert withholdings(1_000_000, ["PPN", "PPH23"]) == (
        Deduction("PPN", 110_000),
        Deduction("PPH23", 20_000),
    )
    assert withholdings(49, ["PPH23"]) == ()
    new_rates = {"PPN": TaxRate("PPN", 1_200)}  # a rate change is data
    assert withholdings(1_000_000, ["PPN"], new_rates) == (Deduction("PPN", 120_000),)
    with pytest.raises(InvalidInput):
        withholdings(1_000_000, ["PPH21"])


# -- codes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("5.1.2.02.01.27", "5.1.02.02.01.0027"),
        ("5.1.02.02.01.0055", "5.1.02.02.01.0055"),
        (" 5.1.2.2.1.55 ", "5.1.02.02.01.0055"),
        ("4.1.1.1.1.1", "4.1.01.01.01.0001"),
        ("6.2.2.1.1.1", "6.2.02.01.01.0001"),
    ],
)
def test_rekening_is_normalised_to_its_zero_padded_form(raw: str, normal: str) -> None:
    assert normalise_rekening(raw) == normal


def test_sub_kegiatan_and_skpd_are_normalised() -> None:
    assert normalise_sub_kegiatan("1.1.1.2.2.1") == "1.01.01.2.02.0001"
    assert normalise_sub_kegiatan("1.01.01.2.02.0001") == "1.01.01.2.02.0001"
    assert normalise_skpd("1.1.0.0.0.0.1.0") == "1.01.0.00.0.00.01.0000"
    assert normalise_skpd(f.SKPD) == f.SKPD


@pytest.mark.parametrize(
    "raw",
    [
        "5.1.02.02.01",  # five segments
        "5.1.02.02.01.0055.1",  # seven
        "5.1.0a.02.01.0055",  # not digits
        "5.1.-2.02.01.0055",
        "5.1..02.01.0055",  # empty segment
        "5.1.002.02.01.0055",  # segment wider than its width
        "5.1.02.02.01.00055",
        "5.1.\uff10\uff12.02.01.0055",  # full-width digits
        "5.1.\u0662.02.01.0055",  # Arabic-Indic digit
        "1.1.02.02.01.0055",  # akun 1..3 belong to the balance sheet, not the APBD
        "3.1.02.02.01.0055",
        "7.1.02.02.01.0055",
        "0.1.02.02.01.0055",
        "",
        5102020155,
        None,
    ],
)
def test_malformed_rekening_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidCode) as caught:
        normalise_rekening(raw)
    assert caught.value.rule == CODE_RULE


@pytest.mark.parametrize(
    "raw", ["1.01.01.2.02", "1.01.01.2.02.0001.1", "1.01.01.x.02.0001", "0.01.01.2.02.0001", 101]
)
def test_malformed_sub_kegiatan_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidCode):
        normalise_sub_kegiatan(raw)


@pytest.mark.parametrize(
    "raw", ["1.01.0.00.0.00.01", "1.01.0.00.0.00.01.00000", "1.01.0.00.0.00.01.x"]
)
def test_malformed_skpd_is_refused(raw: str) -> None:
    with pytest.raises(InvalidCode):
        normalise_skpd(raw)


@pytest.mark.parametrize("rekening", ["5.1.02.02.01.0055", "6.2.02.01.01.0001"])
def test_spending_line_needs_a_sub_kegiatan(rekening: str) -> None:
    for missing in (None, ""):
        with pytest.raises(InvalidCode) as caught:
            LineKey.parse(f.SKPD, missing, rekening)
        assert "needs a sub kegiatan" in caught.value.message


@pytest.mark.parametrize("rekening", ["4.1.01.01.01.0001", "6.1.01.01.01.0001"])
def test_income_and_financing_receipt_lines_need_no_sub_kegiatan(rekening: str) -> None:
    key = LineKey.parse(f.SKPD, None, rekening)
    assert key == LineKey(f.SKPD, None, rekening)
    assert key.program is None


def test_line_key_roll_up_levels() -> None:
    key = LineKey.parse("1.1.0.0.0.0.1.0", "1.1.1.2.2.1", "5.1.2.2.1.55")
    assert str(key) == "1.01.0.00.0.00.01.0000/1.01.01.2.02.0001/5.1.02.02.01.0055"
    assert key.program == "1.01.01"
    assert key.kegiatan == "1.01.01.2.02"


def test_unpadded_codes_name_the_same_line(ledger: Ledger) -> None:
    unpadded = f.line_spec(
        "5.1.2.2.1.55", 700_000, skpd="1.1.0.0.0.0.1.0", sub_kegiatan="1.1.1.2.2.1"
    )
    f.adopt(ledger, unpadded)
    f.register_vendor(ledger)
    line_id = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)
    assert ledger.budget(f.PEMDA, f.YEAR).line_ids == [str(line_id)]
    line = ledger.budget_line(line_id)
    assert (line.skpd, line.sub_kegiatan, line.rekening) == (
        f.SKPD,
        f.SUB_KEGIATAN,
        "5.1.02.02.01.0055",
    )
    # A request naming the line padded and one naming it unpadded commit on the same line.
    ledger.execute(f.request("SPP-PAD", 300_000, f.MEDIA_LINE, deductions=()))
    ledger.execute(f.request("SPP-UNPAD", 400_000, unpadded, deductions=()))
    line = ledger.budget_line(line_id)
    assert (line.committed, line.available) == (700_000, 0)


def test_one_document_may_not_name_a_line_twice_in_two_spellings(ledger: Ledger) -> None:
    twin = f.line_spec("5.1.2.2.1.55", 5_000)
    command = c.AdoptBudget(
        idempotency_key=f.key("adopt"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-1-2025",
        lines=(f.MEDIA_LINE, twin),
    )
    error = refused(ledger, command, InvalidInput, INPUT_RULE)
    assert "twice" in error.message


@pytest.mark.parametrize(
    ("sub_kegiatan", "rekening"),
    [
        (f.SUB_KEGIATAN, "5.1.02.02.01"),
        (f.SUB_KEGIATAN, "9.1.02.02.01.0055"),
        (f.SUB_KEGIATAN, "5.1.O2.02.01.0055"),  # letter O
        (None, "5.1.02.02.01.0055"),
        ("1.01.01.2.02", "5.1.02.02.01.0055"),
    ],
)
def test_adopting_a_line_with_a_bad_code_appends_nothing(
    ledger: Ledger, sub_kegiatan: str | None, rekening: str
) -> None:
    spec = f.line_spec(rekening, sub_kegiatan=sub_kegiatan)
    command = c.AdoptBudget(
        idempotency_key=f.key("adopt"),
        actor=f.ADMIN,
        pemda=f.PEMDA,
        year=f.YEAR,
        document="PERDA-1-2025",
        lines=(f.GOODS_LINE, spec),
    )
    refused(ledger, command, InvalidCode, CODE_RULE)
    assert last_notification_id(ledger) == 0


def test_nothing_is_paid_out_of_an_income_line(ledger: Ledger) -> None:
    income = f.line_spec(
        "4.1.01.01.01.0001", 5_000_000_000, sub_kegiatan=None, uraian="Pajak Hotel"
    )
    f.adopt(ledger, f.MEDIA_LINE, income)
    f.register_vendor(ledger)
    error = refused(
        ledger, f.request("SPP-INC", 1_000_000, income, deductions=()), InvalidInput, INPUT_RULE
    )
    assert "income line" in error.message
    line = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, income))
    assert (line.committed, line.realised, line.version) == (0, 0, 1)
    assert not ledger.recorder.select_events(f.disbursement_id("SPP-INC"))


# -- remembered codes (issue 17, write path) -------------------------------------------------------
_CODE_TEXT = st.text(st.sampled_from("0123456789. \u0661x"), max_size=24)


@given(_CODE_TEXT, st.sampled_from([SUB_KEGIATAN_WIDTHS, REKENING_WIDTHS, SKPD_WIDTHS]))
def test_a_remembered_code_is_what_normalising_it_afresh_gives(code: str, widths: Any) -> None:
    """The same value, or the same refusal, the first time, the second time, and uncached."""

    def outcome(normalise: Any) -> tuple[str, str]:
        try:
            return ("ok", normalise(code, widths, "code"))
        except InvalidCode as error:
            return ("refused", str(error))

    fresh = outcome(normalised_code.__wrapped__)
    assert outcome(normalise_code) == fresh
    assert outcome(normalise_code) == fresh


def test_a_str_subclass_is_normalised_as_a_str() -> None:
    class Code(str):
        pass

    assert normalise_skpd(Code(" 1.1.0.0.0.0.1.0")) == "1.01.0.00.0.00.01.0000"
    with pytest.raises(InvalidCode):
        normalise_skpd(Code("1.1"))
