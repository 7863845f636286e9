"""The bendahara's advance through a year: UP, SPJ in cash and by KKPD, the card bill, GU, TU with
its deadline and return, GU nihil and the setoran at year end (``ledger.advance``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger import ids
from ledger.advance import Advance
from ledger.advance_handlers import card_id
from ledger.application import Ledger
from ledger.cashplan import WIB
from ledger.errors import (
    AdvanceRule,
    AlreadyExists,
    DomainError,
    InvalidInput,
    RoleNotPermitted,
    SeparationOfDuties,
    SkpdScope,
    SpdExceeded,
)
from ledger.handlers import line_id_of
from ledger.postings import trial_balance
from ledger.roles import Role
from testkit import world
from tests import advance_kit as k
from tests import factory as f

JT = 1_000_000


class Clock:
    """The ledger's clock, set by the test; one second later per reading."""

    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def run(ledger_url: str, clock: Clock) -> Any:
    ledger = Ledger(ledger_url, clock=clock)
    f.adopt(ledger)
    ledger.execute(k.set_advance())
    ledger.execute(k.register_card())
    yield k.Advancer(ledger)
    ledger.close()


def _advance(run: k.Advancer) -> Any:

    return run.ledger.aggregate(ids.advance_id(f.PEMDA, f.YEAR, f.SKPD), Advance)


def _goods(run: k.Advancer) -> Any:
    return run.ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.GOODS_LINE))


def _events(ledger: Ledger) -> list[Any]:
    last = ledger.recorder.max_notification_id() or 0
    notifications = ledger.recorder.select_notifications(start=1, limit=last + 1)
    return [ledger.mapper.to_domain_event(n) for n in notifications]


def test_a_year_of_the_advance_realises_exactly_its_spj(run: k.Advancer, clock: Clock) -> None:
    run.up("SPP-UP/1", 30 * JT)
    assert _advance(run).cash == 30 * JT
    run.run(k.spj("SPJ/1", 5 * JT))
    run.run(k.spj("SPJ/2", 8 * JT, channel="kkpd", card=k.CARD))
    assert (_advance(run).cash, _advance(run).owed_on_cards) == (25 * JT, 8 * JT)
    assert _goods(run).committed == 13 * JT
    run.run(k.pay_bill(8 * JT))
    run.run(k.order("SPP-GU/1", "gu", spj_numbers=("SPJ/1", "SPJ/2")))
    run.steps("SPP-GU/1")
    assert (_goods(run).committed, _goods(run).realised) == (0, 13 * JT)
    assert _advance(run).cash == 30 * JT

    deadline = (clock.now + timedelta(days=20)).date().isoformat()
    run.run(k.order("SPP-TU/1", "tu", amount=10 * JT, deadline=deadline))
    run.steps("SPP-TU/1")
    run.run(k.spj("SPJ/3", 7 * JT, tu="SPP-TU/1"))
    run.run(k.give_back(3 * JT, tu="SPP-TU/1", reference="STS/TU"))
    run.run(k.order("SPP-GU-NIHIL/TU", "gu_nihil", spj_numbers=("SPJ/3",), tu="SPP-TU/1"))
    run.steps("SPP-GU-NIHIL/TU", settle=False)
    assert _advance(run).tu["SPP-TU/1"]["closed"]

    run.run(k.spj("SPJ/4", 2 * JT))
    run.run(k.order("SPP-GU-NIHIL/1", "gu_nihil", spj_numbers=("SPJ/4",)))
    run.steps("SPP-GU-NIHIL/1", settle=False)
    run.run(k.give_back(28 * JT, reference="STS/UP"))
    advance = _advance(run)
    assert (advance.cash, advance.outstanding, advance.entrusted) == (0, 0, 0)
    assert _goods(run).realised == 22 * JT

    balance = trial_balance(_events(run.ledger))
    line = line_id_of(f.PEMDA, f.YEAR, f.GOODS_LINE)
    assert balance[f"expenditure:{line}"] == 22 * JT
    assert balance["cash:rkud"] == -22 * JT  # out: UP 30, GU 13, TU 10; back: 3 + 28
    assert balance[f"advance_cash:{advance.id}"] == 0
    assert balance[f"spj_accounted:{advance.id}"] == 0


def test_the_cash_up_leaves_the_kkpd_part_as_card_limits(run: k.Advancer) -> None:
    with pytest.raises(AdvanceRule, match="cash UP"):
        run.run(k.order("SPP-UP/1", "up", amount=30 * JT + 1))
    run.run(k.order("SPP-UP/1", "up", amount=20 * JT))
    with pytest.raises(AdvanceRule):  # a second UP while the first is pending may not exceed
        run.run(k.order("SPP-UP/2", "up", amount=10 * JT + 1))


def test_spending_beyond_what_the_bendahara_holds_is_refused(run: k.Advancer) -> None:
    run.up("SPP-UP/1", 10 * JT)
    with pytest.raises(AdvanceRule, match="holds"):
        run.run(k.spj("SPJ/1", 10 * JT + 1))
    assert _goods(run).committed == 0


def test_a_card_purchase_stays_within_its_card_and_the_payee_ceiling(run: k.Advancer) -> None:
    with pytest.raises(AdvanceRule, match="limit"):
        run.run(k.spj("SPJ/1", 15 * JT + 1, channel="kkpd", card=k.CARD))
    run.run(k.spj("SPJ/1", 15 * JT, channel="kkpd", card=k.CARD))
    with pytest.raises(AdvanceRule):
        run.run(k.spj("SPJ/2", 1, channel="kkpd", card=k.CARD))
    with pytest.raises(AdvanceRule, match="UP KKPD"):
        run.run(k.register_card("5264-xxxx-xxxx-9999", 5 * JT + 1))


def test_a_kkpd_purchase_above_rp_200_juta_is_refused(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, clock=Clock())
    try:
        f.adopt(ledger)
        ledger.execute(k.set_advance(ceiling=900 * JT, kkpd=400 * JT))
        ledger.execute(k.register_card(limit=300 * JT))
        with pytest.raises(AdvanceRule, match="Pasal 19"):
            ledger.execute(k.spj("SPJ/1", 200 * JT + 1, channel="kkpd", card=k.CARD))
        ledger.execute(k.spj("SPJ/1", 200 * JT, channel="kkpd", card=k.CARD))
    finally:
        ledger.close()


def test_a_card_purchase_is_replenished_only_once_its_bill_is_paid(run: k.Advancer) -> None:
    run.up("SPP-UP/1", 10 * JT)
    run.run(k.spj("SPJ/1", 4 * JT, channel="kkpd", card=k.CARD))
    with pytest.raises(AdvanceRule, match="bills"):
        run.run(k.order("SPP-GU/1", "gu", spj_numbers=("SPJ/1",)))
    run.run(k.pay_bill(4 * JT))
    run.run(k.order("SPP-GU/1", "gu", spj_numbers=("SPJ/1",)))
    with pytest.raises(AdvanceRule, match="claimed"):
        run.run(k.order("SPP-GU/2", "gu", spj_numbers=("SPJ/1",)))


def test_a_rejected_gu_frees_its_spj_for_the_next(run: k.Advancer) -> None:
    run.up("SPP-UP/1", 10 * JT)
    run.run(k.spj("SPJ/1", 4 * JT))
    run.run(k.order("SPP-GU/1", "gu", spj_numbers=("SPJ/1",)))
    run.run(
        c.RejectAdvance(
            idempotency_key=f.key("rej"),
            actor=f.PPK,
            pemda=f.PEMDA,
            order_id=k.order_id("SPP-GU/1"),
            reason="kuitansi tidak sah",
        )
    )
    run.run(k.order("SPP-GU/2", "gu", spj_numbers=("SPJ/1",)))


def test_every_step_takes_its_own_hands(run: k.Advancer) -> None:
    run.run(k.order("SPP-UP/1", "up", amount=10 * JT))
    oid = k.order_id("SPP-UP/1")
    with pytest.raises(RoleNotPermitted):
        run.run(
            c.VerifyAdvance(idempotency_key=f.key(), actor=k.BENDAHARA, pemda=f.PEMDA, order_id=oid)
        )
    run.run(c.VerifyAdvance(idempotency_key=f.key(), actor=f.PPK, pemda=f.PEMDA, order_id=oid))
    same_person_as_pa = f.actor(f.PPK.user_id, Role.PA_KPA)
    with pytest.raises(SeparationOfDuties):
        run.run(
            c.ApproveAdvance(
                idempotency_key=f.key(), actor=same_person_as_pa, pemda=f.PEMDA, order_id=oid,
                spm_number="SPM/X",
            )
        )  # fmt: skip
    with pytest.raises(RoleNotPermitted):
        run.run(k.order("SPP-UP/2", "up", amount=JT, actor=f.PPTK))


def test_an_official_of_another_skpd_cannot_touch_the_advance(run: k.Advancer) -> None:
    stranger = f.actor("bendahara.lain", Role.BENDAHARA, skpd=world.OTHER_SKPD)
    with pytest.raises(SkpdScope):
        run.run(k.spj("SPJ/1", JT, actor=stranger))


def test_a_tu_is_used_within_its_month(run: k.Advancer, clock: Clock) -> None:
    far = (clock.now + timedelta(days=40)).date().isoformat()
    with pytest.raises(AdvanceRule, match="one month"):
        run.run(k.order("SPP-TU/1", "tu", amount=5 * JT, deadline=far))
    with pytest.raises(AdvanceRule, match="TU limit"):
        run.run(
            k.order("SPP-TU/1", "tu", amount=30 * JT + 1, deadline=clock.now.date().isoformat())
        )
    soon = (clock.now + timedelta(days=10)).date().isoformat()
    run.run(k.order("SPP-TU/1", "tu", amount=5 * JT, deadline=soon))
    run.steps("SPP-TU/1")
    clock.now += timedelta(days=11)
    day = clock.now.date().isoformat()
    with pytest.raises(AdvanceRule, match="was to be used by"):
        run.run(k.spj("SPJ/TU", JT, tu="SPP-TU/1", spent_on=day))
    with pytest.raises(AdvanceRule, match="return what is left"):
        run.run(k.order("SPP-NIHIL/TU", "gu_nihil", spj_numbers=("X",), tu="SPP-TU/1"))


def test_spj_spends_within_the_spd_like_an_spp(run: k.Advancer) -> None:
    run.up("SPP-UP/1", 10 * JT)
    run.run(f.adopt_cash_plan())
    with pytest.raises(SpdExceeded):
        run.run(k.spj("SPJ/1", JT))
    run.run(f.issue_spd("SPD/1", 3 * JT))
    run.run(k.spj("SPJ/1", 3 * JT))
    with pytest.raises(SpdExceeded):
        run.run(k.spj("SPJ/2", 1))


def test_spj_numbers_spp_numbers_and_evidence_are_checked(run: k.Advancer) -> None:
    run.up("SPP-UP/1", 10 * JT)
    run.run(k.spj("SPJ/1", JT))
    with pytest.raises(AlreadyExists):
        run.run(k.spj("SPJ/1", JT))
    with pytest.raises(InvalidInput, match="evidence"):
        run.run(k.spj("SPJ/2", JT, evidence={}))
    with pytest.raises(InvalidInput, match="purchase date"):
        run.run(k.spj("SPJ/2", JT, spent_on="2026-02-01"))
    with pytest.raises(AlreadyExists):
        run.run(k.order("SPP-UP/1", "up", amount=JT))
    f.register_vendor(run.ledger)
    with pytest.raises(AlreadyExists):  # an SPP number is one, LS or UP/GU/TU
        run.run(f.request("SPP-UP/1", 1_000_000, f.GOODS_LINE, deductions=()))


def test_a_withdrawn_spj_gives_back_its_cash_pagu_and_spd(run: k.Advancer) -> None:
    run.up("SPP-UP/1", 10 * JT)
    run.run(k.spj("SPJ/1", 4 * JT))
    run.run(
        c.WithdrawSpj(
            idempotency_key=f.key(), actor=k.BENDAHARA, pemda=f.PEMDA, year=f.YEAR,
            skpd=f.SKPD, spj_number="SPJ/1", reason="salah input",
        )
    )  # fmt: skip
    assert (_advance(run).cash, _goods(run).committed) == (10 * JT, 0)


# -- a property: whatever the bendahara does, the books and the advance agree ---------------------
OPS = st.lists(
    st.tuples(
        st.sampled_from(["cash", "card", "bill", "gu", "return", "withdraw"]),
        st.integers(min_value=1, max_value=6),
    ),
    max_size=25,
)


def _attempt(run: k.Advancer, op: str, n: int, step: int) -> None:
    advance = _advance(run)
    open_numbers = sorted(advance.spj)
    commands: dict[str, Any] = {
        "cash": lambda: k.spj(f"SPJ/{step}", n * JT),
        "card": lambda: k.spj(f"SPJ/{step}", n * JT, channel="kkpd", card=k.CARD),
        "bill": lambda: k.pay_bill(min(n * JT, advance.owed_on_cards or 1)),
        "return": lambda: k.give_back(n * JT, reference=f"STS/{step}"),
        "withdraw": lambda: c.WithdrawSpj(
            idempotency_key=f.key(), actor=k.BENDAHARA, pemda=f.PEMDA, year=f.YEAR,
            skpd=f.SKPD, spj_number=open_numbers[0] if open_numbers else "none", reason="x",
        ),
    }  # fmt: skip
    try:
        if op == "gu":
            unclaimed = tuple(n for n in open_numbers if advance.spj[n]["claimed_by"] is None)
            run.run(k.order(f"SPP-GU/{step}", "gu", spj_numbers=unclaimed[:n]))
            run.steps(f"SPP-GU/{step}")
        else:
            run.run(commands[op]())
    except DomainError:
        pass  # refused: nothing changed, which the books below check as well


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_the_books_always_agree_with_the_advance(ops: list[tuple[str, int]]) -> None:
    ledger = Ledger("memory://", clock=Clock())
    try:
        f.adopt(ledger)
        ledger.execute(k.set_advance())
        ledger.execute(k.register_card())
        run = k.Advancer(ledger)
        run.up("SPP-UP/1", 30 * JT)
        for step, (op, n) in enumerate(ops):
            _attempt(run, op, n, step)
        advance = _advance(run)
        balance = trial_balance(_events(ledger))
        assert balance.get(f"advance_cash:{advance.id}", 0) == advance.cash
        assert balance.get(f"spj_accounted:{advance.id}", 0) == advance.accounted
        owed = -balance.get(f"kkpd_payable:{advance.id}:{k.CARD_KEY}", 0)
        assert owed == advance.owed_on_cards
        realised = _goods(run).realised
        assert balance.get(f"expenditure:{_goods(run).id}", 0) == realised
        assert _goods(run).committed == advance.accounted
        # Out of the RKUD: the UP and every GU; back in: every setoran. What is still out is
        # what the bendahara is entrusted with plus what became belanja.
        assert balance["cash:rkud"] == -(advance.entrusted + realised)
    finally:
        ledger.close()


@pytest.mark.parametrize(
    "card",
    [
        "\u00b2" * 8,  # superscript two: str.isdigit says yes
        "\u0665\u0662\u0666\u0664" * 2,  # Arabic-Indic digits
        "XXXXXXXX",
        "5264XXXXXXXX12XX",
        "\uff15\uff12\uff16\uff14\uff58\uff58\uff58\uff58\uff11\uff12\uff13\uff14",  # fullwidth
        "1234",
    ],
)
def test_a_card_number_is_ascii_digits_with_its_last_four_shown(card: str) -> None:
    with pytest.raises(InvalidInput, match="card number"):
        card_id(card)
    assert card_id("5264-xxxx-xxxx-1234") == "5264XXXXXXXX1234"
