"""The matching engine: each pass on small hand-made cases, every planted difference of a generated
ground truth found with no false match, and a property: any generated truth is recovered exactly."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.matching import Params, Result, reconcile, scope_ledger
from reconciliation.schema import LEDGER, STATEMENT, STATUSES
from testkit.reconciliation import generate

END = date(2026, 11, 21)
PARAMS = Params(period_end=END, window_days=3)
SP2D = "32.73/00001/SP2D-LS/BUD/2026"


def bank(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": "bank",
        "file": "rkud.csv",
        "line_no": 0,
        "value_date": END,
        "direction": "D",
        "amount": 98_000_000,
        "fee": 0,
        "kind": "transfer",
        "reference": SP2D,
        "remark": f"{SP2D} PT A",
        "counterparty_account": "0012345678",
        "counterparty_bank": "110",
        "bank_ref": None,
        "batch_id": None,
    }
    row.update(kw)
    return row


def gateway(**kw: Any) -> dict[str, Any]:
    return bank(**{"source": "gateway", "file": "midtrans.csv", "kind": "payout", **kw})


def disbursement(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ledger_id": "D1",
        "kind": "disbursement",
        "direction": "D",
        "sp2d_number": SP2D,
        "payout_reference": None,
        "order_id": None,
        "gross": 100_000_000,
        "fee": 0,
        "net": 98_000_000,
        "beneficiary_bank": "110",
        "beneficiary_account": "0012345678",
        "authorised_on": END - timedelta(days=1),
        "sent_on": END,
        "settled_on": END,
        "status": "settled",
    }
    row.update(kw)
    return row


def receipt(**kw: Any) -> dict[str, Any]:
    row = disbursement(
        ledger_id="R1",
        kind="receipt",
        direction="C",
        sp2d_number=None,
        order_id="PBJT-1",
        gross=15_000_000,
        fee=105_000,
        net=14_895_000,
        beneficiary_bank=None,
        beneficiary_account=None,
        status="received",
    )
    row.update(kw)
    return row


def run(
    statement: list[dict[str, Any]], ledger: list[dict[str, Any]], params: Params = PARAMS
) -> Result:
    lines = [{**row, "line_no": i + 1} for i, row in enumerate(statement)]
    result = reconcile(
        pl.DataFrame(lines, schema=STATEMENT), pl.DataFrame(ledger, schema=LEDGER), params
    )
    assert_invariants(result)
    return result


def statuses(result: Result) -> tuple[list[str], list[str]]:
    return (
        result.statement["status"].cast(pl.String).to_list(),
        result.ledger["status"].cast(pl.String).to_list(),
    )


def assert_invariants(result: Result) -> None:
    """Every line one status; a statement line never names two ledger lines and a ledger line is
    matched (or mismatched) by at most one line of each source."""
    for frame in (result.statement, result.ledger):
        assert frame["status"].null_count() == 0
        assert set(frame["status"].cast(pl.String).unique()) <= set(STATUSES)
    links = result.statement.filter(
        pl.col("status").cast(pl.String).is_in(["matched", "amount_mismatch"])
    )
    primary = links.filter(pl.col("ledger_id").is_not_null())
    assert primary.select(pl.struct("ledger_id", "source").is_duplicated().any()).item() is False
    matched = result.ledger.filter(pl.col("status").cast(pl.String) == "matched")
    assert (
        matched.filter(
            pl.col("matched_line_no").is_not_null() & pl.col("matched_file").is_null()
        ).height
        == 0
    )


# -- pass 1: references -------------------------------------------------------------------------
def test_a_debit_naming_the_sp2d_matches_it() -> None:
    result = run([bank()], [disbursement()])
    assert statuses(result) == (["matched"], ["matched"])
    assert result.statement["ledger_id"].to_list() == ["D1"]
    assert result.statement["match_pass"].to_list() == ["reference"]
    assert result.ledger["matched_line_no"].to_list() == [1]


def test_a_different_amount_under_the_sp2d_is_a_mismatch() -> None:
    assert statuses(run([bank(amount=98_500_000)], [disbursement()])) == (
        ["amount_mismatch"],
        ["amount_mismatch"],
    )


def test_a_second_debit_of_one_sp2d_is_a_duplicate() -> None:
    result = run([bank(), bank(value_date=END - timedelta(days=1))], [disbursement()])
    # The earlier debit is the payment; the later one the duplicate.
    assert statuses(result) == (["duplicate", "matched"], ["matched"])
    assert result.statement["ledger_id"].to_list() == ["D1", "D1"]


def test_the_right_amount_wins_over_an_earlier_wrong_one() -> None:
    result = run([bank(amount=1_000, value_date=END - timedelta(days=1)), bank()], [disbursement()])
    # The SP2D number on another amount is not a second payment of it: the reference was reused.
    assert statuses(result) == (["reference_reused", "matched"], ["matched"])


def test_a_credit_naming_the_sp2d_is_its_return() -> None:
    back = bank(direction="C", kind="return", remark=f"RETUR {SP2D}")
    result = run([bank(), back], [disbursement(status="returned")])
    assert statuses(result) == (["matched", "returned"], ["returned"])


def test_a_near_miss_reference_is_no_match() -> None:
    near = bank(reference=SP2D + "X", counterparty_account="0099999999")
    assert statuses(run([near], [disbursement()])) == (["unmatched_bank"], ["timing"])
    # With the vendor's account and amount it is still found, by pass 2.
    result = run([bank(reference=SP2D + "X")], [disbursement()])
    assert result.statement["match_pass"].to_list() == ["amount_account"]


# -- pass 2: amount + account in the window -----------------------------------------------------
def test_no_reference_but_amount_and_account_in_the_window_matches() -> None:
    line = bank(reference="KE", remark="TRF KE REK 0012345678", value_date=END)
    result = run([line], [disbursement(sent_on=END - timedelta(days=2))])
    assert statuses(result) == (["matched"], ["matched"])
    assert result.statement["match_pass"].to_list() == ["amount_account"]


def test_outside_the_window_or_another_account_is_no_match() -> None:
    late = bank(reference="KE", value_date=END)
    early = disbursement(sent_on=END - timedelta(days=4))
    assert statuses(run([late], [early])) == (["unmatched_bank"], ["unmatched_ledger"])
    other = bank(reference="KE", counterparty_account="0099999999")
    assert statuses(run([other], [disbursement()])) == (["unmatched_bank"], ["timing"])


def test_equal_amounts_to_one_account_pair_one_to_one() -> None:
    lines = [
        bank(reference=None, bank_ref="A", value_date=END - timedelta(days=1)),
        bank(reference=None, bank_ref="B", value_date=END),
    ]
    ledger = [
        disbursement(ledger_id="D1", sp2d_number="S1", sent_on=END - timedelta(days=1)),
        disbursement(ledger_id="D2", sp2d_number="S2", sent_on=END),
    ]
    result = run(lines, ledger)
    assert statuses(result) == (["matched", "matched"], ["matched", "matched"])
    assert result.statement["ledger_id"].to_list() == ["D1", "D2"]


def test_one_debit_too_many_for_equal_payments_is_ambiguous_not_a_guess() -> None:
    # Three debits of one amount to one account for two payments: which one has no SP2D behind it
    # is a guess, so all of them are reported instead of the last one silently.
    lines = [
        bank(reference=None, bank_ref="A", value_date=END - timedelta(days=1)),
        bank(reference=None, bank_ref="B", value_date=END),
        bank(reference=None, bank_ref="C", value_date=END),
    ]
    ledger = [
        disbursement(ledger_id="D1", sp2d_number="S1", sent_on=END - timedelta(days=1)),
        disbursement(ledger_id="D2", sp2d_number="S2", sent_on=END),
    ]
    result = run(lines, ledger)
    assert statuses(result) == (["ambiguous"] * 3, ["ambiguous"] * 2)
    assert result.statement["ledger_id"].to_list() == [None] * 3
    assert result.statement["agreed"].to_list() == ["amount,account,date"] * 3


def test_a_debit_without_sp2d_next_to_a_real_payment_is_ambiguous() -> None:
    # The real payment and a debit with no SP2D behind it: same amount, account and day.
    lines = [bank(reference=None, bank_ref="A"), bank(reference=None, bank_ref="B")]
    result = run(lines, [disbursement()])
    assert statuses(result) == (["ambiguous", "ambiguous"], ["ambiguous"])
    # A debit outside the payment's window is no candidate: the pair is certain again.
    lines[1]["value_date"] = END - timedelta(days=9)
    assert statuses(run(lines, [disbursement()])) == (["matched", "unmatched_bank"], ["matched"])


def test_payments_whose_windows_do_not_meet_pair_on_their_own() -> None:
    lines = [
        bank(reference=None, bank_ref="A", value_date=END - timedelta(days=10)),
        bank(reference=None, bank_ref="B", value_date=END),
        bank(reference=None, bank_ref="C", value_date=END),
    ]
    ledger = [
        disbursement(ledger_id="D1", sp2d_number="S1", sent_on=END - timedelta(days=10)),
        disbursement(ledger_id="D2", sp2d_number="S2", sent_on=END),
    ]
    result = run(lines, ledger)
    assert statuses(result) == (["matched", "ambiguous", "ambiguous"], ["matched", "ambiguous"])


# -- the payee: account substitution ------------------------------------------------------------
def test_the_sp2d_number_and_amount_paid_to_another_account_is_never_matched() -> None:
    result = run([bank(counterparty_account="0099999999")], [disbursement()])
    assert statuses(result) == (["account_mismatch"], ["account_mismatch"])
    assert result.statement["ledger_id"].to_list() == ["D1"]
    assert result.statement["agreed"].to_list() == ["reference,amount,bank"]
    # The same account number at another bank is another account.
    assert statuses(run([bank(counterparty_bank="014")], [disbursement()])) == (
        ["account_mismatch"],
        ["account_mismatch"],
    )
    # A payout row of the gateway to another account likewise.
    row = gateway(reference="IRIS-1", counterparty_account="0099999999", batch_id="B1")
    batch = bank(reference="B1", amount=98_000_000, counterparty_account=None)
    result = run([row, batch], [disbursement(payout_reference="IRIS-1")])
    assert statuses(result) == (["account_mismatch", "matched"], ["account_mismatch"])


def test_account_numbers_compare_without_punctuation_and_bank_codes_only_as_kode_bank() -> None:
    line = bank(counterparty_account="001-234.567 8", counterparty_bank="BJBRIDJA")
    result = run([line], [disbursement()])
    assert statuses(result) == (["matched"], ["matched"])
    assert result.statement["agreed"].to_list() == ["reference,amount,account"]


def test_a_line_without_the_counterparty_is_matched_on_what_it_carries() -> None:
    result = run([bank(counterparty_account=None, counterparty_bank=None)], [disbursement()])
    assert statuses(result) == (["matched"], ["matched"])
    assert result.statement["agreed"].to_list() == ["reference,amount"]


def test_agreed_says_which_fields_agreed_for_every_match() -> None:
    result = run([bank()], [disbursement()])
    assert result.statement["agreed"].to_list() == ["reference,amount,account,bank"]
    assert result.ledger["agreed"].to_list() == ["reference,amount,account,bank"]
    result = run([bank(reference=None)], [disbursement()])
    assert result.statement["agreed"].to_list() == ["amount,account,bank,date"]


def test_a_second_debit_of_one_sp2d_to_another_account_is_not_a_mere_duplicate() -> None:
    fraud = bank(counterparty_account="0099999999", value_date=END - timedelta(days=1))
    result = run([fraud, bank()], [disbursement()])
    assert statuses(result) == (["account_mismatch", "matched"], ["matched"])
    assert result.ledger["matched_line_no"].to_list() == [2]


def test_the_real_payment_is_found_when_another_line_names_its_sp2d_and_pays_another_account() -> (
    None
):
    fraud = bank(counterparty_account="0099999999")
    real = bank(reference=None, bank_ref="REAL")
    result = run([fraud, real], [disbursement()])
    assert statuses(result) == (["account_mismatch", "matched"], ["matched"])
    assert result.ledger["matched_line_no"].to_list() == [2]


# -- a reference reused on another amount -------------------------------------------------------
def test_a_reused_sp2d_number_never_makes_the_real_payment_look_unpaid() -> None:
    # The real payment carries no SP2D number; another debit carries it on another amount.
    reused = bank(amount=12_000_000, bank_ref="X")
    real = bank(reference=None, bank_ref="REAL")
    result = run([reused, real], [disbursement()])
    assert statuses(result) == (["reference_reused", "matched"], ["matched"])
    assert result.statement["ledger_id"].to_list() == ["D1", "D1"]
    assert result.ledger["matched_line_no"].to_list() == [2]
    assert result.ledger["match_pass"].to_list() == ["amount_account"]
    # Both carry it: the one on the SP2D's amount is the payment, the other reused it.
    result = run([bank(amount=12_000_000), bank()], [disbursement()])
    assert statuses(result) == (["reference_reused", "matched"], ["matched"])


def test_a_wrong_amount_alone_stays_an_amount_mismatch() -> None:
    result = run([bank(amount=98_500_000), bank(reference=None, amount=7_000)], [disbursement()])
    assert statuses(result) == (["amount_mismatch", "unmatched_bank"], ["amount_mismatch"])


# -- pass 3: batches ----------------------------------------------------------------------------
def payout_batch(total: int | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = [
        gateway(reference="IRIS-1", amount=1_000_000, fee=2_500, batch_id="IRISB-1"),
        gateway(reference="IRIS-2", amount=2_000_000, fee=2_500, batch_id="IRISB-1"),
    ]
    ledger = [
        disbursement(ledger_id="D1", sp2d_number="S1", payout_reference="IRIS-1", net=1_000_000),
        disbursement(ledger_id="D2", sp2d_number="S2", payout_reference="IRIS-2", net=2_000_000),
    ]
    debit = bank(reference="IRISB-1", remark="IRISB-1 MIDTRANS PAYOUT", amount=total or 3_005_000)
    return [debit, *rows], ledger


def test_a_payout_batch_settled_as_one_debit_matches_every_payout() -> None:
    statement, ledger = payout_batch()
    result = run(statement, ledger)
    assert statuses(result) == (["matched"] * 3, ["matched", "matched"])
    assert result.statement["matched_batch"].to_list() == ["IRISB-1", None, None]


def test_a_batch_debited_with_another_total_is_a_mismatch_for_all_of_it() -> None:
    statement, ledger = payout_batch(total=3_000_000)
    assert statuses(run(statement, ledger)) == (["amount_mismatch"] * 3, ["amount_mismatch"] * 2)


def test_a_batch_debited_twice_is_a_duplicate() -> None:
    statement, ledger = payout_batch()
    again = {**statement[0], "value_date": END}
    first = {**statement[0], "value_date": END - timedelta(days=1)}
    result = run([first, again, *statement[1:]], ledger)
    assert statuses(result) == (
        ["matched", "duplicate", "matched", "matched"],
        ["matched", "matched"],
    )


def test_a_batch_not_on_the_statement_yet_is_timing() -> None:
    statement, ledger = payout_batch()
    assert statuses(run(statement[1:], ledger)) == (["timing"] * 2, ["timing"] * 2)


def test_a_settlement_batch_is_credited_net_of_fees() -> None:
    rows = [
        gateway(
            kind="settlement",
            direction="C",
            reference="PBJT-1",
            amount=15_000_000,
            fee=105_000,
            batch_id="STL-1",
        ),
        gateway(
            kind="settlement",
            direction="C",
            reference="PBJT-X",
            amount=1_000_000,
            fee=7_000,
            batch_id="STL-1",
        ),
    ]
    credit = bank(
        direction="C", reference="STL-1", remark="STL-1 MIDTRANS", amount=14_895_000 + 993_000
    )
    result = run([credit, *rows], [receipt()])
    # The row with no ledger record is money that came in with no receipt behind it.
    assert statuses(result) == (["matched", "matched", "unmatched_bank"], ["matched"])


# -- classification -----------------------------------------------------------------------------
def test_the_rest_is_classified() -> None:
    statement = [
        bank(kind="fee", reference=None, remark="BIAYA ADM", amount=6_500),
        bank(
            kind="interest", direction="C", reference=None, remark="BUNGA JASA GIRO", amount=125_000
        ),
        bank(reference="TARIK", remark="TARIK TUNAI", counterparty_account="0999"),
        bank(direction="C", kind="return", reference="UNKNOWN", remark="RETUR UNKNOWN"),
    ]
    ledger = [
        disbursement(
            ledger_id="OLD",
            sp2d_number="S-OLD",
            sent_on=END - timedelta(days=3),
            settled_on=None,
            status="sent",
        ),
        disbursement(
            ledger_id="NEW",
            sp2d_number="S-NEW",
            sent_on=END - timedelta(days=2),
            settled_on=None,
            status="sent",
        ),
        disbursement(
            ledger_id="SP2D",
            sp2d_number="S-AUT",
            sent_on=None,
            authorised_on=END,
            settled_on=None,
            status="authorised",
        ),
        receipt(),
    ]
    result = run(statement, ledger)
    assert statuses(result) == (
        ["fee", "fee", "unmatched_bank", "returned"],
        ["unmatched_ledger", "timing", "timing", "timing"],
    )


def test_an_empty_statement_leaves_every_ledger_line_open() -> None:
    result = run([], [disbursement()])
    assert statuses(result) == ([], ["timing"])


def test_scope_leaves_out_failed_and_earlier_settled_lines() -> None:
    ledger = pl.DataFrame(
        [
            disbursement(ledger_id="A"),
            disbursement(ledger_id="B", status="failed", settled_on=None),
            disbursement(
                ledger_id="C", settled_on=END - timedelta(days=5), sent_on=END - timedelta(days=5)
            ),
            disbursement(
                ledger_id="D", sent_on=END + timedelta(days=1), settled_on=None, status="sent"
            ),
            disbursement(
                ledger_id="E", sent_on=END - timedelta(days=30), settled_on=None, status="sent"
            ),
        ],
        schema=LEDGER,
    )
    scoped = scope_ledger(ledger, END, END).collect()
    assert scoped["ledger_id"].to_list() == ["A", "E"]


# -- generated ground truth ---------------------------------------------------------------------
def check_truth(rows: int, seed: int) -> None:
    truth = generate(rows, seed=seed)
    result = reconcile(
        truth.statement(), truth.ledger_input(), Params(truth.period_end, truth.window_days)
    )
    assert_invariants(result)
    expected = truth.expected_statement()
    got = result.statement.select(pl.col("status").cast(pl.String), "ledger_id")
    wrong = got.with_columns(expected).filter(
        (pl.col("status") != pl.col("expected_status"))
        | (
            pl.col("expected_ledger_id").is_not_null()
            & pl.col("ledger_id").ne_missing(pl.col("expected_ledger_id"))
        )
        | (
            pl.col("expected_ledger_id").is_null()
            & pl.col("ledger_id").is_not_null()
            & (pl.col("status") != "matched")
        )
    )
    assert wrong.height == 0, wrong
    ledger_got = result.ledger["status"].cast(pl.String)
    assert (ledger_got != truth.ledger["expected_status"]).sum() == 0


def test_every_planted_difference_is_found_with_no_false_match() -> None:
    truth = generate(20_000, seed=5)
    planted_statement = set(truth.expected_statement()["expected_status"].unique())
    planted_ledger = set(truth.ledger["expected_status"].unique())
    # Every status is planted somewhere, so every kind of difference is exercised.
    assert planted_statement == set(STATUSES) - {"unmatched_ledger"}
    assert planted_ledger == {
        "matched",
        "amount_mismatch",
        "unmatched_ledger",
        "timing",
        "returned",
        "account_mismatch",
        "ambiguous",
    }
    check_truth(20_000, 5)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.integers(min_value=0, max_value=400), seed=st.integers(min_value=0, max_value=2**31))
def test_any_generated_truth_is_recovered_exactly(rows: int, seed: int) -> None:
    check_truth(rows, seed)


@pytest.mark.parametrize("window", [0, 1, 5])
def test_the_window_moves_the_timing_cut_off(window: int) -> None:
    sent = END - timedelta(days=window)
    ledger = [disbursement(sent_on=sent, settled_on=None, status="sent")]
    result = run([], ledger, Params(period_end=END, window_days=window))
    assert statuses(result) == ([], ["unmatched_ledger"])
    result = run(
        [],
        [disbursement(sent_on=sent + timedelta(days=1), settled_on=None, status="sent")],
        Params(END, window),
    )
    assert statuses(result) == ([], ["timing"])


# -- property: adversarial inputs keep the one-to-one rules ------------------------------------
POOL = [f"SP2D/{i}" for i in range(6)] + ["IRIS-1", "IRIS-2", "STL-1", "KE"]
ACCOUNTS = ["0011", "0022", None]
AMOUNTS = [1_000, 2_000, 3_000]


@st.composite
def crowded(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Few references, accounts and amounts shared by many lines: duplicates, near misses and ties."""
    ledger = []
    for i in range(draw(st.integers(0, 6))):
        ledger.append(
            disbursement(
                ledger_id=f"D{i}",
                sp2d_number=f"SP2D/{i}",
                payout_reference=draw(st.sampled_from([None, "IRIS-1", "IRIS-2"])),
                net=draw(st.sampled_from(AMOUNTS)),
                beneficiary_account=draw(st.sampled_from(ACCOUNTS)),
                beneficiary_bank=draw(st.sampled_from(["110", "014"])),
                sent_on=END - timedelta(days=draw(st.integers(0, 5))),
            )
        )
    # A payout reference names one ledger line at most.
    seen: set[str] = set()
    for row in ledger:
        if row["payout_reference"] in seen:
            row["payout_reference"] = None
        elif row["payout_reference"]:
            seen.add(row["payout_reference"])
    statement = []
    for _ in range(draw(st.integers(0, 12))):
        maker = draw(st.sampled_from([bank, gateway]))
        statement.append(
            maker(
                reference=draw(st.sampled_from(POOL)),
                amount=draw(st.sampled_from(AMOUNTS)),
                direction=draw(st.sampled_from(["D", "D", "C"])),
                counterparty_account=draw(st.sampled_from([*ACCOUNTS, None])),
                counterparty_bank=draw(st.sampled_from(["110", "110", "014", "BJBRIDJA", None])),
                value_date=END - timedelta(days=draw(st.integers(0, 5))),
                batch_id=draw(st.sampled_from([None, "STL-1"])) if maker is gateway else None,
                fee=draw(st.sampled_from([0, 500])) if maker is gateway else 0,
            )
        )
    return statement, ledger


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=crowded())
def test_crowded_inputs_never_match_one_line_twice(
    case: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    statement, ledger = case
    result = run(statement, ledger)
    s = result.statement.with_columns(pl.col("status").cast(pl.String))
    lg = result.ledger.with_columns(pl.col("status").cast(pl.String))
    assert s.height == len(statement) and lg.height == len(ledger)
    # A matched statement line names a ledger line with its amount; a ledger line matched by a
    # line of the statement points back at exactly that line.
    nets = {r["ledger_id"]: r["net"] for r in ledger}
    for row in s.filter(
        (pl.col("status") == "matched") & pl.col("ledger_id").is_not_null()
    ).iter_rows(named=True):
        assert row["amount"] == nets[row["ledger_id"]]
    for row in lg.filter(pl.col("matched_line_no").is_not_null()).iter_rows(named=True):
        line = s.row(row["matched_line_no"] - 1, named=True)
        assert line["ledger_id"] == row["ledger_id"]
    # A duplicate always names a ledger line that another line of the same source matched.
    primaries = {
        # (a gateway row whose batch is not on the statement yet is the match, in timing)
        (r["ledger_id"], r["source"])
        for r in s.filter(
            pl.col("status").is_in(["matched", "amount_mismatch", "returned", "timing"])
        ).iter_rows(named=True)
    }
    for row in s.filter(pl.col("status") == "duplicate").iter_rows(named=True):
        if row["ledger_id"] is not None:
            assert (row["ledger_id"], row["source"]) in primaries
    # Pass 2 pairs are one-to-one (an ambiguous line names no ledger line).
    by_amount = s.filter(
        (pl.col("match_pass") == "amount_account") & pl.col("ledger_id").is_not_null()
    )
    assert by_amount["ledger_id"].is_unique().all()
    # Never a wrong payment called clean: a matched debit that carries the payee carries the
    # ledger line's (account; kode bank where both write one), and a duplicate debit pays the same
    # as the matched line it duplicates. (A credit returning a transfer is not a payment.)
    payee = {r["ledger_id"]: (r["beneficiary_account"], r["beneficiary_bank"]) for r in ledger}
    for row in s.filter(
        pl.col("status").is_in(["matched", "duplicate"])
        & pl.col("ledger_id").is_not_null()
        & (pl.col("direction") == "D")
    ).iter_rows(named=True):
        account, code = payee[row["ledger_id"]]
        if row["counterparty_account"] is not None and account is not None:
            assert row["counterparty_account"] == account, row
        if row["counterparty_bank"] in ("110", "014"):
            assert row["counterparty_bank"] == code, row
        if row["status"] == "duplicate":
            assert row["amount"] == nets[row["ledger_id"]] or row["source"] == "gateway", row
