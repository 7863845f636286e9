"""Anggaran kas and SPD: the plan spreads each line's pagu, SPD stays within the plan, and no SPP
or SP2D spends beyond the SPD released to its SKPD for the period (``ledger.cashplan``)."""

from __future__ import annotations

from datetime import datetime

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.cashplan import WIB, fiscal_month
from ledger.errors import (
    AlreadyExists,
    CashPlanMismatch,
    InvalidInput,
    RoleNotPermitted,
    SpdExceeded,
)
from ledger.handlers import line_id_of
from ledger.roles import Role
from testkit import world
from tests import factory as f

GROSS = 100_000_000  # f.request's default gross


@pytest.fixture
def ready(ledger: Ledger) -> Ledger:
    """The world's budget and vendor; the SKPD's anggaran kas adopted, no SPD yet."""
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(f.adopt_cash_plan())
    return ledger


def _pay(ledger: Ledger, spp: str) -> None:
    for command in (f.verify(spp), f.approve(spp), f.authorise(spp)):
        ledger.execute(command)


def test_the_fiscal_month_is_read_in_wib() -> None:
    assert fiscal_month(datetime(2026, 1, 31, 17, 30, tzinfo=WIB), 2026) == 1
    assert fiscal_month(datetime(2026, 1, 31, 17, 30, tzinfo=WIB).astimezone(WIB), 2026) == 1
    # 23:30 UTC on 31 January is already 1 February in WIB.
    assert fiscal_month(datetime.fromisoformat("2026-01-31T23:30:00+00:00"), 2026) == 2
    assert fiscal_month(datetime(2025, 12, 31, 9, tzinfo=WIB), 2026) == 0
    assert fiscal_month(datetime(2027, 1, 5, 9, tzinfo=WIB), 2026) == 12


def test_an_spp_within_the_spd_is_charged_to_it(ready: Ledger) -> None:
    ready.execute(f.issue_spd("SPD/1", 120_000_000))
    ready.execute(f.request("SPP/1"))
    plan = ready.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
    assert (plan.issued, plan.committed, plan.available(1)) == (120_000_000, GROSS, 20_000_000)


def test_an_spp_beyond_the_spd_is_refused_and_changes_nothing(ready: Ledger) -> None:
    ready.execute(f.issue_spd("SPD/1", 120_000_000))
    ready.execute(f.request("SPP/1"))
    line_id = line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE)
    before = ready.budget_line(line_id).version
    with pytest.raises(SpdExceeded) as refused:
        ready.execute(f.request("SPP/2"))
    assert refused.value.rule == "spending_within_spd"
    assert ready.budget_line(line_id).version == before
    assert ready.cash_plan(f.PEMDA, f.YEAR, f.SKPD).committed == GROSS


def test_without_any_spd_nothing_may_be_requested(ready: Ledger) -> None:
    with pytest.raises(SpdExceeded):
        ready.execute(f.request("SPP/1"))


def test_an_spd_for_a_later_period_is_not_available_yet(ready: Ledger) -> None:
    """The clock is in January: an SPD for March-April releases nothing to spend now."""
    ready.execute(f.issue_spd("SPD/3", 300_000_000, first=3, last=4))
    with pytest.raises(SpdExceeded):
        ready.execute(f.request("SPP/1"))


def test_an_skpd_without_an_anggaran_kas_spends_nothing_once_the_year_runs_on_spd(
    ready: Ledger,
) -> None:
    other = f.line_spec(world.GOODS, 200_000_000, skpd=world.OTHER_SKPD, uraian="Belanja ATK")
    ready.execute(
        c.AmendBudget(
            idempotency_key=f.key("apbdp"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            year=f.YEAR,
            document="PERDA-P-1",
            lines=(other,),
        )
    )
    eka = f.actor("pptk.lain", Role.PPTK, skpd=world.OTHER_SKPD)
    with pytest.raises(SpdExceeded, match="no anggaran kas"):
        ready.execute(f.request("SPP/X", spec=other, actor=eka))


def test_a_year_without_an_anggaran_kas_spends_on_pagu_alone(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(f.request("SPP/1"))
    assert not ledger.budget(f.PEMDA, f.YEAR).cash_plan_required


def test_an_spd_beyond_the_anggaran_kas_through_its_period_is_refused(ready: Ledger) -> None:
    planned_jan = sum(f.even_months(s.pagu)[0] for s in (f.MEDIA_LINE, f.GOODS_LINE))
    with pytest.raises(SpdExceeded, match="anggaran kas"):
        ready.execute(f.issue_spd("SPD/1", planned_jan + 1))
    ready.execute(f.issue_spd("SPD/1", planned_jan))
    # February's plan on top of January's: exactly two months, never more.
    with pytest.raises(SpdExceeded):
        ready.execute(f.issue_spd("SPD/2", planned_jan + 3, first=2, last=2))


def test_an_spd_number_is_issued_once_and_only_by_the_kuasa_bud(ready: Ledger) -> None:
    ready.execute(f.issue_spd("SPD/1", 1_000_000))
    with pytest.raises(AlreadyExists):
        ready.execute(f.issue_spd("SPD/1", 1_000_000))
    with pytest.raises(RoleNotPermitted):
        ready.execute(f.issue_spd("SPD/2", 1_000_000, actor=f.ADMIN))
    with pytest.raises(InvalidInput, match="month"):
        ready.execute(f.issue_spd("SPD/3", 1_000_000, first=4, last=2))


def test_the_plan_must_spread_each_lines_pagu_exactly(ledger: Ledger) -> None:
    f.adopt(ledger)
    short = (*f.even_months(f.MEDIA_LINE.pagu)[:-1], 0)
    with pytest.raises(CashPlanMismatch) as refused:
        ledger.execute(f.adopt_cash_plan(f.MEDIA_LINE, months=short))
    assert refused.value.rule == "anggaran_kas_covers_pagu_and_spd"
    quarterly = (f.MEDIA_LINE.pagu // 4,) * 4
    ledger.execute(f.adopt_cash_plan(f.MEDIA_LINE, months=quarterly))
    with pytest.raises(AlreadyExists):
        ledger.execute(f.adopt_cash_plan(f.MEDIA_LINE, months=quarterly))


def test_a_quarterly_plan_releases_a_quarter_from_its_first_month(ledger: Ledger) -> None:
    f.adopt(ledger)
    quarter = f.MEDIA_LINE.pagu // 4
    ledger.execute(f.adopt_cash_plan(f.MEDIA_LINE, months=(quarter,) * 4))
    ledger.execute(f.issue_spd("SPD/Q1", quarter, first=1, last=3))
    with pytest.raises(SpdExceeded):
        ledger.execute(f.issue_spd("SPD/Q2-early", 1, first=1, last=3))
    ledger.execute(f.issue_spd("SPD/Q2", quarter, first=4, last=6))


def test_an_amendment_may_not_leave_issued_spd_uncovered(ready: Ledger) -> None:
    january = f.even_months(f.MEDIA_LINE.pagu)[0] + f.even_months(f.GOODS_LINE.pagu)[0]
    ready.execute(f.issue_spd("SPD/1", january))
    late = (0,) * 11 + (f.MEDIA_LINE.pagu,)  # all of the media line moved to December
    amend = f.adopt_cash_plan(f.MEDIA_LINE, months=late)
    with pytest.raises(CashPlanMismatch, match="already released"):
        ready.execute(c.AmendCashPlan(**{**amend.__dict__, "idempotency_key": f.key("ak")}))


def test_a_rejected_spp_gives_its_spd_back(ready: Ledger) -> None:
    ready.execute(f.issue_spd("SPD/1", GROSS))
    ready.execute(f.request("SPP/1"))
    ready.execute(
        c.RejectDisbursement(
            idempotency_key=f.key("rej"),
            actor=f.PPK,
            pemda=f.PEMDA,
            disbursement_id=f.disbursement_id("SPP/1"),
            reason="dokumen kurang",
        )
    )
    ready.execute(f.request("SPP/2"))
    assert ready.cash_plan(f.PEMDA, f.YEAR, f.SKPD).committed == GROSS


def test_an_sp2d_pays_the_charge_and_a_withdrawn_sp2d_gives_it_back(ready: Ledger) -> None:
    ready.execute(f.issue_spd("SPD/1", GROSS))
    ready.execute(f.request("SPP/1"))
    _pay(ready, "SPP/1")
    plan = ready.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
    assert (plan.committed, plan.realised) == (0, GROSS)
    ready.execute(
        c.CancelDisbursement(
            idempotency_key=f.key("cancel"),
            actor=f.ADMIN,
            pemda=f.PEMDA,
            disbursement_id=f.disbursement_id("SPP/1"),
            reason="SP2D ditarik",
        )
    )
    plan = ready.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
    assert (plan.committed, plan.realised, plan.available(1)) == (0, 0, GROSS)


def test_an_sp2d_of_an_spp_from_before_the_spd_is_charged_at_sp2d(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(f.request("SPP/OLD"))  # the year does not run on SPD yet
    for command in (f.verify("SPP/OLD"), f.approve("SPP/OLD")):
        ledger.execute(command)
    ledger.execute(f.adopt_cash_plan())
    with pytest.raises(SpdExceeded):
        ledger.execute(f.authorise("SPP/OLD"))
    ledger.execute(f.issue_spd("SPD/1", GROSS))
    ledger.execute(f.authorise("SPP/OLD", idempotency_key=f.key("again")))
    assert ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD).realised == GROSS


def test_an_spp_number_used_before_is_refused_as_such_in_a_year_on_spd(ready: Ledger) -> None:
    """Not as an SPD charge held already: the number's own rule, as in a year without SPD."""
    ready.execute(f.issue_spd("SPD/1", GROSS + 1))
    ready.execute(f.request("SPP/1"))
    with pytest.raises(AlreadyExists) as refused:
        ready.execute(f.request("SPP/1"))
    assert refused.value.rule == "unique_identity"


def test_an_spd_for_an_earlier_period_may_follow_one_for_a_later_period(ledger: Ledger) -> None:
    """Each SPD is held to the plan through its own last month, whatever order they come in."""
    f.adopt(ledger)
    quarter = f.MEDIA_LINE.pagu // 4
    ledger.execute(f.adopt_cash_plan(f.MEDIA_LINE, months=(quarter,) * 4))
    ledger.execute(f.issue_spd("SPD/Q2", quarter, first=4, last=6))
    ledger.execute(f.issue_spd("SPD/Q1", quarter, first=1, last=3))
    with pytest.raises(SpdExceeded, match="through month 3"):
        ledger.execute(f.issue_spd("SPD/Q1-more", 1, first=1, last=3))
    assert ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD).issued == 2 * quarter
