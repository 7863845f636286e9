"""The DuckDB and pandas versions of the passes in the benchmark answer like the Polars engine, so
the benchmark compares like with like."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_reconcile import run_duckdb, run_pandas, run_polars
from testkit.reconciliation import generate


def test_the_three_engines_agree_on_every_status(tmp_path: Path) -> None:
    # The DuckDB and pandas versions run the passes without the payee, reused-reference and
    # ambiguity checks: compared on a truth without those cases.
    truth = generate(3_000, seed=17, payee_cases=False)
    _, polars_counts = run_polars(truth)  # also checks Polars against the ground truth line by line
    _, duck_counts = run_duckdb(truth, tmp_path)
    _, pandas_counts = run_pandas(truth)
    for counts in (duck_counts, pandas_counts):
        for side in ("statement", "ledger"):
            assert counts[side] == polars_counts[side]
    assert polars_counts["statement"]["unmatched_bank"] > 0
