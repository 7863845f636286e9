"""KKPD matching (``reconciliation.kkpd``): each outcome of a card statement row, an SPJ entry, a
ledger bill payment and each limit; rows pair at most once, deterministically; every row ends in
exactly one status, amounts are conserved and the order of the input rows changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation import kkpd
from reconciliation.errors import StatementError

AS_OF = date(2026, 12, 10)
DAY = date(2026, 11, 1)  # 39 days before AS_OF: past the 30 days for an SPJ entry
CARD, OTHER = "110:1234", "110:5678"


def line(
    line_no: int,
    amount: int,
    *,
    kind: str = "purchase",
    card: str = CARD,
    on: date = DAY,
    auth: str | None = None,
    merchant: str | None = "TOKO",
) -> dict[str, Any]:
    credit = kind in ("refund", "payment")
    return {
        "file": "/in/kkpd.csv", "line_no": line_no, "transacted_on": on, "posted_on": on,
        "card": card, "card_masked": card, "merchant": merchant if kind == "purchase" else None,
        "authorisation": auth, "remark": kind.upper(), "kind": kind,
        "direction": "C" if credit else "D", "amount": amount,
    }  # fmt: skip


def spj(
    spj_id: str, amount: int, *, card: str = CARD, on: date = DAY, ref: str | None = None
) -> dict[str, Any]:
    return {"spj_id": spj_id, "skpd": "1.01", "card": card, "spent_on": on, "amount": amount,
            "merchant": "TOKO", "reference": ref, "line_id": "L1"}  # fmt: skip


def frame(rows: list[dict[str, Any]], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema)


def run(
    statement: list[dict[str, Any]],
    entries: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    cards: list[tuple[str, str, int]] = ((CARD, "1.01", 100_000_000), (OTHER, "1.01", 100_000_000)),  # type: ignore[assignment]
    skpd: list[tuple[str, int]] = (),  # type: ignore[assignment]
    bills: list[tuple[str, str, date, int]] = (),  # type: ignore[assignment]
    **params: Any,
) -> kkpd.KkpdResult:
    return kkpd.reconcile_kkpd(
        frame(statement, kkpd.CARD_STATEMENT),
        frame(list(entries), kkpd.SPJ).lazy(),  # the ledger side may hand a LazyFrame
        pl.DataFrame(list(cards), schema=kkpd.CARDS, orient="row"),
        pl.DataFrame(list(skpd), schema=kkpd.SKPD_LIMITS, orient="row"),
        pl.DataFrame(list(bills), schema=kkpd.BILL_PAYMENTS, orient="row"),
        kkpd.Params(as_of=params.pop("as_of", AS_OF), **params),
    )


def statuses(result: kkpd.KkpdResult) -> list[tuple[int, str, str | None]]:
    return list(result.statement.select("line_no", "status", "spj_id").iter_rows())


def test_the_authorisation_code_pairs_first_and_an_other_amount_is_a_mismatch() -> None:
    result = run(
        [line(2, 500_000, auth="A1"), line(3, 700_000, auth="B2", on=DAY + timedelta(days=20))],
        [spj("S1", 500_000, ref="A1", on=DAY - timedelta(days=9)), spj("S2", 650_000, ref="B2")],
    )
    assert statuses(result) == [(2, "matched", "S1"), (3, "amount_mismatch", "S2")]
    row = result.statement.row(1, named=True)
    assert (row["match_pass"], row["expected"], row["selisih"]) == (
        "authorisation",
        650_000,
        50_000,
    )
    assert result.spj["status"].to_list() == ["matched", "amount_mismatch"]
    # The mismatch is one exception, on the statement line, naming the SPJ entry and the selisih.
    found = kkpd.exceptions(result)
    assert found["id"].to_list() == ["kkpd.csv:3"]
    assert "spj=S2 expected=650000 selisih=50000" in found["detail"][0]


def test_the_same_code_on_another_card_does_not_pair() -> None:
    result = run([line(2, 500_000, auth="A1")], [spj("S1", 500_000, ref="A1", card=OTHER)])
    assert statuses(result) == [(2, "kkpd_no_spj", None)]


def test_without_a_code_card_amount_and_date_within_the_window_pair() -> None:
    result = run(
        [line(2, 100_000), line(3, 200_000), line(4, 300_000, card=OTHER),
         line(5, 10, kind="fee", on=DAY + timedelta(days=10))],
        [spj("S1", 100_000, on=DAY + timedelta(days=3)), spj("S2", 200_000, on=DAY - timedelta(days=4)),
         spj("S3", 300_000)],
        window_days=3,
    )  # fmt: skip
    assert statuses(result) == [
        (2, "matched", "S1"),
        (3, "kkpd_no_spj", None),
        (4, "kkpd_no_spj", None),
        (5, "fee", None),
    ]
    assert result.statement["match_pass"][0] == "card_amount_date"
    assert result.spj["status"].to_list() == [
        "matched",
        "kkpd_spj_without_card",
        "kkpd_spj_without_card",
    ]


def test_look_alike_rows_pair_once_each_the_nearest_day_and_first_line_first() -> None:
    twin = DAY + timedelta(days=1)
    result = run(
        [line(2, 50_000, on=twin), line(3, 50_000, on=DAY), line(4, 50_000, on=DAY)],
        [spj("S2", 50_000, on=DAY), spj("S1", 50_000, on=twin)],
    )
    assert statuses(result) == [
        (2, "matched", "S1"),
        (3, "matched", "S2"),
        (4, "kkpd_no_spj", None),
    ]
    assert result.statement["spj_id"].drop_nulls().is_unique().all()


def test_many_equal_rows_of_one_day_pair_n_th_with_n_th() -> None:
    result = run(
        [line(i, 5_000) for i in range(2, 22)], [spj(f"S{j:02d}", 5_000) for j in range(15)]
    )
    assert result.statement["status"].to_list() == ["matched"] * 15 + ["kkpd_no_spj"] * 5
    assert result.statement["spj_id"][:15].to_list() == [f"S{j:02d}" for j in range(15)]


def test_a_purchase_without_spj_is_pending_for_n_days_then_an_exception() -> None:
    n = 30
    result = run(
        [line(2, 1_000, on=AS_OF - timedelta(days=n)), line(3, 1_000, on=AS_OF - timedelta(days=n + 1))],
        no_spj_days=n,
    )  # fmt: skip
    assert statuses(result) == [(2, "kkpd_pending", None), (3, "kkpd_no_spj", None)]
    assert result.statement["days_open"].to_list() == [30, 31]
    [found] = kkpd.exceptions(result).to_dicts()
    assert (found["id"], found["status"]) == ("kkpd.csv:3", "kkpd_no_spj")
    assert "days=31" in found["detail"] and found["detail"].endswith("merchant=TOKO")


def test_refunds_interest_and_fees_are_classified_and_only_fees_are_not_exceptions() -> None:
    result = run(
        [line(2, 100, kind="refund"), line(3, 200, kind="interest"), line(4, 300, kind="fee")]
    )
    assert [s for _, s, _ in statuses(result)] == ["kkpd_refund", "kkpd_interest", "fee"]
    assert kkpd.exceptions(result)["status"].to_list() == ["kkpd_refund", "kkpd_interest"]


def test_an_spj_entry_with_no_card_row_is_an_exception_unless_at_the_statement_end() -> None:
    result = run(
        [line(2, 9_000, kind="fee", on=date(2026, 11, 30))],
        [spj("OLD", 1_000, on=date(2026, 11, 20)), spj("EDGE", 2_000, on=date(2026, 11, 28))],
        window_days=3,
    )
    assert result.spj.select("spj_id", "status").rows() == [  # in spj_id order
        ("EDGE", "timing"), ("OLD", "kkpd_spj_without_card"),
    ]  # fmt: skip
    assert kkpd.exceptions(result).filter(pl.col("id") == "spj:OLD").height == 1


def test_bill_payments_pair_with_the_ledger_s_and_the_rest_are_unmatched() -> None:
    paid = date(2026, 11, 14)
    result = run(
        [line(2, 3_000_000, kind="payment", on=paid + timedelta(days=1)),
         line(3, 1_000_000, kind="payment", on=paid)],
        bills=[("B1", CARD, paid, 3_000_000), ("B2", CARD, paid - timedelta(days=20), 500_000),
               ("B3", CARD, date(2026, 11, 14), 400_000)],
    )  # fmt: skip
    assert result.statement.select("status", "payment_id").rows() == [
        ("matched", "B1"), ("kkpd_bill_unmatched", None),
    ]  # fmt: skip
    # B3 was paid within the window before the statement's last day: in transit.
    assert result.payments["status"].to_list() == ["matched", "kkpd_bill_unmatched", "timing"]
    ids = kkpd.exceptions(result)["id"].to_list()
    assert ids == ["kkpd.csv:3", "bill:B2"]


def test_a_card_and_an_skpd_over_their_limits_and_a_purchase_over_the_payee_ceiling() -> None:
    later = DAY + timedelta(days=5)
    result = run(
        [line(2, 6_000_000), line(3, 5_000_000, kind="payment", on=later),
         line(4, 3_000_000, card=OTHER), line(5, 2_000_000, card=OTHER, on=later)],
        cards=[(CARD, "1.01", 5_000_000), (OTHER, "1.01", 5_000_000)],
        skpd=[("1.01", 8_000_000)],
        payee_ceiling=2_500_000,
    )  # fmt: skip
    breaches = result.breaches.select("id", "status", "amount").rows()
    assert breaches == [
        ("card:110:1234", "kkpd_card_over_limit", 6_000_000),  # at the end of the first day
        ("kkpd.csv:2/payee", "kkpd_over_payee_ceiling", 6_000_000),
        ("kkpd.csv:4/payee", "kkpd_over_payee_ceiling", 3_000_000),
        ("skpd:1.01", "kkpd_skpd_over_limit", 9_000_000),  # 6 + 3 on the first day
    ]
    # Exactly at a limit is within it; an unregistered card is a breach of its own.
    result = run([line(2, 5_000_000), line(3, 700, card="110:9999")],
                 cards=[(CARD, "1.01", 5_000_000)], skpd=[("1.01", 5_000_000)],
                 payee_ceiling=5_000_000)  # fmt: skip
    assert result.breaches.select("id", "status").rows() == [
        ("card:110:9999", "kkpd_card_unregistered")
    ]


def test_a_frame_that_breaks_the_contract_is_refused() -> None:
    bad = frame([spj("S1", 0)], kkpd.SPJ)
    try:
        kkpd.validate(bad, kkpd.SPJ, "spj")
    except StatementError as refused:
        assert refused.line == 1 and "amount <= 0" in refused.reason
    else:
        raise AssertionError("an SPJ entry of Rp 0 was accepted")
    wrong = frame([spj("S1", 5)], kkpd.SPJ).with_columns(pl.col("amount").cast(pl.Float64))
    try:
        kkpd.validate(wrong, kkpd.SPJ, "spj")
    except StatementError as refused:
        assert "amount (Float64, expected Int64)" in refused.reason
    else:
        raise AssertionError("a float amount was accepted")


def test_a_run_is_recorded_as_the_ledger_records_a_reconciliation() -> None:
    result = run([line(2, 1_000, on=date(2026, 9, 30))], [spj("S9", 7, on=date(2026, 9, 1))])
    params = kkpd.Params(as_of=AS_OF)
    record = kkpd.build_record(result, params, [kkpd.parameters_input(params, "110", "bpd_kkpd")])
    assert record.business_date == "2026-12-10"
    assert (
        record.counts["statement.kkpd_no_spj"] == 1
        and record.counts["spj.kkpd_spj_without_card"] == 1
    )
    assert all(len(k) <= 32 for k in record.counts)  # the ledger's limit on a status name
    assert [e["id"] for e in record.exceptions] == ["kkpd.csv:2", "spj:S9"]
    assert set(record.exceptions[0]) == {"id", "status", "amount", "reference", "detail"}


# -- properties ---------------------------------------------------------------------------------
CARDS_ = [CARD, OTHER, "110:0001"]
KINDS_ = ["purchase"] * 6 + ["refund", "payment", "fee", "interest"]


@st.composite
def inputs(
    draw: st.DrawFn,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str, date, int]]]:
    n = draw(st.integers(0, 25))
    statement = [
        line(
            i + 2,
            draw(st.sampled_from([1_000, 2_000, 3_000, 250_000_000])),
            kind=draw(st.sampled_from(KINDS_)),
            card=draw(st.sampled_from(CARDS_)),
            on=DAY + timedelta(days=draw(st.integers(-40, 20))),
            auth=draw(st.sampled_from([None, None, "A1", "B2"])),
        )
        for i in range(n)
    ]
    m = draw(st.integers(0, 25))
    entries = [
        spj(f"S{j}", draw(st.sampled_from([1_000, 2_000, 3_000])),
            card=draw(st.sampled_from(CARDS_)), on=DAY + timedelta(days=draw(st.integers(-40, 20))),
            ref=draw(st.sampled_from([None, "A1", "B2"])))
        for j in range(m)
    ]  # fmt: skip
    bills = [(f"B{k}", draw(st.sampled_from(CARDS_)), DAY + timedelta(days=draw(st.integers(-10, 10))),
              draw(st.sampled_from([1_000, 2_000]))) for k in range(draw(st.integers(0, 5)))]  # fmt: skip
    return statement, entries, bills


def _outcome(result: kkpd.KkpdResult) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    return (
        result.statement.sort("line_no").select("line_no", "status", "spj_id", "payment_id").rows(),
        result.spj.sort("spj_id").select("spj_id", "status", "line_no").rows(),
        result.payments.sort("payment_id").select("payment_id", "status", "line_no").rows(),
        result.breaches.rows(),
    )


@settings(max_examples=60, deadline=None)
@given(inputs(), st.randoms(use_true_random=False))
def test_every_row_ends_once_amounts_are_conserved_and_order_does_not_matter(
    drawn: tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str, date, int]]],
    shuffler: Any,
) -> None:
    statement, entries, bills = drawn
    result = run(statement, entries, bills=bills, cards=[(c, "1.01", 5_000) for c in CARDS_],
                 skpd=[("1.01", 9_000)])  # fmt: skip
    for side, given_rows, allowed in (
        (result.statement, statement, kkpd.ROW_STATUSES),
        (result.spj, entries, kkpd.ROW_STATUSES),
        (result.payments, bills, kkpd.ROW_STATUSES),
    ):
        assert side.height == len(given_rows)
        assert side["status"].is_in(list(allowed)).all()
    total = sum(r["amount"] for r in statement)
    assert sum(sum(v.values()) for v in [result.amounts()["statement"]]) == total
    assert sum(result.counts()["statement"].values()) == len(statement)
    # One SPJ entry per purchase and one purchase per SPJ entry; both sides agree on each pair.
    paired = result.statement.filter(pl.col("spj_id").is_not_null())
    assert paired["spj_id"].is_unique().all()
    assert paired.height == result.spj.filter(pl.col("line_no").is_not_null()).height
    # Shuffled inputs: the same outcome, row for row.
    again = run(shuffler.sample(statement, len(statement)), shuffler.sample(entries, len(entries)),
                bills=shuffler.sample(bills, len(bills)), cards=[(c, "1.01", 5_000) for c in CARDS_],
                skpd=[("1.01", 9_000)])  # fmt: skip
    assert _outcome(again) == _outcome(result)
