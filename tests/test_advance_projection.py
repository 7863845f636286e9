"""The bendahara's advance as the read models show it (``projections.advance``, the queues, the cash
position): equal to the aggregates replayed, after any history, on SQLite; the LRA still equal to
the independent fold; the KKPD reconciliation's frames in their contract."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger import ids
from ledger.advance import Advance
from ledger.application import Ledger
from ledger.cashplan import WIB
from ledger.errors import DomainError
from projections import advance_queries as aq
from projections import queries as q
from projections.runner import Projector
from tests import advance_kit as k
from tests import factory as f
from tests.projection_oracle import assert_models_match, tables

JT = 1_000_000


class Clock:
    """The ledger's clock, set by the test; one second later per reading."""

    def __init__(self) -> None:
        self.now = datetime(f.YEAR, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _state(ledger: Ledger) -> Advance:
    return ledger.aggregate(ids.advance_id(f.PEMDA, f.YEAR, f.SKPD), Advance)


def _year(run: k.Advancer, clock: Clock) -> None:
    """The year of ``tests/test_advance.py``: UP, SPJ in cash and by card, bill, GU, TU with its
    return and GU nihil, a last GU nihil and the setoran."""
    run.up("SPP-UP/1", 30 * JT)
    run.run(k.spj("SPJ/1", 5 * JT))
    run.run(k.spj("SPJ/2", 8 * JT, channel="kkpd", card=k.CARD, evidence={"otorisasi": "a1b2"}))
    run.run(k.pay_bill(8 * JT))
    run.run(k.order("SPP-GU/1", "gu", spj_numbers=("SPJ/1", "SPJ/2")))
    run.steps("SPP-GU/1")
    deadline = (clock.now + timedelta(days=20)).date().isoformat()
    run.run(k.order("SPP-TU/1", "tu", amount=10 * JT, deadline=deadline))
    run.steps("SPP-TU/1")
    run.run(k.spj("SPJ/3", 7 * JT, tu="SPP-TU/1"))
    run.run(k.give_back(3 * JT, tu="SPP-TU/1", reference="STS/TU"))
    run.run(k.order("SPP-GU-NIHIL/TU", "gu_nihil", spj_numbers=("SPJ/3",), tu="SPP-TU/1"))
    run.steps("SPP-GU-NIHIL/TU", settle=False)
    run.run(k.spj("SPJ/4", 2 * JT))
    run.run(k.order("SPP-GU-NIHIL/1", "gu_nihil", spj_numbers=("SPJ/4",)))
    run.steps("SPP-GU-NIHIL/1", settle=False)
    run.run(k.give_back(28 * JT, reference="STS/UP"))


@pytest.fixture
def year_ledger(ledger_url: str) -> Iterator[Ledger]:
    clock = Clock()
    ledger = Ledger(ledger_url, clock=clock)
    f.adopt(ledger)
    ledger.execute(k.set_advance())
    ledger.execute(k.register_card())
    _year(k.Advancer(ledger), clock)
    yield ledger
    ledger.close()


def test_a_year_of_the_advance_reads_as_the_ledger_holds_it(year_ledger: Ledger) -> None:
    projector = Projector(year_ledger, batch=7)
    try:
        projector.catch_up()
        assert_models_match(year_ledger, projector.db, f.PEMDA, f.YEAR)
        db = projector.db
        found = aq.advance(db, f.PEMDA, f.YEAR, f.SKPD)
        assert found is not None
        assert (found["cash"], found["outstanding"], found["entrusted"]) == (0, 0, 0)
        assert (found["ceiling"], found["kkpd_ceiling"], found["cash_ceiling"]) == (
            50 * JT, 20 * JT, 30 * JT,
        )  # fmt: skip
        book = aq.register(db, found["advance_id"])
        kinds = [(r["kind"], r["reference"], r["money_in"], r["money_out"]) for r in book]
        assert kinds[:5] == [
            ("up_received", "SPP-UP/1", 30 * JT, 0),
            ("spj", "SPJ/1", 0, 5 * JT),
            ("spj", "SPJ/2", 0, 0),
            ("card_bill", "TAGIHAN/01", 0, 8 * JT),
            ("gu_accounted", "SPP-GU/1", 0, 0),
        ]
        assert kinds[-1] == ("setoran", "STS/UP", 0, 28 * JT)
        running = 0
        for row in book:
            running += row["money_in"] - row["money_out"]
            assert row["balance"] == running
        assert running == 0
        spj = {e["number"]: e for e in aq.spj_entries(db, found["advance_id"])}
        assert {n: (e["status"], e["spp_number"]) for n, e in spj.items()} == {
            "SPJ/1": ("accounted", "SPP-GU/1"),
            "SPJ/2": ("accounted", "SPP-GU/1"),
            "SPJ/3": ("accounted", "SPP-GU-NIHIL/TU"),
            "SPJ/4": ("accounted", "SPP-GU-NIHIL/1"),
        }
        assert spj["SPJ/2"]["evidence"] == {"otorisasi": "a1b2"}
        assert aq.cards(db, found["advance_id"])[0] | {"advance_id": ""} == {
            "advance_id": "", "card": k.CARD_KEY, "holder": "Eka Bendahara",
            "card_limit": 15 * JT, "owed": 0, "paid": 0, "billed": 8 * JT,
        }  # fmt: skip
        [tu] = aq.tus(db, found["advance_id"], date(f.YEAR, 12, 31))
        assert (tu["given"], tu["spent"], tu["returned"], tu["closed"], tu["overdue"]) == (
            10 * JT, 7 * JT, 3 * JT, True, False,
        )  # fmt: skip
        orders = {o["spp_number"]: o for o in aq.orders(db, f.PEMDA, skpd=f.SKPD)}
        assert {n: (o["mechanism"], o["status"]) for n, o in orders.items()} == {
            "SPP-UP/1": ("up", "settled"),
            "SPP-GU/1": ("gu", "settled"),
            "SPP-TU/1": ("tu", "settled"),
            "SPP-GU-NIHIL/TU": ("gu_nihil", "settled"),
            "SPP-GU-NIHIL/1": ("gu_nihil", "settled"),
        }
        gu = orders["SPP-GU/1"]
        assert (gu["spm_number"], gu["sp2d_number"], gu["spj_numbers"]) == (
            "SPM/SPP-GU/1", "SP2D/SPP-GU/1", ["SPJ/1", "SPJ/2"],
        )  # fmt: skip
        assert (gu["verified_by"], gu["approved_by"], gu["authorised_by"]) == (
            f.PPK.user_id, f.PA.user_id, f.BUD.user_id,
        )  # fmt: skip
        cash = q.cash_position(db, f.PEMDA)
        assert cash["advance_out"].sum() == 53 * JT  # UP 30, GU 13, TU 10
        assert cash["advance_in"].sum() == 31 * JT  # setoran 3 + 28
        assert cash["closing_balance"][-1] == -22 * JT  # what became belanja of the lines
    finally:
        projector.close()


def test_advance_orders_wait_in_the_approval_queues(ledger_url: str) -> None:
    ledger = Ledger(ledger_url, clock=Clock())
    projector = Projector(ledger)
    try:
        f.adopt(ledger)
        ledger.execute(k.set_advance())
        run = k.Advancer(ledger)
        run.run(k.order("SPP-UP/1", "up", amount=10 * JT))
        projector.catch_up()
        [item] = q.approval_queue(projector.db, f.PEMDA, "ppk", skpd=f.SKPD).to_dicts()
        assert (item["spp_number"], item["kind"], item["gross"], item["step"]) == (
            "SPP-UP/1", "up", 10 * JT, "verify",
        )  # fmt: skip
        assert q.queue_sizes(projector.db, f.PEMDA, skpd=f.SKPD) == {"ppk": 1}
        assert q.queue_sizes(projector.db, f.PEMDA, skpd="9.99.9.99.9.99.99.9999") == {}
        run.steps("SPP-UP/1", settle=False)
        projector.catch_up()
        assert q.queue_sizes(projector.db, f.PEMDA) == {"gateway": 1}
        run.settle("SPP-UP/1")
        projector.catch_up()
        assert q.queue_sizes(projector.db, f.PEMDA) == {}
        assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
    finally:
        projector.close()
        ledger.close()


def test_the_kkpd_frames_follow_the_reconciliations_contract(year_ledger: Ledger) -> None:
    projector = Projector(year_ledger)
    try:
        projector.catch_up()
        db = projector.db
        spj = aq.kkpd_spj(db, f.PEMDA, f.YEAR)
        assert spj.schema == aq.KKPD_SPJ
        assert spj.select("spj_id", "card", "amount", "reference", "spent_on").rows() == [
            (f"{f.SKPD}/SPJ/2", k.CARD_KEY, 8 * JT, "A1B2", date(f.YEAR, 1, 2))
        ]
        assert aq.kkpd_cards(db, f.PEMDA, f.YEAR).rows() == [(k.CARD_KEY, f.SKPD, 15 * JT)]
        assert aq.kkpd_skpd_limits(db, f.PEMDA, f.YEAR).rows() == [(f.SKPD, 20 * JT)]
        bills = aq.kkpd_bill_payments(db, f.PEMDA, f.YEAR)
        assert bills.schema == aq.KKPD_BILL_PAYMENTS
        assert bills.select("card", "amount").rows() == [(k.CARD_KEY, 8 * JT)]
        assert aq.kkpd_spj(db, f.PEMDA, f.YEAR + 1).height == 0
        assert isinstance(aq.kkpd_cards(db, "other", f.YEAR), pl.DataFrame)
    finally:
        projector.close()


# -- a property: any history of the advance projects exactly, on SQLite -----------------------------
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "cash",
                "card",
                "bill",
                "gu",
                "gu_pending",
                "reject",
                "return",
                "withdraw",
                "tu",
                "tu_spend",
                "tu_close",
                "up",
                "nihil",
                "project",
            ]
        ),
        st.integers(min_value=1, max_value=6),
    ),
    max_size=30,
)


def _reject(run: k.Advancer, spp: str) -> None:
    run.run(
        c.RejectAdvance(
            idempotency_key=f.key("rej"), actor=f.PPK, pemda=f.PEMDA,
            order_id=k.order_id(spp), reason="kurang bukti",
        )
    )  # fmt: skip


def _claim(run: k.Advancer, mechanism: str, n: int, step: int, tu: str | None = None) -> str:
    advance = _state(run.ledger)
    free = [s for s, e in sorted(advance.spj.items()) if e["claimed_by"] is None and e["tu"] == tu]
    spp = f"SPP-{mechanism}/{step}"
    run.run(k.order(spp, mechanism, spj_numbers=tuple(free[:n]), tu=tu))
    return spp


def _tu_close(run: k.Advancer, step: int) -> None:
    advance = _state(run.ledger)
    for number, tu in sorted(advance.tu.items()):
        if tu["given"] and not tu["closed"]:
            left = tu["given"] - tu["spent"] - tu["returned"]
            if left:
                run.run(k.give_back(left, tu=number, reference=f"STS/TU/{step}"))
            spp = _claim(run, "gu_nihil", 99, step, tu=number)
            run.steps(spp, settle=False)
            return


def _attempt(run: k.Advancer, clock: Clock, op: str, n: int, step: int) -> None:
    advance = _state(run.ledger)
    open_tu = sorted(t for t, v in advance.tu.items() if v["given"] and not v["closed"])
    simple: dict[str, Any] = {
        "cash": lambda: k.spj(f"SPJ/{step}", n * JT),
        "card": lambda: k.spj(f"SPJ/{step}", n * JT, channel="kkpd", card=k.CARD),
        "bill": lambda: k.pay_bill(min(n * JT, advance.owed_on_cards or 1), reference=f"B/{step}"),
        "return": lambda: k.give_back(n * JT, reference=f"STS/{step}"),
        "withdraw": lambda: c.WithdrawSpj(
            idempotency_key=f.key(), actor=k.BENDAHARA, pemda=f.PEMDA, year=f.YEAR,
            skpd=f.SKPD, spj_number=(sorted(advance.spj) or ["none"])[-1], reason="x",
        ),
        "tu_spend": lambda: k.spj(f"SPJ/{step}", n * JT, tu=(open_tu or ["none"])[0]),
    }  # fmt: skip
    try:
        if op in simple:
            run.run(simple[op]())
        elif op in ("gu", "gu_pending", "nihil"):
            spp = _claim(run, "gu_nihil" if op == "nihil" else "gu", n, step)
            run.steps(spp, settle=op == "gu")
        elif op == "reject":
            _reject(run, _claim(run, "gu", n, step))
        elif op == "tu":
            deadline = (clock.now + timedelta(days=10)).date().isoformat()
            run.run(k.order(f"SPP-TU/{step}", "tu", amount=n * JT, deadline=deadline))
            if n % 2:
                run.steps(f"SPP-TU/{step}", settle=n != 5)
        elif op == "tu_close":
            _tu_close(run, step)
        elif op == "up":
            run.run(k.order(f"SPP-UP/{step}", "up", amount=n * JT))
            _reject(run, f"SPP-UP/{step}") if n % 2 else run.steps(f"SPP-UP/{step}")
    except DomainError:
        pass  # refused: nothing changed


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS, seed=st.integers(0, 10**6))
def test_property_any_history_of_the_advance_projects_exactly(
    ops: list[tuple[str, int]], seed: int
) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        ledger = Ledger(f"sqlite:///{Path(folder) / 'kasda.db'}", clock=clock)
        projector = Projector(ledger, batch=rng.randrange(1, 40))
        try:
            f.adopt(ledger)
            ledger.execute(k.set_advance(ceiling=60 * JT))
            ledger.execute(k.register_card())
            run = k.Advancer(ledger)
            run.up("SPP-UP/0", 15 * JT)
            for step, (op, n) in enumerate(ops):
                if op == "project":
                    projector.step()
                else:
                    _attempt(run, clock, op, n, step)
                clock.now += timedelta(hours=rng.randrange(0, 30))
            projector.catch_up()
            assert_models_match(ledger, projector.db, f.PEMDA, f.YEAR)
            found = aq.advance(projector.db, f.PEMDA, f.YEAR, f.SKPD)
            assert found is not None
            book = aq.register(projector.db, found["advance_id"], limit=10_000)
            assert (book[-1]["balance"] if book else 0) == found["cash"]
            incremental = tables(projector.db)
            projector.rebuild()
            assert tables(projector.db) == incremental
        finally:
            projector.close()
            ledger.close()
