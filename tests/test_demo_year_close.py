"""``kasda demo`` closes its year: late SPPs lapse, one contract carries over into the next APBD,
the SiLPA is the next year's financing receipt, and the LRA (final) equals the independent fold."""

from __future__ import annotations

import pytest

from kasda.demo.pemda import PEMDA, YEAR
from ledger import ids
from ledger.application import Ledger
from ledger.codes import SILPA_REKENING
from projections import queries as q
from projections.runner import Projector
from tests.demo_cache import demo_copy
from tests.projection_oracle import (
    expected_closed_years,
    expected_lines,
    expected_queue,
    projected_closed_years,
    projected_lines,
    projected_queue,
)


def test_the_demo_closes_its_year(tmp_path_factory: pytest.TempPathFactory) -> None:
    year = demo_copy(tmp_path_factory, seed=7, lifecycles=60)  # a copy of its own: it projects
    url, totals, report = year.url, year.totals, year.report
    assert totals.disbursements["lapsed"] == 3
    assert report.year_end.startswith(f"tutup tahun {YEAR}")
    assert "luncuran ke" in report.year_end
    ledger = Ledger(url)
    projector = Projector(ledger)
    try:
        budget = ledger.budget(PEMDA, YEAR)
        nxt = ledger.budget(PEMDA, YEAR + 1)
        assert budget.closed and nxt.opened_from == YEAR
        assert budget.silpa is not None and budget.silpa > 0
        silpa_line = ledger.budget_line(
            ids.budget_line_id(PEMDA, YEAR + 1, "5.02.0.00.0.00.01.0000", None, SILPA_REKENING)
        )
        assert silpa_line.silpa_received == budget.silpa
        projector.catch_up()
        db = projector.db
        lines = {**projected_lines(db, PEMDA, YEAR), **projected_lines(db, PEMDA, YEAR + 1)}
        assert lines == expected_lines(ledger)
        assert projected_queue(db) == expected_queue(ledger) == {}
        assert projected_closed_years(db) == expected_closed_years(ledger)
        final = q.year_closed(db, PEMDA, YEAR)
        assert final is not None and final["silpa"] == budget.silpa
    finally:
        projector.close()
        ledger.close()
