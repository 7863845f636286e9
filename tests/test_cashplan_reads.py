"""The anggaran kas and SPD read model (``projections.cashplan``, read by ``projections.spd``) says
what the ``CashPlan`` aggregate says: after any history of plans, amendments, SPD and spending, now
and as of the end of every day of it, on every store."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import commands as c
from ledger.application import Ledger
from ledger.cashplan import WIB, CashPlan
from ledger.errors import DomainError
from projections import spd
from projections.cashplan import CashPlanModel
from projections.runner import Projector
from tests import factory as f

LINES = (f.MEDIA_LINE, f.GOODS_LINE)
STEPS = (c.VerifyDisbursement, c.ApproveSpm, c.AuthoriseSp2d)


@dataclass(frozen=True)
class Seen:
    """What the aggregate said at the end of a command: the oracle for that day."""

    plans: dict[str, list[int]]
    spd: dict[str, tuple[int, int, int]]
    committed: int
    realised: int


def seen(plan: CashPlan) -> Seen:
    register = {n: (p["first_month"], p["last_month"], p["amount"]) for n, p in plan.spd.items()}
    plans = {k: list(v) for k, v in plan.plans.items()}
    return Seen(plans, register, plan.committed, plan.realised)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 8, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def split(rng: random.Random, pagu: int) -> tuple[int, ...]:
    """``pagu`` over twelve months at random (some months empty)."""
    cuts = sorted(rng.randrange(pagu + 1) for _ in range(11))
    return tuple(b - a for a, b in zip([0, *cuts], [*cuts, pagu], strict=True))


class Story:
    """Random commands against one SKPD's anggaran kas; refusals are part of the story."""

    def __init__(self, ledger: Ledger, clock: Clock, rng: random.Random) -> None:
        self.ledger, self.clock, self.rng = ledger, clock, rng
        self.spps: list[str] = []
        self.stage: dict[str, int] = {}  # how far each SPP got: verified, approved, authorised
        self.spp_of: dict[str, str] = {}
        self.days: dict[date, Seen] = {}
        self.n = 0

    def start(self) -> None:
        f.adopt(self.ledger, *LINES)
        f.register_vendor(self.ledger)
        self.ledger.execute(f.adopt_cash_plan())
        self._record()

    def run(self, steps: int, projector: Projector) -> None:
        for _ in range(steps):
            self.clock.now += timedelta(hours=self.rng.choice([0, 1, 20, 24 * 9]))
            command = self._command()
            with contextlib.suppress(DomainError):
                self.ledger.execute(command)
                if isinstance(command, STEPS):
                    self.stage[self.spp_of[command.idempotency_key]] += 1
            self._record()
            if self.rng.random() < 0.2:
                projector.catch_up()

    def _record(self) -> None:
        self.days[self.clock.now.date()] = seen(self.ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD))

    def _command(self) -> c.Command:
        rng = self.rng
        self.n += 1
        kind = rng.choices(["spd", "request", "step", "amend"], weights=[3, 4, 8, 1])[0]
        if kind == "spd":
            first = rng.randrange(1, 13)
            last = rng.randrange(first, 13)
            return f.issue_spd(f"SPD-{self.n}", rng.randrange(1, 200) * 1_000_000, first, last)
        if kind == "amend" or (kind == "step" and not self.spps):
            spec = rng.choice(LINES)
            plan = c.LinePlan(line=f.ref(spec), months=split(rng, spec.pagu))
            return c.AmendCashPlan(
                idempotency_key=f.key("ak"), actor=f.ADMIN, pemda=f.PEMDA, year=f.YEAR,
                skpd=f.SKPD, document=f"AK-P-{self.n}", lines=(plan,),
            )  # fmt: skip
        if kind == "request":
            spp = f"SPP-{self.n}"
            self.spps.append(spp)
            self.stage[spp] = 0
            return f.request(spp, rng.randrange(1, 80) * 1_000_000, rng.choice(LINES))
        spp = rng.choice(self.spps)
        if rng.random() < 0.1:
            return f.reject(spp, f.PPK)
        if rng.random() < 0.1:
            return f.cancel(spp, f.BUD)
        steps: list[Callable[[str], c.Command]] = [f.verify, f.approve, f.authorise]
        step = steps[min(self.stage[spp], 2)](spp)
        self.spp_of[step.idempotency_key] = spp
        return step


def assert_read_equals(view: spd.CashPlanView | None, truth: Seen, plan: CashPlan | None) -> None:
    assert view is not None
    assert {line["line_id"]: line["months"] for line in view.lines} == truth.plans
    register = {s["number"]: (s["first_month"], s["last_month"], s["amount"]) for s in view.spd}
    assert register == truth.spd
    assert (view.committed, view.realised) == (truth.committed, truth.realised)
    if plan is None:
        return
    for month in view.months:
        assert month.planned_through == plan.planned_through(month.month)
        assert month.spd_through == plan.issued_through(month.month)
        assert month.available == plan.available(month.month)


def rows(projector: Projector) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the anggaran kas tables, sorted: a rebuild must write the same."""
    with projector.db.transaction(write=False) as cursor:
        return {
            table: sorted(cursor.fetchall(f"SELECT * FROM {table}"), key=repr)
            for table in CashPlanModel.tables
        }


def check(ledger: Ledger, clock: Clock, rng: random.Random, steps: int, batch: int) -> None:
    story = Story(ledger, clock, rng)
    projector = Projector(ledger, batch=batch)
    try:
        story.start()
        story.run(steps, projector)
        projector.catch_up()
        plan = ledger.cash_plan(f.PEMDA, f.YEAR, f.SKPD)
        now = spd.cash_plan(projector.db, f.PEMDA, f.YEAR, f.SKPD)
        assert_read_equals(now, seen(plan), plan)
        for day, truth in story.days.items():
            assert_read_equals(
                spd.cash_plan(projector.db, f.PEMDA, f.YEAR, f.SKPD, day), truth, None
            )
        assert spd.cash_plan(projector.db, f.PEMDA, f.YEAR, f.SKPD, date(2026, 1, 1)) is None
        [summary] = spd.cash_plans(projector.db, f.PEMDA, f.YEAR)
        assert (summary["issued"], summary["realised"]) == (plan.issued, plan.realised)
        assert summary["planned"] == plan.planned_through(12)
        assert spd.spd_register(projector.db, f.PEMDA, f.YEAR).total == len(plan.spd)
        incremental = rows(projector)
        projector.rebuild()
        assert rows(projector) == incremental
    finally:
        projector.close()


def test_the_read_model_equals_the_aggregate_on_every_store(ledger_url: str) -> None:
    clock = Clock()
    ledger = Ledger(ledger_url, clock=clock)
    try:
        check(ledger, clock, random.Random(16), steps=120, batch=13)
    finally:
        ledger.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), steps=st.integers(5, 60), batch=st.integers(1, 40))
def test_the_read_model_equals_the_aggregate_after_any_history(
    seed: int, steps: int, batch: int
) -> None:
    clock = Clock()
    ledger = Ledger("memory://", clock=clock)
    try:
        check(ledger, clock, random.Random(seed), steps, batch)
    finally:
        ledger.close()


def test_a_year_without_anggaran_kas_has_no_sisa_spd(ledger: Ledger) -> None:
    f.adopt(ledger)
    projector = Projector(ledger)
    try:
        projector.catch_up()
        assert spd.available(projector.db, f.PEMDA, f.YEAR, f.SKPD, 1) is None
        ledger.execute(f.adopt_cash_plan(f.GOODS_LINE, skpd=f.SKPD))
        ledger.execute(f.issue_spd("SPD/1", 5_000_000))
        projector.catch_up()
        assert spd.available(projector.db, f.PEMDA, f.YEAR, f.SKPD, 1) == 5_000_000
        assert spd.available(projector.db, f.PEMDA, f.YEAR, f.OTHER_SKPD, 1) == 0
        [row] = spd.spd_register(projector.db, f.PEMDA, f.YEAR, skpds=(f.SKPD,)).rows
        assert (row["number"], row["amount"], row["actor_role"]) == (
            "SPD/1",
            5_000_000,
            "kuasa_bud",
        )
        assert spd.spd_register(projector.db, f.PEMDA, f.YEAR, skpds=(f.OTHER_SKPD,)).total == 0
    finally:
        projector.close()
