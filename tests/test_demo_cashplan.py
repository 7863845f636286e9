"""The demo year runs on anggaran kas and SPD (``kasda.demo.cashplan``): every SKPD has a plan that
equals each line's pagu at year end (after the pergeseran and the APBD-P), no SKPD ever used more
than its SPD, the read model says what the aggregates say, and the one SPP planted ahead of its SPD
is the only refusal by the SPD rule."""

from __future__ import annotations

from pathlib import Path

from kasda.demo import PEMDA, YEAR, build_demo
from ledger.application import Ledger
from projections import queries as q
from projections import spd
from projections.runner import Projector


def test_the_demo_year_runs_on_spd(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kasda.db'}"
    totals, report = build_demo(url, seed=5, lifecycles=80)
    assert report.refused["spending_within_spd"] == 1
    ledger = Ledger(url)
    projector = Projector(ledger)
    try:
        projector.catch_up()
        db = projector.db
        assert ledger.budget(PEMDA, YEAR).cash_plan_required
        plans = spd.cash_plans(db, PEMDA, YEAR)
        assert len(plans) == totals.skpd
        lines = q.budget_lines(db, PEMDA, YEAR, limit=q.MAX_PAGE).rows
        pagu = {row["line_id"]: row["pagu"] for row in lines if row["rekening"].startswith("5")}
        planned: dict[str, int] = {}
        for summary in plans:
            plan = ledger.cash_plan(PEMDA, YEAR, summary["skpd"])
            assert 0 <= plan.used <= plan.issued <= plan.planned_through(12)
            assert len(plan.documents) >= 1 and len(plan.spd) >= 1
            view = spd.cash_plan(db, PEMDA, YEAR, summary["skpd"])
            assert view is not None
            assert (view.issued, view.committed, view.realised) == (
                plan.issued, plan.committed, plan.realised,
            )  # fmt: skip
            assert [m.available for m in view.months] == [plan.available(m) for m in range(1, 13)]
            planned.update({line["line_id"]: line["planned"] for line in view.lines})
        assert planned == pagu  # every spending line, its plan = its pagu after every change
        amended = [p for p in plans if len(p["decisions"]) > 1]
        assert amended  # the pergeseran and the APBD-P amended the plans of their SKPDs
        realised = sum(p["realised"] for p in plans)
        assert realised == sum(row["realised"] for row in lines)  # the SPD saw every SP2D
    finally:
        projector.close()
        ledger.close()
