"""Tutup tahun (``ledger.yearend``): lapse, carry-over, SiLPA, and a closed year that refuses every
change, on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.budget import BudgetLine
from ledger.disbursement import Status
from ledger.errors import (
    BudgetNotOpen,
    DomainError,
    InvalidInput,
    InvalidTransition,
    RoleNotPermitted,
    YearClosed,
)
from ledger.handlers import line_id_of
from ledger.history import replay
from ledger.postings import is_balanced, postings_for, trial_balance
from projections import queries as q
from projections.runner import Projector
from testkit.world import WIB
from tests import factory as f
from tests.projection_oracle import (
    expected_closed_years,
    expected_lines,
    expected_payments,
    expected_queue,
    projected_closed_years,
    projected_lines,
    projected_payments,
    projected_queue,
    tables,
)
from tests.refusals import all_events

NEXT = f.YEAR + 1
INCOME = f.line_spec("4.1.01.06.01.0001", 900_000_000, sub_kegiatan=None, uraian="Pajak Hotel")
FINANCING_OUT = f.line_spec("6.2.02.01.01.0001", 50_000_000, uraian="Penyertaan Modal BUMD")
SILPA = f.line_spec(
    "6.1.01.01.01.0001", 1_000_000, sub_kegiatan=None, uraian="SiLPA Tahun Sebelumnya"
)
# The next APBD: the media line again (so a carry-over adds to it) and its SiLPA line; the goods
# line is missing (a carry-over creates it).
NEXT_LINES = (f.line_spec(pagu=200_000_000), SILPA, INCOME)


def adopt_next(ledger: Ledger, *specs: c.LineSpec) -> None:
    ledger.execute(
        c.AdoptBudget(
            idempotency_key=f.key("adopt-next"), actor=f.ADMIN, pemda=f.PEMDA, year=NEXT,
            document=f"PERDA-APBD-{NEXT}", lines=specs or NEXT_LINES,
        )
    )  # fmt: skip


def close(
    carry: tuple[UUID, ...] = (),
    *,
    actor: object = f.ADMIN,
    silpa: c.LineRef | None = None,
    year: int = f.YEAR,
) -> c.CloseYear:
    return c.CloseYear(
        idempotency_key=f.key("close"), actor=actor, pemda=f.PEMDA, year=year,  # type: ignore[arg-type]
        document=f"KEP-PPKD-TUTUP-{year}", carry_over=carry,
        silpa_line=f.ref(SILPA) if silpa is None else silpa,
    )  # fmt: skip


def income(reference: str, gross: int, year: int = f.YEAR) -> c.RecordRevenue:
    return c.RecordRevenue(
        idempotency_key=f.key("rev"), actor=f.ADMIN, pemda=f.PEMDA, year=year,
        line=f.ref(INCOME), channel="teller", reference=reference, payer="Hotel Asri",
        gross=gross, fee=0,
    )  # fmt: skip


def a_year(ledger: Ledger) -> None:
    """Income 600 M; paid 100 M (media) and 30 M financing; open: SPP-2 (requested, media, with a
    contract), SPP-3 (approved, goods, with a contract), SPP-4 (authorised: a payable, stays)."""
    f.adopt(ledger, f.MEDIA_LINE, f.GOODS_LINE, INCOME, FINANCING_OUT)
    f.register_vendor(ledger)
    ledger.execute(income("R-1", 650_000_000))
    ledger.execute(income("R-2", 50_000_000))
    ledger.execute(
        c.ReverseRevenue(
            idempotency_key=f.key("rr"), actor=f.ADMIN, pemda=f.PEMDA, year=f.YEAR,
            channel="teller", reference="R-2", reason="salah setor",
        )
    )  # fmt: skip
    f.pay_in_full(ledger, "SPP-1", 100_000_000)
    f.pay_in_full(ledger, "SPP-5", 30_000_000, FINANCING_OUT)
    ledger.execute(f.request("SPP-2", 40_000_000))
    steps: list[c.Command] = [f.request("SPP-3", 25_000_000, f.GOODS_LINE), f.verify("SPP-3"),
                              f.approve("SPP-3"), f.request("SPP-4", 10_000_000), f.verify("SPP-4"),
                              f.approve("SPP-4"), f.authorise("SPP-4")]  # fmt: skip
    for command in steps:
        ledger.execute(command)
    adopt_next(ledger)


def test_close_lapses_carries_computes_silpa_and_opens_the_next_year(ledger: Ledger) -> None:
    a_year(ledger)
    carried = f.disbursement_id("SPP-3")
    result = ledger.execute(close((carried,))).data

    # SiLPA = (pendapatan 650 M + penerimaan 0) - (belanja 100 M + 10 M + pengeluaran 30 M)
    assert result["silpa"] == 650_000_000 - (110_000_000 + 30_000_000)
    assert (result["pendapatan"], result["belanja"]) == (650_000_000, 110_000_000)
    assert result["pengeluaran_pembiayaan"] == 30_000_000
    assert (result["lapsed"], result["lapsed_amount"]) == (2, 65_000_000)
    assert result["carried_amount"] == 25_000_000

    for spp in ("SPP-2", "SPP-3"):
        assert ledger.disbursement(f.disbursement_id(spp)).status == Status.LAPSED
    assert ledger.disbursement(f.disbursement_id("SPP-4")).status == Status.AUTHORISED
    for line in ledger.budget_lines(f.PEMDA, f.YEAR):
        assert line.closed and line.committed == 0
    media = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE))
    assert media.realised == 110_000_000  # the closed year holds only what was paid
    budget = ledger.budget(f.PEMDA, f.YEAR)
    assert budget.closed and budget.silpa == result["silpa"]

    # The next year: the goods line is created by the carry-over, the SiLPA line received it.
    nxt = ledger.budget(f.PEMDA, NEXT)
    goods_next = ids.budget_line_id(f.PEMDA, NEXT, f.SKPD, f.SUB_KEGIATAN, f.GOODS_LINE.rekening)
    assert str(goods_next) in nxt.line_ids
    assert ledger.budget_line(goods_next).pagu == 25_000_000
    assert nxt.total_pagu == 1_101_000_000 + 25_000_000 and nxt.opened_from == f.YEAR
    silpa_line = ledger.budget_line(ids.budget_line_id(f.PEMDA, NEXT, f.SKPD, None, SILPA.rekening))
    assert silpa_line.silpa_received == result["silpa"]

    events = all_events(ledger)
    assert all(is_balanced(postings_for(e)) for e in events if postings_for(e))
    balance = trial_balance(events)
    assert sum(balance.values()) == 0
    assert balance["silpa_brought_forward"] == result["silpa"]


def test_carry_over_adds_to_the_same_line_of_the_next_year(ledger: Ledger) -> None:
    a_year(ledger)
    ledger.execute(close((f.disbursement_id("SPP-2"),)))
    media_next = ids.budget_line_id(f.PEMDA, NEXT, f.SKPD, f.SUB_KEGIATAN, f.MEDIA_LINE.rekening)
    line = ledger.budget_line(media_next)
    assert line.pagu == 200_000_000 + 40_000_000
    kinds = [type(e).__qualname__ for e in ledger.history(media_next)]
    assert kinds == ["BudgetLine.Allocated", "BudgetLine.CarriedOver"]


def test_silpa_equals_an_independent_fold_of_the_events(ledger: Ledger) -> None:
    a_year(ledger)
    result = ledger.execute(close()).data
    income_in, spent = 0, 0
    for event in all_events(ledger):
        name = type(event).__qualname__
        if name == "Revenue.Received":
            income_in += event.gross
        elif name == "Revenue.Reversed":
            income_in -= event.gross
        elif name == "Disbursement.Authorised":
            spent += event.gross
        elif name == "Disbursement.Cancelled" and event.previous_status == "authorised":
            spent -= event.gross
    assert result["silpa"] == income_in - spent


def spend_after_close() -> dict[str, Callable[[], c.Command]]:
    line, spec = f.ref(f.MEDIA_LINE), f.MEDIA_LINE
    common: dict[str, Any] = {"actor": f.ADMIN, "pemda": f.PEMDA, "year": f.YEAR}
    return {
        "spp": lambda: f.request("SPP-9", 10_000_000),
        "cancel_sp2d": lambda: f.cancel("SPP-4", actor=f.ADMIN),
        "apbd_p": lambda: c.AmendBudget(
            idempotency_key=f.key(), **common, document="PERDA-P",
            lines=(f.line_spec(pagu=spec.pagu + 1),),
        ),
        "apbd_p_new_line": lambda: c.AmendBudget(
            idempotency_key=f.key(), **common, document="PERDA-P",
            lines=(f.line_spec("5.1.02.01.01.0024", 5),),
        ),
        "pergeseran": lambda: c.ShiftBudget(
            idempotency_key=f.key(), **common, document="SK-GESER", from_line=line,
            to_line=f.ref(f.GOODS_LINE), amount=1,
        ),
        "blokir": lambda: c.BlockLine(idempotency_key=f.key(), **common, line=line, reason="x"),
        "anggaran_kas": lambda: f.adopt_cash_plan(f.MEDIA_LINE, f.GOODS_LINE),
        "income": lambda: income("R-9", 1_000),
        "reverse_income": lambda: c.ReverseRevenue(
            idempotency_key=f.key(), **common, channel="teller", reference="R-1", reason="x",
        ),
        "close_again": close,
    }  # fmt: skip


@pytest.mark.parametrize("what", sorted(spend_after_close()))
def test_a_closed_year_refuses_every_change(ledger: Ledger, what: str) -> None:
    a_year(ledger)
    ledger.execute(close())
    with pytest.raises(YearClosed) as refused:
        ledger.execute(spend_after_close()[what]())
    assert refused.value.rule == "closed_year_accepts_no_spending"


def test_a_closed_year_refuses_spd_and_the_lapsed_spp_moves_no_more(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(f.adopt_cash_plan())
    ledger.execute(f.issue_spd("SPD-1", 300_000_000, 1, 12))
    ledger.execute(f.request("SPP-1", 50_000_000))
    adopt_next(ledger)
    plan_id = ids.cash_plan_id(f.PEMDA, f.YEAR, f.SKPD)
    assert ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD).committed == 50_000_000
    ledger.execute(close(silpa=f.ref(SILPA)))
    plan = ledger.aggregate(plan_id, type(ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD)))
    assert plan.closed and plan.committed == 0  # the SPD charge was released
    with pytest.raises(YearClosed):
        ledger.execute(f.issue_spd("SPD-2", 1, 1, 1))
    with pytest.raises(InvalidTransition):
        ledger.execute(f.verify("SPP-1"))


def test_transfers_of_an_sp2d_from_before_the_close_still_go_out(ledger: Ledger) -> None:
    a_year(ledger)
    ledger.execute(close())
    ledger.execute(f.send("SPP-4"))
    ledger.execute(f.settle("SPP-4"))
    ledger.execute(f.return_("SPP-4"))
    assert ledger.disbursement(f.disbursement_id("SPP-4")).status == Status.RETURNED


def test_refusals_before_anything_changes(ledger: Ledger) -> None:
    a_year(ledger)
    before = ledger.recorder.max_notification_id()
    refusals: list[tuple[c.Command, type[DomainError]]] = [
        (close(actor=f.BUD), RoleNotPermitted),
        (close((f.disbursement_id("SPP-4"),)), InvalidInput),  # authorised: a payable
        (close((f.disbursement_id("SPP-1"),)), InvalidInput),  # settled
        (close(silpa=f.ref(f.line_spec(pagu=200_000_000))), InvalidInput),  # not a SiLPA line
        (close(year=NEXT), BudgetNotOpen),  # the year after next is not adopted
    ]
    for command, error in refusals:
        with pytest.raises(error):
            ledger.execute(command)
    assert ledger.recorder.max_notification_id() == before


def test_a_payment_without_a_contract_does_not_carry_over(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    plain = c.RequestDisbursement(
        **{**vars(f.request("SPP-7", 10_000_000)), "documents": {"kwitansi": "KW-1"}}
    )
    ledger.execute(plain)
    adopt_next(ledger)
    with pytest.raises(InvalidInput, match="names no contract"):
        ledger.execute(close((f.disbursement_id("SPP-7"),)))


def test_closing_needs_the_next_apbd(ledger: Ledger) -> None:
    f.adopt(ledger)
    with pytest.raises(BudgetNotOpen, match="adopt it before closing"):
        ledger.execute(close())


def test_as_of_before_the_close_still_shows_the_open_year(ledger: Ledger) -> None:
    a_year(ledger)
    position = ledger.recorder.max_notification_id() or 0
    ledger.execute(close())
    before = replay(ledger, position=position)
    line = before[line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)]
    assert isinstance(line, BudgetLine)
    assert not line.closed and line.committed == 40_000_000 + 0


class Clock:
    """The ledger's clock, moved by the test: the year's work, then the close on 30 December."""

    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 3, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def test_the_lra_of_a_closed_year_is_final_and_equals_the_oracle(ledger_url: str) -> None:
    clock = Clock()
    ledger = Ledger(ledger_url, clock=clock)
    projector = Projector(ledger, batch=7)
    try:
        a_year(ledger)
        before_close = clock.now.date()
        clock.now = datetime(f.YEAR, 12, 30, 16, 0, tzinfo=WIB)
        result = ledger.execute(close((f.disbursement_id("SPP-3"),))).data
        clock.now = datetime(NEXT, 1, 5, 9, 0, tzinfo=WIB)
        ledger.execute(income("R-N1", 7_000_000, NEXT))  # the next year's own work goes on
        projector.catch_up()
        db = projector.db
        lines = {**projected_lines(db, f.PEMDA, f.YEAR), **projected_lines(db, f.PEMDA, NEXT)}
        assert lines == expected_lines(ledger)
        assert projected_payments(db) == expected_payments(ledger)
        assert projected_queue(db) == expected_queue(ledger)  # lapsed SPPs left every queue
        assert str(f.disbursement_id("SPP-2")) not in expected_queue(ledger)
        assert projected_closed_years(db) == expected_closed_years(ledger)

        final = q.year_closed(db, f.PEMDA, f.YEAR)
        assert final is not None and final["silpa"] == result["silpa"]
        assert final["document"] == f"KEP-PPKD-TUTUP-{f.YEAR}"
        assert q.year_closed(db, f.PEMDA, f.YEAR, before_close) is None  # as of then: not final
        assert q.year_closed(db, f.PEMDA, NEXT) is None
        for day in (before_close, date(f.YEAR, 12, 30), date(NEXT, 1, 5)):
            expected = {k: v for k, v in expected_lines(ledger, day).items()}
            found = {**projected_lines(db, f.PEMDA, f.YEAR, day),
                     **projected_lines(db, f.PEMDA, NEXT, day)}  # fmt: skip
            assert found == expected, day
        silpa_line = str(ids.budget_line_id(f.PEMDA, NEXT, f.SKPD, None, SILPA.rekening))
        assert lines[silpa_line][2] == result["silpa"]  # realised as the next year's receipt
        statuses = {k: v[0] for k, v in projected_payments(db).items()}
        assert statuses[str(f.disbursement_id("SPP-2"))] == "lapsed"
        incremental = tables(db)
        projector.rebuild()
        assert tables(db) == incremental
    finally:
        projector.close()
        ledger.close()


def test_a_year_closes_only_once_every_advance_is_settled(ledger: Ledger) -> None:
    """An UP still held, or an SPJ not yet accounted for, keeps the year open (Permendagri
    77/2020: the advance is returned and its last SPJ accounted by GU nihil at year end)."""
    from tests import advance_kit as k

    a_year(ledger)
    ledger.execute(k.set_advance())
    run = k.Advancer(ledger)
    run.up("SPP-UP/1", 10_000_000)
    run.run(k.spj("SPJ/1", 4_000_000))
    with pytest.raises(DomainError, match="advance is not settled") as refused:
        ledger.execute(close())
    assert refused.value.rule == "advance_within_its_rules"
    run.run(k.give_back(6_000_000))
    with pytest.raises(DomainError, match="SPJ awaiting GU 4000000"):
        ledger.execute(close())
    run.run(k.order("SPP-GU-NIHIL/1", "gu_nihil", spj_numbers=("SPJ/1",)))
    run.steps("SPP-GU-NIHIL/1", settle=False)
    ledger.execute(close())
    goods = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.GOODS_LINE))
    assert goods.realised == 4_000_000 and goods.closed
